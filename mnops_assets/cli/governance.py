"""`mnops enforce`: judge the estate by its policies and waivers; exit 1 on any unwaived error finding.

Its JSON document is described in docs/cli.md.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from mnops_assets.cli.common import (
    FORMAT_VERSION,
    PROBLEM_WRITERS,
    EstateOption,
    ExitCode,
    ReportFormat,
    ReportFormatOption,
    TargetArgument,
    fail,
    report_invalid,
    resolve_target,
    usage,
    write_json,
)
from mnops_assets.errors import EstateInvalid, UsageError
from mnops_assets.estate import display
from mnops_assets.governance import formats
from mnops_assets.governance.engine import Report, evaluate
from mnops_assets.governance.loading import load_governed
from mnops_assets.governance.plugins import PluginFailed


def enforce(
    target: TargetArgument = None,
    estate_path: EstateOption = None,
    fmt: ReportFormatOption = ReportFormat.table,
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
    root, instance = resolve_target(target, estate_path)
    today = as_of.date() if as_of is not None else datetime.date.today()
    try:
        estate, policies = load_governed(root, None if instance is None else [instance])
        report = evaluate(estate.platforms, policies, policies.waivers, today)
    except UsageError as exc:
        usage(str(exc))
    except EstateInvalid as exc:
        if fmt is ReportFormat.json:
            write_json({"passed": False, "valid": False, "problems": [p.to_dict() for p in exc.problems]})
        elif fmt in PROBLEM_WRITERS:
            # CI that reads the report reads why there is none: the estate's problems, in the same format.
            sys.stdout.write(PROBLEM_WRITERS[fmt](exc.problems))
            report_invalid(exc.problems, ReportFormat.table, stderr=True)
        else:
            report_invalid(exc.problems, ReportFormat.table, stderr=fmt is not ReportFormat.table)
        raise typer.Exit(ExitCode.FAILURE) from None
    except PluginFailed as exc:
        fail(f"{exc}: {exc.__cause__!r}")
    text = _render(report, fmt)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        _say(f"{formats.summary(report)}; report in {display(output)}")
    elif fmt is ReportFormat.table:
        sys.stdout.write(text)
        _say(formats.summary(report))
    else:
        sys.stdout.write(text)
        _say(formats.summary(report), stderr=True)  # stdout carries the machine-readable report alone
    raise typer.Exit(ExitCode.OK if report.passed else ExitCode.FAILURE)


def _render(report: Report, fmt: ReportFormat) -> str:
    if fmt is ReportFormat.table:
        return "".join(line + "\n" for line in formats.text_lines(report))
    if fmt is ReportFormat.json:
        return json.dumps({"format_version": FORMAT_VERSION, **json.loads(formats.to_json(report))}, indent=2) + "\n"
    return (formats.to_sarif if fmt is ReportFormat.sarif else formats.to_junit)(report)


def _say(line: str, *, stderr: bool = False) -> None:
    stream = sys.stderr if stderr else sys.stdout
    stream.write(line + "\n")
    stream.flush()
