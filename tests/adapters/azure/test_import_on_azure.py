"""`mnops import` on azure: a deployed platform whose state database was lost is adopted from its resource group's
tags, a storage account stripped of its identity tags is found under the name mnops derives and given them back, and
nothing is made again."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from adapters.azure import names
from adapters.base import IDENTITY_TAGS, ResourceKey
from mnops_assets.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_lost_state_is_imported_from_the_group_and_a_stripped_account_is_tagged_again(
    dev_on_azure, make_adapter, fake, tmp_path
):
    estate = dev_on_azure

    def mnops(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--estate", str(estate)], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    sdk = make_adapter()
    try:
        mnops("deploy", "dev", "--direct")
        made = {rid: resource.get("properties", {}).get("latestRevisionName") for rid, resource in fake.store.items()}
        for path in (tmp_path / ".mnops").glob("state.db*"):
            path.unlink()
        accounts = sdk.azure.client("storage").storage_accounts
        account = names.storage_account(sdk.azure.subscription_id, ResourceKey("dev", "assets"))
        declared = dict(accounts.get_properties("mnops-dev", account).tags)
        accounts.update("mnops-dev", account, {"tags": {k: v for k, v in declared.items() if k not in IDENTITY_TAGS}})

        shown = mnops("import", "dev")
        assert "assets (storage/v1): found by name; identity tags written" in shown
        assert shown.count("found by identity tags") == 6
        assert dict(accounts.get_properties("mnops-dev", account).tags) == declared
        assert "dev: no changes (7 resources up to date)" in mnops("plan", "dev")
        assert "no changes" in mnops("deploy", "dev", "--direct")
        # Nothing made again: the same resources, and the same revision of the container app.
        now = {rid: resource.get("properties", {}).get("latestRevisionName") for rid, resource in fake.store.items()}
        assert now == made
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])
