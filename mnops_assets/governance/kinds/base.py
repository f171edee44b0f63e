"""What a rule kind is (`RuleKind`), and the helpers its check shares with the others.

A check is `(params, platform, resource name or None, resource or None) -> iterable of (path, message)`, paths being
absolute in the resolved spec so the engine can find the file and line that set them. Messages show values, never
secrets: the spec holds references only, and values under `env` are not shown at all (`show`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

from contracts import ContractSpec
from mnops_assets.errors import dotted
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.paths import Path_, parse, values_at

Violation = tuple[Path_, str]
Check = Callable[[Any, ResolvedPlatform, str | None, ContractSpec | None], Iterable[Violation]]
Named = tuple[Path_, str]
"""A name the params hold (a field path, a provider), with where in the params it is written."""


def field_param(params: Any) -> list[Named]:
    """The `field` param, where the kind has one: most kinds judge one field."""
    field = getattr(params, "field", None)
    return [(("field",), field)] if isinstance(field, str) else []


def no_names(_: Any) -> list[Named]:
    return []


@dataclass(frozen=True)
class RuleKind:
    """A rule kind: the model its params are validated against, the check judging by them, and what loading checks."""

    params: type[BaseModel]
    check: Check | None
    """None for `plugin` alone: each of its rules carries the callable it names."""
    judges: str | None = None
    """The one contract kind this kind judges: a rule's scope defaults to it and may name no other."""
    fields: Callable[[Any], Iterable[Named]] = field_param
    """The field paths the params name, checked when the policies load (a misspelt field would never fire)."""
    wildcards: bool = True
    """Whether those paths may hold `*`; a kind comparing fields with each other needs one subject at a time."""
    providers: Callable[[Any], Iterable[Named]] = no_names
    """The provider names the params hold, checked against the known providers when the policies load."""


def values(
    platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None, field: str
) -> Iterator[tuple[Path_, Any]]:
    """(path, value) of each value `field` names in the subject: the platform spec, or one resource of it."""
    if resource is None:
        yield from values_at(platform.spec, _parsed(field))
    else:
        yield from values_at(resource, _parsed(field), ("resources", name))  # type: ignore[arg-type]


@cache
def _parsed(field: str) -> tuple[str, ...]:
    return parse(field)


@cache
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def relative(path: Path_, name: str | None) -> str:
    """The path as the rule's author sees it: relative to the resource when the rule judges resources."""
    return dotted(path[2:] if name is not None and path[:2] == ("resources", name) else path)


def show(path: Path_, value: Any) -> str:
    if "env" in path:
        return "(a value not shown)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)
