"""logging/v1: a log sink with enforced retention."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts.logging import LoggingContract


class LoggingV1(LoggingContract):
    """A log sink. Records older than `retention_days` are deleted by the provider."""

    version: ClassVar[str] = "v1"

    contract: Literal["logging/v1"] = Field(description="Contract and version this resource is bound to.")
    retention_days: int = Field(30, ge=1, le=3653, description="Days a log record is kept.")
    min_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Records below this are dropped."
    )
