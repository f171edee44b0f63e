"""A governance report written out: text lines for people, JSON, SARIF 2.1.0 for code scanning, JUnit XML for CI;
and the estate's own problems (YAML, schema) as SARIF and JUnit, so `mnops validate` reaches the same CI views.

Every writer is a pure function of its input returning text; the CLI decides where it goes.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib.metadata import PackageNotFoundError, version
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from mnops_assets.errors import Problem
from mnops_assets.governance.engine import BUILTIN_RULES, SEVERITY_RANK, Finding, Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warn": "warning", "info": "note"}
TOOL = "mnops"
ESTATE_RULE = "MNOPS-ESTATE"
ESTATE_RULE_TEXT = "Every file of the estate parses as YAML and matches its schema and the estate's own rules."


def text_lines(report: Report) -> list[str]:
    """One `file:line:col: severity RULE target field: message` line per finding, open ones first, then waived ones."""
    open_ = [f for f in report.findings if f.waived_by is None]
    waived = [f for f in report.findings if f.waived_by is not None]
    lines = [str(f) for f in sorted(open_, key=lambda f: (_rank(f), f.sort_key()))]
    for finding in waived:
        w = finding.waived_by
        assert w is not None
        lines.append(
            f"{finding} [waived by {w.owner} until {w.expires.isoformat()}, {w.location.file}:{w.location.line}]"
        )
    return lines


def summary(report: Report) -> str:
    counts = report.counts()
    verdict = "failed" if not report.passed else "passed"
    return (
        f"governance {verdict}: {len(report.rules)} rule(s) over {len(report.instances)} platform(s): "
        f"{counts['error']} error(s), {counts['warn']} warning(s), {counts['info']} note(s), {counts['waived']} waived"
    )


def to_json(report: Report) -> str:
    return (
        json.dumps(
            {
                "passed": report.passed,
                "counts": report.counts(),
                "instances": list(report.instances),
                "rules": [_rule_meta(r.id, r.severity, r.description, r.kind) for r in report.rules],
                "findings": [f.to_dict() for f in report.findings],
            },
            indent=2,
        )
        + "\n"
    )


def to_sarif(report: Report) -> str:
    """SARIF 2.1.0: one run, rules in `tool.driver.rules`, waived findings as results with an external suppression."""
    metas = [(rule_id, severity, text, "built-in") for rule_id, (severity, text) in BUILTIN_RULES.items()]
    metas += [(r.id, r.severity, r.description, r.kind) for r in report.rules]
    index = {rule_id: i for i, (rule_id, *_) in enumerate(metas)}
    rules = [
        {
            "id": rule_id,
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": SARIF_LEVEL[severity]},
            "properties": {"kind": kind, "severity": severity},
        }
        for rule_id, severity, text, kind in metas
    ]
    results = [_sarif_result(f, index[f.rule]) for f in report.findings]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": TOOL, "version": _version(), "rules": rules}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def to_junit(report: Report) -> str:
    """One test suite; one test case per rule x target judged (passing ones too); error findings fail their case.

    A case whose findings are all waived is skipped (with the waiver as the reason); warnings and notes pass, with
    their findings on system-out.
    """
    by_case: dict[tuple[str, str], list[Finding]] = {}
    for finding in report.findings:
        by_case.setdefault((finding.rule, finding.target), []).append(finding)
    cases = sorted(
        {
            (rule, instance if resource is None else f"{instance}/{resource}")
            for rule, instance, resource in report.cases
        }
        | set(by_case)
    )
    suite = ET.Element("testsuite", name="mnops enforce")
    failures = skipped = 0
    for rule, target in cases:
        case = ET.SubElement(suite, "testcase", classname=rule, name=target)
        found = by_case.get((rule, target), [])
        failing = [f for f in found if f.blocking]
        waived = [f for f in found if f.waived_by is not None]
        if failing:
            failures += 1
            element = ET.SubElement(case, "failure", message=failing[0].message, type=rule)
            element.text = "\n".join(str(f) for f in failing)
        elif waived and len(waived) == len(found):
            skipped += 1
            w = waived[0].waived_by
            assert w is not None
            reason = f"waived by {w.owner} until {w.expires.isoformat()}: {w.reason}"
            ET.SubElement(case, "skipped", message=reason)
        if found and not failing:
            ET.SubElement(case, "system-out").text = "\n".join(str(f) for f in found)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    root = ET.Element(
        "testsuites",
        name="mnops enforce",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
    )
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def problems_to_sarif(problems: list[Problem]) -> str:
    """SARIF 2.1.0: one run with one rule; each problem a result at its file, line and column (none: the estate is
    valid)."""
    rule = {
        "id": ESTATE_RULE,
        "shortDescription": {"text": ESTATE_RULE_TEXT},
        "defaultConfiguration": {"level": "error"},
    }
    results = [
        {
            "ruleId": ESTATE_RULE,
            "ruleIndex": 0,
            "level": "error",
            "message": {"text": f"{p.field}: {p.message}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(p.file)},
                        "region": {"startLine": max(p.line, 1), "startColumn": max(p.column, 1)},
                    },
                    "logicalLocations": [{"name": p.field, "kind": "member"}],
                }
            ],
            "partialFingerprints": {"mnops/v1": f"{ESTATE_RULE}|{p.file}|{p.field}"},
        }
        for p in problems
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": TOOL, "version": _version(), "rules": [rule]}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def problems_to_junit(problems: list[Problem]) -> str:
    """One test case per file with problems, failing with every problem of that file as `file:line:col: field:
    message`; a valid estate is one passing case, so a CI view shows that the check ran."""
    by_file: dict[str, list[Problem]] = {}
    for problem in problems:
        by_file.setdefault(problem.file, []).append(problem)
    suite = ET.Element("testsuite", name="mnops validate")
    if not by_file:
        ET.SubElement(suite, "testcase", classname=ESTATE_RULE, name="estate")
    for file, found in by_file.items():
        case = ET.SubElement(suite, "testcase", classname=ESTATE_RULE, name=file, file=file, line=str(found[0].line))
        first = found[0]
        element = ET.SubElement(case, "failure", message=f"{first.field}: {first.message}", type=ESTATE_RULE)
        element.text = "\n".join(str(p) for p in found)
    tests, failures = str(max(len(by_file), 1)), str(len(by_file))
    for name, value in (("tests", tests), ("failures", failures), ("errors", "0"), ("skipped", "0")):
        suite.set(name, value)
    root = ET.Element("testsuites", name="mnops validate", tests=tests, failures=failures, errors="0", skipped="0")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- helpers ---------------------------------------------------------------------------------------------------------


def _rank(f: Finding) -> int:
    return SEVERITY_RANK[f.severity]


def _rule_meta(rule_id: str, severity: str, description: str, kind: str) -> dict[str, Any]:
    return {"id": rule_id, "severity": severity, "description": description, "kind": kind}


def _sarif_result(f: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL[f.severity],
        "message": {"text": f"{f.target}: {f.message}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.location.file)},
                    "region": {"startLine": f.location.line, "startColumn": f.location.column},
                },
                "logicalLocations": [
                    {
                        "name": f.field or f.target,
                        "fullyQualifiedName": f"{f.target}:{f.field}" if f.field else f.target,
                        "kind": "member" if f.field else "module",
                    }
                ],
            }
        ],
        "partialFingerprints": {"mnops/v1": f"{f.rule}|{f.target}|{f.field}"},
    }
    if f.waived_by is not None:
        w = f.waived_by
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{w.reason} (owner {w.owner}, expires {w.expires.isoformat()})",
                "location": {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(w.location.file)},
                        "region": {"startLine": w.location.line, "startColumn": w.location.column},
                    }
                },
            }
        ]
    return result


def _uri(path: str) -> str:
    """Relative to the working directory where the file is below it (as displayed), else an absolute file URI."""
    pure = PurePath(path)
    return pure.as_uri() if pure.is_absolute() else quote(pure.as_posix())


def _version() -> str:
    try:
        return version("machine-native-ops")
    except PackageNotFoundError:
        return "0"
