"""secrets/v1 on the local provider: values from their references, encrypted at rest, shown only as keyed HMACs."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from cryptography.fernet import Fernet

from adapters.base import AdapterError, ResourceKey, Upkeep
from adapters.local.adapter import LocalAdapter
from tests.adapters.conformance import CountingDriver, differences, plan_and_apply

KEY = ResourceKey("dev", "api-key")
VALUE = "s3cr3t-value-from-the-deployer"


def secret(source, **fields):
    return {"contract": "secrets/v1", "from": source, **fields}


def everything_written(root):
    """Every byte the adapter wrote under its root, as one blob to search."""
    blob = b""
    for directory, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(directory, name), "rb") as f:
                blob += f.read()
    return blob


def test_a_generated_value_has_the_length_asked_for_and_is_never_stored_in_clear(adapter, desired):
    observed = adapter.secrets.create(desired("api-key", secret("generate", length=48)))
    value = adapter.secrets.reveal(KEY)
    assert len(value) == 48 and value.isalnum()
    assert value.encode() not in everything_written(adapter.root)
    assert value not in json.dumps(dict(observed.fields)) + repr(observed)
    assert observed.fields["value_hmac"] == adapter.home.keys.hmac(value)


def test_the_hmac_is_keyed_not_a_bare_hash(adapter, desired, tmp_path):
    adapter.secrets.create(desired("api-key", secret("generate")))
    value = adapter.secrets.reveal(KEY)
    [observed] = adapter.secrets.observe("dev")
    assert hashlib.sha256(value.encode()).hexdigest() not in observed.fields["value_hmac"]
    other = LocalAdapter(tmp_path / "other", Fernet.generate_key().decode())
    assert other.home.keys.hmac(value) != observed.fields["value_hmac"]


def test_an_env_value_is_read_at_create_time(adapter, desired, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", VALUE)
    observed = adapter.secrets.create(desired("api-key", secret("env:DB_PASSWORD")))
    assert adapter.secrets.reveal(KEY) == VALUE
    assert VALUE.encode() not in everything_written(adapter.root)
    assert VALUE not in repr(observed)


def test_a_missing_env_variable_is_an_error_naming_it(adapter, desired, monkeypatch):
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    with pytest.raises(AdapterError, match="environment variable DB_PASSWORD is not set") as raised:
        adapter.secrets.create(desired("api-key", secret("env:DB_PASSWORD")))
    assert raised.value.key == KEY


def test_a_changed_env_variable_is_drift_and_an_update_stores_the_new_value(adapter, desired, monkeypatch):
    wanted = desired("api-key", secret("env:DB_PASSWORD"))
    monkeypatch.setenv("DB_PASSWORD", VALUE)
    adapter.secrets.create(wanted)
    [current] = adapter.secrets.observe("dev")
    assert not differences(adapter.secrets, wanted, current)
    monkeypatch.setenv("DB_PASSWORD", "rotated-by-the-dba")
    assert set(differences(adapter.secrets, wanted, current)) == {"value_hmac"}
    plan_and_apply(adapter.secrets, wanted)
    assert adapter.secrets.reveal(KEY) == "rotated-by-the-dba"


def test_planning_a_generated_secret_again_does_not_regenerate_it(adapter, desired):
    wanted = desired("api-key", secret("generate", rotation_days=30))
    counting = CountingDriver(adapter.secrets)
    plan_and_apply(counting, wanted)
    value = adapter.secrets.reveal(KEY)
    for _ in range(3):
        plan_and_apply(counting, wanted)
    assert len(counting.writes) == 1
    # A change of an unrelated setting keeps the value too.
    plan_and_apply(counting, desired("api-key", secret("generate", rotation_days=90)))
    assert adapter.secrets.reveal(KEY) == value
    # A new length cannot keep it.
    plan_and_apply(counting, desired("api-key", secret("generate", length=64, rotation_days=90)))
    assert len(adapter.secrets.reveal(KEY)) == 64


def test_a_file_value_is_read_without_its_trailing_newline(adapter, desired, tmp_path):
    source = tmp_path / "token.txt"
    source.write_text(VALUE + "\n")
    adapter.secrets.create(desired("api-key", secret(f"file:{source}")))
    assert adapter.secrets.reveal(KEY) == VALUE


def test_a_missing_file_names_the_path_not_a_value(adapter, desired, tmp_path):
    with pytest.raises(AdapterError, match=r"token\.txt") as raised:
        adapter.secrets.create(desired("api-key", secret(f"file:{tmp_path / 'token.txt'}")))
    assert raised.value.key == KEY


def test_rotation_regenerates_after_rotation_days(adapter, desired, clock):
    adapter.secrets.create(desired("api-key", secret("generate", rotation_days=30)))
    before = adapter.secrets.reveal(KEY)
    clock.advance(29 * 86400)
    assert adapter.secrets.maintain(KEY) == Upkeep(rotated=False)
    clock.advance(2 * 86400)
    assert adapter.secrets.maintain(KEY) == Upkeep(rotated=True)
    assert adapter.secrets.reveal(KEY) != before
    [observed] = adapter.secrets.observe("dev")
    assert observed.fields["value_hmac"] == adapter.home.keys.hmac(adapter.secrets.reveal(KEY))
    assert adapter.secrets.health(observed).healthy


def test_a_value_swapped_behind_our_back_fails_health(adapter, desired):
    observed = adapter.secrets.create(desired("api-key", secret("generate")))
    folder = adapter.root / "secrets" / "dev" / "api-key"
    (folder / "value.fernet").write_bytes(adapter.home.keys.encrypt(b"planted"))
    report = adapter.secrets.health(observed)
    assert not report.healthy and "not the one" in report.detail


def test_a_value_under_another_master_key_is_unreadable_and_says_so(adapter, desired, tmp_path):
    adapter.secrets.create(desired("api-key", secret("generate")))
    stranger = LocalAdapter(adapter.root, Fernet.generate_key().decode())
    with pytest.raises(AdapterError, match="cannot be decrypted"):
        stranger.secrets.reveal(KEY)
    [observed] = stranger.secrets.observe("dev")
    assert observed.fields["value_hmac"] is None


def test_an_unrelated_update_keeps_the_value_and_its_age(adapter, desired, monkeypatch, clock):
    monkeypatch.setenv("DB_PASSWORD", VALUE)
    current = adapter.secrets.create(desired("api-key", secret("env:DB_PASSWORD", rotation_days=30)))
    before = json.loads((adapter.root / "secrets" / "dev" / "api-key" / "metadata.json").read_text())["state"]
    clock.advance(86400)
    adapter.secrets.update(desired("api-key", secret("env:DB_PASSWORD", rotation_days=60)), current)
    after = json.loads((adapter.root / "secrets" / "dev" / "api-key" / "metadata.json").read_text())["state"]
    assert after == before
