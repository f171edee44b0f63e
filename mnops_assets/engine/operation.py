"""One change to a platform's deployed state (deploy, rollback, destroy, import), from taking its lock to finishing
its deploy row: the bookkeeping every kind of change shares, written once.

An `Operation` takes the platform's lock as a lease, renewed by a heartbeat thread while it holds it (a lock whose
lease ran out is stale, whatever its host or pid, and is broken), and once `start`ed
owns a deploy row and its audit events `<kind>.started`, `step.<action>` per step, then `<kind>.succeeded`. However
it ends the row is finished and the lock released: `failed` (audit `<kind>.failed`) on an error, `interrupted` (audit
`<kind>.interrupted`) on anything else that stops it, Ctrl-C and SIGTERM included. Only SIGKILL leaves a `running`
row, which the next operation's stale-lock handling marks `crashed`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import FrameType, TracebackType
from typing import Any, TypeVar

from adapters.base import Adapter, Observed
from contracts.errors import MnopsError
from mnops_assets.engine import audit, tracing
from mnops_assets.engine.errors import LeaseLost, PlatformLocked
from mnops_assets.engine.plan import Step, applied_record
from mnops_assets.engine.state import (
    LEASE_SECONDS,
    Actor,
    Lock,
    StateStore,
    StateUnavailable,
    Version,
    new_deploy_id,
)
from mnops_assets.engine.wiring import Wiring
from mnops_assets.estate.spec import PlatformSpec

FAILPOINTS_ENV = "MNOPS_FAILPOINTS"
LOCK_POLL_SECONDS = 0.2
DEFAULT_SLEEP_SECONDS = 60.0

T = TypeVar("T")


class InjectedFault(MnopsError):
    """Raised at a failpoint set in MNOPS_FAILPOINTS (resilience tests only)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived during an operation: it stops as Ctrl-C stops it, leaving its row `interrupted`."""


@dataclass(frozen=True)
class Failpoints:
    """Where to fail or die, for tests that prove recovery: `before:3=crash,after:2=fail` (steps count from 1).

    `crash` sends this process SIGKILL (nothing runs after it, as in a real crash); `fail` raises InjectedFault;
    `interrupt` raises KeyboardInterrupt, as Ctrl-C would; `sleep` (or `sleep:SECONDS`) waits there, so that a test
    can signal a process caught in the middle of a step.
    """

    points: Mapping[tuple[str, int], str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Failpoints:
        points = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            where, _, what = item.partition("=")
            moment, _, step = where.partition(":")
            action, _, seconds = what.partition(":")
            known = action in ("crash", "fail", "interrupt") and not seconds
            sleeps = action == "sleep" and (not seconds or seconds.replace(".", "", 1).isdigit())
            if moment not in ("before", "after") or not step.isdigit() or not (known or sleeps):
                raise MnopsError(
                    f"{FAILPOINTS_ENV}: {item!r} is not before|after:STEP=crash|fail|interrupt|sleep[:SECONDS]"
                )
            points[(moment, int(step))] = what
        return cls(points)

    @classmethod
    def from_env(cls) -> Failpoints:
        return cls.parse(os.environ.get(FAILPOINTS_ENV, ""))

    def hit(self, moment: str, step: int) -> None:
        what = self.points.get((moment, step))
        if what is None:
            return
        action, _, seconds = what.partition(":")
        if action == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "fail":
            raise InjectedFault(f"injected failure {moment} step {step}")
        if action == "interrupt":
            raise KeyboardInterrupt(f"injected interrupt {moment} step {step}")
        if action == "sleep":
            time.sleep(float(seconds or DEFAULT_SLEEP_SECONDS))


def break_lock(store: StateStore, actor: Actor, holder: Lock, *, status_reason: str, event: str) -> bool:
    """Release `holder`'s lock, finish its deploy row `crashed` (if it is still running) and audit `event`; False
    when the lock had already moved on (released or taken anew), so nothing was done."""
    if not store.release_lock(holder.platform, holder.deploy_id):
        return False
    store.finish_deploy(holder.deploy_id, "crashed", status_reason, only_if_running=True)
    data = {"deploy_id": holder.deploy_id, "holder": holder.holder, "since": holder.acquired_at}
    audit.record(store, event, holder.platform, data, actor)
    return True


class Heartbeat:
    """Renews an operation's lease every third of its length, in a daemon thread, until stopped. A renewal the store
    refuses (the lock was broken) marks the lease `lost`; one that fails (the store unreachable) is tried again at the
    next beat, and the lease runs out if the store stays away."""

    def __init__(self, store: StateStore, platform: str, deploy_id: str, lease_seconds: float) -> None:
        self.store = store
        self.platform = platform
        self.deploy_id = deploy_id
        self.lease_seconds = lease_seconds
        self.lost = False
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mnops-lease-{platform}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                renewed = self.store.renew_lock(self.platform, self.deploy_id, self.lease_seconds)
            except Exception:  # noqa: BLE001 - the store may come back before the lease runs out; try at the next beat
                continue
            if renewed is None:
                self.lost = True
                return
            self.renewals += 1


class Operation:
    """A context manager: `with Operation(...) as op:` holds the platform's lock; `op.start` opens the deploy row."""

    def __init__(
        self,
        store: StateStore,
        actor: Actor,
        platform: str,
        kind: str,
        *,
        wait: bool = False,
        lock_timeout: float = 600.0,
        lease_seconds: float = LEASE_SECONDS,
        failpoints: Failpoints | None = None,
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.actor = actor
        self.platform = platform
        self.kind = kind
        self.wait = wait
        self.lock_timeout = lock_timeout
        self.failpoints = failpoints if failpoints is not None else Failpoints()
        self.deploy_id = new_deploy_id()
        self.seqs: list[int] = []
        """The audit records this operation wrote, in order (a deploy result's `audit_seqs`)."""
        self.started = False
        self.finished = False
        self._failure_audited = False
        self._sigterm: Any = None
        self.heartbeat: Heartbeat | None = None

    # -- the lock ----------------------------------------------------------------------------------------------------

    def __enter__(self) -> Operation:
        with tracing.span("mnops.lock", platform=self.platform, wait=self.wait):
            self._take_lock()
        self.heartbeat = Heartbeat(self.store, self.platform, self.deploy_id, self.lease_seconds)
        self.heartbeat.start()
        self._catch_sigterm()
        return self

    def _take_lock(self) -> None:
        deadline = time.monotonic() + self.lock_timeout
        while True:
            holder = self.store.try_lock(self.platform, self.deploy_id, self.actor, self.lease_seconds)
            if holder is None:
                break
            if holder.deploy_id and holder.expired():
                reason = f"the lease of {holder.holder} expired at {holder.expires_at} without being renewed"
                break_lock(self.store, self.actor, holder, status_reason=reason, event="deploy.crashed")
                continue
            if not self.wait or time.monotonic() > deadline:
                raise PlatformLocked(
                    self.platform, holder.holder, holder.acquired_at, holder.deploy_id, holder.expires_at
                )
            time.sleep(LOCK_POLL_SECONDS)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if exc is not None and self.started and not self.finished:
                if isinstance(exc, Exception):
                    self.fail(exc)
                else:
                    # Stopped by a person or a supervisor: no rollback behind their back; the next deploy converges.
                    self.finish("interrupted", "interrupted")
                    self.audit(f"{self.kind}.interrupted", {"reason": type(exc).__name__})
        except StateUnavailable:
            if exc is None:
                raise
            # The store failed while this failure was being recorded (each write tried again already): the error
            # that stopped the operation is the one to report; the row is marked crashed when the lease runs out.
        finally:
            self._restore_sigterm()
            if self.heartbeat is not None:
                self.heartbeat.stop()
            try:
                self.store.release_lock(self.platform, self.deploy_id)
            except StateUnavailable:
                if exc is None:
                    raise
                # Unreleased, the lock's lease runs out by itself: the original error is the one to report.

    def _catch_sigterm(self) -> None:
        """Turn SIGTERM into an exception while the lock is held, so the row and the lock are put right; only where
        nobody else handles it (a Dagster run worker does) and only in the main thread (Python's rule)."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        self._sigterm = signal.signal(signal.SIGTERM, _raise_terminated)

    def _restore_sigterm(self) -> None:
        if self._sigterm is not None:
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None

    # -- the deploy row and its audit events -------------------------------------------------------------------------

    def audit(self, event: str, data: Mapping[str, Any]) -> int:
        """Append `event` for this operation's platform (the deploy id added); return its sequence number."""
        record = audit.record(self.store, event, self.platform, {"deploy_id": self.deploy_id, **data}, self.actor)
        self.seqs.append(record.seq)
        return record.seq

    def start(self, config_hash: str, data: Mapping[str, Any]) -> None:
        """Open the deploy row (`running`) and audit `<kind>.started` with `data`."""
        self.store.start_deploy(self.deploy_id, self.platform, self.kind, config_hash, self.actor)
        self.started = True
        self.audit(f"{self.kind}.started", data)

    def failed(self, error: BaseException) -> None:
        """Audit `<kind>.failed`, leaving the row open for what the caller does about it (a deploy rolls back)."""
        self.audit(f"{self.kind}.failed", {"error": str(error)})
        self._failure_audited = True

    def fail(self, error: BaseException) -> None:
        """Finish the row `failed` and audit `<kind>.failed`, unless `failed` did already; the row first, so that
        it is finished even if the audit cannot be written."""
        self.finish("failed", str(error))
        if not self._failure_audited:
            self.failed(error)

    def finish(self, status: str, error: str | None = None) -> None:
        self.store.finish_deploy(self.deploy_id, status, error)
        self.finished = True

    def succeed(self, data: Mapping[str, Any]) -> None:
        self.finish("succeeded")
        self.audit(f"{self.kind}.succeeded", data)

    def record_version(
        self,
        spec: PlatformSpec | None,
        resources: Mapping[str, str],
        note: str,
        outputs: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Version:
        """A new version of the platform: `spec` as applied (None: nothing, after a destroy), its resource ids and
        their outputs."""
        if spec is None:
            return self.store.record_version(self.platform, "", {}, {}, {}, self.deploy_id, self.actor, note)
        return self.store.record_version(
            self.platform,
            spec.config_hash(),
            spec.model_dump(mode="json", by_alias=True),
            spec.contract_versions(),
            dict(sorted(resources.items())),
            self.deploy_id,
            self.actor,
            note,
            {name: dict(found) for name, found in sorted((outputs or {}).items())},
        )

    # -- steps -------------------------------------------------------------------------------------------------------

    def step(
        self,
        number: int,
        step: Step,
        adapter: Adapter,
        current: dict[str, Observed] | None = None,
        *,
        undo: bool = False,
    ) -> Observed | None:
        """Apply one step, journalled before and after, its state row written as soon as it is done and audited as
        `step.<action>`; `current` (what exists, by name) follows. Undo steps (a rollback's) are journalled as such
        and pass no failpoint: recovery itself is not under test."""
        if step.desired is not None and step.source is not None and step.source.references():
            wiring = Wiring(self.platform, adapter, current or {}, self.store.resources)
            step = replace(step, desired=replace(step.desired, spec=wiring.settle(step.name, step.source)))
        attributes = {"platform": self.platform, "resource": step.name, "action": step.action.value, "undo": undo}
        with tracing.span("mnops.apply", contract=step.contract, **attributes):
            result = self._journalled(number, step.action.value, step.name, lambda: step.apply(adapter), undo=undo)
        if result is None or step.desired is None:
            self.store.drop_resource(self.platform, step.name)
            if current is not None:
                current.pop(step.name, None)
        else:
            self.store.put_resource(applied_record(adapter, step.desired, result))
            if current is not None:
                current[step.name] = result
        self._journal(number, step.action.value, step.name, "undo-done" if undo else "done")
        self.audit(f"step.{step.action.value}", {"step": number, "undo": undo, **step.to_dict()})
        return result

    def journalled(self, number: int, action: str, resource: str, call: Callable[[], T]) -> T:
        """Run `call` as step `number` of the journal (an import's tagging), under the same failpoints as steps."""
        result = self._journalled(number, action, resource, call, undo=False)
        self._journal(number, action, resource, "done")
        return result

    def _journalled(self, number: int, action: str, resource: str, call: Callable[[], T], *, undo: bool) -> T:
        phase = "undo-" if undo else ""
        failpoints = Failpoints() if undo else self.failpoints
        if self.heartbeat is not None and self.heartbeat.lost and not undo:
            # Someone broke this lock: another deploy may be running now. Change nothing more.
            raise LeaseLost(self.platform, self.deploy_id)
        self._journal(number, action, resource, f"{phase}started")
        try:
            failpoints.hit("before", number)
            result = call()
            failpoints.hit("after", number)
        except BaseException as exc:
            self._journal(number, action, resource, f"{phase}failed", str(exc) or type(exc).__name__)
            raise
        return result

    def _journal(self, number: int, action: str, resource: str, phase: str, detail: str = "") -> None:
        self.store.journal(self.deploy_id, self.platform, number, action, resource, phase, detail)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signal.Signals(signum).name}")
