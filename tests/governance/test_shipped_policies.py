"""The shipped policy set: realistic in size and coverage, passed by the shipped estate, described by its schema."""

from __future__ import annotations

import ast
import datetime
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mnops_assets.errors import EstateInvalid
from mnops_assets.governance import evaluate, load_governed
from mnops_assets.governance.kinds import KINDS
from mnops_assets.schema import render

REPO = Path(__file__).resolve().parents[2]
ECOSYSTEM = REPO / "ecosystem"
TODAY = datetime.date(2026, 12, 1)


def test_shipped_estate_passes_the_shipped_policies() -> None:
    estate, policies = load_governed(ECOSYSTEM)
    report = evaluate(estate.platforms, policies, policies.waivers, TODAY)
    assert report.passed
    assert [f for f in report.findings if f.waived_by is None] == []
    assert sorted(f.target for f in report.findings) == [
        "analytics-prod/pipeline",
        "search-prod/app-logs",
        "search-prod/index",
    ]


def test_shipped_policy_set_is_realistic() -> None:
    _, policies = load_governed(ECOSYSTEM)
    assert 20 <= len(policies.rules) <= 40
    assert {r.kind for r in policies.rules} == set(KINDS)  # every kind, the plugin one included
    assert {r.severity for r in policies.rules} == {"error", "warn"}
    assert all(r.id.startswith("GL-") for r in policies.rules)


def test_every_shipped_waiver_is_owned_explained_and_dated() -> None:
    _, policies = load_governed(ECOSYSTEM)
    assert len(policies.waivers) == 3
    for waiver in policies.waivers:
        assert waiver.owner.startswith("team-")
        assert len(waiver.reason) > 60
        assert waiver.expires - TODAY < datetime.timedelta(days=366)


def test_shipped_schemas_describe_the_shipped_files() -> None:
    # That they are current, and that every shipped file names its schema, tests/mnops_assets/test_schema.py checks.
    folder = ECOSYSTEM / "governance"
    schemas = {name: json.loads(render()[f"{name}.schema.json"]) for name in ("policies", "waivers")}
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        document = yaml.safe_load((folder / f"{name}.yaml").read_text())
        jsonschema.Draft202012Validator(schema).validate(document)
    policies = yaml.safe_load((folder / "policies.yaml").read_text())
    policies["rules"][0]["params"]["colour"] = "red"
    assert not jsonschema.Draft202012Validator(schemas["policies"]).is_valid(policies)
    policies["rules"][0]["params"].pop("colour")
    policies["rules"][0]["kind"] = "required_value"  # name_pattern's params are not required_value's
    assert not jsonschema.Draft202012Validator(schemas["policies"]).is_valid(policies)


def test_waiver_dates_may_be_quoted_or_not(estate) -> None:
    estate.policies(
        "rules:\n  - {id: GL-A-01, description: x, severity: warn, kind: required_tags, params: {tags: [team]}}\n"
    )
    waiver = "  - {{rule: GL-A-01, target: dev, owner: team-x, reason: Until later on., expires: {0}}}\n"
    estate.waivers("waivers:\n" + waiver.format("2027-01-31") + waiver.format('"2027-01-31"').replace("dev", "prod"))
    _, policies = load_governed(estate.root)
    assert [w.expires for w in policies.waivers] == [datetime.date(2027, 1, 31)] * 2
    estate.waivers("waivers:\n" + waiver.format("20270131"))
    with pytest.raises(EstateInvalid, match="expires: input should be a valid date"):
        load_governed(estate.root)


def test_governance_package_does_not_import_dagster() -> None:
    # The engine is shared by the CLI, the asset checks and the deploy step; only definitions may bring dagster in.
    package = REPO / "mnops_assets" / "governance"
    for module in sorted(package.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            assert not [n for n in names if n.split(".")[0] == "dagster"], module.name
