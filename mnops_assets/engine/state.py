"""The state store: last-applied resources, versions, deploy journal, locks and the audit chain, in one database.

SQLAlchemy Core over SQLite by default (`.mnops/state.db`) or PostgreSQL (`MNOPS_STATE_URL`). Every write is its own
short transaction, so a process killed at any instant leaves the store consistent up to its last completed step.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import re
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from contracts.errors import MnopsError

STATE_URL_ENV = "MNOPS_STATE_URL"
SQLITE_BUSY_SECONDS = 30
"""How long a SQLite connection waits for another's write lock before "database is locked"."""
PG_LOCK_TIMEOUT_SECONDS = 30.0
"""How long a PostgreSQL statement waits for a row or table lock another transaction holds (`lock_timeout`)."""
PG_STATEMENT_TIMEOUT_SECONDS = 120.0
"""How long one PostgreSQL statement may run (`statement_timeout`): no wait on the store is ever unbounded."""
ATTEMPTS = 3
"""Tries of one state-store operation that hit a transient fault (a dropped connection, "database is locked")."""
RETRY_SECONDS = 0.2
"""The first pause between tries; it doubles each time."""
LEASE_SECONDS = 30.0
"""How long a platform's lock stays fresh without being renewed (`state.lock_lease_seconds` in ecosystem.yaml)."""

metadata = MetaData()

