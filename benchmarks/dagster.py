"""Dagster benchmarks: the code location's load against a bare graph of the same shape, one `drift_sensor` pass over
deployed instances, and deploying the shipped estate through Dagster against the engine alone, one by one and parallel.

Deploys use the embedded `local` provider under temporary folders; every variant is destroyed before the next, and
whatever is left (after a failure) is destroyed on the way out, so no process outlives the benchmark.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetKey,
    AssetObservation,
    AssetsDefinition,
    AssetSpec,
    DagsterInstance,
    Definitions,
    JobDefinition,
    asset,
    build_reconstructable_job,
    build_sensor_context,
    execute_job,
    multi_asset,
    multi_asset_check,
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
EXAMPLE_SECRETS = {"WAREHOUSE_PASSWORD": "benchmark-only", "SMTP_PASSWORD": "benchmark-only"}
"""The shipped estate reads these two secrets from the environment; any value deploys."""


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
    sensor = build_definitions(root, state_url=state_url).get_sensor_def("drift_sensor")
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
        for platform in platforms:
            engine.destroy(platform.spec, force=True, wait=True)
        engine.store.close()


# -- c. deploying the shipped estate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployFigures:
    instances: int
    engine: float
    in_process: float
    parallel: dict[int, float]
    pool_limit: int | None


def shipped_deploy_job(root: str) -> JobDefinition:
    """The job a multiprocess step process rebuilds from this module: the estate's implicit asset job."""
    return build_definitions(Path(root)).resolve_implicit_global_asset_job_def()


def bench_shipped_deploy(tmp: Path, instances: int | None = None, parallel: tuple[int, ...] = (2, 4)) -> DeployFigures:
    """Deploy the shipped instances (a copy; the first `instances` of them when given) four ways, destroying after
    each: the engine one by one; Dagster's in-process executor; Dagster's multiprocess executor at each `parallel`."""
    root = tmp / "shipped" / "ecosystem"
    shutil.copytree(SHIPPED, root, ignore=shutil.ignore_patterns("__pycache__"))
    dagster_home = tmp / "shipped" / "dagster"
    dagster_home.mkdir()
    shutil.copy(SHIPPED_DAGSTER_YAML, dagster_home / "dagster.yaml")
    estate, policies = load_governed(root)
    names = sorted(estate.platforms)[:instances]
    selection = [key for name in names for key in (config_key(name), platform_key(name))]

    def engine_one_by_one() -> None:
        engine = open_engine(estate, policies)
        try:
            for name in names:
                engine.deploy(estate.platform(name).spec, wait=True)
        finally:
            engine.store.close()

    def dagster_in_process(instance: DagsterInstance) -> None:
        job = shipped_deploy_job(str(root))
        result = job.execute_in_process(instance=instance, asset_selection=selection, raise_on_error=False)
        if not result.success:
            raise RuntimeError(f"in-process deploy of the shipped estate failed: {_failures(instance, result.run_id)}")

    def dagster_multiprocess(instance: DagsterInstance, workers: int) -> None:
        job = build_reconstructable_job("benchmarks.dagster", "shipped_deploy_job", reconstructable_args=(str(root),))
        config = {"execution": {"config": {"multiprocess": {"max_concurrent": workers}}}}
        with execute_job(job, instance, run_config=config, asset_selection=selection, raise_on_error=False) as result:
            if not result.success:
                raise RuntimeError(f"parallel deploy ({workers}) failed: {_failures(instance, result.run_id)}")

    with _environment(DAGSTER_HOME=str(dagster_home), **EXAMPLE_SECRETS), DagsterInstance.get() as instance:
        pool_limit = instance.global_op_concurrency_default_limit
        engine_time = _timed_deploy(tmp / "home-engine", root, names, engine_one_by_one)
        in_process = _timed_deploy(tmp / "home-in-process", root, names, lambda: dagster_in_process(instance))
        multiprocess = {
            workers: _timed_deploy(
                tmp / f"home-parallel-{workers}", root, names, lambda w=workers: dagster_multiprocess(instance, w)
            )
            for workers in parallel
        }
    return DeployFigures(len(names), engine_time, in_process, multiprocess, pool_limit)


def _timed_deploy(home: Path, root: Path, names: list[str], deploy: Callable[[], None]) -> float:
    """Time `deploy` with its own MNOPS_HOME, check every instance is up, and destroy everything it made."""
    with _environment(**{HOME_ENV: str(home)}):
        estate, _ = load_governed(root)
        try:
            start = time.perf_counter()
            deploy()
            elapsed = time.perf_counter() - start
            engine = open_engine(estate)
            try:
                missing = [name for name in names if engine.store.latest_version(name) is None]
            finally:
                engine.store.close()
            if missing:
                raise RuntimeError(f"not deployed: {', '.join(missing)}")
            return elapsed
        finally:
            _destroy_all(estate, names)


def _destroy_all(estate: Any, names: list[str]) -> None:
    engine = open_engine(estate)
    try:
        for name in names:
            engine.destroy(estate.platform(name).spec, force=True, wait=True)
    finally:
        engine.store.close()


def _failures(instance: DagsterInstance, run_id: str) -> str:
    from dagster import DagsterEventType

    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE).records
    return "; ".join(
        f"{r.event_log_entry.step_key}: {r.event_log_entry.dagster_event.event_specific_data.error.message.strip()}"
        for r in records
        if r.event_log_entry.dagster_event is not None
    ) or "see the run's events"


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


def dump(figures: Any) -> str:
    return json.dumps(figures.__dict__, default=str)
