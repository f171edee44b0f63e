"""The local adapter as a whole: where it keeps things, where its master key comes from, how it reports and repairs
damaged resources, and that re-applying touches nothing on disk."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet

from adapters import registry
from adapters.base import IDENTITY_TAGS, AdapterError, ResourceKey, Upkeep
from adapters.local.adapter import LocalAdapter
from adapters.local.files import METADATA
from adapters.local.keys import MASTER_KEY_ENV
from tests.faults.inject import fill

STORAGE = {"contract": "storage/v1", "versioning": True}


def test_the_registry_builds_a_local_adapter(tmp_path):
    adapter = registry.create_adapter("local", root=tmp_path, master_key=Fernet.generate_key().decode())
    assert isinstance(adapter, LocalAdapter)
    assert adapter.supported_contracts == registry.supported_contracts("local")


def test_root_comes_from_the_argument_then_the_environment_then_a_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MNOPS_LOCAL_ROOT", raising=False)
    assert LocalAdapter().root == tmp_path / ".mnops" / "local"
    monkeypatch.setenv("MNOPS_LOCAL_ROOT", str(tmp_path / "from-env"))
    assert LocalAdapter().root == tmp_path / "from-env"
    assert LocalAdapter("relative").root == tmp_path / "relative"


def test_resources_live_at_kind_platform_resource(adapter, desired):
    observed = adapter.storage.create(desired("assets", STORAGE, tags={"team": "web"}))
    folder = adapter.root / "storage" / "dev" / "assets"
    assert observed.resource_id == str(folder)
    metadata = json.loads((folder / METADATA).read_text())
    assert metadata["contract"] == "storage/v1"
    assert set(IDENTITY_TAGS) <= metadata["tags"].keys()
    assert metadata["tags"]["team"] == "web"
    assert metadata["fields"]["versioning"] is True
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")], "a temporary file was left behind"


def test_a_master_key_file_is_created_once_with_mode_0600(tmp_path, desired, monkeypatch):
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    first = LocalAdapter(tmp_path)
    first.secrets.create(desired("api-key", {"contract": "secrets/v1", "from": "generate"}))
    key_file = tmp_path / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # A second adapter on the same root reads the same key, so it can decrypt what the first stored.
    assert LocalAdapter(tmp_path).secrets.reveal(ResourceKey("dev", "api-key"))


def test_the_master_key_comes_from_the_environment_before_the_key_file(tmp_path, desired, monkeypatch):
    monkeypatch.setenv(MASTER_KEY_ENV, Fernet.generate_key().decode())
    LocalAdapter(tmp_path).secrets.create(desired("api-key", {"contract": "secrets/v1", "from": "generate"}))
    assert not (tmp_path / "master.key").exists()


def test_a_bad_master_key_is_refused_without_being_echoed(tmp_path, desired):
    adapter = LocalAdapter(tmp_path, master_key="hunter2-is-not-a-fernet-key")
    with pytest.raises(AdapterError, match="not a Fernet key") as raised:
        adapter.secrets.create(desired("api-key", {"contract": "secrets/v1", "from": "generate"}))
    assert "hunter2" not in str(raised.value)
    assert "hunter2" not in repr(adapter)


def test_a_master_key_file_others_can_read_is_refused(tmp_path, desired, monkeypatch):
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    (tmp_path / "master.key").write_bytes(Fernet.generate_key())
    os.chmod(tmp_path / "master.key", 0o644)
    with pytest.raises(AdapterError, match="chmod 600"):
        LocalAdapter(tmp_path).secrets.create(desired("api-key", {"contract": "secrets/v1", "from": "generate"}))


def test_a_folder_without_metadata_is_observed_and_can_be_deleted(adapter):
    # What a crash between mkdir and the metadata write leaves behind.
    folder = adapter.root / "queue" / "dev" / "jobs"
    folder.mkdir(parents=True)
    (folder / "queue.db").write_bytes(b"")
    [observed] = adapter.queue.observe("dev")
    assert observed.key == ResourceKey("dev", "jobs")
    assert observed.resource_id == str(folder)
    assert observed.fields == {}
    assert observed.tags["mnops-platform"] == "dev"
    assert not adapter.queue.health(observed).healthy
    adapter.queue.delete(observed)
    assert adapter.queue.observe("dev") == []
    assert not (adapter.root / "queue" / "dev").exists(), "an empty platform folder slows every later scan"


def test_unreadable_metadata_is_repaired_by_an_update(adapter, desired):
    wanted = desired("assets", STORAGE)
    adapter.storage.create(wanted)
    (adapter.root / "storage" / "dev" / "assets" / METADATA).write_text("{ half a docu")
    [damaged] = adapter.storage.observe("dev")
    assert damaged.fields == {}
    repaired = adapter.storage.update(wanted, damaged)
    assert repaired.fields == adapter.storage.desired_fields(wanted)


def test_creating_what_exists_converges_it_and_keeps_its_data(adapter, desired):
    first = adapter.storage.create(desired("assets", STORAGE))
    adapter.storage.put_object(first.key, "report.csv", b"a,b")
    again = adapter.storage.create(desired("assets", {**STORAGE, "versioning": False}, tags={"team": "web"}))
    assert again.resource_id == first.resource_id
    assert again.fields["versioning"] is False
    assert again.tags["team"] == "web"
    assert adapter.storage.get_object(first.key, "report.csv") == b"a,b"


def test_creating_over_a_folder_whose_creation_did_not_finish_completes_it(adapter, desired):
    # What a crash between mkdir and the metadata write leaves behind: no metadata yet.
    folder = adapter.root / "queue" / "dev" / "jobs"
    folder.mkdir(parents=True)
    wanted = desired("jobs", {"contract": "queue/v1"})
    created = adapter.queue.create(wanted)
    assert created.problem is None
    assert created.fields == adapter.queue.desired_fields(wanted)
    assert adapter.queue.health(created).healthy


def test_updating_what_does_not_exist_is_an_error(adapter, desired):
    observed = adapter.storage.create(desired("assets", STORAGE))
    adapter.storage.delete(observed)
    with pytest.raises(AdapterError, match="does not exist"):
        adapter.storage.update(desired("assets", STORAGE), observed)


def test_names_that_could_leave_the_root_are_refused(adapter, desired):
    wanted = desired("assets", STORAGE)
    escaping = type(wanted)(ResourceKey("..", "assets"), wanted.spec, wanted.tags, wanted.region)
    with pytest.raises(AdapterError, match="must match"):
        adapter.storage.create(escaping)
    assert adapter.storage.observe("../..") == []


def test_leftovers_of_an_interrupted_delete_are_invisible_and_swept(adapter, desired):
    leftover = adapter.root / "storage" / "dev" / ".deleting-assets-1-2"
    leftover.mkdir(parents=True)
    assert adapter.storage.observe("dev") == []
    adapter.storage.create(desired("assets", STORAGE))
    assert not leftover.exists()


def test_reapplying_writes_nothing_to_disk(adapter, desired):
    """Stronger than counting calls: an in-sync resource is not even rewritten."""
    wanted = desired("assets", STORAGE)
    adapter.storage.create(wanted)
    metadata = adapter.root / "storage" / "dev" / "assets" / METADATA
    before = metadata.stat().st_mtime_ns
    [observed] = adapter.storage.observe("dev")
    assert observed.fields == adapter.storage.desired_fields(wanted)
    assert metadata.stat().st_mtime_ns == before


def test_observe_lists_every_contract_of_one_platform(adapter, desired):
    adapter.storage.create(desired("assets", STORAGE))
    adapter.logging.create(desired("app-logs", {"contract": "logging/v1"}))
    adapter.logging.create(desired("app-logs", {"contract": "logging/v1"}, platform="other"))
    assert sorted(adapter.observe("dev")) == ["app-logs", "assets"]
    assert adapter.platforms() == ["dev", "other"]


def test_maintain_reports_each_resource_with_housekeeping_and_goes_on_past_a_failure(adapter, desired, clock):
    adapter.secrets.create(desired("api-key", {"contract": "secrets/v1", "from": "generate", "rotation_days": 1}))
    adapter.logging.create(desired("app-logs", {"contract": "logging/v1", "retention_days": 7}))
    adapter.compute.create(desired("api", {"contract": "compute/v1", "command": ["python", "-V"], "replicas": 0}))
    assert adapter.maintain("dev") == {"api-key": Upkeep(), "app-logs": Upkeep()}  # compute has no housekeeping
    clock.advance(2 * 86400)
    records = adapter.root / "logging" / "dev" / "app-logs" / "records"
    for path in records.iterdir():
        path.unlink()
    records.rmdir()
    records.write_bytes(b"not a folder")
    done = adapter.maintain("dev")
    assert done["api-key"] == Upkeep(rotated=True)
    assert done["app-logs"].error is not None and "dev/app-logs" in done["app-logs"].error


FIRST_USE = """
import os, resource, signal, sys, time
from pathlib import Path
from adapters.local.keys import Keyring
root, go, limit = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
if limit:  # no room to write a byte: a full disk, for a process that cannot mount one
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
while not go.exists():
    time.sleep(0.001)
