"""Fixtures for the gcp provider: the Cloud Storage emulator, the Pub/Sub emulator and the gRPC fakes for the session,
wiped after every test; a fresh adapter per test; the conformance target."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Desired, Observed, ResourceKey
from adapters.gcp.adapter import GcpAdapter
from contracts import contract_model
from tests.adapters.conformance import Target
from tests.adapters.gcp.gcs import GcsEmulator, gcs_emulator
from tests.adapters.gcp.grpc_fakes import Fakes, LoggingConfig, SecretManager
from tests.adapters.gcp.grpc_fakes import grpc_fakes as serve_fakes
from tests.adapters.gcp.pubsub import PubSubEmulator, emulator_missing, pubsub_emulator

REPO = Path(__file__).resolve().parents[3]
PROJECT = "mnops-test"
IMAGE = "us-docker.pkg.dev/cloudrun/container/hello"
PROJECT_NUMBER = "123456789012"
TAG_VALUE = "tagValues/281484271805521"
LOCATION = "europe-west1"


@pytest.fixture(scope="session")
def gcs() -> Iterator[GcsEmulator]:
    with gcs_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def grpc_fakes() -> Iterator[Fakes]:
    """The gRPC fakes (Secret Manager, Cloud Logging's configuration, Cloud Run, Resource Manager holding the test
    project and one tag value) on one port, for the session."""
    with serve_fakes() as served:
        served.resource_manager.add_project(PROJECT, PROJECT_NUMBER)
        served.resource_manager.tag_values.add(TAG_VALUE)
        yield served


@pytest.fixture(scope="session")
def pubsub() -> Iterator[PubSubEmulator | None]:
    """The Pub/Sub emulator behind its proxy, for the session; None where it is not installed (queue tests skip)."""
    if emulator_missing():
        yield None
        return
    with pubsub_emulator() as emulator:
        yield emulator


@pytest.fixture
def pubsub_proxy(pubsub: PubSubEmulator | None) -> PubSubEmulator:
    if pubsub is None:
        pytest.skip(str(emulator_missing()))
    return pubsub


@pytest.fixture
def secrets_fake(grpc_fakes: Fakes) -> SecretManager:
    return grpc_fakes.secrets


@pytest.fixture
def logging_fake(grpc_fakes: Fakes) -> LoggingConfig:
    return grpc_fakes.logging


@pytest.fixture
def make_adapter(
    gcs: GcsEmulator,
    grpc_fakes: Fakes,
    pubsub: PubSubEmulator | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., GcpAdapter]]:
    """Adapters on the session's emulators, anonymous; keyword arguments override settings."""
    # Nothing may fall back to a developer's real credentials or project.
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "STORAGE_EMULATOR_HOST",
        "PUBSUB_EMULATOR_HOST",
    ):
        monkeypatch.delenv(name, raising=False)
    made: list[GcpAdapter] = []

    def make(**settings: object) -> GcpAdapter:
        defaults: dict[str, object] = {
            "project": PROJECT,
            "location": LOCATION,
            "anonymous": True,
            "storage_endpoint": gcs.url,
            "grpc_endpoint": grpc_fakes.address,
            # Without the emulator, a port nothing listens on: no queue test runs then, and nothing reaches Google.
            "pubsub_endpoint": pubsub.address if pubsub is not None else grpc_fakes.address,
            # Short: a test of an unreachable endpoint should fail in a fraction of a second, not retry for a minute.
            "retry_seconds": 0.3,
            "default_image": IMAGE,
            "base_dir": tmp_path,
        }
        adapter = GcpAdapter(**{**defaults, **settings})
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()
    gcs.wipe()
    grpc_fakes.reset()
    if pubsub is not None:
        pubsub.wipe(PROJECT)


@pytest.fixture
def adapter(make_adapter: Callable[..., GcpAdapter]) -> GcpAdapter:
    return make_adapter()


def tamper(adapter: GcpAdapter, observed: Observed) -> None:
    """Change a resource behind the engine's back, through the client libraries, as a person with console access
    would."""
    if observed.contract == "storage/v1":
        bucket = adapter.gcp.storage().get_bucket(adapter.storage.bucket(observed.key))
        bucket.versioning_enabled = not observed.fields["versioning"]
        bucket.patch()
    elif observed.contract == "secrets/v1":
        # A different value in place of the stored one: real drift, seen through the value's HMAC.
        adapter.gcp.secret_manager().add_secret_version(
            request={"parent": observed.resource_id, "payload": {"data": b"someone else's value"}}
        )
    elif observed.contract == "queue/v1":
        adapter.gcp.subscriber().update_subscription(
            request={
                "subscription": {"name": observed.resource_id, "ack_deadline_seconds": 17},
                "update_mask": {"paths": ["ack_deadline_seconds"]},
            }
        )
    elif observed.contract == "compute/v1":
        service = adapter.gcp.run_services().get_service(name=observed.resource_id)
        service.template.scaling.min_instance_count = observed.fields["replicas"] + 2
        service.template.scaling.max_instance_count = observed.fields["replicas"] + 2
        adapter.gcp.run_services().update_service(service=service).result()
    elif observed.contract == "logging/v1":
        adapter.gcp.logging_config().update_bucket(
            request={
                "name": observed.resource_id,
                "bucket": {"retention_days": observed.fields["retention_days"] + 1},
                "update_mask": {"paths": ["retention_days"]},
            }
        )
    else:
        raise AssertionError(f"no way to tamper with {observed.contract}")


