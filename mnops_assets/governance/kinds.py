"""The built-in rule kinds: each judges one subject (a platform, or one resource of it) and says what is wrong where.

A check is `(params, platform, resource name or None, resource or None) -> iterable of (path, message)`, paths being
absolute in the resolved spec so the engine can find the file and line that set them. Messages show values, never
secrets: the spec holds references only, and values under `env` are not shown at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any

from pydantic import BaseModel

from contracts import ContractSpec
from contracts.secrets import SecretsContract
from mnops_assets.errors import dotted
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance import model
from mnops_assets.governance.paths import MISSING, Path_, parse, same, values_at

Violation = tuple[Path_, str]
Check = Callable[[Any, ResolvedPlatform, str | None, ContractSpec | None], Iterable[Violation]]


def name_pattern(p: model.NamePattern, platform: ResolvedPlatform, name: str | None, _: Any) -> Iterator[Violation]:
    subject, path = (platform.name, ("name",)) if name is None else (name, ("resources", name))
    if not _compiled(p.pattern).search(subject):
        what = "instance" if name is None else "resource"
        yield path, f"{what} name {subject!r} does not match {p.pattern}" + (f" ({p.hint})" if p.hint else "")


def required_tags(
    p: model.RequiredTags, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    if resource is None:
        tags, base, where = platform.spec.tags, ("tags",), ""
    else:
        tags, base, where = resource.tags, ("resources", name, "tags"), " on the resource itself"
    for key in p.tags:
        if key not in tags:
            yield (*base, key), f"required tag {key!r} is missing{where}"
    for key, pattern in p.patterns.items():
        if key in tags and not _compiled(pattern).search(tags[key]):
            yield (*base, key), f"tag {key!r} is {tags[key]!r}; must match {pattern}"


def allowed_values(
    p: model.AllowedValues, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    provider = platform.spec.provider
    allowed = p.by_provider.get(provider, p.values)
    if allowed is None:
        return
    where = f" on provider {provider}" if provider in p.by_provider else ""
    for path, value in _values(platform, name, resource, p.field):
        if value is not MISSING and not any(same(value, a) for a in allowed):
            shown = ", ".join(_show(path, a) for a in allowed)
            yield path, f"{_field(path, name)} is {_show(path, value)}; allowed{where}: {shown}"


def numeric_bounds(
    p: model.NumericBounds, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    for path, value in _values(platform, name, resource, p.field):
        if value is MISSING or value is None:
            if p.required:
                yield path, f"{_field(path, name)} is not set; must be {_bounds(p)}"
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
            yield path, f"{_field(path, name)} is {value}; must be {_bounds(p)}"


def required_value(
    p: model.RequiredValue, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    for path, value in _values(platform, name, resource, p.field):
        if value is MISSING:
            yield path, f"{_field(path, name)} is not set; must be {_show(path, p.value)}"
        elif not same(value, p.value):
            yield path, f"{_field(path, name)} is {_show(path, value)}; must be {_show(path, p.value)}"


def forbidden_combination(
    p: model.ForbiddenCombination, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    hits = []
    for field, forbidden in p.when.items():
        found = [(path, value) for path, value in _values(platform, name, resource, field) if value is not MISSING]
        if not found or not same(found[0][1], forbidden):
            return
        hits.append(found[0][0])
    combination = " and ".join(
        f"{_field(path, name)} = {_show(path, v)}" for path, v in zip(hits, p.when.values(), strict=True)
    )
    # The first field of the combination carries the finding: that is the line the rule's author put first.
    yield hits[0], f"forbidden combination: {combination}"


def secret_hygiene(
    p: model.SecretHygiene, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
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


CHECKS: dict[str, Check] = {
    "name_pattern": name_pattern,
    "required_tags": required_tags,
    "allowed_values": allowed_values,
    "numeric_bounds": numeric_bounds,
    "required_value": required_value,
    "forbidden_combination": forbidden_combination,
    "secret_hygiene": secret_hygiene,
}


def fields_of(params: BaseModel) -> list[str]:
    """The field paths a rule's params name, for checking them when loaded."""
    if isinstance(params, model.ForbiddenCombination):
        return list(params.when)
    field = getattr(params, "field", None)
    return [field] if isinstance(field, str) else []


# -- helpers ---------------------------------------------------------------------------------------------------------


def _values(
    platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None, field: str
) -> Iterator[tuple[Path_, Any]]:
    if resource is None:
        yield from values_at(platform.spec, _parsed(field))
    else:
        yield from values_at(resource, _parsed(field), ("resources", name))  # type: ignore[arg-type]


@cache
def _parsed(field: str) -> tuple[str, ...]:
    return parse(field)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _field(path: Path_, name: str | None) -> str:
    """The path as the rule's author sees it: relative to the resource when the rule judges resources."""
    return dotted(path[2:] if name is not None and path[:2] == ("resources", name) else path)


def _show(path: Path_, value: Any) -> str:
    if "env" in path:
        return "(a value not shown)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _bounds(p: model.NumericBounds) -> str:
    if p.min is not None and p.max is not None:
        return f"between {p.min} and {p.max}"
    return f">= {p.min}" if p.min is not None else f"<= {p.max}"
