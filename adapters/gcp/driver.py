"""What the GCP drivers share: identity read from labels, the location check, names refused before any call, and
observation of many platforms from one listing. Create and update are `ConvergingDriver`'s, over each driver's
`_ensure`, which also adopts a half-made resource of ours.

Names are derived from the resource's key (see `names`), never taken from an observation, so a stale or forged
`Observed.resource_id` cannot point an update or a delete at something else.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

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
    ResourceKey,
    identity_tags,
)
from adapters.driver import ConvergingDriver
from adapters.gcp import PROVIDER, labels, names
from adapters.gcp.context import GcpContext, failures


class GcpDriver(ConvergingDriver):
    """One contract version on one Google Cloud service."""

    provider: ClassVar[str] = PROVIDER
    failures = staticmethod(failures)

    def __init__(self, gcp: GcpContext) -> None:
        self.gcp = gcp

    # -- the protocol ------------------------------------------------------------------------------------------------

    def observe(self, platform: str) -> list[Observed]:
        if not names.is_name(platform):
            return []
        with failures("observe", None, subject=f"{self.contract} resources of {platform}"):
            return self.observe_platforms([platform])[platform]

    def observe_platforms(self, platforms: Sequence[str]) -> dict[str, list[Observed]]:
        """The observations of each platform's resources of this driver, sorted by key, from as few listings as the
        service allows; raises the library's error if a listing fails (the caller maps it)."""
        found: dict[str, list[Observed]] = {p: [] for p in platforms}
        for observed in self._list(sorted(set(platforms))):
            if observed.key.platform in found:
                found[observed.key.platform].append(observed)
        for observations in found.values():
            observations.sort(key=lambda o: o.key)
        return found

    def platform_names(self) -> set[str]:
        """The platforms that have at least one resource of this driver; raises the library's error."""
        return {observed.key.platform for observed in self._list(None)}

    def health(self, current: Observed) -> HealthReport:
        try:
            with failures("health", current.key):
                found = self.find(current.key)
        except AdapterError as exc:
            return HealthReport(False, exc.reason)
        if found is None:
            return HealthReport(False, "resource is gone")
        if found.problem:
            return HealthReport(False, found.problem)
        return HealthReport(True)

    def find(self, key: ResourceKey) -> Observed | None:
        with failures("find", key):
            return self._find(key)

    def tag_identity(self, current: Observed) -> Observed:
        with failures("tag", current.key):
            self._add_labels(current.key, labels.to_labels(identity_tags(current.key, self.contract)))
            found = self._find(current.key)
        if found is None:
            raise AdapterError(PROVIDER, "tag", current.key, "it vanished while it was being tagged")
        return found

    def check(self, desired: Desired, operation: str) -> None:
        super().check(desired, operation)
        if desired.region != self.gcp.location:
            # Observation has no location to look in but the adapter's: a resource made elsewhere would be missed.
            raise AdapterError(
                PROVIDER,
                operation,
                desired.key,
                f"it is declared in region {desired.region!r} but this gcp adapter serves {self.gcp.location!r}; "
                "set the provider's `location` setting to match",
            )
        try:
            labels.to_labels(desired.tags)
        except labels.LabelRefused as exc:
            raise AdapterError(PROVIDER, operation, desired.key, str(exc)) from None

    # -- for subclasses ----------------------------------------------------------------------------------------------

    @abstractmethod
    def _list(self, platforms: list[str] | None) -> list[Observed]:
        """Every resource of this driver carrying one of `platforms`' identity labels (any platform's, for None),
        read in bulk."""

    @abstractmethod
    def _find(self, key: ResourceKey) -> Observed | None:
        """The resource named for `key`, labelled or not; None if there is none."""

    @abstractmethod
    def _add_labels(self, key: ResourceKey, wanted: Mapping[str, str]) -> None:
        """Add `wanted` to the labels of the resource named for `key`, keeping the others and changing nothing else."""

    # -- helpers -----------------------------------------------------------------------------------------------------

    def identity(self, tags: Mapping[str, str]) -> ResourceKey | None:
        """The key decoded labels give a resource, if they say it is this driver's."""
        if (
            tags.get(TAG_MANAGED_BY) != MANAGED_BY
            or tags.get(TAG_CONTRACT) != self.contract
            or not names.is_name(tags.get(TAG_PLATFORM))
            or not names.is_name(tags.get(TAG_RESOURCE))
        ):
            return None
        return ResourceKey(tags[TAG_PLATFORM], tags[TAG_RESOURCE])

    def observed(
        self, key: ResourceKey, resource_id: str, fields: dict[str, Any], tags: Mapping[str, str], problem: str | None
    ) -> Observed:
        return Observed(key, self.contract, resource_id, fields, dict(tags), problem)
