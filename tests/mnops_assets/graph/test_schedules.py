"""The daily `maintenance_schedule`: running by default; its job, run in process as the daemon would launch it,
rotates a secret whose `rotation_days` have passed and restarts the service reading it, the adapters' clock moved on."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DefaultScheduleStatus, build_schedule_context

from adapters.base import ResourceKey
from adapters.local import testing
from mnops_assets.definitions import build_definitions, defs
from mnops_assets.engine import audit
from mnops_assets.engine.runtime import open_engine
from mnops_assets.estate import load_estate
from tests.mnops_assets.engine.reader import move_adapter_clocks, served_digest, stored_digest, write_shop_estate

DAY = 86400
API = ResourceKey("shop", "api")
API_KEY = ResourceKey("shop", "api-key")


@pytest.fixture
def shop_estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = write_shop_estate(tmp_path / "ecosystem")
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    yield root
    engine = open_engine(load_estate(root))
    try:
        engine.destroy(load_estate(root).platform("shop").spec, force=True)
    finally:
        engine.close()
        testing.kill_strays(tmp_path)


def test_the_maintenance_schedule_is_registered_daily_and_running_by_default():
    schedule = defs.resolve_schedule_def("maintenance_schedule")
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "17 3 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.job_name == "maintenance_job"


def test_the_schedules_run_rotates_a_due_secret_and_restarts_its_reader(shop_estate, monkeypatch):
    estate = load_estate(shop_estate)
    engine = open_engine(estate)
    try:
        engine.deploy(estate.platform("shop").spec)
        adapter = engine.adapter_for("local")
        before, old = adapter.compute.running(API)["replicas"][0], stored_digest(adapter, API_KEY)
        assert served_digest(adapter, API) == old
        seqs = len(audit.records(engine.store))
    finally:
        engine.close()

    definitions = build_definitions(shop_estate)
    schedule = definitions.resolve_schedule_def("maintenance_schedule")
    with DagsterInstance.ephemeral() as instance:
        # A tick the day after: what the daemon would launch, with the adapters' clock moved past a day.
        tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        [request] = schedule.evaluate_tick(
            build_schedule_context(instance=instance, scheduled_execution_time=tomorrow)
        ).run_requests
        move_adapter_clocks(monkeypatch, 2 * DAY)
        job = definitions.resolve_job_def(schedule.job_name)
        run = job.execute_in_process(instance=instance, tags=request.tags, run_config=request.run_config)
        assert run.success
        [output] = run.output_for_node("maintain_platforms").values()
        assert output["rotated"] == ["api-key"] and output["restarted"] == ["api"] and output["error"] is None

    engine = open_engine(load_estate(shop_estate))
    try:
        adapter = engine.adapter_for("local")
        after = adapter.compute.running(API)["replicas"][0]
        assert after is not None and after != before  # a new process...
        assert stored_digest(adapter, API_KEY) != old
        assert served_digest(adapter, API) == stored_digest(adapter, API_KEY)  # ...that holds the new value
        kinds = [r.type.removeprefix(audit.EVENT_PREFIX) for r in audit.records(engine.store)[seqs:]]
        assert kinds == ["secret.rotated", "maintain.started", "step.update", "maintain.succeeded"]
    finally:
        engine.close()


def test_a_run_with_nothing_due_writes_nothing(shop_estate):
    estate = load_estate(shop_estate)
    engine = open_engine(estate)
    try:
        engine.deploy(estate.platform("shop").spec)
        seqs = len(audit.records(engine.store))
        deploys = len(engine.store.deploys("shop"))
    finally:
        engine.close()
    definitions = build_definitions(shop_estate)
    with DagsterInstance.ephemeral() as instance:
        run = definitions.resolve_job_def("maintenance_job").execute_in_process(instance=instance)
        assert run.success
        assert run.output_for_node("maintain_platforms") == {
            "shop": {
                "platform": "shop",
                "upkeep": {},
                "rotated": [],
                "restarted": [],
                "removed": 0,
                "deploy_id": None,
                "error": None,
            }
        }
    engine = open_engine(load_estate(shop_estate))
    try:
        assert len(audit.records(engine.store)) == seqs and len(engine.store.deploys("shop")) == deploys
    finally:
        engine.close()
