"""Commands that read the estate's files: validate, explain, registry, new-platform, schema.

Their JSON documents are described in docs/cli.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from adapters import registry as adapter_registry
from contracts import CONTRACTS, NAME_PATTERN
from mnops_assets import schema as schemas
from mnops_assets.cli.common import (
    PROBLEM_WRITERS,
    EstateOption,
    ExitCode,
    Format,
    FormatOption,
    InstanceArgument,
    ReportFormat,
    ReportFormatOption,
    TargetArgument,
    default_estate,
    err,
    estate_root,
    load,
    out,
    report_invalid,
    resolve_instance,
    resolve_target,
    usage,
    write_json,
)
from mnops_assets.errors import EstateInvalid, UsageError, dotted
from mnops_assets.estate import INSTANCES_DIR, Estate, display, load_estate
from mnops_assets.estate.layers import explain as explain_layers
from mnops_assets.estate.validation import NAME_RULE
from mnops_assets.governance import load_governed


def validate(
    target: TargetArgument = None,
    estate_path: EstateOption = None,
    fmt: ReportFormatOption = ReportFormat.table,
) -> None:
    """Check every file of the estate (or one instance and what it inherits); report every problem at once.

    SARIF 2.1.0 and JUnit XML put each problem at its file, line and column for CI. Exit 1 when invalid.
    """
    root, instance = resolve_target(target, estate_path)
    try:
        # The governance files are part of the estate: their problems are reported with everything else's.
        estate, _ = load_governed(root, None if instance is None else [instance])
    except EstateInvalid as exc:
        if fmt in PROBLEM_WRITERS:
            sys.stdout.write(PROBLEM_WRITERS[fmt](exc.problems))
            report_invalid(exc.problems, Format.table, stderr=True)
        else:
            report_invalid(exc.problems, fmt)
        raise typer.Exit(ExitCode.FAILURE) from None
    except UsageError as exc:
        usage(str(exc))
    if fmt in PROBLEM_WRITERS:
        sys.stdout.write(PROBLEM_WRITERS[fmt]([]))
        return
    if fmt is ReportFormat.json:
        write_json({"valid": True, "problems": [], **_summary(estate)})
        return
    table = Table(
        title=f"{estate.ecosystem.name}: {len(estate.platforms)} platform(s), {len(estate.templates)} template(s)"
    )
    for column in ("instance", "tier", "provider", "region", "template chain", "resources", "config hash"):
        table.add_column(column)
    for platform in estate.platforms.values():
        spec = platform.spec
        table.add_row(
            spec.name,
            spec.tier,
            spec.provider,
            spec.region,
            " > ".join(platform.template_chain),
            str(len(spec.resources)),
            platform.config_hash[:12],
        )
    out.print(table)
    out.print(f"valid: {display(root)}{'' if instance is None else f' ({instance})'}")


def explain(
    instance: InstanceArgument,
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. resources.jobs.retention_seconds or tags.")],
    estate_path: EstateOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Print the resolved value of KEY and every layer that set it (file:line), the winner first."""
    root, instance = resolve_instance(instance, estate_path)
    estate = load(root, [instance])
    platform = estate.platform(instance)
    resolved = platform.spec.model_dump(mode="json", by_alias=True)
    try:
        path = _parse_key(resolved, key)
    except UsageError as exc:
        usage(str(exc))
    value = _get(resolved, path)
    report = []
    for leaf, leaf_value in _leaves(value, path):
        settings = explain_layers(list(platform.layers), leaf)
        report.append(
            {
                "key": dotted(leaf),
                "value": leaf_value,
                "layers": [
                    {
                        "layer": s.layer.name,
                        "file": s.layer.doc.path,
                        "line": s.line,
                        "column": s.column,
                        "value": s.value,
                        "removed": s.removed,
                    }
                    for s in settings
                ],
                "source": "layers" if settings else _default_source(platform.spec, leaf),
            }
        )
    if fmt is Format.json:
        write_json({"instance": instance, "key": key, "value": value, "settings": report})
        return
    for entry in report:
        out.print(f"[bold]{instance}[/] {entry['key']} = {json.dumps(entry['value'])}")
        if not entry["layers"]:
            out.print(f"  (no layer sets it: {entry['source']})")
        for rank, setting in enumerate(entry["layers"]):
            marker = "wins" if rank == 0 else "    "
            shown = "removed (null)" if setting["removed"] else json.dumps(setting["value"])
            where = f"{setting['file']}:{setting['line']}"
            out.print(f"  {marker}  {setting['layer']:<26} {where:<58} {shown}")


