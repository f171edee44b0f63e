"""storage/v1 on the local provider: versions kept, bytes encrypted at rest, objects expired, names kept apart."""

from __future__ import annotations

import os

import pytest

from adapters.base import AdapterError, ResourceKey, Upkeep
from adapters.local.storage import NoSuchObject

KEY = ResourceKey("dev", "assets")
DAY = 86400


def bucket(adapter, desired, **fields):
    adapter.storage.create(desired("assets", {"contract": "storage/v1", **fields}))
    return adapter.storage


def files_under(path):
    return [os.path.join(d, f) for d, _, names in os.walk(path) for f in names]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_objects_round_trip_with_names_that_look_like_paths(adapter, desired):
    storage = bucket(adapter, desired)
    storage.put_object(KEY, "reports/2024/q1.csv", b"a,b\n1,2\n")
    storage.put_object(KEY, "../escape", b"still inside")
    assert storage.get_object(KEY, "reports/2024/q1.csv") == b"a,b\n1,2\n"
    assert storage.get_object(KEY, "../escape") == b"still inside"
    assert [o.name for o in storage.list_objects(KEY)] == ["../escape", "reports/2024/q1.csv"]
    assert [o.name for o in storage.list_objects(KEY, prefix="reports/")] == ["reports/2024/q1.csv"]
    assert all(f.startswith(str(adapter.root / "storage" / "dev" / "assets")) for f in files_under(adapter.root))


def test_versioning_keeps_older_versions_listable_and_readable(adapter, desired):
    storage = bucket(adapter, desired, versioning=True)
    first = storage.put_object(KEY, "config.json", b"v1")
    storage.put_object(KEY, "config.json", b"v2")
    assert storage.get_object(KEY, "config.json") == b"v2"
    assert storage.get_object(KEY, "config.json", first.version_id) == b"v1"
    versions = storage.list_objects(KEY, versions=True)
    assert [v.is_latest for v in versions] == [False, True]
    storage.delete_object(KEY, "config.json")
    with pytest.raises(NoSuchObject):
        storage.get_object(KEY, "config.json")
    assert storage.list_objects(KEY) == []
    versions = storage.list_objects(KEY, versions=True)
    assert [v.is_delete_marker for v in versions] == [False, False, True]
    assert storage.get_object(KEY, "config.json", first.version_id) == b"v1"


def test_without_versioning_a_write_replaces_the_object(adapter, desired):
    storage = bucket(adapter, desired, versioning=False)
    first = storage.put_object(KEY, "config.json", b"v1")
    storage.put_object(KEY, "config.json", b"v2")
    assert len(storage.list_objects(KEY, versions=True)) == 1
    with pytest.raises(NoSuchObject):
        storage.get_object(KEY, "config.json", first.version_id)
    storage.delete_object(KEY, "config.json")
    storage.delete_object(KEY, "config.json")
    assert storage.list_objects(KEY, versions=True) == []


def test_encrypted_objects_are_not_plaintext_on_disk(adapter, desired):
    plaintext = b"card 4111-1111-1111-1111 belongs to Ada"
    storage = bucket(adapter, desired, encrypted=True)
    storage.put_object(KEY, "customers.txt", plaintext)
    assert storage.get_object(KEY, "customers.txt") == plaintext
    for path in files_under(adapter.root):
        assert b"4111-1111" not in read(path), f"plaintext found in {path}"


def test_unencrypted_objects_are_plaintext_on_disk(adapter, desired):
    """The control for the test above: the scan would find the bytes if they were there."""
    storage = bucket(adapter, desired, encrypted=False)
    storage.put_object(KEY, "public.txt", b"hello world")
    assert any(b"hello world" in read(p) for p in files_under(adapter.root))


def test_objects_expire_when_listed(adapter, desired, clock):
    storage = bucket(adapter, desired, expire_after_days=30)
    storage.put_object(KEY, "old.log", b"old")
    clock.advance(29 * DAY)
    storage.put_object(KEY, "new.log", b"new")
    assert [o.name for o in storage.list_objects(KEY)] == ["new.log", "old.log"]
    clock.advance(2 * DAY)
    assert [o.name for o in storage.list_objects(KEY)] == ["new.log"]
    with pytest.raises(NoSuchObject):
        storage.get_object(KEY, "old.log")


def test_maintain_expires_objects_by_their_last_write(adapter, desired):
    storage = bucket(adapter, desired, expire_after_days=1)
    storage.put_object(KEY, "stale", b"x")
    storage.put_object(KEY, "fresh", b"y")
    # Age the file itself, as time (or someone with a shell) would.
    stale_dir = adapter.root / "storage" / "dev" / "assets" / "objects" / "stale"
    for version in stale_dir.iterdir():
        os.utime(version, (version.stat().st_atime - 2 * DAY, version.stat().st_mtime - 2 * DAY))
    assert storage.maintain(KEY) == Upkeep(removed=1)
    assert adapter.maintain("dev") == {"assets": Upkeep(removed=0)}
    assert [o.name for o in storage.list_objects(KEY)] == ["fresh"]


def test_public_is_recorded_only(adapter, desired):
    storage = bucket(adapter, desired, public=True)
    [observed] = storage.observe("dev")
    assert observed.fields["public"] is True


def test_an_object_api_call_on_a_missing_bucket_is_an_adapter_error(adapter):
    with pytest.raises(AdapterError, match="no storage/v1 resource"):
        adapter.storage.put_object(KEY, "x", b"x")
