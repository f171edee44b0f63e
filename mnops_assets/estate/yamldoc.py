"""YAML with positions: plain Python values plus the line and column of every key and value.

libyaml composes the node tree (fast, in C); a small walk turns it into dicts, lists and scalars while recording
marks and collecting every problem the file holds (tabs, duplicate keys, non-string keys, merge keys, custom tags).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mnops_assets.errors import Problem, dotted

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[str | int, ...]
Mark = tuple[int, int, int, int]
"""(key line, key column, value line, value column), 1-based; for list items and the root, key == value."""

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALARS = {
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
}


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML file: its display path, its data and the marks of every node, keyed by path."""

    path: str
    data: Any
    marks: dict[Path_, Mark]

    def key_position(self, path: Path_) -> tuple[int, int]:
        """Line and column of the key at `path`, or of its nearest ancestor that exists."""
        mark = self._nearest(path)
        return mark[0], mark[1]

    def value_position(self, path: Path_) -> tuple[int, int]:
        mark = self._nearest(path)
        return mark[2], mark[3]

    def problem(self, path: Path_, message: str, *, at_key: bool = False) -> Problem:
        line, column = self.key_position(path) if at_key else self.value_position(path)
        return Problem(self.path, line, column, dotted(path) or "(file)", message)

    def _nearest(self, path: Path_) -> Mark:
        while path not in self.marks:
            path = path[:-1]
        return self.marks[path]


MAX_BYTES = 10 * 1024 * 1024
"""Far beyond any estate file; bigger ones are refused before parsing."""
MAX_DEPTH = 64
COUNT_FIRST_BYTES = 1024 * 1024
"""Files bigger than this have their values counted as a stream before the tree is built."""
"""Nesting levels of mappings and lists; the deepest contract field is a handful of levels down."""


def load_yaml(file: Path, display: str, *, within: Path | None = None) -> tuple[Document | None, list[Problem]]:
    """Parse `file`; return its document and every problem found (a document is returned only if there are none).

    With `within` (a resolved folder), a file that is, or lies under, a symbolic link leading out of it is refused
    unread: nothing of a file outside the estate may reach a message.
    """
    try:
        if within is not None and not file.resolve().is_relative_to(within):
            return None, [Problem(display, 1, 1, "(file)", "a symbolic link out of the estate; refused, not read")]
        size = file.stat().st_size
        if size > MAX_BYTES:
            message = f"{size / 1024 / 1024:.1f} MiB; estate files are limited to {MAX_BYTES // 1024 // 1024} MiB"
            return None, [Problem(display, 1, 1, "(file)", message)]
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        before = exc.object[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        return None, [Problem(display, line, column, "yaml", f"not UTF-8 text ({exc.reason})")]
    except OSError as exc:
        return None, [Problem(display, 1, 1, "yaml", f"cannot be read: {exc.strerror}")]
    return parse_yaml(text, display)


def parse_yaml(text: str, display: str) -> tuple[Document | None, list[Problem]]:
    problems = _tab_problems(text, display)
    if problems:
        # libyaml stops at the first tab with a message about tokens; naming every tabbed line is more useful.
        return None, problems
    if len(text) > COUNT_FIRST_BYTES and _events_beyond(text, MAX_NODES):
        # Counted as a stream first: composing the whole tree of a big file would cost ~60 bytes per byte of YAML.
        return None, [Problem(display, 1, 1, "yaml", _too_many_values())]
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        message = f"syntax error: {exc.problem or exc.context}"
        mark = exc.problem_mark or exc.context_mark
        if exc.context and exc.context_mark is not None:
            message += f" ({exc.context})"
            if mark is None or mark.line >= len(text.splitlines()):
                # libyaml noticed only at the end of the file; the unclosed bracket is where the mistake is.
                mark = exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Problem(display, line, column, "yaml", message)]
    except yaml.YAMLError as exc:
        return None, [Problem(display, 1, 1, "yaml", f"syntax error: {exc}")]
    marks: dict[Path_, Mark] = {(): (1, 1, 1, 1)}
    if root is None:
        return Document(display, {}, marks), []
    walker = _Walker(display, marks)
    marks[()] = (root.start_mark.line + 1, root.start_mark.column + 1) * 2
    try:
        data = walker.walk(root, ())
    except _TooBig:
        return None, [Problem(display, 1, 1, "yaml", _too_many_values())]
    if not isinstance(data, dict):
        walker.problems.append(Problem(display, marks[()][0], marks[()][1], "(file)", "must be a mapping of keys"))
    if walker.problems:
        return None, walker.problems
    return Document(display, data, marks), []


