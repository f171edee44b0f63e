"""Commands that change deployed platforms, or plan to: plan, deploy, destroy, rollback, import, unlock.

`plan` follows `terraform plan -detailed-exitcode` (0 nothing to do, 2 changes, 1 an error); the others exit 0 on
success and 1 on failure or refusal. Their JSON documents are described in docs/cli.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from contracts.errors import MnopsError
from mnops_assets.cli.common import (
    AllOption,
    EstateOption,
    ExitCode,
    ForceOption,
    Format,
    FormatOption,
    InstanceArgument,
    OptionalInstanceArgument,
    WaitOption,
    err,
    estate_and_engine,
    fail,
    one_or_all,
    out,
    resolve_instance,
    write_json,
)
from mnops_assets.cli.render import config_only, plan_dict, print_plan
from mnops_assets.estate import Estate, ResolvedPlatform
from mnops_assets.estate.spec import PlatformSpec

if TYPE_CHECKING:
    from mnops_assets.engine.apply import DeployResult, Engine
    from mnops_assets.engine.importing import ImportRefused, ImportResult


def plan(instance: InstanceArgument, estate_path: EstateOption = None, fmt: FormatOption = Format.table) -> None:
    """Show what a deploy would change. Exit 0: no changes; 2: changes (hooks alone too); 1: error."""
    root, instance = resolve_instance(instance, estate_path)
    estate, engine = estate_and_engine(root, [instance], fmt)
    platform = estate.platform(instance)
    try:
        result = engine.plan(platform.spec)
    except MnopsError as exc:
        fail(exc)
    shown = plan_dict(result)
    if fmt is Format.json:
        write_json(shown)
    else:
        print_plan(shown, platform)
    raise typer.Exit(ExitCode.CHANGES if shown["changed"] or config_only(shown) else ExitCode.OK)


def deploy(
    instance: OptionalInstanceArgument = None,
    all_instances: AllOption = False,
    estate_path: EstateOption = None,
    wait: WaitOption = False,
    direct: Annotated[
        bool, typer.Option("--direct", help="Run the engine here, without Dagster (no run in the UI's history).")
    ] = False,
    force: ForceOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Plan and apply one instance (or --all): governance checks, health checks, automatic rollback on failure.

    By default the deployment is a materialization on the Dagster instance (DAGSTER_HOME, else .mnops/dagster/),
    so it appears in the UI's history and passes the same blocking checks as one started there.
    """
    root, instances = one_or_all(instance, all_instances, estate_path)
    estate, engine = estate_and_engine(root, instances, fmt)
    chosen = [platform for platform in estate.deploy_order() if platform.spec.enabled]
    if instance is not None and not chosen:
        fail(NotEnabled(estate.platform(instances[0])))
    if direct:
        rows = _deploy_direct(chosen, engine, wait, force, fmt)
    else:
        rows = _deploy_dagster(estate, chosen, wait, force, fmt)
    failed = any(row["result"] == "failed" for row in rows)
    if fmt is Format.json:
        write_json({"deployed": rows, "failed": failed})
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
    raise typer.Exit(ExitCode.FAILURE if failed else ExitCode.OK)


class NotEnabled(MnopsError):
    """A deploy asked of an instance the estate ships disabled (`enabled: false`)."""

    def __init__(self, platform: ResolvedPlatform) -> None:
        origin = platform.origin(("enabled",))
        where = f" ({origin.where()})" if origin is not None else ""
        super().__init__(f"{platform.name} is not enabled{where}: set `enabled: true` to deploy it")


