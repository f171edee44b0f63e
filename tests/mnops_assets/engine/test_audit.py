"""The audit trail: CloudEvents 1.0 records, hash-chained; verification catches altered, removed and cut records."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, update

from mnops_assets.engine import audit
from mnops_assets.engine.state import Actor, StateStore, audit_head_table, audit_table
from tests.mnops_assets.engine.conftest import AUDIT_KEY

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
        f"record {records[0].seq} (io.mnops.test.event0): signature does not match (altered and re-hashed, or signed "
        "with another audit key)",
        f"record {records[1].seq}: does not follow record {records[0].seq} (a record before it was removed or altered)",
    ]


def test_concurrent_appenders_never_fork_the_chain(state_url):
    import threading

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

    with store.engine.begin() as conn:
        conn.execute(delete(audit_head_table))
    assert audit.verify(store) == ["the audit head row is missing (records may have been removed from the end)"]


def rewrite_chain(store, records_left):
    """What someone with write access to the database can do: rewrite records and recompute every hash and the head."""
    prev = "0" * 64
    with store.engine.begin() as conn:
        for rec in records_left:
            digest = audit.chain_hash(prev, rec.event)
            conn.execute(
                update(audit_table)
                .where(audit_table.c.seq == rec.seq)
                .values(event=json.dumps(rec.event, sort_keys=True), prev_hash=prev, hash=digest)
            )
            prev = digest
        conn.execute(update(audit_head_table).values(seq=records_left[-1].seq, hash=prev))


def test_deleting_a_record_changing_an_actor_and_recomputing_the_chain_fails_verify(store):
    records = [audit.record(store, "governance.refused", "prod", {"n": 0}, ME)]
    records += three_events(store)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_table).where(audit_table.c.seq == records[0].seq))
    forged = dict(records[2].event, data={**records[2].event["data"], "actor": "mallory"})
    kept = [records[1], audit.AuditRecord(records[2].seq, "dev", records[2].type, forged, "", ""), records[3]]
    rewrite_chain(store, kept)
    problems = audit.verify(store)
    assert [p.split(":")[0] for p in problems] == [f"record {r.seq} ({r.type})" for r in kept] + [
        "the audit head's signature does not match (moved by hand, or signed with another audit key)"
    ]
    assert all("signature does not match" in p for p in problems)


def test_moving_the_head_back_over_cut_records_fails_verify(store):
    records = three_events(store)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_table).where(audit_table.c.seq == records[2].seq))
        conn.execute(update(audit_head_table).values(seq=records[1].seq, hash=records[1].hash))
    assert audit.verify(store) == [
        "the audit head's signature does not match (moved by hand, or signed with another audit key)"
    ]


def test_stripping_signatures_after_signed_records_fails_verify(store):
    records = three_events(store)
    with store.engine.begin() as conn:
        conn.execute(update(audit_table).where(audit_table.c.seq == records[2].seq).values(signature=None))
        conn.execute(update(audit_head_table).values(signature=None))
    assert audit.verify(store) == [
        f"record {records[2].seq} (io.mnops.test.event2): unsigned after signed records (inserted or altered)",
        "the audit head is unsigned over signed records (moved back by hand)",
    ]


def test_another_key_does_not_verify(store):
    three_events(store)
    other = StateStore(store.url, audit_key=b"k" * 32)
    try:
        problems = audit.verify(other)
    finally:
        other.close()
    assert len(problems) == 4 and all("another audit key" in p for p in problems)


def test_records_of_an_older_unsigned_store_verify_as_unsigned_before(state_url):
    older = StateStore(state_url)  # a store written before signing: no key
    unsigned = [audit.record(older, "test.old", "dev", {"i": i}, ME) for i in range(2)]
    older.close()
    assert all(r.signature is None for r in unsigned)
    store = StateStore(state_url, audit_key=AUDIT_KEY)
    try:
        before = audit.check(store)
        assert before.problems == [] and before.unsigned_before == unsigned[-1].seq + 1
        signed = audit.record(store, "test.new", "dev", {}, ME)
        found = audit.check(store)
        assert found.problems == [] and found.count == 3
        assert found.unsigned_before == signed.seq
        assert found.notes == [
            f"records before seq {signed.seq} are unsigned: written before audit signing, protected by the hash "
            "chain only"
        ]
    finally:
        store.close()


def test_the_key_file_is_made_once_private_and_whole(tmp_path, monkeypatch):
    import stat
    import threading

    monkeypatch.delenv(audit.KEY_ENV, raising=False)
    home = tmp_path / "home"
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(audit.load_key(home))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE((home / "audit.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert sorted(p.name for p in home.iterdir()) == ["audit.key"]  # no drafts left behind


def test_the_key_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(audit.KEY_ENV, "ab" * 32)
    assert audit.load_key(tmp_path) == bytes([0xAB] * 32)
    assert not (tmp_path / "audit.key").exists()
    monkeypatch.setenv(audit.KEY_ENV, "too-short-secret")
    with pytest.raises(audit.AuditKeyUnusable) as caught:
        audit.load_key(tmp_path)
    assert "too-short-secret" not in str(caught.value)


def test_a_signed_store_never_gets_a_new_key_made_for_it(store, tmp_path, monkeypatch):
    monkeypatch.delenv(audit.KEY_ENV, raising=False)
    assert not audit.is_signed(store)
    three_events(store)
    assert audit.is_signed(store)
    with pytest.raises(audit.AuditKeyUnusable, match="the audit trail is signed, but there is no audit key here"):
        audit.load_key(tmp_path / "elsewhere", create=False)
    assert not (tmp_path / "elsewhere").exists()