print(Keyring(root, None).hmac("probe"))
"""


def first_use(root, go, *, full=False):
    env = {k: v for k, v in os.environ.items() if k != MASTER_KEY_ENV}
    command = [sys.executable, "-c", FIRST_USE, str(root), str(go), "full" if full else ""]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_first_users_starting_together_all_end_with_the_same_key(tmp_path):
    for round_ in range(2):
        root, go = tmp_path / f"root-{round_}", tmp_path / f"go-{round_}"
        processes = [first_use(root, go) for _ in range(8)]
        time.sleep(0.5)  # let them all reach the starting line
        go.touch()
        results = [(p.wait(timeout=60), *p.communicate()) for p in processes]
        assert [code for code, _, _ in results] == [0] * 8, [err[-500:] for _, _, err in results]
        assert len({out for _, out, _ in results}) == 1
        assert [p.name for p in root.iterdir() if p.name.endswith(".tmp")] == []


def test_a_full_disk_never_leaves_an_empty_master_key(small_disk, tmp_path, monkeypatch):
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    root = (small_disk or tmp_path) / "root"
    root.mkdir()
    go = tmp_path / "go"
    go.touch()
    if small_disk is not None:
        fill(small_disk)
    failed = first_use(root, go, full=small_disk is None)
    code, _, error = failed.wait(timeout=60), *failed.communicate()
    assert code != 0 and "cannot write" in error and str(root / "master.key") in error, error[-1000:]
    assert not (root / "master.key").exists()
    assert [p.name for p in root.iterdir() if p.name.endswith(".tmp")] == []
    if small_disk is not None:
        (small_disk / "filler").unlink()
    again = first_use(root, go)
    assert again.wait(timeout=60) == 0 and len((root / "master.key").read_bytes().strip()) == 44


def test_an_empty_key_file_left_by_an_older_version_is_replaced(tmp_path, desired, monkeypatch):
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    (tmp_path / "master.key").touch(mode=0o600)
    LocalAdapter(tmp_path).secrets.create(desired("api-key", {"contract": "secrets/v1", "from": "generate"}))
    assert len((tmp_path / "master.key").read_bytes().strip()) == 44
