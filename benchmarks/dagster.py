"""Dagster benchmarks: the code location's load against a bare graph of the same shape, one `drift_sensor` pass over
deployed instances, and deploying the shipped estate through Dagster against the engine alone, one by one and parallel.

Deploys use the embedded `local` provider under temporary folders; every variant is destroyed before the next, and
whatever is left (after a failure) is destroyed on the way out, so no process outlives the benchmark.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from dagster import (
    AssetCheckSpec,
    AssetObservation,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    JobDefinition,
    asset,
    build_reconstructable_job,
    build_sensor_context,
    define_asset_job,
    execute_job,
    multi_asset,
    multi_asset_check,
    multiprocess_executor,
)
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from benchmarks.generate import generate_estate
from mnops_assets.definitions import build_definitions
from mnops_assets.engine.runtime import HOME_ENV, open_engine
from mnops_assets.governance import load_governed
from mnops_assets.graph.factory import config_key, platform_key
from mnops_assets.graph.resources import LocalProvider, Mnops

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "ecosystem"
SHIPPED_DAGSTER_YAML = REPO / "dagster.yaml"
DEPLOY_JOB = "deploy_shipped"
EXAMPLE_SECRETS = {"WAREHOUSE_PASSWORD": "benchmark-only", "SMTP_PASSWORD": "benchmark-only"}
"""The shipped estate reads these two secrets from the environment; any value deploys."""
QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""Run config keeping a run's event stream off the console: the figures are the output."""


# -- a. code-location load -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What a bare copy of a graph needs: its assets, external assets and checks, without any behaviour."""

    executable: list[tuple[list[AssetSpec], list[AssetCheckSpec]]]
    external: list[AssetSpec]
    check_only: list[list[AssetCheckSpec]]


@dataclass(frozen=True)
class GraphCounts:
    assets: int
    checks: int
    edges: int


def code_server_load(defs: Definitions) -> None:
    """What a code server does with a `Definitions` before the UI shows anything: resolve the repository (asset graph,
    jobs) and serialise its snapshot, with job snapshots deferred as the webserver asks for them."""
    repository = defs.get_repository_def()
    repository.get_implicit_global_asset_job_def()
    serialize_value(RepositorySnap.from_def(repository, defer_snapshots=True))


def load_ours(root: Path) -> None:
    code_server_load(build_definitions(root))


def shape_of(defs: Definitions) -> Shape:
    """Our graph's keys, dependencies and check specs, read generically from the `Definitions` it builds."""
    executable: list[tuple[list[AssetSpec], list[AssetCheckSpec]]] = []
    external: list[AssetSpec] = []
    for node in defs.assets or []:
        if isinstance(node, AssetSpec):
            external.append(AssetSpec(node.key, deps=[dep.asset_key for dep in node.deps]))
        elif isinstance(node, AssetsDefinition):
            specs = [AssetSpec(spec.key, deps=[dep.asset_key for dep in spec.deps]) for spec in node.specs]
            executable.append((specs, [_bare_check(spec) for spec in node.check_specs]))
        else:
            raise TypeError(f"unexpected asset definition {type(node).__name__}")
    check_only = [[_bare_check(spec) for spec in checks.check_specs] for checks in defs.asset_checks or []]
    return Shape(executable, external, check_only)


def bare_definitions(shape: Shape) -> Definitions:
    """The same keys, dependencies and checks as `shape`, every function doing nothing: Dagster's own floor."""
    assets: list[AssetsDefinition | AssetSpec] = []
    for index, (specs, checks) in enumerate(shape.executable):
        if len(specs) == 1:
            spec = specs[0]

            @asset(key=spec.key, deps=[dep.asset_key for dep in spec.deps], check_specs=checks or None)
            def _one():  # noqa: ANN202 - an annotation would be checked against the check outputs
                return None

            assets.append(_one)
        else:

            @multi_asset(specs=specs, check_specs=checks or None, name=f"bare_multi_{index}")
            def _many():  # noqa: ANN202
                return None

            assets.append(_many)
    assets.extend(shape.external)
    asset_checks = []
    for index, specs in enumerate(shape.check_only):

        @multi_asset_check(specs=specs, can_subset=True, name=f"bare_checks_{index}")
        def _checks():  # noqa: ANN202
            return None

        asset_checks.append(_checks)
    return Definitions(assets=assets, asset_checks=asset_checks)


def load_bare(shape: Shape) -> None:
    code_server_load(bare_definitions(shape))


