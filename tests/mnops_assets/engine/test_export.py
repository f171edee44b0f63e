"""Audit export: every record reaches a JSON-lines file and a real HTTP webhook on loopback, retried, never blocking;
`compare` tells records removed from or altered in the store by what a sink holds."""

from __future__ import annotations

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import delete, update

from mnops_assets.engine import audit, export
from mnops_assets.engine.state import Actor, audit_table

ME = Actor("alice", "host-a", 4242)


class Receiver(ThreadingHTTPServer):
    """A webhook receiver: keeps what it accepts; answers 500 to the next `fail_next` requests."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict]] = []
        self.fail_next = 0
        self.failed = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/events"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            failing = self.server.fail_next > 0
            if failing:
                self.server.fail_next -= 1
                self.server.failed += 1
            else:
                self.server.received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(500 if failing else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook(receiver):
    receiver.received.clear()
    receiver.fail_next = receiver.failed = 0
    return receiver


def attach(store, *sinks, attempts=6):
    exporter = export.Exporter(sinks, attempts=attempts, backoff=0.05)
    store.audit_listeners.append(exporter)
    return exporter


def test_every_event_reaches_a_file_and_a_webhook(store, webhook, tmp_path):
    exporter = attach(store, export.FileSink(tmp_path / "audit" / "events.jsonl"), export.WebhookSink(webhook.url))
    written = [audit.record(store, f"test.event{i}", "dev", {"n": i}, ME) for i in range(3)]
    assert exporter.flush(10)
    lines = [json.loads(line) for line in (tmp_path / "audit" / "events.jsonl").read_text().splitlines()]
    assert lines == [export.exported(rec) for rec in written]
    assert [event for _, event in webhook.received] == lines
    assert {kind for kind, _ in webhook.received} == {"application/cloudevents+json; charset=utf-8"}
    assert lines[0]["specversion"] == "1.0" and lines[0]["mnopsseq"] == written[0].seq
    assert (tmp_path / "audit" / "events.jsonl").stat().st_mode & 0o777 == 0o600
    assert exporter.undelivered() == []


def test_a_webhook_failing_first_then_recovering_receives_every_event(store, webhook):
    webhook.fail_next = 3
    exporter = attach(store, export.WebhookSink(webhook.url))
    written = [audit.record(store, "test.retry", "dev", {"n": i}, ME) for i in range(2)]
    assert exporter.flush(10)
    assert webhook.failed == 3
    assert [event["mnopsseq"] for _, event in webhook.received] == [rec.seq for rec in written]
    stats = exporter.stats()[webhook.url]
    assert (stats.delivered, stats.retried, stats.failed) == (2, 3, 0)


def test_a_dead_sink_neither_blocks_nor_fails_recording_and_is_reported(store):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    exporter = attach(store, export.WebhookSink(f"http://127.0.0.1:{port}/"), attempts=2)
    written = [audit.record(store, "test.unheard", "dev", {}, ME) for _ in range(2)]
    assert [rec.seq for rec in audit.records(store)] == [rec.seq for rec in written]
    assert exporter.flush(10)
    stats = exporter.stats()[f"http://127.0.0.1:{port}/"]
    assert (stats.delivered, stats.failed, stats.retried) == (0, 2, 2)
    [line] = exporter.undelivered()
    assert line.startswith(f"audit export to http://127.0.0.1:{port}/: 2 event(s) not delivered (2 failed, 0 dropped")


def test_comparing_with_a_sink_finds_removed_and_altered_records(store, tmp_path):
    sink = tmp_path / "events.jsonl"
    exporter = attach(store, export.FileSink(sink))
    written = [audit.record(store, f"test.event{i}", "dev", {"n": i}, ME) for i in range(3)]
    assert exporter.flush(10)
    events, notes = export.read_sink(sink)
    assert export.compare(store, events, "sink") == ([], []) and notes == []
    with store.engine.begin() as conn:
        conn.execute(delete(audit_table).where(audit_table.c.seq == written[0].seq))
        forged = dict(written[2].event, data={**written[2].event["data"], "actor": "mallory"})
        conn.execute(update(audit_table).where(audit_table.c.seq == written[2].seq).values(event=json.dumps(forged)))
    problems, _ = export.compare(store, events, "sink")
    assert problems == [
        f"record {written[0].seq} (io.mnops.test.event0, {written[0].event['time']}): in sink but not in the store "
        "(removed)",
        f"record {written[2].seq} (io.mnops.test.event2, {written[2].event['time']}): the store's copy differs from "
        "sink (altered)",
    ]


def test_records_a_sink_lacks_and_cut_lines_are_notes(store, tmp_path):
    written = [audit.record(store, "test.before", "dev", {}, ME) for _ in range(2)]
    sink = tmp_path / "events.jsonl"
    sink.write_text(json.dumps(export.exported(written[1])) + '\n{"specversion": "1.0", "id\n')
    events, notes = export.read_sink(sink)
    assert notes == [f"{sink}:2: not an exported audit event (skipped)"]
    assert export.compare(store, events, "sink") == (
        [],
        [
            f"1 record(s) of the store are not in sink (seq {written[0].seq} to {written[0].seq}): written before the "
            "sink was configured, or not delivered"
        ],
    )


def test_sink_forms(tmp_path):
    assert isinstance(export.make_sink("file:events.jsonl", tmp_path), export.FileSink)
    assert export.make_sink("https://u:pw@example.test/x", tmp_path).name == "https://u:***@example.test/x"
    with pytest.raises(export.SinkUnusable, match="use file:PATH or an http"):
        export.make_sink("ftp://example.test/x", tmp_path)


def test_at_exit_the_wait_is_bounded_and_what_was_missed_is_reported(tmp_path):
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = f"""
from pathlib import Path
from mnops_assets.engine import audit, export
from mnops_assets.engine.state import Actor, StateStore
store = StateStore("sqlite:///{tmp_path / "state.db"}")
export.attach(store, ["http://127.0.0.1:{port}/"], Path("{tmp_path}"))
audit.record(store, "test.exit", None, {{}}, Actor("alice", "host-a", 1))
print("deployed")
"""
    env = {**os.environ, export.WAIT_ENV: "0.5"}
    run = [sys.executable, "-c", script]
    done = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout == "deployed\n"
    assert done.stderr.startswith(f"warning: audit export to http://127.0.0.1:{port}/: 1 event(s) not delivered (")