def _deploy_direct(
    platforms: list[ResolvedPlatform], engine: Engine, wait: bool, force: bool, fmt: Format
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for platform in platforms:
        try:
            result = engine.deploy(platform.spec, wait=wait, force=force)
        except MnopsError as exc:
            rows.append({"instance": platform.name, "result": "failed", "error": str(exc)})
            err.print(f"error: {exc}", markup=False)
            continue
        rows.append(_deploy_row(result))
        if fmt is Format.table and result.changed:
            print_plan(result.plan, platform)
    return rows


def _deploy_dagster(
    estate: Estate, platforms: list[ResolvedPlatform], wait: bool, force: bool, fmt: Format
) -> list[dict[str, Any]]:
    from mnops_assets.graph import launch  # Dagster loads only for the commands that launch runs

    rows: list[dict[str, Any]] = []
    names = [platform.name for platform in platforms]
    for outcome in launch.deploy(estate, names, wait=wait, force=force):
        if not outcome.ok:
            rows.append({"instance": outcome.instance, "result": "failed", "error": outcome.error})
            err.print(f"error: {outcome.instance}: {outcome.error}", markup=False)
            continue
        meta = outcome.metadata
        recorded = meta.get("plan", {})
        steps = len(recorded.get("steps", []))
        result = "deployed" if meta.get("changed") else "no changes"
        if fmt is Format.table and meta.get("changed"):
            print_plan(recorded, estate.platform(outcome.instance))
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


def rollback(
    instance: InstanceArgument,
    to: Annotated[
        int | None, typer.Option("--to", help="Version to return to (default: the one before the newest).")
    ] = None,
    estate_path: EstateOption = None,
    wait: WaitOption = False,
    force: ForceOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Deploy an earlier version's spec again, as a new version."""
    root, instance = resolve_instance(instance, estate_path)
    estate, engine = estate_and_engine(root, [instance], fmt)
    try:
        result = engine.rollback(estate.platform(instance).spec, to, wait=wait, force=force)
    except MnopsError as exc:
        fail(exc)
    version = result.version.version if result.version else None
    if fmt is Format.json:
        write_json({"instance": instance, "version": version, "counts": result.plan.counts()})
        return
    out.print(f"{instance}: rolled back ({result.plan.counts()}); now version {version or 'unchanged'}")


def destroy(
    instance: OptionalInstanceArgument = None,
    all_instances: AllOption = False,
    force: ForceOption = False,
    estate_path: EstateOption = None,
    wait: WaitOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Delete every resource of an instance (or of all deployed ones), dependents first."""
    root, instances = one_or_all(instance, all_instances, estate_path)
    estate, engine = estate_and_engine(root, instances, fmt)
    # Readers before the platforms whose outputs they read: the reverse of the order they deploy in.
    specs = [platform.spec for platform in reversed(estate.deploy_order())]
    if all_instances:
        # Platforms whose folders are gone are still deployed: their last applied spec says what to remove.
        for name in engine.store.platforms():
            latest = engine.store.latest_version(name)
            if name not in estate.platforms and latest is not None and latest.spec:
                specs.append(PlatformSpec.model_validate(latest.spec))
    rows: list[dict[str, Any]] = []
    for spec in specs:
        try:
            result = engine.destroy(spec, force=force, wait=wait)
        except MnopsError as exc:
            rows.append({"instance": spec.name, "error": str(exc)})
            err.print(f"error: {exc}", markup=False)
            continue
        deleted = result.plan.counts()["delete"]
        if result.changed or not all_instances:
            rows.append({"instance": spec.name, "deleted": deleted})
            if fmt is Format.table:
                out.print(f"{spec.name}: destroyed {deleted} resource(s)")
    failed = any("error" in row for row in rows)
    if fmt is Format.json:
        write_json({"destroyed": rows, "failed": failed})
    raise typer.Exit(ExitCode.FAILURE if failed else ExitCode.OK)


def import_platform(
    instance: InstanceArgument,
    estate_path: EstateOption = None,
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
    from mnops_assets.engine.importing import ImportRefused

    root, instance = resolve_instance(instance, estate_path)
    estate, engine = estate_and_engine(root, [instance], fmt)
    platform = estate.platform(instance)
    try:
        result = engine.import_platform(platform.spec, dry_run=dry_run, wait=wait)
    except ImportRefused as exc:
        _refused(exc, platform, fmt)
    except MnopsError as exc:
        fail(exc)
    if fmt is Format.json:
        write_json(result.to_dict())
    else:
        _print_import(result, platform)


def unlock(
    instance: InstanceArgument,
    estate_path: EstateOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Break the lock even though its lease is fresh (its holder may be alive).")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Break a platform's lock whose lease ran out; a fresh lease (its holder may be alive) needs --force. Exit 0:
    broken or not locked; 1: refused (a fresh lease), naming who holds it and until when."""
    root, instance = resolve_instance(instance, estate_path)
    _, engine = estate_and_engine(root, [instance], fmt)
    try:
        lock = engine.unlock(instance, force=force)
    except MnopsError as exc:
        fail(exc)
    if fmt is Format.json:
        write_json(
            {
                "instance": instance,
                "locked": lock is not None,
                "holder": None if lock is None else lock.holder,
                "deploy_id": None if lock is None else lock.deploy_id,
                "lease_until": None if lock is None else lock.expires_at,
            }
        )
    elif lock is None:
        out.print(f"{instance}: not locked")
    else:
        out.print(f"{instance}: lock of {lock.holder} (deploy {lock.deploy_id}) broken")


def _print_import(result: ImportResult, platform: ResolvedPlatform) -> None:
    from mnops_assets.engine.importing import FOUND_BY_TAGS

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
    print_plan(result.plan, platform)


def _refused(exc: ImportRefused, platform: ResolvedPlatform, fmt: Format) -> None:
    """Every problem on its own line, with the file:line that declares the resource (or sets the field)."""
    problems = []
    for problem in exc.problems:
        where = None
        if problem.resource is not None:
            path = ("resources", problem.resource, *([problem.field] if problem.field else []))
            origin = platform.origin(path)
            where = None if origin is None else {"file": origin.file, "line": origin.line}
        problems.append({"resource": problem.resource, "field": problem.field, "reason": problem.reason, "at": where})
    if fmt is Format.json:
        write_json({"refused": True, "platform": exc.platform, "problems": problems})
    err.print(f"error: import of {exc.platform!r} refused, nothing was written:", markup=False)
    for entry in problems:
        if entry["resource"] is None:
            err.print(f"  {entry['reason']}", markup=False)
            continue
        where = f"   {entry['at']['file']}:{entry['at']['line']}" if entry["at"] else ""
        err.print(f"  {entry['resource']}: {entry['reason']}{where}", markup=False)
    raise typer.Exit(ExitCode.FAILURE)
