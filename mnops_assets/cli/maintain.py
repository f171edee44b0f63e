"""`mnops maintain [INSTANCE]`: the housekeeping the daily `maintenance_schedule` runs, now (expiry, purges, rotation
of secrets whose `rotation_days` have passed, restarts of the services reading them).

No governance gate: housekeeping re-applies only what was deployed, and judged, already.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from mnops_assets.cli.common import (
    EstateOption,
    ExitCode,
    Format,
    FormatOption,
    OptionalInstanceArgument,
    WaitOption,
    err,
    estate_root,
    load,
    out,
    resolve_instance,
    write_json,
)

if TYPE_CHECKING:
    from mnops_assets.engine.maintenance import MaintenanceResult


def maintain(
    instance: OptionalInstanceArgument = None,
    estate_path: EstateOption = None,
    fmt: FormatOption = Format.table,
    wait: WaitOption = False,
) -> None:
    """Run the housekeeping of deployed platforms now: rotate secrets whose rotation_days have passed (restarting the
    services that read them), expire objects, purge old messages and log files. Exit 0: done; 1: a platform failed."""
    if instance is None:
        root, names = estate_root(estate_path), None
    else:
        root, name = resolve_instance(instance, estate_path)
        names = [name]
    estate = load(root, names, fmt)
    from mnops_assets.engine.runtime import open_engine

    engine = open_engine(estate)
    try:
        results = engine.maintain([platform.spec for platform in estate.platforms.values()], wait=wait)
    finally:
        engine.close()
    ordered = [results[name] for name in sorted(results)]
    if fmt is Format.json:
        write_json({"platforms": [result.to_dict() for result in ordered]})
    else:
        _print(ordered, instance)
    raise typer.Exit(ExitCode.FAILURE if any(result.error is not None for result in ordered) else ExitCode.OK)


def _print(results: list[MaintenanceResult], instance: str | None) -> None:
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
