"""storage/v1 on AWS: an S3 bucket with versioning, default encryption, a public access block and an expiry rule.

- `encrypted`: S3 has encrypted every new object with SSE-S3 since January 2023 and that cannot be turned off, so the
  adapter always sets SSE-S3 (AES256) as the bucket default (emulators do not apply it on their own) and reports
  `encrypted: true` whatever was declared: `encrypted: false` asks for less than S3 gives, not for something else.
  A bucket someone moved to SSE-KMS counts as encrypted and is left as it is.
- `public`: off means all four public-access-block switches on. On means the four off plus a bucket-policy statement
  (`mnops-public-read`) granting anonymous `s3:GetObject`; an account-level block, on by default for new accounts,
  still wins over both, as it should.
- `expire_after_days`: one lifecycle rule, `mnops-expire`, expiring current objects that many days after their last
  write; on a versioned bucket that adds a delete marker and keeps the old versions, as `versioning` promises.
  Rules somebody else added are kept.
- Versioning once enabled can only be suspended on S3, never removed: `versioning: false` reads back as false
  either way.
- Deleting empties the bucket first (every version and delete marker), since S3 refuses to delete a bucket with objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from adapters.aws import PROVIDER, names
from adapters.aws.context import error_code
from adapters.aws.driver import AwsDriver
from adapters.aws.permissions import Grant
from adapters.base import AdapterError, Desired, Observed, ResourceDriver, ResourceKey

EXPIRY_RULE = "mnops-expire"
PUBLIC_STATEMENT = "mnops-public-read"
BLOCK_SWITCHES = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
ENCRYPTING = ("AES256", "aws:kms", "aws:kms:dsse")
DELETE_BATCH = 1000  # the most DeleteObjects takes at once


class StorageDriver(AwsDriver):
    contract = "storage/v1"
    resource_type = "s3"
    # Bucket names are `mnops-...` (S3 ARNs name neither region nor account); objects are removed only to delete a
    # bucket.
    PERMISSIONS: ClassVar[tuple[Grant, ...]] = (
        Grant(
            (
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:ListBucketVersions",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "s3:GetBucketVersioning",
                "s3:PutBucketVersioning",
                "s3:GetEncryptionConfiguration",
                "s3:PutEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
            ),
            ("arn:{partition}:s3:::mnops-*",),
        ),
        Grant(("s3:DeleteObject", "s3:DeleteObjectVersion"), ("arn:{partition}:s3:::mnops-*/*",)),
    )

    def bucket(self, key: ResourceKey) -> str:
        return names.bucket(self.aws.account, self.aws.region, key)

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        fields = ResourceDriver.desired_fields(self, desired)
        fields["encrypted"] = True
        return fields

    # -- observation -------------------------------------------------------------------------------------------------

    def owns(self, arn: str) -> bool:
        return ":s3:::" in arn and "/" not in arn.split(":::", 1)[1]

    def _observe_key(self, key: ResourceKey, tagged: Mapping[str, Mapping[str, str]], listing: None) -> Observed | None:
        arn = self._arn(self.bucket(key))
        if arn not in tagged:
            return None  # tagged as `key`, but not named as its bucket would be
        state = self._state(self.bucket(key), tags=tagged[arn], for_observation=True)
        return None if state is None else self.observed(key, arn, _fields(state), state["tags"])

    def find(self, key: ResourceKey) -> Observed | None:
        bucket = self.bucket(key)
        state = self._state(bucket)
        if state is None:
            return None
        return self.observed(key, self._arn(bucket), _fields(state), state["tags"])

    def _state(
        self, bucket: str, tags: Mapping[str, str] | None = None, for_observation: bool = False
    ) -> dict[str, Any] | None:
        """Everything the contract reads from a bucket, as S3 gives it; None if the bucket does not exist.

        S3 has no call that describes a bucket, nor one for many buckets: each setting is a call of its own. `tags`
        already read (from the tagging API) save one; `for_observation` skips the bucket policy while any public
        access switch is on, since no policy can make the bucket public then (making it so reads it in full).
        """
        s3 = self.aws.client("s3")
        try:
            if tags is None:
                tagging = _absent_is(s3.get_bucket_tagging, "NoSuchTagSet", Bucket=bucket)
                tags = {t["Key"]: t["Value"] for t in (tagging or {}).get("TagSet", [])}
            versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
        except ClientError as exc:
            if error_code(exc) in ("NoSuchBucket", "404"):
                return None
            raise
        rules = _absent_is(s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError", Bucket=bucket)
        encryption = (rules or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        block = _absent_is(s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration", Bucket=bucket)
        switches = {s: bool((block or {}).get("PublicAccessBlockConfiguration", {}).get(s)) for s in BLOCK_SWITCHES}
        policy = None
        if not (for_observation and any(switches.values())):
            policy = _absent_is(s3.get_bucket_policy, "NoSuchBucketPolicy", Bucket=bucket)
        lifecycle = _absent_is(s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration", Bucket=bucket)
        return {
            "tags": dict(tags),
            "versioning": versioning,
            "encrypted": any(
                r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in ENCRYPTING for r in encryption
            ),
            "block": switches,
            "policy": json.loads(policy["Policy"]) if policy else None,
            "rules": (lifecycle or {}).get("Rules", []),
        }

    def outputs(self, current: Observed) -> dict[str, str]:
        bucket = self.bucket(current.key)
        return {"name": bucket, "url": f"s3://{bucket}"}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        spec = desired.spec
        s3 = self.aws.client("s3")
        bucket = self.bucket(desired.key)
        state = self._state(bucket)
        if state is None:
            self._create_bucket(desired.key, bucket)
            state = {"tags": {}, "versioning": None, "encrypted": False, "block": {}, "policy": None, "rules": []}
        # Tags first: from here on the bucket is found by observation even if a later step fails.
        if state["tags"] != dict(desired.tags):
            s3.put_bucket_tagging(
                Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(desired.tags.items())]}
            )
        if not state["encrypted"]:
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        if spec.versioning and state["versioning"] != "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        elif not spec.versioning and state["versioning"] == "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
        self._ensure_access(bucket, spec.public, state)
        self._ensure_expiry(bucket, spec.expire_after_days, state["rules"])
        found = self.find(desired.key)
        if found is None:
            raise AdapterError(PROVIDER, "create", desired.key, f"bucket {bucket} vanished while it was being set up")
        return found

    def _create_bucket(self, key: ResourceKey, bucket: str) -> None:
        s3 = self.aws.client("s3")
        arguments: dict[str, Any] = {"Bucket": bucket}
        if self.aws.region != "us-east-1":
            # us-east-1 is S3's default location and refuses to be named as one.
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.aws.region}
        try:
            s3.create_bucket(**arguments)
        except ClientError as exc:
            if error_code(exc) == "BucketAlreadyOwnedByYou":
                return
            if error_code(exc) == "BucketAlreadyExists":
                raise AdapterError(
                    PROVIDER, "create", key, f"bucket name {bucket} is taken by another AWS account"
                ) from exc
            raise

    def _ensure_access(self, bucket: str, public: bool, state: dict[str, Any]) -> None:
        s3 = self.aws.client("s3")
        wanted_block = {switch: not public for switch in BLOCK_SWITCHES}
        policy = state["policy"] or {"Version": "2012-10-17", "Statement": []}
        others = [s for s in policy.get("Statement", []) if s.get("Sid") != PUBLIC_STATEMENT]
        has_public = len(others) != len(policy.get("Statement", []))
        if public:
            # The block goes first: while BlockPublicPolicy is on, S3 refuses a public policy.
            if state["block"] != wanted_block:
                s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=wanted_block)
            if not has_public:
                statement = {
                    "Sid": PUBLIC_STATEMENT,
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"{self._arn(bucket)}/*",
                }
                document = {**policy, "Statement": [*others, statement]}
                s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
            return
        # Closing: block first, so the bucket is private from this call on even if removing the statement fails.
        if state["block"] != wanted_block:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=wanted_block)
        if has_public:
            if others:
                s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({**policy, "Statement": others}))
            else:
                s3.delete_bucket_policy(Bucket=bucket)

    def _ensure_expiry(self, bucket: str, days: int | None, rules: list[dict[str, Any]]) -> None:
        s3 = self.aws.client("s3")
        others = [r for r in rules if r.get("ID") != EXPIRY_RULE]
        ours = [r for r in rules if r.get("ID") == EXPIRY_RULE]
        wanted = (
            [{"ID": EXPIRY_RULE, "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": days}}]
            if days is not None
            else []
        )
        if [_expiry_days(r) for r in ours] == [_expiry_days(r) for r in wanted] and len(ours) == len(wanted):
            return
        if others or wanted:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [*others, *wanted]})
        else:
            s3.delete_bucket_lifecycle(Bucket=bucket)

    def _delete(self, key: ResourceKey) -> None:
        s3 = self.aws.client("s3")
        bucket = self.bucket(key)
        try:
            self._empty(bucket)
            s3.delete_bucket(Bucket=bucket)
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise

    def _tag(self, current: Observed, tags: Mapping[str, str]) -> None:
        # S3 replaces a bucket's whole tag set at once: read the tags it has, so that they are kept.
        s3 = self.aws.client("s3")
        bucket = self.bucket(current.key)
        tagging = _absent_is(s3.get_bucket_tagging, "NoSuchTagSet", Bucket=bucket)
        merged = {**{t["Key"]: t["Value"] for t in (tagging or {}).get("TagSet", [])}, **tags}
        s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(merged.items())]}
        )

    def _empty(self, bucket: str) -> None:
        s3 = self.aws.client("s3")
        batch: list[dict[str, str]] = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                batch.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
                if len(batch) == DELETE_BATCH:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                    batch = []
        if batch:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})

    def _arn(self, bucket: str) -> str:
        return f"arn:{self.aws.partition}:s3:::{bucket}"


def _fields(state: dict[str, Any]) -> dict[str, Any]:
    statements = (state["policy"] or {}).get("Statement", [])
    public = not any(state["block"].values()) and any(s.get("Sid") == PUBLIC_STATEMENT for s in statements)
    expiry = [_expiry_days(r) for r in state["rules"] if r.get("ID") == EXPIRY_RULE]
    return {
        "versioning": state["versioning"] == "Enabled",
        "encrypted": state["encrypted"],
        "public": public,
        "expire_after_days": expiry[0] if expiry else None,
    }


def _expiry_days(rule: dict[str, Any]) -> int | None:
    """The days of an enabled whole-bucket expiry rule; None for anything else (disabled, filtered, dated)."""
    if rule.get("Status") != "Enabled":
        return None
    scope = rule.get("Filter", {"Prefix": rule.get("Prefix", "")})
    if scope not in ({}, {"Prefix": ""}):
        return None
    return rule.get("Expiration", {}).get("Days")


def _absent_is(call: Any, absent_code: str, **arguments: Any) -> dict[str, Any] | None:
    """`call(**arguments)`, or None when S3 answers that the configuration asked for does not exist."""
    try:
        return call(**arguments)
    except ClientError as exc:
        if error_code(exc) == absent_code:
            return None
        raise
