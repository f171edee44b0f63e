"""Housekeeping of deployed platforms (`Engine.maintain`): each adapter's upkeep (expiry, purges, rotation of secrets
whose `rotation_days` have passed), then a restart of every service that reads a rotated secret.

A platform is maintained as it was last applied, never as its YAML says now: housekeeping must not roll out a change
nobody deployed (prod waits for a person). Its upkeep runs under the platform's lock, so it never races a deploy. A
service reads its secrets when it starts, so a rotated secret restarts its readers (the resources whose
`secret_references()` name it) the way a deploy would: a deploy of kind `maintain` with a journal entry and an audit
event per step, health checks of what restarted, and on failure the convergence back to the last applied version.
The deploy starts as soon as a secret is rotated and journals it first, so a maintenance that dies before the restart
(its deploy is then marked crashed when its lock is broken) leaves the rotated secrets named: the next one restarts
their readers.

Audit events: `secret.rotated` per rotated secret (the keyed HMAC of its new value and the provider's version, never
the value), `maintain.started` / `step.update` / `maintain.succeeded` (or `maintain.failed`) for the restart,
`maintenance.expired` for objects, messages and log files removed, `maintenance.failed` for upkeep that failed. A
platform with nothing to do writes nothing at all, so a daily schedule leaves no trace on quiet platforms.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.base import Adapter, Observed, Upkeep
from contracts.errors import MnopsError
from mnops_assets.engine.audit import AuditRecord
from mnops_assets.engine.errors import DeployFailed, HealthCheckFailed
from mnops_assets.engine.operation import Operation
from mnops_assets.engine.plan import Action, Plan, Step, applied_record, desired_resources, read_by_name
from mnops_assets.engine.state import StateStore, StateUnavailable
from mnops_assets.engine.view import PlatformView
from mnops_assets.engine.wiring import Wiring
from mnops_assets.estate.spec import PlatformSpec


class Engine(Protocol):
    """What housekeeping uses of `apply.Engine`, which calls it: stated here, so the two modules do not import each
    other."""

    store: StateStore
    adapter_for: Callable[[str], Adapter]

    def operation(self, platform: str, kind: str, *, wait: bool = False) -> Operation: ...

    def audit(self, kind: str, platform: str | None, data: dict[str, Any]) -> AuditRecord: ...

    def roll_back(self, before: PlatformView, op: Operation, cause: Exception) -> None: ...


KIND = "maintain"
ROTATE = "rotate"
"""The journal action of a rotated secret, in a deploy of kind `maintain`."""


@dataclass(frozen=True)
class MaintenanceResult:
    """What housekeeping did to one platform."""

    platform: str
    upkeep: Mapping[str, Upkeep] = field(default_factory=dict)
    """Per resource, what its upkeep did; resources with nothing done are left out."""
    rotated: tuple[str, ...] = ()
    """Secrets whose value was replaced."""
    restarted: tuple[str, ...] = ()
    """Services restarted (and found healthy) to read the new values."""
    deploy_id: str | None = None
    """The deploy of kind `maintain` that restarted them, if any."""
    error: str | None = None
    """Why the platform's housekeeping failed, in whole or in part; then it needs a person."""

    @property
    def changed(self) -> bool:
        """Whether anything was rotated or removed (a failure alone changes nothing)."""
        return any(u.rotated or u.removed for u in self.upkeep.values())

    @property
    def removed(self) -> int:
        return sum(u.removed for u in self.upkeep.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "upkeep": {name: upkeep.to_dict() for name, upkeep in sorted(self.upkeep.items())},
            "rotated": list(self.rotated),
            "restarted": list(self.restarted),
            "removed": self.removed,
            "deploy_id": self.deploy_id,
            "error": self.error,
        }


def maintain(engine: Engine, specs: Sequence[PlatformSpec], *, wait: bool = False) -> dict[str, MaintenanceResult]:
    """Housekeeping of every platform of `specs` that is deployed (platforms never deployed, or destroyed, are left
    out); one platform's failure is its result's `error`, and the others are maintained all the same."""
    versions = engine.store.latest_versions([spec.name for spec in specs])
    results: dict[str, MaintenanceResult] = {}
    for spec in specs:
        version = versions.get(spec.name)
        if version is None or not version.spec:
            continue
        try:
            applied = PlatformSpec.model_validate(version.spec)
            results[spec.name] = _maintain_platform(engine, applied, wait)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong with one platform, the others go on
            results[spec.name] = MaintenanceResult(spec.name, error=str(exc) or type(exc).__name__)
    return results


def readers_of(spec: PlatformSpec, secrets: Sequence[str]) -> dict[str, list[str]]:
    """The resources of `spec` reading any of `secrets`, each with the ones it reads, by resource name."""
    wanted = set(secrets)
    found = {}
    for name, resource in sorted(spec.resources.items()):
        read = sorted(set(resource.secret_references().values()) & wanted)
        if read:
            found[name] = read
    return found


def _maintain_platform(engine: Engine, applied: PlatformSpec, wait: bool) -> MaintenanceResult:
    name = applied.name
    with engine.operation(name, KIND, wait=wait) as op:
        adapter = engine.adapter_for(applied.provider)
        # Taking the lock marked a maintenance that crashed here as such: its readers still hold the old values.
        unfinished = _unfinished_rotations(engine, name)
        upkeep = {resource: u for resource, u in adapter.maintain(name).items() if u.done}
        if not upkeep and not unfinished:
            return MaintenanceResult(name)
        rotated = tuple(sorted(r for r, u in upkeep.items() if u.rotated))
        problems = [f"{r}: {u.error}" for r, u in sorted(upkeep.items()) if u.error is not None]
        removed = {r: u.removed for r, u in sorted(upkeep.items()) if u.removed}
        if removed:
            engine.audit("maintenance.expired", name, {"removed": removed})
        if problems:
            engine.audit("maintenance.failed", name, {"errors": problems})
        restarted: tuple[str, ...] = ()
        if rotated or unfinished:
            try:
                restarted = _after_rotation(engine, op, applied, adapter, rotated, unfinished, upkeep, problems)
            except MnopsError as exc:
                problems.append(str(exc))
        error = "; ".join(problems) or None
        return MaintenanceResult(name, upkeep, rotated, restarted, op.deploy_id if op.started else None, error)


