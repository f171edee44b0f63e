"""Fixtures for the azure provider: one HTTPS fake of Resource Manager and its managed-identity token endpoint for the
session, reset after every test; the real `DefaultAzureCredential` finding its token there; a fresh adapter per test;
and the conformance target."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from adapters.azure import names
from adapters.azure.adapter import AzureAdapter
from adapters.base import Desired, Observed, ResourceKey
from contracts import contract_model
from tests.adapters.azure import azurite, fakearm
from tests.adapters.conformance import Target

# Azurite's accounts, fixed when it starts: each storage account made through the fake is given a free one.
BLOB_ACCOUNTS = [f"mnfake{index:03d}" for index in range(64)]
REPO = Path(__file__).resolve().parents[3]
# The shipped policies keep data in the EU: westeurope is one of the azure locations they allow.
REGION = "westeurope"
IMAGE = "mcr.microsoft.com/azurelinux/base/python:3.12"
# Variables that would send DefaultAzureCredential to another link of its chain (a service principal, the CLI).
UNSET = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_FEDERATED_TOKEN_FILE",
    "MSI_ENDPOINT",
    "MSI_SECRET",
)


@pytest.fixture(scope="session")
def arm() -> Iterator[fakearm.Served]:
    """The fake Resource Manager, its vaults and token endpoint, and Azurite holding its storage accounts' blobs
    (over HTTPS with the same certificate, bearer tokens required)."""
    with pytest.MonkeyPatch.context() as patch, fakearm.serve() as served:
        patch.setenv("IDENTITY_ENDPOINT", served.identity_endpoint)
        patch.setenv("IDENTITY_HEADER", fakearm.IDENTITY_HEADER)
        for name in UNSET:
            patch.delenv(name, raising=False)
        with azurite.serve(served.ca_bundle, served.key, BLOB_ACCOUNTS) as blobs:
            served.fake.blobs = fakearm.BlobData(blobs.url, blobs.keys, served.ca_bundle)
            try:
                yield served
            finally:
                served.fake.blobs = None


@pytest.fixture
def fake(arm: fakearm.Served) -> Iterator[fakearm.FakeArm]:
    yield arm.fake
    arm.fake.reset()


@pytest.fixture
def make_adapter(arm: fakearm.Served, fake: fakearm.FakeArm) -> Iterator[Callable[..., AzureAdapter]]:
    made: list[AzureAdapter] = []

    def make(**settings: object) -> AzureAdapter:
        defaults: dict[str, object] = {
            "region": REGION,
            "subscription_id": fakearm.SUBSCRIPTION,
            "arm_endpoint": arm.url,
            "ca_bundle": str(arm.ca_bundle),
            "polling_interval": 0,
            # Few retries: a test of an endpoint that is down should fail in a second, not back off for a minute.
            "retry_total": 1,
            "tenant_id": fakearm.TENANT,
            # The fake's vaults are reached by address, not under vault.azure.net.
            "verify_challenge_resource": False,
            "default_image": IMAGE,
        }
        adapter = AzureAdapter(**{**defaults, **settings})
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture
def adapter(make_adapter: Callable[..., AzureAdapter]) -> AzureAdapter:
    return make_adapter()


def tamper(adapter: AzureAdapter, observed: Observed) -> None:
    """Change a resource behind the engine's back through the management SDK, as a person in the portal would."""
    key = observed.key
    group = names.group(key.platform)
    if observed.contract == "storage/v1":
        account = names.storage_account(adapter.azure.subscription_id, key)
        adapter.azure.client("storage").blob_services.set_service_properties(
            group, account, {"properties": {"isVersioningEnabled": not observed.fields["versioning"]}}
        )
    elif observed.contract == "queue/v1":
        namespace = names.namespace(adapter.azure.subscription_id, key)
        servicebus = adapter.azure.client("servicebus")
        queue = servicebus.queues.get(group, namespace, key.name)
        seconds = observed.fields["visibility_timeout_seconds"] + 1
        servicebus.queues.create_or_update(
            group,
            namespace,
            key.name,
            {
                "properties": {
                    "lockDuration": f"PT{seconds}S",
                    "defaultMessageTimeToLive": f"PT{int(queue.default_message_time_to_live.total_seconds())}S",
                    "maxDeliveryCount": queue.max_delivery_count,
                    "requiresSession": queue.requires_session,
                }
            },
        )
    elif observed.contract == "secrets/v1":
        # A different value in place of the stored one, tags kept: real drift, seen through the value's HMAC.
        client = adapter.secrets._client(key.platform)
        current = client.get_secret(key.name)
        client.set_secret(key.name, "someone else's value", tags=current.properties.tags)
    elif observed.contract == "logging/v1":
        workspace = names.workspace(adapter.azure.subscription_id, key)
        days = observed.fields["retention_days"] + 1
        adapter.azure.client("loganalytics").tables.begin_update(
            group, workspace, "MnopsLogs_CL", {"properties": {"retentionInDays": days, "totalRetentionInDays": days}}
        ).result()
    elif observed.contract == "compute/v1":
        # A tag removed in the portal.
        apps = adapter.azure.client("appcontainers").container_apps
        app = names.container_app(adapter.azure.subscription_id, key)
        tags = dict(apps.get(group, app).tags or {})
        tags.pop(sorted(k for k in tags if not k.startswith("mnops"))[0])
        apps.begin_update(group, app, {"tags": tags}).result()
    else:
        raise AssertionError(f"no tampering for {observed.contract}")


