"""storage/v1 on Azure: a StorageV2 account per resource with one private blob container (`objects`), blob versioning
and a lifecycle management rule.

- `encrypted`: Azure Storage encrypts everything at rest and cannot be told not to, so `encrypted: false` is refused
  (naming the field) rather than silently given something else.
- `public`: off means the account forbids anonymous access (`allowBlobPublicAccess: false`) and the container is
  private; on means both allow anonymous reads of blobs (`publicAccess: Blob`), never container listing.
- `versioning`: the account's blob service `isVersioningEnabled`.
- `expire_after_days`: one lifecycle rule, `mnops-expire`, deleting base blobs that many days after their last
  modification; rules somebody else added to the policy are kept.
- The container's metadata holds the resource's identity, for whoever sees only the data plane: metadata names must
  be C# identifiers, so `mnops-platform` is `mnops_platform` there (`names.metadata`). Identity is still read from the
  account's ARM tags.
- Deleting first empties the container through the blob data plane (every blob with its snapshots, then every
  previous version), with the adapter's credential, then deletes the account. Azure would delete the data with the
  account, but a deleted account can be recovered for 14 days with its data; a deleted resource's data is gone, as on
  aws, whose buckets are emptied of every version first.
- `health` reads the account, then asks the data plane: the container's properties and one page of its blobs (no
  probe blob is written: with versioning on, each write and delete would leave a version behind).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from adapters.azure import PROVIDER, names
from adapters.azure.context import failures
from adapters.azure.driver import AzureDriver, provisioning_state
from adapters.base import AdapterError, Desired, HealthReport, Observed, ResourceDriver, ResourceKey, identity_tags

EXPIRY_RULE = "mnops-expire"
SKU = "Standard_LRS"
KIND = "StorageV2"


class StorageDriver(AzureDriver):
    contract = "storage/v1"
    arm_type = "Microsoft.Storage/storageAccounts"

    def resource_name(self, key: ResourceKey) -> str:
        return names.storage_account(self.azure.subscription_id, key)

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        return ResourceDriver.desired_fields(self, desired)

    # -- observation -------------------------------------------------------------------------------------------------

    def listing(self) -> Iterable[Any]:
        return self.azure.client("storage").storage_accounts.list()

    def _read(self, key: ResourceKey) -> Observed | None:
        storage = self.azure.client("storage")
        try:
            found = storage.storage_accounts.get_properties(names.group(key.platform), self.resource_name(key))
        except ResourceNotFoundError:
            return None
        return self._complete(key, found)

    def _complete(self, key: ResourceKey, found: Any) -> Observed | None:
        storage = self.azure.client("storage")
        group, account = names.group(key.platform), self.resource_name(key)
        problem = None
        public = False
        try:
            container = storage.blob_containers.get(group, account, names.CONTAINER)
            public = bool(found.allow_blob_public_access) and _access(container) == "Blob"
        except ResourceNotFoundError:
            problem = f"blob container {names.CONTAINER} of storage account {account} is missing"
        service = storage.blob_services.get_service_properties(group, account)
        state = provisioning_state(found)
        if problem is None and state.lower() != "succeeded":
            problem = f"storage account {account} is {state}"
        fields = {
            "versioning": bool(service.is_versioning_enabled),
            "encrypted": True,
            "public": public,
            "expire_after_days": _expiry_days(self._rules(group, account)),
        }
        endpoints = getattr(found, "primary_endpoints", None)
        blob = (getattr(endpoints, "blob", None) or "") if endpoints is not None else ""
        return self.observed(key, found.id, fields, found.tags, problem, {"blob": blob})

    def _rules(self, group: str, account: str) -> list[Any]:
        try:
            policy = self.azure.client("storage").management_policies.get(group, account, "default")
        except ResourceNotFoundError:
            return []
        return list(((policy.policy or {}).get("rules")) or [])

    def outputs(self, current: Observed) -> dict[str, str]:
        blob = current.address("blob")
        url = f"{blob.rstrip('/')}/{names.CONTAINER}" if blob else ""
        return {"name": self.resource_name(current.key), "url": url}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        spec = desired.spec
        storage = self.azure.client("storage")
        group = self.azure.ensure_group(desired.key.platform)
        account = self.resource_name(desired.key)
        try:
            found = storage.storage_accounts.get_properties(group, account)
        except ResourceNotFoundError:
            found = None
        tags = dict(desired.tags)
        if found is None:
            body = {
                "location": self.azure.location,
                "sku": {"name": SKU},
                "kind": KIND,
                "tags": tags,
                "properties": {
                    "allowBlobPublicAccess": spec.public,
                    "minimumTlsVersion": "TLS1_2",
                    "supportsHttpsTrafficOnly": True,
                },
            }
            storage.storage_accounts.begin_create(group, account, body).result()
        elif dict(found.tags or {}) != tags or bool(found.allow_blob_public_access) != spec.public:
            # Tags first (with the access switch): from here on the account is found by observation.
            storage.storage_accounts.update(
                group, account, {"tags": tags, "properties": {"allowBlobPublicAccess": spec.public}}
            )
        access = "Blob" if spec.public else "None"
        metadata = names.metadata(identity_tags(desired.key, self.contract))
        try:
            container = storage.blob_containers.get(group, account, names.CONTAINER)
        except ResourceNotFoundError:
            container = None
        if container is None or _access(container) != access or dict(container.metadata or {}) != metadata:
            body = {"properties": {"publicAccess": access, "metadata": metadata}}
            storage.blob_containers.create(group, account, names.CONTAINER, body)
        service = storage.blob_services.get_service_properties(group, account)
        if bool(service.is_versioning_enabled) != spec.versioning:
            storage.blob_services.set_service_properties(
                group, account, {"properties": {"isVersioningEnabled": spec.versioning}}
            )
        self._ensure_expiry(group, account, spec.expire_after_days)
        observed = self._read(desired.key)
        if observed is None:
            raise self.refused(desired, "create", "storage account", f"{account} vanished while it was being set up")
        return observed

    def _ensure_expiry(self, group: str, account: str, days: int | None) -> None:
        policies = self.azure.client("storage").management_policies
        rules = self._rules(group, account)
        others = [r for r in rules if _get(r, "name") != EXPIRY_RULE]
        ours = [r for r in rules if _get(r, "name") == EXPIRY_RULE]
        if len(ours) == (1 if days is not None else 0) and all(_rule_days(r) == days for r in ours):
            return
        wanted = [_rule(days)] if days is not None else []
        if others or wanted:
            body = {"properties": {"policy": {"rules": [*others, *wanted]}}}
            policies.create_or_update(group, account, "default", body)
        else:
            policies.delete(group, account, "default")

    def _delete(self, key: ResourceKey) -> None:
        storage = self.azure.client("storage")
        group, account = names.group(key.platform), self.resource_name(key)
        try:
            found = storage.storage_accounts.get_properties(group, account)
        except ResourceNotFoundError:
            return  # the account, or its whole group, is gone already
        self._empty(key, found)
        try:
            storage.storage_accounts.delete(group, account)
        except ResourceNotFoundError:
            return

    def _empty(self, key: ResourceKey, account: Any) -> None:
        """Delete every blob of the account's container through the data plane: current blobs with their snapshots,
        then what versioning kept (deleting a current blob makes it a previous version)."""
        container = self._container(key, account)
        try:
            for blob in container.list_blobs():
                container.delete_blob(blob.name, delete_snapshots="include")
            for blob in container.list_blobs(include=["versions"]):
                if blob.version_id:
                    container.delete_blob(blob.name, version_id=blob.version_id)
        except ResourceNotFoundError:
            return  # no container: nothing to empty
        left = next(iter(container.list_blobs(include=["snapshots", "versions"])), None)
        if left is not None:
            raise AdapterError(PROVIDER, "delete", key, f"blob {left.name} of {account.name} could not be deleted")

    def _container(self, key: ResourceKey, account: Any) -> Any:
        """The data-plane client of the account's container, at the account's own blob endpoint."""
        endpoint = account.primary_endpoints.blob if account.primary_endpoints is not None else None
        if not endpoint:
            raise AdapterError(PROVIDER, "blob data", key, f"storage account {account.name} has no blob endpoint")
        return self.azure.blobs(endpoint).get_container_client(names.CONTAINER)

    def health(self, current: Observed) -> HealthReport:
        report = super().health(current)
        if not report.healthy:
            return report
        storage = self.azure.client("storage")
        try:
            with failures("health", current.key):
                found = storage.storage_accounts.get_properties(
                    names.group(current.key.platform), self.resource_name(current.key)
                )
                container = self._container(current.key, found)
                container.get_container_properties()
                next(iter(container.list_blobs(results_per_page=1).by_page()), None)
        except AdapterError as exc:
            return HealthReport(False, f"blob data plane: {exc.reason}")
        return HealthReport(True, f"container {names.CONTAINER} answers on the blob data plane")

    def _tag(self, key: ResourceKey, tags: Mapping[str, str]) -> None:
        self.azure.client("storage").storage_accounts.update(
            names.group(key.platform), self.resource_name(key), {"tags": dict(tags)}
        )


def _access(container: Any) -> str:
    """A container's public access as Azure spells it (`None`, `Blob`, `Container`), from text or an enum."""
    access = container.public_access
    return str(getattr(access, "value", access) or "None")


