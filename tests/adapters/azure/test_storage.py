"""storage/v1 on Azure: a storage account with one container, versioning, access and a lifecycle rule."""

from __future__ import annotations

import pytest

from adapters.azure import names
from adapters.azure.storage import EXPIRY_RULE
from adapters.base import AdapterError
from tests.adapters.azure.conftest import build


def account(adapter, key):
    return names.group(key.platform), names.storage_account(adapter.azure.subscription_id, key)


def test_a_bucket_is_a_private_tagged_account_with_one_container(adapter):
    want = build("assets", {"contract": "storage/v1", "versioning": True}, tags={"team": "web"})
    created = adapter.storage.create(want)
    storage = adapter.azure.client("storage")
    found = storage.storage_accounts.get_properties(*account(adapter, want.key))
    assert found.allow_blob_public_access is False
    assert found.tags["mnops-resource"] == "assets" and found.tags["team"] == "web"
    assert storage.blob_services.get_service_properties(*account(adapter, want.key)).is_versioning_enabled
    assert created.resource_id == found.id
    assert created.fields == {"versioning": True, "encrypted": True, "public": False, "expire_after_days": None}


def test_encryption_cannot_be_turned_off_and_saying_so_is_refused_naming_the_field(adapter, fake):
    want = build("assets", {"contract": "storage/v1", "encrypted": False})
    with pytest.raises(AdapterError, match="encrypted: Azure Storage always encrypts") as raised:
        adapter.storage.create(want)
    assert raised.value.key == want.key and raised.value.operation == "create"
    assert fake.count("PUT") == 0  # refused before anything was made


def test_public_opens_both_the_account_and_the_container_and_closing_closes_both(adapter):
    want = build("assets", {"contract": "storage/v1", "public": True})
    created = adapter.storage.create(want)
    assert created.fields["public"] is True
    storage = adapter.azure.client("storage")
    container = storage.blob_containers.get(*account(adapter, want.key), names.CONTAINER)
    assert str(container.public_access.value) == "Blob"
    closed = adapter.storage.update(build("assets", {"contract": "storage/v1"}), created)
    assert closed.fields["public"] is False
    assert storage.storage_accounts.get_properties(*account(adapter, want.key)).allow_blob_public_access is False


def test_expiry_is_one_lifecycle_rule_and_rules_somebody_else_added_are_kept(adapter):
    want = build("assets", {"contract": "storage/v1", "expire_after_days": 30})
    created = adapter.storage.create(want)
    policies = adapter.azure.client("storage").management_policies
    theirs = {
        "name": "archive-old",
        "enabled": True,
        "type": "Lifecycle",
        "definition": {
            "filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["old/"]},
            "actions": {"baseBlob": {"tierToArchive": {"daysAfterModificationGreaterThan": 10}}},
        },
    }
    rules = [*policies.get(*account(adapter, want.key), "default").policy["rules"], theirs]
    policies.create_or_update(*account(adapter, want.key), "default", {"properties": {"policy": {"rules": rules}}})
    updated = adapter.storage.update(build("assets", {"contract": "storage/v1", "expire_after_days": 90}), created)
    assert updated.fields["expire_after_days"] == 90
    names_now = [r["name"] for r in policies.get(*account(adapter, want.key), "default").policy["rules"]]
    assert sorted(names_now) == sorted(["archive-old", EXPIRY_RULE])
    adapter.storage.update(build("assets", {"contract": "storage/v1"}), updated)
    assert [r["name"] for r in policies.get(*account(adapter, want.key), "default").policy["rules"]] == ["archive-old"]


def test_an_account_of_its_name_left_untagged_is_found_and_adopted_by_import(adapter):
    want = build("assets", {"contract": "storage/v1"})
    created = adapter.storage.create(want)
    adapter.azure.client("storage").storage_accounts.update(*account(adapter, want.key), {"tags": {}})
    assert adapter.storage.observe("dev") == []
    found = adapter.storage.find(want.key)
    assert found is not None and found.resource_id == created.resource_id
    tagged = adapter.storage.tag_identity(found)
    assert tagged.tags["mnops-platform"] == "dev"
    assert [o.key for o in adapter.storage.observe("dev")] == [want.key]
