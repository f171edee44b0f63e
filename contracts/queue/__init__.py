"""Message queues: SQS, Azure Storage queues, Pub/Sub, a durable SQLite queue (local)."""

from __future__ import annotations

from typing import ClassVar

from contracts.base import ContractSpec


class QueueContract(ContractSpec):
    """Every version of `queue`: a message queue. It reads no secret and runs nothing."""

    kind: ClassVar[str] = "queue"
    outputs: ClassVar[dict[str, str]] = {
        "url": "where messages are sent and received",
        "dead_letter_url": "the dead-letter queue's address; empty without one",
    }
    output_fields: ClassVar[frozenset[str]] = frozenset({"dead_letter", "fifo"})
