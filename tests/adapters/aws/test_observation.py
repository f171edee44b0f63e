"""Observing many platforms at once: the same observations as one platform at a time, from bulk listings (each call
counted at the wire, by a botocore `before-send` handler), with one broken platform failing alone."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from adapters.aws.adapter import AwsAdapter
from adapters.base import AdapterError
from tests.adapters.aws.conftest import REGION, build

PLATFORMS = ("alpha", "beta", "gamma")
RESOURCES = {
    "files": {"contract": "storage/v1"},
    "jobs": {"contract": "queue/v1", "dead_letter": {"max_receives": 3}},
    "token": {"contract": "secrets/v1", "from": "generate"},
    "logs": {"contract": "logging/v1", "retention_days": 7},
    "api": {"contract": "compute/v1", "command": ["serve"], "replicas": 1},
}


class Wire:
    """Every call's operation name, counted before it is sent; `fail` makes calls whose URL contains it fail as an
    unreachable endpoint would."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.fail: str | None = None

    def before_send(self, request: Any, event_name: str, **kwargs: Any) -> None:
        self.calls[event_name.rsplit(".", 1)[-1]] += 1
        if self.fail and self.fail in request.url:
            raise EndpointConnectionError(endpoint_url=request.url)


@pytest.fixture
def deployed(compute_adapter: AwsAdapter) -> AwsAdapter:
    for platform in PLATFORMS:
        for name, spec in RESOURCES.items():
            want = build(name, spec, platform, tags={"owner": "team-a"})
            compute_adapter.driver(want.contract).create(want)
    return compute_adapter


@pytest.fixture
def wired(deployed: AwsAdapter, make_adapter: Any, network: dict[str, str]) -> tuple[AwsAdapter, Wire]:
    """A second adapter on the same moto, on a session of its own whose calls go through a `Wire`."""
    wire = Wire()
    session = boto3.Session(region_name=REGION)
    session.events.register("before-send", wire.before_send)
    adapter = make_adapter(session=session, subnets=network["subnets"], security_groups=network["security_groups"])
    adapter.aws.hmac_key(), adapter.aws.account  # each read once per adapter: outside the counts
    wire.calls.clear()
    return adapter, wire


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
