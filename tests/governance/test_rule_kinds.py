"""Every rule kind broken, waived, waived-but-expired, and out of scope, on the small estate of conftest.py.

Each case is one rule scoped to prod and a snippet appended to an instance's platform.yaml that breaks it; the base
estate passes every case's rule. The finding must name the rule, the target, the field and the snippet's line.
"""

from __future__ import annotations

import datetime
import textwrap
from dataclasses import dataclass

import pytest

TODAY = datetime.date(2026, 6, 1)


@dataclass(frozen=True)
class Case:
    kind: str
    rule: str
    """The rule's scope and params, as YAML lines under `- id: ...`."""
    snippet: str
    target: str
    field: str
    needle: str
    """Text on the snippet line the finding must point at."""
    message: str


CASES = [
    Case(
        "name_pattern",
        """\
        scope: {tiers: [prod], contracts: [secrets]}
        kind: name_pattern
        params: {pattern: -(key|password|token)$}
        """,
        """\
        resources:
          signing-secret:
            contract: secrets/v1
            from: generate
            rotation_days: 30
        """,
        "prod/signing-secret",
        "resources.signing-secret",
        "signing-secret:",
        "resource name 'signing-secret' does not match -(key|password|token)$",
    ),
    Case(
        "required_tags",
        """\
        scope: {tiers: [prod]}
        kind: required_tags
        params:
          tags: [cost-center, environment]
          patterns: {cost-center: '^cc-[0-9]{4}$'}
        """,
        """\
        tags:
          cost-center: marketing
        """,
        "prod",
        "tags.cost-center",
        "cost-center: marketing",
        "tag 'cost-center' is 'marketing'; must match ^cc-[0-9]{4}$",
    ),
    Case(
        "allowed_values",
        """\
        scope: {tiers: [prod]}
        kind: allowed_values
        params:
          field: region
          by_provider: {local: [local], aws: [eu-west-1]}
        """,
        """\
        region: moon-base-1
        """,
        "prod",
        "region",
        "region: moon-base-1",
        "region is 'moon-base-1'; allowed on provider local: 'local'",
    ),
    Case(
        "numeric_bounds",
        """\
        scope: {tiers: [prod], contracts: [logging]}
        kind: numeric_bounds
        params: {field: retention_days, min: 30, max: 400}
        """,
        """\
        resources:
          app-logs:
            retention_days: 7
        """,
        "prod/app-logs",
        "resources.app-logs.retention_days",
        "retention_days: 7",
        "retention_days is 7; must be between 30 and 400",
    ),
    Case(
        "required_value",
        """\
        scope: {tiers: [prod], contracts: [storage]}
        kind: required_value
        params: {field: versioning, value: true}
        """,
        """\
        resources:
          assets:
            versioning: false
        """,
        "prod/assets",
        "resources.assets.versioning",
        "versioning: false",
        "versioning is false; must be true",
    ),
    Case(
        "forbidden_combination",
        """\
        scope: {tiers: [prod], contracts: [storage]}
        kind: forbidden_combination
        params:
          when: {public: true, encrypted: false}
        """,
        """\
        resources:
          assets:
            public: true
            encrypted: false
        """,
        "prod/assets",
        "resources.assets.public",
        "public: true",
        "forbidden combination: public = true and encrypted = false",
    ),
    Case(
        "secret_hygiene",
        """\
        scope: {tiers: [prod]}
        kind: secret_hygiene
        params: {forbidden_sources: [file], max_rotation_days: 90}
        """,
        """\
        resources:
          api-key:
            from: file:keys/hunter2
        """,
        "prod/api-key",
        "resources.api-key.from",
        "from: file:",
        "reads its value from a 'file:' reference, which is not allowed here",
    ),
    Case(
        "loopback_bind",
        """\
        scope: {tiers: [prod], providers: [local], contracts: [compute]}
        kind: loopback_bind
        params: {env: [HOST]}
        """,
        """\
        resources:
          api:
            command: [python, -m, http.server, "{port}"]
        """,
        "prod/api",
        "resources.api.command",
        "command:",
        "command gives no address to listen on (--bind 127.0.0.1 or HOST=127.0.0.1 in env)",
    ),
    Case(
        "plugin",
        """\
        scope: {tiers: [prod]}
        kind: plugin
        params: {plugin: monthly-cost, max_monthly_usd: 100}
        """,
        """\
        resources:
          api:
            replicas: 20
            cpu: 2.0
        """,
        "prod/api",
        "resources.api.replicas",
        "replicas: 20",
        "estimated compute cost",
    ),
]
IDS = [case.kind for case in CASES]


