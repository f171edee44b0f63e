"""The audit trail: every change as a CloudEvents 1.0 record, hash-chained and signed in the state store.

Each record's hash covers the previous record's hash and its own canonical JSON, and a head row remembers the newest
hash: altering a record, removing one from the middle or cutting the end all break verification. The chain alone can
be recomputed by whoever can write the database, so each record and the head also carry an HMAC-SHA256 under the
audit key, which lives outside the database (`MNOPS_AUDIT_KEY`, or `audit.key` in the mnops home). Events carry
references and hashes only, never secret values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from contracts.errors import MnopsError
from mnops_assets.engine.state import GENESIS, Actor, StateStore, audit_head_table, audit_table, guarded, now

EVENT_PREFIX = "io.mnops."
SPEC_VERSION = "1.0"
KEY_ENV = "MNOPS_AUDIT_KEY"
KEY_FILE = "audit.key"
MIN_KEY_BYTES = 32


class AuditKeyUnusable(MnopsError):
    """The audit key (file or environment variable) is missing, too short or unreadable; never echoes the key."""


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    platform: str | None
    type: str
    event: dict[str, Any]
    prev_hash: str
    hash: str
    signature: str | None = None


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def sign(key: bytes, digest: str) -> str:
    """A record's signature: its hash (which covers its content and, through the chain, every record before it)."""
    return hmac.new(key, f"mnops-audit-record\n{digest}".encode(), hashlib.sha256).hexdigest()


def sign_head(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"mnops-audit-head\n{seq}\n{digest}".encode(), hashlib.sha256).hexdigest()


def load_key(home: Path, *, create: bool = True) -> bytes:
    """The audit key: `MNOPS_AUDIT_KEY` (at least 32 bytes; hex is decoded), else `<home>/audit.key`, made on first use
    unless `create` is false (a store already signed: a new key would only make its records unverifiable).

    The file is made whole or not at all: written and synced under a private name, then linked into place, which
    fails if another process linked its own first (then theirs is read). It is 0600 in a 0700 folder.
    """
    configured = os.environ.get(KEY_ENV)
    if configured:
        try:
            key = bytes.fromhex(configured)
        except ValueError:
            key = configured.encode()
        if len(key) < MIN_KEY_BYTES:
            raise AuditKeyUnusable(f"{KEY_ENV} is shorter than {MIN_KEY_BYTES} bytes (e.g. 64 hex digits)")
        return key
    path = home / KEY_FILE
    if not path.exists():
        if not create:
            raise AuditKeyUnusable(
                f"the audit trail is signed, but there is no audit key here: set {KEY_ENV} to the key it was signed "
                f"with, or restore {path}"
            )
        _create_key(path)
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise AuditKeyUnusable(f"the audit key {path} cannot be read as hex: {exc.__class__.__name__}") from exc
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyUnusable(f"the audit key {path} is shorter than {MIN_KEY_BYTES} bytes; restore it from backup")
    return key


def is_signed(store: StateStore) -> bool:
    """Whether the newest record was signed (by whichever key): then the key must be found, not made."""
    with store.engine.connect() as conn:
        return conn.scalar(select(audit_head_table.c.signature).where(audit_head_table.c.id == 1)) is not None