def break_resource(adapter: GcpAdapter, fakes: Fakes, observed: Observed) -> None:
    """Damage a resource so that its health check fails."""
    if observed.contract == "storage/v1":
        adapter.gcp.storage().get_bucket(adapter.storage.bucket(observed.key)).delete(force=True)
    elif observed.contract == "secrets/v1":
        adapter.gcp.secret_manager().delete_secret(name=observed.resource_id)
    elif observed.contract == "queue/v1":
        # The subscription stays, detached for good from its deleted topic.
        adapter.gcp.publisher().delete_topic(request={"topic": adapter.queue.topic(observed.key)})
    elif observed.contract == "compute/v1":
        fakes.run.crash(observed.resource_id)  # its container stops serving: no API call does that
    elif observed.contract == "logging/v1":
        adapter.gcp.logging_config().delete_bucket(request={"name": observed.resource_id})
    else:
        raise AssertionError(f"no way to break {observed.contract}")


@contextmanager
def unreachable(adapter: GcpAdapter) -> Iterator[None]:
    """Every call the adapter makes meanwhile fails to connect: its endpoints become a port nothing listens on."""
    original = adapter.gcp.storage_endpoint, adapter.gcp.grpc_endpoint, adapter.gcp.pubsub_endpoint
    # Bound but not listening: connections are refused for as long as the socket is held, and no one else gets it.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        adapter.gcp.reconnect(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", f"127.0.0.1:{port}")
        try:
            yield
        finally:
            adapter.gcp.reconnect(*original)


@pytest.fixture
def target(
    make_adapter: Callable[..., GcpAdapter],
    grpc_fakes: Fakes,
    pubsub: PubSubEmulator | None,
    request: pytest.FixtureRequest,
) -> Target:
    callspec = getattr(request.node, "callspec", None)
    if pubsub is None and callspec is not None and callspec.params.get("contract") == "queue/v1":
        pytest.skip(str(emulator_missing()))
    # The project marked through Resource Manager too, as a production estate would have it.
    adapter = make_adapter(project_identity="labels")
    return Target(
        adapter=adapter,
        region=LOCATION,
        tamper=partial(tamper, adapter),
        break_resource=partial(break_resource, adapter, grpc_fakes),
        failing=partial(unreachable, adapter),
    )


def build(name: str, spec: dict[str, Any], platform: str = "dev", tags: dict[str, str] | None = None) -> Desired:
    """A Desired for resource `name` of `platform` from a spec as YAML would give it (`from`, not `source`)."""
    return Desired.build(
        ResourceKey(platform, name), contract_model(spec["contract"]).model_validate(spec), tags or {}, LOCATION
    )


@pytest.fixture
def dev_on_gcp(
    gcs: GcsEmulator,
    grpc_fakes: Fakes,
    pubsub_proxy: PubSubEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """A copy of the shipped estate whose `dev` runs on gcp: the provider declared once in ecosystem.yaml, then the
    one line that moves the instance. State under `tmp_path/.mnops`; the servers wiped afterwards."""
    estate = tmp_path / "ecosystem"
    shutil.copytree(REPO / "ecosystem", estate)
    eco = estate / "ecosystem.yaml"
    settings = (
        f"{{project: {PROJECT}, anonymous: true, storage_endpoint: '{gcs.url}', grpc_endpoint: '{grpc_fakes.address}', "
        f"pubsub_endpoint: '{pubsub_proxy.address}', default_image: '{IMAGE}', project_identity: labels, "
        "retry_seconds: 1}"
    )
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n",
            f"    default_region: local\n  gcp:\n    default_region: {LOCATION}\n    settings: {settings}\n",
        )
    )
    environment = estate / "platform-cloud" / "dev" / "environment.yaml"
    environment.write_text(environment.read_text() + "provider: gcp\n")  # the one-line move
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    yield estate
    gcs.wipe()
    grpc_fakes.reset()
    pubsub_proxy.wipe(PROJECT)
