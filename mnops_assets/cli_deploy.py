"""`mnops` commands that change or read deployed state: plan, deploy, drift, history, rollback, destroy, import, audit,
unlock.

Exit codes follow `terraform plan -detailed-exitcode` where a diff is the answer: 0 nothing to do, 2 changes (or
drift) found, 1 an error; every other command exits 0 on success and 1 on failure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from contracts.errors import MnopsError
from mnops_assets.cli import (
    DEFAULT_ESTATE,
    EstateOption,
    Format,
    FormatOption,
    _guard,
    _json,
    _report_invalid,
    _usage,
    app,
    err,
    out,
)
from mnops_assets.engine import audit as audit_trail
from mnops_assets.engine.apply import DeployResult, Engine
from mnops_assets.engine.errors import AuditBroken
from mnops_assets.engine.importing import FOUND_BY_TAGS, ImportRefused, ImportResult
from mnops_assets.engine.plan import SYMBOLS, Action, Change, Plan
from mnops_assets.engine.runtime import open_engine
from mnops_assets.errors import EstateInvalid, UsageError
from mnops_assets.estate import Estate, ResolvedPlatform, find_estate
from mnops_assets.estate.spec import PlatformSpec
from mnops_assets.governance import load_governed

WaitOption = Annotated[bool, typer.Option("--wait", help="Wait for another deploy of the same platform to finish.")]
InstanceArgument = Annotated[str, typer.Argument(help="Instance name (its folder under platform-cloud/).")]
SECRET_FIELDS = {"value_hmac"}


def _estate_and_engine(estate_path: Path, instances: list[str] | None) -> tuple[Estate, Engine]:
    """The estate with its policies, and an engine that judges every deploy by them before touching a provider."""
    root, _ = _guard(find_estate, estate_path)
    try:
        estate, policies = load_governed(root, instances)
    except EstateInvalid as exc:
        _report_invalid(exc, Format.table)
        raise typer.Exit(1) from None
    except UsageError as exc:
        _usage(exc)
    return estate, open_engine(estate, policies)


def _instance(instance: str, estate_path: Path) -> tuple[Path, str]:
    """An instance named, or given as its folder (`ecosystem/platform-cloud/dev`, as the seed scripts pass it)."""
    if "/" in instance:
        root, name = _guard(find_estate, Path(instance))
        if name is None:
            err.print(f"error: {instance} is an estate, not an instance folder")
            raise typer.Exit(2)
        return root, name
    return estate_path, instance


def _fail(exc: MnopsError, code: int = 1) -> None:
    err.print(f"error: {exc}", markup=False)
    raise typer.Exit(code)


@app.command()
def plan(
    instance: InstanceArgument,
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    fmt: FormatOption = Format.table,
) -> None:
    """Show what a deploy would change. Exit 0: no changes; 2: changes; 1: error."""
    estate_path, instance = _instance(instance, estate_path)
    estate, engine = _estate_and_engine(estate_path, [instance])
    platform = estate.platform(instance)
    try:
        result = engine.plan(platform.spec)
    except MnopsError as exc:
        _fail(exc)
    if fmt is Format.json:
        _json(result.to_dict())
    else:
        _print_plan(result, platform)
    raise typer.Exit(2 if result.changed else 0)


@app.command()
def deploy(
    instance: Annotated[
        str | None, typer.Argument(help="Instance to deploy, by name or folder.", show_default=False)
    ] = None,
    all_instances: Annotated[bool, typer.Option("--all", help="Deploy every instance of the estate.")] = False,
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    wait: WaitOption = False,
    direct: Annotated[
        bool, typer.Option("--direct", help="Run the engine here, without Dagster (no run in the UI's history).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Let a protect: true platform's deploy delete or replace resources.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Plan and apply one instance (or --all): governance checks, health checks, automatic rollback on failure.

    By default the deployment is a materialization on the Dagster instance (DAGSTER_HOME, else .mnops/dagster/),
    so it appears in the UI's history and passes the same blocking checks as one started there.
    """
    if (instance is None) == (not all_instances):
        err.print("error: name one INSTANCE or pass --all")
        raise typer.Exit(2)
    if instance is not None:
        estate_path, instance = _instance(instance, estate_path)
    estate, engine = _estate_and_engine(estate_path, None if all_instances else [instance])
    if direct:
        rows = _deploy_direct(estate, engine, wait, force, fmt)
    else:
        rows = _deploy_dagster(estate, wait, force, fmt)
    failed = any(row["result"] == "failed" for row in rows)
    if fmt is Format.json:
        _json({"deployed": rows, "failed": failed})
    else:
        table = Table(title="deploy")
        for column in ("instance", "result", "version", "steps", "config hash"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row["instance"],
                row["result"],
                str(row.get("version") or ""),
                str(row.get("steps", "")),
                row.get("config_hash", "")[:12],
            )
        out.print(table)
    raise typer.Exit(1 if failed else 0)


