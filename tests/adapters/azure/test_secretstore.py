"""secrets/v1 on Azure: Key Vault secrets in the platform's vault, reached through the 401 challenge; values compared
by HMAC and never shown; rotation; soft delete then purge."""

from __future__ import annotations

import datetime
import logging

import pytest

from adapters.azure import names
from adapters.azure.secretstore import HMAC_TAG
from adapters.base import AdapterError, ResourceKey, Upkeep
from tests.adapters.azure.conftest import build
from tests.adapters.azure.fakearm import SUBSCRIPTION, TENANT

VALUE = "s3cr3t-Value-from-the-deployer"


def vault(adapter, platform="dev"):
    return adapter.secrets._client(platform)


def stored(adapter, key):
    return vault(adapter, key.platform).get_secret(key.name).value


def everything_shown(observed) -> str:
    return repr(observed) + repr(dict(observed.fields)) + repr(dict(observed.tags))


def test_the_data_plane_is_reached_through_key_vaults_401_challenge(adapter, fake):
    adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate"}))
    vault_name = names.vault(adapter.azure.subscription_id, "dev")
    made = fake.get(
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/mnops-dev/providers/Microsoft.KeyVault/vaults/{vault_name}"
    )
    assert made["properties"]["enableRbacAuthorization"] and made["properties"]["tenantId"] == TENANT
    # The first data-plane request went without a token and was challenged; the client then fetched one and retried.
    assert fake.vaults.challenged >= 1
    assert stored(adapter, ResourceKey("dev", "api-key"))


def test_a_value_from_the_environment_is_stored_and_shown_only_as_an_hmac(adapter, monkeypatch):
    monkeypatch.setenv("API_TOKEN", VALUE)
    want = build("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"})
    created = adapter.secrets.create(want)
    assert stored(adapter, want.key) == VALUE
    assert created.resource_id.endswith("/secrets/api-key")
    assert created.fields["from"] == "env:API_TOKEN"
    assert created.fields["value_hmac"].startswith("hmac-sha256:")
    assert created.fields == adapter.secrets.desired_fields(want)
    assert VALUE not in everything_shown(created)
    assert VALUE not in everything_shown(adapter.observe("dev")["api-key"])
    properties = vault(adapter).get_secret("api-key").properties
    assert properties.tags[HMAC_TAG] == created.fields["value_hmac"]
    assert not any(k.startswith("mnops:") for k in created.tags)


def test_a_changed_environment_value_is_drift_and_update_stores_it(adapter, monkeypatch):
    monkeypatch.setenv("API_TOKEN", VALUE)
    want = build("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"})
    current = adapter.secrets.create(want)
    monkeypatch.setenv("API_TOKEN", VALUE + "-rotated")
    assert adapter.secrets.desired_fields(want)["value_hmac"] != current.fields["value_hmac"]
    updated = adapter.secrets.update(want, current)
    assert stored(adapter, want.key) == VALUE + "-rotated"
    assert updated.fields == adapter.secrets.desired_fields(want)


def test_a_generated_value_has_the_length_asked_for_and_planning_never_regenerates_it(adapter):
    want = build("api-key", {"contract": "secrets/v1", "from": "generate", "length": 48})
    created = adapter.secrets.create(want)
    value = stored(adapter, want.key)
    assert len(value) == 48 and value.isalnum()
    for _ in range(2):
        assert adapter.secrets.desired_fields(want) == created.fields
        adapter.secrets.update(want, created)
    assert stored(adapter, want.key) == value


def test_a_missing_source_is_an_error_naming_the_resource_and_not_a_value(adapter, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    want = build("api-key", {"contract": "secrets/v1", "from": "env:NOT_SET_ANYWHERE"})
    with pytest.raises(AdapterError, match="environment variable NOT_SET_ANYWHERE is not set") as raised:
        adapter.secrets.create(want)
    assert raised.value.key == want.key and raised.value.operation == "read secret source"


def test_a_secret_that_cannot_be_written_says_so_without_its_value(target, monkeypatch):
    monkeypatch.setenv("API_TOKEN", VALUE)
    want = build("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"}, platform="conf")
    with target.failing(), pytest.raises(AdapterError) as raised:
        target.adapter.secrets.create(want)
    assert raised.value.key == want.key
    assert VALUE not in str(raised.value) and VALUE not in str(raised.value.__cause__)