def counts(defs: Definitions) -> GraphCounts:
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    edges = sum(len(graph.get(key).parent_keys) for key in keys)
    return GraphCounts(len(keys), len(graph.asset_check_keys), edges)


def _bare_check(spec: AssetCheckSpec) -> AssetCheckSpec:
    return AssetCheckSpec(spec.name, asset=spec.asset_key, blocking=spec.blocking)


# -- b. one drift_sensor pass ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SensorFigures:
    instances: int
    deploy: float
    ticks: list[float]
    judged: int
    redeploys: int

    @property
    def per_tick(self) -> float:
        return statistics.median(self.ticks)

    @property
    def total(self) -> float:
        return sum(self.ticks)


def bench_drift_sensor(tmp: Path, instances: int) -> SensorFigures:
    """Deploy `instances` generated instances (replicas 0: no process) with the engine, plant one drift, then tick
    `drift_sensor` until every instance was judged once, as the daemon would, cursor carried from tick to tick."""
    root = generate_estate(tmp / "sensor-estate", instances, replicas=0)
    state_url = f"sqlite:///{tmp / 'sensor-state.db'}"
    mnops = Mnops(estate=str(root), state_url=state_url, local=LocalProvider(root=str(tmp / "sensor-local")))
    estate, _ = mnops.load()
    platforms = list(estate.platforms.values())
    # As written, resources unresolved: they reach it through the context below, as the daemon's would.
    sensor = build_definitions(root, state_url=state_url).get_unresolved_sensor_def("drift_sensor")
    engine = mnops.engine(estate, None)  # the very wiring the sensor's resource opens
    try:
        start = time.perf_counter()
        for platform in platforms:
            engine.deploy(platform.spec)
        deploy = time.perf_counter() - start
        # One change behind the engine's back on an instance whose policy remediates: one redeploy is expected.
        victim = next(p.spec for p in reversed(platforms) if p.spec.drift.policy == "remediate")
        adapter = engine.adapter_for(victim.provider)
        adapter.driver("logging/v1").delete(adapter.observe(victim.name)["audit-logs"])

        cursor: str | None = None
        judged: set[str] = set()
        ticks: list[float] = []
        redeploys = 0
        while len(judged) < len(platforms) and len(ticks) < len(platforms):
            # Resources reach the sensor's `mnops` parameter only through the context, opened as a context manager.
            with build_sensor_context(resources={"mnops": mnops}, cursor=cursor) as context:
                start = time.perf_counter()
                result = sensor(context)
                ticks.append(time.perf_counter() - start)
            judged.update(e.asset_key.path[-1] for e in result.asset_events if isinstance(e, AssetObservation))
            redeploys += len(result.run_requests or [])
            cursor = result.cursor
        return SensorFigures(len(platforms), deploy, ticks, len(judged), redeploys)
    finally:
        # No process ran (replicas 0): removing every resource is the whole clean-up, as in benchmarks/engine.py.
        for platform in platforms:
            adapter = engine.adapter_for(platform.spec.provider)
            for observed in adapter.observe(platform.name).values():
                adapter.driver(observed.contract).delete(observed)
        engine.close()


# -- c. deploying the shipped estate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployFigures:
    instances: int
    engine: float
    in_process: float
    parallel: dict[tuple[int, str], float]
    pool: str
    """The shipped dagster.yaml's limit on mnops-local, as this instance applies it."""


def shipped_deploy_job(root: str) -> JobDefinition:
    """Every config and platform asset of the estate at `root` as one job; each multiprocess step process rebuilds it
    from this function (the implicit asset job cannot be rebuilt on its own: its name is reserved)."""
    # The code location runs steps in process; this job asks for the multiprocess executor to measure it.
    job = define_asset_job(
        DEPLOY_JOB, selection=AssetSelection.groups("configs", "platforms"), executor_def=multiprocess_executor
    )
    return Definitions.merge(build_definitions(Path(root)), Definitions(jobs=[job])).resolve_job_def(DEPLOY_JOB)


