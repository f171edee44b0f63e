"""Live scan side by side: buckets and queues of N platforms in moto's server, read by mnops's drift scan (the aws
adapter's `observe_many`) and by Cloud Custodian policies filtering on the same identity tag, both through one
forwarding proxy (`benchmarks.peers.proxy`) that adds the round trip to every call and counts it.

mnops runs in this process (as it does in the engine and the drift sensor); Cloud Custodian runs as its `custodian`
command from its own venv, so its figure includes starting Python and loading c7n, and the time c7n itself reports
for fetching resources is printed beside it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.aws import testing
from adapters.aws.adapter import AwsAdapter
from adapters.aws.testing import Wire
from adapters.base import TAG_PLATFORM, TAG_RESOURCE, Desired, ResourceKey
from benchmarks.aws import moto_process
from contracts import contract_model

LAUNCHER = Path(__file__).with_name("custodian_run.py")
# One bucket and one queue a platform; no dead-letter queue, so that a queue is one SQS queue for both tools.
SEEDED: dict[str, dict[str, Any]] = {
    "exports": {"contract": "storage/v1", "versioning": True},
    "jobs": {"contract": "queue/v1", "retention_seconds": 86400},
}
TAGS = {"owner": "platform-team", "cost-center": "cc-1042", "environment": "bench"}
POLICIES = {"s3": "mnops-buckets", "sqs": "mnops-queues"}


@dataclass(frozen=True)
class Scan:
    tool: str
    wall: float
    calls: dict[str, int]
    found: frozenset[tuple[str, str]]
    cpu: float | None = None
    inner: float | None = None
    """The time the tool itself reports for the scan (c7n's resource fetch), when it runs as a process."""

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


@dataclass(frozen=True)
class ScanFigures:
    platforms: int
    resources: int
    latency_ms: float
    threads: int
    setup: float
    scans: list[Scan]
    expected: frozenset[tuple[str, str]]
    changes: list[str]


@contextmanager
def proxy(target: str, latency_ms: float) -> Iterator[str]:
    """The counting, delaying proxy in front of `target`, in a process of its own; its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.peers.proxy", target, str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url:
            raise RuntimeError("the proxy did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def proxy_calls(url: str, reset: bool = False) -> dict[str, int]:
    request = urllib.request.Request(
        f"{url}/__proxy__/calls", method="POST" if reset else "GET", data=b"" if reset else None
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def bench_scan(platforms: int, latency_ms: float, c7n_python: Path | None, threads: int = 16) -> ScanFigures:
    saved = {name: os.environ.get(name) for name in [*testing.ENVIRONMENT, *testing.UNSET]}
    os.environ.update(testing.ENVIRONMENT)
    for name in testing.UNSET:
        os.environ.pop(name, None)
    try:
        with moto_process() as moto, proxy(moto, latency_ms) as url:
            return _bench(moto, url, platforms, latency_ms, c7n_python, threads)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _adapter(url: str, threads: int) -> AwsAdapter:
    return AwsAdapter(endpoint_url=url, session=Wire().session, max_concurrency=threads)


def _bench(moto: str, url: str, count: int, latency_ms: float, c7n_python: Path | None, threads: int) -> ScanFigures:
    names = [f"tenant-{index:04d}" for index in range(count)]
    builder = _adapter(moto, threads)  # seeded straight into moto: neither delayed nor counted
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda platform: _seed(builder, platform), names))
    setup = time.perf_counter() - start
    builder.close()
    expected = frozenset((p, name) for p in names for name in SEEDED)

    scans = [_mnops(url, names, threads)]
    changes: list[str] = []
    if c7n_python is not None:
        changes = subprocess.run(
            [str(c7n_python), str(LAUNCHER), "--changes"], check=True, capture_output=True, text=True
        ).stdout.splitlines()
        scans.append(_custodian(url, names, c7n_python))
    return ScanFigures(count, len(expected), latency_ms, threads, setup, scans, expected, changes)


def _seed(adapter: AwsAdapter, platform: str) -> None:
    for name, spec in SEEDED.items():
        key = ResourceKey(platform, name)
        desired = Desired.build(key, contract_model(spec["contract"]).model_validate(spec), TAGS, testing.REGION)
        adapter.driver(desired.contract).create(desired)


def _mnops(url: str, names: list[str], threads: int) -> Scan:
    """A cold scan: a new adapter, so reading the account id and making clients are in the figure, as for c7n."""
    adapter = _adapter(url, threads)
    try:
        proxy_calls(url, reset=True)
        start = time.perf_counter()
        observed = adapter.observe_many(names)
        wall = time.perf_counter() - start
        calls = proxy_calls(url, reset=True)
    finally:
        adapter.close()
    failed = {p: r for p, r in observed.items() if isinstance(r, Exception)}
    if failed:
        raise RuntimeError(f"mnops's scan failed: {failed}")
    found = frozenset((p, name) for p, resources in observed.items() for name in resources)  # type: ignore[union-attr]
    return Scan("mnops drift scan", wall, calls, found)


def custodian_policies(names: list[str]) -> dict[str, Any]:
    """One policy a resource type, each keeping the resources whose identity tag names one of the platforms."""
    match = {"type": "value", "key": f"tag:{TAG_PLATFORM}", "op": "in", "value": names}
    return {
        "policies": [{"name": name, "resource": f"aws.{kind}", "filters": [match]} for kind, name in POLICIES.items()]
    }


def _custodian(url: str, names: list[str], python: Path) -> Scan:
    with tempfile.TemporaryDirectory(prefix="mnops-bench-c7n-") as tmp:
        policy_file = Path(tmp) / "policies.json"
        policy_file.write_text(json.dumps(custodian_policies(names)))
        output = Path(tmp) / "out"
        environment = {**os.environ, "AWS_ENDPOINT_URL": url}
        command = [str(python), str(LAUNCHER), "run", "--cache-period", "0", "--region", testing.REGION]
        command += ["-s", str(output), str(policy_file)]
        proxy_calls(url, reset=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        calls = proxy_calls(url, reset=True)
        if done.returncode != 0:
            raise RuntimeError(f"custodian failed ({done.returncode}): {done.stderr[-2000:]}")
        found: set[tuple[str, str]] = set()
        inner = 0.0
        for policy in POLICIES.values():
            for item in json.loads((output / policy / "resources.json").read_text()):
                tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
                found.add((tags.get(TAG_PLATFORM, "?"), tags.get(TAG_RESOURCE, "?")))
            metadata = json.loads((output / policy / "metadata.json").read_text())
            inner += sum(m["Value"] for m in metadata.get("metrics", []) if m.get("MetricName") == "ResourceTime")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Scan("Cloud Custodian (custodian run)", wall, calls, frozenset(found), cpu, inner or None)
