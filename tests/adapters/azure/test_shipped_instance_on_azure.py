"""Moving a shipped instance to azure is a one-line change: the same CLI deploys it to the fake Resource Manager over
HTTPS with the real credential chain, finds changes made behind its back through the SDK, and puts them right."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from adapters.azure import names
from adapters.base import ResourceKey
from mnops_assets.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_dev_moved_to_azure_deploys_drifts_and_is_remediated(dev_on_azure, make_adapter):
    estate = dev_on_azure
    sdk = make_adapter()  # a person with the portal's powers, through the same SDKs

    def mnops(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--estate", str(estate)], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    try:
        assert "deployed" in mnops("deploy", "dev", "--direct")
        assert "dev: no changes" in mnops("plan", "dev")

        # A retention changed through the SDK.
        logs = sdk.azure.client("loganalytics")
        workspace = names.workspace(sdk.azure.subscription_id, ResourceKey("dev", "app-logs"))
        logs.tables.begin_update(
            "mnops-dev", workspace, "MnopsLogs_CL", {"properties": {"retentionInDays": 60, "totalRetentionInDays": 60}}
        ).result()
        drift = mnops("drift", "dev", code=2)
        assert "retention_days: 60 -> 14" in drift and "(changed outside mnops)" in drift

        # A tag removed through the SDK.
        storage = sdk.azure.client("storage")
        account = names.storage_account(sdk.azure.subscription_id, ResourceKey("dev", "assets"))
        tags = dict(storage.storage_accounts.get_properties("mnops-dev", account).tags)
        del tags["cost-center"]
        storage.storage_accounts.update("mnops-dev", account, {"tags": tags})
        drift = mnops("drift", "dev", code=2)
        assert "~ assets (storage/v1): changed outside mnops" in drift
        assert 'tags.cost-center: (none) -> "cc-1000"' in drift

        mnops("deploy", "dev", "--direct")
        assert "dev: in sync" in mnops("drift", "dev")
        mnops("destroy", "dev")
        assert sdk.observe("dev") == {}
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])
