"""The shipped example plugin, found through the real `mnops.policies` entry point, and its estimate."""

from __future__ import annotations

import datetime

import pytest

from mnops_assets.governance import evaluate, load_governed
from mnops_assets.governance import plugins as plugin_registry
from mnops_assets.governance.cost import CostCeiling, monthly_cost

TODAY = datetime.date(2026, 6, 1)


def cost_rule(params: str, scope: str = "tiers: [prod]") -> str:
    return f"""\
rules:
  - id: GL-COST-02
    description: Prod compute stays under budget.
    severity: error
    scope: {{{scope}}}
    kind: plugin
    params: {{plugin: monthly-cost, {params}}}
"""


def test_plugin_is_discovered_through_its_entry_point() -> None:
    entry = plugin_registry.available()["monthly-cost"]
    assert entry.value == "mnops_assets.governance.cost:monthly_cost"
    assert plugin_registry.load("monthly-cost") is monthly_cost
    assert plugin_registry.params_model(monthly_cost) is CostCeiling


def test_estimate_prices_local_as_aws_fargate(estate) -> None:
    # api: 2 replicas of 0.25 vCPU and 512 MiB: 2 * 730 h * (0.25 * 0.04048 + 0.5 * 0.004445) = 18.02 USD.
    estate.policies(cost_rule("max_monthly_usd: 18"))
    [finding] = estate.judge().findings
    assert finding.message.startswith("estimated compute cost $18.02/month is above the ceiling of $18.00")
    assert "priced as aws" in finding.message
    estate.policies(cost_rule("max_monthly_usd: 18.05"))
    assert estate.judge().findings == ()


def test_rule_prices_override_list_prices(estate) -> None:
    estate.policies(cost_rule("max_monthly_usd: 1, prices: {aws: {vcpu_hour: 0, gib_hour: 0}}"))
    assert estate.judge().findings == ()
    estate.policies(cost_rule("max_monthly_usd: 1, local_priced_as: null"))
    assert estate.judge().findings == ()
    estate.policies(cost_rule("max_monthly_usd: 1, local_priced_as: onprem"))
    [finding] = estate.judge().findings
    assert (finding.field, finding.message) == (
        "provider",
        "no price known for provider 'onprem'; give one in the rule's params.prices",
    )


@pytest.mark.parametrize(("cpu", "replicas", "over"), [(0.25, 2, False), (4.0, 10, True)])
def test_largest_service_carries_the_finding(estate, cpu: float, replicas: int, over: bool) -> None:
    estate.policies(cost_rule("max_monthly_usd: 500"))
    estate.append(
        "platform-cloud/prod/platform.yaml", f"resources:\n  api:\n    cpu: {cpu}\n    replicas: {replicas}\n"
    )
    loaded, policies = load_governed(estate.root)
    findings = evaluate(loaded.platforms, policies, (), TODAY).findings
    assert bool(findings) is over
    if over:
        assert findings[0].target == "prod/api"
        assert findings[0].location.line == estate.line_of("platform-cloud/prod/platform.yaml", f"replicas: {replicas}")
        assert "largest: api, 10 x (4 vCPU, 512 MiB)" in findings[0].message
