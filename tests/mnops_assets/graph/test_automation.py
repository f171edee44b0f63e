"""Declarative automation: the recording layers keep themselves current; an auto_deploy instance deploys by itself
once its config is materialized and its blocking checks passed; a failing blocking check holds it back; an instance
that does not opt in is never requested."""

from __future__ import annotations

from dagster import AssetKey, AssetSelection, evaluate_automation_conditions, instance_for_test

from mnops_assets.definitions import build_definitions

FIXER = AssetKey(["platform", "fixer"])
FIXER_CONFIG = AssetKey(["config", "fixer"])
WATCHER = AssetKey(["platform", "watcher"])
LAYERS = AssetSelection.groups("contracts", "ecosystem", "templates")


def test_an_auto_deploy_instance_deploys_once_its_checks_passed(graph_estate):
    defs = build_definitions(graph_estate)
    job = defs.resolve_implicit_global_asset_job_def()
    with instance_for_test() as instance:
        first = evaluate_automation_conditions(defs=defs, instance=instance)
        layers = list(LAYERS.resolve(defs.resolve_asset_graph()))
        # Missing: the recording layers and every config (with its checks) are requested in one go ...
        assert all(first.get_num_requested(key) == 1 for key in [*layers, FIXER_CONFIG])
        # ... but nothing deploys before its blocking checks have run.
        assert first.get_num_requested(FIXER) == 0
        assert job.execute_in_process(instance=instance, asset_selection=[*layers, FIXER_CONFIG]).success

        second = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert second.get_num_requested(FIXER) == 1
        assert second.get_num_requested(WATCHER) == 0  # prod waits for a person
        assert second.get_num_requested(FIXER_CONFIG) == 0


def test_a_failing_blocking_check_holds_the_deploy_back(graph_estate):
    path = graph_estate / "platform-cloud" / "fixer" / "platform.yaml"
    path.write_text(path.read_text() + "  app-logs:\n    retention_days: 3\n")  # breaks GL-LOG-01
    defs = build_definitions(graph_estate)
    job = defs.resolve_implicit_global_asset_job_def()
    with instance_for_test() as instance:
        layers = list(LAYERS.resolve(defs.resolve_asset_graph()))
        first = evaluate_automation_conditions(defs=defs, instance=instance)
        job.execute_in_process(instance=instance, asset_selection=[*layers, FIXER_CONFIG], raise_on_error=False)
        second = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert second.get_num_requested(FIXER) == 0
