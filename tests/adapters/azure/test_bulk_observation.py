"""Observation in bulk on Azure: many platforms cost one listing of the subscription per tracked type, then only the
reads a listing cannot serve, counted at the fake's server; the result is what reading each resource by name gives."""

from __future__ import annotations

from adapters.azure import names
from adapters.azure.adapter import BULK_FROM
from adapters.base import AdapterError, ResourceKey
from benchmarks.azure import RESOURCES, TAGS, bench_azure_observation
from tests.adapters.azure.conftest import REGION, build

PLATFORMS = [f"tenant-{index}" for index in range(BULK_FROM + 1)]


def deploy(adapter, platform):
    for name, spec in RESOURCES.items():
        desired = build(name, spec, platform=platform, tags=TAGS)
        assert desired.region == REGION
        adapter.driver(desired.contract).create(desired)


def test_a_bulk_scan_lists_each_type_once_and_reads_only_children(make_adapter, fake):
    builder = make_adapter()
    for platform in PLATFORMS:
        deploy(builder, platform)
    fake.page_size = 1000
    try:
        scanner = make_adapter()
        before = len(fake.calls)
        found = scanner.observe_many(PLATFORMS)
        calls = fake.calls[before:]
    finally:
        fake.page_size = 5
    assert all(not isinstance(f, Exception) and len(f) == len(RESOURCES) for f in found.values())
    types = ("/storageaccounts", "/namespaces", "/vaults", "/workspaces", "/containerapps")
    listings = [path for _, path in calls if path.lower().endswith(types) and "/resourcegroups/" not in path.lower()]
    assert len(listings) == 5  # one a tracked type, for the whole subscription
    # Per platform: container, blob service and lifecycle policy; queue; the vault's listing; table. No value read.
    assert len(calls) == 5 + 6 * len(PLATFORMS)
    assert len(calls) / (len(PLATFORMS) * len(RESOURCES)) <= 1.5
    assert not any("/secrets/" in path for _, path in calls)


def test_a_bulk_scan_sees_what_reading_each_resource_sees_drift_included(make_adapter, fake):
    builder = make_adapter()
    for platform in PLATFORMS:
        deploy(builder, platform)
    # Drift behind the engine's back: a new value with the tags copied over, and a table's retention changed.
    client = builder.secrets._client(PLATFORMS[0])
    current = client.get_secret("api-token")
    client.set_secret("api-token", "someone else's value", tags=current.properties.tags)
    scanner = make_adapter()
    bulk = scanner.observe_many(PLATFORMS)
    naive = {
        platform: {
            name: scanner.driver(spec["contract"]).find(build(name, spec, platform=platform).key)
            for name, spec in RESOURCES.items()
        }
        for platform in PLATFORMS
    }
    assert bulk == naive
    written = bulk[PLATFORMS[0]]["api-token"]
    assert written.fields["value_hmac"] != written.private["mnops:value-hmac"]  # the drift shows


def test_the_benchmark_at_a_tiny_size_agrees_and_counts_its_calls():
    # Correctness and call counts only, never time: the benchmark asserts both scans observe the same.
    figures = bench_azure_observation(platforms=BULK_FROM + 1, latency=0.0)
    assert figures.resources == (BULK_FROM + 1) * len(RESOURCES)
    assert figures.bulk_calls / figures.resources <= 1.5
    assert figures.naive_calls / figures.resources > 2


def test_a_listing_that_fails_fails_every_platform_and_a_read_that_fails_its_own(make_adapter, fake, arm):
    builder = make_adapter()
    for platform in PLATFORMS[:BULK_FROM]:
        deploy(builder, platform)
    scanner = make_adapter()
    with arm.down():
        found = scanner.observe_many(PLATFORMS[:BULK_FROM])
    assert all(isinstance(f, AdapterError) and "listing of" in str(f) for f in found.values())
    # One platform's queue answers with an error: that platform alone fails, naming the resource.
    key = ResourceKey(PLATFORMS[0], "jobs")
    namespace = names.namespace(scanner.azure.subscription_id, key)
    fake.failing_reads.add(
        f"/subscriptions/{scanner.azure.subscription_id}/resourcegroups/{names.group(key.platform)}"
        f"/providers/microsoft.servicebus/namespaces/{namespace}/queues/jobs".lower()
    )
    found = scanner.observe_many(PLATFORMS[:BULK_FROM])
    assert isinstance(found[PLATFORMS[0]], AdapterError) and found[PLATFORMS[0]].key == key
    assert all(len(found[p]) == len(RESOURCES) for p in PLATFORMS[1:BULK_FROM])
