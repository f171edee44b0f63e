"""storage/v1 on AWS: bucket names, the public access block, encryption, versioning, expiry, adoption and deletion."""

from __future__ import annotations

import json

import pytest

from adapters.aws.storage import EXPIRY_RULE, PUBLIC_STATEMENT
from adapters.base import AdapterError


def s3(adapter):
    return adapter.aws.client("s3")


def test_a_bucket_is_private_encrypted_tagged_and_named_for_the_account(adapter, desired):
    want = desired(
        "assets", {"contract": "storage/v1", "versioning": True, "expire_after_days": 30}, tags={"team": "t"}
    )
    created = adapter.storage.create(want)
    bucket = adapter.storage.bucket(want.key)
    assert bucket.startswith("mnops-dev-assets-") and len(bucket) <= 63
    assert created.resource_id == f"arn:aws:s3:::{bucket}"
    block = s3(adapter).get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3(adapter).get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3(adapter).get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    [rule] = s3(adapter).get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert (rule["ID"], rule["Status"], rule["Expiration"]) == (EXPIRY_RULE, "Enabled", {"Days": 30})
    tags = {t["Key"]: t["Value"] for t in s3(adapter).get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == dict(want.tags)
    assert created.fields == {"versioning": True, "encrypted": True, "public": False, "expire_after_days": 30}


def test_public_opens_the_block_and_adds_a_read_statement_and_private_closes_both(adapter, desired):
    bucket_key = desired("site", {"contract": "storage/v1"}).key
    current = adapter.storage.create(desired("site", {"contract": "storage/v1"}))
    bucket = adapter.storage.bucket(bucket_key)
    # A statement somebody else keeps on the bucket must survive both changes.
    theirs = {
        "Sid": "theirs",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": f"arn:aws:s3:::{bucket}",
    }
    s3(adapter).put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [theirs]}))
    opened = adapter.storage.update(desired("site", {"contract": "storage/v1", "public": True}), current)
    assert opened.fields["public"] is True
    block = s3(adapter).get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert not any(block.values())
    statements = json.loads(s3(adapter).get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert {s["Sid"] for s in statements} == {"theirs", PUBLIC_STATEMENT}
    public = next(s for s in statements if s["Sid"] == PUBLIC_STATEMENT)
    assert (public["Principal"], public["Action"], public["Resource"]) == (
        "*",
        "s3:GetObject",
        f"arn:aws:s3:::{bucket}/*",
    )
    closed = adapter.storage.update(desired("site", {"contract": "storage/v1"}), opened)
    assert closed.fields["public"] is False
    assert all(s3(adapter).get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    statements = json.loads(s3(adapter).get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["theirs"]


def test_s3_always_encrypts_so_unencrypted_is_reported_as_encrypted(adapter, desired):
    want = desired("plain", {"contract": "storage/v1", "encrypted": False})
    assert adapter.storage.desired_fields(want)["encrypted"] is True
    created = adapter.storage.create(want)
    assert created.fields["encrypted"] is True
    assert adapter.storage.desired_fields(want) == created.fields


def test_removing_encryption_behind_the_engines_back_is_drift_and_repaired(adapter, desired):
    want = desired("assets", {"contract": "storage/v1"})
    created = adapter.storage.create(want)
    s3(adapter).delete_bucket_encryption(Bucket=adapter.storage.bucket(want.key))
    drifted = adapter.storage.find(want.key)
    assert drifted.fields["encrypted"] is False
    repaired = adapter.storage.update(want, drifted)
    assert repaired.fields == created.fields


def test_dropping_expiry_keeps_lifecycle_rules_that_are_not_ours(adapter, desired):
    current = adapter.storage.create(desired("assets", {"contract": "storage/v1", "expire_after_days": 7}))
    bucket = adapter.storage.bucket(current.key)
    theirs = {"ID": "theirs", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}
    rules = s3(adapter).get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    s3(adapter).put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [*rules, theirs]})
    updated = adapter.storage.update(desired("assets", {"contract": "storage/v1"}), current)
    assert updated.fields["expire_after_days"] is None
    assert [r["ID"] for r in s3(adapter).get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]] == ["theirs"]


def test_a_bucket_left_untagged_by_a_crash_is_adopted_by_the_next_create(adapter, desired):
    want = desired("assets", {"contract": "storage/v1"})
    bucket = adapter.storage.bucket(want.key)
    s3(adapter).create_bucket(Bucket=bucket)  # created, then the deployer died before tagging it
    assert adapter.storage.observe("dev") == []
    created = adapter.storage.create(want)
    assert [o.key for o in adapter.storage.observe("dev")] == [want.key]
    assert created.fields == adapter.storage.desired_fields(want)


def test_delete_empties_a_versioned_bucket_first(adapter, desired):
    current = adapter.storage.create(desired("assets", {"contract": "storage/v1", "versioning": True}))
    bucket = adapter.storage.bucket(current.key)
    for body in (b"one", b"two"):
        s3(adapter).put_object(Bucket=bucket, Key="report.csv", Body=body)
    s3(adapter).delete_object(Bucket=bucket, Key="report.csv")  # a delete marker on top of two versions
    adapter.storage.delete(current)
    assert bucket not in [b["Name"] for b in s3(adapter).list_buckets()["Buckets"]]
    adapter.storage.delete(current)


def test_an_error_names_the_resource_operation_and_aws_code(adapter, desired):
    # S3 refuses tags in AWS's own `aws:` namespace, which the contract's tag keys do not exclude.
    want = desired("assets", {"contract": "storage/v1", "tags": {"aws:owner": "me"}})
    with pytest.raises(AdapterError) as raised:
        adapter.storage.create(want)
    error = raised.value
    assert (error.provider, error.operation, error.key) == ("aws", "create", want.key)
    assert error.reason.startswith("InvalidTag: ")
    assert str(error).startswith("aws: create dev/assets failed: InvalidTag")
    assert error.__cause__ is not None
