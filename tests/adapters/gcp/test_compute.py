"""compute/v1 on GCP, against the Cloud Run v2 fake: the service's container, scaling, probes and sizes; secrets as
Secret Manager references, never values; long-running operations polled; etags; refusals; observation from one
listing."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as api_exceptions

from adapters.base import AdapterError, ResourceKey
from adapters.gcp.adapter import GcpAdapter
from tests.adapters.gcp.conftest import IMAGE, build
from tests.adapters.gcp.grpc_fakes import Fakes

API = {
    "contract": "compute/v1",
    "command": ["python", "-m", "http.server", "{port}"],
    "replicas": 2,
    "cpu": 1.5,
    "memory_mb": 1024,
    "env": {"GREETING": "hello"},
    "health": {"http": "/healthz", "timeout_seconds": 30},
}


def test_a_service_runs_the_command_on_its_port_with_its_scaling_size_and_probes(
    adapter: GcpAdapter, grpc_fakes: Fakes
) -> None:
    made = adapter.compute.create(build("api", API, tags={"team": "shop"}))
    service = adapter.gcp.run_services().get_service(name=made.resource_id)
    container = service.template.containers[0]
    assert container.image == IMAGE
    assert [*container.command, *container.args] == ["python", "-m", "http.server", "8080"]
    assert container.ports[0].container_port == 8080
    assert service.template.scaling.min_instance_count == service.template.scaling.max_instance_count == 2
    assert dict(container.resources.limits) == {"cpu": "2", "memory": "1024Mi"}
    assert container.startup_probe.http_get.path == container.readiness_probe.http_get.path == "/healthz"
    assert container.startup_probe.period_seconds * container.startup_probe.failure_threshold >= 30
    assert service.labels["mnops-contract"] == "compute_v1" and service.labels["team"] == "shop"
    # Observed as declared: `{port}` where it was written, the size Cloud Run really gives.
    assert made.fields["command"] == API["command"] and made.fields["cpu"] == 2.0
    assert adapter.compute.health(made).healthy
    # Every write was a long-running operation, polled until done.
    assert grpc_fakes.counting.calls["GetOperation"] >= 1


def test_a_secret_reaches_the_service_as_a_reference_never_its_value(
    adapter: GcpAdapter, grpc_fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "hunter2-but-longer")
    adapter.secrets.create(build("db-password", {"contract": "secrets/v1", "from": "env:DB_PASSWORD"}))
    spec = {**API, "env": {"DB_PASSWORD": "secret:db-password", "API_TOKEN": "plain-but-sensitive"}}
    made = adapter.compute.create(build("api", spec))
    service = grpc_fakes.run.services[made.resource_id]
    assert "hunter2" not in str(type(service).to_json(service))
    reference = {v.name: v for v in service.template.containers[0].env}["DB_PASSWORD"].value_source.secret_key_ref
    assert reference.secret == "projects/mnops-test/secrets/mnops-dev_db-password"
    assert reference.version == "latest"
    assert made.fields["env"]["DB_PASSWORD"] == "secret:db-password"
    # A plain value under a credential-like name is shown as its HMAC, never as itself.
    assert made.fields["env"]["API_TOKEN"] == adapter.secrets.value_hmac("plain-but-sensitive")


def test_a_reference_to_a_secret_the_platform_lacks_is_refused_naming_it(adapter: GcpAdapter) -> None:
    with pytest.raises(AdapterError, match="env DB_PASSWORD refers to secret 'db-password'"):
        adapter.compute.create(build("api", {**API, "env": {"DB_PASSWORD": "secret:db-password"}}))


def test_without_an_image_or_a_default_it_is_refused_naming_image(make_adapter) -> None:
    adapter = make_adapter(default_image=None)
    with pytest.raises(AdapterError, match="image: compute on gcp runs containers"):
        adapter.compute.create(build("api", API))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cpu": 9.0}, "cpu, memory_mb"),
        ({"cpu": 2.0, "memory_mb": 40000}, "cpu, memory_mb"),
        ({"env": {"PORT": "1"}}, "env"),
    ],
)
def test_what_cloud_run_cannot_hold_is_refused_before_any_call(
    adapter: GcpAdapter, grpc_fakes: Fakes, change: dict, field: str
) -> None:
    with pytest.raises(AdapterError, match=f"{field}: "):
        adapter.compute.create(build("api", {**API, **change}))
    assert grpc_fakes.counting.calls == {}


@pytest.mark.parametrize(
    ("cpu", "memory_mb", "limits"),
    [
        (0.25, 512, {"cpu": "250m", "memory": "512Mi"}),
        (0.25, 64, {"cpu": "250m", "memory": "128Mi"}),
        (0.5, 1024, {"cpu": "1", "memory": "1024Mi"}),  # a fraction holds 512 MiB at most
        (1.0, 6144, {"cpu": "2", "memory": "6144Mi"}),  # one vCPU holds 4 GiB at most
        (4.0, 512, {"cpu": "4", "memory": "2048Mi"}),  # four vCPUs need 2 GiB at least
    ],
)
def test_the_size_is_the_smallest_cloud_run_runs_and_is_observed_as_such(
    adapter: GcpAdapter, cpu: float, memory_mb: int, limits: dict
) -> None:
    desired = build("api", {**API, "cpu": cpu, "memory_mb": memory_mb})
    made = adapter.compute.create(desired)
    service = adapter.gcp.run_services().get_service(name=made.resource_id)
    assert dict(service.template.containers[0].resources.limits) == limits
    assert made.fields == adapter.compute.desired_fields(desired)


def test_the_fake_refuses_sizes_cloud_run_refuses(adapter: GcpAdapter) -> None:
    made = adapter.compute.create(build("api", API))
    service = adapter.gcp.run_services().get_service(name=made.resource_id)
    service.template.containers[0].resources.limits.update({"cpu": "500m", "memory": "2Gi"})
    with pytest.raises(api_exceptions.InvalidArgument, match="less than 1 CPU"):
        adapter.gcp.run_services().update_service(service=service)
    with pytest.raises(api_exceptions.AlreadyExists):
        adapter.gcp.run_services().create_service(
            parent=adapter.compute.parent(), service=made_service(), service_id=made.resource_id.rsplit("/", 1)[1]
        )
    with pytest.raises(api_exceptions.NotFound):
        adapter.gcp.run_services().get_service(name=made.resource_id + "x")


def made_service() -> dict:
    return {"template": {"containers": [{"image": IMAGE}]}}


def test_a_write_with_a_stale_etag_is_aborted(adapter: GcpAdapter) -> None:
    made = adapter.compute.create(build("api", API))
    client = adapter.gcp.run_services()
    stale = client.get_service(name=made.resource_id)
    adapter.compute.update(build("api", {**API, "replicas": 3}), made)
    with pytest.raises(api_exceptions.Aborted):
        client.update_service(service=stale).result()


def test_a_crashed_service_is_unhealthy_and_observed_as_damaged(adapter: GcpAdapter, grpc_fakes: Fakes) -> None:
    made = adapter.compute.create(build("api", API))
    grpc_fakes.run.crash(made.resource_id)
    report = adapter.compute.health(made)
    assert not report.healthy and "failed to start" in report.detail
    assert adapter.compute.find(ResourceKey("dev", "api")).problem


def test_many_platforms_are_observed_from_one_listing(adapter: GcpAdapter, grpc_fakes: Fakes) -> None:
    platforms = [f"p{i}" for i in range(5)]
    for platform in platforms:
        adapter.compute.create(build("api", API, platform=platform))
    grpc_fakes.counting.calls.clear()
    found = adapter.compute.observe_platforms(platforms)
    assert all([o.key.name for o in found[p]] == ["api"] for p in platforms)
    assert grpc_fakes.counting.calls == {"ListServices": 1}


def test_the_longest_names_make_a_service_id_cloud_run_takes(adapter: GcpAdapter) -> None:
    longest = "a" + "b" * 38 + "c"
    made = adapter.compute.create(build(longest, API, platform=longest))
    service_id = made.resource_id.rsplit("/", 1)[1]
    assert len(service_id) <= 49 and service_id.startswith("mnops-")
    other = adapter.compute.create(build(longest[:-1] + "d", API, platform=longest))
    assert other.resource_id != made.resource_id
