"""The custom IAM role the gcp adapter needs, by contract. `role` joins what the contracts an estate uses need into one
role definition (`gcloud iam roles create mnops_deployer --project P --file role.json` takes it as is).

Kept beside the drivers and checked against them: every contract in `DRIVERS` has its entry
(`tests/adapters/gcp/test_permissions.py`). Imports no SDK.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "storage/v1": (
        "storage.buckets.create",
        "storage.buckets.get",
        "storage.buckets.list",
        "storage.buckets.update",
        "storage.buckets.delete",
        "storage.buckets.getIamPolicy",
        "storage.buckets.setIamPolicy",
        "storage.objects.list",
        "storage.objects.delete",
    ),
    "queue/v1": (
        "pubsub.topics.create",
        "pubsub.topics.get",
        "pubsub.topics.update",
        "pubsub.topics.delete",
        "pubsub.topics.attachSubscription",
        "pubsub.subscriptions.create",
        "pubsub.subscriptions.get",
        "pubsub.subscriptions.list",
        "pubsub.subscriptions.update",
        "pubsub.subscriptions.delete",
    ),
    "secrets/v1": (
        "secretmanager.secrets.create",
        "secretmanager.secrets.get",
        "secretmanager.secrets.list",
        "secretmanager.secrets.update",
        "secretmanager.secrets.delete",
        "secretmanager.versions.add",
        "secretmanager.versions.get",
        "secretmanager.versions.access",
    ),
    "logging/v1": (
        "logging.buckets.create",
        "logging.buckets.get",
        "logging.buckets.list",
        "logging.buckets.update",
        "logging.buckets.delete",
        "logging.buckets.undelete",
        "logging.sinks.create",
        "logging.sinks.get",
        "logging.sinks.list",
        "logging.sinks.update",
        "logging.sinks.delete",
    ),
    "compute/v1": (
        "run.services.create",
        "run.services.get",
        "run.services.list",
        "run.services.update",
        "run.services.delete",
        "run.operations.get",
        "iam.serviceAccounts.actAs",
    ),
}
# The provider's `project_identity` setting: what marking the project as mnops's needs.
IDENTITY: dict[str, tuple[str, ...]] = {
    "none": (),
    "labels": ("resourcemanager.projects.get", "resourcemanager.projects.update"),
    "tags": (
        "resourcemanager.projects.get",
        "resourcemanager.tagValueBindings.create",
        "resourcemanager.tagValueBindings.list",
        "resourcemanager.tagValues.get",
    ),
}


def role(contracts: Iterable[str], project_identity: str = "none") -> dict[str, Any]:
    """The custom role for `contracts`, with what `project_identity` (none, labels, tags) needs."""
    chosen = sorted(set(contracts))
    permissions = {p for c in chosen for p in PERMISSIONS.get(c, ())}
    permissions |= set(IDENTITY.get(project_identity, ()))
    return {
        "title": "mnops deployer",
        "description": "Deploys, observes and destroys what mnops declares: " + ", ".join(chosen),
        "stage": "GA",
        "includedPermissions": sorted(permissions),
    }
