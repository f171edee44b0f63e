"""database/v1 on AWS (RDS on moto's server): the instance's settings, the connection URL kept in Secrets Manager and
handed to ECS tasks by reference, refusals RDS would make, and no password anywhere but the secret."""

from __future__ import annotations

import json
import logging

import pytest

from adapters.aws import names
from adapters.base import AdapterError
from contracts.base import Sealed

DB = {"contract": "database/v1", "engine_version": "15", "storage_gb": 20, "backups": True, "backup_retention_days": 7}
API = {
    "contract": "compute/v1",
    "command": ["python", "-m", "http.server", "{port}"],
    "image": "python:3.12-slim",
    "env": {"DATABASE_URL": str(Sealed("database/v1", "dev", "orders-db", "url"))},
}


def rds(adapter, key):
    return adapter.aws.client("rds").describe_db_instances(DBInstanceIdentifier=names.database(key))["DBInstances"][0]


def test_an_instance_is_made_as_declared_and_its_url_kept_in_a_secret(adapter, desired):
    want = desired("orders-db", {**DB, "high_availability": True})
    created = adapter.database.create(want)
    instance = rds(adapter, want.key)
    assert (instance["Engine"], instance["AllocatedStorage"], instance["BackupRetentionPeriod"]) == ("postgres", 20, 7)
    assert instance["MultiAZ"] is True and instance["StorageEncrypted"] is True
    assert instance["PubliclyAccessible"] is False and instance["DBName"] == "orders_db"
    outputs = adapter.database.outputs(created)
    assert outputs["host"] == instance["Endpoint"]["Address"] and outputs["port"] == "5432"
    assert outputs["user"] == "app" and outputs["name"] == "orders_db"
    assert outputs["url"].startswith("arn:aws:secretsmanager:") and outputs["url"].endswith(":url::")
    url = adapter.database.reveal_output(want.key, "url")
    assert url.startswith("postgresql://app:") and url.endswith(f"@{outputs['host']}:5432/orders_db")
    assert created.fields == adapter.database.desired_fields(want)


def test_backups_off_keeps_the_declared_retention_for_when_they_are_on_again(adapter, desired):
    want = desired("orders-db", {**DB, "backups": False, "backup_retention_days": 14})
    created = adapter.database.create(want)
    assert rds(adapter, want.key)["BackupRetentionPeriod"] == 0
    assert created.fields["backups"] is False and created.fields["backup_retention_days"] == 14
    again = adapter.database.update(desired("orders-db", {**DB, "backup_retention_days": 14}), created)
    assert rds(adapter, want.key)["BackupRetentionPeriod"] == 14 and again.fields["backups"] is True


def test_storage_never_shrinks_and_the_engine_never_downgrades(adapter, desired):
    created = adapter.database.create(desired("orders-db", {**DB, "engine_version": "16", "storage_gb": 40}))
    with pytest.raises(AdapterError, match="RDS cannot shrink storage"):
        adapter.database.update(desired("orders-db", {**DB, "engine_version": "16", "storage_gb": 20}), created)
    with pytest.raises(AdapterError, match="engine_version 15 would downgrade 16"):
        adapter.database.update(desired("orders-db", {**DB, "storage_gb": 40}), created)
    assert rds(adapter, created.key)["AllocatedStorage"] == 40


def test_a_lost_secret_is_made_again_and_the_instance_given_its_password(adapter, desired):
    want = desired("orders-db", DB)
    created = adapter.database.create(want)
    before = adapter.database.reveal_output(want.key, "url")
    adapter.aws.client("secretsmanager").delete_secret(
        SecretId=names.database_secret(want.key), ForceDeleteWithoutRecovery=True
    )
    assert not adapter.database.health(created).healthy
    adapter.database.update(want, created)
    after = adapter.database.reveal_output(want.key, "url")
    assert after != before and adapter.database.health(created).healthy


def test_a_task_reads_the_url_by_reference_and_observation_gives_the_reference_back(compute_adapter, desired, caplog):
    caplog.set_level(logging.DEBUG)
    compute_adapter.database.create(desired("orders-db", DB))
    url = compute_adapter.database.reveal_output(desired("orders-db", DB).key, "url")
    password = url.split(":")[2].split("@")[0]
    want = desired("api", API)
    created = compute_adapter.compute.create(want)
    ecs = compute_adapter.aws.client("ecs")
    service = ecs.describe_services(cluster=names.cluster("dev"), services=[names.service(want.key)])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    [secret] = definition["containerDefinitions"][0]["secrets"]
    assert secret["name"] == "DATABASE_URL" and secret["valueFrom"].endswith(":url::")
    assert names.database_of_secret(secret["valueFrom"]) == desired("orders-db", DB).key
    assert created.fields["env"] == API["env"]
    assert created.fields == compute_adapter.compute.desired_fields(want)
    for text in (json.dumps(definition, default=str), repr(created), caplog.text):
        assert password not in text
