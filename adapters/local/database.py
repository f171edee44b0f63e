"""database/v1 on the local provider: a real database and login role on the PostgreSQL server the provider's
`postgres_url` setting names (an administrator's connection URL), so services talk to a database, not a stand-in.

The resource's folder holds its metadata and the role's password, Fernet ciphertext under the master key (`password
.fernet`); the password is generated once and appears nowhere else: the `url` output is recorded as the file's
address, and the value reaches a service only through its environment (`reveal_output`). Database and role are named
`mnops_<digest>` from the resource's key, so any platform and resource name fits PostgreSQL's 63 characters; the
database's comment carries the identity tags, so a database is told from others on a shared server.

What a single server cannot give is recorded, not pretended: `engine_version` must be the server's major version
(refused otherwise); `storage_gb`, `high_availability`, `public` and `encrypted` are recorded settings. Backups are
real: with `backups` on, `maintain` writes a daily `pg_dump` into `backups/` and removes those older than
`backup_retention_days`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import string
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from adapters.base import AdapterError, Desired, HealthReport, Observed, ResourceKey, Upkeep
from adapters.local import PROVIDER
from adapters.local.driver import LocalDriver
from adapters.local.files import reason, write_atomically

PASSWORD = "password.fernet"
BACKUPS = "backups"
ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32
DAY = 86400
SETTING = "postgres_url"


class DatabaseDriver(LocalDriver):
    contract = "database/v1"
    kind = "database"
    immutable = frozenset({"engine"})

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _provision(self, folder: Path, desired: Desired, previous: dict[str, Any] | None) -> dict[str, Any]:
        role = database = server_name(desired.key)
        with self._admin(desired.key, "create") as admin:
            self._check_version(admin, desired)
            # The password is made once and kept: a create that finishes a crashed one reuses it.
            password_file = folder / PASSWORD
            if password_file.is_file():
                password = self.home.keys.decrypt(password_file.read_bytes()).decode()
            else:
                password = "".join(secrets.choice(ALPHABET) for _ in range(PASSWORD_LENGTH))
                write_atomically(password_file, self.home.keys.encrypt(password.encode()), 0o600)
            exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            # The server is sent a SCRAM verifier, never the password (as psql's \password does), so no statement
            # log can hold it; the role may log in and nothing more (no superuser, CREATEDB or CREATEROLE).
            admin.execute(f"{verb} ROLE {_ident(role)} LOGIN PASSWORD {_literal(scram_verifier(password))}")
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
                admin.execute(f"CREATE DATABASE {_ident(database)} OWNER {_ident(role)}")
            admin.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
            comment = json.dumps(dict(desired.tags), sort_keys=True)
            admin.execute(f"COMMENT ON DATABASE {_ident(database)} IS {_literal(comment)}")
            host, port = self._server(desired.key, "create")
        return {"host": host, "port": port, "database": database, "role": role}

    def _release(self, folder: Path) -> None:
        key = ResourceKey(folder.parent.name, folder.name)
        name = server_name(key)
        with self._admin(key, "delete") as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {_ident(name)}")

    def _problem(self, folder: Path, metadata: dict[str, Any]) -> str | None:
        key = ResourceKey(folder.parent.name, folder.name)
        try:
            with self._admin(key, "observe") as admin:
                found = admin.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (metadata["state"].get("database"),)
                ).fetchone()
        except AdapterError as exc:
            return exc.reason
        return None if found else f"database {metadata['state'].get('database')} is gone from the server"

    def _health(self, folder: Path, metadata: dict[str, Any]) -> HealthReport:
        key = ResourceKey(folder.parent.name, folder.name)
        try:
            import psycopg

            with psycopg.connect(self.reveal_output(key, "url"), connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure is "not healthy"; the message holds no password
            return HealthReport(False, f"cannot log in to {metadata['state'].get('database')}: {_safe(exc)}")
        return HealthReport(True, "logged in as its role")

    def _outputs(self, current: Observed, folder: Path, state: dict[str, Any]) -> dict[str, str]:
        return {
            "host": str(state.get("host", "")),
            "port": str(state.get("port", "")),
            "name": str(state.get("database", "")),
            "user": str(state.get("role", "")),
            "url": (folder / PASSWORD).as_uri(),
        }

    def reveal_output(self, key: ResourceKey, output: str) -> str:
        """The connection URL with the role's password: for a service's environment only."""
        if output != "url":
            return super().reveal_output(key, output)
        folder, metadata = self.settings(key, "reveal")
        state = metadata["state"]
        try:
            password = self.home.keys.decrypt((folder / PASSWORD).read_bytes()).decode()
        except Exception as exc:  # noqa: BLE001 - decryption and file errors alike; `reason` never shows bytes
            raise AdapterError(PROVIDER, "reveal", key, reason(exc)) from exc
        user, database = quote(state["role"], safe=""), quote(state["database"], safe="")
        return f"postgresql://{user}:{quote(password, safe='')}@{state['host']}:{state['port']}/{database}"

    # -- housekeeping ------------------------------------------------------------------------------------------------

    def maintain(self, key: ResourceKey) -> Upkeep:
        """With `backups` on: a `pg_dump` of the database once a day into `backups/`, and those older than
        `backup_retention_days` removed."""
        folder, metadata = self.settings(key, "maintain")
        fields = metadata["fields"]
        if not fields.get("backups"):
            return Upkeep()
        now = self.home.clock()
        backups = folder / BACKUPS
        backups.mkdir(exist_ok=True)
        removed = 0
        for old in sorted(backups.glob("*.dump")):
            if now - old.stat().st_mtime > fields["backup_retention_days"] * DAY:
                old.unlink()
                removed += 1
        today = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
        target = backups / f"{today}.dump"
        if target.exists():
            return Upkeep(removed=removed)
        self._dump(key, target)
        os.utime(target, (now, now))
        return Upkeep(removed=removed, detail=f"backup {target.name}")

    def _dump(self, key: ResourceKey, target: Path) -> None:
        program = shutil.which("pg_dump")
        if program is None:
            raise AdapterError(PROVIDER, "backup", key, "pg_dump is not installed (Debian: postgresql-client)")
        url = urlsplit(self.reveal_output(key, "url"))
        # The password goes through the environment of pg_dump alone, never its command line (seen in `ps`).
        env = {**os.environ, "PGPASSWORD": unquote(url.password or "")}
        address = f"postgresql://{url.username}@{url.hostname}:{url.port}{url.path}"
        partial = target.with_suffix(".partial")
        done = subprocess.run(
            [program, "--format=custom", f"--file={partial}", f"--dbname={address}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise AdapterError(PROVIDER, "backup", key, f"pg_dump failed: {done.stderr.strip()[:300]}")
        partial.replace(target)

    # -- the server --------------------------------------------------------------------------------------------------

    def _url(self, key: ResourceKey, operation: str) -> str:
        url = self.home.postgres_url
        if not url:
            raise AdapterError(
                PROVIDER,
                operation,
                key,
                f"database/v1 needs a PostgreSQL server: set the local provider's `{SETTING}` setting (an "
                "administrator's URL, such as postgresql://postgres@127.0.0.1:5432/postgres) or "
                "MNOPS_LOCAL_POSTGRES_URL",
            )
        return url.replace("postgresql+psycopg://", "postgresql://", 1)

    def _server(self, key: ResourceKey, operation: str) -> tuple[str, int]:
        parts = urlsplit(self._url(key, operation))
        return parts.hostname or "localhost", parts.port or 5432

    @contextmanager
    def _admin(self, key: ResourceKey, operation: str) -> Iterator[Any]:
        try:
            import psycopg
        except ImportError as exc:
            install = "pip install 'machine-native-ops[postgres]'"
            raise AdapterError(PROVIDER, operation, key, f"psycopg is not installed: {install}") from exc
        try:
            with psycopg.connect(self._url(key, operation), autocommit=True, connect_timeout=5) as conn:
                yield conn
        except psycopg.Error as exc:
            raise AdapterError(PROVIDER, operation, key, _safe(exc)) from exc

    def _check_version(self, admin: Any, desired: Desired) -> None:
        number = int(admin.execute("SHOW server_version_num").fetchone()[0])
        major = str(number // 10000)
        if desired.spec.engine_version != major:
            raise AdapterError(
                PROVIDER,
                "create",
                desired.key,
                f"engine_version {desired.spec.engine_version} asked, but the local server runs PostgreSQL {major}",
            )


def server_name(key: ResourceKey) -> str:
    """The database's and its role's name on the server: `mnops_` and a digest of the key (63 characters at most
    in PostgreSQL; platform and resource names may reach 40 each)."""
    return "mnops_" + hashlib.sha256(str(key).encode()).hexdigest()[:24]


def scram_verifier(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677), which the server takes in place of the
    password itself."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _safe(exc: BaseException) -> str:
    """An error's first line: PostgreSQL's messages name roles and databases, never a password we sent."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
