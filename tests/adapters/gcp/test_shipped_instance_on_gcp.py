"""Moving a shipped instance to gcp is a one-line change: the same CLI deploys all five contracts to the emulators and
fakes, finds a label removed and a retention changed through the client libraries, puts them right, and adopts what it
made from its labels once its state is lost."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from adapters.base import ResourceKey
from mnops_assets.cli import app

runner = CliRunner()


def cli(estate: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--estate", str(estate)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_dev_moved_to_gcp_deploys_drifts_and_is_remediated(dev_on_gcp, make_adapter):
    estate = dev_on_gcp
    sdk = make_adapter()  # a person with the console's powers, through the same client libraries
    try:
        assert "deployed" in cli(estate, "deploy", "dev", "--direct")
        assert "dev: no changes" in cli(estate, "plan", "dev")
        contracts = {name: o.contract for name, o in sdk.observe("dev").items()}
        assert set(contracts.values()) == {"storage/v1", "queue/v1", "secrets/v1", "logging/v1", "compute/v1"}

        # A retention changed through the client library.
        subscription = sdk.queue.subscription(ResourceKey("dev", "jobs"))
        sdk.gcp.subscriber().update_subscription(
            request={
                "subscription": {"name": subscription, "message_retention_duration": {"seconds": 3600}},
                "update_mask": {"paths": ["message_retention_duration"]},
            }
        )
        drift = cli(estate, "drift", "dev", code=2)
        assert "retention_seconds: 3600 -> 86400" in drift and "(changed outside mnops)" in drift

        # A label removed through the client library.
        bucket = sdk.gcp.storage().get_bucket(sdk.storage.bucket(ResourceKey("dev", "assets")))
        bucket.labels = {k: v for k, v in bucket.labels.items() if k != "cost-center"}
        bucket.patch()
        drift = cli(estate, "drift", "dev", code=2)
        assert "~ assets (storage/v1): changed outside mnops" in drift
        assert 'tags.cost-center: (none) -> "cc-1000"' in drift

        cli(estate, "deploy", "dev", "--direct")
        assert "dev: in sync" in cli(estate, "drift", "dev")
        assert sdk.gcp.subscriber().get_subscription(subscription=subscription).message_retention_duration.days == 1
        cli(estate, "destroy", "dev")
        assert sdk.observe("dev") == {}
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])


def test_dev_on_gcp_whose_state_was_lost_is_imported_from_its_labels_or_its_names(dev_on_gcp, make_adapter, tmp_path):
    estate = dev_on_gcp
    sdk = make_adapter()
    try:
        cli(estate, "deploy", "dev", "--direct")
        before = {name: o.resource_id for name, o in sdk.observe("dev").items()}
        for path in (tmp_path / ".mnops").glob("state.db*"):
            path.unlink()
        # Two resources stripped of their identity labels by hand: found by their derived names, and labelled again.
        subscription = sdk.gcp.subscriber().get_subscription(subscription=before["jobs"])
        sdk.gcp.subscriber().update_subscription(
            request={
                "subscription": {"name": subscription.name, "labels": {"owner": "someone"}},
                "update_mask": {"paths": ["labels"]},
            }
        )
        service = sdk.gcp.run_services().get_service(name=before["api"])
        service.labels.clear()
        sdk.gcp.run_services().update_service(service=service).result()
        assert set(sdk.observe("dev")) == set(before) - {"jobs", "api"}

        cli(estate, "import", "dev")
        assert {name: o.resource_id for name, o in sdk.observe("dev").items()} == before
        assert sdk.observe("dev")["jobs"].tags["owner"] == "someone"
    finally:
        runner.invoke(app, ["destroy", "dev", "--estate", str(estate)])
