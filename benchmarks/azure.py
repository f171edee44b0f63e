"""Azure observation benchmark: a drift scan of many platforms x 5 resources against the HTTPS fake of Resource Manager
and Key Vault the azure tests use, with a network round trip added at the server, our bulk and concurrent
observation against a naive serial scan.

The fake waits `latency` seconds before answering each call (Azure answers in tens of milliseconds, the fake in a few)
and counts every call it is sent, Resource Manager's and the vaults' alike; the managed-identity token endpoint is not
counted. It pages listings 1000 rows at a time, as Resource Manager does. Both scans use fresh adapters (no client, no
vault key known) and must return the same observations; the naive one is the obvious way, each declared resource read
by its derived name (`find`), one call after another.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from adapters.azure.adapter import AzureAdapter
from benchmarks import scans
from tests.adapters.azure import fakearm

REGION = "westeurope"
IMAGE = "mcr.microsoft.com/azurelinux/base/python:3.12"
RESOURCES, TAGS = scans.RESOURCES, scans.TAGS
# Variables that would send DefaultAzureCredential to another link of its chain.
UNSET = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_USERNAME", "MSI_ENDPOINT", "MSI_SECRET")


@dataclass(frozen=True)
class AzureFigures:
    platforms: int
    resources: int
    latency_ms: float
    threads: int
    setup: float
    naive: float
    naive_calls: int
    bulk: float
    bulk_calls: int


@contextmanager
def fake_azure() -> Iterator[fakearm.Served]:
    """The fake over HTTPS, and the environment that sends `DefaultAzureCredential` to its token endpoint."""
    names = ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", *UNSET]
    saved = {name: os.environ.get(name) for name in names}
    try:
        with fakearm.serve() as served:
            os.environ["IDENTITY_ENDPOINT"] = served.identity_endpoint
            os.environ["IDENTITY_HEADER"] = fakearm.IDENTITY_HEADER
            for name in UNSET:
                os.environ.pop(name, None)
            served.fake.page_size = 1000
            yield served
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def bench_azure_observation(platforms: int = 200, latency: float = 0.030, threads: int = 8) -> AzureFigures:
    with fake_azure() as served:
        return _bench(served, platforms, latency, threads)


def _bench(served: fakearm.Served, count: int, latency: float, threads: int) -> AzureFigures:
    names = [f"tenant-{index:04d}" for index in range(count)]

    def adapter(concurrency: int) -> AzureAdapter:
        return AzureAdapter(
            region=REGION,
            subscription_id=fakearm.SUBSCRIPTION,
            tenant_id=fakearm.TENANT,
            arm_endpoint=served.url,
            ca_bundle=str(served.ca_bundle),
            polling_interval=0,
            verify_challenge_resource=False,
            default_image=IMAGE,
            max_concurrency=concurrency,
        )

    builder = adapter(threads)
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda platform: scans.deploy(builder, platform, RESOURCES, TAGS, REGION), names))
    setup = time.perf_counter() - start
    builder.close()

    fake = served.fake
    naive, bulk = adapter(1), adapter(threads)
    try:
        fake.latency = latency
        bulk_found, bulk_time, bulk_calls = _measured(fake, lambda: scans.bulk_scan(bulk, names))
        naive_found, naive_time, naive_calls = _measured(fake, lambda: scans.naive_scan(naive, names, RESOURCES))
    finally:
        fake.latency = 0.0
        naive.close()
        bulk.close()
    resources = sum(len(found) for found in bulk_found.values())
    if bulk_found != naive_found or resources != count * len(RESOURCES):
        raise AssertionError("the bulk scan and the naive scan disagree")
    return AzureFigures(
        count, resources, latency * 1000, threads, setup, naive_time, naive_calls, bulk_time, bulk_calls
    )


def _measured(fake: fakearm.FakeArm, scan: Any) -> tuple[dict[str, dict[str, Any]], float, int]:
    before = fake.count()
    start = time.perf_counter()
    found = scan()
    return found, time.perf_counter() - start, fake.count() - before
