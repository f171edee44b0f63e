"""database/v1 on AWS: an RDS for PostgreSQL instance, `mnops-<digest>-<resource>`, with its connection URL in Secrets
Manager.

The master password is generated here and kept in a secret of the adapter's own, `mnops/_db/<platform>/<resource>`
(not a platform's secrets resource: `_db` is no platform name), as JSON `{"password", "url"}`. The secret is made
before the instance, so a crash between the two reuses the same password; the URL is written once the instance has an
endpoint. The `url` output is the secret's ARN with its JSON key (`<arn>:url::`), which is what ECS's `valueFrom`
takes: a service on aws reads the URL at its start, and the value never passes through mnops's plans, state or logs.

Mapping: `engine_version` is the major version (RDS picks the newest minor one; a bump is an upgrade in place),
`storage_gb` the allocated storage (RDS cannot shrink it: a smaller value is refused, not planned as a replace),
`backups` a retention period over 0 (`backup_retention_days`, kept in the tag `mnops:backup-retention-days` while
backups are off), `high_availability` Multi-AZ, `public` PubliclyAccessible, `encrypted` StorageEncrypted (fixed at
creation: a change is a replace). The role services log in as is the master user: RDS makes no other, and mnops does
not reach into the database to make one.

moto (the tests' server) emulates the control plane only: the instance reports `available` at once and there is no
PostgreSQL behind its endpoint, so the health check here asks RDS for the status and never connects.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from botocore.exceptions import ClientError

from adapters.aws import PROVIDER, names
from adapters.aws.context import INTERNAL_TAG_PREFIX, error_code, tag_changes
from adapters.aws.driver import AwsDriver, Claimed
from adapters.aws.permissions import Grant
from adapters.base import AdapterError, Desired, HealthReport, Observed, ResourceDriver, ResourceKey

MASTER_USER = "app"
PASSWORD_LENGTH = 32
# Characters RDS accepts in a master password (no '/', '@', '"' or spaces).
ALPHABET = string.ascii_letters + string.digits
RETENTION_TAG = INTERNAL_TAG_PREFIX + "backup-retention-days"
SECRET_TAG = INTERNAL_TAG_PREFIX + "url-secret"
URL_KEY = "url"


class DatabaseDriver(AwsDriver):
    contract = "database/v1"
    resource_type = "rds:db"
    # The instance is found by listing (DescribeDBInstances on "*"); its URL is in a secret of the adapter's own.
    PERMISSIONS: ClassVar[tuple[Grant, ...]] = (
        Grant(("rds:DescribeDBInstances",)),
        Grant(
            (
                "rds:CreateDBInstance",
                "rds:ModifyDBInstance",
                "rds:DeleteDBInstance",
                "rds:AddTagsToResource",
                "rds:RemoveTagsFromResource",
            ),
            ("arn:{partition}:rds:{region}:{account}:db:mnops-*",),
        ),
        Grant(
            (
                "secretsmanager:CreateSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:TagResource",
                "secretsmanager:DeleteSecret",
            ),
            ("arn:{partition}:secretsmanager:{region}:{account}:secret:mnops/_db/*",),
        ),
    )
    immutable = frozenset({"engine", "encrypted"})

    # -- observation -------------------------------------------------------------------------------------------------

    def owns(self, arn: str) -> bool:
        return ":rds:" in arn and ":db:" in arn

    def _list(self, claimed: Claimed) -> dict[str, dict[str, Any]]:
        """Instance identifier -> description, 100 a call: only when some platform has a database."""
        if not claimed:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for page in self.aws.client("rds").get_paginator("describe_db_instances").paginate():
            found.update((i["DBInstanceIdentifier"], i) for i in page.get("DBInstances", []))
        return found

    def _observe_key(
        self, key: ResourceKey, tagged: Mapping[str, Mapping[str, str]], listing: dict[str, dict[str, Any]]
    ) -> Observed | None:
        instance = listing.get(names.database(key))
        if instance is None:
            return None
        tags = tagged.get(instance["DBInstanceArn"])
        return None if tags is None else self._observation(key, instance, tags)

    def find(self, key: ResourceKey) -> Observed | None:
        instance = self._instance(key)
        if instance is None:
            return None
        return self._observation(key, instance, _tags(instance))

    def _observation(self, key: ResourceKey, instance: dict[str, Any], tags: Mapping[str, str]) -> Observed:
        period = int(instance.get("BackupRetentionPeriod") or 0)
        kept = tags.get(RETENTION_TAG, "")
        fields = {
            "engine": instance.get("Engine"),
            "engine_version": str(instance.get("EngineVersion", "")).split(".")[0],
            "storage_gb": instance.get("AllocatedStorage"),
            "backups": period > 0,
            "backup_retention_days": period if period > 0 else (int(kept) if kept.isdigit() else None),
            "high_availability": bool(instance.get("MultiAZ")),
            "public": bool(instance.get("PubliclyAccessible")),
            "encrypted": bool(instance.get("StorageEncrypted")),
        }
        endpoint = instance.get("Endpoint") or {}
        addresses = {"host": str(endpoint.get("Address", "")), "port": str(endpoint.get("Port", ""))}
        problem = None
        if instance.get("DBInstanceStatus") in ("failed", "incompatible-parameters", "storage-full"):
            problem = f"RDS reports it {instance['DBInstanceStatus']}"
        return self.observed(key, instance["DBInstanceArn"], fields, tags, problem, addresses)

    def outputs(self, current: Observed) -> dict[str, str]:
        secret = current.private.get(SECRET_TAG, "")
        return {
            "host": current.address("host"),
            "port": current.address("port"),
            "name": _database_name(current.key),
            "user": MASTER_USER,
            "url": f"{secret}:{URL_KEY}::" if secret else "",
        }

    def reveal_output(self, key: ResourceKey, output: str) -> str:
        if output != "url":
            return super().reveal_output(key, output)
        with self.failures("reveal", key):
            value = self._secret_value(key)
        if value is None or not value.get(URL_KEY):
            raise AdapterError(PROVIDER, "reveal", key, "its connection URL is not written yet")
        return value[URL_KEY]

    def output_reference(self, key: ResourceKey, output: str) -> tuple[str, str]:
        """(what ECS's `valueFrom` takes, the secret's current version) for a sensitive output: a service's task reads
        the value at its start, and a new version restarts it."""
        if output != "url":
            raise AdapterError(PROVIDER, "reference", key, f"{self.contract} has no sensitive output {output!r}")
        try:
            found = self.aws.client("secretsmanager").describe_secret(SecretId=names.database_secret(key))
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise AdapterError(PROVIDER, "reference", key, "the database is not made yet") from exc
            raise
        versions = found.get("VersionIdsToStages", {})
        current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), "")
        return f"{found['ARN']}:{URL_KEY}::", current

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        return ResourceDriver.desired_fields(self, desired)

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        rds = self.aws.client("rds")
        spec = desired.spec
        key = desired.key
        password, secret_arn, made = self._password(key)
        tags = {**desired.tags, RETENTION_TAG: str(spec.backup_retention_days), SECRET_TAG: secret_arn}
        retention = spec.backup_retention_days if spec.backups else 0
        instance = self._instance(key)
        if instance is None:
            # The password travels in this call only: an error echoing a parameter must not carry it further.
            with self.failures("create", key, redact=[password]):
                self._create(desired, password, tags, retention)
            instance = self._instance(key) or {}
        else:
            if made:
                # The secret was lost (deleted by hand): the instance is told the new password it now holds.
                with self.failures("update", key, redact=[password]):
                    rds.modify_db_instance(
                        DBInstanceIdentifier=names.database(key), MasterUserPassword=password, ApplyImmediately=True
                    )
            self._modify(desired, instance, retention)
            to_set, to_remove = tag_changes(_tags(instance), tags)
            if to_set:
                rds.add_tags_to_resource(
                    ResourceName=instance["DBInstanceArn"], Tags=[{"Key": k, "Value": v} for k, v in to_set.items()]
                )
            if to_remove:
                rds.remove_tags_from_resource(ResourceName=instance["DBInstanceArn"], TagKeys=to_remove)
        self._write_url(key, password, instance)
        observed = self.find(key)
        if observed is None:
            raise AdapterError(PROVIDER, "create", key, f"instance {names.database(key)} vanished while being set up")
        return observed

    def _create(self, desired: Desired, password: str, tags: Mapping[str, str], retention: int) -> None:
        spec = desired.spec
        key = desired.key
        try:
            self.aws.client("rds").create_db_instance(
                DBInstanceIdentifier=names.database(key),
                Engine=spec.engine,
                EngineVersion=spec.engine_version,
                DBInstanceClass=self.aws.database_instance_class,
                AllocatedStorage=spec.storage_gb,
                DBName=_database_name(key),
                MasterUsername=MASTER_USER,
                MasterUserPassword=password,
                BackupRetentionPeriod=retention,
                MultiAZ=spec.high_availability,
                PubliclyAccessible=spec.public,
                StorageEncrypted=spec.encrypted,
                Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            )
        except ClientError as exc:
            if error_code(exc) != "DBInstanceAlreadyExists":
                raise

    def _modify(self, desired: Desired, instance: dict[str, Any], retention: int) -> None:
        spec = desired.spec
        changes: dict[str, Any] = {}
        if instance.get("AllocatedStorage") != spec.storage_gb:
            if spec.storage_gb < int(instance.get("AllocatedStorage") or 0):
                raise AdapterError(
                    PROVIDER,
                    "update",
                    desired.key,
                    f"storage_gb {spec.storage_gb} is less than the {instance['AllocatedStorage']} GiB allocated: "
                    "RDS cannot shrink storage",
                )
            changes["AllocatedStorage"] = spec.storage_gb
        major = str(instance.get("EngineVersion", "")).split(".")[0]
        if major != spec.engine_version:
            if major.isdigit() and int(spec.engine_version) < int(major):
                raise AdapterError(
                    PROVIDER, "update", desired.key, f"engine_version {spec.engine_version} would downgrade {major}"
                )
            changes.update(EngineVersion=spec.engine_version, AllowMajorVersionUpgrade=True)
        if int(instance.get("BackupRetentionPeriod") or 0) != retention:
            changes["BackupRetentionPeriod"] = retention
        if bool(instance.get("MultiAZ")) != spec.high_availability:
            changes["MultiAZ"] = spec.high_availability
        if bool(instance.get("PubliclyAccessible")) != spec.public:
            changes["PubliclyAccessible"] = spec.public
        if changes:
            self.aws.client("rds").modify_db_instance(
                DBInstanceIdentifier=names.database(desired.key), ApplyImmediately=True, **changes
            )

    def _delete(self, key: ResourceKey) -> None:
        try:
            self.aws.client("rds").delete_db_instance(
                DBInstanceIdentifier=names.database(key), SkipFinalSnapshot=True, DeleteAutomatedBackups=True
            )
        except ClientError as exc:
            if error_code(exc) != "DBInstanceNotFound":
                raise
        try:
            self.aws.client("secretsmanager").delete_secret(
                SecretId=names.database_secret(key), ForceDeleteWithoutRecovery=True
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise

    def _tag(self, current: Observed, tags: Mapping[str, str]) -> None:
        instance = self._instance(current.key)
        if instance is None:
            raise AdapterError(PROVIDER, "tag", current.key, "the instance is gone")
        self.aws.client("rds").add_tags_to_resource(
            ResourceName=instance["DBInstanceArn"], Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )

    def _health(self, current: Observed) -> HealthReport:
        instance = self._instance(current.key)
        if instance is None:
            return HealthReport(False, "instance is gone")
        status = instance.get("DBInstanceStatus")
        if status not in ("available", "backing-up", "modifying", "configuring-enhanced-monitoring"):
            return HealthReport(False, f"RDS reports it {status}")
        value = self._secret_value(current.key)
        if value is None or not value.get(URL_KEY):
            return HealthReport(False, "its connection URL is not written")
        return HealthReport(True, f"RDS reports it {status}")

    # -- helpers -----------------------------------------------------------------------------------------------------

    def _instance(self, key: ResourceKey) -> dict[str, Any] | None:
        try:
            found = self.aws.client("rds").describe_db_instances(DBInstanceIdentifier=names.database(key))
        except ClientError as exc:
            if error_code(exc) == "DBInstanceNotFound":
                return None
            raise
        instances = found.get("DBInstances", [])
        return instances[0] if instances else None

    def _password(self, key: ResourceKey) -> tuple[str, str, bool]:
        """The master password (made once, kept in the secret), the secret's ARN, and whether it was made now."""
        client = self.aws.client("secretsmanager")
        value = self._secret_value(key)
        if value is not None:
            return value["password"], client.describe_secret(SecretId=names.database_secret(key))["ARN"], False
        password = "".join(secrets.choice(ALPHABET) for _ in range(PASSWORD_LENGTH))
        try:
            made = client.create_secret(
                Name=names.database_secret(key),
                SecretString=json.dumps({"password": password}),
                Tags=[{"Key": INTERNAL_TAG_PREFIX + "database", "Value": str(key)}],
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceExistsException":
                raise
            return self._password(key)
        return password, made["ARN"], True

    def _write_url(self, key: ResourceKey, password: str, instance: dict[str, Any]) -> None:
        endpoint = instance.get("Endpoint") or {}
        if not endpoint.get("Address"):
            return  # not reachable yet: the next apply writes it
        url = (
            f"postgresql://{MASTER_USER}:{quote(password, safe='')}@{endpoint['Address']}:{endpoint.get('Port', 5432)}"
            f"/{_database_name(key)}"
        )
        if (self._secret_value(key) or {}).get(URL_KEY) != url:
            self.aws.client("secretsmanager").put_secret_value(
                SecretId=names.database_secret(key), SecretString=json.dumps({"password": password, URL_KEY: url})
            )

    def _secret_value(self, key: ResourceKey) -> dict[str, str] | None:
        try:
            found = self.aws.client("secretsmanager").get_secret_value(SecretId=names.database_secret(key))
        except ClientError as exc:
            if error_code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
                return None
            raise
        return json.loads(found["SecretString"])


def _database_name(key: ResourceKey) -> str:
    """The database made inside the instance: PostgreSQL identifiers take underscores, not hyphens."""
    return key.name.replace("-", "_")


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("TagList", [])}
