"""The drift sensor on azure: `dev`, moved to azure by one YAML line and deployed by the CLI through the Dagster graph,
has its log retention changed and a tag removed through the Azure SDKs; the real `drift_sensor` sees both, asks for one
redeploy, and once that run has gone through it sees nothing left to do."""

from __future__ import annotations

import pytest
from dagster import AssetCheckEvaluation, DagsterInstance
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG
from typer.testing import CliRunner

from adapters.azure import names
from adapters.azure.logsink import TABLE
from adapters.base import ResourceKey
from mnops_assets.cli import app
from mnops_assets.definitions import build_definitions
from mnops_assets.graph.factory import SYNC_CHECK, platform_key
from tests.mnops_assets.graph.sensing import tick

runner = CliRunner()
REMOVED_TAG = "cost-center"  # from ecosystem.yaml's defaults: every resource of every instance carries it


@pytest.mark.slow
def test_drift_on_azure_is_seen_by_the_sensor_and_remediated_by_its_run(
    dev_on_azure, make_adapter, tmp_path, monkeypatch
):
    estate = dev_on_azure
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    sdk = make_adapter()
    subscription = sdk.azure.subscription_id
    workspace = names.workspace(subscription, ResourceKey("dev", "app-logs"))
    account = names.storage_account(subscription, ResourceKey("dev", "assets"))
    tables = sdk.azure.client("loganalytics").tables
    accounts = sdk.azure.client("storage").storage_accounts
    try:
        deployed = runner.invoke(app, ["deploy", "dev", "--estate", str(estate)], catch_exceptions=False)
        assert deployed.exit_code == 0 and "deployed" in deployed.output, deployed.output
        with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
            assert instance.get_latest_materialization_event(platform_key("dev")) is not None
            definitions = build_definitions(estate)
            sensor = next(s for s in definitions.sensors if s.name == "drift_sensor")
            assert sync_check(tick(definitions, estate, instance)).passed

            retention = tables.get("mnops-dev", workspace, TABLE).retention_in_days
            tags = dict(accounts.get_properties("mnops-dev", account).tags)
            tables.begin_update(
                "mnops-dev", workspace, TABLE, {"properties": {"retentionInDays": 60, "totalRetentionInDays": 60}}
            ).result()
            accounts.update("mnops-dev", account, {"tags": {k: v for k, v in tags.items() if k != REMOVED_TAG}})

            drifted = tick(definitions, estate, instance)
            check = sync_check(drifted)
            assert not check.passed
            changes = {d["resource"]: d["changes"] for d in check.metadata["drift"].value}
            assert changes == {
                "app-logs": [{"field": "retention_days", "before": 60, "after": retention, "cause": "drift"}],
                "assets": [
                    {"field": f"tags.{REMOVED_TAG}", "before": None, "after": tags[REMOVED_TAG], "cause": "drift"}
                ],
            }
            [request] = drifted.run_requests
            assert request.tags == {"mnops/provider": "azure", "mnops/instance": "dev"}

            job = definitions.resolve_job_def(sensor.job_name)
            launched = {**request.tags, RUN_KEY_TAG: request.run_key, SENSOR_NAME_TAG: sensor.name}
            run = job.execute_in_process(instance=instance, asset_selection=request.asset_selection, tags=launched)
            assert run.success
            assert tables.get("mnops-dev", workspace, TABLE).retention_in_days == retention
            assert dict(accounts.get_properties("mnops-dev", account).tags) == tags
            fixed = tick(definitions, estate, instance, drifted.cursor)
            assert sync_check(fixed).passed and fixed.run_requests == []
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])


def sync_check(result) -> AssetCheckEvaluation:
    [check] = [e for e in result.asset_events if isinstance(e, AssetCheckEvaluation)]
    assert check.asset_key.path == ["observed", "dev"] and check.check_name == SYNC_CHECK
    return check
