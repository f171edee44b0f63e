"""The custom role the azure adapter needs, by contract: Resource Manager actions, and the data actions of the blob and
Key Vault data planes. `role` joins what the contracts an estate uses need into one Azure custom role definition
(`az role definition create --role-definition`), assignable at the subscription (a drift scan lists there).

Kept beside the drivers and checked against them: every contract in `DRIVERS` has its entry
(`tests/adapters/azure/test_permissions.py`). Imports no SDK.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Every azure adapter: one resource group per platform, found and listed at the subscription's scope.
COMMON = (
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.Resources/subscriptions/resources/read",
)
ACTIONS: dict[str, tuple[str, ...]] = {
    "storage/v1": (
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Storage/storageAccounts/write",
        "Microsoft.Storage/storageAccounts/delete",
        "Microsoft.Storage/storageAccounts/blobServices/read",
        "Microsoft.Storage/storageAccounts/blobServices/write",
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
        "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
        "Microsoft.Storage/storageAccounts/managementPolicies/read",
        "Microsoft.Storage/storageAccounts/managementPolicies/write",
        "Microsoft.Storage/storageAccounts/managementPolicies/delete",
    ),
    "queue/v1": (
        "Microsoft.ServiceBus/namespaces/read",
        "Microsoft.ServiceBus/namespaces/write",
        "Microsoft.ServiceBus/namespaces/delete",
        "Microsoft.ServiceBus/namespaces/queues/read",
        "Microsoft.ServiceBus/namespaces/queues/write",
        "Microsoft.ServiceBus/namespaces/queues/delete",
    ),
    "secrets/v1": (
        "Microsoft.KeyVault/vaults/read",
        "Microsoft.KeyVault/vaults/write",
    ),
    "logging/v1": (
        "Microsoft.OperationalInsights/workspaces/read",
        "Microsoft.OperationalInsights/workspaces/write",
        "Microsoft.OperationalInsights/workspaces/delete",
        "Microsoft.OperationalInsights/workspaces/tables/read",
        "Microsoft.OperationalInsights/workspaces/tables/write",
        "Microsoft.OperationalInsights/workspaces/tables/delete",
    ),
    "compute/v1": (
        "Microsoft.App/managedEnvironments/read",
        "Microsoft.App/managedEnvironments/write",
        "Microsoft.App/containerApps/read",
        "Microsoft.App/containerApps/write",
        "Microsoft.App/containerApps/delete",
        "Microsoft.App/containerApps/start/action",
        "Microsoft.App/containerApps/stop/action",
    ),
}
DATA_ACTIONS: dict[str, tuple[str, ...]] = {
    # Emptying a container before its account goes, and the data-plane health check.
    "storage/v1": (
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
    ),
    # As Key Vault Secrets Officer: values written, read for their HMAC, deleted, purged and recovered.
    "secrets/v1": (
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/setSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        "Microsoft.KeyVault/vaults/secrets/update/action",
        "Microsoft.KeyVault/vaults/secrets/delete",
        "Microsoft.KeyVault/vaults/deletedSecrets/read",
        "Microsoft.KeyVault/vaults/deletedSecrets/purge/action",
        "Microsoft.KeyVault/vaults/deletedSecrets/recover/action",
    ),
}


def role(contracts: Iterable[str], subscription: str | None) -> dict[str, Any]:
    """The custom role definition for `contracts`, assignable at `subscription` (a placeholder when unknown)."""
    chosen = sorted(set(contracts))
    actions = sorted({*COMMON, *(a for c in chosen for a in ACTIONS.get(c, ()))})
    data_actions = sorted({a for c in chosen for a in DATA_ACTIONS.get(c, ())})
    return {
        "Name": "mnops deployer",
        "IsCustom": True,
        "Description": "Deploys, observes and destroys what mnops declares: " + ", ".join(chosen),
        "Actions": actions,
        "NotActions": [],
        "DataActions": data_actions,
        "NotDataActions": [],
        "AssignableScopes": [f"/subscriptions/{subscription or '<subscription-id>'}"],
    }