def _get(value: Any, name: str) -> Any:
    """A field of a policy rule, whether the SDK gave a model or a plain mapping."""
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _rule(days: int) -> dict[str, Any]:
    return {
        "name": EXPIRY_RULE,
        "enabled": True,
        "type": "Lifecycle",
        "definition": {
            "filters": {"blobTypes": ["blockBlob"]},
            "actions": {"baseBlob": {"delete": {"daysAfterModificationGreaterThan": days}}},
        },
    }


def _rule_days(rule: Any) -> int | None:
    """The days of an enabled whole-account expiry rule; None for anything else (disabled, filtered by prefix)."""
    if _get(rule, "enabled") is False:
        return None
    definition = _get(rule, "definition") or {}
    filters = _get(definition, "filters") or {}
    if _get(filters, "prefixMatch") or _get(filters, "prefix_match"):
        return None
    actions = _get(definition, "actions") or {}
    base = _get(actions, "baseBlob") or _get(actions, "base_blob") or {}
    delete = _get(base, "delete") or {}
    days = _get(delete, "daysAfterModificationGreaterThan")
    if days is None:
        days = _get(delete, "days_after_modification_greater_than")
    return int(days) if days is not None else None


def _expiry_days(rules: list[Any]) -> int | None:
    ours = [_rule_days(r) for r in rules if _get(r, "name") == EXPIRY_RULE]
    return ours[0] if ours else None
