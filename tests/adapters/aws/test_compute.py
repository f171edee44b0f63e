"""compute/v1 on AWS: the ECS task definition and service, Fargate sizes, secrets by reference, networking, health."""

from __future__ import annotations

import pytest

from adapters.aws import names
from adapters.aws.compute import FARGATE_SIZES, fargate_size
from adapters.base import AdapterError, ResourceKey

API = {
    "contract": "compute/v1",
    "command": ["python", "-m", "http.server", "{port}"],
    "image": "python:3.12-slim",
    "replicas": 1,
    "cpu": 0.3,
    "memory_mb": 600,
    "env": {"GREETING": "hello"},
    "health": {"http": "/", "timeout_seconds": 1},
}


def ecs(adapter):
    return adapter.aws.client("ecs")


def service(adapter, key):
    return ecs(adapter).describe_services(
        cluster=names.cluster(key.platform), services=[names.service(key)], include=["TAGS"]
    )["services"][0]


def container(adapter, key):
    definition = ecs(adapter).describe_task_definition(taskDefinition=service(adapter, key)["taskDefinition"])
    return definition["taskDefinition"], definition["taskDefinition"]["containerDefinitions"][0]


@pytest.mark.parametrize(
    ("cpu", "memory", "size"),
    [
        (0.125, 64, (256, 512)),
        (0.25, 512, (256, 512)),
        (0.3, 600, (512, 1024)),
        (0.25, 3000, (512, 3072)),
        (1, 512, (1024, 2048)),
        (2, 20000, (4096, 20480)),
        (10, 70000, (16384, 73728)),
    ],
)
def test_cpu_and_memory_round_up_to_a_fargate_size(cpu, memory, size):
    assert fargate_size(cpu, memory) == size
    assert size[1] in FARGATE_SIZES[size[0]]


def test_a_size_larger_than_fargate_has_is_refused():
    with pytest.raises(ValueError, match="no Fargate size has 32 vCPU"):
        fargate_size(32, 1024)
    with pytest.raises(ValueError, match="the largest is 16 vCPU with 122880 MiB"):
        fargate_size(1, 200000)


def test_the_task_definition_runs_the_command_on_fargate(compute_adapter, desired):
    want = desired("api", API, tags={"team": "t"})
    created = compute_adapter.compute.create(want)
    definition, app = container(compute_adapter, want.key)
    assert definition["family"] == "mnops-dev_api"
    assert definition["requiresCompatibilities"] == ["FARGATE"] and definition["networkMode"] == "awsvpc"
    assert (definition["cpu"], definition["memory"]) == ("512", "1024")
    assert app["image"] == "python:3.12-slim"
    assert app["command"] == ["python", "-m", "http.server", "8080"]
    assert app["portMappings"][0]["containerPort"] == 8080
    assert {e["name"]: e["value"] for e in app["environment"]} == {"GREETING": "hello", "PORT": "8080"}
    assert created.fields == {
        "command": ["python", "-m", "http.server", "{port}"],
        "image": "python:3.12-slim",
        "replicas": 1,
        "cpu": 0.5,
        "memory_mb": 1024,
        "env": {"GREETING": "hello"},
        "health": {"http": "/", "timeout_seconds": 1},
    }
    assert created.fields == compute_adapter.compute.desired_fields(want)


def test_the_service_runs_in_the_platforms_cluster_on_the_configured_network(compute_adapter, desired, network):
    want = desired("api", {**API, "replicas": 1}, tags={"team": "t"})
    created = compute_adapter.compute.create(want)
    running = service(compute_adapter, want.key)
    assert created.resource_id == running["serviceArn"]
    assert running["clusterArn"].endswith(":cluster/mnops-dev")
    assert running["desiredCount"] == 1 and running["launchType"] == "FARGATE"
    vpc = running["networkConfiguration"]["awsvpcConfiguration"]
    assert vpc["subnets"] == [network["subnets"]] and vpc["securityGroups"] == [network["security_groups"]]
    assert vpc["assignPublicIp"] == "DISABLED"
    tags = {t["key"]: t["value"] for t in running["tags"]}
    assert tags == {**want.tags, "mnops:secret-versions": tags["mnops:secret-versions"]}
    assert created.tags == dict(want.tags)


