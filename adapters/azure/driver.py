"""What the Azure drivers share: observation from the platform's group listing (identity read from ARM tags, then each
resource's own reads), the identity and location checks, tagging for `mnops import`, and health.

Names are derived from the resource's key (see `names`), never taken from an observation, so a stale or forged
`Observed.resource_id` cannot point an update or a delete at something else. `create` of a name that exists already
(a crash between "made" and "tagged", or tags removed by hand) converges that resource instead of failing.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from adapters.azure import PROVIDER, limits, names
from adapters.azure.context import AzureContext, Listed, failures
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


class AzureDriver(ConvergingDriver):
    """One contract version on one Azure resource type, tagged with the resource's identity."""

    provider: ClassVar[str] = PROVIDER
    failures = staticmethod(failures)

    arm_type: ClassVar[str]
    """The ARM type of the tracked resource that carries the identity tags (`Microsoft.Storage/storageAccounts`)."""
    per_resource: ClassVar[bool] = True
    """Whether each resource is a tracked resource of `arm_type` of its own; otherwise (secrets in the platform's
    vault) the tracked resource is the platform's and outlives its last resource, see `holds_any`."""

    def __init__(self, azure: AzureContext) -> None:
        self.azure = azure

    # -- the protocol ------------------------------------------------------------------------------------------------

    def observe(self, platform: str) -> list[Observed]:
        with failures("observe", None, subject=f"platform {platform}"):
            listed = self.azure.listed(platform)
        return self.observe_listed(platform, listed)

    def observe_listed(self, platform: str, listed: Sequence[Listed]) -> list[Observed]:
        """The observations of this driver's resources among `listed` (the platform group's listing), sorted."""
        found: list[Observed] = []
        for row in listed:
            if row.type.lower() != self.arm_type.lower():
                continue
            key = self.identity(platform, row.tags)
            if key is None or row.name.lower() != self.resource_name(key).lower():
                continue  # tagged as ours but not named as this key's resource would be: someone else's copy
            with failures("observe", key):
                observed = self._read(key)
            if observed is not None:
                found.append(observed)
        return sorted(found, key=lambda o: o.key)

    def observe_found(self, platform: str, found: Sequence[Any]) -> list[Observed]:
        """The observations of this driver's resources among `found` (the `listing` rows in the platform's group, each
        with its tags and properties), sorted: only what a listing does not carry is read."""
        observations: list[Observed] = []
        for model in found:
            key = self.identity(platform, dict(model.tags or {}))
            if key is None or str(model.name or "").lower() != self.resource_name(key).lower():
                continue  # tagged as ours but not named as this key's resource would be: someone else's copy
            with failures("observe", key):
                observed = self._complete(key, model)
            if observed is not None:
                observations.append(observed)
        return sorted(observations, key=lambda o: o.key)

    def holds_any(self, platform: str) -> bool:
        """Whether the platform's tracked resource of `arm_type` still holds a managed resource (`per_resource` off)."""
        return True

    def find(self, key: ResourceKey) -> Observed | None:
        if not (names.is_name(key.platform) and names.is_name(key.name)):
            return None
        with failures("observe", key):
            return self._read(key)

    def health(self, current: Observed) -> HealthReport:
        try:
            with failures("health", current.key):
                found = self._read(current.key)
        except AdapterError as exc:
            return HealthReport(False, exc.reason)
        if found is None:
            return HealthReport(False, "resource is gone")
        if found.problem:
            return HealthReport(False, found.problem)
        return HealthReport(True)

    def tag_identity(self, current: Observed) -> Observed:
        with failures("tag", current.key):
            self._tag(current.key, {**current.tags, **identity_tags(current.key, self.contract)})
            found = self._read(current.key)
        if found is None:
            raise AdapterError(PROVIDER, "tag", current.key, "it vanished while it was being tagged")
        return found

    def check(self, desired: Desired, operation: str) -> None:
        super().check(desired, operation)
        if desired.region.lower() != self.azure.location.lower():
            # Observation looks in the platform's group whatever its location, but a resource made in a location
            # nobody declared is how data leaves the region policy promised.
            raise AdapterError(
                PROVIDER,
                operation,
                desired.key,
                f"it is declared in region {desired.region!r} but this azure adapter serves {self.azure.location!r}; "
                "set the provider's `location` setting to match",
            )
        self.refuse(desired, operation)

    # -- for subclasses ----------------------------------------------------------------------------------------------

    @abstractmethod
    def resource_name(self, key: ResourceKey) -> str:
        """The name of the tracked resource of `key`."""

    @abstractmethod
    def _read(self, key: ResourceKey) -> Observed | None:
        """The resource of `key` read in full, whether or not it is tagged; None if it does not exist."""

    @abstractmethod
    def listing(self) -> Iterable[Any]:
        """Every tracked resource of `arm_type` in the subscription, with its tags and properties: one paged listing
        (ARM's per-type listing, which unlike the tag-filtered `resources` listing keeps them)."""

    @abstractmethod
    def _complete(self, key: ResourceKey, found: Any) -> Observed | None:
        """The observation of `key` from its tracked resource `found` (as a GET or `listing` gives it), reading
        whatever else it needs (child resources); None if it is not there after all."""

    @abstractmethod
    def _tag(self, key: ResourceKey, tags: Mapping[str, str]) -> None:
        """Set the tracked resource's tags to `tags` (ARM replaces a resource's tags as a whole), nothing else."""

    def refuse(self, desired: Desired, operation: str) -> None:
        """Refuse contract values Azure cannot give (`limits`, which `mnops validate` asks too), naming the fields."""
        for fields, why in limits.refusals(desired):
            raise self.refused(desired, operation, ", ".join(fields), why)

    # -- helpers -----------------------------------------------------------------------------------------------------

    def refused(self, desired: Desired, operation: str, field: str, why: str) -> AdapterError:
        return AdapterError(PROVIDER, operation, desired.key, f"{field}: {why}")

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

    def observed(
        self,
        key: ResourceKey,
        resource_id: str,
        fields: dict[str, Any],
        tags: Mapping[str, str] | None,
        problem: str | None = None,
        addresses: Mapping[str, str] | None = None,
    ) -> Observed:
        """`addresses`: endpoints the resource gave that its outputs need and no name implies, kept privately."""
        private = address_entries(addresses)
        return Observed(key, self.contract, resource_id, fields, dict(tags or {}), problem, private)


def provisioning_state(resource: Any) -> str:
    """A resource's provisioning state as Azure spells it (`Succeeded`), whether the SDK gave text or an enum."""
    state = getattr(resource, "provisioning_state", None)
    return str(getattr(state, "value", state) or "")
