"""Who a local service's replicas run as, and where they work. When mnops runs as root, each service gets a user and
group id of its own (a number from a private range, no login, no passwd entry) and a working folder only that id can
use, outside the mnops home: `/var/lib/mnops/services/<id>/` (0700, owned by the id, in root-owned 0711 folders that
cannot be listed). The local root, the home, the master key and the state stay root-only, so no service can read them,
another service's folder, or another service's `/proc/<pid>/environ` (where its secrets are).

As anyone else, replicas run as the deployer: only what their environment carries is narrowed then. As root,
`MNOPS_LOCAL_SERVICE_ISOLATION=off` (or the adapter's `isolate_services=False`) runs them as the deployer too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from adapters.base import AdapterError, ResourceKey
from adapters.local import PROVIDER
from adapters.local.files import write_json

ISOLATION_ENV = "MNOPS_LOCAL_SERVICE_ISOLATION"
STATE_DIR = Path("/var/lib/mnops")
# Far above any distribution's ranges for people (1000-60000), systemd's dynamic users (61184-65519) and `nobody`.
ID_BASE = 1_836_000_000
ID_COUNT = 1_000_000
IDS = "service-ids.json"
SERVICES = "services"


def wanted(setting: bool | None) -> bool:
    """Whether replicas get ids of their own: the setting, else the environment, else whether mnops runs as root."""
    if setting is not None:
        return setting
    if os.environ.get(ISOLATION_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return False
    return hasattr(os, "geteuid") and os.geteuid() == 0


def service_id(state_dir: Path, root: Path, key: ResourceKey) -> int:
    """The uid (and gid) of the service `key` of the local root `root`: allocated once for this machine, and never
    given to another service later (files it left in /tmp stay its own)."""
    name = f"{root}|{key.platform}/{key.name}"
    with _locked(state_dir):
        path = state_dir / IDS
        try:
            table: dict[str, int] = json.loads(path.read_text())
        except FileNotFoundError:
            table = {}
        if name in table:
            return table[name]
        used = set(table.values())
        for number in range(ID_BASE + len(table), ID_BASE + ID_COUNT):
            if number not in used and not _known(number):
                table[name] = number
                write_json(path, table, 0o600)
                return number
    raise AdapterError(PROVIDER, "allocate service id", key, f"all {ID_COUNT} service ids are taken (see {path})")


def allocated(state_dir: Path, root: Path, key: ResourceKey) -> int | None:
    """The id `service_id` gave the service, if any, without allocating one."""
    try:
        table: dict[str, int] = json.loads((state_dir / IDS).read_text())
    except (OSError, ValueError):
        # None made (or none this user may read: then none this user could have made either).
        return None
    return table.get(f"{root}|{key.platform}/{key.name}")


def runnable_by_anyone(program: Path) -> bool:
    """Whether a user in no group of ours may execute `program`: it and every folder above it open to others."""
    path = Path(os.path.realpath(program))
    try:
        if not stat.S_IMODE(path.stat().st_mode) & stat.S_IXOTH:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)
    except OSError:
        return False


def searchable_path(path: str) -> str:
    """`PATH` without the folders a service's own id cannot search (a private home's shims, say), so that a bare
    command name finds a program the service can run, not one it is refused."""
    kept = [entry for entry in path.split(os.pathsep) if entry and _searchable(Path(entry))]
    return os.pathsep.join(dict.fromkeys(kept))


def _searchable(folder: Path) -> bool:
    try:
        real = Path(os.path.realpath(folder))
        return real.is_dir() and all(f.stat().st_mode & stat.S_IXOTH for f in (real, *real.parents))
    except OSError:
        return False


def work_folder(state_dir: Path, number: int) -> Path:
    return state_dir / SERVICES / str(number)


def prepare(state_dir: Path, number: int) -> Path:
    """The service's working folder, made (or kept) 0700 and owned by its id, in root-owned folders it may pass
    through but not list."""
    services = state_dir / SERVICES
    for folder in (state_dir, services):
        folder.mkdir(mode=0o711, exist_ok=True)
        _root_owned(folder)
        folder.chmod(0o711)
    work = work_folder(state_dir, number)
    work.mkdir(mode=0o700, exist_ok=True)
    if work.is_symlink() or not work.is_dir():
        raise AdapterError(PROVIDER, "prepare", None, f"{work} is not a plain folder")
    os.chown(work, number, number, follow_symlinks=False)
    work.chmod(0o700)
    return work


def release(state_dir: Path, number: int) -> None:
    """Remove the service's working folder (its id stays allocated)."""
    shutil.rmtree(work_folder(state_dir, number), ignore_errors=True)


def _root_owned(folder: Path) -> None:
    # Folders anyone could have made first (and filled with symlinks) must not be trusted with services' files.
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise AdapterError(PROVIDER, "prepare", None, f"{folder} is not a folder owned by this user")


def _known(number: int) -> bool:
    try:
        pwd.getpwuid(number)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
    _root_owned(state_dir)
    fd = os.open(state_dir / f".{IDS}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
