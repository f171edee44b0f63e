"""What the provider drift-scan benchmarks share: making a platform's resources, and the two scans they compare (the
adapter's bulk observation, and a naive one reading each declared resource by its name)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import Adapter, Desired, ResourceKey
from contracts import contract_model

Resources = Mapping[str, Mapping[str, Any]]
"""Resource name -> its spec as YAML gives it (`{"contract": "queue/v1", ...}`)."""

# The platform every provider's scan benchmark makes many of: one resource of each contract the providers share.
RESOURCES: dict[str, dict[str, Any]] = {
    "exports": {"contract": "storage/v1", "versioning": True, "expire_after_days": 30},
    "jobs": {"contract": "queue/v1", "retention_seconds": 86400, "dead_letter": {"max_receives": 5}},
    "api-token": {"contract": "secrets/v1", "from": "generate", "length": 32},
    "app-logs": {"contract": "logging/v1", "retention_days": 30},
    "api": {"contract": "compute/v1", "command": ["serve", "--port", "{port}"], "replicas": 1},
}
TAGS = {"owner": "platform-team", "cost-center": "cc-1042", "environment": "bench"}


def deploy(adapter: Adapter, platform: str, resources: Resources, tags: Mapping[str, str], region: str) -> None:
    """Make every resource of `resources` for `platform`, through the drivers."""
    for name, spec in resources.items():
        key = ResourceKey(platform, name)
        desired = Desired.build(key, contract_model(spec["contract"]).model_validate(spec), tags, region)
        adapter.driver(desired.contract).create(desired)


def bulk_scan(adapter: Adapter, platforms: list[str]) -> dict[str, dict[str, Any]]:
    """The adapter's own observation of many platforms; any platform it could not observe fails the benchmark."""
    found = adapter.observe_many(platforms)
    failed = {p: r for p, r in found.items() if isinstance(r, Exception)}
    if failed:
        raise AssertionError(f"observation failed: {failed}")
    return found  # type: ignore[return-value]


def naive_scan(adapter: Adapter, platforms: list[str], resources: Resources) -> dict[str, dict[str, Any]]:
    """Each declared resource read by the name it implies (`find`), one after another."""
    found: dict[str, dict[str, Any]] = {}
    for platform in platforms:
        found[platform] = {}
        for name, spec in resources.items():
            observed = adapter.driver(spec["contract"]).find(ResourceKey(platform, name))
            if observed is not None:
                found[platform][name] = observed
    return found
