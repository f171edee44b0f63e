"""Moving a shipped instance to aws is a one-line change: the same CLI deploys it to moto's server over HTTP, finds a
change made behind its back, and puts it right."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
from typer.testing import CliRunner

from adapters.aws import testing
from mnops_assets.cli import app

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


def test_dev_moved_to_aws_deploys_drifts_and_is_remediated(endpoint, tmp_path, monkeypatch):
    # The shipped policies keep data in the EU: the platform's region is eu-west-1, so its network is made there.
    network = testing.make_network(boto3.client("ec2", endpoint_url=endpoint, region_name="eu-west-1"))
    estate = tmp_path / "ecosystem"
    shutil.copytree(REPO / "ecosystem", estate)
    eco = estate / "ecosystem.yaml"
    settings = (
        f"{{endpoint_url: '{endpoint}', subnets: {network['subnets']}, security_groups: {network['security_groups']}, "
        "default_image: 'public.ecr.aws/docker/library/python:3.11', "
        "execution_role_arn: 'arn:aws:iam::123456789012:role/mnops-tasks'}"
    )
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n",
            f"    default_region: local\n  aws:\n    default_region: eu-west-1\n    settings: {settings}\n",
        )
    )
    environment = estate / "platform-cloud" / "dev" / "environment.yaml"
    environment.write_text(environment.read_text() + "provider: aws\n")  # the one-line move
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    def mnops(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--estate", str(estate)], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    try:
        assert "deployed" in mnops("deploy", "dev", "--direct")
        assert "dev: no changes" in mnops("plan", "dev")
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="eu-west-1")
        url = next(u for u in sqs.list_queues(QueueNamePrefix="mnops-dev_jobs")["QueueUrls"] if "dlq" not in u)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "120"})
        drift = mnops("drift", "dev", code=2)
        assert "retention_seconds: 120 -> 86400" in drift and "(changed outside mnops)" in drift
        mnops("deploy", "dev", "--direct")
        assert "dev: in sync" in mnops("drift", "dev")
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])
