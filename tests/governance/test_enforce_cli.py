"""`mnops enforce` and `python ecosystem/enforce.py`: exit codes, and the SARIF, JUnit and JSON they write."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from mnops_assets.governance import evaluate, load_governed

REPO = Path(__file__).resolve().parents[2]
MNOPS = Path(sys.executable).parent / "mnops"
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif" / "sarif-schema-2.1.0.json"
AS_OF = "2026-12-01"
"""Within the shipped waivers' life: only the seed-entry test judges the estate as of today, as CI will."""


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, check=False)


def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8-sig"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def untag_a_prod_bucket(root: Path) -> tuple[str, int]:
    """Give the prod storefront a new bucket without its own tags; return its file (as shown) and line."""
    platform = root / "platform-cloud" / "prod" / "platform.yaml"
    text = platform.read_text(encoding="utf-8")
    platform.write_text(text + "  exports:\n    contract: storage/v1\n    versioning: true\n", encoding="utf-8")
    line = len(text.splitlines()) + 1
    return f"{root.name}/platform-cloud/prod/platform.yaml", line


def test_seed_entry_passes_on_the_shipped_estate() -> None:
    result = run(sys.executable, REPO / "ecosystem" / "enforce.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "governance passed" in result.stdout
    assert "0 error(s)" in result.stdout


def test_seed_entry_judges_its_own_estate_from_anywhere(tmp_path: Path) -> None:
    result = run(sys.executable, REPO / "ecosystem" / "enforce.py", "--format", "json", "--as-of", AS_OF, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["instances"]) == 21


def test_untagged_prod_bucket_fails_naming_file_and_line(estate_copy: Path) -> None:
    shown, line = untag_a_prod_bucket(estate_copy)
    result = run(MNOPS, "enforce", estate_copy.name, "--as-of", AS_OF, cwd=estate_copy.parent)
    assert result.returncode == 1
    expected = f"{shown}:{line}:3: error GL-TAG-02 prod/exports tags.data-classification: required tag"
    assert expected in result.stdout
    assert "governance failed" in result.stdout


def test_seed_entry_fails_on_a_broken_copy_too(estate_copy: Path) -> None:
    shown, line = untag_a_prod_bucket(estate_copy)
    result = run(
        sys.executable, REPO / "ecosystem" / "enforce.py", estate_copy.name, "--as-of", AS_OF, cwd=estate_copy.parent
    )
    assert result.returncode == 1
    assert f"{shown}:{line}:3: error GL-TAG-02" in result.stdout


def test_sarif_validates_and_points_at_yaml_lines(estate_copy: Path) -> None:
    shown, line = untag_a_prod_bucket(estate_copy)
    result = run(MNOPS, "enforce", estate_copy.name, "--format", "sarif", "--as-of", AS_OF, cwd=estate_copy.parent)
    assert result.returncode == 1
    log = json.loads(result.stdout)
    errors = sorted(sarif_validator().iter_errors(log), key=str)
    assert errors == []
    run_ = log["runs"][0]
    rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    results = run_["results"]
    assert {r["ruleId"] for r in results} <= set(rule_ids)
    for result_ in results:
        assert rule_ids[result_["ruleIndex"]] == result_["ruleId"]
        where = result_["locations"][0]["physicalLocation"]
        path = estate_copy.parent / where["artifactLocation"]["uri"]
        assert path.is_file() and path.suffix == ".yaml"
        assert 1 <= where["region"]["startLine"] <= len(path.read_text().splitlines())
    [untagged] = [r for r in results if r["ruleId"] == "GL-TAG-02"]
    location = untagged["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == shown
    assert location["region"] == {"startLine": line, "startColumn": 3}
    assert untagged["level"] == "error" and "suppressions" not in untagged
    waived = [r for r in results if "suppressions" in r]
    assert len(waived) == 3 and all(r["suppressions"][0]["kind"] == "external" for r in waived)


def test_sarif_of_the_shipped_estate_validates() -> None:
    result = run(MNOPS, "enforce", "ecosystem", "-f", "sarif", "--as-of", AS_OF)
    assert result.returncode == 0
    assert list(sarif_validator().iter_errors(json.loads(result.stdout))) == []


def test_sarif_schema_refuses_a_broken_log() -> None:
    result = run(MNOPS, "enforce", "ecosystem", "-f", "sarif", "--as-of", AS_OF)
    log = json.loads(result.stdout)
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["results"][0]["message"]
    assert len(list(sarif_validator().iter_errors(log))) == 2


def test_junit_has_one_case_per_rule_and_target(estate_copy: Path) -> None:
    untag_a_prod_bucket(estate_copy)
    result = run(MNOPS, "enforce", estate_copy.name, "--format", "junit", "--as-of", AS_OF, cwd=estate_copy.parent)
    assert result.returncode == 1
    suite = ET.fromstring(result.stdout).find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    keys = [(c.get("classname"), c.get("name")) for c in cases]
    assert len(keys) == len(set(keys)) == int(suite.get("tests", "-1"))
    estate, policies = load_governed(estate_copy)
    report = evaluate(estate.platforms, policies, policies.waivers, datetime.date.fromisoformat(AS_OF))
    judged = {(rule, i if r is None else f"{i}/{r}") for rule, i, r in report.cases}
    assert set(keys) == judged
    failed = [(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None]
    assert failed == [("GL-TAG-02", "prod/exports")]
    assert suite.get("failures") == "1"
    skipped = {(c.get("classname"), c.get("name")) for c in cases if c.find("skipped") is not None}
    assert skipped == {
        ("GL-COMPUTE-01", "analytics-prod/pipeline"),
        ("GL-LOG-01", "search-prod/app-logs"),
        ("GL-STO-02", "search-prod/index"),
    }
    assert ("GL-TAG-02", "prod/assets") in keys  # passing cases are there too


def test_json_report_lists_findings_with_locations() -> None:
    result = run(MNOPS, "enforce", "ecosystem", "--format", "json", "--as-of", AS_OF)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert report["counts"] == {"error": 0, "warn": 0, "info": 0, "waived": 3}
    [index] = [f for f in report["findings"] if f["rule"] == "GL-STO-02"]
    assert index["file"] == "ecosystem/platform-cloud/search-prod/platform.yaml"
    assert index["waived_by"]["owner"] == "team-search"


def test_expired_waivers_fail_enforce_on_a_later_date() -> None:
    result = run(MNOPS, "enforce", "ecosystem", "--as-of", "2027-07-01")
    assert result.returncode == 1
    assert result.stdout.count("warn GL-WAIVER-EXPIRED") == 3
    assert "ecosystem/governance/waivers.yaml:" in result.stdout


def test_enforce_one_instance_folder() -> None:
    result = run(MNOPS, "enforce", "ecosystem/platform-cloud/search-prod", "-f", "json", "--as-of", AS_OF)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["instances"] == ["search-prod"]
    assert {f["rule"] for f in report["findings"]} == {"GL-STO-02", "GL-LOG-01"}


def test_report_written_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "governance.sarif"
    result = run(MNOPS, "enforce", "ecosystem", "-f", "sarif", "-o", target, "--as-of", AS_OF)
    assert result.returncode == 0
    assert "governance passed" in result.stdout
    assert json.loads(target.read_text())["version"] == "2.1.0"


def test_enforce_on_a_folder_that_is_no_estate_is_a_usage_error(tmp_path: Path) -> None:
    result = run(MNOPS, "enforce", tmp_path)
    assert result.returncode == 64
    assert "neither an estate" in result.stderr


def test_validate_still_passes_on_the_shipped_estate() -> None:
    result = run(MNOPS, "validate", "ecosystem")
    assert result.returncode == 0, result.stdout
