"""The local provider's master key: where it comes from, the Fernet cipher built on it, and the keyed HMAC that stands
in for a secret value wherever something must be compared or shown.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from cryptography.fernet import Fernet

from adapters.base import AdapterError
from adapters.local import PROVIDER

MASTER_KEY_ENV = "MNOPS_MASTER_KEY"
KEY_FILE = "master.key"
# A separate key for HMACs, derived from the master key, so the two uses never share key material directly.
_HMAC_LABEL = b"mnops local value-hmac v1"


class Keyring:
    """The master key, loaded on first use: the argument, else `$MNOPS_MASTER_KEY`, else `<root>/master.key` (created
    with mode 0600 the first time). Never printed: its repr says only where the key came from."""

    def __init__(self, root: Path, master_key: str | None) -> None:
        self._root = root
        self._given = master_key if master_key is not None else os.environ.get(MASTER_KEY_ENV)
        self.source = "argument or $" + MASTER_KEY_ENV if self._given is not None else str(root / KEY_FILE)

    def __repr__(self) -> str:
        return f"Keyring(source={self.source!r})"

    @cached_property
    def _key(self) -> bytes:
        if self._given is not None:
            return _checked(self._given.encode(), "the given master key")
        return _checked(self._read_or_create(self._root / KEY_FILE), str(self._root / KEY_FILE))

    @cached_property
    def fernet(self) -> Fernet:
        return Fernet(self._key)

    @cached_property
    def _hmac_key(self) -> bytes:
        return hmac.new(base64.urlsafe_b64decode(self._key), _HMAC_LABEL, hashlib.sha256).digest()

    def encrypt(self, data: bytes) -> bytes:
        return self.fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        return self.fernet.decrypt(token)

    def hmac(self, value: str) -> str:
        """HMAC-SHA256 of a value under the master key: comparable, and useless for guessing a short value offline."""
        return "hmac-sha256:" + hmac.new(self._hmac_key, value.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _read_or_create(path: Path) -> bytes:
        """The key in `path`, made the first time: written whole to a temporary file and synced, then linked into
        place (link fails if the name exists: O_EXCL's semantics), under a lock that makes concurrent first users
        agree on one key. A key file is therefore complete or absent, never empty, even on a full disk."""
        path.parent.mkdir(parents=True, exist_ok=True)
        key = _read(path)
        if key:
            return key
        with _creation_lock(path):
            key = _read(path)
            if key:
                return key
            key = Fernet.generate_key()
            temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(key + b"\n")
                    f.flush()
                    os.fsync(f.fileno())
                if path.exists():
                    os.replace(temp, path)  # an empty file an older version left on a full disk: no key in it
                else:
                    os.link(temp, path)
                _sync_folder(path.parent)
            except OSError as exc:
                raise AdapterError(
                    PROVIDER, "create master key", None, f"cannot write {path}: {exc.strerror or exc}; nothing was left"
                ) from None
            finally:
                with contextlib.suppress(OSError):
                    temp.unlink()
            return key


def _read(path: Path) -> bytes | None:
    """The key file's content, or None when there is none yet (missing, or empty)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AdapterError(PROVIDER, "load master key", None, f"{path} is readable by others; run: chmod 600 {path}")
    return path.read_bytes().strip() or None


@contextlib.contextmanager
def _creation_lock(path: Path) -> Iterator[None]:
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _checked(key: bytes, where: str) -> bytes:
    # The message names where the key came from, never the key.
    try:
        if len(base64.urlsafe_b64decode(key)) == 32:
            return key
    except (binascii.Error, ValueError):
        pass
    raise AdapterError(PROVIDER, "load master key", None, f"{where} is not a Fernet key (32 url-safe base64 bytes)")
