"""The engine: scope matching, contract support, waivers by instance, unused waivers, order, purity of inputs."""

from __future__ import annotations

import datetime
import sys
import types

import pytest

from adapters import registry
from mnops_assets.errors import EstateInvalid
from mnops_assets.governance import (
    CONTRACT_SUPPORT,
    PluginFailed,
    PolicySet,
    deploy_gate,
    evaluate,
    load_governed,
    policy_plugin,
)

TODAY = datetime.date(2026, 6, 1)

RETENTION = """\
rules:
  - id: GL-LOG-01
    description: Logs are kept at least 90 days.
    severity: error
    scope: {{{scope}}}
    kind: numeric_bounds
    params: {{field: retention_days, min: 90}}
"""


def targets(report, rule: str) -> list[str]:
    return [f.target for f in report.findings if f.rule == rule]


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("contracts: [logging]", ["dev/app-logs", "prod/app-logs"]),
        ("contracts: [logging/v1], tiers: [prod]", ["prod/app-logs"]),
        ("contracts: [logging], providers: [aws]", []),
        ("contracts: [logging], providers: [local], instances: ['pro*']", ["prod/app-logs"]),
        ("contracts: [logging], instances: [customer-*]", []),
        ("contracts: [logging], tiers: [staging]", []),
    ],
)
def test_scope_selects_instances_and_resources(estate, scope: str, expected: list[str]) -> None:
    estate.policies(RETENTION.format(scope=scope))
    assert targets(estate.judge(), "GL-LOG-01") == expected


def test_platform_level_wildcard_field_names_each_resource(estate) -> None:
    estate.policies(
        """\
        rules:
          - id: GL-CONTRACT-01
            description: Certified contract versions only.
            severity: warn
            kind: allowed_values
            params: {field: resources.*.contract, values: [storage/v1, queue/v1]}
        """
    )
    report = estate.judge()
    assert sorted(targets(report, "GL-CONTRACT-01")) == sorted(
        f"{i}/{r}" for i in ("dev", "prod") for r in ("api", "api-key", "app-logs")
    )
    assert report.passed  # warnings do not block


def test_unsupported_contract_version_is_an_error_at_the_contract_line(estate, monkeypatch) -> None:
    # A provider whose adapter declares no logging contract: the loader refuses it already (`mnops validate`), at the
    # line that binds the resource to that contract, so no policy is judged over it.
    module = types.ModuleType("mnops_test_edge_provider")
    module.PROVIDER = "edge"
    module.SUPPORTED_CONTRACTS = frozenset({"storage/v1", "secrets/v1", "compute/v1"})
    monkeypatch.setitem(sys.modules, module.__name__, module)
    registry.register("edge", module.__name__)
    try:
        eco = (estate.root / "ecosystem.yaml").read_text()
        estate.write(
            "ecosystem.yaml",
            eco.replace("default_region: local\n", "default_region: local\n  edge:\n    default_region: edge-1\n"),
        )
        estate.append("platform-cloud/prod/environment.yaml", "provider: edge\n")
        with pytest.raises(EstateInvalid) as refused:
            estate.judge()
    finally:
        registry.unregister("edge")
    [problem] = [p for p in refused.value.problems if "does not support" in p.message]
    assert problem.field == "resources.app-logs.contract"
    assert "provider 'edge' does not support logging/v1" in problem.message
    assert problem.file == estate.shown("platform-templates/service.yaml")
    assert problem.line == estate.line_of("platform-templates/service.yaml", "contract: logging/v1")


def test_contract_support_comes_from_the_adapter_registry(estate) -> None:
    estate_, policies = load_governed(estate.root)
    report = evaluate(estate_.platforms, policies, (), TODAY, supported=lambda provider: frozenset({"storage/v1"}))
    assert sorted(targets(report, CONTRACT_SUPPORT)) == sorted(
        f"{i}/{r}" for i in ("dev", "prod") for r in ("api", "api-key", "app-logs")
    )
    assert evaluate(estate_.platforms, policies, (), TODAY).findings == ()


def test_waiver_of_an_instance_waives_every_resource_there(estate) -> None:
    estate.policies(RETENTION.format(scope="contracts: [logging, storage]"))
    estate.waivers(
        """\
        waivers:
          - rule: GL-LOG-01
            target: dev
            owner: team-web
            reason: Dev logs are disposable.
            expires: 2026-12-31
        """
    )
    report = estate.judge()
    [dev] = [f for f in report.findings if f.instance == "dev"]
    [prod] = [f for f in report.findings if f.instance == "prod"]
    assert dev.waived_by is not None and prod.waived_by is None


