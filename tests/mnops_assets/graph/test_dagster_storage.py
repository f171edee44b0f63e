"""Dagster's own storage: the shipped dagster.yaml (SQLite) and deploy/dagster-postgres.yaml (the real PostgreSQL)
load as instance configs, and a deployment run through them leaves its materializations and checks in that storage.

The PostgreSQL variants skip on a laptop without a server and fail in CI (CI=true), as the engine's state tests do.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterEventType, DagsterInstance
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.runs import SqliteRunStorage
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage
from sqlalchemy import create_engine, make_url, text

from mnops_assets.definitions import build_definitions
from mnops_assets.engine.apply import FAILPOINTS_ENV
from mnops_assets.engine.runtime import HOME_ENV, open_engine
from mnops_assets.engine.state import STATE_URL_ENV
from mnops_assets.governance import load_governed

REPO = Path(__file__).resolve().parents[3]
EMBEDDED_CONFIG = REPO / "dagster.yaml"
TEAM_CONFIG = REPO / "deploy" / "dagster-postgres.yaml"
SMALL_ESTATE = REPO / "tests" / "data" / "estate"
PG_ENV = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD")

INSTANCE = "prod"
"""The small estate's compute-free instance (an audit log only): deploying it starts no process."""


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the small test estate whose state (SQLite) and local resources live in tmp."""
    root = tmp_path / "estate"
    shutil.copytree(SMALL_ESTATE, root)
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "mnops-home"))
    monkeypatch.delenv(STATE_URL_ENV, raising=False)
    return root


def embedded_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME as mnops makes it: the shipped dagster.yaml copied in."""
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(EMBEDDED_CONFIG, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def team_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    """A DAGSTER_HOME holding deploy/dagster-postgres.yaml as shipped, its connection given by the environment."""
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(TEAM_CONFIG, home / "dagster.yaml")
    url = make_url(database_url)
    values = (url.host or "127.0.0.1", str(url.port or 5432), url.database, url.username, url.password or "")
    for name, value in zip(PG_ENV, values, strict=True):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@dataclass(frozen=True)
class DagsterHome:
    path: Path
    storages: tuple[type, type]
    """The run and event-log storage classes its dagster.yaml must give."""
    step_slots: bool
    """Whether a deploy step holds a slot of its provider's pool while it runs (pool granularity `op`)."""


@pytest.fixture(params=["sqlite", "postgresql"])
def dagster_home(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DagsterHome:
    if request.param == "sqlite":
        return DagsterHome(embedded_home(tmp_path, monkeypatch), (SqliteRunStorage, SqliteEventLogStorage), False)
    home = team_home(tmp_path, monkeypatch, request.getfixturevalue("postgres_database"))
    return DagsterHome(home, (PostgresRunStorage, PostgresEventLogStorage), True)


def deploy_one(root: Path, instance: DagsterInstance) -> str:
    """Materialize config/<INSTANCE> and platform/<INSTANCE> in this process; the run's id."""
    job = build_definitions(root).resolve_implicit_global_asset_job_def()
    selection = [AssetKey(["config", INSTANCE]), AssetKey(["platform", INSTANCE])]
    result = job.execute_in_process(instance=instance, asset_selection=selection)
    assert result.success
    return result.run_id


def destroy_all(root: Path) -> None:
    estate, _ = load_governed(root)
    engine = open_engine(estate)
    try:
        for platform in estate.platforms.values():
            engine.destroy(platform.spec, force=True, wait=True)
    finally:
        engine.close()


def test_shipped_dagster_yaml_loads_as_the_embedded_sqlite_instance(tmp_path, monkeypatch):
    home = embedded_home(tmp_path, monkeypatch)
    with DagsterInstance.get() as instance:
        assert Path(instance.root_directory) == home
        assert isinstance(instance.event_log_storage, SqliteEventLogStorage)
        assert (home / "history").is_dir()  # Dagster's own SQLite files, under the home mnops chose
        assert not instance.telemetry_enabled
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.event_log_storage.supports_global_concurrency_limits
        assert instance.global_op_concurrency_default_limit is not None
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs > 0


def test_team_config_reads_its_connection_from_the_environment(tmp_path, monkeypatch):
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(TEAM_CONFIG, home / "dagster.yaml")
    for name in PG_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_PG_"):
        DagsterInstance.from_config(str(home))


def test_deploy_run_is_recorded_in_dagster_storage(estate, dagster_home):
    with DagsterInstance.from_config(str(dagster_home.path)) as instance:
        run_storage, event_log_storage = dagster_home.storages
        assert isinstance(instance.run_storage, run_storage)
        assert isinstance(instance.event_log_storage, event_log_storage)
        try:
            run_id = deploy_one(estate, instance)
        finally:
            destroy_all(estate)

        for key in (AssetKey(["config", INSTANCE]), AssetKey(["platform", INSTANCE])):
            materialization = instance.get_latest_materialization_event(key)
            assert materialization is not None and materialization.run_id == run_id, key
        version = instance.get_latest_materialization_event(AssetKey(["platform", INSTANCE]))
        assert version.asset_materialization.metadata["version"].value == 1

        records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
        evaluations = [record.event_log_entry.asset_check_evaluation for record in records]
        outcomes = {(e.asset_key.path[0], e.check_name): e.passed for e in evaluations}
        assert outcomes == {
            ("config", "passes_blocking_policies"): True,
            ("config", "passes_advisory_policies"): True,
            ("platform", "is_healthy"): True,
        }
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [AssetCheckKey(AssetKey(["platform", INSTANCE]), "is_healthy")]
        )
        assert [record.run_id for record in latest.values()] == [run_id]

        pool = instance.event_log_storage.get_concurrency_info("mnops-local")
        assert pool.active_slot_count == 0
        if dagster_home.step_slots:  # the deploy held a slot of its provider's pool, made at the default limit
            assert pool.slot_count == instance.global_op_concurrency_default_limit

    # What was written outlives the instance that wrote it: a new one (another process, say) reads the same run.
    with DagsterInstance.from_config(str(dagster_home.path)) as again:
        assert again.get_run_by_id(run_id).is_success
        assert again.get_latest_materialization_event(AssetKey(["platform", INSTANCE])).run_id == run_id


def test_deploy_events_are_rows_of_the_postgresql_database(estate, tmp_path, monkeypatch, postgres_database):
    home = team_home(tmp_path, monkeypatch, postgres_database)
    with DagsterInstance.from_config(str(home)) as instance:
        try:
            run_id = deploy_one(estate, instance)
        finally:
            destroy_all(estate)
    database = create_engine(postgres_database)
    try:
        with database.connect() as conn:
            materialized = (
                conn.execute(
                    text("select asset_key from event_logs where run_id = :run and dagster_event_type = :type"),
                    {"run": run_id, "type": "ASSET_MATERIALIZATION"},
                )
                .scalars()
                .all()
            )
            checked = conn.execute(
                text("select asset_key, check_name, execution_status from asset_check_executions where run_id = :run"),
                {"run": run_id},
            ).all()
    finally:
        database.dispose()
    assert sorted(materialized) == ['["config", "prod"]', '["platform", "prod"]']
    assert sorted(checked) == [
        ('["config", "prod"]', "passes_advisory_policies", "SUCCEEDED"),
        ('["config", "prod"]', "passes_blocking_policies", "SUCCEEDED"),
        ('["platform", "prod"]', "is_healthy", "SUCCEEDED"),
    ]


CRASHING_DEPLOY = """
import sys
from pathlib import Path
from dagster import AssetKey, DagsterInstance
from mnops_assets.definitions import build_definitions
job = build_definitions(Path(sys.argv[1])).resolve_implicit_global_asset_job_def()
with DagsterInstance.get() as instance:
    result = job.execute_in_process(instance=instance, asset_selection=[AssetKey(["platform", sys.argv[2]])])
print("deployed" if result.success else "failed")
"""


def test_deploys_that_died_do_not_block_the_next_one_on_the_embedded_instance(estate, tmp_path, monkeypatch):
    """Two deploys killed mid-step (SIGKILL, as in a crash) stay STARTED for ever on the local launcher; with the
    shipped pool limit of 2 they must not hold the provider's pool, or every later deploy would wait for ever."""
    embedded_home(tmp_path, monkeypatch)
    monkeypatch.setenv("MNOPS_LOCK_LEASE_SECONDS", "1")  # a killed deploy's lock is broken a second after it died
    command = [sys.executable, "-c", CRASHING_DEPLOY, str(estate), INSTANCE]
    for _ in range(2):
        crashed = subprocess.run(
            command, env={**os.environ, FAILPOINTS_ENV: "before:1=crash"}, capture_output=True, timeout=120, check=False
        )
        assert crashed.returncode == -signal.SIGKILL
    try:
        after = subprocess.run(
            command, capture_output=True, text=True, timeout=60, check=False
        )  # waiting for a slot: for ever
        assert after.returncode == 0 and after.stdout.strip() == "deployed", after.stderr[-2000:]
    finally:
        destroy_all(estate)
    with DagsterInstance.get() as instance:
        statuses = sorted(run.status.value for run in instance.get_runs())
    assert statuses == ["STARTED", "STARTED", "SUCCESS"]


def test_the_mnops_home_dagster_folder_and_its_files_are_private(estate, tmp_path, monkeypatch):
    from mnops_assets.graph import launch

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    folder = tmp_path / "mnops-home" / "dagster"
    folder.mkdir(parents=True, mode=0o755)  # as an older mnops left it
    folder.chmod(0o755)
    previous = os.umask(0o022)  # a usual login umask: Dagster's files would be 0644 under it
    try:
        loaded, _ = load_governed(estate)
        [outcome] = launch.deploy(loaded, [INSTANCE], wait=True)
    finally:
        os.umask(previous)
        destroy_all(estate)
    assert outcome.ok, outcome.error
    assert folder.stat().st_mode & 0o777 == 0o700
    made = [p for p in folder.rglob("*") if not p.is_symlink()]
    assert any(p.suffix == ".db" for p in made)  # the run's storage is there, and so are its logs
    wide = {str(p.relative_to(folder)): oct(p.stat().st_mode & 0o777) for p in made if p.stat().st_mode & 0o077}
    assert wide == {}
