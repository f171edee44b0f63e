"""The audit trail: every change as a CloudEvents 1.0 record, hash-chained in the state store.

Each record's hash covers the previous record's hash and its own canonical JSON, and a head row remembers the newest
hash: altering a record, removing one from the middle or cutting the end all break verification. Events carry
references and hashes only, never secret values.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from mnops_assets.engine.state import GENESIS, Actor, StateStore, audit_head_table, audit_table, guarded, now

EVENT_PREFIX = "io.mnops."
SPEC_VERSION = "1.0"


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    platform: str | None
    type: str
    event: dict[str, Any]
    prev_hash: str
    hash: str


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


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
    with store.audit_append() as (conn, prev):
        digest = chain_hash(prev, event)
        seq = conn.execute(
            insert(audit_table).values(
                platform=platform,
                type=event["type"],
                event=json.dumps(event, sort_keys=True),
                prev_hash=prev,
                hash=digest,
            )
        ).inserted_primary_key[0]
        conn.execute(update(audit_head_table).where(audit_head_table.c.id == 1).values(seq=seq, hash=digest))
    return AuditRecord(seq, platform, event["type"], event, prev, digest)


@guarded("read the audit trail", "the audit rows")
def records(store: StateStore, platform: str | None = None) -> list[AuditRecord]:
    query = select(audit_table).order_by(audit_table.c.seq)
    if platform is not None:
        query = query.where(audit_table.c.platform == platform)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [AuditRecord(r.seq, r.platform, r.type, json.loads(r.event), r.prev_hash, r.hash) for r in rows]


@guarded("verify the audit trail", "the audit rows")
def verify(store: StateStore) -> list[str]:
    """Every break in the chain, as a sentence naming the record; an empty list means the trail is intact."""
    problems = []
    expected_prev = GENESIS
    last_seq, last_hash = 0, GENESIS
    for rec in records(store):
        if rec.prev_hash != expected_prev:
            problems.append(
                f"record {rec.seq}: does not follow record {last_seq} (a record before it was removed or altered)"
            )
        if chain_hash(rec.prev_hash, rec.event) != rec.hash:
            problems.append(f"record {rec.seq} ({rec.type}): content does not match its hash (altered)")
        expected_prev = rec.hash
        last_seq, last_hash = rec.seq, rec.hash
    with store.engine.connect() as conn:
        head = conn.execute(select(audit_head_table).where(audit_head_table.c.id == 1)).first()
    if head is None:
        problems.append("the audit head row is missing (records may have been removed from the end)")
    elif (head.seq, head.hash) != (last_seq, last_hash):
        problems.append(f"the newest record should be {head.seq}, found {last_seq} (records removed from the end)")
    return problems