def test_waiver_that_waives_nothing_is_a_note(estate) -> None:
    estate.policies(RETENTION.format(scope="contracts: [logging], tiers: [prod]"))
    estate.append("platform-cloud/prod/platform.yaml", "resources:\n  app-logs:\n    retention_days: 90\n")
    estate.waivers(
        """\
        waivers:
          - rule: GL-LOG-01
            target: prod/app-logs
            owner: team-web
            reason: Until the log archive exists.
            expires: 2026-12-31
        """
    )
    report = estate.judge()
    [unused] = report.findings
    assert (unused.rule, unused.severity, unused.target) == ("GL-WAIVER-UNUSED", "info", "prod/app-logs")
    assert unused.location.line == estate.line_of("governance/waivers.yaml", "rule: GL-LOG-01")
    assert report.passed


def test_findings_come_in_the_same_order_whatever_the_input_order(estate) -> None:
    estate.policies(RETENTION.format(scope="contracts: [logging]"))
    loaded, policies = load_governed(estate.root)
    forward = evaluate(list(loaded.platforms.values()), policies, (), TODAY)
    backward = evaluate(
        list(reversed(loaded.platforms.values())), PolicySet(tuple(reversed(policies.rules))), (), TODAY
    )
    assert forward.findings == backward.findings
    assert forward.cases == backward.cases
    assert [f.instance for f in forward.findings] == ["dev", "prod"]


def test_waivers_without_a_date_are_refused(estate) -> None:
    estate.policies(RETENTION.format(scope="contracts: [logging]"))
    estate.waivers(
        "waivers:\n  - {rule: GL-LOG-01, target: dev, owner: team-web, reason: Until later., expires: 2027-01-01}\n"
    )
    loaded, policies = load_governed(estate.root)
    with pytest.raises(Exception, match="today"):
        evaluate(loaded.platforms, policies)


def test_failing_plugin_is_an_error_naming_rule_and_instance(estate) -> None:
    @policy_plugin()
    def broken(platform, params):
        raise ZeroDivisionError("bug in the plugin")

    estate.policies(
        """\
        rules:
          - id: GL-X-01
            description: A plugin with a bug.
            severity: warn
            kind: plugin
            params: {plugin: broken}
        """
    )
    loaded, policies = load_governed(estate.root, plugins={"broken": broken})
    with pytest.raises(PluginFailed, match="GL-X-01.*'broken'.*'dev'") as caught:
        evaluate(loaded.platforms, policies, (), TODAY)
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_plugin_without_params_model_gets_its_params_as_a_dict(estate) -> None:
    seen = []

    def replicas_even(platform, params):
        seen.append(params)
        for name, resource in platform.spec.resources.items():
            if getattr(resource, "replicas", 0) % params["divisor"]:
                yield ("resources", name, "replicas"), "replicas must be even"

    estate.policies(
        """\
        rules:
          - id: GL-X-02
            description: Replicas come in pairs.
            severity: error
            scope: {tiers: [prod]}
            kind: plugin
            params: {plugin: pairs, divisor: 2}
        """
    )
    estate.append("platform-cloud/prod/platform.yaml", "resources:\n  api:\n    replicas: 3\n")
    loaded, policies = load_governed(estate.root, plugins={"pairs": replicas_even})
    report = evaluate(loaded.platforms, policies, (), TODAY)
    [finding] = report.findings
    assert seen == [{"divisor": 2}]
    assert (finding.target, finding.field) == ("prod/api", "resources.api.replicas")
    assert finding.location.line == estate.line_of("platform-cloud/prod/platform.yaml", "replicas: 3")


def test_deploy_gate_refuses_a_platform_with_an_unwaived_error(estate) -> None:
    estate.policies(RETENTION.format(scope="contracts: [logging], tiers: [prod]"))
    loaded, policies = load_governed(estate.root)
    gate = deploy_gate(loaded.platforms, policies, TODAY)
    assert gate(loaded.platforms["dev"].spec) == []
    [line] = gate(loaded.platforms["prod"].spec)
    shown = estate.shown("platform-templates/service.yaml")
    row = estate.line_of("platform-templates/service.yaml", "retention_days: 30")
    assert (
        line == f"{shown}:{row}:21: error GL-LOG-01 prod/app-logs retention_days: retention_days is 30; must be >= 90"
    )
    # An earlier version's spec (a rollback) is judged by today's policies too, located at the instance's platform.yaml.
    older = loaded.platforms["prod"].spec.model_copy(update={"protect": True})
    [line] = gate(older)
    assert (
        line.startswith(f"{estate.shown('platform-cloud/prod/platform.yaml')}:") and "GL-LOG-01 prod/app-logs" in line
    )
    stranger = loaded.platforms["prod"].spec.model_copy(update={"name": "nowhere"})
    assert gate(stranger) == ["nowhere: not an instance of this estate; its policies cannot be judged"]


def test_estate_without_governance_files_is_judged_by_the_engines_own_rule_only(estate) -> None:
    report = estate.judge()
    assert report.rules == () and report.findings == () and report.passed
    assert {rule for rule, _, _ in report.cases} == {CONTRACT_SUPPORT}
    assert len(report.cases) == 8  # 4 resources in each of 2 instances
