"""Audit export: every audit record, once committed, also goes to sinks outside the state store.

A sink is a JSON-lines file or an HTTP webhook receiving each event as CloudEvents JSON (structured mode), with the
record's place in the chain as extension attributes (`mnopsseq`, `mnopshash`, `mnopsprevhash`, `mnopssignature`), so
`mnops audit verify --against` can tell records removed from or altered in the store. Each sink has its own queue
and thread: a slow or failing sink never blocks or fails a deploy; it is retried with backoff, and what could not be
delivered is counted and reported when the process exits (after a bounded wait).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from contracts.errors import MnopsError
from mnops_assets.engine.audit import AuditRecord, records
from mnops_assets.engine.state import StateStore, redact

SINKS_ENV = "MNOPS_AUDIT_SINKS"
WAIT_ENV = "MNOPS_AUDIT_EXPORT_WAIT"
TOKEN_ENV = "MNOPS_AUDIT_WEBHOOK_TOKEN"
EXTENSIONS = ("mnopsseq", "mnopshash", "mnopsprevhash", "mnopssignature")
QUEUE_SIZE = 10_000


class SinkUnusable(MnopsError):
    """An audit sink named in ecosystem.yaml or MNOPS_AUDIT_SINKS cannot be used as written."""


def exported(rec: AuditRecord) -> dict[str, Any]:
    """The CloudEvent a sink receives: the stored event plus its place in the chain."""
    return {
        **rec.event,
        "mnopsseq": rec.seq,
        "mnopshash": rec.hash,
        "mnopsprevhash": rec.prev_hash,
        "mnopssignature": rec.signature,
    }


class Sink(Protocol):
    name: str

    def send(self, event: dict[str, Any]) -> None:
        """Deliver one event or raise."""


class FileSink:
    """Appends each event as one JSON line to a 0600 file (its folder made 0700)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"

    def send(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = (json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)  # one write with O_APPEND: lines of concurrent processes never interleave
        finally:
            os.close(fd)


class WebhookSink:
    """POSTs each event as `application/cloudevents+json`; any answer but 2xx is a failure to retry."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 5.0) -> None:
        self.url = url
        self.name = redact(url)
        self.token = token
        self.timeout = timeout

    def send(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, sort_keys=True).encode()
        request = urllib.request.Request(self.url, data=body, method="POST")
        request.add_header("Content-Type", "application/cloudevents+json; charset=utf-8")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) checked
                response.read()
        except urllib.error.HTTPError as exc:
            raise OSError(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise OSError(str(getattr(exc, "reason", exc))) from None


def make_sink(spec: str, base_dir: Path) -> Sink:
    """`file:PATH` (relative to the estate folder) or an `http(s)://` URL."""
    if spec.startswith(("http://", "https://")):
        return WebhookSink(spec, os.environ.get(TOKEN_ENV))
    if spec.startswith("file:"):
        path = Path(spec.removeprefix("file:")).expanduser()
        return FileSink(path if path.is_absolute() else base_dir / path)
    raise SinkUnusable(f"audit sink {redact(spec)!r}: use file:PATH or an http(s):// URL")


@dataclass
class SinkStats:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    """Events given up on after every attempt."""
    dropped: int = 0
    """Events never queued: the queue was full (the sink was down for a long time)."""
    last_error: str = ""


@dataclass
class _Worker:
    sink: Sink
    attempts: int
    backoff: float
    stats: SinkStats = field(default_factory=SinkStats)
    pending: queue.Queue[dict[str, Any]] = field(default_factory=lambda: queue.Queue(QUEUE_SIZE))

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"audit-export {self.sink.name}", daemon=True).start()

    def _run(self) -> None:
        while True:
            event = self.pending.get()
            try:
                self._deliver(event)
            finally:
                self.pending.task_done()

    def _deliver(self, event: dict[str, Any]) -> None:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                self.sink.send(event)
            except Exception as exc:  # noqa: BLE001 - a sink failure is counted, never raised into a deploy
                self.stats.last_error = f"{exc.__class__.__name__}: {exc}"
                if attempt == self.attempts:
                    self.stats.failed += 1
                    return
                self.stats.retried += 1
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
            else:
                self.stats.delivered += 1
                return


class Exporter:
    """Fans committed audit records out to sinks; register it in `StateStore.audit_listeners`."""

    def __init__(self, sinks: Iterable[Sink], *, attempts: int = 6, backoff: float = 0.25) -> None:
        self.workers = [_Worker(sink, attempts, backoff) for sink in sinks]
        for worker in self.workers:
            worker.start()

    def __call__(self, rec: AuditRecord) -> None:
        event = exported(rec)
        for worker in self.workers:
            try:
                worker.pending.put_nowait(event)
            except queue.Full:
                worker.stats.dropped += 1

    def stats(self) -> dict[str, SinkStats]:
        return {worker.sink.name: worker.stats for worker in self.workers}

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every queued event to be delivered or given up on; True if none is left."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            while worker.pending.unfinished_tasks:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)
        return True

    def undelivered(self) -> list[str]:
        """A sentence per sink that missed events (failed, dropped or still queued), naming the last error."""
        lines = []
        for worker in self.workers:
            stats, left = worker.stats, worker.pending.unfinished_tasks
            missed = stats.failed + stats.dropped + left
            if missed:
                reason = f" (last error: {stats.last_error})" if stats.last_error else ""
                lines.append(
                    f"audit export to {worker.sink.name}: {missed} event(s) not delivered ({stats.failed} failed, "
                    f"{stats.dropped} dropped, {left} still queued at exit){reason}"
                )
        return lines

    def close(self, timeout: float) -> None:
        """The bounded wait at process exit, then a report on stderr of whatever a sink missed."""
        self.flush(timeout)
        for line in self.undelivered():
            sys.stderr.write(f"warning: {line}\n")


_EXPORTERS: dict[tuple[str, ...], Exporter] = {}
_LOCK = threading.Lock()


def configured(ecosystem_sinks: Iterable[str]) -> list[str]:
    """Sink specs: ecosystem.yaml's `audit.sinks`, plus MNOPS_AUDIT_SINKS (whitespace-separated)."""
    return [*ecosystem_sinks, *os.environ.get(SINKS_ENV, "").split()]


def attach(store: StateStore, specs: list[str], base_dir: Path) -> Exporter | None:
    """Export `store`'s new audit records to `specs`: one exporter per process and set of sinks, closed at exit."""
    if not specs:
        return None
    key = (str(base_dir), *specs)
    with _LOCK:
        exporter = _EXPORTERS.get(key)
        if exporter is None:
            exporter = Exporter([make_sink(spec, base_dir) for spec in specs])
            _EXPORTERS[key] = exporter
            atexit.register(exporter.close, float(os.environ.get(WAIT_ENV) or 10))
    store.audit_listeners.append(exporter)
    return exporter


def read_sink(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The events in a JSON-lines sink file, and a note per line that is not one (a line cut by a crash)."""
    events, notes = [], []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise SinkUnusable(f"audit sink {path} cannot be read: {exc.strerror or exc.__class__.__name__}") from exc
    for number, line in enumerate(lines, 1):
        try:
            event = json.loads(line)
            if not isinstance(event, dict) or not isinstance(event.get("mnopsseq"), int):
                raise ValueError
        except ValueError:
            notes.append(f"{path}:{number}: not an exported audit event (skipped)")
            continue
        events.append(event)
    return events, notes


def compare(store: StateStore, sink_events: list[dict[str, Any]], sink_name: str) -> tuple[list[str], list[str]]:
    """(problems, notes): records the sink holds that the store lost or holds otherwise are problems; records the
    sink lacks are notes (exported after it was configured, or an export that failed and was reported)."""
    stored = {rec.seq: rec for rec in records(store)}
    problems, seen = [], set()
    for event in sink_events:
        seq = event["mnopsseq"]
        seen.add(seq)
        what = f"record {seq} ({event.get('type')}, {event.get('time')})"
        rec = stored.get(seq)
        if rec is None:
            problems.append(f"{what}: in {sink_name} but not in the store (removed)")
        elif rec.hash != event.get("mnopshash") or rec.event != {k: v for k, v in event.items() if k not in EXTENSIONS}:
            problems.append(f"{what}: the store's copy differs from {sink_name} (altered)")
    missing = sorted(set(stored) - seen)
    notes = []
    if missing:
        notes.append(
            f"{len(missing)} record(s) of the store are not in {sink_name} (seq {missing[0]} to {missing[-1]}): "
            "written before the sink was configured, or not delivered"
        )
    return problems, notes
