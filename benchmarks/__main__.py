"""Run every benchmark and print figures measured side by side in this one run (never absolute assertions).

python -m benchmarks [--instances 1000] [--repeat 5] [--aws-platforms 200] [--aws-latency-ms 30]
    [--gcp-platforms 200] [--gcp-latency-ms 30] [--azure-platforms 200] [--azure-latency-ms 30]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks.aws import bench_aws_observation
from benchmarks.azure import bench_azure_observation
from benchmarks.dagster import bench_drift_sensor, bench_shipped_deploy, counts, load_bare, load_ours, shape_of
from benchmarks.engine import bench_engine
from benchmarks.gcp import GcpFigures, bench_gcp_observation, gcp_unavailable
from benchmarks.generate import generate_estate
from benchmarks.governance import install_policies, judge
from mnops_assets.definitions import build_definitions
from mnops_assets.estate import load_estate
from mnops_assets.estate.yamldoc import parse_yaml
from mnops_assets.governance import load_governed
from mnops_assets.graph.sensors import SHARD_SIZE


def median_of(repeat: int, *work: Callable[[], object]) -> list[float]:
    """Run the callables interleaved `repeat` times; the median of each, so noise hits all of them alike.

    As `timeit` does, the garbage collector is off while a callable runs (and emptied before): otherwise whichever
    callable happens to trigger a collection pays for scanning everything the others left alive.
    """
    samples: list[list[float]] = [[] for _ in work]
    for _ in range(repeat):
        for index, function in enumerate(work):
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                function()
                samples[index].append(time.perf_counter() - start)
            finally:
                gc.enable()
    return [statistics.median(s) for s in samples]


def parse_only(files: list[Path]) -> None:
    for path in files:
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def alias_bomb(levels: int = 9) -> str:
    """YAML whose aliases expand to 10**levels values: the loader must refuse it without building it."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-engine", action="store_true", help="Leave out the (slower) deploy and drift figures.")
    parser.add_argument("--skip-dagster", action="store_true", help="Leave out the (slower) Dagster figures.")
    parser.add_argument("--skip-aws", action="store_true", help="Leave out the (slower) AWS observation figures.")
    parser.add_argument("--aws-platforms", type=int, default=200, help="Platforms of 5 resources made in moto.")
    parser.add_argument("--aws-latency-ms", type=float, default=30.0, help="Round trip added to every AWS call.")
    parser.add_argument("--skip-gcp", action="store_true", help="Leave out the (slower) GCP observation figures.")
    parser.add_argument("--gcp-platforms", type=int, default=200, help="Platforms of 5 resources made on GCP's fakes.")
    parser.add_argument("--gcp-latency-ms", type=float, default=30.0, help="Round trip added to every GCP call.")
    parser.add_argument("--skip-azure", action="store_true", help="Leave out the (slower) Azure observation figures.")
    parser.add_argument("--azure-platforms", type=int, default=200, help="Platforms of 5 resources in the fake ARM.")
    parser.add_argument("--azure-latency-ms", type=float, default=30.0, help="Wait added to every Azure call.")
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
        bomb = alias_bomb()
        [refused] = median_of(args.repeat, lambda: parse_yaml(bomb, "bomb.yaml"))
        print(f"alias bomb (10^9 values if expanded) refused:  {refused:.4f} s")

        if not args.skip_engine:
            figures = bench_engine(Path(tmp), deploy=min(100, args.instances), scan=args.instances)
            print(f"engine on the local provider ({figures.deployed} instances deployed cold, then again unchanged):")
            print(f"  cold deploy:                                  {figures.cold_deploy:.3f} s")
            print(f"  no-op re-plan (same instances):               {figures.noop_replan:.3f} s")
            print(f"  ratio cold / no-op:                           {figures.cold_deploy / figures.noop_replan:.1f}x")
            print(
                f"  drift scan, {figures.scanned} instances x 5 ({figures.resources} resources): "
                f"{figures.drift_scan:.3f} s   target <= 2 s  ({figures.drifted} drifted, as planted)"
            )

        if not args.skip_dagster:
            defs = build_definitions(root)  # warm-up, and the graph the bare copy mirrors
            shape, graph = shape_of(defs), counts(defs)
            ours, bare, estate_load = median_of(
                args.repeat, lambda: load_ours(root), lambda: load_bare(shape), lambda: load_governed(root)
            )
            print(
                f"dagster code location, {len(estate.platforms)} instances ({graph.assets} assets, {graph.checks} "
                f"checks, {graph.edges} edges), built, resolved and snapshotted as a code server does:"
            )
            print(
                f"  ours, from the estate:                        {ours:.3f} s   "
                f"(of which loading the estate {estate_load:.3f} s)"
            )
            print(f"  bare Definitions, same shape, empty bodies:   {bare:.3f} s")
            print(f"  ratio ours / bare:                            {ours / bare:.2f}x  target <= 1.5x")
            sensor = bench_drift_sensor(Path(tmp), args.instances)
            print(
                f"drift_sensor over {sensor.instances} instances deployed by the engine ({sensor.deploy:.1f} s; "
                f"replicas 0), {SHARD_SIZE} judged a tick:"
            )
            print(
                f"  one tick (median of {len(sensor.ticks)}, slowest {max(sensor.ticks):.3f} s):     "
                f"{sensor.per_tick:.3f} s   limit 60 s"
            )
            print(
                f"  every instance judged once:                   {sensor.total:.3f} s   "
                f"({sensor.judged} judged, {sensor.redeploys} redeploy requested, as planted)"
            )
            # All 20 shipped instances from --instances 100 up; the smoke size (12) deploys 2.
            deploy = bench_shipped_deploy(Path(tmp), max(2, min(20, args.instances // 5)))
            print(
                f"deploying {deploy.instances} shipped instances, one run a variant (config + platform; real "
                f"processes; pool mnops-local: {deploy.pool}):"
            )
            print(f"  engine, one by one:                           {deploy.engine:.3f} s")
            print(
                f"  dagster in-process, one by one:               {deploy.in_process:.3f} s   "
                f"ratio dagster / engine {deploy.in_process / deploy.engine:.2f}x"
            )
            for (workers, start), seconds in deploy.parallel.items():
                print(
                    f"  dagster multiprocess, {workers} at once ({start}): {seconds:.3f} s   "
                    f"speed-up over in-process {deploy.in_process / seconds:.2f}x"
                )

        if not args.skip_aws:
            aws = bench_aws_observation(args.aws_platforms, args.aws_latency_ms / 1000)
            print(
                f"aws drift scan against moto's server (own process), {aws.platforms} platforms x 5 "
                f"({aws.resources} resources, made in {aws.setup:.1f} s), {aws.latency_ms:.0f} ms added to every call:"
            )
            print(
                f"  naive serial (find each resource by name):    {aws.naive:.3f} s   "
                f"{aws.naive_calls / aws.resources:.2f} calls per resource"
            )
            print(
                f"  ours (batched, {aws.threads} threads):              {aws.batched:.3f} s   "
                f"{aws.batched_calls / aws.resources:.2f} calls per resource   target <= 1.5"
            )
            print(f"  ratio naive / ours:                           {aws.naive / aws.batched:.1f}x  target >= 8x")
            print(
                f"  ours again (task definitions known):          {aws.warm:.3f} s   "
                f"{aws.warm_calls / aws.resources:.2f} calls per resource"
            )

        if not args.skip_gcp:
            missing = gcp_unavailable()
            if missing:
                print(f"gcp drift scan: not run, {missing}")
            else:
                print_gcp(bench_gcp_observation(args.gcp_platforms, args.gcp_latency_ms / 1000))

        if not args.skip_azure:
            azure = bench_azure_observation(args.azure_platforms, args.azure_latency_ms / 1000)
            print(
                f"azure drift scan against the HTTPS fake of Resource Manager and Key Vault, {azure.platforms} "
                f"platforms x 5 ({azure.resources} resources, made in {azure.setup:.1f} s), {azure.latency_ms:.0f} ms "
                "added at the server to every call, calls counted there:"
            )
            print(
                f"  naive serial (find each resource by name):    {azure.naive:.3f} s   "
                f"{azure.naive_calls / azure.resources:.2f} calls per resource"
            )
            print(
                f"  ours (bulk listings, {azure.threads} threads):              {azure.bulk:.3f} s   "
                f"{azure.bulk_calls / azure.resources:.2f} calls per resource   target <= 1.5"
            )
            print(f"  ratio naive / ours:                           {azure.naive / azure.bulk:.1f}x  target >= 8x")


def print_gcp(gcp: GcpFigures) -> None:
    print(
        f"gcp drift scan against the storage and Pub/Sub emulators and the gRPC fakes, {gcp.platforms} platforms x 5 "
        f"({gcp.resources} resources, made in {gcp.setup:.1f} s), {gcp.latency_ms:.0f} ms added to every call, "
        "calls counted at the servers:"
    )
    print(
        f"  naive serial (find each resource by name):    {gcp.naive:.3f} s   "
        f"{gcp.naive_calls / gcp.resources:.2f} calls per resource"
    )
    print(
        f"{f'  ours (bulk listings, {gcp.threads} threads):':<48}{gcp.batched:.3f} s   "
        f"{gcp.batched_calls / gcp.resources:.2f} calls per resource   target <= 1.5"
    )
    print(f"  ratio naive / ours:                           {gcp.naive / gcp.batched:.1f}x  target >= 8x")


if __name__ == "__main__":
    main()
