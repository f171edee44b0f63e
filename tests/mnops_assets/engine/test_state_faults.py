"""State-store faults, real ones: PostgreSQL backends killed mid-statement (pg_terminate_backend) and row locks held by
another transaction, SQLite's write lock held by another process. Transient faults are tried again; waits are bounded
and say what waits on what; no SQL or parameters reach the user; a failure while recording a failure still rolls
back, and the deploy row is finished."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from mnops_assets.engine import audit
from mnops_assets.engine.apply import Failpoints
from mnops_assets.engine.errors import DeployFailed
from mnops_assets.engine.state import StateStore, StateUnavailable
from tests.conftest import POSTGRES_ADMIN_URL
from tests.faults.inject import kill_backend_when
from tests.mnops_assets.engine.platforms import ACTOR, make_engine, spec

SQL_WORDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "mnops_", "%(", "?")


@pytest.fixture
def pg_store(postgres_database) -> Iterator[StateStore]:
    store = StateStore(postgres_database, lock_timeout=0.5)
    yield store
    store.close()


@pytest.fixture
def admin() -> Iterator:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def test_a_dropped_connection_mid_deploy_is_tried_again_and_the_deploy_succeeds(pg_store, admin, adapter, tmp_path):
    killed = kill_backend_when(pg_store, admin, lambda sql, _: sql.startswith("INSERT INTO mnops_journal"), times=2)
    engine = make_engine(pg_store, adapter, tmp_path)
    result = engine.deploy(spec())
    assert len(killed) == 2 and result.version.version == 1
    [deploy] = pg_store.deploys("dev")
    assert deploy["status"] == "succeeded"
    assert [j["phase"] for j in pg_store.journal_of(deploy["id"])].count("done") == len(result.plan.steps)
    assert audit.verify(pg_store) == []


def test_a_failure_while_recording_a_failure_still_rolls_back_and_finishes_the_row(pg_store, admin, adapter, tmp_path):
    def failure_record(sql, parameters):
        return sql.startswith("INSERT INTO mnops_audit ") and "io.mnops.deploy.failed" in str(parameters)

    killed = kill_backend_when(pg_store, admin, failure_record, times=100)  # every try: the record cannot be written
    engine = make_engine(pg_store, adapter, tmp_path)
    engine.failpoints = Failpoints.parse("after:3=fail")
    with pytest.raises(DeployFailed, match="injected failure after step 3; rolled back") as failed:
        engine.deploy(spec())
    assert failed.value.rolled_back and len(killed) == 3  # tried three times, then the rollback went ahead
    assert adapter.observe("dev") == {} and pg_store.resources("dev") == {}  # half a first deploy: undone
    [deploy] = pg_store.deploys("dev")
    assert deploy["status"] == "rolled-back" and pg_store.lock_of("dev") is None
    assert "io.mnops.undo.succeeded" in [r.type for r in audit.records(pg_store, "dev")]


def test_a_held_row_lock_is_a_bounded_wait_that_names_it(pg_store, admin):
    audit.record(pg_store, "test.first", "dev", {}, ACTOR)
    url = pg_store.url
    holder = create_engine(url)
    try:
        with holder.connect() as other:
            other.execute(text("SELECT * FROM mnops_audit_head FOR UPDATE"))  # a transaction left open
            with pytest.raises(StateUnavailable) as waited:
                audit.record(pg_store, "test.second", "dev", {}, ACTOR)
            other.rollback()
    finally:
        holder.dispose()
    message = str(waited.value)
    assert "gave up after 0.5 s (lock_timeout) waiting for the audit head row" in message
    said = message.removeprefix(f"state store {url}: ")  # the database's own name aside
    assert "to append to the audit trail" in said and not [w for w in SQL_WORDS if w in said], message
    assert waited.value.__cause__ is None and waited.value.__suppress_context__  # no SQL in a traceback either
    assert audit.record(pg_store, "test.second", "dev", {}, ACTOR).seq == 2  # free again: it works


def test_sqlite_locked_past_its_busy_timeout_says_so_without_sql(tmp_path):
    path = tmp_path / "state.db"
    store = StateStore(f"sqlite:///{path}", busy_seconds=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the busy timeout
        with pytest.raises(StateUnavailable) as locked:
            store.start_deploy("d1", "dev", "deploy", "h", ACTOR)
        other.execute("ROLLBACK")
        message = str(locked.value)
        assert "waited 0.2 s (busy timeout) for another process's write lock" in message
        assert "to open the deploy row" in message and not [w for w in SQL_WORDS if w in message], message
        store.start_deploy("d1", "dev", "deploy", "h", ACTOR)
        assert [d["status"] for d in store.deploys("dev")] == ["running"]
    finally:
        other.close()
        store.close()
