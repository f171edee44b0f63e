"""The bookkeeping every change shares (lock, deploy row, audit, journal, version) on the real local provider:
interrupted changes leave no running row and no lock, unlock, drift scans, hook-only changes, the rows steps write.
Runs on SQLite and PostgreSQL state alike."""

from __future__ import annotations

import copy
import re

import pytest

from adapters.local import testing
from contracts.errors import MnopsError
from mnops_assets.engine import audit
from mnops_assets.engine.apply import Engine, Failpoints
from mnops_assets.engine.errors import LockHeld
from mnops_assets.engine.plan import applied_record, desired_resources
from mnops_assets.engine.state import Actor
from mnops_assets.estate.spec import PlatformSpec
from tests.mnops_assets.engine.platforms import ACTOR, BASE, spec


def types(engine: Engine, platform: str = "dev") -> list[str]:
    return [r.type.removeprefix("io.mnops.") for r in audit.records(engine.store, platform)]


def test_failpoints_read_interrupt_and_sleep_and_refuse_anything_else():
    points = Failpoints.parse("before:1=interrupt,after:2=sleep:0.5,before:3=sleep")
    assert dict(points.points) == {("before", 1): "interrupt", ("after", 2): "sleep:0.5", ("before", 3): "sleep"}
    with pytest.raises(KeyboardInterrupt):
        points.hit("before", 1)
    for bad in ("before:1=sleep:soon", "before:1=interrupt:2", "during:1=fail"):
        with pytest.raises(MnopsError, match="MNOPS_FAILPOINTS"):
            Failpoints.parse(bad)


def test_an_interrupted_destroy_leaves_no_running_deploy_and_no_lock(engine, adapter):
    engine.deploy(spec())
    engine.failpoints = Failpoints.parse("before:2=interrupt")
    with pytest.raises(KeyboardInterrupt):
        engine.destroy(spec())
    [destroy] = [d for d in engine.store.deploys("dev") if d["kind"] == "destroy"]
    assert (destroy["status"], destroy["error"]) == ("interrupted", "interrupted")
    assert engine.store.lock_of("dev") is None
    assert types(engine)[-2:] == ["step.delete", "destroy.interrupted"]
    assert engine.store.journal_of(destroy["id"])[-1]["phase"] == "failed"
    engine.failpoints = Failpoints()
    assert engine.destroy(spec()).version.note == "destroyed" and adapter.observe("dev") == {}


def test_an_interrupted_deploy_leaves_no_running_deploy_and_no_lock(engine, adapter):
    engine.failpoints = Failpoints.parse("before:4=interrupt")
    with pytest.raises(KeyboardInterrupt):
        engine.deploy(spec())
    [deploy] = engine.store.deploys("dev")
    assert deploy["status"] == "interrupted" and engine.store.lock_of("dev") is None
    assert types(engine)[-1] == "deploy.interrupted" and "deploy.failed" not in types(engine)
    assert len(adapter.observe("dev")) == 3  # no rollback behind the person's back: the next deploy converges
    engine.failpoints = Failpoints()
    assert engine.deploy(spec()).version.version == 1


def test_a_state_row_written_by_a_step_equals_the_one_settle_would_write(engine, adapter):
    muted = spec(drift={"ignore": ["jobs.retention_seconds"]})
    engine.failpoints = Failpoints.parse("before:4=interrupt")  # three steps done, settle never reached
    with pytest.raises(KeyboardInterrupt):
        engine.deploy(muted)
    by_steps = engine.store.resources("dev")
    observed = adapter.observe("dev")
    assert len(by_steps) == 3
    desired = desired_resources(muted)
    assert by_steps == {name: applied_record(adapter, desired[name], observed[name]) for name in by_steps}
    engine.failpoints = Failpoints()
    engine.deploy(muted)  # settles every row
    settled = engine.store.resources("dev")
    assert {name: settled[name] for name in by_steps} == by_steps


def test_a_hook_only_change_is_a_change_and_deploy_records_a_version(engine):
    engine.deploy(spec())
    hooked = spec(hooks={"notify": {"events": ["post-apply"], "command": ["python", "-c", "pass"]}})
    plan = engine.plan(hooked)
    assert plan.steps == () and plan.config_changed and plan.changed
    assert plan.to_dict()["config_changed"] is True and plan.to_dict()["changed"] is True
    result = engine.deploy(hooked)
    assert result.changed and result.version.version == 2 and result.version.config_hash == hooked.config_hash()
    assert not engine.plan(hooked).changed and engine.deploy(hooked).version is None


