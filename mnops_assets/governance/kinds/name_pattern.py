"""Rule kind `name_pattern`: instance names, or resource names when contracts are in scope, must match a pattern."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field

from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.kinds.base import RuleKind, Violation, compiled
from mnops_assets.governance.model import Regex, Strict


class NamePattern(Strict):
    """Instance names (no contracts in scope) or resource names (contracts in scope) must match `pattern`."""

    pattern: Regex
    hint: str | None = Field(None, description="The convention in words, added to the message.")


def name_pattern(p: NamePattern, platform: ResolvedPlatform, name: str | None, _: Any) -> Iterator[Violation]:
    subject, path = (platform.name, ("name",)) if name is None else (name, ("resources", name))
    if not compiled(p.pattern).search(subject):
        what = "instance" if name is None else "resource"
        yield path, f"{what} name {subject!r} does not match {p.pattern}" + (f" ({p.hint})" if p.hint else "")


KIND = RuleKind(NamePattern, name_pattern)
