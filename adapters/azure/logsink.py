"""logging/v1 on Azure: a Log Analytics workspace per resource, holding one custom table (`MnopsLogs_CL`) whose
retention is the contract's.

- `retention_days`: the table's retention. Log Analytics keeps a table's records interactively 4-730 days, and up to
  4383 days in all with long-term retention: 4-730 days is the table's interactive and total retention, 731-3653 is
  730 days interactive then long-term up to the total. Fewer than 4 days is refused, naming the field: a retention is a
  promise to keep records at least that long, and Azure would keep them longer than declared. The workspace's own
  default retention (30 days on the pay-as-you-go tier) governs only tables with no retention of their own.
- `min_level` has no Log Analytics equivalent (a table stores whatever is sent to it): it is recorded in the
  workspace's tag `mnops:min-level` for the services that write to it to honour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from adapters.azure import names
from adapters.azure.driver import AzureDriver, provisioning_state
from adapters.base import Desired, Observed, ResourceDriver, ResourceKey

TABLE = "MnopsLogs_CL"
LEVEL_TAG = "mnops:min-level"
INTERACTIVE_MAX_DAYS = 730
SKU = {"name": "PerGB2018"}
COLUMNS = [
    {"name": "TimeGenerated", "type": "datetime"},
    {"name": "Level", "type": "string"},
    {"name": "Message", "type": "string"},
    {"name": "Source", "type": "string"},
]


class LoggingDriver(AzureDriver):
    contract = "logging/v1"
    arm_type = "Microsoft.OperationalInsights/workspaces"

    def resource_name(self, key: ResourceKey) -> str:
        return names.workspace(self.azure.subscription_id, key)

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        return ResourceDriver.desired_fields(self, desired)

    # -- observation -------------------------------------------------------------------------------------------------

    def listing(self) -> Iterable[Any]:
        return self.azure.client("loganalytics").workspaces.list()

    def _read(self, key: ResourceKey) -> Observed | None:
        client = self.azure.client("loganalytics")
        try:
            found = client.workspaces.get(names.group(key.platform), self.resource_name(key))
        except ResourceNotFoundError:
            return None
        return self._complete(key, found)

    def _complete(self, key: ResourceKey, found: Any) -> Observed | None:
        client = self.azure.client("loganalytics")
        group, workspace = names.group(key.platform), self.resource_name(key)
        tags = dict(found.tags or {})
        visible = {k: v for k, v in tags.items() if k != LEVEL_TAG}
        try:
            table = client.tables.get(group, workspace, TABLE)
        except ResourceNotFoundError:
            problem = f"table {TABLE} of workspace {workspace} is missing"
            return Observed(key, self.contract, found.id, {}, visible, problem, {LEVEL_TAG: tags.get(LEVEL_TAG, "")})
        state = provisioning_state(found)
        problem = None if state.lower() == "succeeded" else f"workspace {workspace} is {state}"
        total = table.total_retention_in_days or table.retention_in_days
        fields = {"retention_days": int(total) if total is not None else None, "min_level": tags.get(LEVEL_TAG)}
        return Observed(key, self.contract, found.id, fields, visible, problem, {LEVEL_TAG: tags.get(LEVEL_TAG, "")})

    def outputs(self, current: Observed) -> dict[str, str]:
        return {"name": self.resource_name(current.key)}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        spec = desired.spec
        client = self.azure.client("loganalytics")
        group = self.azure.ensure_group(desired.key.platform)
        workspace = self.resource_name(desired.key)
        tags = {**desired.tags, LEVEL_TAG: spec.min_level}
        try:
            found = client.workspaces.get(group, workspace)
        except ResourceNotFoundError:
            found = None
        if found is None:
            body = {"location": self.azure.location, "tags": tags, "properties": {"sku": SKU}}
            client.workspaces.begin_create_or_update(group, workspace, body).result()
        elif dict(found.tags or {}) != tags:
            client.workspaces.update(group, workspace, {"tags": tags})
        interactive = min(spec.retention_days, INTERACTIVE_MAX_DAYS)
        try:
            table = client.tables.get(group, workspace, TABLE)
        except ResourceNotFoundError:
            table = None
        if (
            table is None
            or table.retention_in_days != interactive
            or (table.total_retention_in_days or table.retention_in_days) != spec.retention_days
        ):
            body = {
                "properties": {
                    "schema": {"name": TABLE, "columns": COLUMNS},
                    "retentionInDays": interactive,
                    "totalRetentionInDays": spec.retention_days,
                }
            }
            client.tables.begin_create_or_update(group, workspace, TABLE, body).result()
        observed = self._read(desired.key)
        if observed is None:
            raise self.refused(desired, "create", "workspace", f"{workspace} vanished while it was being set up")
        return observed

    def _delete(self, key: ResourceKey) -> None:
        try:
            # `force`: deleted for good, so the name can be made again at once (else it is recoverable 14 days).
            self.azure.client("loganalytics").workspaces.begin_delete(
                names.group(key.platform), self.resource_name(key), force=True
            ).result()
        except ResourceNotFoundError:
            return

    def _tag(self, key: ResourceKey, tags: Mapping[str, str]) -> None:
        self.azure.client("loganalytics").workspaces.update(
            names.group(key.platform), self.resource_name(key), {"tags": dict(tags)}
        )