def bench_shipped_deploy(
    tmp: Path,
    instances: int | None = None,
    parallel: tuple[tuple[int, str], ...] = ((2, "forkserver"), (4, "forkserver")),
) -> DeployFigures:
    """Deploy the shipped instances (a copy; the first `instances` of them when given) several ways, destroying after
    each: the engine one by one; Dagster's in-process executor; Dagster's multiprocess executor at each `parallel`
    (width, start method). `forkserver` preloads this module, so a step process starts warm; Dagster's default,
    `spawn`, starts each step's interpreter cold (about twice as slow again on a 2-CPU machine). Dagster runs against
    a real instance (SQLite, the shipped dagster.yaml): multiprocess steps must all reach the same storage."""
    root = tmp / "shipped" / "ecosystem"
    shutil.copytree(SHIPPED, root, ignore=shutil.ignore_patterns("__pycache__"))
    dagster_home = tmp / "shipped" / "dagster"
    dagster_home.mkdir()
    shutil.copy(SHIPPED_DAGSTER_YAML, dagster_home / "dagster.yaml")
    estate, policies = load_governed(root)
    # As `mnops deploy --all` takes them: producers before the platforms reading their outputs, enabled ones only.
    names = [platform.name for platform in estate.deploy_order() if platform.spec.enabled][:instances]
    selection = [key for name in names for key in (config_key(name), platform_key(name))]

    def engine_one_by_one() -> None:
        engine = open_engine(estate, policies)
        try:
            for name in names:
                engine.deploy(estate.platform(name).spec, wait=True)
        finally:
            engine.close()

    def dagster_in_process(instance: DagsterInstance) -> None:
        job = shipped_deploy_job(str(root))
        result = job.execute_in_process(
            run_config=QUIET_RUN, instance=instance, asset_selection=selection, raise_on_error=False
        )
        if not result.success:
            raise RuntimeError(f"in-process deploy of the shipped estate failed: {_failures(instance, result.run_id)}")

    def dagster_multiprocess(instance: DagsterInstance, workers: int, start: str) -> None:
        job = build_reconstructable_job(__name__, shipped_deploy_job.__name__, reconstructable_args=(str(root),))
        start_method = {"forkserver": {"preload_modules": [__name__]}} if start == "forkserver" else {"spawn": {}}
        multiprocess = {"max_concurrent": workers, "start_method": start_method}
        config = {"execution": {"config": multiprocess}, **QUIET_RUN}
        with execute_job(job, instance, run_config=config, asset_selection=selection, raise_on_error=False) as result:
            if not result.success:
                raise RuntimeError(f"parallel deploy ({workers}) failed: {_failures(instance, result.run_id)}")

    # One MNOPS_HOME for every variant: a forkserver keeps the environment it started with, so its step processes
    # would deploy into the first variant's home whatever the variables say later.
    home = tmp / "shipped" / "home"
    environment = {"DAGSTER_HOME": str(dagster_home), HOME_ENV: str(home), **EXAMPLE_SECRETS}
    with _environment(**environment), DagsterInstance.get() as instance:
        pools = instance.get_concurrency_config().pool_config
        granularity = pools.pool_granularity.value if pools.pool_granularity else "op"
        pool = f"{pools.default_pool_limit} {'runs' if granularity == 'run' else 'steps'} at once"
        engine_time = _timed_deploy(root, names, engine_one_by_one)
        in_process = _timed_deploy(root, names, lambda: dagster_in_process(instance))
        multiprocess = {
            (workers, start): _timed_deploy(root, names, partial(dagster_multiprocess, instance, workers, start))
            for workers, start in parallel
        }
    return DeployFigures(len(names), engine_time, in_process, multiprocess, pool)


def _timed_deploy(root: Path, names: list[str], deploy: Callable[[], None]) -> float:
    """Time `deploy`, check every instance really exists, and destroy everything it made (also when it failed)."""
    estate, _ = load_governed(root)
    try:
        start = time.perf_counter()
        deploy()
        elapsed = time.perf_counter() - start
        engine = open_engine(estate)
        try:
            specs = [estate.platform(name).spec for name in names]
            missing = [spec.name for spec in specs if not engine.adapter_for(spec.provider).observe(spec.name)]
        finally:
            engine.close()
        if missing:
            raise RuntimeError(f"not deployed: {', '.join(missing)}")
        return elapsed
    finally:
        engine = open_engine(estate)
        try:
            for name in names:
                engine.destroy(estate.platform(name).spec, force=True, wait=True)
        finally:
            engine.close()


def _failures(instance: DagsterInstance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE).records
    return (
        "; ".join(
            f"{r.event_log_entry.step_key}: {r.event_log_entry.dagster_event.event_specific_data.error.message.strip()}"
            for r in records
            if r.event_log_entry.dagster_event is not None
        )
        or "see the run's events"
    )


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block (multiprocess steps inherit them), then put the old values back."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
