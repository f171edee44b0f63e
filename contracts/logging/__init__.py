"""Log sinks: CloudWatch log groups, Log Analytics tables, Cloud Logging buckets, a log directory (local)."""

from __future__ import annotations

from typing import ClassVar

from contracts.base import ContractSpec


class LoggingContract(ContractSpec):
    """Every version of `logging`: a log sink. It reads no secret and runs nothing."""

    kind: ClassVar[str] = "logging"
    outputs: ClassVar[dict[str, str]] = {"name": "the log group's (workspace's, folder's) name at the provider"}
