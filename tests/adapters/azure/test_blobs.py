"""storage/v1's blob data plane on Azure, against Azurite (HTTPS, bearer tokens checked) holding the blobs of the fake
Resource Manager's storage accounts: the account's endpoint, the container's identity metadata, emptying before a
delete, and health asked of the data plane."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from adapters.azure import names
from tests.adapters.azure.conftest import build


def account_of(adapter, fake, key):
    """The fake's record of the storage account of `key`."""
    group = names.group(key.platform)
    name = names.storage_account(adapter.azure.subscription_id, key)
    return fake.get(
        f"/subscriptions/{adapter.azure.subscription_id}/resourceGroups/{group}"
        f"/providers/Microsoft.Storage/storageAccounts/{name}"
    )


def container(adapter, key):
    """The resource's container on the data plane, reached as the adapter reaches it: the account's blob endpoint as
    Resource Manager gives it, and the adapter's credential."""
    found = adapter.azure.client("storage").storage_accounts.get_properties(
        names.group(key.platform), names.storage_account(adapter.azure.subscription_id, key)
    )
    return adapter.azure.blobs(found.primary_endpoints.blob).get_container_client(names.CONTAINER)


def test_a_storage_account_points_at_azurite_and_its_container_carries_the_identity(adapter, fake):
    want = build("exports", {"contract": "storage/v1"})
    adapter.storage.create(want)
    record = account_of(adapter, fake, want.key)
    endpoint = record["properties"]["primaryEndpoints"]["blob"]
    assert endpoint == fake.blobs.endpoint(record["_blobs"]) and endpoint.startswith(fake.blobs.url + "/")
    # Metadata names are C# identifiers: the identity tags with `_` for `-`.
    metadata = container(adapter, want.key).get_container_properties().metadata
    assert metadata == {
        "mnops_platform": "dev",
        "mnops_resource": "exports",
        "mnops_managed_by": "mnops",
        "mnops_contract": "storage/v1",
    }


def test_azurite_refuses_the_hyphenated_names_that_arm_tags_allow(adapter, fake):
    adapter.storage.create(build("exports", {"contract": "storage/v1"}))
    with pytest.raises(HttpResponseError, match="metadata"):
        container(adapter, build("exports", {"contract": "storage/v1"}).key).set_container_metadata(
            {"mnops-platform": "dev"}
        )


def test_deleting_a_storage_resource_empties_its_container_then_deletes_the_account(adapter, fake):
    want = build("exports", {"contract": "storage/v1"})
    created = adapter.storage.create(want)
    blobs = container(adapter, want.key)
    for index in range(3):
        blobs.upload_blob(f"reports/{index}.csv", b"id,total\n1,10\n")
    blobs.get_blob_client("reports/0.csv").create_snapshot()
    held = account_of(adapter, fake, want.key)["_blobs"]
    assert fake.blobs.count(held) == 4

    adapter.storage.delete(created)

    assert account_of(adapter, fake, want.key) is None
    # Every blob and snapshot was deleted through the data plane before the account went.
    assert fake.blobs.left_at_release[held] == 0
    assert fake.blobs.count(held) == 0


def test_health_asks_the_blob_data_plane(adapter, fake):
    want = build("exports", {"contract": "storage/v1"})
    created = adapter.storage.create(want)
    report = adapter.storage.health(created)
    assert report.healthy and "data plane" in report.detail
    # The container gone from the data plane while Resource Manager still lists it: the data plane says so.
    fake.blobs.delete_container(account_of(adapter, fake, want.key)["_blobs"], names.CONTAINER)
    report = adapter.storage.health(created)
    assert not report.healthy and report.detail.startswith("blob data plane: 404")
