"""Housekeeping on the real local provider: a secret due for rotation is rotated and the service reading it restarted
(a new process that sees the new value), with an audit trail free of values; nothing at all is written when nothing is
due; one failing platform leaves the others maintained. Runs on SQLite and PostgreSQL state alike."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from sqlalchemy import MetaData, create_engine, select

from adapters.base import ResourceKey
from adapters.local import testing
from adapters.local.adapter import LocalAdapter
from mnops_assets.engine import audit
from mnops_assets.engine.apply import Engine, Failpoints
from mnops_assets.engine.state import Actor
from tests.mnops_assets.engine.platforms import MASTER_KEY, spec
from tests.mnops_assets.engine.reader import reader_spec, served_digest, stored_digest

DAY = 86400
API = ResourceKey("dev", "api")
API_KEY = ResourceKey("dev", "api-key")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def adapter(tmp_path, clock):
    local = LocalAdapter(root=tmp_path / "local", master_key=MASTER_KEY, clock=clock, stop_grace_seconds=2.0)
    yield local
    testing.remove_everything(local)
    local.close()
    testing.kill_strays(tmp_path)


@pytest.fixture
def engine(store, adapter, tmp_path):
    return Engine(
        store, lambda provider: adapter, actor=Actor("tester", "host-t", 1), failpoints=Failpoints(), hooks_cwd=tmp_path
    )


def with_service(tmp_path, name: str = "dev", rotation_days: int = 1):
    return spec({"resources.api-key.rotation_days": rotation_days, "resources.api": reader_spec(tmp_path)}, name=name)


def everything(url: str) -> dict[str, list]:
    """Every row of every table of the state store."""
    db = create_engine(url)
    try:
        tables = MetaData()
        tables.reflect(db)
        with db.connect() as conn:
            return {name: sorted(map(repr, conn.execute(select(table)))) for name, table in tables.tables.items()}
    finally:
        db.dispose()


def test_a_secret_due_for_rotation_is_rotated_and_its_reader_restarted_with_the_new_value(
    engine, adapter, clock, tmp_path
):
    engine.deploy(with_service(tmp_path))
    before = adapter.compute.running(API)["replicas"][0]
    old = stored_digest(adapter, API_KEY)
    assert served_digest(adapter, API) == old
    clock.now += 2 * DAY
    [result] = engine.maintain([with_service(tmp_path)]).values()
    assert result.error is None, result.error
    assert result.rotated == ("api-key",) and result.restarted == ("api",)
    assert result.upkeep["api-key"].rotated
    assert stored_digest(adapter, API_KEY) != old
    after = adapter.compute.running(API)["replicas"][0]
    assert after is not None and after != before  # a new process...
    assert served_digest(adapter, API) == stored_digest(adapter, API_KEY)  # ...holding the new value
    [deploy] = [d for d in engine.store.deploys("dev") if d["kind"] == "maintain"]
    assert deploy["status"] == "succeeded" and deploy["id"] == result.deploy_id
    kinds = [r.type.removeprefix(audit.EVENT_PREFIX) for r in audit.records(engine.store)]
    assert kinds[-4:] == ["secret.rotated", "maintain.started", "step.update", "maintain.succeeded"]
    rotated = next(r for r in audit.records(engine.store) if r.type.endswith("secret.rotated"))
    assert rotated.event["data"]["resource"] == "api-key" and rotated.event["data"]["readers"] == ["api"]
    assert rotated.event["data"]["value_hmac"] == adapter.secrets.find(API_KEY).fields["value_hmac"]
    # Rotation is housekeeping, not a change: the platform is in sync and a deploy has nothing to do.
    assert engine.inspect([with_service(tmp_path)])["dev"].in_sync
    assert not engine.deploy(with_service(tmp_path)).changed
    assert len(engine.store.versions("dev")) == 1


def test_no_audit_record_holds_a_secret_value(engine, adapter, clock, tmp_path):
    engine.deploy(with_service(tmp_path))
    old = adapter.secrets.reveal(API_KEY)
    clock.now += 2 * DAY
    engine.maintain([with_service(tmp_path)])
    new = adapter.secrets.reveal(API_KEY)
    trail = json.dumps([r.event for r in audit.records(engine.store)])
    assert old not in trail and new not in trail
    assert audit.verify(engine.store) == []


def test_nothing_is_written_when_nothing_is_due(engine, adapter, clock, state_url, tmp_path):
    engine.deploy(with_service(tmp_path))
    pid = adapter.compute.running(API)["replicas"][0]
    before = everything(state_url)
    clock.now += DAY / 2
    [result] = engine.maintain([with_service(tmp_path)]).values()
    assert result.error is None and not result.changed and result.rotated == () and result.restarted == ()
    assert everything(state_url) == before
    assert adapter.compute.running(API)["replicas"][0] == pid


def test_platforms_never_deployed_or_destroyed_are_left_out(engine):
    assert engine.maintain([spec()]) == {}
    engine.deploy(spec())
    engine.destroy(spec())
    assert engine.maintain([spec()]) == {}


def test_a_platform_locked_by_a_deploy_fails_alone_and_nothing_of_it_is_touched(engine, adapter, clock, tmp_path):
    engine.deploy(with_service(tmp_path))
    engine.deploy(spec({"resources.api-key.rotation_days": 1}, name="prod"))
    clock.now += 2 * DAY
    assert engine.store.try_lock("dev", "someone-elses-deploy", Actor("someone", "elsewhere", 1)) is None
    results = engine.maintain([with_service(tmp_path), spec({"resources.api-key.rotation_days": 1}, name="prod")])
    assert "is being changed by someone@elsewhere" in results["dev"].error and results["dev"].rotated == ()
    assert results["prod"].rotated == ("api-key",) and results["prod"].error is None
    assert adapter.maintain("dev")["api-key"].rotated  # dev's secret was still due: it had not been touched


def test_removals_are_audited_without_a_deploy(engine, adapter, clock):
    engine.deploy(spec({"resources.jobs.retention_seconds": 60}))
    adapter.queue.send_message(ResourceKey("dev", "jobs"), "old")
    clock.now += 120
    [result] = engine.maintain([spec({"resources.jobs.retention_seconds": 60})]).values()
    assert result.upkeep == {"jobs": result.upkeep["jobs"]} and result.upkeep["jobs"].removed == 1
    [record] = [r for r in audit.records(engine.store) if r.type.endswith("maintenance.expired")]
    assert record.event["data"]["removed"] == {"jobs": 1}
    assert not [d for d in engine.store.deploys("dev") if d["kind"] == "maintain"]


def test_a_reader_that_does_not_come_back_healthy_is_rolled_back_and_still_sick_fails_alone(
    engine, adapter, clock, tmp_path, monkeypatch
):
    engine.deploy(with_service(tmp_path))
    engine.deploy(with_service(tmp_path, name="prod"))
    clock.now += 2 * DAY
    original = adapter.compute.health

    def sick_in_dev(current):
        report = original(current)
        return dataclasses.replace(report, healthy=False, detail="sick") if current.key.platform == "dev" else report

    monkeypatch.setattr(adapter.compute, "health", sick_in_dev)
    results = engine.maintain([with_service(tmp_path), with_service(tmp_path, name="prod")])
    assert results["prod"].error is None and results["prod"].restarted == ("api",)
    assert results["dev"].rotated == ("api-key",) and results["dev"].restarted == ()
    assert "health check failed after the restart: api: sick" in results["dev"].error
    # Still sick once converged back: a failure, said so, never "rolled back" while down.
    assert "ROLLBACK FAILED" in results["dev"].error and "after rolling back: api: sick" in results["dev"].error
    [deploy] = [d for d in engine.store.deploys("dev") if d["kind"] == "maintain"]
    assert deploy["status"] == "failed"
    kinds = [r.type.removeprefix(audit.EVENT_PREFIX) for r in audit.records(engine.store) if r.platform == "dev"]
    assert "maintain.failed" in kinds and kinds[-1] == "undo.failed"
