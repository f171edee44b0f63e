"""Bad policies.yaml and waivers.yaml: every problem reported at once, as file:line:col: field: message, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mnops_assets.errors import EstateInvalid
from mnops_assets.governance import load_governed

MNOPS = Path(sys.executable).parent / "mnops"

BAD_POLICIES = """\
rules:
  - id: GL-A-01
    description: Unknown kind.
    severity: error
    kind: magic
  - id: gl-lower
    description: Bad id, bad severity.
    severity: fatal
    kind: required_tags
    params: {tags: [owner]}
  - id: GL-A-02
    description: Typo in params.
    severity: warn
    kind: numeric_bounds
    params: {field: retention_days, mn: 3}
  - id: GL-A-03
    description: Field names nothing.
    severity: warn
    scope: {contracts: [logging], providers: [awz]}
    kind: numeric_bounds
    params: {field: retention_dayz, min: 3}
  - id: GL-A-03
    description: Duplicate id, bad regex.
    severity: warn
    kind: name_pattern
    params: {pattern: "([a-z"}
  - id: GL-CONTRACT-SUPPORT
    description: Reserved id.
    severity: warn
    scope: {contracts: [blob]}
    kind: required_value
    params: {field: protect, value: true}
  - id: GL-A-04
    description: Unknown plugin.
    severity: warn
    kind: plugin
    params: {plugin: nope}
  - id: GL-A-05
    description: Plugin params wrong.
    severity: warn
    kind: plugin
    params: {plugin: monthly-cost, max_monthly_usd: -5, colour: red}
  - id: GL-A-06
    description: Wildcard in a combination.
    severity: warn
    kind: forbidden_combination
    params: {when: {resources.*.public: true}}
  - id: GL-A-07
    description: Secret hygiene on storage.
    severity: warn
    scope: {contracts: [storage]}
    kind: secret_hygiene
    params: {}
  - id: GL-A-08
    description: Platform field that does not exist.
    severity: warn
    kind: allowed_values
    params: {field: regoin, values: [local], by_provider: {lokal: [local]}}
"""

BAD_WAIVERS = """\
waivers:
  - rule: GL-A-99
    target: prod
    owner: team-x
    reason: Unknown rule here.
    expires: 2027-01-01
  - rule: GL-A-02
    target: prodd/assets
    owner: team-x
    reason: Unknown instance here.
    expires: 2027-01-01
  - rule: GL-A-02
    target: prod/nothing
    owner: team-x
    reason: Unknown resource here.
    expires: 2027-01-01
  - rule: GL-CONTRACT-SUPPORT
    target: prod
    owner: team-x
    reason: Cannot waive the engine's own rules.
    expires: 2027-01-01
  - rule: GL-A-02
    target: prod
    owner: Team X
    reason: short
    expires: "next year"
  - rule: GL-A-01
    target: prod
    owner: team-x
    reason: First of two alike.
    expires: 2027-01-01
  - rule: GL-A-01
    target: prod
    owner: team-x
    reason: Second of two alike.
    expires: 2027-01-01
  - rule: GL-A-01
    target: "*"
    owner: team-x
    reason: Globs are not targets.
    expires: 2027-01-01
