"""The on-disk layout every local driver shares: `<root>/<kind>/<platform>/<resource>/`, one metadata file per resource
written atomically, and the one place where OS errors become `AdapterError`s.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import InvalidToken

from adapters.base import AdapterError, ResourceKey
from adapters.local import PROVIDER
from adapters.local.keys import Keyring
from contracts import NAME_PATTERN

METADATA = "metadata.json"
METADATA_FORMAT = 1
_NAME = re.compile(NAME_PATTERN)
# A folder being deleted is renamed to this prefix first, so a crash half-way through `rmtree` leaves a hidden
# leftover that observe ignores (its name is not a resource name) instead of a half-deleted resource.
DELETING_PREFIX = ".deleting-"


@dataclass(frozen=True, slots=True)
class Home:
    """What every local driver shares: the root folder, the master key, the clock, and how long processes may take
    to stop."""

    root: Path
    keys: Keyring
    clock: Callable[[], float]
    stop_grace_seconds: float
    base_dir: Path
    """What relative paths in settings and `file:` secret sources are relative to (the estate folder)."""
    postgres_url: str | None = None
    """An administrator's URL of the PostgreSQL server database/v1 makes databases on (none: refused)."""
    services_dir: Path | None = None
    """Where the ids and working folders of services running under ids of their own are kept
    (`adapters.local.isolation`); None: replicas run as the deployer."""

    def folder(self, kind: str, key: ResourceKey) -> Path:
        # Names reach this point from YAML that was validated, but a path is built from them: refuse anything that
        # could climb out of the root ("..", "/") rather than trust the caller.
        if not (_NAME.match(key.platform) and _NAME.match(key.name)):
            raise AdapterError(PROVIDER, "locate", key, "platform and resource names must match " + NAME_PATTERN)
        return self.root / kind / key.platform / key.name


def is_resource_name(name: str) -> bool:
    return bool(_NAME.match(name))


def reason(exc: BaseException) -> str:
    """A short, value-free description of a failure: OS errors name the path, never the bytes involved."""
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or type(exc).__name__}{where}"
    if isinstance(exc, InvalidToken):
        return "stored data cannot be decrypted with the master key"
    if isinstance(exc, json.JSONDecodeError):
        return f"unreadable JSON at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def failures(operation: str, key: ResourceKey | None) -> Iterator[None]:
    """Turn the errors a local operation meets (OS, SQLite, decryption) into `AdapterError(local, operation, key)`."""
    try:
        yield
    except AdapterError:
        raise
    except (OSError, sqlite3.Error, InvalidToken, ValueError) as exc:  # ValueError: bad JSON, bad UTF-8
        raise AdapterError(PROVIDER, operation, key, reason(exc)) from exc


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` so readers see the old content or the new one, never a mix (temp, fsync, rename)."""
    fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def write_json(path: Path, document: Mapping[str, Any], mode: int = 0o644) -> None:
    write_atomically(path, json.dumps(document, sort_keys=True, indent=1).encode(), mode)


def read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


def read_metadata(folder: Path, contract: str) -> dict[str, Any] | None:
    """The folder's metadata, or None when it is missing, unreadable, or not shaped like ours."""
    try:
        document = read_json(folder / METADATA)
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("contract") != contract:
        return None
    if not isinstance(document.get("fields"), dict) or not isinstance(document.get("tags"), dict):
        return None
    return document


def metadata_document(
    contract: str, region: str, tags: Mapping[str, str], fields: Mapping[str, Any], state: Mapping[str, Any], now: float
) -> dict[str, Any]:
    return {
        "format": METADATA_FORMAT,
        "contract": contract,
        "region": region,
        "tags": dict(tags),
        "fields": dict(fields),
        # Driver bookkeeping that is not a contract field (ports, the HMAC recorded when a secret was written, ...).
        "state": dict(state),
        "updated_at": now,
    }


def remove_folder(folder: Path) -> None:
    """Remove a resource folder: renamed aside first (one atomic step), then deleted; gone already is fine."""
    aside = folder.with_name(f"{DELETING_PREFIX}{folder.name}-{secrets.token_hex(4)}")
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside)
    # An empty platform folder would cost every later drift scan a listing: take it away too (best effort, since a
    # neighbour resource may still be there).
    with suppress(OSError):
        os.rmdir(folder.parent)


def sweep_leftovers(platform_folder: Path) -> None:
    """Finish deletions a crash interrupted (folders renamed aside but not yet removed)."""
    try:
        entries = list(os.scandir(platform_folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(DELETING_PREFIX):
            shutil.rmtree(entry.path, ignore_errors=True)