def registry(estate_path: EstateOption = None, fmt: FormatOption = Format.table) -> None:
    """List contracts and versions, providers and the contract versions each supports, templates and instances."""
    providers = {name: sorted(adapter_registry.supported_contracts(name)) for name in adapter_registry.providers()}
    contracts = {
        tag: {"kind": model.kind, "version": model.version, "summary": (model.__doc__ or "").strip().splitlines()[0]}
        for tag, model in CONTRACTS.items()
    }
    estate = load(estate_root(estate_path), None)
    summary = _summary(estate)
    if fmt is Format.json:
        write_json({"contracts": contracts, "providers": providers, **summary})
        return
    table = Table(title="contracts")
    for column in ("contract", "summary", "providers"):
        table.add_column(column)
    for tag, info in contracts.items():
        table.add_row(tag, info["summary"], ", ".join(p for p, tags in providers.items() if tag in tags))
    out.print(table)
    table = Table(title="providers")
    table.add_column("provider")
    table.add_column("contract versions")
    for name, tags in providers.items():
        table.add_row(name, ", ".join(tags))
    out.print(table)
    table = Table(title="templates")
    for column in ("template", "chain", "used by", "description"):
        table.add_column(column)
    for entry in summary["templates"]:
        table.add_row(entry["name"], " > ".join(entry["chain"]), str(len(entry["used_by"])), entry["description"] or "")
    out.print(table)
    table = Table(title="instances")
    for column in ("instance", "tier", "provider", "region", "template", "owner"):
        table.add_column(column)
    for entry in summary["platforms"]:
        table.add_row(*(str(entry[c]) for c in ("name", "tier", "provider", "region", "template", "owner")))
    out.print(table)


