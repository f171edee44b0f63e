"""Moving a shipped instance to aws is a one-line change: the same CLI deploys it to moto's server over HTTP, finds a
change made behind its back, and puts it right; a resource stripped of its identity tags is still the same resource."""

from __future__ import annotations

from typer.testing import CliRunner

from mnops_assets.cli import app

runner = CliRunner()


def test_dev_moved_to_aws_deploys_drifts_and_is_remediated(dev_on_aws, estate_client):
    estate = dev_on_aws

    def mnops(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--estate", str(estate)], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    try:
        assert "deployed" in mnops("deploy", "dev", "--direct")
        assert "dev: no changes" in mnops("plan", "dev")
        sqs = estate_client("sqs")
        url = next(u for u in sqs.list_queues(QueueNamePrefix="mnops-dev_jobs")["QueueUrls"] if "dlq" not in u)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "120"})
        drift = mnops("drift", "dev", code=2)
        assert "retention_seconds: 120 -> 86400" in drift and "(changed outside mnops)" in drift
        mnops("deploy", "dev", "--direct")
        assert "dev: in sync" in mnops("drift", "dev")

        # Without its identity tags the tagging API no longer lists the group, but it is there under its name.
        logs = estate_client("logs")
        group = logs.describe_log_groups(logGroupNamePrefix="/mnops/dev/app-logs")["logGroups"][0]
        logs.untag_resource(resourceArn=group["arn"].removesuffix(":*"), tagKeys=["mnops-platform"])
        drift = mnops("drift", "dev", code=2)
        assert "~ app-logs (logging/v1): changed outside mnops" in drift
        assert 'tags.mnops-platform: (none) -> "dev"   (changed outside mnops)' in drift
        mnops("deploy", "dev", "--direct")
        assert "dev: in sync" in mnops("drift", "dev")
        mnops("destroy", "dev")
        assert logs.describe_log_groups(logGroupNamePrefix="/mnops/dev/")["logGroups"] == []
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])
