"""The audit trail: CloudEvents 1.0 records, hash-chained; verification catches altered, removed and cut records."""

from __future__ import annotations

import json

from sqlalchemy import delete, select, update

from mnops_assets.engine import audit
from mnops_assets.engine.state import Actor, audit_table

ME = Actor("alice", "host-a", 4242)


def three_events(store):
    return [audit.record(store, f"test.event{i}", "dev", {"n": i}, ME) for i in range(3)]


def test_events_are_cloudevents(store):
    rec = audit.record(store, "deploy.succeeded", "dev", {"version": 3}, ME)
    event = rec.event
    assert event["specversion"] == "1.0"
    assert event["type"] == "io.mnops.deploy.succeeded" and event["subject"] == "dev"
    assert event["source"] == "mnops://host-a/mnops" and event["datacontenttype"] == "application/json"
    assert {"id", "time"} <= set(event) and event["data"] == {
        "version": 3,
        "actor": "alice",
        "host": "host-a",
        "pid": 4242,
    }


def test_records_chain_and_verify(store):
    records = three_events(store)
    assert records[0].prev_hash == "0" * 64
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert audit.verify(store) == []
    assert [r.seq for r in audit.records(store, "dev")] == [r.seq for r in records]
    assert audit.records(store, "prod") == []


def test_an_altered_record_is_detected(store):
    records = three_events(store)
    event = dict(records[1].event, data={"n": 99, "actor": "mallory", "host": "host-a", "pid": 1})
    with store.engine.begin() as conn:
        conn.execute(update(audit_table).where(audit_table.c.seq == records[1].seq).values(event=json.dumps(event)))
    problems = audit.verify(store)
    assert problems == [f"record {records[1].seq} (io.mnops.test.event1): content does not match its hash (altered)"]


def test_a_removed_record_is_detected(store):
    records = three_events(store)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_table).where(audit_table.c.seq == records[1].seq))
    assert audit.verify(store) == [
        f"record {records[2].seq}: does not follow record {records[0].seq} (a record before it was removed or altered)"
    ]


def test_records_cut_from_the_end_are_detected(store):
    records = three_events(store)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_table).where(audit_table.c.seq == records[2].seq))
    [problem] = audit.verify(store)
    assert "removed from the end" in problem


def test_rehashing_an_altered_record_still_breaks_the_chain(store):
    records = three_events(store)
    event = dict(records[0].event, data={"n": 7, "actor": "mallory", "host": "x", "pid": 1})
    forged = audit.chain_hash(records[0].prev_hash, event)
    with store.engine.begin() as conn:
        conn.execute(
            update(audit_table).where(audit_table.c.seq == records[0].seq).values(event=json.dumps(event), hash=forged)
        )
        assert conn.scalar(select(audit_table.c.hash).where(audit_table.c.seq == records[0].seq)) == forged
    assert audit.verify(store) == [
        f"record {records[1].seq}: does not follow record {records[0].seq} (a record before it was removed or altered)"
    ]


def test_concurrent_appenders_never_fork_the_chain(state_url):
    import threading

    from mnops_assets.engine.state import StateStore

    stores = [StateStore(state_url) for _ in range(4)]  # four processes' worth of connection pools, opened at once
    errors: list[BaseException] = []

    def append(store, n):
        try:
            for i in range(10):
                audit.record(store, "test.concurrent", "dev", {"writer": n, "i": i}, ME)
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(store, n)) for n, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(audit.records(stores[0])) == 40 and audit.verify(stores[0]) == []
    for store in stores:
        store.close()


def test_a_removed_head_row_is_detected(store):
    three_events(store)
    from mnops_assets.engine.state import audit_head_table

    with store.engine.begin() as conn:
        conn.execute(delete(audit_head_table))
    assert audit.verify(store) == ["the audit head row is missing (records may have been removed from the end)"]
