"""queue/v1 on the local provider: at-least-once delivery with visibility timeouts, retention, dead letters, FIFO."""

from __future__ import annotations

import sqlite3

import pytest

from adapters.base import AdapterError, ResourceKey, Upkeep
from adapters.local.adapter import LocalAdapter
from tests.adapters.conformance import CountingDriver, plan_and_apply

KEY = ResourceKey("dev", "jobs")


def queue(adapter, desired, **fields):
    adapter.queue.create(desired("jobs", {"contract": "queue/v1", **fields}))
    return adapter.queue


def test_a_message_is_received_then_deleted(adapter, desired):
    q = queue(adapter, desired)
    sent = q.send_message(KEY, "resize image 42")
    [message] = q.receive_messages(KEY)
    assert (message.id, message.body, message.receives) == (sent, b"resize image 42", 1)
    assert q.delete_message(KEY, message.receipt)
    assert q.counts(KEY) == {"visible": 0, "in_flight": 0, "dead_letter": 0}


def test_an_undeleted_message_comes_back_after_the_visibility_timeout(adapter, desired, clock):
    q = queue(adapter, desired, visibility_timeout_seconds=30)
    q.send_message(KEY, "job")
    [first] = q.receive_messages(KEY)
    assert q.receive_messages(KEY) == []
    assert q.counts(KEY)["in_flight"] == 1
    clock.advance(31)
    [again] = q.receive_messages(KEY)
    assert again.id == first.id and again.receives == 2
    assert not q.delete_message(KEY, first.receipt), "a stale receipt must not delete the redelivered message"
    assert q.delete_message(KEY, again.receipt)


def test_messages_older_than_the_retention_are_purged(adapter, desired, clock):
    q = queue(adapter, desired, retention_seconds=60)
    q.send_message(KEY, "old")
    clock.advance(30)
    q.send_message(KEY, "new")
    clock.advance(31)
    assert q.maintain(KEY) == Upkeep(removed=1)
    assert [m.body for m in q.receive_messages(KEY, max_messages=10)] == [b"new"]


def test_a_message_received_too_often_moves_to_the_dead_letter_queue(adapter, desired):
    q = queue(adapter, desired, dead_letter={"max_receives": 2})
    q.send_message(KEY, "poison")
    q.send_message(KEY, "fine")
    for _ in range(2):
        [poison, _] = q.receive_messages(KEY, max_messages=2, visibility_timeout=0)
        assert poison.body == b"poison"
    assert [m.body for m in q.receive_messages(KEY, max_messages=5, visibility_timeout=0)] == []
    assert q.counts(KEY)["dead_letter"] == 2
    dead = q.receive_messages(KEY, max_messages=5, dead_letter=True)
    assert [m.body for m in dead] == [b"poison", b"fine"]
    assert all(q.delete_message(KEY, m.receipt) for m in dead)


def test_without_a_dead_letter_queue_failed_messages_cycle(adapter, desired):
    q = queue(adapter, desired)
    q.send_message(KEY, "again and again")
    for attempt in range(1, 8):
        [message] = q.receive_messages(KEY, visibility_timeout=0)
        assert message.receives == attempt


def test_a_fifo_queue_delivers_in_order_and_holds_back_behind_an_in_flight_message(adapter, desired, clock):
    q = queue(adapter, desired, fifo=True, visibility_timeout_seconds=10)
    for n in range(5):
        q.send_message(KEY, f"step {n}")
    assert [m.body for m in q.receive_messages(KEY, max_messages=2)] == [b"step 0", b"step 1"]
    assert q.receive_messages(KEY) == [], "nothing may overtake an in-flight message"
    clock.advance(11)
    batch = q.receive_messages(KEY, max_messages=10)
    assert [m.body for m in batch] == [f"step {n}".encode() for n in range(5)]


def test_a_standard_queue_delivers_around_an_in_flight_message(adapter, desired):
    q = queue(adapter, desired, fifo=False)
    q.send_message(KEY, "a")
    q.send_message(KEY, "b")
    assert [m.body for m in q.receive_messages(KEY)] == [b"a"]
    assert [m.body for m in q.receive_messages(KEY)] == [b"b"]


def test_a_deduplication_id_is_enqueued_once(adapter, desired, clock):
    q = queue(adapter, desired, fifo=True)
    first = q.send_message(KEY, "charge card", deduplication_id="order-7")
    assert q.send_message(KEY, "charge card", deduplication_id="order-7") == first
    clock.advance(301)
    assert q.send_message(KEY, "charge card", deduplication_id="order-7") != first


def test_encrypted_bodies_are_not_plaintext_in_the_database(adapter, desired):
    q = queue(adapter, desired, encrypted=True)
    q.send_message(KEY, "ssn 078-05-1120")
    folder = adapter.root / "queue" / "dev" / "jobs"
    for path in folder.iterdir():
        assert b"078-05-1120" not in path.read_bytes(), path
    assert q.receive_messages(KEY)[0].body == b"ssn 078-05-1120"


def test_messages_survive_a_new_adapter_on_the_same_root(adapter, desired, master_key):
    queue(adapter, desired).send_message(KEY, "durable")
    again = LocalAdapter(adapter.root, master_key)
    assert again.queue.receive_messages(KEY)[0].body == b"durable"


def test_the_database_runs_in_wal_mode(adapter, desired):
    queue(adapter, desired)
    with sqlite3.connect(adapter.root / "queue" / "dev" / "jobs" / "queue.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_fifo_cannot_change_in_place_so_a_plan_replaces_the_queue(adapter, desired):
    q = queue(adapter, desired, fifo=False)
    [current] = q.observe("dev")
    fifo = desired("jobs", {"contract": "queue/v1", "fifo": True})
    with pytest.raises(AdapterError, match="fifo cannot change in place"):
        q.update(fifo, current)
    counting = CountingDriver(q)
    plan_and_apply(counting, fifo)
    assert [name for name, _ in counting.writes] == ["delete", "create"]
    assert q.observe("dev")[0].fields["fifo"] is True


def test_a_missing_database_is_an_error_not_a_new_queue(adapter, desired):
    q = queue(adapter, desired)
    (adapter.root / "queue" / "dev" / "jobs" / "queue.db").unlink()
    with pytest.raises(AdapterError, match="queue database is missing"):
        q.send_message(KEY, "lost")
    assert not q.health(q.observe("dev")[0]).healthy