def break_resource(adapter: AzureAdapter, observed: Observed) -> None:
    """Damage a resource so that its health check fails: remove what holds its data, keep its tracked resource."""
    key = observed.key
    group = names.group(key.platform)
    if observed.contract == "storage/v1":
        account = names.storage_account(adapter.azure.subscription_id, key)
        adapter.azure.client("storage").blob_containers.delete(group, account, names.CONTAINER)
    elif observed.contract == "queue/v1":
        namespace = names.namespace(adapter.azure.subscription_id, key)
        adapter.azure.client("servicebus").queues.delete(group, namespace, key.name)
    elif observed.contract == "secrets/v1":
        adapter.secrets._client(key.platform).update_secret_properties(key.name, enabled=False)
    elif observed.contract == "logging/v1":
        workspace = names.workspace(adapter.azure.subscription_id, key)
        adapter.azure.client("loganalytics").tables.begin_delete(group, workspace, "MnopsLogs_CL").result()
    elif observed.contract == "compute/v1":
        app = names.container_app(adapter.azure.subscription_id, key)
        adapter.azure.client("appcontainers").container_apps.begin_stop(group, app).result()
    else:
        raise AssertionError(f"no breaking for {observed.contract}")


@pytest.fixture
def target(make_adapter: Callable[..., AzureAdapter], arm: fakearm.Served) -> Target:
    adapter = make_adapter()
    return Target(
        adapter=adapter,
        region=REGION,
        tamper=partial(tamper, adapter),
        break_resource=partial(break_resource, adapter),
        failing=arm.down,
    )


def build(name: str, spec: dict[str, Any], platform: str = "dev", tags: dict[str, str] | None = None) -> Desired:
    """A Desired for resource `name` of `platform` from a spec as YAML would give it."""
    return Desired.build(
        ResourceKey(platform, name), contract_model(spec["contract"]).model_validate(spec), tags or {}, REGION
    )


@pytest.fixture
def dev_on_azure(arm, fake, tmp_path, monkeypatch) -> Path:
    """A copy of the shipped estate whose `dev` runs on azure: the provider declared once in ecosystem.yaml, then the
    one line that moves the instance. State and local resources under `tmp_path/.mnops`."""
    estate = tmp_path / "ecosystem"
    shutil.copytree(REPO / "ecosystem", estate)
    eco = estate / "ecosystem.yaml"
    settings = (
        f"{{subscription_id: '{fakearm.SUBSCRIPTION}', tenant_id: '{fakearm.TENANT}', arm_endpoint: '{arm.url}', "
        f"ca_bundle: '{arm.ca_bundle}', verify_challenge_resource: false, polling_interval: 0, retry_total: 1, "
        f"default_image: '{IMAGE}'}}"
    )
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n",
            f"    default_region: local\n  azure:\n    default_region: {REGION}\n    settings: {settings}\n",
        )
    )
    environment = estate / "platform-cloud" / "dev" / "environment.yaml"
    environment.write_text(environment.read_text() + "provider: azure\n")  # the one-line move
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return estate
