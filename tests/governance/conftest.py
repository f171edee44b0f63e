"""A small estate written per test (a dev and a prod instance of one template), and helpers to judge it."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import pytest

from mnops_assets.governance import Report, evaluate, load_governed

TODAY = datetime.date(2026, 6, 1)

ECOSYSTEM = """\
name: gov-test
providers:
  local:
    default_region: local
defaults:
  provider: local
  owner: platform-team
  tags:
    cost-center: cc-1000
"""

TEMPLATE = """\
description: A web service.
resources:
  assets:
    contract: storage/v1
    versioning: true
  app-logs:
    contract: logging/v1
    retention_days: 30
  api-key:
    contract: secrets/v1
    from: generate
    rotation_days: 30
  api:
    contract: compute/v1
    command: [python, -m, http.server, "{port}", --bind, 127.0.0.1]
    replicas: 2
    env:
      API_KEY: secret:api-key
"""


def environment(tier: str) -> str:
    return f"tier: {tier}\ntags:\n  environment: {tier}\n"


class Estate:
    """A throw-away estate under tmp_path: write files into it, then judge it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.write("ecosystem.yaml", ECOSYSTEM)
        self.write("platform-templates/service.yaml", TEMPLATE)
        for tier in ("dev", "prod"):
            self.write(f"platform-cloud/{tier}/environment.yaml", environment(tier))
            self.write(f"platform-cloud/{tier}/platform.yaml", "template: service\n")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def append(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.write_text(path.read_text(encoding="utf-8") + textwrap.dedent(text), encoding="utf-8")

    def policies(self, text: str) -> None:
        self.write("governance/policies.yaml", text)

    def waivers(self, text: str) -> None:
        self.write("governance/waivers.yaml", text)

    def judge(self, today: datetime.date = TODAY) -> Report:
        estate, policies = load_governed(self.root)
        return evaluate(estate.platforms, policies, policies.waivers, today)

    def line_of(self, relative: str, needle: str) -> int:
        """1-based number of the only line of the file holding `needle`."""
        lines = (self.root / relative).read_text(encoding="utf-8").splitlines()
        found = [number for number, line in enumerate(lines, start=1) if needle in line]
        assert len(found) == 1, f"{needle!r} is on lines {found} of {relative}"
        return found[0]

    def shown(self, relative: str) -> str:
        """How findings name a file of this estate (relative to the working directory, as displayed)."""
        from mnops_assets.estate import display

        return display(self.root / relative)


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    return Estate(tmp_path / "estate")
