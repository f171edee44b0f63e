"""What every `mnops` command shares: the exit-code contract, the options, the instance argument, consoles, JSON.

Command modules import this one (and `render`); this one imports no command module.
"""

from __future__ import annotations

import json
import os
import sys
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

from mnops_assets.errors import EstateInvalid, MnopsError, Problem, UsageError
from mnops_assets.estate import Estate, find_estate, load_estate
from mnops_assets.governance import formats, load_governed

if TYPE_CHECKING:
    from mnops_assets.engine.apply import Engine


class ExitCode(IntEnum):
    """The one exit-code contract of every command (also in `mnops --help` and the README)."""

    OK = 0
    """Success; for `plan` and `drift`: no changes, no drift."""
    FAILURE = 1
    """Failure or refusal: an invalid estate, a failed deploy, a refused import, a broken audit chain."""
    CHANGES = 2
    """Changes (`plan`) or drift (`drift`) found; no other command exits 2."""
    USAGE = 64
    """The command was used wrongly: unknown instance, unknown flag, missing or extra argument, bad option value."""


EXIT_CODES_HELP = (
    "Exit codes: 0 success (no changes); 1 failure or refusal (invalid estate, failed deploy, refused import, broken "
    "audit chain); 2 changes or drift found (plan, drift only); 64 usage error (unknown instance or flag, missing or "
    "extra argument, bad option value)."
)

JSON_HELP = (
    "Every command takes --format json: one JSON document on stdout with format_version 1 at its top (shapes: "
    "docs/cli.md)."
)

FORMAT_VERSION = 1
"""Every `--format json` document carries it at its top level; a change of a document's shape raises it."""

DEFAULT_ESTATE = "ecosystem"

# Piped output (CI logs, files) gets a wide fixed width: squeezed tables and wrapped paths are no use there.
out = Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True, soft_wrap=True, highlight=False, width=None if sys.stderr.isatty() else 180)


class Format(StrEnum):
    table = "table"
    json = "json"


class ReportFormat(StrEnum):
    """The formats of commands whose result is a list of problems or findings: CI reads SARIF and JUnit too."""

    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"


PROBLEM_WRITERS = {ReportFormat.sarif: formats.problems_to_sarif, ReportFormat.junit: formats.problems_to_junit}
"""The estate's problems (YAML, schema) as SARIF or JUnit, for the commands whose CI report they would replace."""


def default_estate() -> Path:
    return Path(os.environ.get("MNOPS_ESTATE", DEFAULT_ESTATE))


EstateOption = Annotated[
    Path | None,
    typer.Option(
        "--estate",
        "-e",
        help="The estate folder (holding ecosystem.yaml). Default: $MNOPS_ESTATE, else ./ecosystem.",
        show_default=False,
    ),
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ReportFormatOption = Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")]
WaitOption = Annotated[bool, typer.Option("--wait", help="Wait for another deploy of the same platform to finish.")]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Let a protect: true platform's change delete or replace resources.")
]
AllOption = Annotated[bool, typer.Option("--all", help="Every instance of the estate (destroy: every deployed one).")]
InstanceArgument = Annotated[
    str,
    typer.Argument(
        help="An instance: its name, or its folder (ecosystem/platform-cloud/dev).",
        metavar="INSTANCE",
        show_default=False,
    ),
]
OptionalInstanceArgument = Annotated[
    str | None,
    typer.Argument(
        help="An instance: its name, or its folder (ecosystem/platform-cloud/dev).",
        metavar="INSTANCE",
        show_default=False,
    ),
]
TargetArgument = Annotated[
    str | None,
    typer.Argument(
        help="The estate folder, an instance folder in it, or an instance name (default: the whole --estate).",
        metavar="INSTANCE|ESTATE",
        show_default=False,
    ),
]


# Typer carries its own copy of click; its usage error is reached through the public `BadParameter`, which derives from
# it, so the mapping below holds whichever click typer runs on.
ClickUsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class MnopsGroup(TyperGroup):
    """Maps every way a command can end onto `ExitCode`: click's usage errors (exit 2 by default) become 64, and
    an error the product raises on purpose becomes one `error:` line instead of a traceback."""

    def make_context(self, *args: Any, **kwargs: Any) -> typer.Context:
        try:
            return super().make_context(*args, **kwargs)
        except ClickUsageError as exc:
            exc.exit_code = ExitCode.USAGE  # type: ignore[attr-defined]
            raise

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClickUsageError as exc:
            exc.exit_code = ExitCode.USAGE  # type: ignore[attr-defined]
            raise
        except UsageError as exc:
            usage(str(exc))
        except MnopsError as exc:
            fail(exc)


