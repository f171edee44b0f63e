"""Observing many platforms at once: the same observations as one platform at a time, from bulk listings (each call
counted at the wire, by a botocore `before-send` handler: `testing.Wire`), with one broken platform failing alone."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.aws.adapter import AwsAdapter
from adapters.aws.testing import Wire
from adapters.base import AdapterError
from tests.adapters.aws.conftest import build

PLATFORMS = ("alpha", "beta", "gamma")
RESOURCES = {
    "files": {"contract": "storage/v1"},
    "jobs": {"contract": "queue/v1", "dead_letter": {"max_receives": 3}},
    "token": {"contract": "secrets/v1", "from": "generate"},
    "logs": {"contract": "logging/v1", "retention_days": 7},
    "api": {"contract": "compute/v1", "command": ["serve"], "replicas": 1},
}


def counting_adapter(make_adapter: Any, **settings: Any) -> tuple[AwsAdapter, Wire]:
    """An adapter on the test's moto with a session of its own, whose calls go through a `Wire`."""
    wire = Wire()
    adapter = make_adapter(session=wire.session, **settings)
    adapter.aws.hmac_key(), adapter.aws.account  # each read once per adapter: outside the counts
    wire.calls.clear()
    return adapter, wire


@pytest.fixture
def deployed(compute_adapter: AwsAdapter) -> AwsAdapter:
    for platform in PLATFORMS:
        for name, spec in RESOURCES.items():
            want = build(name, spec, platform, tags={"owner": "team-a"})
            compute_adapter.driver(want.contract).create(want)
    return compute_adapter


@pytest.fixture
def wired(deployed: AwsAdapter, make_adapter: Any, network: dict[str, str]) -> tuple[AwsAdapter, Wire]:
    """A second adapter on the same moto, whose calls are counted."""
    return counting_adapter(make_adapter, subnets=network["subnets"], security_groups=network["security_groups"])


def test_many_platforms_are_observed_as_one_at_a_time_would_observe_them(deployed):
    many = deployed.observe_many([*PLATFORMS, "nobody", "Not A Name"])
    assert many["nobody"] == {} and many["Not A Name"] == {}
    for platform in PLATFORMS:
        assert many[platform] == deployed.observe(platform)
        assert sorted(many[platform]) == sorted(RESOURCES)
        assert all(o.problem is None for o in many[platform].values())


def test_observation_lists_in_bulk_and_reads_per_resource_only_what_aws_cannot_list(wired):
    adapter, wire = wired
    found = adapter.observe_many(list(PLATFORMS))
    assert sum(len(f) for f in found.values()) == len(PLATFORMS) * len(RESOURCES)
    per_platform = len(PLATFORMS)
    assert wire.calls == {
        # One listing each, however many platforms: candidates with tags, queue URLs, log groups, secret values.
        "GetResources": 1,
        "ListQueues": 1,
        "DescribeLogGroups": 1,
        "BatchGetSecretValue": 1,
        # One cluster per platform, up to 10 services a call; each service's task definition.
        "DescribeServices": per_platform,
        "DescribeTaskDefinition": per_platform,
        "GetQueueAttributes": per_platform,
        # S3 has no bulk call: four settings a bucket (the policy is skipped while the public access block is on).
        "GetBucketVersioning": per_platform,
        "GetBucketEncryption": per_platform,
        "GetPublicAccessBlock": per_platform,
        "GetBucketLifecycleConfiguration": per_platform,
    }
    wire.calls.clear()
    assert adapter.observe_many(list(PLATFORMS)) == found
    assert "DescribeTaskDefinition" not in wire.calls  # a revision never changes: read once per adapter


def test_a_platform_that_cannot_be_read_fails_alone(wired, deployed):
    adapter, wire = wired
    bucket = deployed.storage.bucket(build("files", RESOURCES["files"], "beta").key)
    wire.fail = bucket
    found = adapter.observe_many(list(PLATFORMS))
    assert isinstance(found["beta"], AdapterError)
    url = f"{adapter.aws.endpoint_url}/{bucket}"
    reason = f'EndpointConnectionError: Could not connect to the endpoint URL: "{url}'
    assert str(found["beta"]).startswith(f"aws: observe beta/files failed: {reason}")
    assert sorted(found["alpha"]) == sorted(found["gamma"]) == sorted(RESOURCES)
    with pytest.raises(AdapterError, match="beta/files"):
        adapter.observe("beta")


def test_a_listing_that_fails_fails_every_platform_it_was_for(wired):
    adapter, wire = wired
    wire.fail = "/"  # every call
    found = adapter.observe_many(["alpha", "beta", "Not A Name"])
    assert found["Not A Name"] == {}
    for platform in ("alpha", "beta"):
        assert isinstance(found[platform], AdapterError)
        assert str(found[platform]).startswith("aws: observe failed: resources of 2 platforms: EndpointConnectionError")


def log_groups(adapter: AwsAdapter, platforms: list[str]) -> None:
    for platform in platforms:
        want = build("logs", RESOURCES["logs"], platform)
        adapter.logging.create(want)


def test_a_failed_tagging_listing_fails_only_the_platforms_it_was_for(adapter, make_adapter):
    platforms = [f"p{index:02d}" for index in range(21)]  # two listings: 20 platforms, then one
    log_groups(adapter, platforms)
    counted, wire = counting_adapter(make_adapter)
    wire.fail = '"p20"'  # the second listing's tag filter
    found = counted.observe_many(platforms)
    assert wire.calls["GetResources"] >= 2
    assert isinstance(found["p20"], AdapterError) and "resources of platform p20" in str(found["p20"])
    assert all(sorted(found[p]) == ["logs"] for p in platforms[:20])


def test_log_groups_are_listed_per_platform_once_the_namespace_outgrows_the_batch(adapter, make_adapter):
    platforms = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]  # 8: two pages at most
    log_groups(adapter, platforms)
    logs = adapter.aws.client("logs")
    for index in range(150):  # groups of other platforms, three pages' worth
        logs.create_log_group(logGroupName=f"/mnops/other-{index:03d}/logs")
    counted, wire = counting_adapter(make_adapter)
    found = counted.observe_many(platforms)
    assert all(sorted(found[p]) == ["logs"] for p in platforms)
    assert wire.calls["DescribeLogGroups"] == 2 + len(platforms)
    wire.calls.clear()
    assert counted.observe_many(platforms[:4]) == {p: found[p] for p in platforms[:4]}
    assert wire.calls["DescribeLogGroups"] == 1 + 4  # a budget of one page, then one listing each


def test_a_secret_that_cannot_be_read_fails_its_platform_not_its_batch(wired):
    adapter, wire = wired
    wire.fail = "mnops/beta/token"  # in the body of every call reading beta's secret
    found = adapter.observe_many(list(PLATFORMS))
    assert isinstance(found["beta"], AdapterError) and "secret values" in str(found["beta"])
    assert sorted(found["alpha"]) == sorted(found["gamma"]) == sorted(RESOURCES)
    # The batch of all three failed; then each secret was read on its own.
    assert wire.calls["BatchGetSecretValue"] > 1 + len(PLATFORMS)


def test_planning_a_generated_secret_asks_aws_nothing_observation_read_already(wired):
    adapter, wire = wired
    want = build("token", RESOURCES["token"], "alpha", tags={"owner": "team-a"})
    current = adapter.observe("alpha")["token"]
    wire.calls.clear()
    assert adapter.secrets.desired_fields(want, current) == adapter.secrets.desired_fields(want) == current.fields
    assert wire.calls == {"DescribeSecret": 1}  # only the call without the observation
