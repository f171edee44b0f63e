"""secrets/v1 on GCP: values kept out of everything but the one call that stores them, compared by HMAC, checked by
CRC32C; generated values kept, sources re-read, rotation by maintain, errors mapped."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from google.api_core import exceptions as api_exceptions

from adapters.base import AdapterError, ResourceKey
from adapters.gcp.adapter import GcpAdapter
from adapters.gcp.secretstore import HMAC
from tests.adapters.gcp.conftest import build
from tests.adapters.gcp.grpc_fakes import SecretManager

DAY = 86400


def _value(adapter: GcpAdapter, resource_id: str) -> bytes:
    return adapter.gcp.secret_manager().access_secret_version(name=f"{resource_id}/versions/latest").payload.data


def test_a_value_from_the_environment_is_stored_and_never_shown(
    adapter: GcpAdapter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "hunter2-but-longer")
    caplog.set_level(logging.DEBUG)
    made = adapter.secrets.create(build("db", {"contract": "secrets/v1", "from": "env:DB_PASSWORD"}))
    assert _value(adapter, made.resource_id) == b"hunter2-but-longer"
    shown = repr(made) + caplog.text
    assert "hunter2" not in shown
    assert made.fields["from"] == "env:DB_PASSWORD"


def test_a_generated_value_is_kept_by_every_later_apply(adapter: GcpAdapter) -> None:
    desired = build("api-key", {"contract": "secrets/v1", "from": "generate", "length": 40})
    made = adapter.secrets.create(desired)
    first = _value(adapter, made.resource_id)
    assert len(first) == 40
    adapter.secrets.update(desired, made)
    adapter.secrets.create(desired)
    assert _value(adapter, made.resource_id) == first
    assert adapter.secrets.desired_fields(desired, made) == dict(made.fields)


def test_a_changed_source_value_is_drift_and_is_stored_as_a_new_version(
    adapter: GcpAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "first-value-of-the-token")
    desired = build("token", {"contract": "secrets/v1", "from": "env:TOKEN"})
    made = adapter.secrets.create(desired)
    monkeypatch.setenv("TOKEN", "second-value-of-the-token")
    assert adapter.secrets.desired_fields(desired)["value_hmac"] != made.fields["value_hmac"]
    adapter.secrets.update(desired, made)
    assert _value(adapter, made.resource_id) == b"second-value-of-the-token"


def test_an_unset_source_is_refused_naming_it_and_nothing_is_made(adapter: GcpAdapter) -> None:
    desired = build("token", {"contract": "secrets/v1", "from": "env:MNOPS_NOT_SET_ANYWHERE"})
    with pytest.raises(AdapterError, match="MNOPS_NOT_SET_ANYWHERE"):
        adapter.secrets.create(desired)
    assert adapter.secrets.find(desired.key) is None


def test_identity_is_in_labels_and_bookkeeping_in_annotations(adapter: GcpAdapter) -> None:
    made = adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate", "rotation_days": 30}))
    secret = adapter.gcp.secret_manager().get_secret(name=made.resource_id)
    assert secret.labels["mnops-contract"] == "secrets_v1"
    assert secret.annotations["mnops-source"] == "generate"
    assert secret.annotations["mnops-rotation-days"] == "30"
    assert secret.annotations[HMAC] == made.fields["value_hmac"]
    assert "automatic" in secret.replication


def test_a_version_whose_checksum_does_not_match_is_refused_by_secret_manager(adapter: GcpAdapter) -> None:
    made = adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate"}))
    with pytest.raises(api_exceptions.InvalidArgument, match="Checksum"):
        adapter.gcp.secret_manager().add_secret_version(
            request={"parent": made.resource_id, "payload": {"data": b"value", "data_crc32c": 12345}}
        )


def test_a_value_replaced_behind_the_engines_back_fails_health(adapter: GcpAdapter) -> None:
    made = adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate"}))
    adapter.gcp.secret_manager().add_secret_version(request={"parent": made.resource_id, "payload": {"data": b"x"}})
    report = adapter.secrets.health(made)
    assert not report.healthy and "not the one" in report.detail


def test_maintain_rotates_once_rotation_days_have_passed(make_adapter: Callable[..., GcpAdapter]) -> None:
    now = [0.0]
    adapter = make_adapter(clock=lambda: now[0])
    made = adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate", "rotation_days": 7}))
    before = _value(adapter, made.resource_id)
    now[0] = time.time() + DAY
    assert not adapter.maintain("dev")["api-key"].done
    now[0] = time.time() + 8 * DAY
    done = adapter.maintain("dev")
    assert done["api-key"].rotated and done["api-key"].detail == "version 2"
    after = _value(adapter, made.resource_id)
    assert after != before
    rotated = adapter.secrets.find(made.key)
    assert rotated is not None and rotated.fields["value_hmac"] == rotated.private[HMAC]
    assert after.decode() not in str(done["api-key"].to_dict())


def test_a_permission_denied_secret_is_an_adapter_error_naming_it(
    adapter: GcpAdapter, secrets_fake: SecretManager
) -> None:
    desired = build("api-key", {"contract": "secrets/v1", "from": "generate"})
    secrets_fake.deny.add(adapter.secrets.name(desired.key))
    with pytest.raises(AdapterError, match="PERMISSION_DENIED") as raised:
        adapter.secrets.create(desired)
    assert raised.value.key == desired.key
    assert isinstance(raised.value.__cause__, api_exceptions.PermissionDenied)


def test_observing_many_platforms_lists_once_and_reads_each_value_once(
    adapter: GcpAdapter, secrets_fake: SecretManager
) -> None:
    platforms = [f"p{i}" for i in range(5)]
    for platform in platforms:
        adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate"}, platform=platform))
    secrets_fake.calls.clear()
    found = adapter.observe_many(platforms)
    assert all(list(found[p]) == ["api-key"] for p in platforms)
    assert dict(secrets_fake.calls) == {"list_secrets": 1, "access_secret_version": 5}


def test_a_secret_made_by_hand_is_adopted_by_its_identity_labels(adapter: GcpAdapter) -> None:
    key = ResourceKey("dev", "api-key")
    client = adapter.gcp.secret_manager()
    client.create_secret(
        request={
            "parent": f"projects/{adapter.gcp.project}",
            "secret_id": "mnops-dev_api-key",
            "secret": {"replication": {"automatic": {}}, "labels": {"team": "data"}},
        }
    )
    assert adapter.secrets.observe("dev") == []
    found = adapter.secrets.find(key)
    assert found is not None
    adopted = adapter.secrets.tag_identity(found)
    assert adopted.tags["team"] == "data" and adopted.tags["mnops-contract"] == "secrets/v1"
    assert [o.key for o in adapter.secrets.observe("dev")] == [key]


def test_a_label_secret_manager_refuses_is_refused_by_the_fake_as_gcp_does(adapter: GcpAdapter) -> None:
    with pytest.raises(api_exceptions.InvalidArgument, match="label"):
        adapter.gcp.secret_manager().create_secret(
            request={
                "parent": f"projects/{adapter.gcp.project}",
                "secret_id": "by-hand",
                "secret": {"replication": {"automatic": {}}, "labels": {"Team": "x"}},
            }
        )


def test_an_update_without_a_field_mask_is_refused_by_the_fake_as_gcp_does(adapter: GcpAdapter) -> None:
    made = adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate"}))
    with pytest.raises(api_exceptions.InvalidArgument, match="update_mask"):
        adapter.gcp.secret_manager().update_secret(request={"secret": {"name": made.resource_id, "labels": {}}})


def test_a_value_observation_cannot_read_fails_its_platform_only_with_the_status(
    adapter: GcpAdapter, secrets_fake: SecretManager
) -> None:
    made = [
        adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate"}, platform=p))
        for p in ("p1", "p2", "p3")
    ]
    secrets_fake.deny.add(made[1].resource_id)
    found = adapter.observe_many(["p1", "p2", "p3"])
    assert isinstance(found["p2"], AdapterError) and "PERMISSION_DENIED" in str(found["p2"])
    assert found["p2"].key == made[1].key
    assert list(found["p1"]) == list(found["p3"]) == ["api-key"]
    secrets_fake.deny.clear()
    assert [o.key.platform for o in adapter.secrets.observe_platforms(["p1", "p2", "p3"])["p2"]] == ["p2"]


def test_the_client_librarys_debug_logs_never_carry_a_value(
    adapter: GcpAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    monkeypatch.setenv("DB_PASSWORD", "a-value-nobody-may-read")
    adapter.gcp.secret_manager()  # the filter is attached with the client
    logger = logging.getLogger("google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc")
    handler = Keep(logging.DEBUG)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        made = adapter.secrets.create(build("db", {"contract": "secrets/v1", "from": "env:DB_PASSWORD"}))
        adapter.secrets.find(made.key)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert records, "the library logged nothing at DEBUG: this test proves nothing"
    encoded = base64.b64encode(b"a-value-nobody-may-read").decode()
    for record in records:
        shown = str(vars(record))
        assert "a-value-nobody-may-read" not in shown and encoded not in shown
