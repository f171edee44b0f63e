"""AWS observation benchmark: a drift scan of many platforms x 5 resources against moto's server, with a network round
trip added on the client, our batched and concurrent observation against a naive serial scan.

moto's server runs in a process of its own (in this process it would compete with the client threads for the GIL),
and every call waits `latency` seconds in a botocore `before-send` handler before it is sent: moto answers in a few
milliseconds, AWS in tens. Only this benchmark registers that handler. Both scans read the same resources and must
return the same observations; the naive one is the obvious way, each declared resource read by its derived name
(`find`), one call after another.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import boto3

from adapters.aws import testing
from adapters.aws.adapter import AwsAdapter
from adapters.aws.testing import Wire
from benchmarks import scans

REGION = testing.REGION
RESOURCES, TAGS = scans.RESOURCES, scans.TAGS


@dataclass(frozen=True)
class AwsFigures:
    platforms: int
    resources: int
    latency_ms: float
    threads: int
    setup: float
    naive: float
    naive_calls: int
    batched: float
    batched_calls: int
    warm: float
    warm_calls: int


@contextmanager
def moto_process() -> Iterator[str]:
    """moto's server in a process of its own on a free port of 127.0.0.1; stopped on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = os.path.join(os.path.dirname(sys.executable), "moto_server")
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def bench_aws_observation(platforms: int = 200, latency: float = 0.030, threads: int = 16) -> AwsFigures:
    saved = {name: os.environ.get(name) for name in [*testing.ENVIRONMENT, *testing.UNSET]}
    os.environ.update(testing.ENVIRONMENT)
    for name in testing.UNSET:
        os.environ.pop(name, None)
    try:
        with moto_process() as url:
            return _bench(url, platforms, latency, threads)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _bench(url: str, count: int, latency: float, threads: int) -> AwsFigures:
    network = testing.make_network(boto3.client("ec2", endpoint_url=url, region_name=REGION))
    names = [f"tenant-{index:04d}" for index in range(count)]

    def adapter(wire: Wire, concurrency: int) -> AwsAdapter:
        return AwsAdapter(
            endpoint_url=url,
            session=wire.session,
            max_concurrency=concurrency,
            default_image="public.ecr.aws/docker/library/python:3.12-slim",
            execution_role_arn="arn:aws:iam::123456789012:role/mnops-tasks",
            subnets=network["subnets"],
            security_groups=network["security_groups"],
        )

    builder = adapter(Wire(), threads)
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda platform: scans.deploy(builder, platform, RESOURCES, TAGS, REGION), names))
    setup = time.perf_counter() - start
    builder.close()

    naive_wire, batched_wire = Wire(), Wire()
    naive, batched = adapter(naive_wire, 1), adapter(batched_wire, threads)
    try:
        # Warm-up outside the measurement: both read the HMAC key once, and make their clients.
        scans.naive_scan(naive, names[:1], RESOURCES)
        scans.bulk_scan(batched, names[:1])
        with batched_wire.measured(latency) as fast:
            batched_found = scans.bulk_scan(batched, names)
        with batched_wire.measured(latency) as warm:
            scans.bulk_scan(batched, names)
        with naive_wire.measured(latency) as slow:
            naive_found = scans.naive_scan(naive, names, RESOURCES)
    finally:
        naive.close()
        batched.close()
    resources = sum(len(found) for found in batched_found.values())
    if batched_found != naive_found or resources != count * len(RESOURCES):
        raise AssertionError("the batched scan and the naive scan disagree")
    return AwsFigures(
        count,
        resources,
        latency * 1000,
        threads,
        setup,
        slow[0],
        int(slow[1]),
        fast[0],
        int(fast[1]),
        warm[0],
        int(warm[1]),
    )
