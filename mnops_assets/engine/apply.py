"""Apply: run a plan under the platform's lock, journal every step, check health, defer deletes, roll back on failure.

The order of one deploy (the lock, the deploy row, journal and audit are an `Operation`'s; the plan a `PlatformView`'s):
1. take the platform's lock (a lock whose lease ran out unrenewed is broken and its deploy marked crashed);
2. observe, plan; a plan that changes nothing touches no provider (state is only caught up if a crash left it
   behind), while one whose only change is the config hash (a hook edited) records a version without a step;
3. creates, updates and replaces in dependency order, each journalled before and after, state written per step;
4. health of every declared resource; 5. deletes, last, in reverse dependency order; 6. a new version.
Any failure in 3-4 converges the platform back to the last good version (or to nothing, on a first deploy). A crash at
any instant is safe too: the next deploy observes what really exists (by identity tags) and converges from there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.base import Adapter, HealthReport, Observed
from contracts.errors import MnopsError
from mnops_assets.engine import audit, importing, maintenance, tracing
from mnops_assets.engine.errors import (
    DeployFailed,
    DestructiveChangeRefused,
    GovernanceRefused,
    HealthCheckFailed,
    LeaseLost,
    LockHeld,
    ProducerInUse,
    ProtectedPlatform,
    UnknownVersion,
)
from mnops_assets.engine.hooks import HookRunner
from mnops_assets.engine.operation import FAILPOINTS_ENV, Failpoints, InjectedFault, Operation, break_lock
from mnops_assets.engine.plan import Action, Plan, Step, applied_record, desired_resources, drift_steps
from mnops_assets.engine.state import (
    LEASE_SECONDS,
    Actor,
    Lock,
    ResourceRecord,
    StateStore,
    StateUnavailable,
    Version,
)
from mnops_assets.engine.view import PlatformView, Unobservable, deployed_readers, deployed_views
from mnops_assets.engine.wiring import Wiring
from mnops_assets.estate.spec import PlatformSpec

# What moved to `operation` is still found here by older callers.
__all__ = [
    "FAILPOINTS_ENV",
    "DeployResult",
    "DriftReport",
    "Engine",
    "Failpoints",
    "HealthCheckFailed",
    "InjectedFault",
]


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
        lease_seconds: float = LEASE_SECONDS,
        hooks_cwd: Path | None = None,
        hooks_log: Path | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.store = store
        self.adapter_for = adapter_for
        self.actor = actor or Actor.current()
        self.failpoints = failpoints if failpoints is not None else Failpoints.from_env()
        self.lock_timeout = lock_timeout
        self.lease_seconds = lease_seconds
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

    def view(self, spec: PlatformSpec) -> PlatformView:
        """The platform as it stands: observed, its state rows, its last version (see `PlatformView`)."""
        with tracing.span("mnops.observe", platform=spec.name, provider=spec.provider) as current:
            view = PlatformView.observe(self.adapter_for(spec.provider), self.store, spec.name)
            current.set_attribute("mnops.resources", len(view.observed))
            return view

    def operation(self, platform: str, kind: str, *, wait: bool = False) -> Operation:
        """A change to `platform` under its lock, with its deploy row and audit events (see `Operation`)."""
        return Operation(
            self.store,
            self.actor,
            platform,
            kind,
            wait=wait,
            lock_timeout=self.lock_timeout,
            lease_seconds=self.lease_seconds,
            failpoints=self.failpoints,
        )

    # -- read-only ---------------------------------------------------------------------------------------------------

    def plan(self, spec: PlatformSpec) -> Plan:
        self.hooks.run(spec, "pre-plan", {"config_hash": spec.config_hash()})
        view = self.view(spec)
        return _planned(view, spec)

    def health(self, spec: PlatformSpec) -> dict[str, HealthReport]:
        """Every declared resource's health check, as it stands now."""
        view = self.view(spec)
        return self._health(spec, view.adapter, view.observed)

    def inspect(self, specs: Sequence[PlatformSpec]) -> dict[str, DriftReport]:
        """Observe deployed platforms and compare with their last applied state; no side effect at all.

        State is read in bulk (two queries however many platforms), so a drift sensor can judge a thousand in a tick.
        Platforms never deployed (or destroyed) are left out.
        """
        found: dict[str, DriftReport] = {}
        with tracing.span("mnops.drift_observation", platforms=len(specs)):
            views = deployed_views(self.store, self.adapter_for, specs)
        for spec in specs:
            view = views.get(spec.name)
            if view is None:
                continue
            if isinstance(view, Unobservable):
                found[spec.name] = DriftReport([], "", view.version.version, str(view))
                continue
            assert view.version is not None
            try:
                plan = view.plan(spec)
                reread = [s.name for s in drift_steps(plan) if s.current is not None and s.name in spec.resources]
                if reread:
                    # Bulk listings may lag (AWS's tagging API does): drift is what a direct read still shows.
                    view = view.reread(reread)
                    plan = view.plan(spec)
            except MnopsError as exc:
                # One platform that cannot be judged must not stop the judging of the others.
                found[spec.name] = DriftReport([], "", view.version.version, str(exc))
                continue
            found[spec.name] = DriftReport(drift_steps(plan), observed_hash(view.observed), view.version.version)
        return found

    def drift_scan(self, specs: Sequence[PlatformSpec]) -> dict[str, DriftReport | None]:
        """`inspect`, then answer what it found: drift is audited (`drift.detected`) and runs the on-drift hooks.

        Every spec's name is a key: None for a platform never deployed (or destroyed), a report with `error` for one
        that cannot be judged."""
        reports = self.inspect(specs)
        for spec in specs:
            report = reports.get(spec.name)
            if report is not None and report.error is None and report.steps:
                self.record_drift(spec, report)
        return {spec.name: reports.get(spec.name) for spec in specs}

    def drift(self, spec: PlatformSpec) -> list[Step]:
        """What changed outside mnops since the last apply (not what the YAML asks anew); audited and hooked."""
        return self.drift_many([spec]).get(spec.name, [])

    def drift_many(self, specs: Sequence[PlatformSpec]) -> dict[str, list[Step]]:
        """`drift_scan`'s steps of the deployed platforms; raises for the first one that cannot be judged."""
        found: dict[str, list[Step]] = {}
        for name, report in self.drift_scan(specs).items():
            if report is not None and report.error is not None:
                raise MnopsError(f"{name}: cannot be judged: {report.error}")
            if report is not None:
                found[name] = report.steps
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
        with tracing.span("mnops.deploy", platform=spec.name, provider=spec.provider, kind=kind) as current:
            with self.operation(spec.name, kind, wait=wait) as op:
                result = self._deploy(spec, op, note, force)
            current.set_attribute("mnops.changed", result.changed)
            current.set_attribute("mnops.steps", len(result.plan.steps))
            if result.version is not None:
                current.set_attribute("mnops.version", result.version.version)
            return result

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
        """Delete every resource of the platform, dependents first; refused for `protect: true`, and for a platform
        whose outputs deployed platforms read, unless forced."""
        if spec.protect and not force:
            raise ProtectedPlatform(spec.name)
        readers = deployed_readers(self.store, spec.name) if not force else []
        if readers:
            raise ProducerInUse(spec.name, readers)
        with (
            tracing.span("mnops.destroy", platform=spec.name, provider=spec.provider),
            self.operation(spec.name, "destroy", wait=wait) as op,
        ):
            view = self.view(spec)
            # The last applied spec orders the deletes; `spec` does, for what a crashed first deploy left.
            plan = view.plan(None, previous=spec)
            if not plan.changed and not view.state:
                return DeployResult(spec.name, None, plan, None)  # nothing deployed: nothing to record either
            op.start("", {"plan": plan.counts()})
            for number, step in enumerate(plan.steps, start=1):
                op.step(number, step, view.adapter)
            for name in self.store.resources(spec.name):
                self.store.drop_resource(spec.name, name)
            version = op.record_version(None, {}, "destroyed")
            op.succeed({"version": version.version})
            return DeployResult(spec.name, op.deploy_id, plan, version, audit_seqs=tuple(op.seqs))

    def import_platform(
        self, spec: PlatformSpec, *, dry_run: bool = False, wait: bool = False
    ) -> importing.ImportResult:
        """Adopt the resources of `spec` that exist at the provider into state, without making them again (see
        `importing`); a dry run only looks, so it takes no lock."""
        if dry_run:
            return importing.survey(spec, self.view(spec))
        with self.operation(spec.name, "import", wait=wait) as op:
            # Looked at under the lock: a deploy that finished meanwhile is seen, and refused or found in sync.
            return importing.adopt(spec, self.view(spec), op)

    def unlock(self, platform: str, *, force: bool = False) -> Lock | None:
        """Break `platform`'s lock if its lease ran out, or whoever holds it with `force`: its deploy is finished
        `crashed` ("lock broken by" this actor) and `lock.broken` audited. None when it was not locked; LockHeld
        (nothing broken) when the lease is fresh and `force` is not given."""
        while (holder := self.store.lock_of(platform)) is not None:
            if not force and not holder.expired():
                raise LockHeld(platform, holder.holder, holder.deploy_id, holder.expires_at)
            reason = f"lock broken by {self.actor}"
            if break_lock(self.store, self.actor, holder, status_reason=reason, event="lock.broken"):
                return holder
        return None

    # -- the deploy itself -------------------------------------------------------------------------------------------

    def _deploy(self, spec: PlatformSpec, op: Operation, note: str, force: bool) -> DeployResult:
        name = spec.name
        config_hash = spec.config_hash()
        if self.gate is not None:
            findings = self.gate(spec)
            if findings:
                self.audit("governance.refused", name, {"findings": findings, "config_hash": config_hash})
                raise GovernanceRefused(name, findings)
        self.hooks.run(spec, "pre-plan", {"config_hash": config_hash})
        view = self.view(spec)
        plan = _planned(view, spec)
        if not plan.changed:
            self._settle_state(spec, view.adapter, view.observed, view.state)
            return DeployResult(name, None, plan, None)

        destructive = [f"{s.action.value} {s.name}" for s in plan.steps if s.action in (Action.DELETE, Action.REPLACE)]
        if spec.protect and destructive and not force:
            self.audit("deploy.refused", name, {"config_hash": config_hash, "destructive": destructive})
            raise DestructiveChangeRefused(name, destructive)
        self.hooks.run(spec, "pre-apply", {"config_hash": config_hash, "plan": plan.to_dict()})
        op.start(config_hash, {"config_hash": config_hash, "plan": plan.to_dict()})
        adapter = view.adapter
        current = dict(view.observed)
        try:
            for number, step in enumerate(plan.steps, start=1):
                if step.action is not Action.DELETE:
                    op.step(number, step, adapter, current)
            health = self._health(spec, adapter, current)
            failures = {n: r for n, r in health.items() if not r.healthy}
            if failures:
                raise HealthCheckFailed(failures)
            for number, step in enumerate(plan.steps, start=1):
                if step.action is Action.DELETE:
                    op.step(number, step, adapter, current)
        except LeaseLost:
            raise  # someone else holds the platform now: no rollback behind their back; the next deploy converges
        except Exception as exc:
            try:
                op.failed(exc)
            except StateUnavailable:
                pass  # recording the failure failed: the rollback matters more, and is attempted all the same
            self.roll_back(view, op, exc)
            self.hooks.run(spec, "on-rollback", {"automatic": True, "deploy_id": op.deploy_id, "error": str(exc)})
            raise DeployFailed(name, str(exc), rolled_back=True) from exc

        self._settle_state(spec, adapter, current, self.store.resources(name))
        ids = {n: o.resource_id for n, o in current.items() if n in spec.resources}
        rows = self.store.resources(name)
        version = op.record_version(spec, ids, note, {n: rows[n].outputs for n in ids if n in rows})
        data = {"deploy_id": op.deploy_id, "version": version.version, "config_hash": config_hash, "note": note}
        op.succeed(data)
        self.hooks.run(spec, "post-apply", data)
        return DeployResult(name, op.deploy_id, plan, version, health, tuple(op.seqs))

    def _health(self, spec: PlatformSpec, adapter: Adapter, current: Mapping[str, Observed]) -> dict[str, HealthReport]:
        with tracing.span("mnops.health", platform=spec.name, resources=len(spec.resources)) as checked:
            reports = self._health_reports(spec, adapter, current)
            checked.set_attribute("mnops.unhealthy", sum(1 for r in reports.values() if not r.healthy))
            return reports

    def _health_reports(
        self, spec: PlatformSpec, adapter: Adapter, current: Mapping[str, Observed]
    ) -> dict[str, HealthReport]:
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

    def roll_back(self, before: PlatformView, op: Operation, cause: Exception) -> None:
        """Converge to the spec `before` had applied (nothing, on a first deploy) from whatever exists now."""
        with tracing.span("mnops.rollback", platform=before.platform):
            self._roll_back(before, op, cause)

    def _roll_back(self, before: PlatformView, op: Operation, cause: Exception) -> None:
        previous = before.previous
        target = "nothing" if previous is None else f"config {previous.config_hash()[:12]}"
        try:
            now = PlatformView.observe(before.adapter, self.store, before.platform)
            for number, step in enumerate(now.plan(previous).steps, start=1):
                op.step(number, step, before.adapter, undo=True)
        except Exception as exc:
            with contextlib.suppress(StateUnavailable):  # the store may be what failed: report the rollback's error
                op.finish("failed", f"{cause}; rollback failed: {exc}")
                op.audit("undo.failed", {"target": target, "error": str(exc)})
            raise DeployFailed(before.platform, str(cause), rolled_back=False, rollback_error=str(exc)) from exc
        if previous is not None:
            # Converged is not recovered: what the last good version runs must pass its health checks again.
            after = PlatformView.observe(before.adapter, self.store, before.platform)
            health = self._health(previous, before.adapter, after.observed)
            failures = {n: r for n, r in health.items() if not r.healthy}
            if failures:
                unhealthy = HealthCheckFailed(failures, "after rolling back")
                error = f"converged back to {target}, but the platform is not healthy: {unhealthy}"
                op.finish("failed", f"{cause}; {error}")
                op.audit("undo.failed", {"target": target, "error": str(unhealthy), "converged": True})
                raise DeployFailed(before.platform, str(cause), rolled_back=False, rollback_error=error)
        op.finish("rolled-back", str(cause))
        op.audit("undo.succeeded", {"target": target, "cause": str(cause)})

    def _settle_state(
        self, spec: PlatformSpec, adapter: Adapter, observed: Mapping[str, Observed], last: Mapping[str, ResourceRecord]
    ) -> None:
        """Make the last-applied state say what this spec applied, writing only rows that differ.

        A crash between a provider call and its state write leaves rows missing or stale; left so, a later change
        outside mnops would pass for a change in YAML.
        """
        wiring = Wiring(spec.name, adapter, observed, self.store.resources)
        for name, desired in desired_resources(spec, wiring).items():
            current = observed.get(name)
            if current is None:
                continue
            record = applied_record(adapter, desired, current)
            if last.get(name) != record:
                self.store.put_resource(record)
        for name in last:
            if name not in spec.resources and name not in observed:
                self.store.drop_resource(spec.name, name)

    def audit(self, kind: str, platform: str | None, data: dict[str, Any]) -> audit.AuditRecord:
        """Append one event to the audit trail, as this engine's actor."""
        return audit.record(self.store, kind, platform, data, self.actor)

    # -- housekeeping ------------------------------------------------------------------------------------------------

    def maintain(
        self, specs: Sequence[PlatformSpec], *, wait: bool = False
    ) -> dict[str, maintenance.MaintenanceResult]:
        """Housekeeping of the deployed platforms among `specs`: expiry, purges, rotation of secrets, and a restart of
        the services reading a rotated secret (see `maintenance`); a platform's failure is its result's `error`."""
        return maintenance.maintain(self, specs, wait=wait)


def _planned(view: PlatformView, spec: PlatformSpec) -> Plan:
    with tracing.span("mnops.plan", platform=spec.name) as current:
        plan = view.plan(spec)
        for action, count in plan.counts().items():
            current.set_attribute(f"mnops.{action}", count)
        return plan