def _create_key(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(MIN_KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        draft.unlink(missing_ok=True)


@guarded("append to the audit trail", "the audit head row")
def record(
    store: StateStore, kind: str, platform: str | None, data: dict[str, Any], actor: Actor, source: str = "mnops"
) -> AuditRecord:
    """Append one event (`kind` such as `deploy.succeeded`) to the chain and return it."""
    event = {
        "specversion": SPEC_VERSION,
        "id": str(uuid.uuid4()),
        "source": f"mnops://{actor.host}/{source}",
        "type": EVENT_PREFIX + kind,
        "subject": platform,
        "time": now(),
        "datacontenttype": "application/json",
        "data": {**data, "actor": actor.user, "host": actor.host, "pid": actor.pid},
    }
    if platform is None:
        del event["subject"]
    key = store.audit_key
    with store.audit_append() as (conn, prev):
        digest = chain_hash(prev, event)
        signature = sign(key, digest) if key is not None else None
        seq = conn.execute(
            insert(audit_table).values(
                platform=platform,
                type=event["type"],
                event=json.dumps(event, sort_keys=True),
                prev_hash=prev,
                hash=digest,
                signature=signature,
            )
        ).inserted_primary_key[0]
        head_signature = sign_head(key, seq, digest) if key is not None else None
        conn.execute(
            update(audit_head_table)
            .where(audit_head_table.c.id == 1)
            .values(seq=seq, hash=digest, signature=head_signature)
        )
    written = AuditRecord(seq, platform, event["type"], event, prev, digest, signature)
    for listener in store.audit_listeners:
        listener(written)
    return written


@guarded("read the audit trail", "the audit rows")
def records(store: StateStore, platform: str | None = None) -> list[AuditRecord]:
    query = select(audit_table).order_by(audit_table.c.seq)
    if platform is not None:
        query = query.where(audit_table.c.platform == platform)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [AuditRecord(r.seq, r.platform, r.type, json.loads(r.event), r.prev_hash, r.hash, r.signature) for r in rows]


@dataclass
class Verification:
    """What `verify` found: `problems` (empty when intact), the records checked, and where signing began."""

    problems: list[str] = field(default_factory=list)
    count: int = 0
    unsigned_before: int | None = None
    """Records before this seq carry no signature: written before this store was signed, by the chain alone."""

    @property
    def notes(self) -> list[str]:
        if self.unsigned_before is None:
            return []
        return [
            f"records before seq {self.unsigned_before} are unsigned: written before audit signing, "
            "protected by the hash chain only"
        ]


@guarded("verify the audit trail", "the audit rows")
def verify(store: StateStore) -> list[str]:
    """Every break in the chain or its signatures, as a sentence naming the record; empty means the trail is intact."""
    return check(store).problems


def check(store: StateStore) -> Verification:
    """`verify` with the count of records and where signing began.

    Unsigned records are accepted only as a prefix (a store written before signing existed); an unsigned record after
    a signed one, a signature that does not match, or an unsigned head over signed records is tampering.
    """
    found = Verification()
    problems = found.problems
    key = store.audit_key
    expected_prev = GENESIS
    last_seq, last_hash = 0, GENESIS
    signed_seen = False
    for rec in records(store):
        found.count += 1
        if rec.prev_hash != expected_prev:
            problems.append(
                f"record {rec.seq}: does not follow record {last_seq} (a record before it was removed or altered)"
            )
        if chain_hash(rec.prev_hash, rec.event) != rec.hash:
            problems.append(f"record {rec.seq} ({rec.type}): content does not match its hash (altered)")
        if rec.signature is None:
            if signed_seen:
                problems.append(f"record {rec.seq} ({rec.type}): unsigned after signed records (inserted or altered)")
        else:
            if not signed_seen and found.count > 1:
                found.unsigned_before = rec.seq
            signed_seen = True
            if key is None:
                problems.append(f"record {rec.seq}: signed, but no audit key is configured to check it")
            elif not hmac.compare_digest(sign(key, rec.hash), rec.signature):
                problems.append(
                    f"record {rec.seq} ({rec.type}): signature does not match (altered and re-hashed, "
                    "or signed with another audit key)"
                )
        expected_prev = rec.hash
        last_seq, last_hash = rec.seq, rec.hash
    if found.count and not signed_seen:
        found.unsigned_before = last_seq + 1
    with store.engine.connect() as conn:
        head = conn.execute(select(audit_head_table).where(audit_head_table.c.id == 1)).first()
    if head is None:
        problems.append("the audit head row is missing (records may have been removed from the end)")
        return found
    if (head.seq, head.hash) != (last_seq, last_hash):
        problems.append(f"the newest record should be {head.seq}, found {last_seq} (records removed from the end)")
    if head.signature is None:
        if signed_seen:
            problems.append("the audit head is unsigned over signed records (moved back by hand)")
    elif key is not None and not hmac.compare_digest(sign_head(key, head.seq, head.hash), head.signature):
        problems.append("the audit head's signature does not match (moved by hand, or signed with another audit key)")
    return found
