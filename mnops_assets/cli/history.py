"""What happened to platforms: `mnops history` (their versions), `mnops outputs` (what their resources gave) and
`mnops audit list|verify` (the audit trail).

Their JSON documents are described in docs/cli.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mnops_assets.cli.common import (
    EstateOption,
    Format,
    FormatOption,
    InstanceArgument,
    MnopsGroup,
    err,
    estate_and_engine,
    estate_root,
    fail,
    out,
    resolve_instance,
    write_json,
)

audit_app = typer.Typer(
    cls=MnopsGroup,
    help="The audit trail: every step as a CloudEvents 1.0 event in a hash chain.",
    no_args_is_help=True,
    add_completion=False,
)


def history(instance: InstanceArgument, estate_path: EstateOption = None, fmt: FormatOption = Format.table) -> None:
    """Every version deployed: number, config hash, contract versions, time, who."""
    root, instance = resolve_instance(instance, estate_path)
    _, engine = estate_and_engine(root, [instance], fmt)
    versions = engine.store.versions(instance)
    if fmt is Format.json:
        write_json(
            {
                "instance": instance,
                "versions": [{k: v for k, v in vars(ver).items() if k != "spec"} for ver in versions],
            }
        )
        return
    table = Table(title=f"{instance}: {len(versions)} version(s)")
    for column in ("version", "config hash", "resources", "contracts", "when", "who", "note"):
        table.add_column(column)
    for ver in versions:
        contracts = ", ".join(sorted(set(ver.contracts.values())))
        table.add_row(
            str(ver.version),
            ver.config_hash[:12],
            str(len(ver.resources)),
            contracts,
            ver.created_at[:19],
            f"{ver.created_by}@{ver.host}",
            ver.note,
        )
    out.print(table)


def outputs(instance: InstanceArgument, estate_path: EstateOption = None, fmt: FormatOption = Format.table) -> None:
    """The outputs each deployed resource gave (names, URLs, references), as recorded by its last apply: what
    `ref:<resource>.<output>` reads. A sensitive output (a database's url) shows where its value is kept."""
    root, instance = resolve_instance(instance, estate_path)
    _, engine = estate_and_engine(root, [instance], fmt)
    rows = engine.store.resources(instance)
    latest = engine.store.latest_version(instance)
    version = latest.version if latest is not None and latest.spec else None
    if fmt is Format.json:
        write_json(
            {
                "instance": instance,
                "version": version,
                "outputs": {name: row.outputs for name, row in sorted(rows.items())},
                "contracts": {name: row.contract for name, row in sorted(rows.items())},
            }
        )
        return
    if not rows:
        out.print(f"{instance}: nothing deployed, so no outputs (`mnops deploy {instance}` records them)")
        return
    table = Table(title=f"{instance}: outputs of version {version}")
    for column in ("resource", "contract", "output", "value"):
        table.add_column(column)
    for name, row in sorted(rows.items()):
        if not row.outputs:
            table.add_row(name, row.contract, "-", "(none recorded: deployed before outputs were; deploy again)")
        for output, value in sorted(row.outputs.items()):
            table.add_row(name, row.contract, output, value)
    out.print(table)


@audit_app.command("list")
def audit_list(
    instance: Annotated[
        str | None, typer.Argument(help="Only this instance's events, by name or folder (default: all).")
    ] = None,
    estate_path: EstateOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """List audit events (CloudEvents 1.0), oldest first: of every platform, or of one instance."""
    if instance is None:
        root, names = estate_root(estate_path), []
    else:
        root, instance = resolve_instance(instance, estate_path)
        names = [instance]
    _, engine = estate_and_engine(root, names, fmt)
    from mnops_assets.engine import audit as audit_trail

    records = audit_trail.records(engine.store, instance)
    if fmt is Format.json:
        write_json({"events": [r.event | {"mnopsseq": r.seq, "mnopshash": r.hash} for r in records]})
        return
    table = Table(title=f"audit: {len(records)} event(s)")
    for column in ("seq", "time", "subject", "type", "by", "summary"):
        table.add_column(column)
    for rec in records:
        data = rec.event["data"]
        summary = data.get("error") or data.get("resource") or data.get("note") or data.get("deploy_id", "")
        table.add_row(
            str(rec.seq),
            rec.event["time"][:19],
            rec.platform or "",
            rec.type.removeprefix("io.mnops."),
            data["actor"],
            str(summary),
        )
    out.print(table)


@audit_app.command("verify")
def audit_verify(
    estate_path: EstateOption = None,
    fmt: FormatOption = Format.table,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="SINK",
            help="Also compare the store with an export sink: a JSON-lines file (file:PATH or PATH) that a file "
            "sink wrote or a webhook receiver kept; records it holds that the store lost or altered fail.",
        ),
    ] = None,
) -> None:
    """Check the hash chain and signatures of the whole audit trail: exit 1 if a record was altered or removed."""
    _, engine = estate_and_engine(estate_root(estate_path), [], fmt)
    from mnops_assets.engine import audit as audit_trail
    from mnops_assets.engine import export
    from mnops_assets.engine.errors import AuditBroken

    found = audit_trail.check(engine.store)
    problems, notes, count = list(found.problems), list(found.notes), found.count
    if against is not None:
        path = Path(against.removeprefix("file:")).expanduser()
        try:
            events, unreadable = export.read_sink(path)
        except export.SinkUnusable as exc:
            fail(exc)
        differences, missing = export.compare(engine.store, events, str(path))
        problems += differences
        notes += unreadable + missing
    if fmt is Format.json:
        write_json(
            {
                "intact": not problems,
                "records": count,
                "problems": problems,
                "unsigned_before": found.unsigned_before,
                "notes": notes,
            }
        )
    else:
        for line in [*problems, *notes]:
            err.print(line, markup=False)
    if problems:
        fail(AuditBroken(f"audit trail broken: {len(problems)} problem(s) in {count} record(s)"))
    if fmt is Format.table:
        compared = f", {len(events)} compared with {path}" if against is not None else ""
        out.print(f"audit trail intact: {count} record(s) verified{compared}")
