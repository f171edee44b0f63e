"""The code location: asset keys, lineage, checks, sensors, tags and automation, for the shipped estate and others."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import AssetCheckKey, AssetKey, DefaultSensorStatus

from mnops_assets import definitions
from mnops_assets.definitions import defs
from mnops_assets.estate import load_estate
from mnops_assets.graph.definitions import build_definitions
from mnops_assets.graph.factory import AUTO_DEPLOY

REPO = Path(__file__).resolve().parents[3]


def key(*parts: str) -> AssetKey:
    return AssetKey(list(parts))


def test_the_shipped_estate_is_one_graph():
    estate = load_estate(REPO / "ecosystem")
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    expected = {key("ecosystem")} | {
        key("contract", c) for c in ("storage_v1", "queue_v1", "secrets_v1", "logging_v1", "compute_v1", "database_v1")
    }
    expected |= {key("template", name) for name in estate.templates}
    for name in estate.platforms:
        expected |= {key("config", name), key("platform", name), key("observed", name)}
    assert keys == expected
    assert len(keys) == 7 + len(estate.templates) + 3 * len(estate.platforms)


def test_lineage_runs_contract_template_config_platform_observed():
    graph = defs.resolve_asset_graph()
    assert graph.get(key("observed", "dev")).parent_keys == {key("platform", "dev")}
    assert graph.get(key("platform", "dev")).parent_keys == {key("config", "dev")}
    assert graph.get(key("config", "dev")).parent_keys == {
        key("template", "web-service"),
        key("ecosystem"),
        *(key("contract", c) for c in ("storage_v1", "queue_v1", "secrets_v1", "logging_v1", "compute_v1")),
    }
    assert graph.get(key("template", "web-service")).parent_keys == {key("template", "service")}
    assert graph.get(key("template", "service")).parent_keys == {key("template", "base")}
    assert graph.get(key("template", "base")).parent_keys == {key("ecosystem")}
    # billing-prod's worker reads the notifications platform's queue URL: one graph across instances.
    assert key("platform", "notifications-prod") in graph.get(key("config", "billing-prod")).parent_keys


def test_checks_sit_where_they_block_the_right_things():
    checks = set(defs.resolve_asset_graph().asset_check_keys)
    assert AssetCheckKey(key("config", "prod"), "passes_blocking_policies") in checks
    assert AssetCheckKey(key("config", "prod"), "passes_advisory_policies") in checks
    assert AssetCheckKey(key("platform", "prod"), "is_healthy") in checks
    assert AssetCheckKey(key("observed", "prod"), "is_in_sync") in checks
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == key("config", "prod"))
    assert spec.group_name == "configs"


def test_assets_carry_layers_groups_kinds_owners_and_code_versions():
    estate = load_estate(REPO / "ecosystem")
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    platform = specs[key("platform", "customer-acme")]
    assert platform.group_name == "platforms" and platform.kinds == {"local"}
    assert platform.owners == ["team:team-tenancy"]
    assert platform.tags["layer"] == "CLOUDPLATFORMINSTANCE" and platform.tags["tier"] == "prod"
    assert platform.tags["customer"] == "acme"
    assert platform.code_version == estate.platform("customer-acme").config_hash
    assert specs[key("contract", "queue_v1")].tags["layer"] == "CLOUDPROVIDERABSTRACTION"
    assert specs[key("ecosystem")].tags["layer"] == "ECOSYSTEM_ROOT"
    assert specs[key("template", "base")].tags["layer"] == "ECOSYSTEM_ROOT"


def test_only_instances_that_opt_in_deploy_by_themselves():
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    assert specs[key("platform", "dev")].automation_condition == AUTO_DEPLOY
    assert specs[key("platform", "prod")].automation_condition is None
    assert specs[key("config", "dev")].automation_condition is not None


def test_sensors_run_by_default():
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) == {"drift_sensor", "mnops_automation_sensor"}
    assert all(s.default_status == DefaultSensorStatus.RUNNING for s in sensors.values())


def test_an_edited_yaml_changes_the_code_version(graph_estate):
    before = build_definitions(graph_estate)
    path = graph_estate / "platform-cloud" / "fixer" / "platform.yaml"
    path.write_text(path.read_text().replace("3600", "7200"))
    after = build_definitions(graph_estate)

    def version(definitions):
        return next(s for s in definitions.resolve_all_asset_specs() if s.key == key("platform", "fixer")).code_version

    assert version(before) != version(after)


def test_dagster_validates_the_workspace():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_location_is_the_graph_of_the_estate_beside_the_package():
    assert definitions.ESTATE == REPO / "ecosystem"
    assert definitions.build_definitions is build_definitions
    assert defs.resources["mnops"].estate == str(REPO / "ecosystem")


def test_deploying_through_dagster_never_loads_the_shipped_code_location():
    # `mnops deploy` builds the graph of the estate it was given; loading the entry point would resolve the shipped
    # estate as well (and import the package that imports it back).
    script = "import sys, mnops_assets.graph.launch; print('mnops_assets.definitions' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
