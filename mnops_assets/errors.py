"""Problems found in the estate's files, and the errors that carry them.

A `Problem` always names the file, line, column and field, so every message can be acted on without guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.errors import MnopsError

__all__ = ["EstateInvalid", "MnopsError", "Problem", "UsageError", "dotted"]


@dataclass(frozen=True, order=True, slots=True)
class Problem:
    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.field}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }


class EstateInvalid(MnopsError):
    """The estate's files hold problems; all of them, sorted by file and line, are in `problems`."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        count = len(self.problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the estate:\n{lines}")


class UsageError(MnopsError):
    """The command was asked for something that cannot be (a path that is not an estate, an unknown instance)."""


def dotted(path: tuple[str | int, ...]) -> str:
    """`('resources', 'api', 'command', 0)` -> `resources.api.command[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
