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

from benchmarks.generate import generate_estate
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mnops-bench-") as tmp:
        root = generate_estate(Path(tmp) / "estate", args.instances)
        files = sorted(root.rglob("*.yaml"))
        estate = load_estate(root)  # warm-up, and proof the generated estate is valid
        resources = sum(len(p.spec.resources) for p in estate.platforms.values())
        validate, parse = median_of(args.repeat, lambda: load_estate(root), lambda: parse_only(files))
        print(f"estate: {len(estate.platforms)} instances, {resources} resources, {len(files)} YAML files")
        print(f"validate (load, merge, provenance, contracts): {validate:.3f} s   target <= 3 s")
        print(f"parse only (yaml.CSafeLoader, same files):     {parse:.3f} s")
        print(f"ratio validate / parse-only:                   {validate / parse:.2f}x  target <= 3x")


if __name__ == "__main__":
    main()
