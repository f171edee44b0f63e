"""Secrets: Secrets Manager, Key Vault, Secret Manager, an encrypted file store (local)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from contracts.base import ContractSpec

GENERATE = "generate"


class SecretsContract(ContractSpec):
    """Every version of `secrets`: a value declared by reference only (`generate`, `env:NAME`, `file:PATH`), never by
    value, and rotated every `rotation_days` when that is set."""

    kind: ClassVar[str] = "secrets"
    outputs: ClassVar[dict[str, str]] = {
        "reference": "where the value is kept (an ARN, a vault URL): never the value; `secret:` hands a value over"
    }

    if TYPE_CHECKING:  # fields every version declares
        source: str
        rotation_days: int | None

    @property
    def source_kind(self) -> str:
        """`generate`, `env` or `file`: the reference's kind, which may be shown where its argument may not."""
        return self.source.split(":", 1)[0]

    def environment_sources(self) -> set[str]:
        kind, _, name = self.source.partition(":")
        return {name} if kind == "env" else set()