def _deploy_direct(estate: Estate, engine: Engine, wait: bool, force: bool, fmt: Format) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for platform in estate.platforms.values():
        try:
            result = engine.deploy(platform.spec, wait=wait, force=force)
        except MnopsError as exc:
            rows.append({"instance": platform.name, "result": "failed", "error": str(exc)})
            err.print(f"error: {exc}", markup=False)
            continue
        rows.append(_deploy_row(result))
        if fmt is Format.table and result.changed:
            _print_plan(result.plan, platform)
    return rows


def _deploy_dagster(estate: Estate, wait: bool, force: bool, fmt: Format) -> list[dict[str, Any]]:
    from mnops_assets.graph import launch  # Dagster loads only for the commands that launch runs

    rows: list[dict[str, Any]] = []
    for outcome in launch.deploy(estate, list(estate.platforms), wait=wait, force=force):
        if not outcome.ok:
            rows.append({"instance": outcome.instance, "result": "failed", "error": outcome.error})
            err.print(f"error: {outcome.instance}: {outcome.error}", markup=False)
            continue
        meta = outcome.metadata
        plan = meta.get("plan", {})
        steps = len(plan.get("steps", []))
        result = "deployed" if meta.get("changed") else "no changes"
        if fmt is Format.table and meta.get("changed"):
            _print_plan(plan, estate.platform(outcome.instance))
        rows.append(
            {
                "instance": outcome.instance,
                "result": result,
                "version": meta.get("version"),
                "steps": steps,
                "config_hash": meta.get("config_hash", ""),
            }
        )
    return rows


@app.command()
def drift(
    instance: Annotated[str | None, typer.Argument(help="Instance (default: every deployed one).")] = None,
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    fmt: FormatOption = Format.table,
) -> None:
    """Observe once and diff against the last applied state. Exit 0: in sync; 2: drift found; 1: error."""
    estate, engine = _estate_and_engine(estate_path, None if instance is None else [instance])
    specs = [platform.spec for platform in estate.platforms.values()]
    reports = engine.drift_scan(specs)
    found, broken = [], False
    for spec in specs:
        result = reports[spec.name]
        if result is None:
            continue  # never deployed
        if result.error is not None:
            broken = True
            err.print(f"error: {spec.name}: cannot be judged: {result.error}", markup=False)
            continue
        found.append({"instance": spec.name, "drift": [s.to_dict() for s in result.steps]})
        if fmt is Format.table:
            if result.steps:
                _print_steps([step.to_dict() for step in result.steps], estate.platform(spec.name))
            else:
                out.print(f"{spec.name}: in sync")
    if fmt is Format.json:
        _json({"platforms": found})
    raise typer.Exit(1 if broken else 2 if any(entry["drift"] for entry in found) else 0)


@app.command()
def history(
    instance: InstanceArgument,
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    fmt: FormatOption = Format.table,
) -> None:
    """Every version deployed: number, config hash, contract versions, time, who."""
    _, engine = _estate_and_engine(estate_path, [instance])
    versions = engine.store.versions(instance)
    if fmt is Format.json:
        _json([{k: v for k, v in vars(ver).items() if k != "spec"} for ver in versions])
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


@app.command()
def rollback(
    instance: InstanceArgument,
    to: Annotated[
        int | None, typer.Option("--to", help="Version to return to (default: the one before the newest).")
    ] = None,
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    wait: WaitOption = False,
    force: Annotated[bool, typer.Option("--force", help="Allow deletes and replaces on a protected platform.")] = False,
) -> None:
    """Deploy an earlier version's spec again, as a new version."""
    estate, engine = _estate_and_engine(estate_path, [instance])
    try:
        result = engine.rollback(estate.platform(instance).spec, to, wait=wait, force=force)
    except MnopsError as exc:
        _fail(exc)
    version = result.version.version if result.version else "unchanged"
    out.print(f"{instance}: rolled back ({result.plan.counts()}); now version {version}")


