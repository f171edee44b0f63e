"""secrets/v1 on AWS: values generated or read from env:/file:, compared by HMAC, never shown; rotation; deletion."""

from __future__ import annotations

import datetime
import logging

import pytest

from adapters.aws import names
from adapters.aws.secretstore import HMAC_TAG
from adapters.base import AdapterError, ResourceKey, Upkeep

VALUE = "s3cr3t-Value-from-the-deployer"


def secretsmanager(adapter):
    return adapter.aws.client("secretsmanager")


def stored(adapter, key):
    return secretsmanager(adapter).get_secret_value(SecretId=names.secret(key))["SecretString"]


def everything_shown(observed) -> str:
    return repr(observed) + repr(dict(observed.fields)) + repr(dict(observed.tags))


def test_a_value_from_the_environment_is_stored_and_shown_only_as_an_hmac(adapter, desired, monkeypatch):
    monkeypatch.setenv("API_TOKEN", VALUE)
    want = desired("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"})
    created = adapter.secrets.create(want)
    assert stored(adapter, want.key) == VALUE
    assert created.resource_id.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:mnops/dev/api-key-")
    assert created.fields["from"] == "env:API_TOKEN"
    assert created.fields["value_hmac"].startswith("hmac-sha256:")
    assert created.fields == adapter.secrets.desired_fields(want)
    assert VALUE not in everything_shown(created)
    assert VALUE not in everything_shown(adapter.observe("dev")["api-key"])
    # The value's HMAC sits in a tag for the engine's comparisons; the adapter's bookkeeping tags are not shown.
    description = secretsmanager(adapter).describe_secret(SecretId=names.secret(want.key))
    assert VALUE not in repr(description)
    assert {t["Key"]: t["Value"] for t in description["Tags"]}[HMAC_TAG] == created.fields["value_hmac"]
    assert not any(k.startswith("mnops:") for k in created.tags)


def test_a_changed_environment_value_is_drift_and_update_stores_it(adapter, desired, monkeypatch):
    monkeypatch.setenv("API_TOKEN", VALUE)
    want = desired("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"})
    current = adapter.secrets.create(want)
    monkeypatch.setenv("API_TOKEN", VALUE + "-rotated")
    assert adapter.secrets.desired_fields(want)["value_hmac"] != current.fields["value_hmac"]
    updated = adapter.secrets.update(want, current)
    assert stored(adapter, want.key) == VALUE + "-rotated"
    assert updated.fields == adapter.secrets.desired_fields(want)


def test_a_file_value_is_read_relative_to_the_estate_without_its_line_ending(adapter, desired, tmp_path):
    (tmp_path / "smtp.txt").write_text(VALUE + "\n")
    want = desired("smtp", {"contract": "secrets/v1", "from": "file:smtp.txt"})
    adapter.secrets.create(want)
    assert stored(adapter, want.key) == VALUE


def test_a_missing_source_is_an_error_naming_the_resource_and_not_a_value(adapter, desired, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    want = desired("api-key", {"contract": "secrets/v1", "from": "env:NOT_SET_ANYWHERE"})
    with pytest.raises(AdapterError, match="environment variable NOT_SET_ANYWHERE is not set") as raised:
        adapter.secrets.create(want)
    assert raised.value.key == want.key and raised.value.operation == "read secret source"
    with pytest.raises(AdapterError, match="No such file or directory"):
        adapter.secrets.create(desired("smtp", {"contract": "secrets/v1", "from": "file:nowhere.txt"}))


def test_a_generated_value_has_the_length_asked_for_and_planning_never_regenerates_it(adapter, desired):
    want = desired("api-key", {"contract": "secrets/v1", "from": "generate", "length": 48})
    created = adapter.secrets.create(want)
    value = stored(adapter, want.key)
    assert len(value) == 48 and value.isalnum()
    for _ in range(2):
        assert adapter.secrets.desired_fields(want) == created.fields
        adapter.secrets.update(want, created)
    assert stored(adapter, want.key) == value
    longer = adapter.secrets.update(
        desired("api-key", {"contract": "secrets/v1", "from": "generate", "length": 64}), created
    )
    assert len(stored(adapter, want.key)) == 64
    assert longer.fields["length"] == 64


def test_a_secret_that_cannot_be_written_says_so_without_its_value(target, desired, monkeypatch):
    monkeypatch.setenv("API_TOKEN", VALUE)
    want = desired("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"})
    with target.failing(), pytest.raises(AdapterError) as raised:
        target.adapter.secrets.create(want)
    assert raised.value.key == want.key
    assert VALUE not in str(raised.value) and VALUE not in str(raised.value.__cause__)


