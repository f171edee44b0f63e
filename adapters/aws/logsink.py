"""logging/v1 on AWS: a CloudWatch Logs group, `/mnops/<platform>/<resource>`, with a retention policy.

CloudWatch keeps logs only for a fixed set of periods. A declared `retention_days` that is not one of them is rounded
UP to the next one, and both `desired_fields` and observation report the real value: a retention is a promise to keep
records at least that long (audits rely on it), so keeping them a few days longer is honest and keeping them shorter is
not; a plan shows the value CloudWatch will really hold. The contract's maximum, 3653 days, is CloudWatch's longest.

`min_level` has no CloudWatch equivalent (a group stores whatever is sent to it): it is recorded in the tag
`mnops:min-level` for the services that write to the group to honour.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from adapters.aws import PROVIDER, names
from adapters.aws.context import INTERNAL_TAG_PREFIX, error_code, tag_changes
from adapters.aws.driver import AwsDriver, Claimed
from adapters.aws.permissions import Grant
from adapters.base import AdapterError, Desired, Observed, ResourceDriver, ResourceKey

RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LEVEL_TAG = INTERNAL_TAG_PREFIX + "min-level"


def cloudwatch_retention(days: int) -> int:
    """The shortest retention CloudWatch accepts that keeps records at least `days` days."""
    index = bisect.bisect_left(RETENTION_DAYS, days)
    if index == len(RETENTION_DAYS):
        raise ValueError(f"CloudWatch Logs keeps records at most {RETENTION_DAYS[-1]} days, not {days}")
    return RETENTION_DAYS[index]


class LoggingDriver(AwsDriver):
    contract = "logging/v1"
    resource_type = "logs"
    PERMISSIONS: ClassVar[tuple[Grant, ...]] = (
        Grant(("logs:DescribeLogGroups",)),  # listed by name prefix; AWS scopes no listing
        Grant(
            (
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:ListTagsForResource",
                "logs:TagResource",
                "logs:UntagResource",
            ),
            ("arn:{partition}:logs:{region}:{account}:log-group:/mnops/*",),
        ),
    )

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        fields = ResourceDriver.desired_fields(self, desired)
        fields["retention_days"] = self._retention(desired)
        return fields

    # -- observation -------------------------------------------------------------------------------------------------

    def owns(self, arn: str) -> bool:
        return ":logs:" in arn and ":log-group:" in arn

    def _list(self, claimed: Claimed) -> dict[str, dict[str, Any]]:
        """Log group name -> description of the platforms' groups, 50 a call (see `AwsContext.list_prefixed`)."""
        return self.aws.list_prefixed(
            sorted({key.platform for key in claimed}),
            names.log_group_prefix,
            self._pages,
            lambda page: ((group["logGroupName"], group) for group in page.get("logGroups", [])),
            "log groups",
        )

    def _pages(self, prefix: str) -> Iterator[dict[str, Any]]:
        return self.aws.client("logs").get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)

    def _observe_key(
        self, key: ResourceKey, tagged: Mapping[str, Mapping[str, str]], listing: dict[str, dict[str, Any]]
    ) -> Observed | None:
        group = listing.get(names.log_group(key))
        if group is None:
            return None
        arn = _arn(group)
        tags = next((t for a, t in tagged.items() if a.removesuffix(":*") == arn), None)
        return None if tags is None else self._observation(key, group, tags)

    def find(self, key: ResourceKey) -> Observed | None:
        group = self._group(key)
        if group is None:
            return None
        arn = _arn(group)
        tags = self._tags(arn)
        return None if tags is None else self._observation(key, group, tags)

    def _observation(self, key: ResourceKey, group: dict[str, Any], tags: Mapping[str, str]) -> Observed:
        fields = {"retention_days": group.get("retentionInDays"), "min_level": tags.get(LEVEL_TAG)}
        return self.observed(key, _arn(group), fields, tags)

    def outputs(self, current: Observed) -> dict[str, str]:
        return {"name": names.log_group(current.key)}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        logs = self.aws.client("logs")
        name = names.log_group(desired.key)
        tags = {**desired.tags, LEVEL_TAG: desired.spec.min_level}
        retention = self._retention(desired)
        group = self._group(desired.key)
        if group is None:
            try:
                logs.create_log_group(logGroupName=name, tags=tags)
            except ClientError as exc:
                if error_code(exc) != "ResourceAlreadyExistsException":
                    raise
            group = self._group(desired.key) or {}
        else:
            to_set, to_remove = tag_changes(self._tags(_arn(group)) or {}, tags)
            if to_set:
                logs.tag_resource(resourceArn=_arn(group), tags=to_set)
            if to_remove:
                logs.untag_resource(resourceArn=_arn(group), tagKeys=to_remove)
        if group.get("retentionInDays") != retention:
            logs.put_retention_policy(logGroupName=name, retentionInDays=retention)
        observed = self.find(desired.key)
        if observed is None:
            raise AdapterError(PROVIDER, "create", desired.key, f"log group {name} vanished while it was being set up")
        return observed

    def _delete(self, key: ResourceKey) -> None:
        try:
            self.aws.client("logs").delete_log_group(logGroupName=names.log_group(key))
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise

    def _tag(self, current: Observed, tags: Mapping[str, str]) -> None:
        group = self._group(current.key)
        if group is None:
            raise AdapterError(PROVIDER, "tag", current.key, f"log group {names.log_group(current.key)} is gone")
        self.aws.client("logs").tag_resource(resourceArn=_arn(group), tags=dict(tags))

    # -- internals ---------------------------------------------------------------------------------------------------

    def _retention(self, desired: Desired) -> int:
        try:
            return cloudwatch_retention(desired.spec.retention_days)
        except ValueError as exc:
            raise AdapterError(PROVIDER, "plan", desired.key, str(exc)) from exc

    def _group(self, key: ResourceKey) -> dict[str, Any] | None:
        """The log group of `key` as CloudWatch describes it. Describing by prefix returns longer names too."""
        name = names.log_group(key)
        for page in self._pages(name):
            for group in page.get("logGroups", []):
                if group["logGroupName"] == name:
                    return group
        return None

    def _tags(self, arn: str) -> dict[str, str] | None:
        try:
            return dict(self.aws.client("logs").list_tags_for_resource(resourceArn=arn).get("tags", {}))
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise


def _arn(group: dict[str, Any]) -> str:
    # `arn` ends in `:*` (the group's streams); the tagging calls want the group itself, `logGroupArn`.
    return group.get("logGroupArn") or group["arn"].removesuffix(":*")