def test_secrets_reach_the_task_by_arn_never_by_value(compute_adapter, desired, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD_SOURCE", "very-secret-db-password")
    secret = compute_adapter.secrets.create(
        desired("db-password", {"contract": "secrets/v1", "from": "env:DB_PASSWORD_SOURCE"})
    )
    want = desired("api", {**API, "env": {"DB_PASSWORD": "secret:db-password"}})
    created = compute_adapter.compute.create(want)
    definition, app = container(compute_adapter, want.key)
    assert app["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": secret.resource_id}]
    assert definition["executionRoleArn"].endswith(":role/mnops-task-execution")
    assert "very-secret-db-password" not in repr(definition)
    assert created.fields["env"] == {"DB_PASSWORD": "secret:db-password"}


def test_a_reference_to_a_missing_secret_is_an_error_naming_the_resource(compute_adapter, desired):
    want = desired("api", {**API, "env": {"DB_PASSWORD": "secret:db-password"}})
    with pytest.raises(AdapterError, match="env DB_PASSWORD refers to secret 'db-password'") as raised:
        compute_adapter.compute.create(want)
    assert raised.value.key == want.key and raised.value.operation == "create"


def test_secrets_need_an_execution_role(make_adapter, network, desired):
    adapter = make_adapter(subnets=network["subnets"], execution_role_arn=None)
    adapter.secrets.create(desired("db-password", {"contract": "secrets/v1", "from": "generate"}))
    with pytest.raises(AdapterError, match="execution_role_arn"):
        adapter.compute.create(desired("api", {**API, "env": {"DB_PASSWORD": "secret:db-password"}}))


def test_a_plain_credential_is_shown_as_an_hmac(compute_adapter, desired):
    want = desired("api", {**API, "env": {"API_TOKEN": "pasted-in-yaml"}})
    created = compute_adapter.compute.create(want)
    assert created.fields["env"]["API_TOKEN"].startswith("hmac-sha256:")
    assert "pasted-in-yaml" not in repr(created)
    assert created.fields == compute_adapter.compute.desired_fields(want)


def test_without_an_image_compute_is_refused_naming_the_resource(make_adapter, network, desired):
    adapter = make_adapter(subnets=network["subnets"], default_image=None)
    want = desired("api", {**API, "image": None})
    with pytest.raises(AdapterError, match="set `image` on the resource") as raised:
        adapter.compute.desired_fields(want)
    assert (raised.value.key, raised.value.operation) == (want.key, "plan")
    with pytest.raises(AdapterError, match="dev/api"):
        adapter.compute.create(want)


def test_without_subnets_compute_is_refused(adapter, desired):
    with pytest.raises(AdapterError, match="needs subnets: set the aws provider's `subnets`"):
        adapter.compute.create(desired("api", API))


def test_without_security_groups_the_vpcs_default_group_is_used(make_adapter, network, desired):
    adapter = make_adapter(subnets=network["subnets"])
    want = desired("api", API)
    adapter.compute.create(want)
    [group] = service(adapter, want.key)["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"]
    ec2 = adapter.aws.client("ec2")
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["GroupName"] == "default"


def test_scaling_changes_the_desired_count_without_a_new_revision(compute_adapter, desired):
    current = compute_adapter.compute.create(desired("api", API))
    before = service(compute_adapter, current.key)["taskDefinition"]
    updated = compute_adapter.compute.update(desired("api", {**API, "replicas": 3}), current)
    assert service(compute_adapter, current.key)["taskDefinition"] == before
    assert updated.fields["replicas"] == 3


