"""Materializing is deploying: config checks gate platforms, the deploy body re-checks governance, health checks."""

from __future__ import annotations

from dagster import AssetKey, instance_for_test

from adapters.local.adapter import LocalAdapter
from mnops_assets.definitions import build_definitions


def run(estate, *keys, instance=None):
    job = build_definitions(estate).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance, asset_selection=[AssetKey(list(k)) for k in keys], raise_on_error=False
    )


def materialized(result) -> set[str]:
    return {"/".join(e.asset_key.path) for e in result.get_asset_materialization_events()}


def test_materializing_a_platform_deploys_it(graph_estate, tmp_path):
    with instance_for_test() as instance:
        result = run(graph_estate, ("config", "fixer"), ("platform", "fixer"), instance=instance)
        assert result.success
        assert materialized(result) == {"config/fixer", "platform/fixer"}
        [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[0] == "platform"]
        metadata = event.materialization.metadata
        assert metadata["version"].value == 1 and metadata["changed"].value is True
        assert len(metadata["plan"].value["steps"]) == 4
        assert {r.data["resource"] for r in metadata["resources"].value.records} == {
            "assets",
            "jobs",
            "api-key",
            "app-logs",
        }
        # What other resources may read of each (`ref:`), as recorded: the queue's URL, the secret's reference.
        outputs = metadata["outputs"].value
        assert set(outputs) == {"assets", "jobs", "api-key", "app-logs"}
        assert (
            outputs["jobs"]["url"].endswith("/queue/fixer/jobs/queue.db") and outputs["jobs"]["dead_letter_url"] == ""
        )
        assert outputs["api-key"]["reference"].startswith("file://")
        checks = {(e.asset_key.path[0], e.check_name): e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {
            ("config", "passes_blocking_policies"): True,
            ("config", "passes_advisory_policies"): True,
            ("platform", "is_healthy"): True,
        }
    assert set(LocalAdapter(root=tmp_path / ".mnops" / "local").observe("fixer")) == {
        "assets",
        "jobs",
        "api-key",
        "app-logs",
    }


def break_policy(estate):
    path = estate / "platform-cloud" / "watcher" / "platform.yaml"
    path.write_text(path.read_text() + "  app-logs:\n    retention_days: 3\n")


def test_a_failing_blocking_check_stops_the_deploy_downstream(graph_estate, tmp_path):
    break_policy(graph_estate)
    result = run(graph_estate, ("config", "watcher"), ("platform", "watcher"))
    assert materialized(result) == {"config/watcher"}
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "passes_blocking_policies"]
    assert not check.passed and "GL-LOG-01 watcher/app-logs" in check.metadata["findings"].value
    assert LocalAdapter(root=tmp_path / ".mnops" / "local").observe("watcher") == {}


def test_launching_the_platform_alone_cannot_bypass_governance(graph_estate, tmp_path):
    break_policy(graph_estate)
    result = run(graph_estate, ("platform", "watcher"))
    assert not result.success and materialized(result) == set()
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "refused by governance" in failure.event_specific_data.error.message
    assert LocalAdapter(root=tmp_path / ".mnops" / "local").observe("watcher") == {}


def test_a_failed_deploy_fails_the_run_and_says_why(graph_estate, monkeypatch):
    monkeypatch.setenv("MNOPS_FAILPOINTS", "after:2=fail")
    result = run(graph_estate, ("config", "fixer"), ("platform", "fixer"))
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "injected failure after step 2" in message and "rolled back" in message
