"""A fault proxy in front of moto's server (tests/faults/proxy.py): the aws adapter deploys, observes, updates and
destroys a platform of all six contracts through it while a share of its requests get 500, 503, throttling (400
Throttling, 429 with Retry-After) and connection resets on the way in and on the way out. Every step converges."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from adapters.aws import testing
from adapters.aws.adapter import AwsAdapter
from mnops_assets.engine import audit
from mnops_assets.engine.state import StateStore
from mnops_assets.estate.spec import PlatformSpec
from tests.faults.proxy import FAULTS, FaultProxy
from tests.mnops_assets.engine.platforms import make_engine

pytestmark = pytest.mark.slow

SHARE = 0.15
"""Requests the proxy answers itself. The adapter's own retry settings (8 adaptive attempts) carry them."""

PLATFORM = {
    "name": "dev",
    "template": "web-service",
    "tier": "dev",
    "provider": "aws",
    "region": testing.REGION,
    "owner": "team-storefront",
    "tags": {"service": "storefront"},
    "resources": {
        "assets": {"contract": "storage/v1", "versioning": True},
        "jobs": {"contract": "queue/v1", "retention_seconds": 86400},
        "api-key": {"contract": "secrets/v1", "from": "generate"},
        "app-logs": {"contract": "logging/v1", "retention_days": 14},
        "orders-db": {"contract": "database/v1", "engine_version": "15", "storage_gb": 20},
        "api": {
            "contract": "compute/v1",
            "command": ["python", "-m", "http.server", "{port}"],
            "env": {"API_KEY": "secret:api-key"},
            "depends_on": ["app-logs", "orders-db"],
        },
    },
}
NAMES = sorted(PLATFORM["resources"])


def spec(**changes: object) -> PlatformSpec:
    resources = {name: {**body, **changes.get(name, {})} for name, body in PLATFORM["resources"].items()}  # type: ignore[union-attr]
    return PlatformSpec.model_validate({**PLATFORM, "resources": resources})


@pytest.fixture(scope="module")
def moto() -> Iterator[testing.MotoServer]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in testing.ENVIRONMENT.items():
            patch.setenv(name, value)
        for name in testing.UNSET:
            patch.delenv(name, raising=False)
        with testing.moto_server() as server:
            yield server


@pytest.fixture
def proxy(moto) -> Iterator[FaultProxy]:
    with FaultProxy(moto.url, share=SHARE) as running:
        yield running
    moto.reset()


@pytest.fixture
def adapter(moto, proxy, tmp_path) -> Iterator[AwsAdapter]:
    session = boto3.Session(region_name=testing.REGION)
    ec2 = session.client("ec2", endpoint_url=moto.url)  # the network is made beside the proxy, not through it
    network = testing.make_network(ec2)
    ec2.close()
    made = AwsAdapter(
        region=testing.REGION,
        endpoint_url=proxy.url,
        subnets=network["subnets"],
        security_groups=network["security_groups"],
        execution_role_arn="arn:aws:iam::123456789012:role/mnops-task-execution",
        default_image="public.ecr.aws/docker/library/python:3.12-slim",
        health_poll_seconds=0.02,
        base_dir=tmp_path,
        session=session,
    )
    yield made
    made.close()


def test_a_platform_of_every_contract_deploys_observes_and_destroys_through_faults(adapter, proxy, tmp_path, faults):
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    engine = make_engine(store, adapter, tmp_path)
    try:
        with faults.family("aws-proxy") as episode:
            try:
                assert engine.deploy(spec()).version.version == 1
                assert sorted(adapter.observe("dev")) == NAMES
                assert engine.plan(spec()).changed is False  # observed through faults: no false drift
                updated = spec(jobs={"retention_seconds": 3600}, api={"replicas": 2})
                assert engine.deploy(updated).version.version == 2
                assert adapter.observe("dev")["jobs"].fields["retention_seconds"] == 3600
                engine.destroy(updated, force=True)
                assert adapter.observe("dev") == {}
            finally:
                episode.injected = proxy.total
            assert [d["status"] for d in store.deploys("dev")] == ["succeeded"] * 3
            assert store.lock_of("dev") is None and audit.verify(store) == []
        print(f"aws-proxy: {proxy.total} faults in {proxy.total + proxy.forwarded} requests: {dict(proxy.injected)}")
        assert set(proxy.injected) == set(FAULTS), proxy.injected  # every kind of fault was met, and survived
    finally:
        store.close()
