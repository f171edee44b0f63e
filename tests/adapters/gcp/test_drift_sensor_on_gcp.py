"""The drift sensor on gcp: `dev`, moved to gcp by one YAML line and deployed by the CLI through the Dagster graph, has
a label removed and its queue's retention changed through the client libraries; the real `drift_sensor` sees both,
asks for one redeploy, and once that run has gone through it sees nothing left to do."""

from __future__ import annotations

import pytest
from dagster import AssetCheckEvaluation, DagsterInstance
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG
from typer.testing import CliRunner

from adapters.base import ResourceKey
from mnops_assets.cli import app
from mnops_assets.definitions import build_definitions
from mnops_assets.graph.factory import SYNC_CHECK, platform_key
from tests.mnops_assets.graph.sensing import tick

runner = CliRunner()
REMOVED_LABEL = "cost-center"  # from ecosystem.yaml's defaults: every resource of every instance carries it


@pytest.mark.slow
def test_drift_on_gcp_is_seen_by_the_sensor_and_remediated_by_its_run(dev_on_gcp, make_adapter, tmp_path, monkeypatch):
    estate = dev_on_gcp
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    sdk = make_adapter()
    subscriber = sdk.gcp.subscriber()
    subscription = sdk.queue.subscription(ResourceKey("dev", "jobs"))
    storage = sdk.gcp.storage()
    bucket_name = sdk.storage.bucket(ResourceKey("dev", "assets"))
    try:
        deployed = runner.invoke(app, ["deploy", "dev", "--estate", str(estate)], catch_exceptions=False)
        assert deployed.exit_code == 0 and "deployed" in deployed.output, deployed.output
        with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
            assert instance.get_latest_materialization_event(platform_key("dev")) is not None
            definitions = build_definitions(estate)
            sensor = next(s for s in definitions.sensors if s.name == "drift_sensor")
            assert sync_check(tick(definitions, estate, instance)).passed

            retention = subscriber.get_subscription(subscription=subscription).message_retention_duration
            labels = dict(storage.get_bucket(bucket_name).labels)
            subscriber.update_subscription(
                request={
                    "subscription": {"name": subscription, "message_retention_duration": {"seconds": 7200}},
                    "update_mask": {"paths": ["message_retention_duration"]},
                }
            )
            bucket = storage.get_bucket(bucket_name)
            bucket.labels = {k: v for k, v in labels.items() if k != REMOVED_LABEL}
            bucket.patch()

            drifted = tick(definitions, estate, instance)
            check = sync_check(drifted)
            assert not check.passed
            changes = {d["resource"]: d["changes"] for d in check.metadata["drift"].value}
            assert changes == {
                "jobs": [
                    {
                        "field": "retention_seconds",
                        "before": 7200,
                        "after": int(retention.total_seconds()),
                        "cause": "drift",
                    }
                ],
                "assets": [
                    {"field": f"tags.{REMOVED_LABEL}", "before": None, "after": labels[REMOVED_LABEL], "cause": "drift"}
                ],
            }
            [request] = drifted.run_requests
            assert request.tags == {"mnops/provider": "gcp", "mnops/instance": "dev"}

            job = definitions.resolve_job_def(sensor.job_name)
            launched = {**request.tags, RUN_KEY_TAG: request.run_key, SENSOR_NAME_TAG: sensor.name}
            run = job.execute_in_process(instance=instance, asset_selection=request.asset_selection, tags=launched)
            assert run.success
            assert subscriber.get_subscription(subscription=subscription).message_retention_duration == retention
            assert dict(storage.get_bucket(bucket_name).labels) == labels
            fixed = tick(definitions, estate, instance, drifted.cursor)
            assert sync_check(fixed).passed and fixed.run_requests == []
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])


def sync_check(result) -> AssetCheckEvaluation:
    [check] = [e for e in result.asset_events if isinstance(e, AssetCheckEvaluation)]
    assert check.asset_key.path == ["observed", "dev"] and check.check_name == SYNC_CHECK
    return check
