"""The registry of rule kinds: one module per kind beside this file, holding its params model and its check.

`KINDS` names each kind's module, imported only when a rule of that kind is loaded (or the schema is written). Its
order is the order editors and the policies.yaml schema list the kinds in. Adding a kind: a module defining `KIND`
(a `RuleKind`) and one line here.
"""

from __future__ import annotations

import importlib

from pydantic import BaseModel

from mnops_assets.governance.kinds.base import Check, RuleKind, Violation

KINDS: dict[str, str] = {
    "name_pattern": "mnops_assets.governance.kinds.name_pattern",
    "required_tags": "mnops_assets.governance.kinds.required_tags",
    "allowed_values": "mnops_assets.governance.kinds.allowed_values",
    "numeric_bounds": "mnops_assets.governance.kinds.numeric_bounds",
    "required_value": "mnops_assets.governance.kinds.required_value",
    "forbidden_combination": "mnops_assets.governance.kinds.forbidden_combination",
    "secret_hygiene": "mnops_assets.governance.kinds.secret_hygiene",
    "loopback_bind": "mnops_assets.governance.kinds.loopback_bind",
    "plugin": "mnops_assets.governance.kinds.plugin",
}
PLUGIN = "plugin"
"""The kind whose rules name a callable of the `mnops.policies` entry-point group instead of a check of their own."""


def names() -> list[str]:
    """Every registered kind, in registry order."""
    return list(KINDS)


def kind(name: str) -> RuleKind:
    """The kind registered as `name`; KeyError if none is, TypeError if its module defines no `KIND`."""
    module = importlib.import_module(KINDS[name])
    found = getattr(module, "KIND", None)
    if not isinstance(found, RuleKind):
        raise TypeError(f"rule kind {name!r}: module {module.__name__} defines no KIND = RuleKind(...)")
    return found


def params_models() -> dict[str, type[BaseModel]]:
    """Each kind's params model, in registry order: what the policies.yaml schema offers editors."""
    return {name: kind(name).params for name in KINDS}


__all__ = ["KINDS", "PLUGIN", "Check", "RuleKind", "Violation", "kind", "names", "params_models"]
