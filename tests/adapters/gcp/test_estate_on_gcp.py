"""An instance of the shipped estate on gcp: the provider declared once in ecosystem.yaml with its settings, an
instance of a bucket, a secret and the base template's audit logs deployed by the CLI onto the emulator and the fakes;
a label removed and a retention changed through the client libraries are drift, and a deploy remediates both."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.base import ResourceKey
from adapters.gcp.adapter import GcpAdapter
from mnops_assets.cli import app
from tests.adapters.gcp.conftest import LOCATION, PROJECT
from tests.adapters.gcp.gcs import GcsEmulator
from tests.adapters.gcp.grpc_fakes import Fakes
from tests.adapters.gcp.pubsub import PubSubEmulator

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()
INSTANCE = "lab-dev"
PLATFORM = """\
description: A laboratory on Google Cloud.
template: base
owner: team-storefront
tags:
  service: lab
resources:
  assets:
    contract: storage/v1
    versioning: true
    expire_after_days: 30
  api-key:
    contract: secrets/v1
    from: generate
    rotation_days: 30
"""


@pytest.fixture
def lab(
    gcs: GcsEmulator,
    grpc_fakes: Fakes,
    pubsub_proxy: PubSubEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Path, GcpAdapter]]:
    estate = tmp_path / "ecosystem"
    shutil.copytree(REPO / "ecosystem", estate)
    eco = estate / "ecosystem.yaml"
    settings = (
        f"{{project: {PROJECT}, location: {LOCATION}, anonymous: true, storage_endpoint: '{gcs.url}', "
        f"grpc_endpoint: '{grpc_fakes.address}', pubsub_endpoint: '{pubsub_proxy.address}', retry_seconds: 1}}"
    )
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n",
            f"    default_region: local\n  gcp:\n    default_region: {LOCATION}\n    settings: {settings}\n",
        )
    )
    folder = estate / "platform-cloud" / INSTANCE
    folder.mkdir()
    (folder / "platform.yaml").write_text(PLATFORM)
    (folder / "environment.yaml").write_text(
        (estate / "platform-cloud" / "dev" / "environment.yaml").read_text() + "provider: gcp\n"
    )
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    adapter = GcpAdapter(
        project=PROJECT,
        location=LOCATION,
        anonymous=True,
        storage_endpoint=gcs.url,
        grpc_endpoint=grpc_fakes.address,
        pubsub_endpoint=pubsub_proxy.address,
    )
    yield estate, adapter
    runner.invoke(app, ["destroy", INSTANCE, "--estate", str(estate)])
    adapter.close()
    gcs.wipe()
    grpc_fakes.reset()
    pubsub_proxy.wipe(PROJECT)


def mnops(estate: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--estate", str(estate)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_an_instance_deploys_to_gcp_drifts_and_is_remediated(lab: tuple[Path, GcpAdapter]) -> None:
    estate, adapter = lab
    mnops(estate, "deploy", INSTANCE, "--direct")
    deployed = adapter.observe(INSTANCE)
    assert {name: o.contract for name, o in deployed.items()} == {
        "assets": "storage/v1",
        "api-key": "secrets/v1",
        "audit-logs": "logging/v1",
    }
    mnops(estate, "drift", INSTANCE)

    bucket = adapter.gcp.storage().get_bucket(adapter.storage.bucket(ResourceKey(INSTANCE, "assets")))
    bucket.labels = {k: v for k, v in bucket.labels.items() if k != "cost-center"}
    bucket.patch()
    adapter.gcp.logging_config().update_bucket(
        request={
            "name": deployed["audit-logs"].resource_id,
            "bucket": {"retention_days": 3},
            "update_mask": {"paths": ["retention_days"]},
        }
    )
    report = json.loads(mnops(estate, "drift", INSTANCE, "--format", "json", code=2))
    assert "cost-center" in json.dumps(report) and "retention_days" in json.dumps(report)

    mnops(estate, "deploy", INSTANCE, "--direct")
    mnops(estate, "drift", INSTANCE)
    repaired = adapter.observe(INSTANCE)
    assert repaired["audit-logs"].fields["retention_days"] == 365
    assert repaired["assets"].tags["cost-center"] == "cc-1000"


def test_a_deployed_instance_whose_state_was_lost_is_imported_from_its_labels(
    lab: tuple[Path, GcpAdapter], tmp_path: Path
) -> None:
    estate, adapter = lab
    mnops(estate, "deploy", INSTANCE, "--direct")
    before = {name: o.resource_id for name, o in adapter.observe(INSTANCE).items()}
    secret_value = adapter.secrets.find(ResourceKey(INSTANCE, "api-key"))
    for path in (tmp_path / ".mnops").glob("state.db*"):
        path.unlink()
    mnops(estate, "import", INSTANCE)
    mnops(estate, "drift", INSTANCE)
    after = adapter.observe(INSTANCE)
    assert {name: o.resource_id for name, o in after.items()} == before
    # The generated value was adopted, not made again.
    assert secret_value is not None and after["api-key"].fields["value_hmac"] == secret_value.fields["value_hmac"]
