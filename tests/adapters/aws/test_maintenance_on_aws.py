"""Housekeeping on aws: `dev`, moved to aws by one YAML line with its API key rotated daily, is deployed onto moto's
server; the daily `maintenance_schedule`'s job, run in process with the adapters' clock moved past a day, puts a new
version of the secret and restarts the ECS service that reads it (a new deployment, whose tasks fetch the secret's
current version by ARN), with an audit trail naming the version and holding no value."""

from __future__ import annotations

import datetime
import json

from dagster import DagsterInstance, build_schedule_context

from adapters.aws import names
from adapters.base import ResourceKey
from mnops_assets.definitions import build_definitions
from mnops_assets.engine import audit
from mnops_assets.engine.runtime import open_engine
from mnops_assets.estate import load_estate
from tests.mnops_assets.engine.reader import move_adapter_clocks

DAY = 86400
API = ResourceKey("dev", "api")
API_KEY = ResourceKey("dev", "api-key")


def service(ecs) -> dict:
    return ecs.describe_services(cluster=names.cluster("dev"), services=[names.service(API)])["services"][0]


def test_the_schedule_rotates_a_secret_on_aws_and_restarts_the_service_reading_it(
    dev_on_aws, estate_client, monkeypatch
):
    estate = dev_on_aws
    platform = estate / "platform-cloud" / "dev" / "platform.yaml"
    platform.write_text(platform.read_text() + "  api-key:\n    rotation_days: 1\n")
    secrets, ecs = estate_client("secretsmanager"), estate_client("ecs")
    engine = open_engine(load_estate(estate, ["dev"]))
    try:
        engine.deploy(load_estate(estate, ["dev"]).platform("dev").spec)
        first = service(ecs)["deployments"][0]["id"]
        arn = secrets.describe_secret(SecretId=names.secret(API_KEY))["ARN"]
        old_value = secrets.get_secret_value(SecretId=arn)["SecretString"]
        seqs = len(audit.records(engine.store))

        definitions = build_definitions(estate)
        schedule = definitions.resolve_schedule_def("maintenance_schedule")
        with DagsterInstance.ephemeral() as instance:
            tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
            [request] = schedule.evaluate_tick(
                build_schedule_context(instance=instance, scheduled_execution_time=tomorrow)
            ).run_requests
            move_adapter_clocks(monkeypatch, 2 * DAY)
            job = definitions.resolve_job_def(schedule.job_name)
            run = job.execute_in_process(instance=instance, tags=request.tags, run_config=request.run_config)
            assert run.success
            outputs = run.output_for_node("maintain_platforms")
        assert list(outputs) == ["dev"]  # the 19 instances never deployed are left alone
        assert outputs["dev"]["rotated"] == ["api-key"] and outputs["dev"]["restarted"] == ["api"]
        assert outputs["dev"]["error"] is None

        current = secrets.get_secret_value(SecretId=arn)
        assert current["SecretString"] != old_value
        restarted = service(ecs)
        assert restarted["deployments"][0]["id"] != first  # the tasks are replaced...
        definition = ecs.describe_task_definition(taskDefinition=restarted["taskDefinition"])["taskDefinition"]
        [container] = definition["containerDefinitions"]
        # ...and new tasks fetch the secret by ARN when they start: its current version is the rotated value.
        assert {"name": "API_KEY", "valueFrom": arn} in container["secrets"]

        records = audit.records(engine.store)[seqs:]
        kinds = [r.type.removeprefix(audit.EVENT_PREFIX) for r in records]
        assert kinds == ["secret.rotated", "maintain.started", "step.update", "maintain.succeeded"]
        rotated = records[0].event["data"]
        assert rotated["resource"] == "api-key" and rotated["detail"] == f"version {current['VersionId']}"
        trail = json.dumps([r.event for r in records])
        assert old_value not in trail and current["SecretString"] not in trail
        # Housekeeping is no change: the platform is in sync with what was deployed.
        assert engine.inspect([load_estate(estate, ["dev"]).platform("dev").spec])["dev"].in_sync
    finally:
        engine.destroy(load_estate(estate, ["dev"]).platform("dev").spec, force=True)
        engine.close()
