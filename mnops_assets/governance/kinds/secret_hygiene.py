"""Rule kind `secret_hygiene`: rotation, sources and length of secrets; it judges secrets/* resources only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field, model_validator

from contracts import ContractSpec
from contracts.secrets import SecretsContract
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.kinds.base import RuleKind, Violation
from mnops_assets.governance.model import Strict

SecretSource = Literal["generate", "env", "file"]


class SecretHygiene(Strict):
    """Rotation, sources and length of secrets/* resources (the rule's contracts default to secrets)."""

    max_rotation_days: int | None = Field(None, ge=1, description="Rotation is required, at most this many days apart.")
    forbidden_sources: list[SecretSource] = Field(default_factory=list, description="Reference kinds not allowed.")
    min_length: int | None = Field(None, ge=1, description="Least length of a generated value.")

    @model_validator(mode="after")
    def _something(self) -> SecretHygiene:
        if self.max_rotation_days is None and not self.forbidden_sources and self.min_length is None:
            raise ValueError("give max_rotation_days, forbidden_sources or min_length")
        return self


def secret_hygiene(
    p: SecretHygiene, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    # The contract kind answers what a secret is, whatever its version: no version is named here.
    if not isinstance(resource, SecretsContract) or name is None:
        return
    base = ("resources", name)
    if p.max_rotation_days is not None:
        if resource.rotation_days is None:
            yield (*base, "rotation_days"), f"never rotated; set rotation_days to {p.max_rotation_days} or less"
        elif resource.rotation_days > p.max_rotation_days:
            message = f"rotation_days is {resource.rotation_days}; must be {p.max_rotation_days} or less"
            yield (*base, "rotation_days"), message
    kind = resource.source_kind
    if kind in p.forbidden_sources:
        # Only the reference's kind is named: a path or variable name is not a secret, but it need not travel either.
        shown = "'generate'" if kind == "generate" else f"a '{kind}:' reference"
        yield (*base, "from"), f"reads its value from {shown}, which is not allowed here"
    if p.min_length is not None and kind == "generate" and resource.length < p.min_length:
        yield (*base, "length"), f"length is {resource.length}; must be at least {p.min_length}"


KIND = RuleKind(SecretHygiene, secret_hygiene, judges="secrets")
