"""Findings point at the file and line that set the offending value: the template's when the template set it."""

from __future__ import annotations

VERSIONING = """\
rules:
  - id: GL-STO-02
    description: Prod buckets keep versions.
    severity: error
    scope: {tiers: [prod], contracts: [storage]}
    kind: required_value
    params: {field: versioning, value: true}
"""

TAGS = """\
rules:
  - id: GL-TAG-01
    description: Platforms say which service they run.
    severity: error
    kind: required_tags
    params: {tags: [service]}
  - id: GL-TAG-02
    description: Prod buckets carry their own classification.
    severity: error
    scope: {tiers: [prod], contracts: [storage]}
    kind: required_tags
    params: {tags: [data-classification]}
"""


def only(report, rule: str, target: str):
    [finding] = [f for f in report.findings if f.rule == rule and f.target == target]
    return finding


def test_value_set_by_template_points_at_template_line(estate) -> None:
    estate.policies(VERSIONING)
    template = "platform-templates/service.yaml"
    estate.write(template, (estate.root / template).read_text().replace("versioning: true", "versioning: false"))
    finding = only(estate.judge(), "GL-STO-02", "prod/assets")
    assert finding.location.file == estate.shown(template)
    assert finding.location.line == estate.line_of(template, "versioning: false")
    assert finding.location.column == 17  # the value, not the key


def test_value_overridden_by_instance_points_at_instance_line(estate) -> None:
    estate.policies(VERSIONING)
    estate.append("platform-cloud/prod/platform.yaml", "resources:\n  assets:\n    versioning: false\n")
    finding = only(estate.judge(), "GL-STO-02", "prod/assets")
    assert finding.location.file == estate.shown("platform-cloud/prod/platform.yaml")
    assert finding.location.line == 4


def test_value_set_by_environment_layer_points_at_environment_file(estate) -> None:
    estate.policies(VERSIONING)
    estate.append("platform-cloud/prod/environment.yaml", "resources:\n  assets:\n    versioning: false\n")
    finding = only(estate.judge(), "GL-STO-02", "prod/assets")
    assert finding.location.file == estate.shown("platform-cloud/prod/environment.yaml")
    assert finding.location.line == estate.line_of("platform-cloud/prod/environment.yaml", "versioning: false")


def test_contract_default_points_at_resource_declaration_in_template(estate) -> None:
    estate.policies(VERSIONING)
    template = "platform-templates/service.yaml"
    estate.write(template, (estate.root / template).read_text().replace("    versioning: true\n", ""))
    finding = only(estate.judge(), "GL-STO-02", "prod/assets")
    assert "versioning is false" in finding.message
    assert finding.location.file == estate.shown(template)
    assert finding.location.line == estate.line_of(template, "assets:")


def test_missing_platform_tag_points_at_instance_platform_file(estate) -> None:
    estate.policies(TAGS)
    finding = only(estate.judge(), "GL-TAG-01", "dev")
    # Not ecosystem.yaml, which first declared `tags`: the instance is where the missing tag belongs.
    assert finding.location.file == estate.shown("platform-cloud/dev/platform.yaml")
    assert finding.field == "tags.service"


def test_missing_platform_tag_points_at_instance_tags_key_when_it_has_one(estate) -> None:
    estate.policies(TAGS)
    estate.append("platform-cloud/dev/platform.yaml", "tags:\n  team: web\n")
    finding = only(estate.judge(), "GL-TAG-01", "dev")
    assert finding.location.line == estate.line_of("platform-cloud/dev/platform.yaml", "tags:")


def test_untagged_bucket_points_at_its_declaration(estate) -> None:
    estate.policies(TAGS)
    estate.append(
        "platform-cloud/prod/platform.yaml",
        "tags:\n  service: shop\nresources:\n  reports:\n    contract: storage/v1\n",
    )
    report = estate.judge()
    reports = only(report, "GL-TAG-02", "prod/reports")
    assert reports.location.file == estate.shown("platform-cloud/prod/platform.yaml")
    assert reports.location.line == estate.line_of("platform-cloud/prod/platform.yaml", "reports:")
    assets = only(report, "GL-TAG-02", "prod/assets")
    assert assets.location.file == estate.shown("platform-templates/service.yaml")
    assert assets.location.line == estate.line_of("platform-templates/service.yaml", "assets:")
