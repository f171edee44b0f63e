"""queue/v1: an at-least-once message queue with retention and an optional dead-letter queue."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.queue import QueueContract


class DeadLetter(BaseModel):
    """Where messages go once they have been received too often without being deleted."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, hide_input_in_errors=True)

    max_receives: int = Field(5, ge=1, le=1000, description="Receives before a message moves to the dead-letter queue.")


class QueueV1(QueueContract):
    """A queue. Bounds are the narrowest any supported provider accepts (SQS: 60 s to 14 days of retention)."""

    version: ClassVar[str] = "v1"

    contract: Literal["queue/v1"] = Field(description="Contract and version this resource is bound to.")
    retention_seconds: int = Field(345600, ge=60, le=1209600, description="How long an unreceived message is kept.")
    visibility_timeout_seconds: int = Field(
        30, ge=0, le=43200, description="How long a received message stays hidden before it is redelivered."
    )
    fifo: bool = Field(False, description="Deliver messages in the order they were sent, exactly once.")
    encrypted: bool = Field(True, description="Encrypt messages at rest.")
    dead_letter: DeadLetter | None = Field(None, description="Dead-letter queue; unset means failed messages cycle.")
