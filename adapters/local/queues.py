"""queue/v1 on the local provider: one durable SQLite database (WAL) per queue, with visibility timeouts, retention,
FIFO ordering and a dead-letter queue kept in the same database.

Semantics follow SQS where the contract leaves room: a received message is hidden for the visibility timeout and comes
back unless deleted; once received `dead_letter.max_receives` times it moves to the dead-letter queue instead of being
delivered again; a FIFO queue is one message group, so nothing behind an in-flight message is delivered until that
message is deleted or becomes visible again. Message bodies are Fernet ciphertext in the file when `encrypted` is set.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.base import AdapterError, Desired, HealthReport, Observed, ResourceKey, Upkeep
from adapters.local import PROVIDER
from adapters.local.driver import LocalDriver
from adapters.local.files import failures

DATABASE = "queue.db"
# How long a FIFO deduplication id is remembered, as on SQS.
DEDUPLICATION_SECONDS = 300

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    body       BLOB NOT NULL,
    encrypted  INTEGER NOT NULL,
    sent_at    REAL NOT NULL,
    visible_at REAL NOT NULL,
    receives   INTEGER NOT NULL DEFAULT 0,
    receipt    TEXT UNIQUE,
    dead       INTEGER NOT NULL DEFAULT 0,
    dead_at    REAL,
    dedup_id   TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (dead, seq);
CREATE INDEX IF NOT EXISTS messages_by_dedup ON messages (dedup_id) WHERE dedup_id IS NOT NULL;
"""


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    body: bytes
    receipt: str
    receives: int
    sent_at: float


