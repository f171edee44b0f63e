"""The `mnops` command line: validate, explain, registry, new-platform, schema.

Exit codes: 0 success, 1 the estate (or what was asked of it) is invalid, 2 the command was used wrongly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from adapters import registry as adapter_registry
from contracts import CONTRACTS, NAME_PATTERN
from mnops_assets import schema as schemas
from mnops_assets.errors import EstateInvalid, MnopsError, UsageError, dotted
from mnops_assets.estate import INSTANCES_DIR, Estate, display, find_estate, load_estate
from mnops_assets.estate.layers import explain as explain_layers
from mnops_assets.estate.validation import NAME_RULE
from mnops_assets.governance import load_governed
from mnops_assets.governance.command import enforce

app = typer.Typer(
    name="mnops",
    help="machine-native-ops: a governed, multi-cloud platform estate as data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, files) gets a wide fixed width: squeezed tables and wrapped paths are no use there.
out = Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True, soft_wrap=True, highlight=False, width=None if sys.stderr.isatty() else 180)

DEFAULT_ESTATE = "ecosystem"
EstateOption = Annotated[
    Path,
    typer.Option("--estate", "-e", envvar="MNOPS_ESTATE", help="The estate folder (holding ecosystem.yaml)."),
]


class Format(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and of the estate's seed scripts.

    Every error the product raises on purpose ends here as one `error:` line and exit code 1, never a traceback.
    """
    try:
        app(args=argv, prog_name="mnops", standalone_mode=True)
    except MnopsError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)


@app.command()
def validate(
    path: Annotated[
        Path | None, typer.Argument(help="The estate, or one instance folder in it.", show_default=False)
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Check every file of the estate (or one instance and what it inherits); report every problem at once."""
    path = path or Path(os.environ.get("MNOPS_ESTATE", DEFAULT_ESTATE))
    root, instance = _guard(find_estate, path)
    try:
        # The governance files are part of the estate: their problems are reported with everything else's.
        estate, _ = load_governed(root, None if instance is None else [instance])
    except EstateInvalid as exc:
        _report_invalid(exc, fmt)
        raise typer.Exit(1) from None
    except UsageError as exc:
        _usage(exc)
    if fmt is Format.json:
        _json({"valid": True, "problems": [], **_summary(estate)})
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


@app.command()
def explain(
    instance: Annotated[str, typer.Argument(help="Instance name (its folder under platform-cloud/).")],
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. resources.jobs.retention_seconds or tags.")],
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    fmt: FormatOption = Format.table,
) -> None:
    """Print the resolved value of KEY and every layer that set it (file:line), the winner first."""
    root, _ = _guard(find_estate, estate_path)
    estate = _load(root, [instance])
    platform = estate.platform(instance)
    resolved = platform.spec.model_dump(mode="json", by_alias=True)
    path = _guard(_parse_key, resolved, key)
    value = _get(resolved, path)
    leaves = _leaves(value, path)
    report = []
    for leaf, leaf_value in leaves:
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
        _json({"instance": instance, "key": key, "value": value, "settings": report})
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


@app.command()
def registry(estate_path: EstateOption = Path(DEFAULT_ESTATE), fmt: FormatOption = Format.table) -> None:
    """List contracts and versions, providers and the contract versions each supports, templates and instances."""
    providers = {name: sorted(adapter_registry.supported_contracts(name)) for name in adapter_registry.providers()}
    contracts = {
        tag: {"kind": model.kind, "version": model.version, "summary": (model.__doc__ or "").strip().splitlines()[0]}
        for tag, model in CONTRACTS.items()
    }
    root, _ = _guard(find_estate, estate_path)
    estate = _load(root, None)
    summary = _summary(estate)
    if fmt is Format.json:
        _json({"contracts": contracts, "providers": providers, **summary})
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


@app.command("new-platform")
def new_platform(
    name: Annotated[str, typer.Argument(help="Name of the new instance (its folder name).")],
    source: Annotated[str, typer.Option("--from", help="Instance to copy.", show_default=False)],
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
) -> None:
    """Copy an instance folder to a new instance, atomically, and keep it only if the result validates."""
    if not re.match(NAME_PATTERN, name):
        _usage(UsageError(f"instance name {name!r}: {NAME_RULE}"))
    root, _ = _guard(find_estate, estate_path)
    base = root / INSTANCES_DIR
    origin, target = base / source, base / name
    if not (origin / "platform.yaml").is_file():
        _usage(UsageError(f"no instance {source!r} to copy in {display(base)}"))
    if target.exists():
        _usage(UsageError(f"{display(target)} already exists; choose another name or remove it first"))
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
        _report_invalid(exc, Format.table)
        err.print(f"not created: the copy of {source!r} as {name!r} would not validate")
        raise typer.Exit(1) from None
    created = estate.platform(name)
    out.print(f"created {display(target)} from {source} ({created.spec.tier}, {len(created.spec.resources)} resources)")
    out.print(
        f"next: edit {display(target / 'environment.yaml')} and platform.yaml, "
        f"then run: mnops validate {display(target)}"
    )


@app.command()
def schema(
    estate_path: EstateOption = Path(DEFAULT_ESTATE),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the written schemas are out of date.")] = False,
) -> None:
    """Write JSON Schema for every contract and estate file kind into <estate>/schemas/."""
    if not estate_path.is_dir():
        _usage(UsageError(f"{display(estate_path)}: no such folder"))
    folder = estate_path / schemas.SCHEMA_DIR
    if check:
        old = schemas.stale(folder)
        for path in old:
            out.print(f"{display(path)}: out of date; run: mnops schema")
        raise typer.Exit(1 if old else 0)
    changed = schemas.write(folder)
    out.print(f"{len(schemas.render())} schemas in {display(folder)} ({len(changed)} written)")


# -- helpers ---------------------------------------------------------------------------------------------------------


def _guard(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except UsageError as exc:
        _usage(exc)


def _usage(exc: MnopsError) -> None:
    err.print(f"error: {exc}")
    raise typer.Exit(2)


def _load(root: Path, instances: list[str] | None) -> Estate:
    try:
        return load_estate(root, instances)
    except EstateInvalid as exc:
        _report_invalid(exc, Format.table)
        raise typer.Exit(1) from None
    except UsageError as exc:
        _usage(exc)
        raise  # unreachable: _usage exits


def _report_invalid(exc: EstateInvalid, fmt: Format) -> None:
    if fmt is Format.json:
        _json({"valid": False, "problems": [p.to_dict() for p in exc.problems]})
        return
    for problem in exc.problems:
        out.print(str(problem), markup=False)
    files = len({p.file for p in exc.problems})
    count = len(exc.problems)
    out.print(f"invalid: {count} problem{'s' if count != 1 else ''} in {files} file{'s' if files != 1 else ''}")


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


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


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


app.command()(enforce)

# Commands living in their own modules register themselves on `app` when imported.
from mnops_assets import cli_deploy, cli_maintain  # noqa: E402, F401
