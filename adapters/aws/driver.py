"""What the five AWS drivers share: observation (candidates and their tags from the tagging API, then what the service
lists in bulk, then each resource's own reads on the adapter's threads), the identity check and the region check.
Create and update are `ConvergingDriver`'s, over each driver's `_ensure`, which also adopts a half-made resource of
ours.

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
from adapters.aws.context import INTERNAL_TAG_PREFIX, AwsContext, Tagged, failures, visible_tags
from adapters.aws.permissions import Grant
from adapters.base import (
    MANAGED_BY,
    TAG_CONTRACT,
    TAG_MANAGED_BY,
    TAG_PLATFORM,
    TAG_RESOURCE,
    AdapterError,
    CannotTag,
    Desired,
    HealthReport,
    Observed,
    ResourceKey,
    address_entries,
    identity_tags,
)
from adapters.driver import ConvergingDriver

Claimed = Mapping[ResourceKey, Mapping[str, Mapping[str, str]]]
"""resource key -> ARN -> tags: the resources the tagging API lists as tagged with each key."""


class AwsDriver(ConvergingDriver):
    """One contract version on one AWS service."""

    provider: ClassVar[str] = PROVIDER
    failures = staticmethod(failures)

    resource_type: ClassVar[str]
    """What the tagging API lists this driver's resources as (a `ResourceTypeFilters` entry: `s3`, `ecs:service`)."""

    PERMISSIONS: ClassVar[tuple[Grant, ...]]
    """The IAM actions of every call this driver makes, with the resources they touch (see `permissions`): the
    least-privilege policy is made from them, and a test checks each call the driver makes against them."""

    def __init__(self, aws: AwsContext) -> None:
        self.aws = aws

    # -- the protocol ------------------------------------------------------------------------------------------------

    def observe(self, platform: str) -> list[Observed]:
        if not names.is_name(platform):
            return []
        found = self.observe_tagged(self.aws.tagged([platform], [self.resource_type]))[platform]
        if isinstance(found, AdapterError):
            raise found
        return found

    def observe_tagged(self, tagged: Tagged) -> dict[str, list[Observed] | AdapterError]:
        """The observations of each platform's resources in `tagged` (see `AwsContext.tagged`) that are this driver's
        and exist, sorted; a platform one of whose resources could not be read maps to that error instead.

        The service's bulk listings (`_list`) come first, then each resource's own reads run on the adapter's threads.
        Raises `AdapterError` if a listing every platform needs fails.
        """
        claimed: dict[ResourceKey, dict[str, dict[str, str]]] = {}
        failed = {platform: error for platform, error in tagged.items() if isinstance(error, AdapterError)}
        for platform, resources in tagged.items():
            if platform in failed:
                continue
            for arn, tags in resources.items():
                key = self.identity(platform, tags)
                if key is not None and self.owns(arn):
                    claimed.setdefault(key, {})[arn] = tags
        keys = sorted(claimed)
        with failures("observe", None, subject=f"{self.contract} resources"):
            listing = self._list(claimed)

        def observe_one(key: ResourceKey) -> Observed | None:
            with failures("observe", key):
                return self._observe_key(key, claimed[key], listing)

        found: dict[str, list[Observed] | AdapterError] = {platform: [] for platform in tagged}
        found.update(failed)
        for key, result in zip(keys, self.aws.map(observe_one, keys), strict=True):
            so_far = found[key.platform]
            if isinstance(so_far, AdapterError) or result is None:
                continue
            if isinstance(result, AdapterError):
                found[key.platform] = result
            else:
                so_far.append(result)
        return found

    def health(self, current: Observed) -> HealthReport:
        try:
            with failures("health", current.key):
                return self._health(current)
        except AdapterError as exc:
            return HealthReport(False, exc.reason)

    def tag_identity(self, current: Observed) -> Observed:
        with failures("tag", current.key):
            self._tag(current, identity_tags(current.key, self.contract))
            found = self.find(current.key)
        if found is None:
            raise AdapterError(PROVIDER, "tag", current.key, "it vanished while it was being tagged")
        return found

    # -- for subclasses ----------------------------------------------------------------------------------------------

    def owns(self, arn: str) -> bool:
        """Whether an ARN is of the kind this driver manages (a service, not a task definition)."""
        return True

    def _list(self, claimed: Claimed) -> Any:
        """What the service lists in bulk about the claimed resources, for `_observe_key` (nothing by default): a
        failure here fails the observation of every platform, so per-resource reads belong in `_observe_key`."""
        return None

    @abstractmethod
    def _observe_key(self, key: ResourceKey, tagged: Mapping[str, Mapping[str, str]], listing: Any) -> Observed | None:
        """The resource of `key`, given the ARNs tagged as `key` (with their tags) and `_list`'s answer; None if it
        is gone or no tagged ARN is named as `key`'s resource would be. Runs on the adapter's threads."""

    def _tag(self, current: Observed, tags: Mapping[str, str]) -> None:
        """Add `tags` to the resource named for `current.key`, keeping every tag it has and changing nothing else."""
        raise CannotTag(self.contract, current.key)

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
        super().check(desired, operation)
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
        addresses: Mapping[str, str] | None = None,
    ) -> Observed:
        """`addresses`: what the listing gave that outputs need and no name implies (a queue's URL), kept privately."""
        private = {k: v for k, v in tags.items() if k.startswith(INTERNAL_TAG_PREFIX)}
        private.update(address_entries(addresses))
        return Observed(key, self.contract, resource_id, fields, visible_tags(tags), problem, private)
