"""Apply: run a plan under the platform's lock, journal every step, check health, defer deletes, roll back on failure.

The order of one deploy:
1. take the platform's lock (a stale lock of a dead process on this host is broken and its deploy marked crashed);
2. observe, plan; a plan with no steps touches no provider (state is only caught up if a crash left it behind);
3. creates, updates and replaces in dependency order, each journalled before and after, state written per step;
4. health of every declared resource; 5. deletes, last, in reverse dependency order; 6. a new version.
Any failure in 3-4 converges the platform back to the last good version (or to nothing, on a first deploy). A crash at
any instant is safe too: the next deploy observes what really exists (by identity tags) and converges from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.base import Adapter, HealthReport, Observed
from contracts.errors import MnopsError
from mnops_assets.engine import audit, importing, maintenance
from mnops_assets.engine.errors import (
    DeployFailed,
    DestructiveChangeRefused,
    GovernanceRefused,
    PlatformLocked,
    ProtectedPlatform,
    UnknownVersion,
)
from mnops_assets.engine.hooks import HookRunner
from mnops_assets.engine.plan import (
    Action,
    Plan,
    Step,
    desired_resources,
    drift_steps,
    make_plan,
    read_by_name,
    with_untagged,
)
from mnops_assets.engine.state import Actor, Lock, ResourceRecord, StateStore, Version, new_deploy_id
from mnops_assets.estate.spec import PlatformSpec

FAILPOINTS_ENV = "MNOPS_FAILPOINTS"
LOCK_POLL_SECONDS = 0.2


class InjectedFault(MnopsError):
    """Raised at a failpoint set in MNOPS_FAILPOINTS (resilience tests only)."""


class HealthCheckFailed(MnopsError):
    def __init__(self, failures: Mapping[str, HealthReport]) -> None:
        self.failures = dict(failures)
        listed = "; ".join(f"{name}: {report.detail or 'unhealthy'}" for name, report in sorted(failures.items()))
        super().__init__(f"health check failed: {listed}")


@dataclass(frozen=True)
class Failpoints:
    """Where to fail or die, for tests that prove recovery: `before:3=crash,after:2=fail` (steps count from 1).

    `crash` sends this process SIGKILL (nothing runs after it, as in a real crash); `fail` raises InjectedFault.
    """

    points: Mapping[tuple[str, int], str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Failpoints:
        points = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            where, _, what = item.partition("=")
            moment, _, step = where.partition(":")
            if moment not in ("before", "after") or not step.isdigit() or what not in ("crash", "fail"):
                raise MnopsError(f"{FAILPOINTS_ENV}: {item!r} is not before|after:STEP=crash|fail")
            points[(moment, int(step))] = what
        return cls(points)

    @classmethod
    def from_env(cls) -> Failpoints:
        return cls.parse(os.environ.get(FAILPOINTS_ENV, ""))

    def hit(self, moment: str, step: int) -> None:
        what = self.points.get((moment, step))
        if what == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if what == "fail":
            raise InjectedFault(f"injected failure {moment} step {step}")


@dataclass(frozen=True)
class DeployResult:
    platform: str
    deploy_id: str | None
    plan: Plan
    version: Version | None
    health: Mapping[str, HealthReport] = field(default_factory=dict)
    audit_seqs: tuple[int, ...] = ()

    @property
    def changed(self) -> bool:
        return self.plan.changed


@dataclass(frozen=True)
class DriftReport:
    steps: list[Step]
    """What undoing the drift would take, each step with only its drifted fields; empty when in sync."""
    observed_hash: str
    """A digest of everything observed: the same drift always gives the same hash."""
    version: int
    """The last applied version the observation was compared with."""
    error: str | None = None
    """Why the platform could not be judged (a provider error, an unset `env:` source); then it is not in sync."""

    @property
    def in_sync(self) -> bool:
        return not self.steps and self.error is None


def observed_hash(observed: Mapping[str, Observed]) -> str:
    canonical = {name: [o.contract, dict(o.fields), dict(o.tags), o.problem] for name, o in sorted(observed.items())}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


Gate = Callable[[PlatformSpec], list[str]]
"""Governance before any provider is touched: the unwaived error findings for a spec (empty means go)."""


class Engine:
    """Plans and applies platform specs through provider adapters, keeping state, versions and the audit trail."""

    def __init__(
        self,
        store: StateStore,
        adapter_for: Callable[[str], Adapter],
        *,
        actor: Actor | None = None,
        failpoints: Failpoints | None = None,
        lock_timeout: float = 600.0,
        hooks_cwd: Path | None = None,
        hooks_log: Path | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.store = store
        self.adapter_for = adapter_for
        self.actor = actor or Actor.current()
        self.failpoints = failpoints if failpoints is not None else Failpoints.from_env()
        self.lock_timeout = lock_timeout
        self.gate = gate
        self.hooks = HookRunner(hooks_cwd or Path.cwd(), self.audit, hooks_log)

    def close(self) -> None:
        """Close the state store and, if `adapter_for` can be closed (`open_engine`'s can), every adapter it made."""
        try:
            self.store.close()
        finally:
            close = getattr(self.adapter_for, "close", None)
            if close is not None:
                close()

    # -- read-only ---------------------------------------------------------------------------------------------------

    def plan(self, spec: PlatformSpec) -> Plan:
        self.hooks.run(spec, "pre-plan", {"config_hash": spec.config_hash()})
        adapter = self.adapter_for(spec.provider)
        last = self.store.resources(spec.name)
        observed = with_untagged(adapter, spec.name, adapter.observe(spec.name), last)
        return make_plan(spec.name, spec, observed, last, adapter, self._last_spec(spec.name))

    def health(self, spec: PlatformSpec) -> dict[str, HealthReport]:
        """Every declared resource's health check, as it stands now."""
        adapter = self.adapter_for(spec.provider)
        observed = with_untagged(adapter, spec.name, adapter.observe(spec.name), self.store.resources(spec.name))
        return self._health(spec, adapter, observed)

    def drift(self, spec: PlatformSpec) -> list[Step]:
        """What changed outside mnops since the last apply (not what the YAML asks anew); audited and hooked."""
        return self.drift_many([spec]).get(spec.name, [])

    def drift_many(self, specs: list[PlatformSpec]) -> dict[str, list[Step]]:
        """`drift` for many platforms, reading state in bulk; platforms never deployed are left out."""
        reports = self.inspect(specs)
        for spec in specs:
            report = reports.get(spec.name)
            if report is not None and report.error is not None:
                raise MnopsError(f"{spec.name}: cannot be judged: {report.error}")
            if report is not None and report.steps:
                self.record_drift(spec, report)
        return {name: report.steps for name, report in reports.items()}

    def inspect(self, specs: list[PlatformSpec]) -> dict[str, DriftReport]:
        """Observe deployed platforms and compare with their last applied state; no side effect at all.

        State is read in bulk (two queries however many platforms), so a drift sensor can judge a thousand in a tick.
        """
        names = [spec.name for spec in specs]
        versions = self.store.latest_versions(names)
        state = self.store.resources_of(names)
        deployed = [spec for spec in specs if versions.get(spec.name) is not None and versions[spec.name].spec]
        observations = self._observe_many(deployed)
        found: dict[str, DriftReport] = {}
        for spec in deployed:
            version = versions[spec.name]
            try:
                observed = observations[spec.name]
                if isinstance(observed, MnopsError):
                    raise observed
                adapter = self.adapter_for(spec.provider)
                observed = with_untagged(adapter, spec.name, observed, state[spec.name])
                # The last applied spec only orders deletes: parse it only when something undeclared was found.
                undeclared = any(name not in spec.resources for name in observed)
                previous = _spec_of(version) if undeclared else None
                plan = make_plan(spec.name, spec, observed, state[spec.name], adapter, previous)
                reread = [s.name for s in drift_steps(plan) if s.current is not None and s.name in spec.resources]
                if reread:
                    # Bulk listings may lag (AWS's tagging API does): drift is what a direct read still shows.
                    observed = read_by_name(adapter, spec.name, observed, {n: observed[n].contract for n in reread})
                    plan = make_plan(spec.name, spec, observed, state[spec.name], adapter, previous)
            except MnopsError as exc:
                # One platform that cannot be judged must not stop the judging of the others.
                found[spec.name] = DriftReport([], "", version.version, str(exc))
                continue
            found[spec.name] = DriftReport(drift_steps(plan), observed_hash(observed), version.version)
        return found

    def drift_scan(self, specs: list[PlatformSpec]) -> dict[str, DriftReport | None]:
        """`inspect` for every spec named (None: never deployed), with drift found audited and hooked.

        A platform that cannot be judged carries `report.error` and is neither audited nor hooked."""
        reports = self.inspect(specs)
        for spec in specs:
            report = reports.get(spec.name)
            if report is not None and report.error is None and report.steps:
                self.record_drift(spec, report)
        return {spec.name: reports.get(spec.name) for spec in specs}

    def _observe_many(self, specs: list[PlatformSpec]) -> dict[str, dict[str, Observed] | MnopsError]:
        """Each platform's observation, asking each provider once for all of its platforms (see
        `Adapter.observe_many`); a provider that cannot even be made fails only its own platforms."""
        by_provider: dict[str, list[str]] = {}
        for spec in specs:
            by_provider.setdefault(spec.provider, []).append(spec.name)
        found: dict[str, dict[str, Observed] | MnopsError] = {}
        for provider, platforms in by_provider.items():
            try:
                found.update(self.adapter_for(provider).observe_many(platforms))
            except MnopsError as exc:
                found.update(dict.fromkeys(platforms, exc))
        return found

    def record_drift(self, spec: PlatformSpec, report: DriftReport) -> None:
        """Audit drift found, and run the platform's on-drift hooks."""
        data = {
            "steps": [s.to_dict() for s in report.steps],
            "config_hash": spec.config_hash(),
            "observed_hash": report.observed_hash,
        }
        self.audit("drift.detected", spec.name, data)
        self.hooks.run(spec, "on-drift", data)

    # -- changes -----------------------------------------------------------------------------------------------------

    def deploy(
        self, spec: PlatformSpec, *, wait: bool = False, note: str = "", kind: str = "deploy", force: bool = False
    ) -> DeployResult:
        """Plan and apply `spec`; a protected platform's deletes and replaces need `force`."""
        deploy_id = new_deploy_id()
        with self._locked(spec.name, deploy_id, wait):
            return self._deploy(spec, deploy_id, kind, note, force)

    def rollback(
        self, spec_now: PlatformSpec, to: int | None = None, *, wait: bool = False, force: bool = False
    ) -> DeployResult:
        """Deploy the spec of an earlier version again (default: the one before the newest), as a new version."""
        every = self.store.versions(spec_now.name)
        versions = [v for v in every if v.spec]  # a destroy records a version with no spec: nothing to return to
        numbers = [v.version for v in versions]
        if to is None:
            earlier = [v for v in every[:-1] if v.spec]
            if not earlier:
                raise UnknownVersion(spec_now.name, None, numbers)
            target = earlier[-1]
        else:
            target = next((v for v in versions if v.version == to), None)
            if target is None:
                raise UnknownVersion(spec_now.name, to, numbers)
        spec = PlatformSpec.model_validate(target.spec)
        result = self.deploy(
            spec, wait=wait, note=f"rollback to version {target.version}", kind="rollback", force=force
        )
        self.hooks.run(spec, "on-rollback", {"to_version": target.version, "automatic": False})
        return result

    def destroy(self, spec: PlatformSpec, *, force: bool = False, wait: bool = False) -> DeployResult:
        """Delete every resource of the platform, dependents first; refused for `protect: true` unless forced."""
        if spec.protect and not force:
            raise ProtectedPlatform(spec.name)
        deploy_id = new_deploy_id()
        with self._locked(spec.name, deploy_id, wait):
            adapter = self.adapter_for(spec.provider)
            previous = self._last_spec(spec.name) or spec
            state = self.store.resources(spec.name)
            observed = with_untagged(adapter, spec.name, adapter.observe(spec.name), state)
            plan = make_plan(spec.name, None, observed, state, adapter, previous)
            if not plan.changed and not state:
                return DeployResult(spec.name, None, plan, None)  # nothing deployed: nothing to record either
            seqs = [self.audit("destroy.started", spec.name, {"deploy_id": deploy_id, "plan": plan.counts()}).seq]
            self.store.start_deploy(deploy_id, spec.name, "destroy", "", self.actor)
            try:
                for number, step in enumerate(plan.steps, start=1):
                    seqs.append(self._execute(deploy_id, spec.name, number, step, adapter))
            except Exception as exc:
                self.store.finish_deploy(deploy_id, "failed", str(exc))
                self.audit("destroy.failed", spec.name, {"deploy_id": deploy_id, "error": str(exc)})
                raise
            for name in self.store.resources(spec.name):
                self.store.drop_resource(spec.name, name)
            version = self.store.record_version(spec.name, "", {}, {}, {}, deploy_id, self.actor, note="destroyed")
            self.store.finish_deploy(deploy_id, "succeeded")
            seqs.append(
                self.audit("destroy.succeeded", spec.name, {"deploy_id": deploy_id, "version": version.version}).seq
            )
            return DeployResult(spec.name, deploy_id, plan, version, audit_seqs=tuple(seqs))

    def import_platform(
        self, spec: PlatformSpec, *, dry_run: bool = False, wait: bool = False
    ) -> importing.ImportResult:
        """Adopt the resources of `spec` that exist at the provider into state, without making them again (see
        `importing`); a dry run only looks, so it takes no lock."""
        if dry_run:
            return importing.survey(self, spec)
        deploy_id = new_deploy_id()
        with self._locked(spec.name, deploy_id, wait):
            return importing.adopt(self, spec, deploy_id)

    # -- the deploy itself -------------------------------------------------------------------------------------------

    def _deploy(self, spec: PlatformSpec, deploy_id: str, kind: str, note: str, force: bool) -> DeployResult:
        name = spec.name
        if self.gate is not None:
            findings = self.gate(spec)
            if findings:
                self.audit("governance.refused", name, {"findings": findings, "config_hash": spec.config_hash()})
                raise GovernanceRefused(name, findings)
        self.hooks.run(spec, "pre-plan", {"config_hash": spec.config_hash()})
        adapter = self.adapter_for(spec.provider)
        last_version = self.store.latest_version(name)
        previous = _spec_of(last_version)
        last = self.store.resources(name)
        observed = with_untagged(adapter, name, adapter.observe(name), last)
        plan = make_plan(name, spec, observed, last, adapter, previous)
        config_hash = spec.config_hash()
        if not plan.changed and last_version is not None and last_version.config_hash == config_hash:
            self._settle_state(spec, adapter, observed, last)
            return DeployResult(name, None, plan, None)

        destructive = [f"{s.action.value} {s.name}" for s in plan.steps if s.action in (Action.DELETE, Action.REPLACE)]
        if spec.protect and destructive and not force:
            self.audit("deploy.refused", name, {"config_hash": config_hash, "destructive": destructive})
            raise DestructiveChangeRefused(name, destructive)
        if plan.changed:
            self.hooks.run(spec, "pre-apply", {"config_hash": config_hash, "plan": plan.to_dict()})
        self.store.start_deploy(deploy_id, name, kind, config_hash, self.actor)
        seqs = [
            self.audit(
                f"{kind}.started", name, {"deploy_id": deploy_id, "config_hash": config_hash, "plan": plan.to_dict()}
            ).seq
        ]
        current = dict(observed)
        try:
            for number, step in enumerate(plan.steps, start=1):
                if step.action is Action.DELETE:
                    continue
                seqs.append(self._execute(deploy_id, name, number, step, adapter, current))
            health = self._health(spec, adapter, current)
            failures = {n: r for n, r in health.items() if not r.healthy}
            if failures:
                raise HealthCheckFailed(failures)
            for number, step in enumerate(plan.steps, start=1):
                if step.action is Action.DELETE:
                    seqs.append(self._execute(deploy_id, name, number, step, adapter, current))
        except KeyboardInterrupt:
            # Stopped by a person: no rollback behind their back; the next deploy converges from what exists.
            self.store.finish_deploy(deploy_id, "interrupted", "interrupted")
            raise
        except Exception as exc:
            seqs.append(self.audit(f"{kind}.failed", name, {"deploy_id": deploy_id, "error": str(exc)}).seq)
            self._roll_back(name, previous, adapter, deploy_id, exc)
            self.hooks.run(spec, "on-rollback", {"automatic": True, "deploy_id": deploy_id, "error": str(exc)})
            raise DeployFailed(name, str(exc), rolled_back=True) from exc

        self._settle_state(spec, adapter, current, self.store.resources(name))
        version = self.store.record_version(
            name,
            config_hash,
            spec.model_dump(mode="json", by_alias=True),
            spec.contract_versions(),
            {n: o.resource_id for n, o in sorted(current.items()) if n in spec.resources},
            deploy_id,
            self.actor,
            note,
        )
        self.store.finish_deploy(deploy_id, "succeeded")
        data = {"deploy_id": deploy_id, "version": version.version, "config_hash": config_hash, "note": note}
        seqs.append(self.audit(f"{kind}.succeeded", name, data).seq)
        self.hooks.run(spec, "post-apply", data)
        return DeployResult(name, deploy_id, plan, version, health, tuple(seqs))

    def _execute(
        self,
        deploy_id: str,
        platform: str,
        number: int,
        step: Step,
        adapter: Adapter,
        current: dict[str, Observed] | None = None,
        *,
        undo: bool = False,
    ) -> int:
        """Run one step with its journal entries and state write; return the audit record's sequence number.

        Undo steps (a rollback's) are journalled as such and pass no failpoint: recovery itself is not under test.
        """
        phase = "undo-" if undo else ""
        started, done, failed = (f"{phase}started", f"{phase}done", f"{phase}failed")
        failpoints = Failpoints() if undo else self.failpoints
        self.store.journal(deploy_id, platform, number, step.action.value, step.name, started)
        try:
            failpoints.hit("before", number)
            result = _call(step, adapter)
            failpoints.hit("after", number)
        except Exception as exc:
            self.store.journal(deploy_id, platform, number, step.action.value, step.name, failed, str(exc))
            raise
        if result is None:
            self.store.drop_resource(platform, step.name)
            if current is not None:
                current.pop(step.name, None)
        else:
            self.store.put_resource(_record(result))
            if current is not None:
                current[step.name] = result
        self.store.journal(deploy_id, platform, number, step.action.value, step.name, done)
        data = {"deploy_id": deploy_id, "step": number, "undo": undo, **step.to_dict()}
        return self.audit(f"step.{step.action.value}", platform, data).seq

    def _health(self, spec: PlatformSpec, adapter: Adapter, current: Mapping[str, Observed]) -> dict[str, HealthReport]:
        reports = {}
        for name, resource in spec.resources.items():
            observed = current.get(name)
            if observed is None:
                reports[name] = HealthReport(False, "not found after apply")
                continue
            try:
                reports[name] = adapter.driver(resource.contract).health(observed)
            except MnopsError as exc:
                reports[name] = HealthReport(False, str(exc))
        return reports

    def _roll_back(
        self, platform: str, previous: PlatformSpec | None, adapter: Adapter, deploy_id: str, cause: Exception
    ) -> None:
        """Converge to the last good spec (nothing, on a first deploy) from whatever exists now."""
        target = "nothing" if previous is None else f"config {previous.config_hash()[:12]}"
        try:
            last = self.store.resources(platform)
            observed = with_untagged(adapter, platform, adapter.observe(platform), last)
            plan = make_plan(platform, previous, observed, last, adapter, previous)
            for number, step in enumerate(plan.steps, start=1):
                self._execute(deploy_id, platform, number, step, adapter, undo=True)
        except Exception as exc:
            self.store.finish_deploy(deploy_id, "failed", f"{cause}; rollback failed: {exc}")
            self.audit("undo.failed", platform, {"deploy_id": deploy_id, "target": target, "error": str(exc)})
            raise DeployFailed(platform, str(cause), rolled_back=False, rollback_error=str(exc)) from exc
        self.store.finish_deploy(deploy_id, "rolled-back", str(cause))
        self.audit("undo.succeeded", platform, {"deploy_id": deploy_id, "target": target, "cause": str(cause)})

    def _settle_state(
        self, spec: PlatformSpec, adapter: Adapter, observed: Mapping[str, Observed], last: Mapping[str, ResourceRecord]
    ) -> None:
        """Make the last-applied state say what this spec applied, writing only rows that differ.

        A crash between a provider call and its state write leaves rows missing or stale; left so, a later change
        outside mnops would pass for a change in YAML. Rows hold the desired fields, not the observed ones, so a field
        muted by `drift.ignore` stays muted.
        """
        for name, desired in desired_resources(spec).items():
            current = observed.get(name)
            if current is None:
                continue
            fields = adapter.driver(desired.contract).desired_fields(desired, current)
            record = ResourceRecord(spec.name, name, desired.contract, current.resource_id, fields, dict(desired.tags))
            if last.get(name) != record:
                self.store.put_resource(record)
        for name in last:
            if name not in spec.resources and name not in observed:
                self.store.drop_resource(spec.name, name)

    # -- locking -----------------------------------------------------------------------------------------------------

    def unlock(self, platform: str) -> Lock | None:
        """Break the platform's lock (left by a process that died on another host); its deploy is finished `crashed`
        and `lock.broken` audited. None when the platform was not locked."""
        lock = self.store.lock_of(platform)
        if lock is None:
            return None
        self.store.release_lock(platform, lock.deploy_id)
        self.store.finish_deploy(lock.deploy_id, "crashed", f"lock broken by {self.actor}")
        self.audit("lock.broken", platform, {"deploy_id": lock.deploy_id, "holder": lock.holder})
        return lock

    def _locked(self, platform: str, deploy_id: str, wait: bool) -> _PlatformLock:
        return _PlatformLock(self, platform, deploy_id, wait)

    def audit(self, kind: str, platform: str | None, data: dict[str, Any]) -> audit.AuditRecord:
        """Append one event to the audit trail, as this engine's actor."""
        return audit.record(self.store, kind, platform, data, self.actor)

    def _last_spec(self, platform: str) -> PlatformSpec | None:
        return _spec_of(self.store.latest_version(platform))

    # -- housekeeping ------------------------------------------------------------------------------------------------

    def maintain(
        self, specs: Sequence[PlatformSpec], *, wait: bool = False
    ) -> dict[str, maintenance.MaintenanceResult]:
        """Housekeeping of the deployed platforms among `specs`: expiry, purges, rotation of secrets, and a restart of
        the services reading a rotated secret (see `maintenance`); a platform's failure is its result's `error`."""
        return maintenance.maintain(self, specs, wait=wait)


class _PlatformLock:
    def __init__(self, engine: Engine, platform: str, deploy_id: str, wait: bool) -> None:
        self.engine, self.platform, self.deploy_id, self.wait = engine, platform, deploy_id, wait

    def __enter__(self) -> None:
        store, actor = self.engine.store, self.engine.actor
        deadline = time.monotonic() + self.engine.lock_timeout
        while True:
            holder = store.try_lock(self.platform, self.deploy_id, actor)
            if holder is None:
                return
            if holder.deploy_id and _is_stale(holder, actor) and store.release_lock(self.platform, holder.deploy_id):
                reason = f"process {holder.pid} on {holder.host} died holding the lock"
                store.finish_deploy(holder.deploy_id, "crashed", reason, only_if_running=True)
                data = {"deploy_id": holder.deploy_id, "holder": holder.holder, "since": holder.acquired_at}
                self.engine.audit("deploy.crashed", self.platform, data)
                continue
            if not self.wait or time.monotonic() > deadline:
                raise PlatformLocked(self.platform, holder.holder, holder.acquired_at, holder.deploy_id)
            time.sleep(LOCK_POLL_SECONDS)

    def __exit__(self, *exc: object) -> None:
        self.engine.store.release_lock(self.platform, self.deploy_id)


def _is_stale(lock: Lock, me: Actor) -> bool:
    """Only a lock of this host can be judged: its process is gone. Other hosts' locks need `mnops unlock`."""
    if lock.host != me.host:
        return False
    try:
        os.kill(lock.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _call(step: Step, adapter: Adapter) -> Observed | None:
    if step.action is Action.CREATE:
        assert step.desired is not None
        return adapter.driver(step.contract).create(step.desired)
    if step.action is Action.UPDATE:
        assert step.desired is not None and step.current is not None
        return adapter.driver(step.contract).update(step.desired, step.current)
    assert step.current is not None
    adapter.driver(step.current.contract).delete(step.current)
    if step.action is Action.REPLACE:
        assert step.desired is not None
        return adapter.driver(step.contract).create(step.desired)
    return None


def _record(observed: Observed) -> ResourceRecord:
    return ResourceRecord(
        observed.key.platform,
        observed.key.name,
        observed.contract,
        observed.resource_id,
        dict(observed.fields),
        dict(observed.tags),
    )


def _spec_of(version: Version | None) -> PlatformSpec | None:
    if version is None or not version.spec:
        return None
    return PlatformSpec.model_validate(version.spec)
