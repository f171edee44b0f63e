"""Governance: the estate's policies and waivers, judged by a pure engine into findings with file and line.

`load_governed(root)` loads the estate with its governance files; `evaluate(platforms, policies, waivers, today)` is
the one entry point the CLI, the Dagster asset checks and the deploy step share. Nothing here imports dagster.
"""

from mnops_assets.governance.engine import (
    BUILTIN_RULES,
    CONTRACT_SUPPORT,
    WAIVER_EXPIRED,
    WAIVER_UNUSED,
    Finding,
    Location,
    PolicySet,
    Report,
    Rule,
    Waiver,
    deploy_gate,
    evaluate,
)
from mnops_assets.governance.loading import load_governed, read_policies
from mnops_assets.governance.plugins import PluginFailed, policy_plugin

__all__ = [
    "BUILTIN_RULES",
    "CONTRACT_SUPPORT",
    "WAIVER_EXPIRED",
    "WAIVER_UNUSED",
    "Finding",
    "Location",
    "PluginFailed",
    "PolicySet",
    "Report",
    "Rule",
    "Waiver",
    "deploy_gate",
    "evaluate",
    "load_governed",
    "policy_plugin",
    "read_policies",
]
