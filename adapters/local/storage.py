"""storage/v1 on the local provider: a bucket is a directory, with a small object API so versioning, encryption at rest
and expiry are real behaviour rather than recorded settings.

Objects live at `objects/<quoted name>/<version id>.obj`; a delete on a versioned bucket adds a `<version id>.del`
marker, as S3 does. Each stored file starts with one byte saying how the rest is stored: `E` Fernet ciphertext under the
master key, `P` plain bytes; so changing `encrypted` affects new writes only, as on S3. `public` is recorded but has no
effect: nothing serves these files anonymously, the local provider has no network endpoint for storage.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from adapters.base import Desired, HealthReport, Observed, ResourceKey, Upkeep
from adapters.local.driver import LocalDriver
from adapters.local.files import failures, write_atomically
from contracts import MnopsError

OBJECTS = "objects"
_ENCRYPTED, _PLAIN = b"E", b"P"
_OBJECT_SUFFIX, _MARKER_SUFFIX = ".obj", ".del"
# File names are limited to 255 bytes; keep clear of it once a name is percent-encoded.
MAX_QUOTED_NAME = 240
DAY = 86400


class NoSuchObject(MnopsError):
    def __init__(self, key: ResourceKey, name: str, version_id: str | None = None) -> None:
        self.key = key
        self.name = name
        self.version_id = version_id
        which = f" version {version_id}" if version_id else ""
        super().__init__(f"local: no object {name!r}{which} in {key}")


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    name: str
    version_id: str
    modified: float
    is_latest: bool
    is_delete_marker: bool = False


class StorageDriver(LocalDriver):
    contract = "storage/v1"
    kind = "storage"

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _provision(self, folder: Path, desired: Desired, previous: dict[str, Any] | None) -> dict[str, Any]:
        (folder / OBJECTS).mkdir(exist_ok=True)
        return {}

    def _outputs(self, current: Observed, folder: Path, state: dict[str, Any]) -> dict[str, str]:
        # Objects are files, each with a one-byte header (see above): a service reads them through this folder.
        return {"name": str(current.key), "url": (folder / OBJECTS).as_uri()}

    def _health(self, folder: Path, metadata: dict[str, Any]) -> HealthReport:
        objects = folder / OBJECTS
        try:
            with os.scandir(objects) as entries:
                next(entries, None)
        except OSError as exc:
            return HealthReport(False, f"objects folder {objects} is not readable: {exc.strerror}")
        return HealthReport(True)

    # -- data plane --------------------------------------------------------------------------------------------------

    def put_object(self, key: ResourceKey, name: str, data: bytes) -> ObjectVersion:
        """Store `data` under `name`; returns the new version. Without versioning, older versions are dropped."""
        with failures("put object", key):
            folder, metadata = self.settings(key, "put object")
            fields = metadata["fields"]
            directory = self._object_dir(folder, name)
            directory.mkdir(exist_ok=True)
            version_id = self._new_version_id(directory)
            payload = _ENCRYPTED + self.home.keys.encrypt(data) if fields["encrypted"] else _PLAIN + data
            path = directory / (version_id + _OBJECT_SUFFIX)
            write_atomically(path, payload, 0o600)
            # The file's mtime is the object's last write, on the adapter's clock (which tests move).
            now = self.home.clock()
            os.utime(path, (now, now))
            if not fields["versioning"]:
                for entry in os.scandir(directory):
                    if entry.name != version_id + _OBJECT_SUFFIX:
                        os.unlink(entry.path)
            return ObjectVersion(name, version_id, now, True)

    def get_object(self, key: ResourceKey, name: str, version_id: str | None = None) -> bytes:
        """The latest version of `name` (or a given version); expired or deleted objects are not found."""
        with failures("get object", key):
            folder, metadata = self.settings(key, "get object")
            directory = self._object_dir(folder, name)
            if self._expire(directory, metadata):
                raise NoSuchObject(key, name)
            versions = _versions(directory)
            if version_id is None:
                if not versions or versions[-1].endswith(_MARKER_SUFFIX):
                    raise NoSuchObject(key, name)
                chosen = versions[-1]
            else:
                chosen = version_id + _OBJECT_SUFFIX
                if chosen not in versions:
                    raise NoSuchObject(key, name, version_id)
            raw = (directory / chosen).read_bytes()
            return self.home.keys.decrypt(raw[1:]) if raw[:1] == _ENCRYPTED else raw[1:]

    def list_objects(self, key: ResourceKey, prefix: str = "", versions: bool = False) -> list[ObjectVersion]:
        """Objects whose name starts with `prefix`, by name; with `versions`, every version and delete marker, oldest
        first. Expired objects are removed on the way."""
        with failures("list objects", key):
            folder, metadata = self.settings(key, "list objects")
            listed: list[ObjectVersion] = []
            for entry in sorted(os.scandir(folder / OBJECTS), key=lambda e: e.name):
                name = unquote(entry.name)
                if not name.startswith(prefix) or self._expire(Path(entry.path), metadata):
                    continue
                files = _versions(Path(entry.path))
                if not files:
                    continue
                if not versions:
                    if not files[-1].endswith(_MARKER_SUFFIX):
                        listed.append(self._version(Path(entry.path), name, files[-1], True))
                    continue
                listed.extend(
                    self._version(Path(entry.path), name, file, i == len(files) - 1) for i, file in enumerate(files)
                )
            return listed

    def delete_object(self, key: ResourceKey, name: str, version_id: str | None = None) -> None:
        """Delete `name`: on a versioned bucket a delete marker hides it and older versions stay; a given
        `version_id` is removed for good. Deleting what is not there is not an error (as on S3)."""
        with failures("delete object", key):
            folder, metadata = self.settings(key, "delete object")
            directory = self._object_dir(folder, name)
            if version_id is not None:
                for suffix in (_OBJECT_SUFFIX, _MARKER_SUFFIX):
                    (directory / (version_id + suffix)).unlink(missing_ok=True)
                if directory.is_dir() and not _versions(directory):
                    shutil.rmtree(directory)
            elif metadata["fields"]["versioning"]:
                if directory.is_dir() and _versions(directory):
                    marker = directory / (self._new_version_id(directory) + _MARKER_SUFFIX)
                    write_atomically(marker, b"", 0o600)
                    now = self.home.clock()
                    os.utime(marker, (now, now))
            elif directory.is_dir():
                shutil.rmtree(directory)

    def maintain(self, key: ResourceKey) -> Upkeep:
        """Enforce `expire_after_days` now; `removed` counts the objects that expired."""
        with failures("maintain", key):
            folder, metadata = self.settings(key, "maintain")
            expired = sum(self._expire(Path(entry.path), metadata) for entry in os.scandir(folder / OBJECTS))
            return Upkeep(removed=expired)

    # -- internals ---------------------------------------------------------------------------------------------------

    def _object_dir(self, folder: Path, name: str) -> Path:
        if not isinstance(name, str) or not name:
            raise ValueError("an object name is a non-empty string")
        quoted = quote(name, safe="")
        if len(quoted) > MAX_QUOTED_NAME:
            raise ValueError(f"object name too long for the local provider ({len(quoted)} > {MAX_QUOTED_NAME} bytes)")
        return folder / OBJECTS / quoted

    def _expire(self, directory: Path, metadata: dict[str, Any]) -> bool:
        """Remove the object if its last write is older than `expire_after_days`; whether it did."""
        days = metadata["fields"].get("expire_after_days")
        if days is None:
            return False
        files = _versions(directory)
        if not files:
            return False
        # The mtime, not the version id: a person (or a test) aging the file behind our back is believed.
        last_write = (directory / files[-1]).stat().st_mtime
        if self.home.clock() - last_write < days * DAY:
            return False
        shutil.rmtree(directory, ignore_errors=True)
        return True

    def _version(self, directory: Path, name: str, file: str, latest: bool) -> ObjectVersion:
        version_id, _, suffix = file.rpartition(".")
        modified = (directory / file).stat().st_mtime
        return ObjectVersion(name, version_id, modified, latest, "." + suffix == _MARKER_SUFFIX)

    def _new_version_id(self, directory: Path) -> str:
        # Sortable by time first, and always after the object's newest version even if the wall clock stepped back;
        # the random tail keeps two concurrent writers apart.
        stamp = time.time_ns()
        existing = _versions(directory)
        if existing:
            stamp = max(stamp, int(existing[-1].split("-", 1)[0]) + 1)
        return f"{stamp:020d}-{secrets.token_hex(4)}"


def _versions(directory: Path) -> list[str]:
    """Version files of one object, oldest first (their ids sort by time)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.endswith((_OBJECT_SUFFIX, _MARKER_SUFFIX)))
