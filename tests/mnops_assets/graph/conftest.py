"""A small estate for the Dagster tests: no compute resource (no process to start), three drift policies, a policy
file with one rule an instance can be made to break."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ECOSYSTEM = """\
name: graph-estate
providers:
  local:
    default_region: local
defaults:
  provider: local
  owner: team-graph
  tags: {cost-center: cc-42}
"""
BASE = """\
description: A store, a queue, a secret and a log sink.
resources:
  assets: {contract: storage/v1, versioning: true}
  jobs: {contract: queue/v1, retention_seconds: 86400}
  api-key: {contract: secrets/v1, from: generate}
  app-logs:
    contract: logging/v1
    retention_days: 14
    depends_on: [assets, jobs]
"""
CHILD = "description: The base, as a service.\nextends: base\n"
POLICIES = """\
rules:
  - id: GL-LOG-01
    description: Logs are kept at least a week.
    severity: error
    scope: {contracts: [logging]}
    kind: numeric_bounds
    params: {field: retention_days, min: 7}
"""


def instance(policy: str, tier: str = "dev", auto_deploy: bool = False) -> str:
    return textwrap.dedent(f"""\
        template: service
        tier: {tier}
        auto_deploy: {str(auto_deploy).lower()}
        drift:
          policy: {policy}
        resources:
          jobs:
            retention_seconds: 3600
        """)


@pytest.fixture
def graph_estate(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "ecosystem"
    files = {
        "ecosystem.yaml": ECOSYSTEM,
        "platform-templates/base.yaml": BASE,
        "platform-templates/service.yaml": CHILD,
        "platform-cloud/fixer/platform.yaml": instance("remediate", auto_deploy=True),
        "platform-cloud/watcher/platform.yaml": instance("alert", tier="prod"),
        "platform-cloud/adopter/platform.yaml": instance("adopt"),
        "governance/policies.yaml": POLICIES,
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return root