@app.command()
def destroy(
    instance: Annotated[str | None, typer.Argument(help="Instance to destroy.", show_default=False)] = None,
    all_instances: Annotated[bool, typer.Option("--all", help="Destroy every deployed instance.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Destroy even a platform marked protect: true.")] = False,
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    wait: WaitOption = False,
) -> None:
    """Delete every resource of an instance (or of all deployed ones), dependents first."""
    if (instance is None) == (not all_instances):
        err.print("error: name one INSTANCE or pass --all")
        raise typer.Exit(2)
    estate, engine = _estate_and_engine(estate_path, None if all_instances else [instance])
    specs = [platform.spec for platform in estate.platforms.values()]
    if all_instances:
        # Platforms whose folders are gone are still deployed: their last applied spec says what to remove.
        for name in engine.store.platforms():
            latest = engine.store.latest_version(name)
            if name not in estate.platforms and latest is not None and latest.spec:
                specs.append(PlatformSpec.model_validate(latest.spec))
    failed = False
    for spec in specs:
        try:
            result = engine.destroy(spec, force=force, wait=wait)
        except MnopsError as exc:
            failed = True
            err.print(f"error: {exc}", markup=False)
            continue
        if result.changed or not all_instances:
            out.print(f"{spec.name}: destroyed {result.plan.counts()['delete']} resource(s)")
    raise typer.Exit(1 if failed else 0)


@app.command("import")
def import_command(
    instance: InstanceArgument,
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be imported and tagged; write nothing.")
    ] = False,
    wait: WaitOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Adopt resources that already exist at the provider into state, without making them again.

    Each declared resource is found by its identity tags, else by the name mnops would give it (then it is given the
    identity tags, and nothing else changes). Exit 0: imported, or nothing to import; 1: refused (nothing written).
    """
    estate_path, instance = _instance(instance, estate_path)
    estate, engine = _estate_and_engine(estate_path, [instance])
    platform = estate.platform(instance)
    try:
        result = engine.import_platform(platform.spec, dry_run=dry_run, wait=wait)
    except ImportRefused as exc:
        _refused(exc, platform)
    except MnopsError as exc:
        _fail(exc)
    if fmt is Format.json:
        _json(result.to_dict())
    else:
        _print_import(result, platform)


@app.command()
def unlock(instance: InstanceArgument, estate_path: EstateOption = Path(DEFAULT_ESTATE)) -> None:
    """Break a platform's lock left by a process that died on another host (locks of this host heal themselves)."""
    _, engine = _estate_and_engine(estate_path, [instance])
    lock = engine.unlock(instance)
    if lock is None:
        out.print(f"{instance}: not locked")
        return
    out.print(f"{instance}: lock of {lock.holder} (deploy {lock.deploy_id}) broken")


@app.command("audit")
def audit_command(
    target: Annotated[str | None, typer.Argument(help="An instance to list, or `verify` to check the chain.")] = None,
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    fmt: FormatOption = Format.table,
) -> None:
    """List audit events (CloudEvents 1.0), or `mnops audit verify`: exit 1 if a record was altered or removed."""
    _, engine = _estate_and_engine(estate_path, [] if target in (None, "verify") else [target])
    if target == "verify":
        problems = audit_trail.verify(engine.store)
        for problem in problems:
            err.print(problem, markup=False)
        count = len(audit_trail.records(engine.store))
        if problems:
            _fail(AuditBroken(f"audit trail broken: {len(problems)} problem(s) in {count} record(s)"))
        out.print(f"audit trail intact: {count} record(s) verified")
        return
    records = audit_trail.records(engine.store, target)
    if fmt is Format.json:
        _json([r.event | {"mnopsseq": r.seq, "mnopshash": r.hash} for r in records])
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


# -- rendering --------------------------------------------------------------------------------------------------------


