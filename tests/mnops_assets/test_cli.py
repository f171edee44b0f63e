"""The `mnops` command line: exit codes, formats, and the seed's entry script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mnops_assets.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def mnops(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_validate_shipped_estate_exits_0_with_a_summary(shipped):
    result = mnops("validate", str(shipped))
    assert result.exit_code == 0, result.output
    assert "acme-estate: 21 platform(s)" in result.output
    assert "customer-acme" in result.output and "valid:" in result.output


def test_validate_json_lists_every_platform(shipped):
    result = mnops("validate", str(shipped), "--format", "json")
    data = json.loads(result.output)
    assert data["valid"] is True and data["problems"] == []
    assert len(data["platforms"]) == 21
    dev = next(p for p in data["platforms"] if p["name"] == "dev")
    assert dev["contracts"]["jobs"] == "queue/v1" and len(dev["config_hash"]) == 64


def test_validate_broken_copy_exits_1_naming_file_and_line(estate_copy):
    platform = estate_copy / "platform-cloud" / "dev" / "platform.yaml"
    platform.write_text(platform.read_text().replace("retention_seconds: 86400", "retention_seconds: 5"))
    result = mnops("validate", str(estate_copy))
    assert result.exit_code == 1
    assert (
        f"{platform}:9:24: resources.jobs.retention_seconds: input should be greater than or equal to 60"
        in result.output
    )
    assert "invalid: 1 problem in 1 file" in result.output
    data = json.loads(mnops("validate", str(estate_copy), "--format", "json").output)
    assert data["valid"] is False and data["problems"][0]["line"] == 9


def test_validate_one_instance_folder(shipped):
    result = mnops("validate", str(shipped / "platform-cloud" / "staging"))
    assert result.exit_code == 0
    assert "1 platform(s)" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "/nonexistent/estate"],
        ["validate", "ecosystem", "--format", "xml"],
        ["explain", "nowhere", "tags", "--estate", "ecosystem"],
        ["explain", "dev", "resources.nothing", "--estate", "ecosystem"],
    ],
)
def test_usage_errors_exit_64(args, monkeypatch):
    monkeypatch.chdir(REPO)
    result = mnops(*args)
    assert result.exit_code == 64, result.output


def test_explain_shows_every_layer_winner_first(shipped):
    result = mnops("explain", "dev", "resources.jobs.retention_seconds", "--estate", str(shipped))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "dev resources.jobs.retention_seconds = 86400"
    assert lines[1].split()[:2] == ["wins", "platform"] and "platform-cloud/dev/platform.yaml:9" in lines[1]
    assert "platform-templates/web-service.yaml:12" in lines[2] and lines[2].endswith("345600")


def test_explain_a_mapping_explains_each_leaf(shipped):
    data = json.loads(mnops("explain", "dev", "tags", "--estate", str(shipped), "--format", "json").output)
    by_key = {entry["key"]: entry for entry in data["settings"]}
    assert by_key["tags.workload"]["value"] == "web"
    assert [s["layer"] for s in by_key["tags.workload"]["layers"]] == ["template web-service", "template service"]


def test_explain_a_contract_default(shipped):
    result = mnops("explain", "dev", "resources.assets.encrypted", "--estate", str(shipped))
    assert "no layer sets it: default of contract storage/v1" in result.output


def test_explain_a_tag_key_holding_dots(estate_copy):
    platform = estate_copy / "platform-cloud" / "dev" / "platform.yaml"
    platform.write_text(
        platform.read_text().replace(
            "  service: storefront\n", "  service: storefront\n  app.kubernetes.io/name: shop\n"
        )
    )
    result = mnops("explain", "dev", "tags.app.kubernetes.io/name", "--estate", str(estate_copy))
    assert result.exit_code == 0, result.output
    assert result.output.startswith('dev tags.app.kubernetes.io/name = "shop"')


def test_registry_lists_contracts_providers_templates_instances(shipped):
    data = json.loads(mnops("registry", "--estate", str(shipped), "--format", "json").output)
    assert set(data["contracts"]) == {
        "storage/v1",
        "queue/v1",
        "secrets/v1",
        "logging/v1",
        "compute/v1",
        "database/v1",
    }
    assert data["providers"]["local"] == sorted(data["contracts"])
    chains = {t["name"]: t["chain"] for t in data["templates"]}
    assert chains["customer-tenant"] == ["base", "service", "web-service", "customer-tenant"]
    assert len(data["platforms"]) == 21
    assert mnops("registry", "--estate", str(shipped)).exit_code == 0


def test_new_platform_copies_an_instance_atomically(estate_copy):
    result = mnops("new-platform", "customer-wayne", "--from", "customer-acme", "--estate", str(estate_copy))
    assert result.exit_code == 0, result.output
    created = estate_copy / "platform-cloud" / "customer-wayne"
    assert sorted(p.name for p in created.iterdir()) == ["environment.yaml", "platform.yaml"]
    assert not [p for p in created.parent.iterdir() if p.name.startswith(".")]
    assert mnops("validate", str(created)).exit_code == 0


def test_new_platform_refuses_an_existing_target_or_a_bad_name(estate_copy):
    assert mnops("new-platform", "staging", "--from", "dev", "--estate", str(estate_copy)).exit_code == 64
    assert mnops("new-platform", "Bad_Name", "--from", "dev", "--estate", str(estate_copy)).exit_code == 64
    assert mnops("new-platform", "fresh", "--from", "nowhere", "--estate", str(estate_copy)).exit_code == 64


def test_new_platform_keeps_nothing_when_the_copy_is_invalid(estate_copy):
    platform = estate_copy / "platform-cloud" / "dev" / "platform.yaml"
    platform.write_text(platform.read_text().replace("template: web-service", "template: gone"))
    result = mnops("new-platform", "dev2", "--from", "dev", "--estate", str(estate_copy))
    assert result.exit_code == 1
    assert "unknown template 'gone'" in result.output
    assert sorted(p.name for p in (estate_copy / "platform-cloud").iterdir()) == sorted(
        p.name for p in (REPO / "ecosystem" / "platform-cloud").iterdir()
    )


def test_schema_check_passes_on_the_shipped_schemas_and_fails_when_stale(estate_copy, shipped):
    assert mnops("schema", "--estate", str(shipped), "--check").exit_code == 0
    stale = estate_copy / "schemas" / "platform.schema.json"
    stale.write_text("{}")
    assert mnops("schema", "--estate", str(estate_copy), "--check").exit_code == 1
    assert mnops("schema", "--estate", str(estate_copy)).exit_code == 0
    assert mnops("schema", "--estate", str(estate_copy), "--check").exit_code == 0


def test_seed_validate_script_prints_what_mnops_validate_prints():
    env = {**os.environ, "COLUMNS": "200"}
    seed = subprocess.run(
        [sys.executable, "ecosystem/tools/validate_platform.py", "ecosystem/platform-cloud/dev"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    direct = subprocess.run(
        [sys.executable, "-m", "mnops_assets", "validate", "ecosystem/platform-cloud/dev"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert seed.returncode == direct.returncode == 0, seed.stderr
    assert seed.stdout == direct.stdout
    assert "valid: ecosystem (dev)" in seed.stdout


def sarif_validator():
    import jsonschema

    schema = json.loads((REPO / "tests" / "data" / "sarif" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8-sig"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def break_two_files(estate: Path) -> tuple[Path, Path]:
    platform = estate / "platform-cloud" / "dev" / "platform.yaml"
    platform.write_text(platform.read_text().replace("retention_seconds: 86400", "retention_seconds: 5"))
    environment = estate / "platform-cloud" / "staging" / "environment.yaml"
    environment.write_text(environment.read_text() + "bogus: [\n")
    return platform, environment


def test_validate_sarif_puts_each_problem_at_its_file_line_and_column(estate_copy):
    platform, environment = break_two_files(estate_copy)
    result = mnops("validate", str(estate_copy), "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert list(sarif_validator().iter_errors(log)) == []
    results = log["runs"][0]["results"]
    located = [r["locations"][0]["physicalLocation"] for r in results]
    where = {loc["artifactLocation"]["uri"]: loc["region"] for loc in located}
    assert where[platform.as_uri()] == {"startLine": 9, "startColumn": 24}
    assert environment.as_uri() in where
    [jobs] = [r for r in results if "retention_seconds" in r["message"]["text"]]
    assert jobs["level"] == "error" and jobs["ruleId"] == "MNOPS-ESTATE"


def test_validate_sarif_of_a_valid_estate_has_no_results(shipped):
    result = mnops("validate", str(shipped), "--format", "sarif")
    assert result.exit_code == 0
    log = json.loads(result.stdout)
    assert list(sarif_validator().iter_errors(log)) == [] and log["runs"][0]["results"] == []


def test_validate_junit_fails_one_case_per_file_with_every_problem(estate_copy):
    import xml.etree.ElementTree as ET

    platform, environment = break_two_files(estate_copy)
    result = mnops("validate", str(estate_copy), "--format", "junit")
    assert result.exit_code == 1
    suite = ET.fromstring(result.stdout).find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    failures = {c.get("name"): c.find("failure") for c in suite.findall("testcase")}
    assert set(failures) == {str(platform), str(environment)}
    text = failures[str(platform)].text  # type: ignore[union-attr]
    assert f"{platform}:9:24: resources.jobs.retention_seconds: input should be greater than or equal to 60" in text
    valid = ET.fromstring(mnops("validate", str(REPO / "ecosystem"), "--format", "junit").stdout)
    assert valid.get("tests") == "1" and valid.get("failures") == "0"


def test_command_modules_import_no_other_command_module():
    import ast

    package = REPO / "mnops_assets" / "cli"
    shared = {"common", "render", "seed"}
    for path in package.glob("*.py"):
        if path.stem in shared | {"__init__"}:
            continue
        tree = ast.parse(path.read_text())
        imported = {
            node.module.rsplit(".", 1)[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mnops_assets.cli.")
        }
        assert imported <= shared, f"{path.name} imports {imported - shared}"
    for name in ("common", "render"):
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mnops_assets.cli")
        }
        assert imported <= {"mnops_assets.cli.common"}, f"{name}.py imports {imported}"


def test_enforce_sarif_of_an_invalid_estate_carries_its_problems(estate_copy):
    platform, _ = break_two_files(estate_copy)
    result = mnops("enforce", str(estate_copy), "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert list(sarif_validator().iter_errors(log)) == []
    assert platform.as_uri() in {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]
    }