# -- ending a command ------------------------------------------------------------------------------------------------


def usage(message: str) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(ExitCode.USAGE)


def fail(exc: MnopsError | str) -> NoReturn:
    err.print(f"error: {exc}", markup=False)
    raise typer.Exit(ExitCode.FAILURE)


def write_json(document: dict[str, Any]) -> None:
    """Write one JSON document to stdout, `format_version` first."""
    sys.stdout.write(json.dumps({"format_version": FORMAT_VERSION, **document}, indent=2, default=str) + "\n")
    sys.stdout.flush()


# -- where the estate and the instance are ---------------------------------------------------------------------------


def estate_root(estate: Path | None) -> Path:
    """The root of the `--estate` folder; a folder that is no estate is a usage error."""
    root, instance = _find(estate or default_estate())
    if instance is not None:
        usage(f"--estate {estate}: is an instance folder, not an estate")
    return root


def resolve_instance(instance: str, estate: Path | None) -> tuple[Path, str]:
    """(estate root, instance name) for an instance NAME in `--estate`, or an instance FOLDER (`.../platform-cloud/x`).

    A name must exist in the estate; an unknown one is a usage error naming the known ones."""
    if os.sep in instance or "/" in instance or instance in (".", ".."):
        root, name = _find(Path(instance))
        if name is None:
            usage(f"{instance} is an estate, not an instance folder")
        return root, name
    return estate_root(estate), instance


def resolve_target(target: str | None, estate: Path | None) -> tuple[Path, str | None]:
    """(estate root, instance or None) for `validate` and `enforce`: a folder (an estate or an instance folder) when
    one exists at TARGET, else an instance name in `--estate`; none: the whole `--estate`."""
    if target is None:
        return estate_root(estate), None
    path = Path(target)
    if path.is_dir() or os.sep in target or "/" in target:
        return _find(path)
    return estate_root(estate), target


def _find(path: Path) -> tuple[Path, str | None]:
    try:
        return find_estate(path)
    except UsageError as exc:
        usage(str(exc))


# -- loading ---------------------------------------------------------------------------------------------------------


def load(root: Path, instances: list[str] | None, fmt: str = Format.table) -> Estate:
    """The estate (all of it, or `instances` and what they inherit); an invalid one is reported and exits 1."""
    try:
        return load_estate(root, instances)
    except EstateInvalid as exc:
        report_invalid(exc.problems, fmt)
        raise typer.Exit(ExitCode.FAILURE) from None
    except UsageError as exc:
        usage(str(exc))


def report_invalid(problems: list[Problem], fmt: str, *, stderr: bool = False) -> None:
    """Every problem on its own line as `file:line:col: field: message`, then a count; or the JSON document."""
    if fmt == Format.json:
        write_json({"valid": False, "problems": [p.to_dict() for p in problems]})
        return
    console = err if stderr else out
    for problem in problems:
        console.print(str(problem), markup=False)
    files = len({p.file for p in problems})
    count = len(problems)
    console.print(f"invalid: {count} problem{'s' if count != 1 else ''} in {files} file{'s' if files != 1 else ''}")


def estate_and_engine(root: Path, instances: list[str] | None, fmt: str = Format.table) -> tuple[Estate, Engine]:
    """The estate with its policies, and an engine that judges every deploy by them before touching a provider."""
    try:
        estate, policies = load_governed(root, instances)
    except EstateInvalid as exc:
        report_invalid(exc.problems, fmt)
        raise typer.Exit(ExitCode.FAILURE) from None
    except UsageError as exc:
        usage(str(exc))
    # The engine (and its database driver) loads only for the commands that use it: validate and enforce start faster.
    from mnops_assets.engine.runtime import open_engine

    return estate, open_engine(estate, policies)


def one_or_all(instance: str | None, all_instances: bool, estate_path: Path | None) -> tuple[Path, list[str] | None]:
    """(estate root, [instance]) or (estate root, None) for --all; both or neither is a usage error."""
    if (instance is None) == (not all_instances):
        usage("name one INSTANCE or pass --all")
    if instance is None:
        return estate_root(estate_path), None
    root, name = resolve_instance(instance, estate_path)
    return root, [name]
