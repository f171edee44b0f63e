"""The drift sensor on aws: `dev`, moved to aws by one YAML line and deployed by the CLI through the Dagster graph onto
moto's server, has its log retention changed and a tag removed through the AWS API; the real `drift_sensor` sees both,
asks for one redeploy, and once that run has gone through it sees nothing left to do."""

from __future__ import annotations

from dagster import AssetCheckEvaluation, DagsterInstance, RunsFilter
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG
from typer.testing import CliRunner

from mnops_assets.cli import app
from mnops_assets.definitions import build_definitions
from mnops_assets.estate import load_estate
from mnops_assets.graph.factory import SYNC_CHECK, platform_key
from tests.mnops_assets.graph.sensing import tick

runner = CliRunner()
LOG_GROUP = "/mnops/dev/app-logs"
BUCKET_PREFIX = "mnops-dev-assets-"
REMOVED_TAG = "cost-center"  # from ecosystem.yaml's defaults: every resource of every instance carries it


def test_drift_on_aws_is_seen_by_the_sensor_and_remediated_by_its_run(dev_on_aws, estate_client, tmp_path, monkeypatch):
    estate = dev_on_aws
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))  # the Dagster instance `mnops deploy` runs on
    logs, s3 = estate_client("logs"), estate_client("s3")
    try:
        deployed = runner.invoke(app, ["deploy", "dev", "--estate", str(estate)], catch_exceptions=False)
        assert deployed.exit_code == 0 and "deployed" in deployed.output, deployed.output
        with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
            assert instance.get_latest_materialization_event(platform_key("dev")) is not None  # a run, not --direct
            definitions = build_definitions(estate)
            sensor = next(s for s in definitions.sensors if s.name == "drift_sensor")
            assert sync_check(tick(definitions, estate, instance)).passed

            retention = retention_days(logs)
            bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(BUCKET_PREFIX))
            tags = bucket_tags(s3, bucket)
            hurt(logs, s3, bucket, tags)

            drifted = tick(definitions, estate, instance)
            check = sync_check(drifted)
            assert not check.passed
            changes = {d["resource"]: d["changes"] for d in check.metadata["drift"].value}
            assert changes == {
                "app-logs": [{"field": "retention_days", "before": 3, "after": retention, "cause": "drift"}],
                "assets": [
                    {"field": f"tags.{REMOVED_TAG}", "before": None, "after": tags[REMOVED_TAG], "cause": "drift"}
                ],
            }
            [request] = drifted.run_requests
            spec = load_estate(estate, ["dev"]).platform("dev").spec
            observed_hash = check.metadata["observed_hash"].value
            assert request.run_key == f"dev:{spec.config_hash()[:16]}:v1:{observed_hash[:16]}"
            assert request.asset_selection == [platform_key("dev")]
            assert request.tags == {"mnops/provider": "aws", "mnops/instance": "dev"}
            again = tick(definitions, estate, instance, drifted.cursor)
            assert [r.run_key for r in again.run_requests] == [request.run_key]  # same drift: Dagster runs it once

            # What the daemon would launch: the sensor's own job, for the selection it asked for, tagged as its run.
            job = definitions.resolve_job_def(sensor.job_name)
            launched = {**request.tags, RUN_KEY_TAG: request.run_key, SENSOR_NAME_TAG: sensor.name}
            run = job.execute_in_process(instance=instance, asset_selection=request.asset_selection, tags=launched)
            assert run.success
            [materialization] = run.get_asset_materialization_events()
            plan = materialization.materialization.metadata["plan"].value
            assert sorted((s["resource"], s["action"]) for s in plan["steps"]) == [
                ("app-logs", "update"),
                ("assets", "update"),
            ]
            assert retention_days(logs) == retention and bucket_tags(s3, bucket) == tags
            fixed = tick(definitions, estate, instance, again.cursor)
            assert sync_check(fixed).passed and fixed.run_requests == []

            # The same change made again is new drift: a key no run of the sensor has, so the daemon launches it.
            hurt(logs, s3, bucket, tags)
            [recurred] = tick(definitions, estate, instance, fixed.cursor).run_requests
            assert recurred.run_key == request.run_key.replace(":v1:", ":v2:")
            assert not instance.get_runs(RunsFilter(tags={RUN_KEY_TAG: recurred.run_key, SENSOR_NAME_TAG: sensor.name}))
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])


def test_drift_on_aws_under_an_alert_policy_only_fails_the_check(dev_on_aws, estate_client):
    estate = dev_on_aws
    environment = estate / "platform-cloud" / "dev" / "environment.yaml"
    environment.write_text(environment.read_text().replace("policy: remediate", "policy: alert"))
    logs = estate_client("logs")
    try:
        # The deploy is not what this test is about: the engine alone, a second faster than a Dagster run.
        deployed = runner.invoke(app, ["deploy", "dev", "--direct", "--estate", str(estate)], catch_exceptions=False)
        assert deployed.exit_code == 0, deployed.output
        logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=3)
        with DagsterInstance.ephemeral() as instance:
            result = tick(build_definitions(estate), estate, instance)
        assert not sync_check(result).passed and result.run_requests == []
        assert retention_days(logs) == 3
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])


def sync_check(result) -> AssetCheckEvaluation:
    """dev's `is_in_sync`: the only one the sensor records, the other instances never having been deployed."""
    [check] = [e for e in result.asset_events if isinstance(e, AssetCheckEvaluation)]
    assert check.asset_key.path == ["observed", "dev"] and check.check_name == SYNC_CHECK
    return check


def hurt(logs, s3, bucket, tags) -> None:
    """Shorten the app logs' retention and take a tag off the assets bucket, as someone in the AWS console would."""
    logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=3)
    remaining = [{"Key": k, "Value": v} for k, v in tags.items() if k != REMOVED_TAG]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": remaining})


def retention_days(logs) -> int:
    [group] = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
    return group["retentionInDays"]


def bucket_tags(s3, bucket) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
