"""The aws adapter as a whole: registry, settings, one region, and finding a platform's resources by their tags."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from adapters import registry
from adapters.aws import SUPPORTED_CONTRACTS
from adapters.aws.adapter import AwsAdapter
from adapters.base import AdapterError, Desired, Upkeep
from contracts import CONTRACTS

RESOURCES = {
    "assets": {"contract": "storage/v1"},
    "jobs": {"contract": "queue/v1", "dead_letter": {"max_receives": 3}},
    "api-key": {"contract": "secrets/v1", "from": "generate"},
    "app-logs": {"contract": "logging/v1"},
    "api": {"contract": "compute/v1", "command": ["serve", "{port}"], "env": {"KEY": "secret:api-key"}},
}


def test_the_registry_knows_aws_and_what_it_supports():
    assert registry.providers()["aws"] == "adapters.aws"
    assert registry.supported_contracts("aws") == set(CONTRACTS) == SUPPORTED_CONTRACTS


def test_the_package_imports_without_boto3_and_creating_an_adapter_names_the_install_command():
    script = (
        "import sys; sys.modules['boto3'] = None\n"
        "from adapters import registry\n"
        "print(sorted(registry.supported_contracts('aws')))\n"
        "try:\n"
        "    registry.create_adapter('aws', region='us-east-1')\n"
        "except registry.ProviderUnavailable as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert "'storage/v1'" in result.stdout
    assert "pip install 'machine-native-ops[aws]'" in result.stdout


def test_settings_from_yaml_are_scalars_and_lists_are_comma_separated(endpoint):
    adapter = registry.create_adapter(
        "aws",
        region="eu-west-1",
        endpoint_url=endpoint,
        subnets="subnet-a, subnet-b",
        security_groups="sg-1",
        assign_public_ip=True,
        container_port=9000,
        max_attempts=3,
    )
    assert isinstance(adapter, AwsAdapter)
    assert adapter.region == "eu-west-1"
    assert adapter.aws.network.subnets == ("subnet-a", "subnet-b")
    assert adapter.aws.network.security_groups == ("sg-1",)
    assert adapter.aws.network.assign_public_ip is True
    assert adapter.aws.config.retries == {"mode": "adaptive", "max_attempts": 3}
    assert repr(adapter) == f"AwsAdapter(region='eu-west-1', endpoint_url={endpoint!r}, profile=None)"
    adapter.close()


def test_an_unknown_setting_is_refused_by_name():
    with pytest.raises(registry.ProviderUnavailable, match="root"):
        registry.create_adapter("aws", region="us-east-1", root="/tmp")


def test_without_a_region_anywhere_the_adapter_refuses_to_guess(monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    with pytest.raises(AdapterError, match="no region"):
        AwsAdapter()


def test_aws_region_is_read_as_the_aws_cli_reads_it(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    assert AwsAdapter().region == "eu-north-1"


def test_a_resource_declared_in_another_region_is_refused(adapter, desired):
    want = desired("assets", {"contract": "storage/v1"})
    elsewhere = Desired(want.key, want.spec, want.tags, "eu-west-1")
    with pytest.raises(AdapterError, match="declared in region 'eu-west-1' but this aws adapter serves 'us-east-1'"):
        adapter.storage.create(elsewhere)


def deploy(adapter, desired, platform):
    made = {}
    for name, spec in RESOURCES.items():
        want = desired(name, spec, platform=platform, tags={"team": platform})
        made[name] = adapter.driver(spec["contract"]).create(want)
    return made


def count_calls(adapter):
    calls: Counter[str] = Counter()
    for service in ("s3", "sqs", "secretsmanager", "logs", "ecs", "resourcegroupstaggingapi"):
        adapter.aws.client(service).meta.events.register(
            "before-call", lambda model, **_: calls.update([model.name]), unique_id=f"count-{service}"
        )
    return calls


def test_a_platforms_resources_are_found_by_their_tags(compute_adapter, desired):
    made = deploy(compute_adapter, desired, "shop")
    deploy(compute_adapter, desired, "shop-eu")
    calls = count_calls(compute_adapter)
    found = compute_adapter.observe("shop")
    assert {name: o.resource_id for name, o in found.items()} == {n: o.resource_id for n, o in made.items()}
    assert all(o.tags["mnops-platform"] == "shop" and o.tags["team"] == "shop" for o in found.values())
    # One tagging-API listing for S3, Secrets Manager, Logs and ECS together; SQS by name prefix.
    assert calls["GetResources"] == 1
    assert calls["ListQueues"] == 1
    assert compute_adapter.platforms() == ["shop", "shop-eu"]


def test_resources_that_only_look_like_ours_are_not_observed(adapter):
    aws = adapter.aws
    tags = {"mnops-platform": "shop", "mnops-resource": "assets", "mnops-managed-by": "mnops"}
    # Identity tags but the wrong contract, and a bucket of another name carrying our identity tags.
    aws.client("s3").create_bucket(Bucket="not-named-by-mnops")
    aws.client("s3").put_bucket_tagging(
        Bucket="not-named-by-mnops",
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in {**tags, "mnops-contract": "storage/v1"}.items()]},
    )
    aws.client("logs").create_log_group(
        logGroupName="/mnops/shop/assets", tags={**tags, "mnops-contract": "storage/v1"}
    )
    assert adapter.observe("shop") == {}


def test_an_unreachable_endpoint_is_an_error_naming_the_operation(target):
    with target.failing(), pytest.raises(AdapterError, match="observe failed: resources of platform dev: Endpoint"):
        target.adapter.observe("dev")
    assert target.adapter.observe("dev") == {}


def test_maintain_rotates_only_secrets(adapter, desired):
    adapter.storage.create(desired("assets", {"contract": "storage/v1"}))
    adapter.secrets.create(desired("api-key", {"contract": "secrets/v1", "from": "generate", "rotation_days": 1}))
    assert adapter.maintain("dev") == {"api-key": Upkeep(rotated=False)}


def test_close_releases_clients_and_a_later_call_makes_them_again(adapter):
    adapter.observe("dev")
    adapter.close()
    assert adapter.observe("dev") == {}
