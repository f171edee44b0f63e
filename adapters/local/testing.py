"""Ways for tests to hurt local resources as the real world would, and to make sure no process outlives them.

Used by this provider's conformance fixture and by anyone testing the engine against the local provider (rollback on a
failed health check, drift remediation). Nothing here runs in production code paths.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.base import Observed
from adapters.local import processes as procs
from adapters.local.adapter import LocalAdapter
from adapters.local.database import PASSWORD
from adapters.local.files import METADATA, read_json, write_atomically, write_json
from adapters.local.logsink import RECORDS
from adapters.local.queues import DATABASE
from adapters.local.secretstore import VALUE
from adapters.local.storage import OBJECTS


def tamper(adapter: LocalAdapter, observed: Observed) -> None:
    """Change a resource behind the engine's back, the way a person with a shell would."""
    kind = _kind(observed)
    folder = adapter.home.folder(kind, observed.key)
    if kind == "secrets":
        # A different value put in place of the stored one: real drift, seen through the value's HMAC.
        write_atomically(folder / VALUE, adapter.home.keys.encrypt(b"someone else's value"), 0o600)
        return
    metadata = read_json(folder / METADATA)
    if kind == "storage":
        metadata["fields"]["versioning"] = not metadata["fields"]["versioning"]
    elif kind == "queue":
        metadata["fields"]["retention_seconds"] = 60
    elif kind == "logging":
        metadata["fields"]["retention_days"] += 1
    else:
        metadata["tags"]["team"] = "someone-else"
    write_json(folder / METADATA, metadata)


def break_resource(adapter: LocalAdapter, observed: Observed) -> None:
    """Damage a resource so that its health check fails."""
    kind = _kind(observed)
    folder = adapter.home.folder(kind, observed.key)
    if kind == "storage":
        _replace_with_file(folder / OBJECTS)
    elif kind == "queue":
        with open(folder / DATABASE, "r+b") as f:
            f.write(b"this is not a SQLite database, not any more" * 4)
    elif kind == "secrets":
        (folder / VALUE).write_bytes(b"garbage")
    elif kind == "logging":
        _replace_with_file(folder / RECORDS)
    elif kind == "database":
        # The role's password can no longer be read: nothing can log in as it.
        (folder / PASSWORD).write_bytes(b"garbage")
    else:
        # Freeze the supervisor first so it cannot bring the replica back, then kill the replica.
        running = adapter.compute.running(observed.key)
        supervisor = running["supervisor"]
        if supervisor is not None:
            os.kill(supervisor, signal.SIGSTOP)
            _wait_for(lambda: procs.stopped(supervisor))
        for pid in running["replicas"].values():
            if pid is not None:
                procs.signal_group(pid, signal.SIGKILL)
                procs.wait_gone([pid], 5.0)
                break


@contextmanager
def unusable_root(adapter: LocalAdapter) -> Iterator[None]:
    """The root replaced by a plain file, so every write under it fails with an OS error (chmod would not do: tests
    may run as root, whom permissions do not stop)."""
    root = adapter.root
    aside = root.with_name(root.name + ".aside")
    moved = root.exists()
    if moved:
        os.rename(root, aside)
    root.write_bytes(b"")
    try:
        yield
    finally:
        root.unlink()
        if moved:
            os.rename(aside, root)


def remove_everything(adapter: LocalAdapter) -> None:
    """Delete every resource of every platform through the drivers (which stop every process)."""
    for platform in adapter.platforms():
        for driver in adapter.drivers.values():
            for observed in driver.observe(platform):
                driver.delete(observed)


def kill_strays(root: Path) -> list[int]:
    """Kill every process started under `root`; the pids that were still running."""
    strays = procs.processes_under(root)
    procs.terminate(strays, 1.0)
    return strays


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    # Signals are delivered asynchronously: a hook that returned before they took effect would make tests flaky.
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def _kind(observed: Observed) -> str:
    return observed.contract.split("/", 1)[0]


def _replace_with_file(path: Path) -> None:
    shutil.rmtree(path)
    path.write_bytes(b"")
