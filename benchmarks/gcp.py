"""GCP observation benchmark: a drift scan of many platforms x 5 resources (one of each contract) against the servers
the gcp tests use, with a network round trip added at the servers, our bulk observation against a naive serial scan.

Cloud Storage is gcp-storage-emulator (its route table counts and delays every request), Pub/Sub the official
emulator in its own process behind a counting proxy, Secret Manager, Cloud Logging and Cloud Run the in-process gRPC
fakes behind a counting interceptor: calls are counted where they arrive, never by patching the client. Both scans read
the same resources and must return the same observations; the naive one is the obvious way, each declared resource
read by its derived name (`find`), one call after another.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from adapters.gcp.adapter import GcpAdapter
from benchmarks import scans
from tests.adapters.gcp import gcs
from tests.adapters.gcp.grpc_fakes import Fakes, grpc_fakes
from tests.adapters.gcp.pubsub import PubSubEmulator, emulator_missing, pubsub_emulator

PROJECT = "mnops-bench"
LOCATION = "europe-west1"
RESOURCES, TAGS = scans.RESOURCES, scans.TAGS


@dataclass(frozen=True)
class GcpFigures:
    platforms: int
    resources: int
    latency_ms: float
    threads: int
    setup: float
    naive: float
    naive_calls: int
    batched: float
    batched_calls: int


class Servers:
    """Every server of the scan, and the calls they received and the latency they add, summed."""

    def __init__(self, storage: gcs.GcsEmulator, pubsub: PubSubEmulator, fakes: Fakes) -> None:
        self.storage, self.pubsub, self.fakes = storage, pubsub, fakes

    def calls(self) -> int:
        return sum(gcs.CALLS.values()) + sum(self.pubsub.proxy.calls.values()) + sum(self.fakes.counting.calls.values())

    @contextmanager
    def measured(self, latency: float) -> Iterator[list[float]]:
        """Seconds taken and calls received inside the block, with `latency` added to every call: `[seconds, calls]`."""
        gcs.LATENCY["seconds"] = self.pubsub.proxy.delay = self.fakes.counting.delay = latency
        before = self.calls()
        figures = [0.0, 0.0]
        start = time.perf_counter()
        try:
            yield figures
        finally:
            figures[0] = time.perf_counter() - start
            figures[1] = self.calls() - before
            gcs.LATENCY["seconds"] = self.pubsub.proxy.delay = self.fakes.counting.delay = 0.0


def gcp_unavailable() -> str | None:
    """Why the gcp benchmark cannot run here, or None."""
    return emulator_missing()


def bench_gcp_observation(platforms: int = 200, latency: float = 0.030, threads: int = 16) -> GcpFigures:
    with ExitStack() as stack:
        storage = stack.enter_context(gcs.gcs_emulator())
        pubsub = stack.enter_context(pubsub_emulator())
        fakes = stack.enter_context(grpc_fakes())
        return _bench(Servers(storage, pubsub, fakes), platforms, latency, threads)


def _bench(servers: Servers, count: int, latency: float, threads: int) -> GcpFigures:
    names = [f"tenant-{index:04d}" for index in range(count)]

    def adapter(concurrency: int) -> GcpAdapter:
        return GcpAdapter(
            project=PROJECT,
            location=LOCATION,
            anonymous=True,
            storage_endpoint=servers.storage.url,
            grpc_endpoint=servers.fakes.address,
            pubsub_endpoint=servers.pubsub.address,
            default_image="europe-docker.pkg.dev/mnops/bench/api:1",
            max_concurrency=concurrency,
        )

    builder = adapter(threads)
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda platform: scans.deploy(builder, platform, RESOURCES, TAGS, LOCATION), names))
    setup = time.perf_counter() - start
    builder.close()

    naive, batched = adapter(1), adapter(threads)
    try:
        # Warm-up outside the measurement: both read the HMAC key once, and make their clients.
        scans.naive_scan(naive, names[:1], RESOURCES)
        scans.bulk_scan(batched, names[:1])
        with servers.measured(latency) as fast:
            batched_found = scans.bulk_scan(batched, names)
        with servers.measured(latency) as slow:
            naive_found = scans.naive_scan(naive, names, RESOURCES)
    finally:
        naive.close()
        batched.close()
    resources = sum(len(found) for found in batched_found.values())
    if batched_found != naive_found or resources != count * len(RESOURCES):
        raise AssertionError("the batched scan and the naive scan disagree")
    return GcpFigures(count, resources, latency * 1000, threads, setup, slow[0], int(slow[1]), fast[0], int(fast[1]))