def _unfinished_rotations(engine: Engine, platform: str) -> list[str]:
    """Secrets the platform's last maintenance rotated if it never finished (a crash between a rotation and the
    restart of its readers, or a person stopping it): their readers are restarted now."""
    last = next((d for d in reversed(engine.store.deploys(platform)) if d["kind"] == KIND), None)
    if last is None or last["status"] not in ("running", "crashed", "interrupted"):
        return []
    return sorted({e["resource"] for e in engine.store.journal_of(last["id"]) if e["action"] == ROTATE})


def _after_rotation(
    engine: Engine,
    op: Operation,
    applied: PlatformSpec,
    adapter: Adapter,
    rotated: tuple[str, ...],
    unfinished: list[str],
    upkeep: Mapping[str, Upkeep],
    problems: list[str],
) -> tuple[str, ...]:
    """As an operation of kind `maintain`: audit and journal each rotated secret, then restart the readers of those
    and of `unfinished` (secrets a crashed maintenance rotated); return what restarted, adding to `problems` what
    needs a person. Raises `DeployFailed` when a restart failed (the operation rolled back to the applied version)."""
    name = applied.name
    desired = desired_resources(applied, Wiring(name, adapter, {}, op.store.resources))
    readers = readers_of(applied, sorted({*rotated, *unfinished}))
    touched = {r: desired[r].contract for r in (*rotated, *readers) if r in desired}
    current = read_by_name(adapter, name, {}, touched)
    for secret in rotated:
        observed = current.get(secret)
        data = {
            "deploy_id": op.deploy_id,
            "resource": secret,
            "contract": touched.get(secret, ""),
            # Keyed by the provider's own key: it tells one value from another and reveals nothing of either.
            "value_hmac": observed.fields.get("value_hmac") if observed is not None else None,
            "detail": upkeep[secret].detail,
            "readers": sorted(r for r, read in readers.items() if secret in read),
        }
        engine.audit("secret.rotated", name, data)
    steps = tuple(
        Step(
            Action.UPDATE,
            reader,
            desired[reader].contract,
            f"restarts to read the new value of {', '.join(read)}",
            desired=desired[reader],
            current=current[reader],
        )
        for reader, read in readers.items()
        if reader in current
    )
    plan = Plan(name, applied.config_hash(), steps)
    op.start(plan.config_hash, {"config_hash": plan.config_hash, "plan": plan.to_dict()})
    # Journalled before any restart, so that a crash from here on leaves an operation naming the rotated secrets
    # (those of a crashed maintenance too, until their readers have restarted).
    journalled = sorted({*rotated, *unfinished})
    for number, secret in enumerate(journalled, start=1):
        op.journalled(number, ROTATE, secret, lambda: None)
    _settle(op, applied, adapter, current, [s for s in rotated if s in desired])
    missing = sorted(r for r in readers if r not in current)
    if missing:
        # Nothing to restart: the next deploy makes them again, and they start with the new value.
        problems.append(f"{', '.join(missing)} read a rotated secret but no longer exist: deploy {name} again")
    before = PlatformView.observe(adapter, engine.store, name)
    try:
        for number, step in enumerate(plan.steps, start=len(journalled) + 1):
            op.step(number, step, adapter, current)
        failures = {}
        for step in plan.steps:
            report = adapter.driver(step.contract).health(current[step.name])
            if not report.healthy:
                failures[step.name] = report
        if failures:
            raise HealthCheckFailed(failures, "after the restart")
    except Exception as exc:
        with contextlib.suppress(StateUnavailable):  # recording the failure failed: repairing matters more
            op.failed(exc)
        # Back to the last applied version from what exists now; the old value is gone, so that means repairing.
        reason = f"restart after rotation: {exc}"
        try:
            engine.roll_back(before, op, exc)
        except DeployFailed as undo:
            raise DeployFailed(name, reason, rolled_back=False, rollback_error=undo.rollback_error) from exc
        raise DeployFailed(name, reason, rolled_back=True) from exc
    restarted = tuple(step.name for step in plan.steps)
    _settle(op, applied, adapter, current, restarted)
    if missing:
        op.finish("failed", problems[-1])
    else:
        op.succeed({"config_hash": plan.config_hash, "restarted": list(restarted)})
    return restarted


def _settle(
    op: Operation, applied: PlatformSpec, adapter: Adapter, current: Mapping[str, Observed], names: Sequence[str]
) -> None:
    """Make the last-applied rows of `names` say what the applied spec gives now (a rotated secret's new HMAC), as a
    deploy settles its rows; only `names`, since the others' sources (an `env:` variable of whoever deployed) may not
    be readable here."""
    last = op.store.resources(applied.name)
    desired = desired_resources(applied, Wiring(applied.name, adapter, current, op.store.resources))
    for resource in names:
        observed = current.get(resource)
        if observed is None:
            continue
        record = applied_record(adapter, desired[resource], observed)
        if last.get(resource) != record:
            op.store.put_resource(record)
