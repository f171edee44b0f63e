"""The conformance suite every provider adapter runs: declared drivers, lifecycle, convergence, idempotence, drift,
deletion, health, isolation, the platform listing and errors.

A provider's test package runs all of it by importing it and providing ONE fixture, `target`, yielding a `Target`
around a fresh adapter (and cleaning up after it):

    # tests/adapters/<provider>/test_conformance.py
    from tests.adapters.conformance import *  # noqa: F403

    # tests/adapters/<provider>/conftest.py
    @pytest.fixture
    def target(...) -> Iterator[Target]:
        yield Target(adapter, region, tamper=..., break_resource=..., failing=...)

Each test is parametrized over the five v1 contracts; a contract the provider does not support is skipped.
`plan_and_apply` is deliberately the smallest planner that can prove idempotence (observe, compare, write only on a
difference, replace on an immutable field). It is not the product's planner, which lives in `mnops_assets/engine/` and
is tested there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters import registry
from adapters.base import (
    IDENTITY_TAGS,
    Adapter,
    AdapterError,
    Desired,
    Observed,
    ResourceDriver,
    ResourceKey,
    UnsupportedContract,
    identity_tags,
)
from contracts import contract_model

__all__ = [
    "CASES",
    "CONTRACTS",
    "CountingDriver",
    "Target",
    "counting_drivers",
    "desired_for",
    "differences",
    "driver",
    "find",
    "plan_and_apply",
    "test_a_change_behind_the_engines_back_is_drift",
    "test_an_os_error_is_an_adapter_error_naming_the_resource",
    "test_an_unsupported_contract_is_refused",
    "test_an_update_is_observed",
    "test_create_then_observe_matches_desired",
    "test_creating_over_a_change_behind_the_engines_back_repairs_it",
    "test_creating_what_exists_converges_to_the_same_resource",
    "test_delete_removes_it_and_deleting_again_is_not_an_error",
    "test_health_passes_then_fails_once_broken",
    "test_platforms_lists_a_platform_until_its_last_resource_is_deleted",
    "test_platforms_never_see_each_others_resources",
    "test_reapplying_the_same_desired_writes_nothing",
    "test_the_declared_drivers_are_the_adapters_drivers",
    "test_outputs_are_what_the_contract_declares",
]

PLATFORM = "conf"
PLATFORM_TAGS = {"team": "conformance", "cost-centre": "cc-42"}


@dataclass(frozen=True)
class Target:
    """A provider under test: a fresh adapter and the provider-specific ways to hurt it."""

    adapter: Adapter
    region: str
    tamper: Callable[[Observed], None]
    """Change the resource behind the engine's back (a setting, a tag, a stored value), as a person with console
    access would, so that a fresh observation differs from what was applied."""
    break_resource: Callable[[Observed], None]
    """Damage the resource so that `health()` turns false (corrupt its data, kill its processes)."""
    failing: Callable[[], AbstractContextManager[None]]
    """A context in which the provider's backend fails at the OS or transport level (a root that cannot be written,
    an endpoint that refuses connections)."""


@dataclass(frozen=True)
class Case:
    name: str
    spec: dict[str, Any]
    update: dict[str, Any]
    """Changes to `spec` that the provider must apply in place (no immutable field)."""


# Realistic resources, as a platform would declare them; the compute command is a real HTTP server so providers that
# run processes can probe it, and one that only records it is not harmed.
CASES: dict[str, Case] = {
    "storage/v1": Case(
        "assets",
        {"versioning": True, "expire_after_days": 30, "tags": {"data-class": "internal"}},
        {"versioning": False, "expire_after_days": 90},
    ),
    "queue/v1": Case(
        "jobs",
        # Values every provider holds: Pub/Sub takes 5-100 delivery attempts and keeps messages at most 7 days.
        {"retention_seconds": 86400, "visibility_timeout_seconds": 60, "dead_letter": {"max_receives": 5}},
        {"retention_seconds": 172800, "dead_letter": {"max_receives": 8}},
    ),
    "secrets/v1": Case("api-key", {"from": "generate", "length": 32, "rotation_days": 30}, {"rotation_days": 90}),
    "logging/v1": Case(
        "app-logs", {"retention_days": 14, "min_level": "info"}, {"retention_days": 7, "min_level": "warning"}
    ),
    # The major version of the PostgreSQL server this machine kind runs (the local provider makes its databases there).
    "database/v1": Case(
        "orders-db",
        {"engine_version": "15", "storage_gb": 20, "backups": True, "backup_retention_days": 7},
        {"storage_gb": 40, "backup_retention_days": 14},
    ),
    "compute/v1": Case(
        "api",
        {
            "command": [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
            "replicas": 1,
            "env": {"GREETING": "hello"},
            "health": {"http": "/", "timeout_seconds": 10},
        },
        {"replicas": 2, "env": {"GREETING": "bonjour"}},
    ),
}
CONTRACTS = list(CASES)


def desired_for(target: Target, contract: str, *, platform: str = PLATFORM, updated: bool = False) -> Desired:
    case = CASES[contract]
    data = {"contract": contract, **case.spec, **(case.update if updated else {})}
    spec = contract_model(contract).model_validate(data)
    return Desired.build(ResourceKey(platform, case.name), spec, PLATFORM_TAGS, target.region)


# -- the minimal planner -----------------------------------------------------------------------------------------------


def find(driver: ResourceDriver, key: ResourceKey) -> Observed | None:
    matches = [o for o in driver.observe(key.platform) if o.key == key]
    assert len(matches) <= 1, f"{key} observed {len(matches)} times"
    return matches[0] if matches else None


def differences(driver: ResourceDriver, desired: Desired, observed: Observed) -> dict[str, tuple[Any, Any]]:
    """Fields and tags whose observed value is not the desired one: `{name: (desired, observed)}`. Tags the provider
    added on its own are not differences; a desired tag missing or changed is (`tag:<key>`)."""
    want = driver.desired_fields(desired)
    have = dict(observed.fields)
    found = {k: (want.get(k), have.get(k)) for k in want.keys() | have.keys() if want.get(k) != have.get(k)}
    for tag, value in desired.tags.items():
        if observed.tags.get(tag) != value:
            found[f"tag:{tag}"] = (value, observed.tags.get(tag))
    return found


def plan_and_apply(driver: ResourceDriver, desired: Desired) -> Observed:
    """Create if absent, update if different, replace if an immutable field differs, else touch nothing."""
    current = find(driver, desired.key)
    if current is None:
        return driver.create(desired)
    changed = differences(driver, desired, current)
    if not changed:
        return current
    if changed.keys() & driver.immutable:
        driver.delete(current)
        return driver.create(desired)
    return driver.update(desired, current)


@dataclass
class CountingDriver:
    """Forwards everything to a driver and records the calls that write."""

    inner: ResourceDriver
    writes: list[tuple[str, str]] = field(default_factory=list)

    WRITE_METHODS = frozenset({"create", "update", "delete"})

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in self.WRITE_METHODS:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.writes.append((name, str(args[0].key)))
            return attribute(*args, **kwargs)

        return counted


def counting_drivers(adapter: Adapter) -> dict[str, CountingDriver]:
    """Every driver of `adapter`, wrapped so a test can count what it writes."""
    return {contract: CountingDriver(d) for contract, d in adapter.drivers.items()}


@pytest.fixture
def driver(target: Target, contract: str) -> ResourceDriver:
    if contract not in target.adapter.supported_contracts:
        pytest.skip(f"{target.adapter.provider} does not support {contract}")
    return target.adapter.driver(contract)


parametrize_contracts = pytest.mark.parametrize("contract", CONTRACTS)


def _assert_matches(driver: ResourceDriver, desired: Desired, observed: Observed | None) -> None:
    assert observed is not None, f"{desired.key} is not observed"
    assert observed.key == desired.key
    assert observed.contract == desired.contract
    assert observed.resource_id
    assert dict(observed.fields) == driver.desired_fields(desired)
    assert {t: observed.tags.get(t) for t in IDENTITY_TAGS} == identity_tags(desired.key, desired.contract)
    assert _subset(desired.tags, observed.tags)


def _subset(small: Mapping[str, str], big: Mapping[str, str]) -> bool:
    return all(big.get(k) == v for k, v in small.items())


# -- the suite ---------------------------------------------------------------------------------------------------------


@parametrize_contracts
def test_create_then_observe_matches_desired(target: Target, driver: ResourceDriver, contract: str) -> None:
    desired = desired_for(target, contract)
    created = driver.create(desired)
    _assert_matches(driver, desired, created)
    _assert_matches(driver, desired, find(driver, desired.key))
    assert target.adapter.observe(PLATFORM)[desired.key.name].contract == contract


@parametrize_contracts
def test_an_update_is_observed(target: Target, driver: ResourceDriver, contract: str) -> None:
    current = driver.create(desired_for(target, contract))
    wanted = desired_for(target, contract, updated=True)
    assert differences(driver, wanted, current), "the update case changes nothing"
    assert not (differences(driver, wanted, current).keys() & driver.immutable)
    updated = driver.update(wanted, current)
    _assert_matches(driver, wanted, updated)
    _assert_matches(driver, wanted, find(driver, wanted.key))


@parametrize_contracts
def test_reapplying_the_same_desired_writes_nothing(target: Target, driver: ResourceDriver, contract: str) -> None:
    counting = counting_drivers(target.adapter)[contract]
    desired = desired_for(target, contract)
    plan_and_apply(counting, desired)
    assert counting.writes == [("create", str(desired.key))]
    plan_and_apply(counting, desired)
    plan_and_apply(counting, desired)
    assert len(counting.writes) == 1, counting.writes
    updated = desired_for(target, contract, updated=True)
    plan_and_apply(counting, updated)
    plan_and_apply(counting, updated)
    assert counting.writes[1:] == [("update", str(desired.key))]


@parametrize_contracts
def test_a_change_behind_the_engines_back_is_drift(target: Target, driver: ResourceDriver, contract: str) -> None:
    desired = desired_for(target, contract)
    applied = driver.create(desired)
    target.tamper(applied)
    drifted = find(driver, desired.key)
    assert drifted is not None
    assert differences(driver, desired, drifted), "the change made behind the engine's back was not observed"
    counting = CountingDriver(driver)
    plan_and_apply(counting, desired)
    assert [name for name, _ in counting.writes] in (["update"], ["delete", "create"])
    assert not differences(driver, desired, find(driver, desired.key)), "applying again did not remove the drift"


@parametrize_contracts
def test_delete_removes_it_and_deleting_again_is_not_an_error(
    target: Target, driver: ResourceDriver, contract: str
) -> None:
    desired = desired_for(target, contract)
    created = driver.create(desired)
    driver.delete(created)
    assert find(driver, desired.key) is None
    assert desired.key.name not in target.adapter.observe(PLATFORM)
    driver.delete(created)


@parametrize_contracts
def test_health_passes_then_fails_once_broken(target: Target, driver: ResourceDriver, contract: str) -> None:
    created = driver.create(desired_for(target, contract))
    report = driver.health(created)
    assert report.healthy, report.detail
    target.break_resource(created)
    report = driver.health(created)
    assert not report.healthy
    assert report.detail


@parametrize_contracts
def test_platforms_never_see_each_others_resources(target: Target, driver: ResourceDriver, contract: str) -> None:
    ours = driver.create(desired_for(target, contract, platform="conf-a"))
    theirs = driver.create(desired_for(target, contract, platform="conf-b"))
    for observed, platform in ((ours, "conf-a"), (theirs, "conf-b")):
        seen = driver.observe(platform)
        assert [o.key for o in seen] == [observed.key]
        assert seen[0].tags["mnops-platform"] == platform
        assert seen[0].resource_id == observed.resource_id
    assert ours.resource_id != theirs.resource_id
    driver.delete(ours)
    assert driver.observe("conf-a") == []
    assert [o.key for o in driver.observe("conf-b")] == [theirs.key]


def test_an_unsupported_contract_is_refused(target: Target) -> None:
    for contract in ("blob/v1", "storage/v99"):
        with pytest.raises(UnsupportedContract, match=contract):
            target.adapter.driver(contract)


@parametrize_contracts
def test_an_os_error_is_an_adapter_error_naming_the_resource(
    target: Target, driver: ResourceDriver, contract: str
) -> None:
    desired = desired_for(target, contract)
    with target.failing(), pytest.raises(AdapterError) as raised:
        driver.create(desired)
    error = raised.value
    assert error.provider == target.adapter.provider
    assert error.key == desired.key
    assert str(desired.key) in str(error)
    assert error.__cause__ is not None, "the provider's own error must be kept as the cause"


# Outputs a provider may leave empty: an address only a load balancer gives (aws's compute has none of its own).
MAY_BE_EMPTY = {("compute/v1", "url"), ("compute/v1", "urls")}


@parametrize_contracts
def test_outputs_are_what_the_contract_declares(target: Target, driver: ResourceDriver, contract: str) -> None:
    model = contract_model(contract)
    created = driver.create(desired_for(target, contract))
    outputs = driver.outputs(created)
    assert set(outputs) == set(model.outputs), "exactly the outputs the contract declares"
    assert all(isinstance(value, str) for value in outputs.values())
    assert all(value for name, value in outputs.items() if (contract, name) not in MAY_BE_EMPTY), outputs
    # What the engine records after an apply and what a later observation gives agree.
    observed = find(driver, created.key)
    assert observed is not None and driver.outputs(observed) == outputs
    updated = driver.update(desired_for(target, contract, updated=True), observed)
    assert set(driver.outputs(updated)) == set(model.outputs)
    for name in model.sensitive_outputs:
        # Recorded as where the value is kept; the value itself only through `reveal_output`.
        value = driver.reveal_output(created.key, name)
        assert value and value != outputs[name]
        assert value not in str(outputs)


def test_the_declared_drivers_are_the_adapters_drivers(target: Target) -> None:
    adapter = target.adapter
    # As the registry reads it, without making an adapter: what `mnops registry` and the governance rules see.
    declared = registry.driver_table(adapter.provider)
    assert registry.supported_contracts(adapter.provider) == adapter.supported_contracts == set(declared)
    for contract, driver in adapter.drivers.items():
        assert driver.contract == contract
        assert getattr(adapter, contract.split("/")[0]) is driver, "each driver is the attribute named for its kind"
        assert (type(driver).__module__, type(driver).__name__) == tuple(declared[contract])


@parametrize_contracts
def test_creating_what_exists_converges_to_the_same_resource(
    target: Target, driver: ResourceDriver, contract: str
) -> None:
    desired = desired_for(target, contract)
    first = driver.create(desired)
    again = driver.create(desired)
    _assert_matches(driver, desired, again)
    assert again.resource_id == first.resource_id
    updated = desired_for(target, contract, updated=True)
    converged = driver.create(updated)
    _assert_matches(driver, updated, converged)
    assert converged.resource_id == first.resource_id
    assert [o.key for o in driver.observe(PLATFORM)] == [desired.key]


@parametrize_contracts
def test_creating_over_a_change_behind_the_engines_back_repairs_it(
    target: Target, driver: ResourceDriver, contract: str
) -> None:
    desired = desired_for(target, contract)
    applied = driver.create(desired)
    target.tamper(applied)
    assert differences(driver, desired, find(driver, desired.key)), "the change made behind the engine's back"
    repaired = driver.create(desired)
    _assert_matches(driver, desired, repaired)
    assert not differences(driver, desired, find(driver, desired.key)), "creating again did not remove the drift"


@parametrize_contracts
def test_platforms_lists_a_platform_until_its_last_resource_is_deleted(
    target: Target, driver: ResourceDriver, contract: str
) -> None:
    platform = "conf-listed"
    assert platform not in target.adapter.platforms()
    first = desired_for(target, contract, platform=platform)
    second = Desired.build(ResourceKey(platform, f"{first.key.name}-2"), first.spec, PLATFORM_TAGS, target.region)
    made = [driver.create(first), driver.create(second)]
    assert platform in target.adapter.platforms()
    assert target.adapter.platforms() == sorted(target.adapter.platforms())
    driver.delete(made[0])
    assert platform in target.adapter.platforms(), "listed no more while it still has a resource"
    driver.delete(made[1])
    assert platform not in target.adapter.platforms()