"""

EXPECTED_POLICIES = [
    (
        "5:11: rules[0].kind: input should be 'name_pattern', 'required_tags', 'allowed_values', 'numeric_bounds', "
        "'required_value', 'forbidden_combination', 'secret_hygiene', 'loopback_bind' or 'plugin'"
    ),
    "6:9: rules[1].id: must look like GL-<AREA>-<NN>: 'GL-' then capitals, digits and inner hyphens",
    "8:15: rules[1].severity: input should be 'error', 'warn' or 'info'",
    "15:37: rules[2].params.mn: unknown field; did you mean 'min'?",
    "19:47: rules[3].scope.providers[0]: unknown provider 'awz' (known: aws, azure, gcp, local, onprem)",
    "22:9: rules[4].id: duplicate rule id (first on line 16)",
    "26:23: rules[4].params.pattern: not a regular expression: unterminated character set at position 1",
    "27:9: rules[5].id: GL-CONTRACT-SUPPORT is the engine's own rule; choose another id",
    (
        "30:25: rules[5].scope.contracts[0]: unknown contract 'blob' "
        "(known: compute, database, logging, queue, secrets, storage, "
        "storage/v1, queue/v1, secrets/v1, logging/v1, compute/v1, database/v1)"
    ),
    "37:22: rules[6].params.plugin: no policy plugin 'nope' is installed (installed: monthly-cost)",
    "42:53: rules[7].params.max_monthly_usd: input should be greater than 0",
    "42:57: rules[7].params.colour: unknown field; known: hours_per_month, local_priced_as, max_monthly_usd, prices",
    (
        "47:21: rules[8].params.when.resources.*.public: "
        "no wildcards here: scope the rule to contracts to judge each resource"
    ),
    "51:24: rules[9].scope.contracts: secret_hygiene judges secrets only",
    "53:13: rules[9].params: give max_rotation_days, forbidden_sources or min_length",
    "58:21: rules[10].params.field: no field 'regoin' in the platform spec; did you mean 'region'?",
    "58:60: rules[10].params.by_provider.lokal: unknown provider 'lokal' (known: aws, azure, gcp, local, onprem)",
]

EXPECTED_WAIVERS = [
    "2:11: waivers[0].rule: unknown rule 'GL-A-99': no such id in governance/policies.yaml; did you mean 'GL-A-08'?",
    "8:13: waivers[1].target: unknown instance 'prodd': no folder platform-cloud/prodd; did you mean 'prod'?",
    "13:13: waivers[2].target: instance 'prod' has no resource 'nothing'",
    "17:11: waivers[3].rule: GL-CONTRACT-SUPPORT is the engine's own rule and cannot be waived",
    "24:12: waivers[4].owner: must be a team name in lower case (team-payments), optionally with @domain",
    "25:13: waivers[4].reason: string should have at least 10 characters",
    "26:14: waivers[4].expires: input should be a valid date",
    "32:5: waivers[6]: duplicate waiver of GL-A-01 for prod (first on line 27)",
    "38:13: waivers[7].target: must be 'instance' or 'instance/resource', by name (no globs)",
]


def problems_of(root: Path) -> list[str]:
    with pytest.raises(EstateInvalid) as caught:
        load_governed(root)
    return [str(p) for p in caught.value.problems]


def test_bad_policies_report_every_problem_at_its_line(estate) -> None:
    estate.policies(BAD_POLICIES)
    shown = estate.shown("governance/policies.yaml")
    assert problems_of(estate.root) == [f"{shown}:{e}" for e in EXPECTED_POLICIES]


def test_bad_waivers_report_every_problem_at_its_line(estate) -> None:
    estate.policies(BAD_POLICIES)
    estate.waivers(BAD_WAIVERS)
    shown = estate.shown("governance/waivers.yaml")
    found = [p for p in problems_of(estate.root) if "waivers.yaml" in p]
    assert found == [f"{shown}:{e}" for e in EXPECTED_WAIVERS]


def test_waiver_without_policies_file_names_unknown_rule(estate) -> None:
    estate.waivers(BAD_WAIVERS.split("  - rule: GL-A-02")[0])
    [problem] = problems_of(estate.root)
    assert problem.endswith("waivers[0].rule: unknown rule 'GL-A-99': no such id in governance/policies.yaml")


def test_unreadable_policies_file_is_one_problem_and_waivers_are_not_judged_by_it(estate) -> None:
    estate.policies("rules:\n  - id: GL-A-01\n\tdescription: tab\n")
    estate.waivers(BAD_WAIVERS.split("  - rule: GL-A-02")[0])
    [problem] = problems_of(estate.root)
    assert (
        problem == f"{estate.shown('governance/policies.yaml')}:3:1: yaml: tab in indentation; YAML indents with spaces"
    )


def test_governance_problems_come_with_the_estate_problems(estate) -> None:
    estate.policies("rules: {}\n")
    estate.append("platform-cloud/dev/platform.yaml", "resources:\n  api:\n    replicas: -1\n")
    problems = problems_of(estate.root)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "rules: must be a list",
        "resources.api.replicas: input should be greater than or equal to 0",
    ]


def test_validate_checks_the_governance_files(estate) -> None:
    estate.policies(BAD_POLICIES)
    result = subprocess.run([MNOPS, "validate", str(estate.root)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert f"{estate.shown('governance/policies.yaml')}:15:37: rules[2].params.mn: unknown field" in result.stdout
    assert result.stdout.strip().endswith(f"invalid: {len(EXPECTED_POLICIES)} problems in 1 file")


def test_enforce_on_bad_policies_exits_1_naming_file_and_line(estate) -> None:
    estate.policies(BAD_POLICIES)
    result = subprocess.run([MNOPS, "enforce", str(estate.root)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert f"{estate.shown('governance/policies.yaml')}:8:15: rules[1].severity:" in result.stdout
