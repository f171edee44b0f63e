"""`mnops import` on aws (moto's server over HTTP): a deployed platform whose state database was lost is adopted from
its tags, and a bucket made by hand under the name mnops derives is given its identity tags and nothing else; in
neither case is anything made again. Every driver finds its resource by name and puts back only the identity tags."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.aws import names
from adapters.aws.adapter import AwsAdapter
from adapters.base import IDENTITY_TAGS, Observed, ResourceKey
from mnops_assets.cli import app

runner = CliRunner()


@pytest.fixture
def mnops(dev_on_aws: Path) -> Iterator[Callable[..., str]]:
    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--estate", str(dev_on_aws)], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    yield run
    runner.invoke(app, ["destroy", "dev", "--estate", str(dev_on_aws)])


def lose_state(home: Path) -> None:
    for path in home.glob("state.db*"):
        path.unlink()


def inventory(client: Callable[[str], Any]) -> dict[str, Any]:
    """What dev has on aws, each with its ARN (or name) and creation time: anything made again would show."""
    found: dict[str, Any] = {}
    s3 = client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        found[bucket["Name"]] = bucket["CreationDate"]
    sqs = client("sqs")
    for url in sqs.list_queues(QueueNamePrefix="mnops-dev_")["QueueUrls"]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "CreatedTimestamp"])
        found[attributes["Attributes"]["QueueArn"]] = attributes["Attributes"]["CreatedTimestamp"]
    secrets = client("secretsmanager")
    for secret in secrets.list_secrets()["SecretList"]:
        found[secret["ARN"]] = secrets.describe_secret(SecretId=secret["ARN"])["CreatedDate"]
    for group in client("logs").describe_log_groups(logGroupNamePrefix="/mnops/dev/")["logGroups"]:
        found[group["arn"]] = group["creationTime"]
    ecs = client("ecs")
    arns = ecs.list_services(cluster="mnops-dev")["serviceArns"]
    for service in ecs.describe_services(cluster="mnops-dev", services=arns)["services"]:
        # moto gives a service no creation time: its ARN and task definition revision show one made again.
        found[service["serviceArn"]] = service["taskDefinition"]
    return found


def state_text(home: Path) -> str:
    """Every resource id, version and audit event the state database holds, as one string to search."""
    with sqlite3.connect(home / "state.db") as db:
        parts = [row[0] for row in db.execute("SELECT resource_id FROM mnops_resources")]
        parts += [row[0] for row in db.execute("SELECT resources FROM mnops_versions")]
        parts += [row[0] for row in db.execute("SELECT event FROM mnops_audit")]
    return "\n".join(parts)


def test_lost_state_is_imported_from_the_tags_and_nothing_is_made_again(mnops, dev_on_aws, estate_client):
    home = dev_on_aws.parent / ".mnops"
    mnops("deploy", "dev", "--direct")
    made = inventory(estate_client)
    secrets = estate_client("secretsmanager")
    hmac_key = secrets.describe_secret(SecretId=names.HMAC_KEY_SECRET)
    lose_state(home)

    shown = mnops("import", "dev")
    assert "dev: imported 7 resource(s) as version 1" in shown
    assert shown.count("found by identity tags") == 7 and "written" not in shown
    assert "dev: no changes (7 resources up to date)" in mnops("plan", "dev")
    assert "dev: in sync" in mnops("drift", "dev")
    assert "no changes" in mnops("deploy", "dev", "--direct")
    assert inventory(estate_client) == made

    # The adapter's own HMAC key is no platform's resource: neither imported nor touched.
    assert hmac_key["ARN"] not in state_text(home) and names.HMAC_KEY_SECRET not in state_text(home)
    assert secrets.describe_secret(SecretId=names.HMAC_KEY_SECRET)["Tags"] == hmac_key["Tags"]
    events = [e["type"] for e in json.loads(mnops("audit", "list", "dev", "--format", "json"))["events"]]
    assert events == ["io.mnops.import.started", "io.mnops.import.succeeded"]  # the no-op deploy recorded nothing


def test_a_bucket_made_by_hand_under_the_derived_name_is_tagged_and_adopted(mnops, dev_on_aws, estate_client):
    home = dev_on_aws.parent / ".mnops"
    mnops("deploy", "dev", "--direct")
    lose_state(home)
    s3 = estate_client("s3")
    account = estate_client("sts").get_caller_identity()["Account"]
    bucket = names.bucket(account, "eu-west-1", ResourceKey("dev", "assets"))
    declared = {
        t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"] if t["Key"] not in IDENTITY_TAGS
    }
    # The bucket mnops made goes; one made by hand, as the YAML describes it but without identity tags, takes its place.
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in declared.items()]})
    by_hand = inventory(estate_client)

    shown = mnops("import", "dev", "--dry-run")
    assert "  assets (storage/v1): found by name; identity tags would be written" in shown
    assert shown.count("found by identity tags") == 6
    assert "dev: no changes (7 resources up to date)" in shown
    assert {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]} == declared
    assert state_text(home) == ""

    shown = mnops("import", "dev")
    assert f"  assets (storage/v1): found by name; identity tags written   arn:aws:s3:::{bucket}" in shown
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == {
        **declared,
        "mnops-platform": "dev",
        "mnops-resource": "assets",
        "mnops-managed-by": "mnops",
        "mnops-contract": "storage/v1",
    }
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert "dev: no changes (7 resources up to date)" in mnops("plan", "dev")
    assert "no changes" in mnops("deploy", "dev", "--direct")
    assert inventory(estate_client) == by_hand  # the hand-made bucket kept, nothing else made again
    succeeded = json.loads(mnops("audit", "list", "dev", "--format", "json"))["events"][-1]
    assert succeeded["type"] == "io.mnops.import.succeeded"
    assert [r["resource"] for r in succeeded["data"]["resources"] if r["tagged"]] == ["assets"]


SPECS = {
    "storage/v1": {"contract": "storage/v1", "versioning": True},
    "queue/v1": {"contract": "queue/v1", "retention_seconds": 3600, "dead_letter": {"max_receives": 3}},
    "secrets/v1": {"contract": "secrets/v1", "from": "generate"},
    "logging/v1": {"contract": "logging/v1", "retention_days": 14},
    "compute/v1": {"contract": "compute/v1", "command": ["python", "-m", "http.server", "{port}"], "replicas": 1},
}


def strip_identity(adapter: AwsAdapter, observed: Observed) -> None:
    """Take the identity tags (and a dead-letter queue's part tag) off a resource, as a person with console access
    would: from then on only its name says whose it is."""
    key, aws = observed.key, adapter.aws
    if observed.contract == "storage/v1":
        bucket = adapter.storage.bucket(key)
        kept = [
            t for t in aws.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"] if t["Key"] not in IDENTITY_TAGS
        ]
        aws.client("s3").put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": kept})
    elif observed.contract == "queue/v1":
        sqs = aws.client("sqs")
        for name in (names.queue(key, False), names.dead_letter_queue(key, False)):
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.untag_queue(QueueUrl=url, TagKeys=[*IDENTITY_TAGS, "mnops:part"])
    elif observed.contract == "secrets/v1":
        aws.client("secretsmanager").untag_resource(SecretId=names.secret(key), TagKeys=list(IDENTITY_TAGS))
    elif observed.contract == "logging/v1":
        aws.client("logs").untag_resource(resourceArn=observed.resource_id, tagKeys=list(IDENTITY_TAGS))
    else:
        aws.client("ecs").untag_resource(resourceArn=observed.resource_id, tagKeys=list(IDENTITY_TAGS))


@pytest.mark.parametrize("contract", sorted(SPECS))
def test_each_driver_finds_by_name_and_tags_only_the_identity(contract, compute_adapter, desired):
    want = desired("thing", SPECS[contract])
    driver = compute_adapter.driver(contract)
    made = driver.create(want)
    strip_identity(compute_adapter, made)
    assert "thing" not in compute_adapter.observe("dev")
    found = driver.find(want.key)
    assert found is not None and not set(IDENTITY_TAGS) & set(found.tags)
    assert (found.resource_id, found.fields) == (made.resource_id, made.fields)

    tagged = driver.tag_identity(found)
    assert tagged.tags == made.tags and tagged.fields == made.fields
    observed = compute_adapter.observe("dev")["thing"]
    assert (observed.resource_id, observed.fields, observed.tags, observed.problem) == (
        made.resource_id,
        made.fields,
        made.tags,
        None,
    )
