"""Field paths of rules ('retention_days', 'resources.*.contract', 'tags.cost-center'): parsed, checked against the
models they will be read from, and followed through a resolved spec.

Paths use the YAML keys (`from`, not pydantic's `source`), because findings are located through provenance, which is
keyed by them. A rule whose path names no field would pass silently forever, so paths are checked when loaded.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

Path_ = tuple[str | int, ...]
WILDCARD = "*"
FREE_KEYS = "tags"
"""After this segment the rest of the path is one key: tag keys may hold dots (`app.kubernetes.io/name`)."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The value of a mapping key that is not set (a tag, an env var); distinct from None, which a field may hold."""


def parse(field: str) -> tuple[str, ...]:
    parts = field.split(".")
    if FREE_KEYS in parts[:-1]:
        cut = parts.index(FREE_KEYS) + 1
        parts = [*parts[:cut], ".".join(parts[cut:])]
    return tuple(parts)


def check(parts: tuple[str, ...], roots: list[type[BaseModel]], where: str) -> str | None:
    """None if `parts` leads somewhere in at least one of `roots`, else a message saying where it stops."""
    if not roots or any(_leads(root, parts) for root in roots):
        return None
    depth = max(_depth(root, parts) for root in roots)
    bad = parts[depth] if depth < len(parts) else parts[-1]
    known = sorted({name for root in roots for name in _names_at(root, parts[:depth])})
    close = difflib.get_close_matches(bad, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else (f" (known: {', '.join(known)})" if known else "")
    return f"no field {bad!r} in {where}{hint}"


def _leads(annotation: Any, parts: tuple[str, ...]) -> bool:
    return _depth(annotation, parts) == len(parts)


def _depth(annotation: Any, parts: tuple[str, ...]) -> int:
    """How many leading parts of the path the annotation can follow."""
    if not parts:
        return 0
    options = _options(annotation)
    best = 0
    for option in options:
        nxt = _step(option, parts[0])
        if nxt is not _NOWHERE:
            best = max(best, 1 + _depth(nxt, parts[1:]))
    return best


_NOWHERE = object()


def _step(annotation: Any, part: str) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        name = _attributes(annotation).get(part)
        return _NOWHERE if name is None else annotation.model_fields[name].annotation
    origin = get_origin(annotation)
    if origin is dict:
        return get_args(annotation)[1]
    if origin is list and (part == WILDCARD or part.isdigit()):
        return get_args(annotation)[0]
    return _NOWHERE


def _names_at(annotation: Any, parts: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for option in _options(annotation):
        if not parts:
            if isinstance(option, type) and issubclass(option, BaseModel):
                found.update(_attributes(option))
            continue
        nxt = _step(option, parts[0])
        if nxt is not _NOWHERE:
            found.update(_names_at(nxt, parts[1:]))
    return found


def _options(annotation: Any) -> list[Any]:
    """The annotation without Annotated and Optional, split into its union members."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        return [o for member in get_args(annotation) if member is not type(None) for o in _options(member)]
    return [annotation]


@cache
def _attributes(model: type[BaseModel]) -> dict[str, str]:
    """YAML key -> attribute name, for a model's fields."""
    return {(info.alias or name): name for name, info in model.model_fields.items()}


def values_at(node: Any, parts: tuple[str, ...], prefix: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every (path, value) that `parts` reaches from `node`, `*` standing for every key or item.

    A field the node's model lacks yields nothing (the rule does not apply to it); an unset mapping key at the end of
    the path yields MISSING (the rule may require it).
    """
    if not parts:
        yield prefix, node
        return
    head, rest = parts[0], parts[1:]
    if isinstance(node, BaseModel):
        name = _attributes(type(node)).get(head)
        if name is not None:
            yield from values_at(getattr(node, name), rest, (*prefix, head))
    elif isinstance(node, dict):
        if head == WILDCARD:
            for key, value in node.items():
                yield from values_at(value, rest, (*prefix, key))
        elif head in node:
            yield from values_at(node[head], rest, (*prefix, head))
        elif not rest:
            yield (*prefix, head), MISSING
    elif isinstance(node, list):
        if head == WILDCARD:
            for index, value in enumerate(node):
                yield from values_at(value, rest, (*prefix, index))
        elif head.isdigit() and int(head) < len(node):
            yield from values_at(node[int(head)], rest, (*prefix, int(head)))


def same(value: Any, expected: Any) -> bool:
    """Equality that keeps YAML's types apart: `true` is not `1`, `1` is `1.0`."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value is expected
    return value == expected
