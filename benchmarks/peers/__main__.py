"""Print mnops beside checkov and Cloud Custodian, measured in one run, with the machine's load (never asserted).

python -m benchmarks.peers [--instances 1000] [--repeat 3] [--scan-platforms 200] [--latency-ms 30] [--bench-dir .bench]

The peers are looked for in venvs of their own under --bench-dir (`make bench-peers` makes them); a peer that is not
there is said so and its side left out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from benchmarks.generate import generate_estate
from benchmarks.governance import install_policies
from benchmarks.peers import governance as gov
from benchmarks.peers.scan import ScanFigures, bench_scan
from mnops_assets.governance.loading import GOVERNANCE_DIR, POLICIES_FILE

REPO = Path(__file__).resolve().parents[2]


def version(python: Path, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min) on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers")
    parser.add_argument("--instances", type=int, default=1000, help="Generated instances (5 resources each).")
    parser.add_argument("--scan-platforms", type=int, default=200, help="Platforms of a bucket and a queue in moto.")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="Round trip the proxy adds to every call.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each governance command (the median).")
    parser.add_argument("--bench-dir", type=Path, default=REPO / ".bench", help="Where the peers' venvs are.")
    args = parser.parse_args()
    checkov = args.bench_dir / "checkov" / "bin" / "checkov"
    c7n = args.bench_dir / "c7n" / "bin" / "python"
    found = []
    for name, path, package in (("checkov", checkov, "checkov"), ("Cloud Custodian", c7n, "c7n")):
        if path.exists():
            found.append(f"{name} {version(path.parent / 'python', package)} ({path.parent.parent})")
        else:
            found.append(f"{name}: not installed at {path.parent.parent} (make bench-peers installs it)")
    print(f"peers side by side; {load()}")
    print("; ".join(found))
    with tempfile.TemporaryDirectory(prefix="mnops-bench-peers-") as tmp:
        governance(Path(tmp), args.instances, args.repeat, checkov if checkov.exists() else None)
    print(f"before the live scan: {load()}")
    scan = bench_scan(args.scan_platforms, args.latency_ms, c7n if c7n.exists() else None)
    print_scan(scan)
    print(f"at the end: {load()}")


def median_runs(repeat: int, work: dict[str, Callable[[], gov.Run]]) -> dict[str, gov.Run]:
    """Each command run `repeat` times, interleaved so that the load hits all alike; the run of median wall time."""
    runs: dict[str, list[gov.Run]] = {name: [] for name in work}
    for _ in range(repeat):
        for name, command in work.items():
            runs[name].append(command())
    return {name: sorted(done, key=lambda run: run.wall)[len(done) // 2] for name, done in runs.items()}


def governance(tmp: Path, instances: int, repeat: int, checkov: Path | None) -> None:
    root, platforms = gov.make_estate(tmp / "estate", instances)
    paired = gov.paired_only(root, tmp / "paired")
    policies = yaml.safe_load((root / GOVERNANCE_DIR / POLICIES_FILE).read_text())
    terraform_doc = gov.terraform(platforms)
    terraform = tmp / "estate.tf.json"
    terraform.write_text(json.dumps(terraform_doc, indent=1))
    template, logical = gov.cloudformation(platforms)
    cloudformation = tmp / "estate.cfn.json"
    cloudformation.write_text(json.dumps(template, indent=1))
    resources = sum(len(p.spec.resources) for p in platforms.values())
    blocks = sum(len(b) for b in terraform_doc["resource"].values())
    planted = ", ".join(f"{name}.{field}={json.dumps(value)} every {n}th" for n, _, name, field, value in gov.PLANTED)
    print(
        f"\ngovernance: {instances} generated instances, {resources} resources ({blocks} in Terraform JSON, "
        f"{len(template['Resources'])} in CloudFormation: a rotation resource per rotating secret); planted: {planted}"
    )
    tiny = generate_estate(tmp / "tiny", 1)  # the fixed cost of each command: an estate of one instance
    install_policies(tiny)
    tiny_paired = gov.paired_only(tiny, tmp / "tiny-paired")
    tiny_tf = tmp / "tiny.tf.json"
    tiny_tf.write_text(json.dumps(gov.terraform(gov.make_estate(tmp / "tiny-planted", 1)[1])))
    tf_checks = [pair.terraform for pair in gov.PAIRS]
    cfn_checks = [pair.cloudformation for pair in gov.PAIRS if pair.cloudformation]

    def by_address(resource: str) -> gov.Target:
        return gov.target_of(resource.split(".", 1)[1])

    def by_logical_id(resource: str) -> gov.Target:
        return logical[resource.split(".", 1)[1]]

    work: dict[str, Callable[[], gov.Run]] = {
        "everything": lambda: gov.run_mnops(root, tmp / "all.json"),
        "ours": lambda: gov.run_mnops(paired, tmp / "paired.json"),
        "start": lambda: gov.run_mnops(tiny_paired, tmp / "tiny.json"),
        "in_process": lambda: gov.run_in_process(paired),
    }
    if checkov is not None:
        work["terraform"] = lambda: gov.run_checkov(checkov, terraform, "terraform_json", tf_checks, by_address)
        work["cloudformation"] = lambda: gov.run_checkov(
            checkov, cloudformation, "cloudformation", cfn_checks, by_logical_id
        )
        work["their_start"] = lambda: gov.run_checkov(checkov, tiny_tf, "terraform_json", tf_checks, by_address)
    runs = median_runs(repeat, work)
    ours, start = runs["ours"], runs["start"]
    if checkov is not None:
        print(f"  {'mnops rule':<13}{'mnops':>6}  {'checkov check':<14}{'flagged':>8}{'in scope':>9}  same")
        for framework in ("terraform", "cloudformation"):
            print(f"  checkov --framework {'terraform_json' if framework == 'terraform' else framework}:")
            for row in gov.compare(platforms, policies, ours, runs[framework], framework):
                same = "yes" if row.same else "NO"
                print(
                    f"  {row.pair.rule:<13}{len(row.mnops):>6}  {getattr(row.pair, framework):<14}"
                    f"{len(row.checkov):>8}{len(row.in_scope):>9}  {same:<4}  {row.pair.note}"
                )
        print("  (checkov's checks know no tiers: `in scope` keeps its findings in the tiers the mnops rule judges)")
    unpaired = "; ".join(f"{k} {v}" for k, v in gov.UNPAIRED.items())
    print(f"  no checkov equivalent ({len(gov.UNPAIRED)} rules): {unpaired}")
    print(f"  {'median of ' + str(repeat) + ', interleaved':<46}{'wall s':>8}{'CPU s':>8}{'findings':>10}")
    figures(f"mnops enforce, all {len(policies['rules'])} rules", runs["everything"])
    figures(f"mnops enforce, the {len(gov.PAIRS)} paired rules", ours)
    figures("  the same in process (no command to start)", runs["in_process"])
    if checkov is None:
        print("  checkov: not installed, left out")
        return
    terraform_run, cloudformation_run, their_start = runs["terraform"], runs["cloudformation"], runs["their_start"]
    figures(f"checkov, terraform_json, {len(tf_checks)} paired checks", terraform_run)
    figures(f"checkov, cloudformation, {len(cfn_checks)} paired checks", cloudformation_run)
    for label, theirs in (("terraform_json", terraform_run), ("cloudformation", cloudformation_run)):
        print(
            f"  ratio checkov ({label}) / mnops (paired): wall {theirs.wall / ours.wall:.1f}x, "
            f"CPU {theirs.cpu / ours.cpu:.1f}x   goal >= 10x"
        )
    print(
        f"  fixed cost (1 instance):   mnops {start.wall:.2f} s wall {start.cpu:.2f} s CPU, checkov (terraform_json) "
        f"{their_start.wall:.2f} s wall {their_start.cpu:.2f} s CPU"
    )
    marginal_ours, marginal_theirs = ours.wall - start.wall, terraform_run.wall - their_start.wall
    if marginal_ours > 0:
        print(
            f"  beyond the fixed cost:     mnops {marginal_ours:.2f} s, checkov (terraform_json) "
            f"{marginal_theirs:.2f} s, ratio {marginal_theirs / marginal_ours:.1f}x"
        )


def figures(label: str, run: gov.Run) -> None:
    print(f"  {label:<46}{run.wall:>8.2f}{run.cpu:>8.2f}{run.count:>10}")


def print_scan(scan: ScanFigures) -> None:
    print(
        f"\nlive scan: {scan.platforms} platforms x (1 bucket + 1 queue) = {scan.resources} resources in moto's server "
        f"(own process; seeded in {scan.setup:.1f} s, not through the proxy), {scan.latency_ms:.0f} ms added to every "
        "call at the proxy both tools go through"
    )
    if scan.changes:
        print("  Cloud Custodian changed at run time, and nothing else:")
        for change in scan.changes:
            print(f"    - {change}")
    print(f"  {'':<36}{'wall s':>8}{'CPU s':>8}{'calls':>7}{'per resource':>14}{'found':>7}  every one")
    for s in scan.scans:
        cpu = f"{s.cpu:>8.2f}" if s.cpu is not None else f"{'-':>8}"
        every = "yes" if s.found >= scan.expected else f"NO ({len(scan.expected - s.found)} missed)"
        per = s.total_calls / scan.resources
        print(
            f"  {s.tool:<36}{s.wall:>8.2f}{cpu}{s.total_calls:>7}{per:>14.2f}{len(s.found & scan.expected):>7}  {every}"
        )
        print(f"  {'':<36}calls by service: {', '.join(f'{k} {v}' for k, v in sorted(s.calls.items()))}")
        if s.inner is not None:
            print(f"  {'':<36}c7n's own resource time (ResourceTime, both policies): {s.inner:.2f} s")
    if len(scan.scans) == 2:
        ours, theirs = scan.scans
        print(
            f"  ratio Cloud Custodian / mnops:    wall {theirs.wall / ours.wall:.1f}x (goal >= 3x); "
            f"calls per resource {theirs.total_calls / scan.resources:.2f} vs {ours.total_calls / scan.resources:.2f}"
        )
        if theirs.inner is not None:
            print(f"  ratio on c7n's own resource time: {theirs.inner / ours.wall:.1f}x")
    else:
        print("  Cloud Custodian: not installed, left out")


if __name__ == "__main__":
    main()
