"""compute/v1 on Azure: a Container App in the platform's environment; secrets by Key Vault reference; sizes, image
and probes."""

from __future__ import annotations

import pytest

from adapters.azure import names
from adapters.azure.limits import app_size
from adapters.base import AdapterError
from tests.adapters.azure.conftest import IMAGE, build

SERVICE = {
    "contract": "compute/v1",
    "command": ["python", "-m", "http.server", "{port}"],
    "replicas": 2,
    "env": {"GREETING": "hello"},
    "health": {"http": "/healthz", "timeout_seconds": 25},
}


def app(adapter, key):
    apps = adapter.azure.client("appcontainers").container_apps
    return dict(apps.get(names.group(key.platform), names.container_app(adapter.azure.subscription_id, key)))


def test_a_service_is_a_container_app_in_the_platforms_environment(adapter, fake):
    created = adapter.compute.create(build("api", SERVICE))
    made = app(adapter, created.key)
    properties = made["properties"]
    assert properties["managedEnvironmentId"].endswith("/managedEnvironments/mnops-dev")
    [container] = properties["template"]["containers"]
    assert container["command"] == ["python", "-m", "http.server", "8080"]
    assert container["image"] == IMAGE
    assert {"name": "PORT", "value": "8080"} in container["env"]
    assert properties["template"]["scale"] == {"minReplicas": 2, "maxReplicas": 2}
    startup = next(p for p in container["probes"] if p["type"] == "Startup")
    assert startup["httpGet"] == {"path": "/healthz", "port": 8080}
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 25
    assert created.fields["command"] == SERVICE["command"]  # as declared, with {port}
    assert created.fields["env"] == {"GREETING": "hello"}  # PORT was added by the adapter, not declared
    assert created.fields == adapter.compute.desired_fields(build("api", SERVICE))


def test_sizes_are_rounded_up_to_what_container_apps_runs_and_larger_is_refused(adapter, fake):
    assert app_size(0.25, 512) == (0.25, 512)
    assert app_size(0.3, 600) == (0.5, 1024)
    assert app_size(0.25, 3000) == (1.5, 3072)
    want = build("api", {**SERVICE, "cpu": 8})
    with pytest.raises(AdapterError, match="cpu, memory_mb: Container Apps runs at most 4.0 vCPU") as raised:
        adapter.compute.create(want)
    assert raised.value.key == want.key
    assert fake.count("PUT") == 0


def test_without_an_image_compute_is_refused_naming_the_field(make_adapter):
    adapter = make_adapter(default_image=None)
    with pytest.raises(AdapterError, match="image: compute on azure runs containers"):
        adapter.compute.create(build("api", SERVICE))


def test_a_secret_is_passed_by_its_key_vault_reference_never_by_value(adapter):
    secret = adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate"}))
    value = adapter.secrets._client("dev").get_secret("api-key").value
    want = build("api", {**SERVICE, "env": {"API_KEY": "secret:api-key"}})
    created = adapter.compute.create(want)
    properties = app(adapter, created.key)["properties"]
    assert properties["configuration"]["secrets"] == [
        {"name": "api-key", "keyVaultUrl": secret.resource_id, "identity": "system"}
    ]
    assert {"name": "API_KEY", "secretRef": "api-key"} in properties["template"]["containers"][0]["env"]
    assert value not in repr(properties)
    assert created.fields["env"] == {"API_KEY": "secret:api-key"}


def test_a_secret_the_platform_does_not_have_is_an_error_naming_it(adapter):
    want = build("api", {**SERVICE, "env": {"API_KEY": "secret:missing-key"}})
    with pytest.raises(AdapterError, match="env API_KEY refers to secret 'missing-key'"):
        adapter.compute.create(want)


def test_a_plain_credential_like_value_is_shown_only_as_its_hmac(adapter):
    want = build("api", {**SERVICE, "env": {"DB_PASSWORD": "hunter2-plain"}})
    created = adapter.compute.create(want)
    assert created.fields["env"]["DB_PASSWORD"].startswith("hmac-sha256:")
    assert "hunter2-plain" not in repr(created)


def test_a_stopped_app_is_unhealthy_and_creating_again_starts_it(adapter):
    created = adapter.compute.create(build("api", SERVICE))
    apps = adapter.azure.client("appcontainers").container_apps
    apps.begin_stop(names.group("dev"), names.container_app(adapter.azure.subscription_id, created.key)).result()
    report = adapter.compute.health(created)
    assert not report.healthy and "Stopped" in report.detail
    adapter.compute.create(build("api", SERVICE))
    assert adapter.compute.health(created).healthy
