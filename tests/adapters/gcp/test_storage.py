"""storage/v1 on GCP, as Cloud Storage holds it: the bucket's settings, labels, public access, expiry rules, and the
values it refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.base import AdapterError, Desired
from adapters.gcp.adapter import GcpAdapter
from adapters.gcp.storage import PUBLIC_MEMBER, PUBLIC_ROLE
from tests.adapters.gcp.conftest import build
from tests.adapters.gcp.gcs import GcsEmulator


def _bucket(adapter: GcpAdapter, desired: Desired):
    return adapter.gcp.storage().get_bucket(adapter.storage.bucket(desired.key))


def test_a_private_bucket_has_uniform_access_and_enforced_prevention(adapter: GcpAdapter) -> None:
    desired = build(
        "assets", {"contract": "storage/v1", "versioning": True, "expire_after_days": 30}, tags={"team": "a"}
    )
    adapter.storage.create(desired)
    bucket = _bucket(adapter, desired)
    assert bucket.iam_configuration.uniform_bucket_level_access_enabled
    assert bucket.iam_configuration.public_access_prevention == "enforced"
    assert bucket.versioning_enabled
    assert list(bucket.lifecycle_rules) == [{"action": {"type": "Delete"}, "condition": {"age": 30}}]
    assert bucket.labels == {
        "team": "a",
        "mnops-platform": "dev",
        "mnops-resource": "assets",
        "mnops-managed-by": "mnops",
        "mnops-contract": "storage_v1",
    }
    assert bucket.location.lower() == "europe-west1"


def test_a_public_bucket_grants_all_users_object_reads_and_closing_it_removes_only_that(adapter: GcpAdapter) -> None:
    public = build("site", {"contract": "storage/v1", "public": True})
    made = adapter.storage.create(public)
    assert made.fields["public"] is True
    bucket = _bucket(adapter, public)
    assert bucket.iam_configuration.public_access_prevention == "inherited"
    policy = bucket.get_iam_policy(requested_policy_version=3)
    policy.bindings.append({"role": PUBLIC_ROLE, "members": {"group:readers@example.com"}})
    bucket.set_iam_policy(policy)
    closed = adapter.storage.update(build("site", {"contract": "storage/v1"}), made)
    assert closed.fields["public"] is False
    bucket = _bucket(adapter, public)
    assert bucket.iam_configuration.public_access_prevention == "enforced"
    members = [m for b in bucket.get_iam_policy(requested_policy_version=3).bindings for m in b["members"]]
    assert "group:readers@example.com" in members
    assert PUBLIC_MEMBER not in members


def test_encrypted_false_reads_back_as_encrypted_since_gcs_always_encrypts(adapter: GcpAdapter) -> None:
    desired = build("plain", {"contract": "storage/v1", "encrypted": False})
    made = adapter.storage.create(desired)
    assert made.fields["encrypted"] is True
    assert adapter.storage.desired_fields(desired)["encrypted"] is True


def test_lifecycle_rules_somebody_else_added_are_kept(adapter: GcpAdapter) -> None:
    desired = build("logs", {"contract": "storage/v1", "expire_after_days": 10})
    made = adapter.storage.create(desired)
    bucket = _bucket(adapter, desired)
    theirs = {"action": {"type": "SetStorageClass", "storageClass": "NEARLINE"}, "condition": {"age": 5}}
    bucket.lifecycle_rules = [*bucket.lifecycle_rules, theirs]
    bucket.patch()
    adapter.storage.update(build("logs", {"contract": "storage/v1"}), made)
    assert list(_bucket(adapter, desired).lifecycle_rules) == [theirs]


def test_a_removed_label_is_drift_and_is_put_back(adapter: GcpAdapter) -> None:
    desired = build("assets", {"contract": "storage/v1"}, tags={"team": "a"})
    adapter.storage.create(desired)
    bucket = _bucket(adapter, desired)
    bucket.labels = {k: v for k, v in bucket.labels.items() if k != "team"}
    bucket.patch()
    drifted = adapter.storage.find(desired.key)
    assert drifted is not None and "team" not in drifted.tags
    repaired = adapter.storage.update(desired, drifted)
    assert repaired.tags["team"] == "a"


def test_a_tag_gcp_cannot_hold_is_refused_before_anything_is_made(adapter: GcpAdapter, gcs: GcsEmulator) -> None:
    desired = build("assets", {"contract": "storage/v1"}, tags={"owner": "Ops Team"})
    with pytest.raises(AdapterError, match="tag 'owner'") as raised:
        adapter.storage.create(desired)
    assert raised.value.key == desired.key
    assert adapter.storage.find(desired.key) is None


def test_a_region_other_than_the_adapters_location_is_refused(make_adapter: Callable[..., GcpAdapter]) -> None:
    adapter = make_adapter(location="us-central1")
    with pytest.raises(AdapterError, match="us-central1"):
        adapter.storage.create(build("assets", {"contract": "storage/v1"}))


def test_a_bucket_name_containing_google_is_refused(adapter: GcpAdapter) -> None:
    with pytest.raises(AdapterError, match="google"):
        adapter.storage.create(build("google-data", {"contract": "storage/v1"}))


def test_deleting_a_bucket_removes_every_generation_of_its_objects(adapter: GcpAdapter) -> None:
    desired = build("assets", {"contract": "storage/v1", "versioning": True})
    made = adapter.storage.create(desired)
    blob = _bucket(adapter, desired).blob("report.txt")
    blob.upload_from_string(b"one")
    blob.upload_from_string(b"two")
    adapter.storage.delete(made)
    assert adapter.storage.find(desired.key) is None


def test_bucket_names_differ_between_projects_and_stay_within_63_characters(
    make_adapter: Callable[..., GcpAdapter],
) -> None:
    key = build("a" + "b" * 38 + "c", {"contract": "storage/v1"}, platform="p" + "q" * 38 + "r").key
    ours = make_adapter().storage.bucket(key)
    theirs = make_adapter(project="other-project").storage.bucket(key)
    assert ours != theirs
    assert len(ours) <= 63 and ours.startswith("mnops-")
