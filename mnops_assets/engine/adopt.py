"""Adopt drift back into YAML: a patch to the instance's platform.yaml setting the values the provider really holds.

The patch is written for review, never applied: the platform team decides whether what changed outside mnops becomes
the declared state. Only the lines that change are touched; comments and layout stay as they are.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from mnops_assets.engine.plan import Action, Step
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.estate.yamldoc import Document

# A scalar as it sits on its line: a quoted string, or plain text up to a comment, a comma or a closing bracket.
_SCALAR = re.compile(r"""'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^,}\]#\n]*[^,}\]#\s]""")


@dataclass(frozen=True)
class Adoption:
    file: str
    patch: str
    """A unified diff of the instance's platform.yaml; empty when nothing can be adopted."""
    skipped: tuple[str, ...]
    """Drift that cannot become YAML (a resource created or deleted outside mnops), said in words."""


def propose(platform: ResolvedPlatform, steps: list[Step]) -> Adoption:
    """The platform.yaml edit that declares what `steps` (drift steps) found, as a unified diff."""
    doc = platform.layers[-1].doc
    lines = _read(doc)
    original = list(lines)
    skipped = []
    for step in steps:
        if step.action is not Action.UPDATE:
            skipped.append(f"{step.name}: {step.reason} (adopt by hand, or import it)")
            continue
        for change in step.changes:
            if change.field == "value_hmac":
                skipped.append(f"{step.name}: a secret's value changed; values never go into YAML")
                continue
            path = ("resources", step.name, *change.field.split(".", 1))
            if not _set(doc, lines, path, change.before):
                skipped.append(f"{step.name}.{change.field}: written in flow style ({{...}}) here; adopt by hand")
    patch = "".join(difflib.unified_diff(original, lines, fromfile=f"a/{doc.path}", tofile=f"b/{doc.path}"))
    return Adoption(doc.path, patch, tuple(skipped))


def _read(doc: Document) -> list[str]:
    with open(doc.path, encoding="utf-8") as handle:
        return handle.readlines()


def _set(doc: Document, lines: list[str], path: tuple[str, ...], value: Any) -> bool:
    """Set `path` to `value` in the file's lines; False when the file's layout leaves no safe place to do it."""
    rendered = _render(value)
    if path in doc.marks:
        line, column = doc.value_position(path)
        text = lines[line - 1]
        match = _SCALAR.match(text, column - 1)
        end = match.end() if match else len(text.rstrip("\n"))
        lines[line - 1] = text[: column - 1] + rendered + text[end:]
        return True
    # Not in this file yet: add it under the deepest mapping of the path that the file has.
    depth = len(path) - 1
    while depth > 0 and path[:depth] not in doc.marks:
        depth -= 1
    present = path[:depth]
    missing = path[depth:]
    if present:
        key_line, key_column = doc.key_position(present)
        value_line, value_column = doc.value_position(present)
        if lines[value_line - 1][value_column - 1 :].startswith("{"):
            return False
        indent = key_column - 1 + 2
        at = _end_of_block(lines, key_line, key_column)
    else:
        indent, at = 0, len(lines)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
    block = []
    for offset, key in enumerate(missing):
        last = offset == len(missing) - 1
        block.append(" " * (indent + 2 * offset) + f"{key}:" + (f" {rendered}" if last else "") + "\n")
    lines[at:at] = block
    return True


def _end_of_block(lines: list[str], key_line: int, key_column: int) -> int:
    """The index just after the block that starts at `key_line` (the lines indented deeper than its key)."""
    index = key_line
    while index < len(lines):
        text = lines[index]
        stripped = text.strip()
        if stripped and not stripped.startswith("#") and len(text) - len(text.lstrip(" ")) < key_column:
            break
        index += 1
    while index > key_line and not lines[index - 1].strip():
        index -= 1
    return index


def _render(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()
