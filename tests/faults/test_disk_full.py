"""Disk full, on a real tmpfs holding the local provider's resources: a first deploy and an update each meet a full
disk, go back to what was there with their deploy row finished and the lock released, and converge once there is room
again."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from adapters.local import testing
from adapters.local.adapter import LocalAdapter
from mnops_assets.engine.errors import DeployFailed
from mnops_assets.engine.state import StateStore
from tests.faults.inject import NO_TMPFS, fill, tmpfs
from tests.mnops_assets.engine.platforms import MASTER_KEY, make_engine, spec

pytestmark = pytest.mark.slow

V2 = {"resources.jobs.retention_seconds": 3600, "resources.cache": {"contract": "storage/v1"}}


@pytest.fixture
def disk(tmp_path) -> Iterator:
    with tmpfs(tmp_path / "disk", "2m") as mounted:
        if mounted is None:
            if os.environ.get("CI"):
                pytest.fail(NO_TMPFS + " (CI runs as root and must run the disk-full faults)")
            pytest.skip(NO_TMPFS)
        yield mounted


@pytest.fixture
def parts(disk, tmp_path) -> Iterator[tuple[StateStore, LocalAdapter]]:
    # The state store stays on a disk with room: it is what records the failure and the rollback.
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    adapter = LocalAdapter(root=disk / "local", master_key=MASTER_KEY)
    yield store, adapter
    testing.remove_everything(adapter)
    adapter.close()
    store.close()


def fails(engine, wanted, store, status: str, platform: str = "dev") -> DeployFailed:
    """The deploy fails, its row is finished with `status`, and its lock is released."""
    with pytest.raises(DeployFailed) as failed:
        engine.deploy(wanted)
    last = store.deploys(platform)[-1]
    assert (last["status"], store.lock_of(platform)) == (status, None), failed.value
    return failed.value


def test_a_first_deploy_on_a_full_disk_rolls_back_and_deploys_once_there_is_room(parts, disk, tmp_path, faults):
    store, adapter = parts
    engine = make_engine(store, adapter, tmp_path)
    with faults.family("disk-full") as episode:
        fill(disk)
        episode.injected += 1
        assert fails(engine, spec(), store, "rolled-back").rolled_back
        assert adapter.observe("dev") == {} and store.resources("dev") == {}  # nothing half made is left
        (disk / "filler").unlink()
        assert engine.deploy(spec()).version.version == 1
        assert sorted(adapter.observe("dev")) == ["api-key", "app-logs", "assets", "jobs"]


def test_an_update_on_a_full_disk_goes_back_to_the_last_version_and_converges_later(parts, disk, tmp_path, faults):
    store, adapter = parts
    engine = make_engine(store, adapter, tmp_path)
    assert engine.deploy(spec()).version.version == 1
    with faults.family("disk-full") as episode:
        fill(disk)
        episode.injected += 1
        # The resources go back to v1, but v1's queue cannot be opened while the disk is full: its health check after
        # the rollback fails, and the deploy says so rather than "rolled back".
        failed = fails(engine, spec(V2), store, "failed")
        assert not failed.rolled_back and "converged back to config" in str(failed)
        assert "the platform is not healthy" in str(failed)
        observed = adapter.observe("dev")
        assert sorted(observed) == ["api-key", "app-logs", "assets", "jobs"]  # v1 as it was: no cache
        assert observed["jobs"].fields["retention_seconds"] == 86400
        assert [v.version for v in store.versions("dev")] == [1]
        (disk / "filler").unlink()
        assert engine.deploy(spec(V2)).version.version == 2
        assert adapter.observe("dev")["jobs"].fields["retention_seconds"] == 3600
        assert engine.plan(spec(V2)).changed is False