class QueueDriver(LocalDriver):
    contract = "queue/v1"
    kind = "queue"
    immutable = frozenset({"fifo"})

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _provision(self, folder: Path, desired: Desired, previous: dict[str, Any] | None) -> dict[str, Any]:
        if previous is not None and previous["fields"].get("fifo") != desired.spec.fifo:
            raise AdapterError(PROVIDER, "update", desired.key, "fifo cannot change in place; replace the queue")
        with _connect(folder / DATABASE) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        return {}

    def _outputs(self, current: Observed, folder: Path, state: dict[str, Any]) -> dict[str, str]:
        # An SQLite URI (`sqlite3.connect(url, uri=True)`): a service sends by inserting a row with `encrypted` 0
        # (see `_SCHEMA`). The dead-letter queue is the rows marked `dead` of the same database.
        url = (folder / DATABASE).as_uri()
        dead_letter = bool(current.fields.get("dead_letter"))
        return {"url": url, "dead_letter_url": f"{url}#dead-letter" if dead_letter else ""}

    def _health(self, folder: Path, metadata: dict[str, Any]) -> HealthReport:
        path = folder / DATABASE
        if not path.is_file():
            return HealthReport(False, f"queue database {path} is missing")
        try:
            with _connect(path) as db:
                verdict = db.execute("PRAGMA quick_check").fetchone()[0]
                db.execute("SELECT count(*) FROM messages").fetchone()
        except sqlite3.Error as exc:
            return HealthReport(False, f"queue database {path} is unusable: {exc}")
        if verdict != "ok":
            return HealthReport(False, f"queue database {path} failed its integrity check: {verdict}")
        return HealthReport(True)

    # -- data plane --------------------------------------------------------------------------------------------------

    def send_message(self, key: ResourceKey, body: bytes | str, deduplication_id: str | None = None) -> str:
        """Enqueue `body`; returns the message id. A repeated `deduplication_id` within 5 minutes is not enqueued
        again (the first message's id is returned)."""
        data = body.encode() if isinstance(body, str) else bytes(body)
        with failures("send message", key):
            folder, fields = self._queue(key, "send message")
            now = self.home.clock()
            with _transaction(folder) as db:
                self._purge(db, fields, now)
                if deduplication_id is not None:
                    seen = db.execute(
                        "SELECT id FROM messages WHERE dedup_id = ? AND sent_at > ?",
                        (deduplication_id, now - DEDUPLICATION_SECONDS),
                    ).fetchone()
                    if seen:
                        return seen[0]
                message_id = secrets.token_hex(16)
                stored = self.home.keys.encrypt(data) if fields["encrypted"] else data
                db.execute(
                    "INSERT INTO messages (id, body, encrypted, sent_at, visible_at, dedup_id)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (message_id, stored, int(fields["encrypted"]), now, now, deduplication_id),
                )
                return message_id

    def receive_messages(
        self,
        key: ResourceKey,
        max_messages: int = 1,
        visibility_timeout: int | None = None,
        dead_letter: bool = False,
    ) -> list[Message]:
        """Up to `max_messages` visible messages, hidden for `visibility_timeout` seconds (the queue's own by
        default); `dead_letter` receives from the dead-letter queue instead."""
        with failures("receive messages", key):
            folder, fields = self._queue(key, "receive messages")
            now = self.home.clock()
            timeout = fields["visibility_timeout_seconds"] if visibility_timeout is None else visibility_timeout
            max_receives = (fields.get("dead_letter") or {}).get("max_receives") if not dead_letter else None
            received: list[Message] = []
            with _transaction(folder) as db:
                self._purge(db, fields, now)
                after = 0
                while len(received) < max_messages:
                    row = self._next(db, fields["fifo"], int(dead_letter), after, now)
                    if row is None:
                        break
                    seq, message_id, body, encrypted, sent_at, receives = row
                    after = seq
                    if max_receives is not None and receives >= max_receives:
                        db.execute(
                            "UPDATE messages SET dead = 1, dead_at = ?, receives = 0, receipt = NULL, visible_at = ?"
                            " WHERE seq = ?",
                            (now, now, seq),
                        )
                        continue
                    receipt = secrets.token_urlsafe(18)
                    db.execute(
                        "UPDATE messages SET receives = receives + 1, receipt = ?, visible_at = ? WHERE seq = ?",
                        (receipt, now + timeout, seq),
                    )
                    data = self.home.keys.decrypt(body) if encrypted else bytes(body)
                    received.append(Message(message_id, data, receipt, receives + 1, sent_at))
            return received

    def delete_message(self, key: ResourceKey, receipt: str) -> bool:
        """Delete a received message by its receipt; False when the receipt is stale (the message was redelivered)."""
        with failures("delete message", key):
            folder, _ = self._queue(key, "delete message")
            with _transaction(folder) as db:
                return db.execute("DELETE FROM messages WHERE receipt = ?", (receipt,)).rowcount == 1

    def counts(self, key: ResourceKey) -> dict[str, int]:
        """How many messages are visible, in flight and dead-lettered (SQS's approximate counts, exact here)."""
        with failures("count messages", key):
            folder, fields = self._queue(key, "count messages")
            now = self.home.clock()
            with _transaction(folder) as db:
                self._purge(db, fields, now)
                visible, in_flight, dead = db.execute(
                    "SELECT coalesce(sum(dead = 0 AND visible_at <= ?), 0),"
                    " coalesce(sum(dead = 0 AND visible_at > ?), 0),"
                    " coalesce(sum(dead = 1), 0) FROM messages",
                    (now, now),
                ).fetchone()
            return {"visible": visible, "in_flight": in_flight, "dead_letter": dead}

    def maintain(self, key: ResourceKey) -> Upkeep:
        """Purge messages older than the retention period now; `removed` counts them."""
        with failures("maintain", key):
            folder, fields = self._queue(key, "maintain")
            with _transaction(folder) as db:
                return Upkeep(removed=self._purge(db, fields, self.home.clock()))

    # -- internals ---------------------------------------------------------------------------------------------------

    def _queue(self, key: ResourceKey, operation: str) -> tuple[Path, dict[str, Any]]:
        folder, metadata = self.settings(key, operation)
        return folder, metadata["fields"]

    @staticmethod
    def _next(db: sqlite3.Connection, fifo: bool, dead: int, after: int, now: float) -> tuple | None:
        columns = "seq, id, body, encrypted, sent_at, receives"
        if not fifo:
            return db.execute(
                f"SELECT {columns} FROM messages WHERE dead = ? AND seq > ? AND visible_at <= ? ORDER BY seq LIMIT 1",
                (dead, after, now),
            ).fetchone()
        # One message group: the oldest message blocks the rest while it is in flight.
        row = db.execute(
            f"SELECT {columns}, visible_at FROM messages WHERE dead = ? AND seq > ? ORDER BY seq LIMIT 1", (dead, after)
        ).fetchone()
        if row is None or row[-1] > now:
            return None
        return row[:-1]

    @staticmethod
    def _purge(db: sqlite3.Connection, fields: dict[str, Any], now: float) -> int:
        cutoff = now - fields["retention_seconds"]
        return db.execute(
            "DELETE FROM messages WHERE (dead = 0 AND sent_at <= ?) OR (dead = 1 AND dead_at <= ?)", (cutoff, cutoff)
        ).rowcount


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    # Autocommit mode; transactions are explicit (BEGIN IMMEDIATE) where several statements must agree.
    with closing(sqlite3.connect(path, timeout=10, isolation_level=None)) as db:
        yield db


@contextmanager
def _transaction(folder: Path) -> Iterator[sqlite3.Connection]:
    path = folder / DATABASE
    if not path.is_file():
        # sqlite3 would silently create an empty database; a missing one is a broken queue, not a new one.
        raise FileNotFoundError(2, "queue database is missing", str(path))
    with _connect(path) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