def new_platform(
    name: Annotated[str, typer.Argument(help="Name of the new instance (its folder name).")],
    source: Annotated[str, typer.Option("--from", help="Instance to copy.", show_default=False)],
    estate_path: EstateOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Copy an instance folder to a new instance, atomically, and keep it only if the result validates."""
    if not re.match(NAME_PATTERN, name):
        usage(f"instance name {name!r}: {NAME_RULE}")
    root = estate_root(estate_path)
    base = root / INSTANCES_DIR
    origin, target = base / source, base / name
    if not (origin / "platform.yaml").is_file():
        usage(f"no instance {source!r} to copy in {display(base)}")
    if target.exists():
        usage(f"{display(target)} already exists; choose another name or remove it first")
    # Build the copy beside its final place (same file system), then rename: the folder appears whole or not at all.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=base))
    try:
        for item in sorted(origin.iterdir()):
            if item.is_file() and not item.name.startswith("."):
                shutil.copy2(item, staging / item.name)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        estate = load_estate(root, [name])
    except EstateInvalid as exc:
        shutil.rmtree(target, ignore_errors=True)
        report_invalid(exc.problems, fmt)
        err.print(f"not created: the copy of {source!r} as {name!r} would not validate")
        raise typer.Exit(ExitCode.FAILURE) from None
    created = estate.platform(name)
    if fmt is Format.json:
        write_json(
            {
                "created": name,
                "source": source,
                "folder": display(target),
                "tier": created.spec.tier,
                "resources": len(created.spec.resources),
            }
        )
        return
    out.print(f"created {display(target)} from {source} ({created.spec.tier}, {len(created.spec.resources)} resources)")
    out.print(
        f"next: edit {display(target / 'environment.yaml')} and platform.yaml, "
        f"then run: mnops validate {display(target)}"
    )


def schema(
    estate_path: EstateOption = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the written schemas are out of date.")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Write JSON Schema for every contract and estate file kind into <estate>/schemas/."""
    # Any folder will do, not only an estate: schemas may be written before the estate's first file.
    base = estate_path or default_estate()
    if not base.is_dir():
        usage(f"{display(base)}: no such folder")
    folder = base / schemas.SCHEMA_DIR
    count = len(schemas.render())
    if check:
        old = schemas.stale(folder)
        if fmt is Format.json:
            write_json({"folder": display(folder), "schemas": count, "stale": [display(p) for p in old]})
        for path in old if fmt is Format.table else ():
            out.print(f"{display(path)}: out of date; run: mnops schema")
        raise typer.Exit(ExitCode.FAILURE if old else ExitCode.OK)
    changed = schemas.write(folder)
    if fmt is Format.json:
        write_json({"folder": display(folder), "schemas": count, "written": [display(p) for p in changed]})
        return
    out.print(f"{count} schemas in {display(folder)} ({len(changed)} written)")


# -- helpers ---------------------------------------------------------------------------------------------------------


def _summary(estate: Estate) -> dict[str, Any]:
    used_by: dict[str, list[str]] = {name: [] for name in estate.templates}
    for platform in estate.platforms.values():
        for name in platform.template_chain:
            used_by[name].append(platform.name)
    return {
        "estate": estate.ecosystem.name,
        "root": display(estate.root),
        "templates": [
            {"name": t.name, "chain": list(t.chain), "description": t.description, "used_by": used_by[t.name]}
            for t in estate.templates.values()
        ],
        "platforms": [
            {
                "name": p.spec.name,
                "tier": p.spec.tier,
                "provider": p.spec.provider,
                "region": p.spec.region,
                "template": p.spec.template,
                "owner": p.spec.owner,
                "resources": len(p.spec.resources),
                "contracts": p.spec.contract_versions(),
                "config_hash": p.config_hash,
            }
            for p in estate.platforms.values()
        ],
    }


def _parse_key(resolved: dict[str, Any], key: str) -> tuple[str | int, ...]:
    """Follow a dotted key through the resolved data; keys that hold dots themselves (tags) are matched whole."""
    path: list[str | int] = []
    node: Any = resolved
    rest = key
    while rest:
        if isinstance(node, list):
            match = re.match(r"^\[(\d+)\]\.?|^(\d+)\.?", rest)
            if not match or int(match.group(1) or match.group(2)) >= len(node):
                raise UsageError(f"{key!r}: no item {rest.split('.')[0]!r} in {dotted(tuple(path)) or 'the spec'}")
            index = int(match.group(1) or match.group(2))
            path.append(index)
            node = node[index]
            rest = rest[match.end() :]
            continue
        if not isinstance(node, dict):
            raise UsageError(f"{key!r}: {dotted(tuple(path))} is a value, not a mapping")
        candidates = sorted(
            (k for k in node if rest == k or rest.startswith(k + ".") or rest.startswith(k + "[")), key=len
        )
        if not candidates:
            known = ", ".join(sorted(node))
            raise UsageError(
                f"{key!r}: no key {rest.split('.')[0]!r} in {dotted(tuple(path)) or 'the spec'} (known: {known})"
            )
        chosen = candidates[-1]
        path.append(chosen)
        node = node[chosen]
        rest = rest[len(chosen) :].removeprefix(".")
    return tuple(path)


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _leaves(value: Any, path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], Any]]:
    """Leaves of a mapping; a list is one leaf, since one layer always sets a list whole."""
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    return [(path, value)]


def _default_source(spec: Any, path: tuple[str | int, ...]) -> str:
    if path == ("name",):
        return "the instance folder's name"
    if len(path) >= 2 and path[0] == "resources":
        return f"default of contract {spec.resources[path[1]].contract}"
    return "default of the platform spec"
