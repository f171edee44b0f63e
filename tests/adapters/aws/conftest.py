"""Fixtures for the aws provider: one moto server for the session, over real HTTP, reset after every test; a fresh
adapter per test with a VPC, subnet and security group made in moto; the conformance target; and the shipped estate
with `dev` moved to aws."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import pytest

from adapters.aws import testing
from adapters.aws.adapter import AwsAdapter
from adapters.base import Desired, ResourceKey
from contracts import contract_model
from tests.adapters.conformance import Target

REPO = Path(__file__).resolve().parents[3]
REGION = testing.REGION
# The shipped policies keep data in the EU: an estate's aws platforms live in eu-west-1, so their network is made there.
ESTATE_REGION = "eu-west-1"
IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/mnops-task-execution"


@pytest.fixture(scope="session")
def moto() -> Iterator[testing.MotoServer]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in testing.ENVIRONMENT.items():
            patch.setenv(name, value)
        for name in testing.UNSET:
            patch.delenv(name, raising=False)
        with testing.moto_server() as server:
            yield server


@pytest.fixture(scope="session")
def session(moto: testing.MotoServer) -> boto3.Session:
    """One boto3 session for every adapter of the run: a new one loads every service model again (~0.15 s)."""
    return boto3.Session(region_name=REGION)


@pytest.fixture
def endpoint(moto: testing.MotoServer) -> Iterator[str]:
    yield moto.url
    moto.reset()


@pytest.fixture(scope="session")
def ec2(moto: testing.MotoServer, session: boto3.Session) -> Iterator[Any]:
    """An EC2 client for making networks: one for the session, since making a client costs more than the calls."""
    client = session.client("ec2", endpoint_url=moto.url)
    yield client
    client.close()


@pytest.fixture
def network(endpoint: str, ec2: Any) -> dict[str, str]:
    return testing.make_network(ec2)


@pytest.fixture
def make_adapter(endpoint: str, session: boto3.Session, tmp_path: Path) -> Iterator[Callable[..., AwsAdapter]]:
    """Adapters on the test's moto; keyword arguments override settings. Compute needs `**network` as well: it is
    not made for every test because the first EC2 call after a reset costs moto a fifth of a second."""
    made: list[AwsAdapter] = []

    def make(**settings: object) -> AwsAdapter:
        defaults: dict[str, object] = {
            "region": REGION,
            "endpoint_url": endpoint,
            # Few attempts: a test of an unreachable endpoint should fail in milliseconds, not back off for seconds.
            "max_attempts": 2,
            "execution_role_arn": EXECUTION_ROLE,
            "default_image": IMAGE,
            "health_poll_seconds": 0.02,
            "base_dir": tmp_path,
            "session": session,
        }
        adapter = AwsAdapter(**{**defaults, **settings})
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture
def adapter(make_adapter: Callable[..., AwsAdapter]) -> AwsAdapter:
    """An adapter without networking settings: everything but compute."""
    return make_adapter()


@pytest.fixture
def compute_adapter(make_adapter: Callable[..., AwsAdapter], network: dict[str, str]) -> AwsAdapter:
    """An adapter that can run every contract, compute included."""
    return make_adapter(subnets=network["subnets"], security_groups=network["security_groups"])


@pytest.fixture
def target(request: pytest.FixtureRequest, make_adapter: Callable[..., AwsAdapter]) -> Target:
    settings: dict[str, object] = {}
    if getattr(request.node, "callspec", None) and request.node.callspec.params.get("contract") == "compute/v1":
        network = request.getfixturevalue("network")
        settings = {"subnets": network["subnets"], "security_groups": network["security_groups"]}
    adapter = make_adapter(**settings)
    return Target(
        adapter=adapter,
        region=REGION,
        tamper=partial(testing.tamper, adapter),
        break_resource=partial(testing.break_resource, adapter),
        failing=partial(testing.unreachable, adapter),
    )


@pytest.fixture
def estate_client(endpoint: str) -> Callable[[str], Any]:
    """boto3 clients on moto in the estate's aws region, for looking at or hurting what a deploy made there."""
    return lambda service: boto3.client(service, endpoint_url=endpoint, region_name=ESTATE_REGION)


@pytest.fixture
def dev_on_aws(
    endpoint: str, estate_client: Callable[[str], Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A copy of the shipped estate whose `dev` runs on aws (moto): the aws provider declared once in ecosystem.yaml,
    then the one line that moves the instance. State and local resources under `tmp_path/.mnops`."""
    network = testing.make_network(estate_client("ec2"))
    estate = tmp_path / "ecosystem"
    shutil.copytree(REPO / "ecosystem", estate)
    eco = estate / "ecosystem.yaml"
    settings = (
        f"{{endpoint_url: '{endpoint}', subnets: {network['subnets']}, security_groups: {network['security_groups']}, "
        "default_image: 'public.ecr.aws/docker/library/python:3.11', "
        "execution_role_arn: 'arn:aws:iam::123456789012:role/mnops-tasks'}"
    )
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n",
            f"    default_region: local\n  aws:\n    default_region: {ESTATE_REGION}\n    settings: {settings}\n",
        )
    )
    environment = estate / "platform-cloud" / "dev" / "environment.yaml"
    environment.write_text(environment.read_text() + "provider: aws\n")  # the one-line move
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", ESTATE_REGION)
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return estate


def build(name: str, spec: dict, platform: str = "dev", tags: dict | None = None) -> Desired:
    """A Desired for resource `name` of `platform` from a spec as YAML would give it (`from`, not `source`)."""
    return Desired.build(
        ResourceKey(platform, name), contract_model(spec["contract"]).model_validate(spec), tags or {}, REGION
    )


@pytest.fixture
def desired() -> Callable[..., Desired]:
    return build