def test_unlock_breaks_a_lock_whose_lease_ran_out(engine):
    elsewhere = Actor("bob", "other-host", 4242)
    engine.store.start_deploy("bobs-deploy", "dev", "deploy", "h", elsewhere)
    engine.store.try_lock("dev", "bobs-deploy", elsewhere, lease_seconds=0)
    lock = engine.unlock("dev")
    assert (lock.deploy_id, lock.holder) == ("bobs-deploy", str(elsewhere))
    assert engine.store.lock_of("dev") is None
    [deploy] = engine.store.deploys("dev")
    assert (deploy["status"], deploy["error"]) == ("crashed", f"lock broken by {ACTOR}")
    [broken] = [r for r in audit.records(engine.store, "dev") if r.type == "io.mnops.lock.broken"]
    assert broken.event["data"]["deploy_id"] == "bobs-deploy" and broken.event["data"]["holder"] == str(elsewhere)
    assert engine.unlock("dev") is None
    assert engine.deploy(spec()).version.version == 1


def test_unlock_refuses_a_fresh_lease_without_force_naming_its_holder(engine):
    """The same host, a pid this process cannot see (another PID namespace): alive while its lease is fresh."""
    inside = Actor("bob", ACTOR.host, 1)
    engine.store.start_deploy("bobs-deploy", "dev", "deploy", "h", inside)
    engine.store.try_lock("dev", "bobs-deploy", inside)
    until = engine.store.lock_of("dev").expires_at
    held = rf"locked by bob@host-t \(pid 1\) \(deploy bobs-deploy\) .*until {re.escape(until)}"
    with pytest.raises(LockHeld, match=held):
        engine.unlock("dev")
    assert engine.store.lock_of("dev").deploy_id == "bobs-deploy"
    assert [d["status"] for d in engine.store.deploys("dev")] == ["running"]
    assert "io.mnops.lock.broken" not in types(engine)
    assert engine.unlock("dev", force=True).deploy_id == "bobs-deploy"
    assert engine.store.lock_of("dev") is None and types(engine) == ["lock.broken"]


def test_a_store_made_before_leases_gains_them_in_place(tmp_path):
    import sqlite3

    from mnops_assets.engine.state import StateStore

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE mnops_locks (platform VARCHAR(64) PRIMARY KEY, deploy_id VARCHAR(36) NOT NULL, "
            "holder VARCHAR(300) NOT NULL, host VARCHAR(200) NOT NULL, pid INTEGER NOT NULL, "
            "acquired_at VARCHAR(40) NOT NULL)"
        )
        db.execute("INSERT INTO mnops_locks VALUES ('dev', 'old-deploy', 'old@h (pid 1)', 'h', 1, '2026-01-01')")
    store = StateStore(f"sqlite:///{path}")
    try:
        old = store.lock_of("dev")
        assert old.expires_at is None and not old.expired()  # no lease: only --force breaks it
        assert store.release_lock("dev", "old-deploy")
        assert store.try_lock("dev", "new", ACTOR, lease_seconds=0) is None and store.lock_of("dev").expired()
    finally:
        store.close()


def test_drift_scan_answers_for_deployed_never_deployed_and_broken_platforms(engine, adapter, monkeypatch, tmp_path):
    out = tmp_path / "drift.jsonl"
    hook = {"events": ["on-drift"], "command": ["python", "-c", f"open({str(out)!r}, 'a').write('drift\\n')"]}
    dev = spec(hooks={"record": hook})
    engine.deploy(dev)
    monkeypatch.setenv("PROD_PASSWORD", "first")
    data = copy.deepcopy(BASE) | {"name": "prod"}
    data["resources"]["db-password"] = {"contract": "secrets/v1", "from": "env:PROD_PASSWORD"}
    prod = PlatformSpec.model_validate(data)
    engine.deploy(prod)
    monkeypatch.delenv("PROD_PASSWORD")  # prod cannot be judged: its secret's source is gone
    never = spec(name="stage")
    testing.tamper(adapter, adapter.observe("dev")["jobs"])

    reports = engine.drift_scan([dev, prod, never])
    assert set(reports) == {"dev", "prod", "stage"} and reports["stage"] is None
    assert "PROD_PASSWORD" in reports["prod"].error and not reports["prod"].in_sync
    [step] = reports["dev"].steps
    assert step.name == "jobs" and reports["dev"].version == 1
    assert types(engine, "dev")[-2:] == ["drift.detected", "hook.succeeded"] and out.read_text() == "drift\n"
    assert "drift.detected" not in types(engine, "prod")
    assert engine.inspect([dev, never]).keys() == {"dev"}  # inspect stays: no side effect, deployed ones only
    assert types(engine, "dev")[-1] == "hook.succeeded"
