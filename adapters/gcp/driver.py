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
    address_entries,
    identity_tags,
)
from adapters.driver import ConvergingDriver
from adapters.gcp import PROVIDER, labels, limits, names
from adapters.gcp.context import GcpContext, failures


class GcpDriver(ConvergingDriver):
    """One contract version on one Google Cloud service."""

    provider: ClassVar[str] = PROVIDER
    failures = staticmethod(failures)

    def __init__(self, gcp: GcpContext) -> None:
        self.gcp = gcp

    # -- the protocol ------------------------------------------------------------------------------------------------

    def create(self, desired: Desired) -> Observed:
        self._mark_project(desired, "create")
        return super().create(desired)

    def update(self, desired: Desired, current: Observed) -> Observed:
        self._mark_project(desired, "update")
        return super().update(desired, current)

    def _mark_project(self, desired: Desired, operation: str) -> None:
        """The project's mark (`project`) before the first write, after everything refused is refused."""
        self.check(desired, operation)
        with failures(operation, desired.key):
            self.gcp.mark_project()

    def observe(self, platform: str) -> list[Observed]:
        if not names.is_name(platform):
            return []
        with failures("observe", None, subject=f"{self.contract} resources of {platform}"):
            found = self.observe_platforms([platform])[platform]
        if isinstance(found, AdapterError):
            raise found
        return found

    def observe_platforms(self, platforms: Sequence[str]) -> dict[str, list[Observed] | AdapterError]:
        """The observations of each platform's resources of this driver, sorted by key, from as few listings as the
        service allows; a platform one of whose resources could not be read maps to that error, so one broken
        resource does not hide the other platforms. Raises the library's error if a listing fails (the caller maps
        it: every platform might have had resources in it)."""
        found: dict[str, list[Observed] | AdapterError] = {p: [] for p in platforms}
        for result in self._list(sorted(set(platforms))):
            if result.key is None:
                continue
            platform = result.key.platform
            so_far = found.get(platform)
            if not isinstance(so_far, list):
                continue  # not asked for, or failed already
            if isinstance(result, AdapterError):
                found[platform] = result
            else:
                so_far.append(result)
        for observations in found.values():
            if isinstance(observations, list):
                observations.sort(key=lambda o: o.key)
        return found

    def platform_names(self) -> set[str]:
        """The platforms that have at least one resource of this driver (readable or not); raises the library's
        error."""
        return {result.key.platform for result in self._list(None) if result.key is not None}

    def read_each(self, pairs: Sequence[tuple[ResourceKey, Any]]) -> list[Observed | AdapterError]:
        """`_observation(key, item)` for each pair on the adapter's threads; a resource that cannot be read gives
        its `AdapterError` in its place."""

        def read(pair: tuple[ResourceKey, Any]) -> Observed | AdapterError:
            try:
                with failures("observe", pair[0]):
                    return self._observation(*pair)
            except AdapterError as exc:
                return exc

        return self.gcp.map(read, pairs)

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
        # What GCP cannot hold (`limits`, which `mnops validate` asks too), naming the fields.
        for fields, why in limits.refusals(desired):
            raise AdapterError(PROVIDER, operation, desired.key, f"{', '.join(fields)}: {why}")

    # -- for subclasses ----------------------------------------------------------------------------------------------

    @abstractmethod
    def _list(self, platforms: list[str] | None) -> list[Observed | AdapterError]:
        """Every resource of this driver carrying one of `platforms`' identity labels (any platform's, for None),
        read in bulk; one that cannot be read gives an `AdapterError` naming its key instead."""

    @abstractmethod
    def _observation(self, key: ResourceKey, item: Any) -> Observed:
        """The observation of the resource of `key` from what the listing gave for it."""

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
        self,
        key: ResourceKey,
        resource_id: str,
        fields: dict[str, Any],
        tags: Mapping[str, str],
        problem: str | None,
        addresses: Mapping[str, str] | None = None,
    ) -> Observed:
        """`addresses`: what the resource gave that its outputs need and no name implies (a service's URL)."""
        private = address_entries(addresses)
        return Observed(key, self.contract, resource_id, fields, dict(tags), problem, private)