def _deploy_row(result: DeployResult) -> dict[str, Any]:
    if result.version is None:
        return {"instance": result.platform, "result": "no changes", "steps": 0, "config_hash": result.plan.config_hash}
    return {
        "instance": result.platform,
        "result": "deployed",
        "version": result.version.version,
        "steps": len(result.plan.steps),
        "config_hash": result.version.config_hash,
        "deploy_id": result.deploy_id,
    }


def _print_import(result: ImportResult, platform: ResolvedPlatform) -> None:
    name = result.platform
    if result.already_deployed:
        assert result.version is not None
        out.print(f"{name}: deployed already (version {result.version.version}) and in sync: nothing to import")
        return
    count = len(result.resources)
    if result.dry_run:
        out.print(f"{name}: would import {count} resource(s) (dry run: nothing written)")
    else:
        assert result.version is not None
        config = result.config_hash[:12]
        out.print(f"{name}: imported {count} resource(s) as version {result.version.version} (config {config})")
    for item in result.resources:
        how = "found by identity tags" if item.found_by == FOUND_BY_TAGS else "found by name"
        if item.tagged:
            how += "; identity tags " + ("would be written" if result.dry_run else "written")
        if item.observed.problem:
            how += f"; damaged: {item.observed.problem}"
        out.print(f"  {item.name} ({item.observed.contract}): {how}   {item.observed.resource_id}", markup=False)
    for undeclared in result.undeclared:
        out.print(f"  {undeclared}: carries this platform's tags but is not declared: not imported", markup=False)
    if result.plan.changed:
        out.print(f"{name}: what exists differs from the YAML; the next deploy changes it so:")
    _print_plan(result.plan, platform)


def _refused(exc: ImportRefused, platform: ResolvedPlatform) -> None:
    """Every problem on its own line, with the file:line that declares the resource (or sets the field)."""
    err.print(f"error: import of {exc.platform!r} refused, nothing was written:", markup=False)
    for problem in exc.problems:
        if problem.resource is None:
            err.print(f"  {problem.reason}", markup=False)
            continue
        path = ("resources", problem.resource, *([problem.field] if problem.field else []))
        origin = platform.origin(path)
        where = f"   {origin.file}:{origin.line}" if origin is not None else ""
        err.print(f"  {problem.resource}: {problem.reason}{where}", markup=False)
    raise typer.Exit(1)


def _print_plan(result: Plan | dict[str, Any], platform: ResolvedPlatform) -> None:
    """A plan (or its JSON form, as a deploy run through Dagster records it) with each change's file:line."""
    plan = result.to_dict() if isinstance(result, Plan) else result
    counts = plan["counts"]
    if not plan["changed"]:
        out.print(f"{platform.name}: no changes ({len(plan['unchanged'])} resources up to date)")
        return
    summary = ", ".join(f"{counts[a.value]} to {a.value}" for a in Action)
    out.print(f"{platform.name}: {summary} (config {plan['config_hash'][:12]})")
    _print_steps(plan["steps"], platform)


def _print_steps(steps: list[dict[str, Any]], platform: ResolvedPlatform) -> None:
    for step in steps:
        symbol = SYMBOLS[Action(step["action"])]
        out.print(f"  {symbol} {step['resource']} ({step['contract']}): {step['reason']}", markup=False)
        for raw in step["changes"]:
            change = Change(raw["field"], raw["before"], raw["after"], raw["cause"])
            where = _where(platform, step["resource"], change)
            out.print(
                f"      {change.field}: {_show(change, 'before')} -> {_show(change, 'after')}{where}", markup=False
            )


def _show(change: Change, side: str) -> str:
    value = getattr(change, side)
    if value is None:
        return "(none)"
    if change.field in SECRET_FIELDS:
        # A keyed hash of the value, never the value: enough to see that it changed.
        return f"hmac:{str(value).rsplit(':', 1)[-1][:12]}"
    return json.dumps(value)


def _where(platform: ResolvedPlatform, resource: str, change: Change) -> str:
    if change.cause != "config":
        return "   (changed outside mnops)"
    if change.field.startswith("tags."):
        key = change.field[5:]
        path: tuple[str, ...] = ("resources", resource, "tags", key)
        if path not in platform.provenance:
            path = ("tags", key)
    else:
        path = ("resources", resource, change.field)
    origin = platform.origin(path)
    return f"   {origin.file}:{origin.line}" if origin is not None else ""
