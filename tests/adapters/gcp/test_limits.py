"""What GCP cannot hold is refused by `mnops validate`, at the file and line that asks for it, before any provider is
asked (no server runs here); the drivers refuse the same values from the same table (`adapters/gcp/limits.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.base import Desired, ResourceKey
from adapters.gcp import limits
from contracts import QueueV1
from mnops_assets.cli import app

runner = CliRunner()


@pytest.fixture
def dev_on_gcp(estate_copy: Path) -> Path:
    eco = estate_copy / "ecosystem.yaml"
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n",
            "    default_region: local\n"
            "  gcp:\n    default_region: europe-west1\n    settings: {project: mnops-test}\n",
        )
    )
    environment = estate_copy / "platform-cloud" / "dev" / "environment.yaml"
    environment.write_text(environment.read_text() + "provider: gcp\n")
    return estate_copy


@pytest.mark.parametrize(
    ("line", "field", "why"),
    [
        (
            "    visibility_timeout_seconds: 601\n",
            "visibility_timeout_seconds",
            "601 is outside what Pub/Sub allows for an ack deadline (10-600 seconds)",
        ),
        (
            "    retention_seconds: 1209600\n",
            "retention_seconds",
            "1209600 is outside how long a Pub/Sub subscription keeps messages",
        ),
    ],
)
def test_validate_refuses_what_pubsub_cannot_hold_at_its_file_and_line(dev_on_gcp, line, field, why):
    platform = dev_on_gcp / "platform-cloud" / "dev" / "platform.yaml"
    text = platform.read_text()
    assert "    retention_seconds: 86400\n" in text
    platform.write_text(text.replace("    retention_seconds: 86400\n", line))
    at = text.splitlines().index("    retention_seconds: 86400") + 1
    result = runner.invoke(app, ["validate", "dev", "--estate", str(dev_on_gcp)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert f"{platform}:{at}:" in result.output
    assert f"resources.jobs.{field}: gcp refuses {field}: {why}" in result.output


def test_validate_refuses_a_dead_letter_count_pubsub_cannot_hold(dev_on_gcp):
    platform = dev_on_gcp / "platform-cloud" / "dev" / "platform.yaml"
    text = platform.read_text()
    platform.write_text(text.replace("    retention_seconds: 86400\n", "    dead_letter: {max_receives: 1000}\n"))
    result = runner.invoke(app, ["validate", "dev", "--estate", str(dev_on_gcp)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "resources.jobs.dead_letter: gcp refuses dead_letter, max_receives: 1000 is outside" in result.output


def test_validate_passes_the_shipped_dev_on_gcp(dev_on_gcp):
    result = runner.invoke(app, ["validate", "dev", "--estate", str(dev_on_gcp)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_validate_refuses_more_cpu_than_cloud_run_gives(dev_on_gcp):
    platform = dev_on_gcp / "platform-cloud" / "dev" / "platform.yaml"
    platform.write_text(platform.read_text() + "  api:\n    cpu: 16\n")
    result = runner.invoke(app, ["validate", "dev", "--estate", str(dev_on_gcp)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert (
        "resources.api.cpu: gcp refuses cpu, memory_mb: Cloud Run runs at most 8 vCPUs and 32768 MiB" in result.output
    )


def test_values_within_the_limits_are_not_refused():
    spec = QueueV1.model_validate(
        {"contract": "queue/v1", "visibility_timeout_seconds": 600, "dead_letter": {"max_receives": 100}}
    )
    assert limits.refusals(Desired.build(ResourceKey("dev", "jobs"), spec, {}, "europe-west1")) == []