def _too_many_values() -> str:
    return (
        f"holds more than {MAX_NODES:,} values (counting each use of an alias); split it, or share settings "
        "with a template"
    )


def _events_beyond(text: str, limit: int) -> bool:
    """Whether `text` holds more than `limit` scalars, mappings and lists, read as a stream (nothing kept)."""
    count = 0
    try:
        for parsed in yaml.parse(text, Loader=Loader):
            if isinstance(parsed, yaml.NodeEvent):
                count += 1
                if count > limit:
                    return True
    except yaml.YAMLError:
        return False  # compose reports it, at its line
    return False


def _tab_problems(text: str, display: str) -> list[Problem]:
    if "\t" not in text:
        return []
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            found.append(
                Problem(display, number, indent.index("\t") + 1, "yaml", "tab in indentation; YAML indents with spaces")
            )
    return found


MAX_NODES = 200_000
"""More values than any estate file holds: aliases nested to expand past it are refused (a "billion laughs")."""


class _TooBig(Exception):
    pass


class _Walker:
    def __init__(self, display: str, marks: dict[Path_, Mark]) -> None:
        self.display = display
        self.marks = marks
        self.problems: list[Problem] = []
        self._open: set[int] = set()
        self._count = 0
        self._too_deep = False

    def walk(self, node: Node, path: Path_) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise _TooBig
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if len(path) >= MAX_DEPTH:
            # Reported once, at the first node too deep, naming the top of the branch: the path itself is that long.
            if not self._too_deep:
                self._too_deep = True
                mark = node.start_mark
                message = f"nested more than {MAX_DEPTH} levels deep"
                self.problems.append(Problem(self.display, mark.line + 1, mark.column + 1, dotted(path[:2]), message))
            return None
        if id(node) in self._open:
            self.fail(node, path, "an alias refers to the node that contains it")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self.sequence(node, path)
            return self.mapping(node, path)
        finally:
            self._open.discard(id(node))

    def scalar(self, node: ScalarNode, path: Path_) -> Any:
        if node.tag == _STR:
            return node.value
        construct = _SCALARS.get(node.tag)
        if construct is None:
            self.fail(node, path, f"unsupported tag {node.tag!r}")
            return None
        try:
            return construct(node)
        except (ValueError, yaml.YAMLError):
            self.fail(node, path, f"cannot be read as {node.tag.rsplit(':', 1)[-1]}")
            return None

    def sequence(self, node: SequenceNode, path: Path_) -> list[Any]:
        items = []
        for index, child in enumerate(node.value):
            child_path = (*path, index)
            mark = child.start_mark
            self.marks[child_path] = (mark.line + 1, mark.column + 1) * 2
            items.append(self.walk(child, child_path))
        return items

    def mapping(self, node: MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.fail(key_node, path, "merge keys (<<) are not supported; share settings with a template")
                continue
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, path, "keys must be plain strings")
                continue
            key = self.scalar(key_node, path)
            if not isinstance(key, str):
                message = f"key {key_node.value!r} is read as {type(key).__name__}; quote it"
                self.fail(key_node, (*path, str(key_node.value)), message)
                continue
            child_path = (*path, key)
            kmark, vmark = key_node.start_mark, value_node.start_mark
            if key in result:
                first = self.marks[child_path][0]
                self.fail(key_node, child_path, f"duplicate key (first set on line {first})")
                continue
            self.marks[child_path] = (kmark.line + 1, kmark.column + 1, vmark.line + 1, vmark.column + 1)
            result[key] = self.walk(value_node, child_path)
        return result

    def fail(self, node: Node, path: Path_, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.display, mark.line + 1, mark.column + 1, dotted(path) or "(file)", message))
