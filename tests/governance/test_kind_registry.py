"""Rule kinds as a registry: a kind added as one module and one entry of KINDS is validated, judged and described,
and every list of kinds (rule validation, the schema, the docs) is the registry's."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from mnops_assets.errors import EstateInvalid
from mnops_assets.governance import kinds
from mnops_assets.governance.kinds import KINDS, RuleKind
from mnops_assets.governance.schema import file_models

REPO = Path(__file__).resolve().parents[2]
MODULE = "mnops_test_kind_max_resources"
KIND_MODULE = '''\
"""Rule kind `max_resources`: a platform declares at most so many resources."""

from pydantic import Field

from mnops_assets.governance.kinds.base import RuleKind
from mnops_assets.governance.model import Strict


class MaxResources(Strict):
    """A platform declares at most `limit` resources."""

    limit: int = Field(ge=1)


def max_resources(p, platform, name, resource):
    count = len(platform.spec.resources)
    if count > p.limit:
        yield ("resources",), f"{count} resources; at most {p.limit}"


KIND = RuleKind(MaxResources, max_resources)
'''


def rule(params: str, kind: str = "max_resources") -> str:
    return textwrap.dedent(f"""\
        rules:
          - id: GL-SIZE-01
            description: Platforms stay small enough to review.
            severity: error
            scope: {{tiers: [prod]}}
            kind: {kind}
            params: {params}
        """)


@pytest.fixture
def max_resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A kind written as one module outside the package, registered by one entry of KINDS."""
    folder = tmp_path / "kinds"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(KIND_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    monkeypatch.setitem(KINDS, "max_resources", MODULE)
    yield "max_resources"
    sys.modules.pop(MODULE, None)


def problems_of(estate) -> list[str]:
    with pytest.raises(EstateInvalid) as caught:
        estate.judge()
    return [str(p) for p in caught.value.problems]


def test_a_registered_kind_has_its_params_validated_where_they_are_written(estate, max_resources):
    estate.policies(rule("{limit: 0, limt: 3}"))
    shown = estate.shown("governance/policies.yaml")
    assert problems_of(estate) == [
        f"{shown}:7:21: rules[0].params.limit: input should be greater than or equal to 1",
        f"{shown}:7:24: rules[0].params.limt: unknown field; did you mean 'limit'?",
    ]


def test_a_registered_kind_judges_with_its_check(estate, max_resources):
    estate.policies(rule("{limit: 3}"))
    report = estate.judge()
    (finding,) = [f for f in report.findings if f.rule == "GL-SIZE-01"]
    assert (finding.target, finding.field, finding.severity) == ("prod", "resources", "error")
    assert finding.message == "4 resources; at most 3"
    assert not report.passed
    estate.policies(rule("{limit: 4}"))
    assert estate.judge().passed


def test_a_registered_kind_is_in_the_policies_schema(max_resources):
    schema = file_models()["policies"].model_json_schema(by_alias=True)
    assert schema["$defs"]["MaxResourcesRule"]["properties"]["kind"]["const"] == "max_resources"
    validator = jsonschema.Draft202012Validator(schema)
    document = {
        "rules": [
            {"id": "GL-SIZE-01", "description": "Small.", "severity": "warn", "kind": "max_resources", "params": {}}
        ]
    }
    document["rules"][0]["params"] = {"limit": 3}
    assert validator.is_valid(document)
    document["rules"][0]["params"] = {"limit": 0}
    assert not validator.is_valid(document)


def test_an_unknown_kind_is_refused_naming_every_registered_one(estate, max_resources):
    estate.policies(rule("{limit: 3}", kind="max_resource"))
    (problem,) = problems_of(estate)
    assert problem.endswith(
        "rules[0].kind: input should be 'name_pattern', 'required_tags', 'allowed_values', 'numeric_bounds', "
        "'required_value', 'forbidden_combination', 'secret_hygiene', 'loopback_bind', 'plugin' or 'max_resources'"
    )


def test_a_module_registered_without_a_kind_is_refused(monkeypatch):
    monkeypatch.setitem(KINDS, "nothing", "mnops_assets.governance.kinds.base")
    with pytest.raises(TypeError, match="defines no KIND"):
        kinds.kind("nothing")


@pytest.mark.parametrize("name", list(KINDS))
def test_every_shipped_kind_is_one_module_with_its_params_and_check(name):
    kind = kinds.kind(name)
    assert isinstance(kind, RuleKind)
    assert KINDS[name] == f"mnops_assets.governance.kinds.{name}"
    assert kind.params.__module__ == KINDS[name]
    assert (kind.check is None) == (name == kinds.PLUGIN)


def test_the_docs_list_every_registered_kind_and_its_params():
    text = (REPO / "docs" / "governance.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \|", text, re.MULTILINE)
    assert [name for name, _ in rows] == list(KINDS)
    for name, params in rows:
        assert set(re.findall(r"`(\w+)`", params)) <= set(kinds.kind(name).params.model_fields), name


def test_the_shipped_schema_offers_every_registered_kind():
    schema = json.loads((REPO / "ecosystem" / "schemas" / "policies.schema.json").read_text(encoding="utf-8"))
    mapping = next(
        node["discriminator"]["mapping"]
        for node in _nodes(schema)
        if isinstance(node, dict) and "mapping" in node.get("discriminator", {})
    )
    assert list(mapping) == sorted(KINDS)


def _nodes(node):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _nodes(child)
