"""`mnops maintain [INSTANCE]`: the housekeeping the daily `maintenance_schedule` runs, now (expiry, purges, rotation
of secrets whose `rotation_days` have passed, restarts of the services reading them).

Exit codes: 0 maintenance ran (whether or not anything was due), 1 a platform's housekeeping failed or the estate is
invalid, 2 the command was used wrongly (an unknown instance, a path that is no estate).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mnops_assets.cli import app
from mnops_assets.engine.maintenance import MaintenanceResult
from mnops_assets.engine.runtime import open_engine
from mnops_assets.errors import EstateInvalid, UsageError
from mnops_assets.estate import find_estate, load_estate

FORMAT_VERSION = 1


class MaintainFormat(StrEnum):
    table = "table"
    json = "json"


@app.command()
def maintain(
    instance: Annotated[str | None, typer.Argument(help="Instance (default: every deployed one).")] = None,
    estate_path: Annotated[
        Path,
        typer.Option("--estate", "-e", envvar="MNOPS_ESTATE", help="The estate folder (holding ecosystem.yaml)."),
    ] = Path("ecosystem"),
    fmt: Annotated[MaintainFormat, typer.Option("--format", "-f", help="Output format.")] = MaintainFormat.table,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for a deploy of the same platform to finish.")] = False,
) -> None:
    """Run the housekeeping of deployed platforms now: rotate secrets whose rotation_days have passed (restarting the
    services that read them), expire objects, purge old messages and log files. Exit 0: done; 1: a platform failed."""
    out = Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else 180)
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    try:
        root, _ = find_estate(estate_path)
        estate = load_estate(root, None if instance is None else [instance])
    except EstateInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise typer.Exit(1) from None
    except UsageError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    # No governance gate: housekeeping re-applies only what was deployed (and judged) already.
    engine = open_engine(estate)
    try:
        results = engine.maintain([platform.spec for platform in estate.platforms.values()], wait=wait)
    finally:
        engine.close()
    ordered = [results[name] for name in sorted(results)]
    if fmt is MaintainFormat.json:
        document = {"format_version": FORMAT_VERSION, "platforms": [result.to_dict() for result in ordered]}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        _print(out, err, ordered, instance)
    raise typer.Exit(1 if any(result.error is not None for result in ordered) else 0)


def _print(out: Console, err: Console, results: list[MaintenanceResult], instance: str | None) -> None:
    if not results:
        what = f"{instance} is not" if instance else "no platform is"
        out.print(f"{what} deployed: nothing to maintain")
        return
    table = Table(title=f"housekeeping of {len(results)} platform(s)")
    for column in ("instance", "rotated", "restarted", "removed", "outcome"):
        table.add_column(column)
    for result in results:
        outcome = "failed" if result.error else "done" if result.changed else "nothing due"
        table.add_row(
            result.platform, ", ".join(result.rotated), ", ".join(result.restarted), str(result.removed), outcome
        )
    out.print(table)
    for result in results:
        if result.error:
            err.print(f"error: {result.platform}: {result.error}", markup=False)
