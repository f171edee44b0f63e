"""`mnops enforce`: judge the estate by its policies and waivers; exit 1 on any unwaived error finding.

Registered on the `mnops` app by cli.py. Exit codes as for the rest of the CLI: 0 passed (warnings and notes are
printed), 1 an unwaived error finding or an invalid estate, 2 the command was used wrongly.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mnops_assets.errors import EstateInvalid, UsageError
from mnops_assets.estate import display, find_estate
from mnops_assets.governance import formats
from mnops_assets.governance.engine import evaluate
from mnops_assets.governance.loading import load_governed
from mnops_assets.governance.plugins import PluginFailed

DEFAULT_ESTATE = "ecosystem"


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"


WRITERS = {
    ReportFormat.json: formats.to_json,
    ReportFormat.sarif: formats.to_sarif,
    ReportFormat.junit: formats.to_junit,
}


def enforce(
    path: Annotated[
        Path | None, typer.Argument(help="The estate, or one instance folder in it.", show_default=False)
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")] = ReportFormat.table,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file; the verdict still goes to the terminal."),
    ] = None,
    as_of: Annotated[
        datetime.datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Judge waiver expiry on this date instead of today."),
    ] = None,
) -> None:
    """Judge every platform (or one instance) by governance/policies.yaml, minus valid waivers; exit 1 on an error."""
    path = path or Path(os.environ.get("MNOPS_ESTATE", DEFAULT_ESTATE))
    today = as_of.date() if as_of is not None else datetime.date.today()
    try:
        root, instance = find_estate(path)
        estate, policies = load_governed(root, None if instance is None else [instance])
        report = evaluate(estate.platforms, policies, policies.waivers, today)
    except UsageError as exc:
        _say(f"error: {exc}", stderr=True)
        raise typer.Exit(2) from None
    except EstateInvalid as exc:
        _invalid(exc, fmt)
        raise typer.Exit(1) from None
    except PluginFailed as exc:
        _say(f"error: {exc}: {exc.__cause__!r}", stderr=True)
        raise typer.Exit(1) from None
    if fmt is ReportFormat.table:
        text = "".join(line + "\n" for line in formats.text_lines(report))
    else:
        text = WRITERS[fmt](report)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        _say(f"{formats.summary(report)}; report in {display(output)}")
    elif fmt is ReportFormat.table:
        sys.stdout.write(text)
        _say(formats.summary(report))
    else:
        sys.stdout.write(text)
        _say(formats.summary(report), stderr=True)  # stdout carries the machine-readable report alone
    raise typer.Exit(0 if report.passed else 1)


def _invalid(exc: EstateInvalid, fmt: ReportFormat) -> None:
    if fmt is ReportFormat.json:
        sys.stdout.write(
            json.dumps({"passed": False, "valid": False, "problems": [p.to_dict() for p in exc.problems]}, indent=2)
            + "\n"
        )
        return
    stderr = fmt is not ReportFormat.table
    for problem in exc.problems:
        _say(str(problem), stderr=stderr)
    files = len({p.file for p in exc.problems})
    count = len(exc.problems)
    _say(
        f"invalid: {count} problem{'s' if count != 1 else ''} in {files} file{'s' if files != 1 else ''}", stderr=stderr
    )


def _say(line: str, *, stderr: bool = False) -> None:
    stream = sys.stderr if stderr else sys.stdout
    stream.write(line + "\n")
    stream.flush()