def policies(case: Case) -> str:
    body = "\n".join("    " + line for line in textwrap.dedent(case.rule).splitlines())
    return f"rules:\n  - id: GL-TEST-01\n    description: The rule under test.\n    severity: error\n{body}\n"


def waiver(case: Case, expires: str) -> str:
    return f"""\
waivers:
  - rule: GL-TEST-01
    target: {case.target}
    owner: team-test
    reason: Accepted while the test says so.
    expires: {expires}
"""


def rule_findings(report, rule: str = "GL-TEST-01") -> list:
    return [f for f in report.findings if f.rule == rule]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_base_estate_passes_every_rule_kind(estate, case: Case) -> None:
    estate.policies(policies(case))
    report = estate.judge()
    assert rule_findings(report) == []
    assert report.passed


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_broken_rule_kind_is_an_error_at_the_offending_line(estate, case: Case) -> None:
    estate.policies(policies(case))
    estate.append("platform-cloud/prod/platform.yaml", case.snippet)
    report = estate.judge()
    [finding] = rule_findings(report)
    assert (finding.target, finding.field, finding.severity) == (case.target, case.field, "error")
    assert case.message in finding.message
    assert finding.location.file == estate.shown("platform-cloud/prod/platform.yaml")
    assert finding.location.line == estate.line_of("platform-cloud/prod/platform.yaml", case.needle)
    assert finding.waived_by is None
    assert not report.passed
    assert "hunter2" not in finding.message and "/run/keys" not in finding.message


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_waived_rule_kind_passes_and_names_its_waiver(estate, case: Case) -> None:
    estate.policies(policies(case))
    estate.append("platform-cloud/prod/platform.yaml", case.snippet)
    estate.waivers(waiver(case, "2026-12-31"))
    report = estate.judge()
    [finding] = rule_findings(report)
    assert finding.waived_by is not None
    assert (finding.waived_by.owner, finding.waived_by.target) == ("team-test", case.target)
    assert report.passed
    assert report.counts()["waived"] == 1


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_expired_waiver_stops_waiving_and_is_reported(estate, case: Case) -> None:
    estate.policies(policies(case))
    estate.append("platform-cloud/prod/platform.yaml", case.snippet)
    estate.waivers(waiver(case, "2026-05-31"))
    report = estate.judge(today=TODAY)
    [finding] = rule_findings(report)
    assert finding.waived_by is None
    assert not report.passed
    [expired] = rule_findings(report, "GL-WAIVER-EXPIRED")
    assert expired.severity == "warn"
    assert expired.target == case.target
    assert expired.location.file == estate.shown("governance/waivers.yaml")
    assert expired.location.line == estate.line_of("governance/waivers.yaml", "expires:")
    assert "expired on 2026-05-31" in expired.message


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_waiver_holds_through_its_expiry_day(estate, case: Case) -> None:
    estate.policies(policies(case))
    estate.append("platform-cloud/prod/platform.yaml", case.snippet)
    estate.waivers(waiver(case, "2026-06-01"))
    assert estate.judge(today=TODAY).passed
    assert not estate.judge(today=TODAY + datetime.timedelta(days=1)).passed


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rule_kind_out_of_scope_finds_nothing(estate, case: Case) -> None:
    estate.policies(policies(case))
    estate.append("platform-cloud/dev/platform.yaml", case.snippet)  # the same breakage, in a dev instance
    report = estate.judge()
    assert rule_findings(report) == []
    assert not [c for c in report.cases if c[0] == "GL-TEST-01" and c[1] == "dev"]
    assert [c for c in report.cases if c[0] == "GL-TEST-01" and c[1] == "prod"]
    assert report.passed
