"""`mnops iam-policy azure|gcp`: a custom role holding what the contracts the chosen instances use need, from tables
kept beside the drivers (every contract a provider declares has its entry), scoped by the provider's settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters import azure, gcp
from adapters.azure import permissions as azure_permissions
from adapters.gcp import permissions as gcp_permissions
from mnops_assets.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"


def test_every_contract_each_provider_runs_has_its_permissions():
    assert set(azure.DRIVERS) == set(azure_permissions.ACTIONS)
    assert set(azure_permissions.DATA_ACTIONS) <= set(azure.DRIVERS)
    assert set(gcp.DRIVERS) == set(gcp_permissions.PERMISSIONS)


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The shipped estate with azure and gcp declared, dev on azure and staging on gcp."""
    root = tmp_path / "ecosystem"
    shutil.copytree(REPO / "ecosystem", root)
    eco = root / "ecosystem.yaml"
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n",
            "    default_region: local\n"
            f"  azure:\n    default_region: westeurope\n    settings: {{subscription_id: '{SUBSCRIPTION}'}}\n"
            "  gcp:\n    default_region: europe-west1\n"
            "    settings: {project: acme-platform, project_identity: labels}\n",
        )
    )
    for instance, provider in (("dev", "azure"), ("staging", "gcp")):
        environment = root / "platform-cloud" / instance / "environment.yaml"
        environment.write_text(environment.read_text() + f"provider: {provider}\n")
    return root


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["iam-policy", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_the_azure_role_holds_what_the_instance_s_contracts_need_at_its_subscription(estate):
    code, output = invoke("azure", "dev", "--estate", str(estate), "--format", "json")
    assert code == 0, output
    document = json.loads(output)
    assert document["instances"] == ["dev"] and document["account"] == SUBSCRIPTION
    used = set(document["contracts"])
    assert used == {"storage/v1", "queue/v1", "secrets/v1", "logging/v1", "compute/v1"}
    role = document["role"]
    assert role["AssignableScopes"] == [f"/subscriptions/{SUBSCRIPTION}"]
    assert set(azure_permissions.COMMON) <= set(role["Actions"])
    assert "Microsoft.ServiceBus/namespaces/queues/write" in role["Actions"]
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in role["DataActions"]
    # Plain output is the bare definition, ready for `az role definition create --role-definition`.
    code, plain = invoke("azure", "dev", "--estate", str(estate))
    assert code == 0 and json.loads(plain) == role


def test_a_role_holds_no_more_than_the_contracts_used():
    role = azure_permissions.role(["logging/v1"], SUBSCRIPTION)
    assert not any(a.startswith("Microsoft.Storage") for a in role["Actions"]) and role["DataActions"] == []
    gcp_role = gcp_permissions.role(["logging/v1"])
    assert all(p.startswith("logging.") for p in gcp_role["includedPermissions"])


def test_the_gcp_role_adds_what_marking_the_project_needs(estate):
    code, output = invoke("gcp", "--all", "--estate", str(estate), "--format", "json")
    assert code == 0, output
    document = json.loads(output)
    assert document["instances"] == ["staging"] and document["account"] == "acme-platform"
    included = set(document["role"]["includedPermissions"])
    assert {"run.services.update", "pubsub.subscriptions.update", "resourcemanager.projects.update"} <= included
    assert document["role"]["stage"] == "GA"


def test_refusals(estate):
    assert invoke("gcp", "dev", "--estate", str(estate))[0] == 1  # dev runs on azure
    assert invoke("gcp", "--estate", str(estate))[0] == 64  # neither INSTANCE nor --all
