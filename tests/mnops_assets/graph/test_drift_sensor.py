"""The drift sensor on the local provider: a change behind the engine's back is observed, fails `is_in_sync`, and is
answered as the instance's policy says (remediate, alert, adopt); the same drift is never redeployed twice."""

from __future__ import annotations

from dagster import AssetCheckEvaluation, AssetKey, AssetObservation, instance_for_test

from adapters.local.adapter import LocalAdapter
from mnops_assets.definitions import build_definitions
from mnops_assets.engine.plan import desired_resources
from mnops_assets.estate import load_estate
from tests.mnops_assets.graph.sensing import tick


def deploy_all(estate, instance):
    job = build_definitions(estate).resolve_implicit_global_asset_job_def()
    keys = [AssetKey([kind, name]) for name in ("fixer", "watcher", "adopter") for kind in ("config", "platform")]
    assert job.execute_in_process(instance=instance, asset_selection=keys).success


def tamper(estate, tmp_path, name):
    """Set the queue's retention to 120 s with the provider's own driver, as someone with console access would."""
    local = LocalAdapter(root=tmp_path / ".mnops" / "local")
    spec = load_estate(estate, [name]).platform(name).spec
    changed = spec.model_copy(
        update={
            "resources": {
                **spec.resources,
                "jobs": spec.resources["jobs"].model_copy(update={"retention_seconds": 120}),
            }
        }
    )
    local.driver("queue/v1").update(desired_resources(changed)["jobs"], local.observe(name)["jobs"])


def evaluations(result, name):
    return [e for e in result.asset_events if isinstance(e, AssetCheckEvaluation) and e.asset_key.path[-1] == name]


def test_in_sync_instances_are_observed_and_pass(graph_estate):
    with instance_for_test() as instance:
        deploy_all(graph_estate, instance)
        result = tick(build_definitions(graph_estate), graph_estate, instance)
        observations = [e for e in result.asset_events if isinstance(e, AssetObservation)]
        assert {o.asset_key.path[-1] for o in observations} == {"fixer", "watcher", "adopter"}
        assert all(e.passed for e in result.asset_events if isinstance(e, AssetCheckEvaluation))
        assert result.run_requests == []


def test_remediate_requests_one_redeploy_per_drift_and_the_redeploy_fixes_it(graph_estate, tmp_path):
    with instance_for_test() as instance:
        deploy_all(graph_estate, instance)
        tamper(graph_estate, tmp_path, "fixer")
        result = tick(build_definitions(graph_estate), graph_estate, instance)
        [check] = evaluations(result, "fixer")
        assert not check.passed
        drift = check.metadata["drift"].value
        assert drift[0]["resource"] == "jobs" and drift[0]["changes"][0]["before"] == 120
        [request] = result.run_requests
        spec = load_estate(graph_estate, ["fixer"]).platform("fixer").spec
        assert request.run_key.startswith(f"fixer:{spec.config_hash()[:16]}:")
        assert request.asset_selection == [AssetKey(["platform", "fixer"])]
        again = tick(build_definitions(graph_estate), graph_estate, instance, result.cursor)
        # Same drift, same key: Dagster runs it once.
        assert [r.run_key for r in again.run_requests] == [request.run_key]

        job = build_definitions(graph_estate).resolve_implicit_global_asset_job_def()
        assert job.execute_in_process(instance=instance, asset_selection=request.asset_selection).success
        fixed = tick(build_definitions(graph_estate), graph_estate, instance, again.cursor)
        [check] = evaluations(fixed, "fixer")
        assert check.passed and fixed.run_requests == []


def test_alert_only_fails_the_check(graph_estate, tmp_path):
    with instance_for_test() as instance:
        deploy_all(graph_estate, instance)
        tamper(graph_estate, tmp_path, "watcher")
        result = tick(build_definitions(graph_estate), graph_estate, instance)
        [check] = evaluations(result, "watcher")
        assert not check.passed and result.run_requests == []


def test_adopt_writes_a_patch_of_the_instance_file(graph_estate, tmp_path):
    with instance_for_test() as instance:
        deploy_all(graph_estate, instance)
        tamper(graph_estate, tmp_path, "adopter")
        result = tick(build_definitions(graph_estate), graph_estate, instance)
        assert result.run_requests == []
        [patch] = list((tmp_path / ".mnops" / "adopt").glob("adopter-*.patch"))
        text = patch.read_text()
        assert "-    retention_seconds: 3600\n+    retention_seconds: 120\n" in text
        assert text.count("\n-") == 1 and text.count("\n+") == 1 + 1  # one line changed (and the +++ header)
        # The patch applies to the instance's file and the result declares what the provider holds.
        target = graph_estate / "platform-cloud" / "adopter" / "platform.yaml"
        assert "retention_seconds: 3600" in target.read_text()  # written for review, never applied


def test_muted_fields_never_count(graph_estate, tmp_path):
    path = graph_estate / "platform-cloud" / "watcher" / "platform.yaml"
    path.write_text(path.read_text().replace("policy: alert", "policy: alert\n  ignore: [jobs.retention_seconds]"))
    with instance_for_test() as instance:
        deploy_all(graph_estate, instance)
        tamper(graph_estate, tmp_path, "watcher")
        [check] = evaluations(tick(build_definitions(graph_estate), graph_estate, instance), "watcher")
        assert check.passed


def test_a_thousand_instances_are_sharded_across_ticks(graph_estate, monkeypatch):
    from mnops_assets.graph import sensors

    monkeypatch.setattr(sensors, "SHARD_SIZE", 2)
    with instance_for_test() as instance:
        deploy_all(graph_estate, instance)
        first = tick(build_definitions(graph_estate), graph_estate, instance)
        second = tick(build_definitions(graph_estate), graph_estate, instance, first.cursor)
        seen = [
            {e.asset_key.path[-1] for e in r.asset_events if isinstance(e, AssetObservation)} for r in (first, second)
        ]
        assert [len(s) for s in seen] == [2, 2] and seen[0] | seen[1] == {"fixer", "watcher", "adopter"}