def test_a_new_command_registers_a_revision_and_retires_the_old_one(compute_adapter, desired):
    current = compute_adapter.compute.create(desired("api", API))
    before = service(compute_adapter, current.key)["taskDefinition"]
    compute_adapter.compute.update(desired("api", {**API, "command": ["python", "-m", "app", "{port}"]}), current)
    after = service(compute_adapter, current.key)["taskDefinition"]
    assert after != before
    active = ecs(compute_adapter).list_task_definitions(familyPrefix="mnops-dev_api", status="ACTIVE")
    assert active["taskDefinitionArns"] == [after]


def test_health_waits_for_the_declared_tasks_and_says_what_runs(compute_adapter, desired):
    # moto reports MOTO_ECS_SERVICE_RUNNING (1 here) tasks running for a new service, whatever is asked.
    one = compute_adapter.compute.create(desired("one", API))
    assert compute_adapter.compute.health(one).detail == "1 of 1 tasks running"
    two = compute_adapter.compute.create(desired("two", {**API, "replicas": 2}))
    report = compute_adapter.compute.health(two)
    assert not report.healthy and report.detail == "1 of 2 tasks running after 1 s"
    zero = compute_adapter.compute.create(desired("zero", {**API, "replicas": 0}))
    assert compute_adapter.compute.health(zero).healthy


def test_a_service_scaled_down_behind_the_engines_back_fails_health_at_once(compute_adapter, desired):
    created = compute_adapter.compute.create(desired("api", {**API, "health": {"timeout_seconds": 600}}))
    ecs(compute_adapter).update_service(cluster="mnops-dev", service="api", desiredCount=0)
    report = compute_adapter.compute.health(created)
    assert not report.healthy and report.detail == "service wants 0 tasks, 1 are declared"


def test_deleting_the_last_service_removes_the_task_definitions_and_the_cluster(compute_adapter, desired):
    api = compute_adapter.compute.create(desired("api", API))
    worker = compute_adapter.compute.create(desired("worker", API))
    compute_adapter.compute.delete(api)
    assert ecs(compute_adapter).describe_clusters(clusters=["mnops-dev"])["clusters"][0]["status"] == "ACTIVE"
    assert (
        ecs(compute_adapter).list_task_definitions(familyPrefix="mnops-dev_api", status="ACTIVE")["taskDefinitionArns"]
        == []
    )
    compute_adapter.compute.delete(worker)
    assert [c["status"] for c in ecs(compute_adapter).describe_clusters(clusters=["mnops-dev"])["clusters"]] in (
        [],
        ["INACTIVE"],
    )
    assert compute_adapter.compute.observe("dev") == []
    compute_adapter.compute.delete(worker)


def test_observation_finds_only_services_not_their_task_definitions_or_clusters(compute_adapter, desired):
    want = desired("api", API)
    compute_adapter.compute.create(want)
    compute_adapter.compute.update(
        desired("api", {**API, "env": {"GREETING": "hi"}}), compute_adapter.compute.find(want.key)
    )
    assert [o.key for o in compute_adapter.observe("dev").values()] == [ResourceKey("dev", "api")]


def test_a_secrets_new_value_restarts_the_tasks_and_nothing_else_does(compute_adapter, desired, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD_SOURCE", "first")
    source = desired("db-password", {"contract": "secrets/v1", "from": "env:DB_PASSWORD_SOURCE"})
    secret = compute_adapter.secrets.create(source)
    want = desired("api", {**API, "env": {"DB_PASSWORD": "secret:db-password"}})
    current = compute_adapter.compute.create(want)

    def deployment():
        return service(compute_adapter, want.key)["deployments"][0]["id"]

    started = deployment()
    current = compute_adapter.compute.update(want, current)
    assert deployment() == started
    monkeypatch.setenv("DB_PASSWORD_SOURCE", "second")
    compute_adapter.secrets.update(source, secret)
    # What the planner does after a secret changed: an update of the service with nothing else to change.
    restarted = compute_adapter.compute.update(want, current)
    assert deployment() != started
    assert "mnops:secret-versions" not in restarted.tags
    assert restarted.fields == compute_adapter.compute.desired_fields(want)
