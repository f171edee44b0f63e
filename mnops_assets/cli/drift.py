"""`mnops drift`: observe once and diff against the last applied state.

Exit 0: in sync (a never-deployed instance is not drift); 2: drift found; 1: an instance could not be judged. Its
JSON document is described in docs/cli.md.
"""

from __future__ import annotations

from typing import Any

import typer

from mnops_assets.cli.common import (
    EstateOption,
    ExitCode,
    Format,
    FormatOption,
    OptionalInstanceArgument,
    err,
    estate_and_engine,
    estate_root,
    out,
    resolve_instance,
    write_json,
)
from mnops_assets.cli.render import print_steps

IN_SYNC, DRIFT, NEVER_DEPLOYED, ERROR = "in sync", "drift", "never deployed", "error"


def drift(
    instance: OptionalInstanceArgument = None,
    estate_path: EstateOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Observe once and diff against the last applied state (every instance, or one). Exit 0: in sync; 2: drift."""
    if instance is None:
        root, instances = estate_root(estate_path), None
    else:
        root, name = resolve_instance(instance, estate_path)
        instances = [name]
    estate, engine = estate_and_engine(root, instances, fmt)
    reports = engine.drift_scan([platform.spec for platform in estate.platforms.values()])
    rows: list[dict[str, Any]] = []
    undeployed: list[str] = []
    for name, report in reports.items():
        if report is None:
            rows.append({"instance": name, "status": NEVER_DEPLOYED, "drift": []})
            undeployed.append(name)
        elif report.error is not None:
            rows.append({"instance": name, "status": ERROR, "drift": [], "error": report.error})
            err.print(f"error: {name}: cannot be judged: {report.error}", markup=False)
        elif report.steps:
            steps = [step.to_dict() for step in report.steps]
            rows.append({"instance": name, "status": DRIFT, "drift": steps})
            if fmt is Format.table:
                # Named on a line of its own: over many instances, steps must not read as the previous one's.
                out.print(f"{name}: drift from version {report.version} ({len(steps)} resource(s))")
                print_steps(steps, estate.platform(name))
        else:
            rows.append({"instance": name, "status": IN_SYNC, "drift": []})
            if fmt is Format.table:
                out.print(f"{name}: in sync")
    if fmt is Format.table and undeployed:
        # Nothing to compare is not drift; over the whole estate one line says which, instead of a line each.
        listed = undeployed[0] if len(undeployed) == 1 else f"{len(undeployed)} instances: {', '.join(undeployed)}"
        out.print(f"{listed}: never deployed (nothing to compare)" if instance is None else f"{listed}: never deployed")
    if fmt is Format.json:
        write_json({"platforms": rows})
    statuses = {row["status"] for row in rows}
    raise typer.Exit(ExitCode.FAILURE if ERROR in statuses else ExitCode.CHANGES if DRIFT in statuses else ExitCode.OK)
