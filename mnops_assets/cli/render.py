"""Plans and drift for people: one line per step, one line per changed field (a changed mapping key by key), each
with the file:line of the YAML that set it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mnops_assets.cli.common import out
from mnops_assets.estate import ResolvedPlatform

if TYPE_CHECKING:
    from mnops_assets.engine.plan import Plan

SECRET_FIELDS = {"value_hmac"}
ABSENT = object()
"""A key one side of a changed mapping does not hold."""


@dataclass(frozen=True)
class Line:
    """One changed field (or mapping key) as shown: `env.LOG_LEVEL: "info" -> "debug"   file:line`."""

    field: str
    before: Any
    after: Any
    where: str


def plan_dict(result: Plan | dict[str, Any]) -> dict[str, Any]:
    """A plan's JSON form; a deploy run through Dagster records only that."""
    # Duck-typed: importing the planner here would load the engine and its database driver for every command.
    return result if isinstance(result, dict) else result.to_dict()


def config_only(plan: dict[str, Any]) -> bool:
    """No resource step, yet the config changed (a hook, say): a deploy would still record a new version."""
    return not plan["steps"] and bool(plan.get("config_changed"))


def print_plan(result: Plan | dict[str, Any], platform: ResolvedPlatform) -> None:
    """A plan with each change's file:line."""
    plan = plan_dict(result)
    counts = plan["counts"]
    if config_only(plan):
        out.print(
            f"{platform.name}: no resource changes; the config changed (hooks, or settings no resource holds): "
            f"a deploy records a new version (config {plan['config_hash'][:12]})"
        )
        return
    if not plan["changed"]:
        out.print(f"{platform.name}: no changes ({len(plan['unchanged'])} resources up to date)")
        return
    from mnops_assets.engine.plan import Action

    summary = ", ".join(f"{counts[a.value]} to {a.value}" for a in Action)
    out.print(f"{platform.name}: {summary} (config {plan['config_hash'][:12]})")
    print_steps(plan["steps"], platform)


def print_steps(steps: list[dict[str, Any]], platform: ResolvedPlatform) -> None:
    from mnops_assets.engine.plan import SYMBOLS, Action

    for step in steps:
        symbol = SYMBOLS[Action(step["action"])]
        out.print(f"  {symbol} {step['resource']} ({step['contract']}): {step['reason']}", markup=False)
        for line in change_lines(step, platform):
            shown = f"      {line.field}: {_show(line.field, line.before)} -> {_show(line.field, line.after)}"
            out.print(shown + line.where, markup=False)


def change_lines(step: dict[str, Any], platform: ResolvedPlatform) -> list[Line]:
    """Each change of a step; a change of a mapping (a compute's `env`) as its added, removed and changed keys."""
    lines: list[Line] = []
    for change in step["changes"]:
        field, cause = change["field"], change["cause"]
        for path, before, after in _leaf_changes((field,), change["before"], change["after"]):
            lines.append(Line(".".join(path), before, after, _where(platform, step["resource"], path, cause)))
    return lines


def _leaf_changes(path: tuple[str, ...], before: Any, after: Any) -> list[tuple[tuple[str, ...], Any, Any]]:
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in [*before, *(k for k in after if k not in before)]:
            old, new = before.get(key, ABSENT), after.get(key, ABSENT)
            if old != new:
                found += _leaf_changes((*path, str(key)), old, new)
        return found
    return [(path, None if before is ABSENT else before, None if after is ABSENT else after)]


def _show(field: str, value: Any) -> str:
    if value is None:
        return "(none)"
    if field in SECRET_FIELDS:
        # A keyed hash of the value, never the value: enough to see that it changed.
        return f"hmac:{str(value).rsplit(':', 1)[-1][:12]}"
    return json.dumps(value)


def _where(platform: ResolvedPlatform, resource: str, field: tuple[str, ...], cause: str) -> str:
    if cause != "config":
        return "   (changed outside mnops)"
    head = field[0]
    key = head[5:] if head.startswith("tags.") else field[1] if head == "tags" and len(field) > 1 else None
    if key is not None:
        # Tag keys may hold dots (`app.kubernetes.io/name`): the engine names a tag change `tags.<key>`, whole.
        path: tuple[str, ...] = ("resources", resource, "tags", key)
        if path not in platform.provenance:
            path = ("tags", key)
    else:
        path = ("resources", resource, *field)
    # A key removed by a layer (set to null) was set at that layer's line: the provenance keeps it, marked removed.
    origin = platform.provenance.get(path) or platform.origin(path)
    return f"   {origin.file}:{origin.line}" if origin is not None else ""
