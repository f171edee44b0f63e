"""Engine benchmark on the local provider: cold deploy vs no-op re-plan of 100 instances, and a drift scan of 1,000.

Compute resources are declared with `replicas: 0` here: deployed and observed like any other, but no process is
started, so the figures measure the engine and the provider's bookkeeping rather than Python's start-up time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from adapters.local.adapter import LocalAdapter
from benchmarks.generate import generate_estate
from mnops_assets.engine.apply import Engine, Failpoints
from mnops_assets.engine.state import StateStore
from mnops_assets.estate import load_estate


@dataclass(frozen=True)
class EngineFigures:
    deployed: int
    cold_deploy: float
    noop_replan: float
    scanned: int
    resources: int
    drift_scan: float
    drifted: int


def bench_engine(tmp: Path, deploy: int = 100, scan: int = 1000) -> EngineFigures:
    root = generate_estate(tmp / "engine-estate", scan, replicas=0)
    platforms = list(load_estate(root).platforms.values())
    adapter = LocalAdapter(root=tmp / "local", master_key=None)
    store = StateStore(f"sqlite:///{tmp / 'engine-state.db'}")
    engine = Engine(store, lambda provider: adapter, failpoints=Failpoints(), hooks_cwd=root)
    try:
        first = platforms[:deploy]
        start = time.perf_counter()
        for platform in first:
            engine.deploy(platform.spec)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        for platform in first:
            assert not engine.deploy(platform.spec).changed
        noop = time.perf_counter() - start
        for platform in platforms[deploy:]:
            engine.deploy(platform.spec)
        # One change behind the engine's back, so the scan has something to find.
        victim = platforms[-1].spec
        observed = adapter.observe(victim.name)["audit-logs"]
        adapter.driver("logging/v1").delete(observed)
        start = time.perf_counter()
        drifted = sum(1 for steps in engine.drift_many([p.spec for p in platforms]).values() if steps)
        scan_time = time.perf_counter() - start
        resources = sum(len(p.spec.resources) for p in platforms)
        return EngineFigures(len(first), cold, noop, len(platforms), resources, scan_time, drifted)
    finally:
        for platform in platforms:
            for observed in adapter.observe(platform.name).values():
                adapter.driver(observed.contract).delete(observed)
        store.close()
