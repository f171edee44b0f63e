"""Governance benchmark: the shipped policy set judged over the generated estate, `evaluate` alone being timed.

The shipped `ecosystem/governance/policies.yaml` is copied into the generated estate unchanged; its waivers are not,
since they name the shipped instances.
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance import PolicySet, Report, evaluate, load_governed
from mnops_assets.governance.loading import GOVERNANCE_DIR, POLICIES_FILE

SHIPPED_POLICIES = Path(__file__).resolve().parents[1] / "ecosystem" / GOVERNANCE_DIR / POLICIES_FILE
TODAY = datetime.date(2026, 1, 1)


def install_policies(root: Path) -> tuple[dict[str, ResolvedPlatform], PolicySet]:
    """Copy the shipped policies into the estate at `root`; return its platforms and the loaded policy set."""
    (root / GOVERNANCE_DIR).mkdir(exist_ok=True)
    shutil.copyfile(SHIPPED_POLICIES, root / GOVERNANCE_DIR / POLICIES_FILE)
    estate, policies = load_governed(root)
    return estate.platforms, policies


def judge(platforms: dict[str, ResolvedPlatform], policies: PolicySet) -> Report:
    return evaluate(platforms, policies, (), TODAY)
