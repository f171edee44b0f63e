"""What the five AWS drivers share: observation through the tagging API (candidates by tag, then one describe each),
the identity check, and create/update as one "make it so" that also adopts a half-made resource of ours.

Names are derived from the resource's key (see `names`), never taken from an observation, so a stale or forged
`Observed.resource_id` cannot point an update or a delete at something else. `create` of a name that exists already
(a crash between "made" and "tagged", or tags removed by hand) converges that resource instead of failing: the name is
in mnops's namespace and derived from this very key.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from adapters.aws import PROVIDER, names
from adapters.aws.context import AwsContext, failures, visible_tags
from adapters.base import (
    MANAGED_BY,
    TAG_CONTRACT,
    TAG_MANAGED_BY,
    TAG_PLATFORM,
    TAG_RESOURCE,
    AdapterError,
    Desired,
    HealthReport,
    Observed,
    ResourceDriver,
    ResourceKey,
)


class AwsDriver(ResourceDriver):
    """One contract version on one AWS service."""

    tagging_service: ClassVar[str | None]
    """The service as the tagging API filters it (`s3`, `logs`, ...); None for a driver that lists on its own."""

    def __init__(self, aws: AwsContext) -> None:
        self.aws = aws

    # -- the protocol ------------------------------------------------------------------------------------------------

    def observe(self, platform: str) -> list[Observed]:
        if not names.is_name(platform) or self.tagging_service is None:
            return []
        with failures("observe", None, subject=f"resources of platform {platform}"):
            candidates = self.aws.tagged(platform, [self.tagging_service])
        return self.observe_candidates(platform, candidates)

    def observe_candidates(self, platform: str, candidates: Mapping[str, Mapping[str, str]]) -> list[Observed]:
        """Observations of the candidates (ARN -> tags, from the tagging API) that are this driver's and still exist."""
        found = []
        for arn, tags in sorted(candidates.items()):
            key = self.identity(platform, tags)
            if key is None or not self.owns(arn):
                continue
            with failures("observe", key):
                observed = self._observe_arn(key, arn)
            if observed is not None:
                found.append(observed)
        return sorted(found, key=lambda o: o.key)

    def create(self, desired: Desired) -> Observed:
        self.check(desired, "create")
        with failures("create", desired.key):
            return self._ensure(desired, current=None)

    def update(self, desired: Desired, current: Observed) -> Observed:
        self.check(desired, "update")
        with failures("update", desired.key):
            return self._ensure(desired, current=current)

    def delete(self, current: Observed) -> None:
        with failures("delete", current.key):
            self._delete(current.key)

    def health(self, current: Observed) -> HealthReport:
        try:
            with failures("health", current.key):
                return self._health(current)
        except AdapterError as exc:
            return HealthReport(False, exc.reason)

    # -- for subclasses ----------------------------------------------------------------------------------------------

    def owns(self, arn: str) -> bool:
        """Whether an ARN is of the kind this driver manages (a service, not a task definition)."""
        return True

    def _observe_arn(self, key: ResourceKey, arn: str) -> Observed | None:
        """The resource behind `arn` (tagged as `key`), or None if it is gone or not named as `key`'s would be."""
        raise NotImplementedError

    @abstractmethod
    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        """Make the resource match `desired`, creating or adopting it if needed; return its fresh observation."""

    @abstractmethod
    def _delete(self, key: ResourceKey) -> None:
        """Remove the resource named for `key` and everything it owns; gone already is fine."""

    def _health(self, current: Observed) -> HealthReport:
        found = self.find(current.key)
        if found is None:
            return HealthReport(False, "resource is gone")
        if found.problem:
            return HealthReport(False, found.problem)
        return HealthReport(True)

    # -- helpers -----------------------------------------------------------------------------------------------------

    @abstractmethod
    def find(self, key: ResourceKey) -> Observed | None:
        """The observation of one resource, found by its derived name rather than by listing the platform."""

    def identity(self, platform: str, tags: Mapping[str, str]) -> ResourceKey | None:
        """The key a resource's identity tags give it, if they say it is this driver's and `platform`'s."""
        if (
            tags.get(TAG_PLATFORM) != platform
            or tags.get(TAG_MANAGED_BY) != MANAGED_BY
            or tags.get(TAG_CONTRACT) != self.contract
            or not names.is_name(tags.get(TAG_RESOURCE))
        ):
            return None
        return ResourceKey(platform, tags[TAG_RESOURCE])

    def check(self, desired: Desired, operation: str) -> None:
        if desired.contract != self.contract:
            raise AdapterError(
                PROVIDER, operation, desired.key, f"{desired.contract} given to the {self.contract} driver"
            )
        if not (names.is_name(desired.key.platform) and names.is_name(desired.key.name)):
            raise AdapterError(
                PROVIDER, operation, desired.key, "platform and resource names must match " + names.NAME_PATTERN
            )
        if desired.region != self.aws.region:
            # Observation has no region to look in but the adapter's: a resource made elsewhere would never be seen.
            raise AdapterError(
                PROVIDER,
                operation,
                desired.key,
                f"it is declared in region {desired.region!r} but this aws adapter serves {self.aws.region!r}; "
                "set the provider's `region` setting to match",
            )

    def observed(
        self,
        key: ResourceKey,
        resource_id: str,
        fields: dict[str, Any],
        tags: Mapping[str, str],
        problem: str | None = None,
    ) -> Observed:
        return Observed(key, self.contract, resource_id, fields, visible_tags(tags), problem)