resources_table = Table(
    "mnops_resources",
    metadata,
    Column("platform", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("contract", String(64), nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("fields", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("outputs", Text, nullable=True),  # added after the first release: see `_ADDED_COLUMNS`
)

versions_table = Table(
    "mnops_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(64), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("spec", Text, nullable=False),
    Column("contracts", Text, nullable=False),
    Column("resources", Text, nullable=False),
    Column("deploy_id", String(36), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("outputs", Text, nullable=True),
    UniqueConstraint("platform", "version", name="uq_mnops_versions_platform_version"),
)

deploys_table = Table(
    "mnops_deploys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("platform", String(64), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40)),
    Column("started_by", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("error", Text),
)

journal_table = Table(
    "mnops_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deploy_id", String(36), nullable=False, index=True),
    Column("platform", String(64), nullable=False),
    Column("step", Integer, nullable=False),
    Column("action", String(20), nullable=False),
    Column("resource", String(64), nullable=False),
    Column("phase", String(20), nullable=False),
    Column("at", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)

locks_table = Table(
    "mnops_locks",
    metadata,
    Column("platform", String(64), primary_key=True),
    Column("deploy_id", String(36), nullable=False),
    Column("holder", String(300), nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=True),  # the lease: added after the first release
)

audit_table = Table(
    "mnops_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(64), index=True),
    Column("type", String(100), nullable=False),
    Column("event", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # HMAC-SHA256 of the hash under the audit key, which never enters this database; null in stores older than it.
    Column("signature", String(64)),
)

# One row: the hash and sequence number of the newest audit record, so removing records from the end shows too.
audit_head_table = Table(
    "mnops_audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signature", String(64)),
)

GENESIS = "0" * 64


class StateUnavailable(MnopsError):
    """The state store cannot be opened or used (bad URL, server down, unwritable path)."""


def redact(url: str) -> str:
    """A database URL without its password, fit for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


# SQLSTATEs of PostgreSQL faults worth another try: connection exceptions, an administrator's shutdown or terminated
# backend, serialization failures and deadlocks (the transaction was rolled back whole).
_PG_TRANSIENT = ("08", "57P01", "57P02", "57P03", "40001", "40P01")
_PG_LOCK_TIMEOUT = "55P03"
_PG_STATEMENT_TIMEOUT = "57014"

F = TypeVar("F", bound=Callable[..., Any])


def guarded(what: str, waits_on: str = "its rows") -> Callable[[F], F]:
    """A state-store operation (a StateStore method, or a function taking the store first): transient faults are
    tried again (`ATTEMPTS`, with backoff), and any database error reaches the caller as StateUnavailable saying what
    was being done and what it waited on, never the SQL or its parameters."""

    def wrap(function: F) -> F:
        @functools.wraps(function)
        def run(store: StateStore, *args: Any, **kwargs: Any) -> Any:
            for attempt in range(1, ATTEMPTS + 1):
                began = time.monotonic()
                try:
                    return function(store, *args, **kwargs)
                except SQLAlchemyError as exc:
                    # "database is locked" after SQLite's whole busy timeout was waited already: no second wait.
                    waited = time.monotonic() - began >= store.busy_seconds * 0.9
                    if attempt < ATTEMPTS and _transient(exc) and not (waited and _sqlite_locked(exc)):
                        time.sleep(RETRY_SECONDS * 2 ** (attempt - 1))
                        continue
                    raise store.unavailable(what, waits_on, exc, attempt) from None
            raise AssertionError("unreachable")

        return run  # type: ignore[return-value]

    return wrap


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")


def _sqlite_locked(exc: SQLAlchemyError) -> bool:
    return isinstance(getattr(exc, "orig", None), sqlite3.OperationalError) and "locked" in str(exc.orig)


def _transient(exc: SQLAlchemyError) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    code = _sqlstate(exc)
    if code and code.startswith(_PG_TRANSIENT):
        return True
    message = str(getattr(exc, "orig", exc)).lower()
    return any(sign in message for sign in ("database is locked", "database table is locked", "connection"))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Actor:
    """Who and where: recorded with every version, deploy, lock and audit event."""

    user: str
    host: str
    pid: int

    @classmethod
    def current(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
        return cls(user, socket.gethostname(), os.getpid())

    def __str__(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid})"


@dataclass(frozen=True)
class ResourceRecord:
    """One state row: a resource as last applied, which the planner compares with what is observed to tell a change
    asked in YAML (`config`) from one made outside mnops (`drift`).

    It holds what was asked, not what was read back: `fields` are the desired fields as applied
    (`ResourceDriver.desired_fields(desired, observed)`), `tags` the tags applied (identity tags included), beside the
    provider's `resource_id`. Every writer writes that shape (a step as it completes, a deploy settling its rows, an
    import), so a field muted by `drift.ignore` stays muted whoever wrote last. Import alone records, wherever what it
    found differs from the YAML, the value found: it applied nothing, and the next plan shows the difference as a
    change the YAML asks for (`plan.applied_record` builds the row; `importing` adjusts it).
    """

    platform: str
    name: str
    contract: str
    resource_id: str
    fields: dict[str, Any]
    tags: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)
    """What other resources may read of it (`ResourceDriver.outputs`), as the provider gave them when it was last
    applied or observed; a sensitive one as a reference, never its value."""


@dataclass(frozen=True)
class Version:
    platform: str
    version: int
    config_hash: str
    spec: dict[str, Any]
    contracts: dict[str, str]
    resources: dict[str, str]
    deploy_id: str
    note: str
    created_at: str
    created_by: str
    host: str
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each resource's outputs as this version left them."""


@dataclass(frozen=True)
class Lock:
    """A platform's lock, held as a lease: fresh until `expires_at` unless its holder renews it. A lock without a
    lease (taken before leases existed) never expires by itself: `mnops unlock --force` breaks it."""

    platform: str
    deploy_id: str
    holder: str
    host: str
    pid: int
    acquired_at: str
    expires_at: str | None = None

    def expired(self, at: datetime | None = None) -> bool:
        """Whether the lease ran out (by this machine's clock): only then may the lock be broken without --force."""
        if not self.expires_at:
            return False
        return datetime.fromisoformat(self.expires_at) <= (at or datetime.now(UTC))


def default_url(state_dir: Path) -> str:
    return os.environ.get(STATE_URL_ENV) or f"sqlite:///{state_dir / 'state.db'}"


def _switch_to_wal(cursor: Any, busy_seconds: float = SQLITE_BUSY_SECONDS) -> None:
    """`PRAGMA journal_mode=WAL`, waiting for other connections as a write would: the switch needs the database to
    itself, and SQLite answers "database is locked" at once, without its busy handler, while a new database is being
    opened by several processes together."""
    deadline = time.monotonic() + busy_seconds
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _private_file(path: Path) -> None:
    """The SQLite file made 0600 (in a 0700 folder, if mnops makes it) before SQLite opens it, and narrowed to 0600 if
    an older mnops made it wider: it holds every platform's history. SQLite gives its -wal and -shm files the database
    file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(0o600)


def make_engine(
    url: str,
    busy_seconds: float = SQLITE_BUSY_SECONDS,
    lock_timeout: float = PG_LOCK_TIMEOUT_SECONDS,
    statement_timeout: float = PG_STATEMENT_TIMEOUT_SECONDS,
) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            _private_file(Path(path))
        engine = create_engine(url, connect_args={"timeout": busy_seconds})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions, so BEGIN IMMEDIATE below takes the write lock up front.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
            _switch_to_wal(cursor, busy_seconds)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # Readers of the audit head must not interleave with another writer: take the write lock at BEGIN.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        # Every wait bounded: on a lock another transaction holds, and on any one statement.
        options = f"-c lock_timeout={int(lock_timeout * 1000)} -c statement_timeout={int(statement_timeout * 1000)}"
        return create_engine(url, pool_pre_ping=True, connect_args={"options": options})
    return create_engine(url, pool_pre_ping=True)


class StateStore:
    """All state of every platform: open one per process (it holds a connection pool)."""

    def __init__(
        self,
        url: str,
        *,
        audit_key: bytes | None = None,
        busy_seconds: float = SQLITE_BUSY_SECONDS,
        lock_timeout: float = PG_LOCK_TIMEOUT_SECONDS,
        statement_timeout: float = PG_STATEMENT_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        # Signs audit records (audit.py); kept outside the database so rewriting the database cannot re-sign.
        self.audit_key = audit_key
        # Called with each audit record once committed (audit export); must not block or raise.
        self.audit_listeners: list[Callable[[Any], None]] = []
        self.busy_seconds = busy_seconds
        self.lock_timeout = lock_timeout
        self.statement_timeout = statement_timeout
        try:
            self.engine = make_engine(url, busy_seconds, lock_timeout, statement_timeout)
            self._create_schema()
        except (SQLAlchemyError, OSError, ImportError) as exc:
            raise StateUnavailable(f"state store {redact(url)} cannot be opened: {_reason(exc)}") from exc

    def _create_schema(self) -> None:
        """Tables and the audit head row, once, even when several processes open a new database at the same time."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Concurrent CREATE TABLEs collide in PostgreSQL's catalogue: one process at a time.
                conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
            metadata.create_all(conn)
            _add_missing_columns(conn)
            head = {"id": 1, "seq": 0, "hash": GENESIS}
            if conn.dialect.name == "postgresql":
                conn.execute(postgresql_insert(audit_head_table).values(**head).on_conflict_do_nothing())
            else:
                conn.execute(sqlite_insert(audit_head_table).values(**head).on_conflict_do_nothing())

    def close(self) -> None:
        self.engine.dispose()

    def unavailable(self, what: str, waits_on: str, exc: SQLAlchemyError, attempts: int = 1) -> StateUnavailable:
        """`exc` as the user may see it: what was being done, on what it waited, how long; no SQL, no parameters."""
        where = f"state store {redact(self.url)}"
        code = _sqlstate(exc)
        tried = f" ({attempts} tries)" if attempts > 1 else ""
        if code == _PG_LOCK_TIMEOUT:
            return StateUnavailable(
                f"{where}: gave up after {self.lock_timeout:g} s (lock_timeout) waiting for {waits_on}, which another "
                f"transaction holds, to {what}; another mnops process (or a person in psql) is holding it: retry later"
            )
        if code == _PG_STATEMENT_TIMEOUT:
            return StateUnavailable(
                f"{where}: a statement to {what} ran past {self.statement_timeout:g} s (statement_timeout), waiting "
                f"on {waits_on}; the server is overloaded or a lock is held: retry later"
            )
        reason = _reason(exc)
        if "locked" in reason.lower() and self.url.startswith("sqlite"):
            return StateUnavailable(
                f"{where}: waited {self.busy_seconds:g} s{tried} (busy timeout) for another process's write lock on "
                f"the database to {what} ({waits_on}); another mnops process is writing: retry later"
            )
        return StateUnavailable(f"{where}: cannot {what}{tried}: {reason}")

    # -- resources ---------------------------------------------------------------------------------------------------

    @guarded("read the platform's resources", "the resource rows")
    def resources(self, platform: str) -> dict[str, ResourceRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(resources_table).where(resources_table.c.platform == platform)).all()
        return {row.name: _resource(row) for row in rows}

    @guarded("read the platforms' resources", "the resource rows")
    def resources_of(self, platforms: list[str]) -> dict[str, dict[str, ResourceRecord]]:
        """`resources` for many platforms in one query (a drift scan of a thousand platforms makes one, not 1,000)."""
        found: dict[str, dict[str, ResourceRecord]] = {name: {} for name in platforms}
        with self.engine.connect() as conn:
            for chunk in _chunks(platforms):
                rows = conn.execute(select(resources_table).where(resources_table.c.platform.in_(chunk))).all()
                for row in rows:
                    found[row.platform][row.name] = _resource(row)
        return found

    @guarded("record a resource as applied", "the resource row")
    def put_resource(self, record: ResourceRecord) -> None:
        values = {
            "contract": record.contract,
            "resource_id": record.resource_id,
            "fields": _dump(record.fields),
            "tags": _dump(record.tags),
            "outputs": _dump(record.outputs),
            "updated_at": now(),
        }
        key = (resources_table.c.platform == record.platform) & (resources_table.c.name == record.name)
        with self.engine.begin() as conn:
            if conn.execute(update(resources_table).where(key).values(**values)).rowcount == 0:
                conn.execute(insert(resources_table).values(platform=record.platform, name=record.name, **values))

    @guarded("drop a resource's row", "the resource row")
    def drop_resource(self, platform: str, name: str) -> None:
        key = (resources_table.c.platform == platform) & (resources_table.c.name == name)
        with self.engine.begin() as conn:
            conn.execute(delete(resources_table).where(key))

    @guarded("list the platforms", "the resource and version rows")
    def platforms(self) -> list[str]:
        """Every platform the store knows anything about (resources or versions)."""
        with self.engine.connect() as conn:
            names = set(conn.scalars(select(resources_table.c.platform).distinct()))
            names |= set(conn.scalars(select(versions_table.c.platform).distinct()))
        return sorted(names)

    # -- versions ----------------------------------------------------------------------------------------------------

    @guarded("read the platform's versions", "the version rows")
    def versions(self, platform: str) -> list[Version]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(versions_table).where(versions_table.c.platform == platform).order_by(versions_table.c.version)
            ).all()
        return [_version(row) for row in rows]

    @guarded("read the platform's latest version", "the version rows")
    def latest_version(self, platform: str) -> Version | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(versions_table)
                .where(versions_table.c.platform == platform)
                .order_by(versions_table.c.version.desc())
                .limit(1)
            ).first()
        return _version(row) if row is not None else None

    @guarded("read the platforms' latest versions", "the version rows")
    def latest_versions(self, platforms: list[str]) -> dict[str, Version]:
        """The newest version of each of `platforms` that has one, in one query per thousand platforms."""
        found: dict[str, Version] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(platforms):
                newest = (
                    select(versions_table.c.platform, func.max(versions_table.c.version).label("version"))
                    .where(versions_table.c.platform.in_(chunk))
                    .group_by(versions_table.c.platform)
                    .subquery()
                )
                query = select(versions_table).join(
                    newest,
                    (versions_table.c.platform == newest.c.platform) & (versions_table.c.version == newest.c.version),
                )
                found.update((row.platform, _version(row)) for row in conn.execute(query))
        return found

    @guarded("record a new version", "the version rows")
    def record_version(
        self,
        platform: str,
        config_hash: str,
        spec: dict[str, Any],
        contracts: dict[str, str],
        resources: dict[str, str],
        deploy_id: str,
        actor: Actor,
        note: str = "",
        outputs: dict[str, dict[str, str]] | None = None,
    ) -> Version:
        with self.engine.begin() as conn:
            latest = conn.scalar(
                select(func.max(versions_table.c.version)).where(versions_table.c.platform == platform)
            )
            number = (latest or 0) + 1
            row = {
                "platform": platform,
                "version": number,
                "config_hash": config_hash,
                "spec": _dump(spec),
                "contracts": _dump(contracts),
                "resources": _dump(resources),
                "deploy_id": deploy_id,
                "note": note,
                "created_at": now(),
                "created_by": actor.user,
                "host": actor.host,
                "outputs": _dump(outputs or {}),
            }
            conn.execute(insert(versions_table).values(**row))
        return Version(
            **{**row, "spec": spec, "contracts": contracts, "resources": resources, "outputs": outputs or {}}
        )

    # -- deploys and their journal -----------------------------------------------------------------------------------

    @guarded("open the deploy row", "the deploy rows")
    def start_deploy(self, deploy_id: str, platform: str, kind: str, config_hash: str, actor: Actor) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(deploys_table).values(
                    id=deploy_id,
                    platform=platform,
                    kind=kind,
                    status="running",
                    config_hash=config_hash,
                    started_at=now(),
                    started_by=actor.user,
                    host=actor.host,
                    pid=actor.pid,
                )
            )

    @guarded("finish the deploy row", "the deploy row")
    def finish_deploy(
        self, deploy_id: str, status: str, error: str | None = None, *, only_if_running: bool = False
    ) -> None:
        """Record how a deploy ended; `only_if_running` leaves a deploy that did finish as it said it did."""
        condition = deploys_table.c.id == deploy_id
        if only_if_running:
            condition &= deploys_table.c.status == "running"
        with self.engine.begin() as conn:
            conn.execute(update(deploys_table).where(condition).values(status=status, finished_at=now(), error=error))

    @guarded("read the platform's deploys", "the deploy rows")
    def deploys(self, platform: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deploys_table).where(deploys_table.c.platform == platform).order_by(deploys_table.c.started_at)
            ).all()
        return [dict(row._mapping) for row in rows]

    @guarded("journal a step", "the journal")
    def journal(
        self, deploy_id: str, platform: str, step: int, action: str, resource: str, phase: str, detail: str = ""
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(journal_table).values(
                    deploy_id=deploy_id,
                    platform=platform,
                    step=step,
                    action=action,
                    resource=resource,
                    phase=phase,
                    at=now(),
                    detail=detail,
                )
            )

    @guarded("read a deploy's journal", "the journal")
    def journal_of(self, deploy_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(journal_table).where(journal_table.c.deploy_id == deploy_id).order_by(journal_table.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    @guarded("read the journal", "the journal")
    def unfinished_deletes(self, platforms: Sequence[str]) -> dict[str, dict[str, str]]:
        """platform -> resource -> deploy id, for each resource of `platforms` whose last journalled step is a delete
        that failed: what mnops began removing and did not finish (a destroy stopped half-way at the provider).
        One query however many platforms."""
        if not platforms:
            return {}
        j = journal_table.c
        last = (
            select(func.max(j.id).label("id"))
            .where(j.platform.in_(list(platforms)))
            .group_by(j.platform, j.resource)
            .subquery()
        )
        query = select(j.platform, j.resource, j.deploy_id).join(last, j.id == last.c.id)
        query = query.where(j.action == "delete", j.phase == "failed")
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        found: dict[str, dict[str, str]] = {}
        for platform, resource, deploy_id in rows:
            found.setdefault(platform, {})[resource] = deploy_id
        return found

    # -- locks -------------------------------------------------------------------------------------------------------

    @guarded("take the platform's lock", "the lock row")
    def try_lock(
        self, platform: str, deploy_id: str, actor: Actor, lease_seconds: float = LEASE_SECONDS
    ) -> Lock | None:
        """Take the platform's lock with a lease of `lease_seconds`; return None if taken, or the current holder's
        lock if someone else has it."""
        row = {
            "platform": platform,
            "deploy_id": deploy_id,
            "holder": str(actor),
            "host": actor.host,
            "pid": actor.pid,
            "acquired_at": now(),
            "expires_at": _later(lease_seconds),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(locks_table).values(**row))
            return None
        except IntegrityError:
            holder = self.lock_of(platform)
            if holder is not None and holder.deploy_id == deploy_id:
                return None  # our own insert, committed before a dropped connection hid its answer: tried again
            # Released between our insert and our read: report it as free-but-lost so the caller simply retries.
            return holder or Lock(platform, "", "nobody", "", 0, "")

    @guarded("renew the lock's lease", "the lock row")
    def renew_lock(self, platform: str, deploy_id: str, lease_seconds: float = LEASE_SECONDS) -> str | None:
        """Extend `deploy_id`'s lease on the platform's lock; the new expiry, or None if it no longer holds the lock
        (broken by someone else)."""
        expires = _later(lease_seconds)
        key = (locks_table.c.platform == platform) & (locks_table.c.deploy_id == deploy_id)
        with self.engine.begin() as conn:
            result = conn.execute(update(locks_table).where(key).values(expires_at=expires))
        return expires if result.rowcount == 1 else None

    @guarded("read the platform's lock", "the lock row")
    def lock_of(self, platform: str) -> Lock | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(locks_table).where(locks_table.c.platform == platform)).first()
        return Lock(**row._mapping) if row is not None else None

    @guarded("release the platform's lock", "the lock row")
    def release_lock(self, platform: str, deploy_id: str) -> bool:
        """Release the lock if `deploy_id` holds it; True if it did."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(locks_table).where((locks_table.c.platform == platform) & (locks_table.c.deploy_id == deploy_id))
            )
        return result.rowcount == 1

    # -- audit rows (the chain itself is built in audit.py) ------------------------------------------------------------

    @contextmanager
    def audit_append(self) -> Iterator[tuple[Any, str]]:
        """A transaction holding the audit head: yields (connection, previous hash); the caller inserts and moves it.

        The head row exists from the store's creation, so `FOR UPDATE` (PostgreSQL) or `BEGIN IMMEDIATE` (SQLite)
        serialises appenders: no two records ever follow the same one.
        """
        with self.engine.begin() as conn:
            head = conn.execute(select(audit_head_table).where(audit_head_table.c.id == 1).with_for_update()).first()
            if head is None:
                raise StateUnavailable("the audit head row is missing: the audit trail was tampered with")
            yield conn, head.hash


def _chunks(names: list[str], size: int = 900) -> list[list[str]]:
    # SQLite allows a limited number of bound parameters per statement.
    return [names[i : i + size] for i in range(0, len(names), size)]


# Columns added to tables after their first release: a store made before them gains them when next opened (as
# nullable columns, which every database can add in place), and rows written before read as empty.
_ADDED_COLUMNS = (
    (resources_table, "outputs"),
    (versions_table, "outputs"),
    (audit_table, "signature"),
    (audit_head_table, "signature"),
    (locks_table, "expires_at"),
)


def _add_missing_columns(conn: Any) -> None:
    inspector = inspect(conn)
    for table, column in _ADDED_COLUMNS:
        if column not in {c["name"] for c in inspector.get_columns(table.name)}:
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column} TEXT"))


def _resource(row: Any) -> ResourceRecord:
    return ResourceRecord(
        row.platform,
        row.name,
        row.contract,
        row.resource_id,
        json.loads(row.fields),
        json.loads(row.tags),
        json.loads(row.outputs) if row.outputs else {},
    )


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _version(row: Any) -> Version:
    return Version(
        platform=row.platform,
        version=row.version,
        config_hash=row.config_hash,
        spec=json.loads(row.spec),
        contracts=json.loads(row.contracts),
        resources=json.loads(row.resources),
        deploy_id=row.deploy_id,
        note=row.note,
        created_at=row.created_at,
        created_by=row.created_by,
        host=row.host,
        outputs=json.loads(row.outputs) if row.outputs else {},
    )


def new_deploy_id() -> str:
    return str(uuid.uuid4())
