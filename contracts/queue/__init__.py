"""Message queues: SQS, Azure Storage queues, Pub/Sub, a durable SQLite queue (local)."""

from __future__ import annotations

from typing import ClassVar

from contracts.base import ContractSpec


class QueueContract(ContractSpec):
    """Every version of `queue`: a message queue. It reads no secret and runs nothing."""

    kind: ClassVar[str] = "queue"