def test_a_secret_of_its_name_left_untagged_by_a_crash_is_adopted(adapter, desired, monkeypatch):
    monkeypatch.setenv("API_TOKEN", VALUE)
    want = desired("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"})
    secretsmanager(adapter).create_secret(Name=names.secret(want.key), SecretBinary=b"\x00half-made")
    assert adapter.secrets.observe("dev") == []
    created = adapter.secrets.create(want)
    assert stored(adapter, want.key) == VALUE
    assert created.fields == adapter.secrets.desired_fields(want)


def test_rotation_is_recorded_and_maintain_rotates_once_the_period_has_passed(make_adapter, desired):
    now = [datetime.datetime.now(datetime.UTC).timestamp()]
    adapter = make_adapter(clock=lambda: now[0])
    want = desired("api-key", {"contract": "secrets/v1", "from": "generate", "rotation_days": 30})
    created = adapter.secrets.create(want)
    assert created.fields["rotation_days"] == 30
    first = stored(adapter, want.key)
    assert adapter.maintain("dev") == {"api-key": Upkeep(rotated=False)}
    now[0] += 31 * 86400
    done = adapter.maintain("dev")
    assert done.keys() == {"api-key"} and done["api-key"].rotated
    assert done["api-key"].detail == f"version {adapter.secrets.reference(want.key)[1]}"
    assert stored(adapter, want.key) != first
    rotated = adapter.secrets.find(want.key)
    # The new value is the adapter's own: no drift, healthy.
    assert rotated.fields == adapter.secrets.desired_fields(want)
    assert adapter.secrets.health(rotated).healthy


def test_deleting_is_immediate_so_the_name_can_be_used_again(adapter, desired):
    want = desired("api-key", {"contract": "secrets/v1", "from": "generate"})
    created = adapter.secrets.create(want)
    adapter.secrets.delete(created)
    listed = secretsmanager(adapter).list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert names.secret(want.key) not in [s["Name"] for s in listed]
    assert adapter.secrets.create(want).resource_id != created.resource_id


def test_with_a_recovery_window_a_deleted_secret_is_gone_to_the_engine_and_restored_by_create(make_adapter, desired):
    adapter = make_adapter(deletion_recovery_days=7)
    want = desired("api-key", {"contract": "secrets/v1", "from": "generate"})
    created = adapter.secrets.create(want)
    value = stored(adapter, want.key)
    adapter.secrets.delete(created)
    assert adapter.secrets.observe("dev") == []
    assert not adapter.secrets.health(created).healthy
    adapter.secrets.delete(created)
    restored = adapter.secrets.create(want)
    assert restored.resource_id == created.resource_id
    assert stored(adapter, want.key) == value
    assert restored.fields == adapter.secrets.desired_fields(want)


def test_the_hmac_key_is_a_secret_of_its_own_that_belongs_to_no_platform(adapter, desired):
    adapter.secrets.create(desired("api-key", {"contract": "secrets/v1", "from": "generate"}))
    key_secret = secretsmanager(adapter).describe_secret(SecretId=names.HMAC_KEY_SECRET)
    assert {t["Key"] for t in key_secret["Tags"]} == {"mnops-managed-by"}
    assert [o.key for o in adapter.secrets.observe("dev")] == [ResourceKey("dev", "api-key")]
    # Another adapter (another deployer) uses the same key: the HMACs agree.
    assert adapter.aws.value_hmac("x") == type(adapter)(
        region=adapter.region, endpoint_url=adapter.aws.endpoint_url, session=adapter.aws.session
    ).aws.value_hmac("x")


def test_a_value_replaced_behind_the_engines_back_is_unhealthy_and_drift(adapter, desired):
    want = desired("api-key", {"contract": "secrets/v1", "from": "generate"})
    created = adapter.secrets.create(want)
    secretsmanager(adapter).put_secret_value(SecretId=names.secret(want.key), SecretString="someone else's")
    report = adapter.secrets.health(created)
    assert not report.healthy and report.detail == "stored value is not the one this provider wrote"
    assert adapter.secrets.find(want.key).fields["value_hmac"] != adapter.secrets.desired_fields(want)["value_hmac"]


def test_botocore_at_debug_logs_no_secret_value(adapter, desired, monkeypatch, caplog):
    monkeypatch.setenv("API_TOKEN", VALUE)
    want = desired("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"})
    with caplog.at_level(logging.DEBUG):  # every logger, botocore's body loggers included
        created = adapter.secrets.create(want)
        adapter.observe_many(["dev"])
        adapter.secrets.update(desired("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"}), created)
    assert "Response body" in caplog.text  # botocore did log bodies: those without a value
    assert VALUE not in caplog.text
