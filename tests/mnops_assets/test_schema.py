"""JSON Schema: every shipped YAML file names its schema in a modeline and validates against it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from contracts import CONTRACTS
from mnops_assets import schema

REPO = Path(__file__).resolve().parents[2]
ESTATE_FILES = sorted(p for p in (REPO / "ecosystem").rglob("*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)


def test_a_schema_for_every_contract_and_file_kind():
    names = set(schema.render())
    assert {schema.contract_schema_name(tag) for tag in CONTRACTS} <= names
    assert {f"{kind}.schema.json" for kind in ("ecosystem", "template", "environment", "platform")} <= names


@pytest.mark.parametrize("path", ESTATE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_yaml_names_its_schema_and_validates_against_it(path):
    match = MODELINE.search(path.read_text())
    assert match, f"{path} has no yaml-language-server modeline"
    schema_path = (path.parent / match.group(1)).resolve()
    assert schema_path.is_file(), f"{path}: modeline names missing {schema_path}"
    document = yaml.safe_load(path.read_text()) or {}
    jsonschema.Draft202012Validator(json.loads(schema_path.read_text())).validate(document)


def test_schemas_refuse_what_the_loader_refuses():
    platform = json.loads(schema.render()["platform.schema.json"])
    validator = jsonschema.Draft202012Validator(platform)
    assert validator.is_valid({"template": "web-service", "resources": {"jobs": {"retention_seconds": 60}}})
    assert not validator.is_valid({"template": "web-service", "resources": {"jobs": {"retention_secs": 60}}})
    assert not validator.is_valid({"template": "web-service", "resources": {"Jobs": {}}})
    assert not validator.is_valid({"resources": {}})  # template is required in platform.yaml


@pytest.mark.parametrize("tag", sorted(CONTRACTS))
def test_contract_schemas_are_valid_json_schema(tag):
    document = json.loads(schema.render()[schema.contract_schema_name(tag)])
    jsonschema.Draft202012Validator.check_schema(document)