def test_more_tags_than_key_vault_allows_are_refused_naming_the_field(adapter):
    tags = {f"team-{i}": "x" for i in range(8)}
    want = build("api-key", {"contract": "secrets/v1", "from": "generate", "tags": tags})
    with pytest.raises(AdapterError, match="tags: Key Vault allows 15 tags a secret") as raised:
        adapter.secrets.create(want)
    assert raised.value.key == want.key
    assert adapter.observe("dev") == {}


def test_rotation_is_recorded_and_maintain_rotates_once_the_period_has_passed(make_adapter):
    now = [datetime.datetime.now(datetime.UTC).timestamp()]
    adapter = make_adapter(clock=lambda: now[0])
    want = build("api-key", {"contract": "secrets/v1", "from": "generate", "rotation_days": 30})
    created = adapter.secrets.create(want)
    assert created.fields["rotation_days"] == 30
    first = stored(adapter, want.key)
    assert adapter.maintain("dev") == {"api-key": Upkeep()}
    now[0] += 31 * 86400
    done = adapter.maintain("dev")
    assert done.keys() == {"api-key"} and done["api-key"].rotated
    assert done["api-key"].detail.startswith("version ")
    assert stored(adapter, want.key) != first
    rotated = adapter.secrets.find(want.key)
    assert rotated.fields == adapter.secrets.desired_fields(want)
    assert adapter.secrets.health(rotated).healthy


def test_deleting_purges_so_the_name_can_be_used_again(adapter):
    want = build("api-key", {"contract": "secrets/v1", "from": "generate"})
    created = adapter.secrets.create(want)
    value = stored(adapter, want.key)
    adapter.secrets.delete(created)
    assert list(vault(adapter).list_deleted_secrets()) == []
    again = adapter.secrets.create(want)
    assert stored(adapter, want.key) != value
    assert again.fields == adapter.secrets.desired_fields(want)


def test_a_secret_deleted_by_hand_without_purging_is_recovered_by_create(adapter):
    want = build("api-key", {"contract": "secrets/v1", "from": "generate"})
    adapter.secrets.create(want)
    value = stored(adapter, want.key)
    vault(adapter).begin_delete_secret("api-key").wait()
    assert adapter.secrets.observe("dev") == []
    restored = adapter.secrets.create(want)
    assert stored(adapter, want.key) == value
    assert restored.fields == adapter.secrets.desired_fields(want)


def test_the_hmac_key_is_a_secret_of_the_vault_and_no_resource(adapter):
    adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate"}))
    listed = {p.name: dict(p.tags or {}) for p in vault(adapter).list_properties_of_secrets()}
    assert listed[names.HMAC_KEY_SECRET] == {"mnops-managed-by": "mnops"}
    assert [o.key for o in adapter.secrets.observe("dev")] == [ResourceKey("dev", "api-key")]


def test_the_vault_outlives_its_last_secret_but_the_platform_is_no_longer_listed(adapter):
    created = adapter.secrets.create(build("api-key", {"contract": "secrets/v1", "from": "generate"}))
    assert adapter.platforms() == ["dev"]
    adapter.secrets.delete(created)
    assert adapter.platforms() == []


def test_azure_sdk_logs_at_debug_carry_no_secret_value(adapter, monkeypatch, caplog):
    monkeypatch.setenv("API_TOKEN", VALUE)
    want = build("api-key", {"contract": "secrets/v1", "from": "env:API_TOKEN"})
    with caplog.at_level(logging.DEBUG):
        created = adapter.secrets.create(want)
        adapter.observe_many(["dev"])
        adapter.secrets.update(want, created)
    assert "Request URL" in caplog.text  # azure-core did log the calls
    assert VALUE not in caplog.text
