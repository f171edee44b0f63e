"""Layered configuration: deep merge of ordered layers, recording which file and line set every value.

Semantics (documented in docs/estate.md):
- mappings merge key by key, deeply; a higher layer's key always wins;
- lists and scalars replace whatever a lower layer set, whole (a list is never concatenated);
- `null` removes what lower layers set at that key.
Every resolved node gets an `Origin`: scalars and list items the position of their value, mappings the position of
the key in the layer that first declared them (so "missing field" points at the declaration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mnops_assets.errors import Problem, dotted
from mnops_assets.estate.yamldoc import Document, Path_


@dataclass(frozen=True, slots=True, eq=False)
class Layer:
    """One layer: a name for people (`template web-service`), its document and where in it the layer starts.

    `skip` leaves out a file's own keys (`extends`, `template`); `rename` maps a layer key to the document key that
    holds it (the provider's `default_region` is the `region` layer beneath all others).
    """

    name: str
    doc: Document
    prefix: Path_ = ()
    skip: frozenset[str] = frozenset()
    rename: tuple[tuple[str, str], ...] = ()
    data: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        node = self.doc.data
        for part in self.prefix:
            node = node.get(part) or {}
        if self.rename:
            data = {key: node[source] for key, source in self.rename if source in node}
        else:
            data = {k: v for k, v in node.items() if k not in self.skip}
        object.__setattr__(self, "data", data)

    def doc_path(self, path: Path_) -> Path_:
        """Where `path` of this layer sits in its document."""
        if self.rename and path:
            path = (dict(self.rename).get(path[0], path[0]), *path[1:])
        return self.prefix + path


class Origin(NamedTuple):
    layer: Layer
    line: int
    column: int
    removed: bool = False
    """True where a `null` removed the key: the origin of an absence, so "missing" can point at the null."""

    @property
    def file(self) -> str:
        return self.layer.doc.path

    def where(self) -> str:
        return f"{self.layer.doc.path}:{self.line}:{self.column}"

    def problem(self, path: Path_, message: str) -> Problem:
        return Problem(self.layer.doc.path, self.line, self.column, dotted(self.layer.doc_path(path)), message)


Provenance = dict[Path_, Origin]


def merge(
    layers: list[Layer], onto: tuple[dict[str, Any], Provenance] | None = None
) -> tuple[dict[str, Any], Provenance]:
    """Merge `layers` (lowest first), over a copy of an earlier merge if given, into a plain dict and its origins.

    Starting from a merged template chain saves re-merging the chain for each of the instances that share it.
    """
    merged: dict[str, Any] = {} if onto is None else _copy_mappings(onto[0])
    provenance: Provenance = {} if onto is None else dict(onto[1])
    for layer in layers:
        overlay(merged, provenance, layer)
    return merged, provenance


def overlay(merged: dict[str, Any], provenance: Provenance, layer: Layer) -> None:
    """Put `layer` over `merged` in place."""
    _overlay(merged, layer.data, (), layer, provenance)


def _copy_mappings(data: dict[str, Any]) -> dict[str, Any]:
    # Lists and scalars are replaced whole by a merge, never changed in place, so only mappings need copying.
    return {k: _copy_mappings(v) if isinstance(v, dict) else v for k, v in data.items()}


def _overlay(dst: dict[str, Any], src: dict[str, Any], path: Path_, layer: Layer, prov: Provenance) -> None:
    marks = layer.doc.marks
    for key, value in src.items():
        here = (*path, key)
        current = dst.get(key)
        if value is None:
            if key in dst:
                del dst[key]
                _drop(prov, here)
                mark = marks[layer.doc_path(here)]
                prov[here] = Origin(layer, mark[0], mark[1], removed=True)
            continue
        if isinstance(value, dict):
            if not isinstance(current, dict):
                if key in dst:
                    _drop(prov, here)
                current = dst[key] = {}
                mark = marks[layer.doc_path(here)]
                prov[here] = Origin(layer, mark[0], mark[1])
            _overlay(current, value, here, layer, prov)
            continue
        if isinstance(current, (dict, list)):
            _drop(prov, here)
        dst[key] = value
        mark = marks[layer.doc_path(here)]
        if isinstance(value, list):
            prov[here] = Origin(layer, mark[0], mark[1])
            _record(value, here, layer, prov)
        else:
            prov[here] = Origin(layer, mark[2], mark[3])


def _record(value: list[Any] | dict[str, Any], path: Path_, layer: Layer, prov: Provenance) -> None:
    """Give every node under a replaced list the origin of the layer that set the list."""
    marks = layer.doc.marks
    items = enumerate(value) if isinstance(value, list) else value.items()
    for key, item in items:
        here = (*path, key)
        mark = marks[layer.doc_path(here)]
        prov[here] = Origin(layer, mark[2], mark[3])
        if isinstance(item, (list, dict)):
            _record(item, here, layer, prov)


def _drop(prov: Provenance, path: Path_) -> None:
    size = len(path)
    for stale in [p for p in prov if p[:size] == path]:
        del prov[stale]


def origin_of(prov: Provenance, path: Path_) -> Origin | None:
    """The origin of the value at `path`, or of its nearest ancestor that has a value."""
    while path:
        origin = prov.get(path)
        if origin is not None and not origin.removed:
            return origin
        path = path[:-1]
    return None


@dataclass(frozen=True, slots=True)
class Setting:
    """One layer's say on a key, for `mnops explain`."""

    layer: Layer
    line: int
    column: int
    value: Any
    removed: bool = False

    def where(self) -> str:
        return f"{self.layer.doc.path}:{self.line}:{self.column}"


def explain(layers: list[Layer], path: Path_) -> list[Setting]:
    """Every layer that set `path` (directly, or by replacing or removing an ancestor), highest layer first."""
    found = []
    for layer in layers:
        node: Any = layer.data
        for depth, part in enumerate(path):
            if not isinstance(node, (dict, list)):
                break
            if isinstance(node, dict) and part not in node:
                node = _MISSING
                break
            if isinstance(node, list) and not (isinstance(part, int) and 0 <= part < len(node)):
                node = _MISSING
                break
            node = node[part]
            here = layer.doc_path(path[: depth + 1])
            if node is None:
                line, column = layer.doc.key_position(here)
                found.append(Setting(layer, line, column, None, removed=True))
                break
            if depth < len(path) - 1 and not isinstance(node, (dict, list)):
                node = _MISSING  # a scalar where a mapping is asked for: this layer says nothing about the key
                break
        else:
            line, column = layer.doc.value_position(layer.doc_path(path))
            found.append(Setting(layer, line, column, node))
    found.reverse()
    return found


_MISSING = object()
