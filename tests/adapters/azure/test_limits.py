"""What Azure refuses is refused by `mnops validate`, at the file and line that asks for it, before any provider is
asked (no server runs here); the drivers refuse the same values from the same table (`adapters/azure/limits.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.azure import limits
from adapters.base import Desired, ResourceKey
from contracts import QueueV1
from mnops_assets.cli import app

runner = CliRunner()


@pytest.fixture
def dev_on_azure(estate_copy: Path) -> Path:
    eco = estate_copy / "ecosystem.yaml"
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n",
            "    default_region: local\n  azure:\n    default_region: westeurope\n"
            "    settings: {subscription_id: '00000000-0000-0000-0000-000000000000'}\n",
        )
    )
    environment = estate_copy / "platform-cloud" / "dev" / "environment.yaml"
    environment.write_text(environment.read_text() + "provider: azure\n")
    return estate_copy


def test_validate_refuses_what_azure_cannot_give_at_its_file_and_line(dev_on_azure):
    platform = dev_on_azure / "platform-cloud" / "dev" / "platform.yaml"
    text = platform.read_text()
    assert "    retention_seconds: 86400\n" in text
    platform.write_text(text.replace("    retention_seconds: 86400\n", "    visibility_timeout_seconds: 600\n"))
    line = text.splitlines().index("    retention_seconds: 86400") + 1
    result = runner.invoke(app, ["validate", "dev", "--estate", str(dev_on_azure)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert (
        f"{platform}:{line}:33: resources.jobs.visibility_timeout_seconds: azure refuses visibility_timeout_seconds: "
        "600 is outside what Service Bus allows for a lock duration (5-300 seconds)"
    ) in result.output


def test_validate_passes_the_shipped_dev_on_azure(dev_on_azure):
    result = runner.invoke(app, ["validate", "dev", "--estate", str(dev_on_azure)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_a_value_within_the_limits_is_not_refused():
    spec = QueueV1.model_validate({"contract": "queue/v1", "visibility_timeout_seconds": 300})
    assert limits.refusals(Desired.build(ResourceKey("dev", "jobs"), spec, {}, "westeurope")) == []
