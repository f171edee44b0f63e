"""Run every benchmark and print figures measured side by side in this one run (never absolute assertions).

    python -m benchmarks [--instances 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks.engine import bench_engine
from benchmarks.generate import generate_estate
from benchmarks.governance import install_policies, judge
from mnops_assets.estate import load_estate


def median_of(repeat: int, *work: Callable[[], object]) -> list[float]:
    """Run the callables interleaved `repeat` times; the median of each, so noise hits all of them alike."""
    samples: list[list[float]] = [[] for _ in work]
    for _ in range(repeat):
        for index, function in enumerate(work):
            start = time.perf_counter()
            function()
            samples[index].append(time.perf_counter() - start)
    return [statistics.median(s) for s in samples]


def parse_only(files: list[Path]) -> None:
    for path in files:
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-engine", action="store_true", help="Leave out the (slower) deploy and drift figures.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mnops-bench-") as tmp:
        root = generate_estate(Path(tmp) / "estate", args.instances)
        files = sorted(root.rglob("*.yaml"))
        estate = load_estate(root)  # warm-up, and proof the generated estate is valid
        resources = sum(len(p.spec.resources) for p in estate.platforms.values())
        platforms, policies = install_policies(root)
        report = judge(platforms, policies)  # warm-up, and the figures printed beside the time
        validate, parse, govern = median_of(
            args.repeat, lambda: load_estate(root), lambda: parse_only(files), lambda: judge(platforms, policies)
        )
        print(f"estate: {len(estate.platforms)} instances, {resources} resources, {len(files)} YAML files")
        print(f"validate (load, merge, provenance, contracts): {validate:.3f} s   target <= 3 s")
        print(
            f"governance (evaluate, {len(policies.rules)} shipped rules):       {govern:.3f} s   target <= 1 s   "
            f"({len(report.cases)} rule x target cases, {len(report.findings)} findings)"
        )
        print(f"parse only (yaml.CSafeLoader, same files):     {parse:.3f} s")
        print(f"ratio validate / parse-only:                   {validate / parse:.2f}x  target <= 3x")

        if not args.skip_engine:
            figures = bench_engine(Path(tmp), deploy=min(100, args.instances), scan=args.instances)
            print(f"engine on the local provider ({figures.deployed} instances deployed cold, then again unchanged):")
            print(f"  cold deploy:                                  {figures.cold_deploy:.3f} s")
            print(f"  no-op re-plan (same instances):               {figures.noop_replan:.3f} s")
            print(f"  ratio cold / no-op:                           {figures.cold_deploy / figures.noop_replan:.1f}x")
            print(f"  drift scan, {figures.scanned} instances x 5 ({figures.resources} resources): "
                  f"{figures.drift_scan:.3f} s   target <= 2 s  ({figures.drifted} drifted, as planted)")

if __name__ == "__main__":
    main()
