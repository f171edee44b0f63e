"""`mnops iam-policy aws`: the policy for what an instance on aws declares, its account and region filled in from the
provider's settings; refusals for an instance elsewhere and for an unknown provider; and docs/aws.md's
Permissions table kept equal to what the drivers declare."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.aws import DRIVERS, permissions
from mnops_assets.cli import app

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()
ROLE = "arn:aws:iam::210987654321:role/mnops-tasks"


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The shipped estate with the aws provider declared and `dev` moved onto it."""
    root = tmp_path / "ecosystem"
    shutil.copytree(REPO / "ecosystem", root)
    eco = root / "ecosystem.yaml"
    settings = f"{{subnets: subnet-0a1b, execution_role_arn: '{ROLE}'}}"
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n",
            f"    default_region: local\n  aws:\n    default_region: eu-west-1\n    settings: {settings}\n",
        )
    )
    environment = root / "platform-cloud" / "dev" / "environment.yaml"
    environment.write_text(environment.read_text() + "provider: aws\n")
    return root


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["iam-policy", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_the_policy_covers_the_instances_contracts_scoped_to_its_account_and_region(estate: Path) -> None:
    code, output = invoke("aws", "dev", "--estate", str(estate), "--format", "json")
    assert code == 0, output
    document = json.loads(output)
    assert document["format_version"] == 1
    assert document["instances"] == ["dev"]
    assert document["account"] == "210987654321"
    assert document["regions"] == ["eu-west-1"]
    policy = document["policy"]
    expected = permissions.policy(
        permissions.driver_grants(document["contracts"]),
        account="210987654321",
        regions=["eu-west-1"],
        pass_roles=[ROLE] if "compute/v1" in document["contracts"] else [],
    )
    assert policy == expected
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"tag:GetResources", "sts:GetCallerIdentity", "secretsmanager:GetSecretValue"} <= actions
    for statement in policy["Statement"]:
        for resource in [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]:
            assert resource == "*" or re.search(r"mnops[-/]|/mnops/|:role/", resource), resource
            assert resource == "*" or ":s3:::" in resource or "210987654321" in resource, resource
    # Plain output is the policy document itself, ready for `aws iam create-policy --policy-document`.
    code, plain = invoke("aws", "dev", "--estate", str(estate), "--account", "111122223333")
    assert code == 0
    assert json.loads(plain) == permissions.policy(
        permissions.driver_grants(document["contracts"]),
        account="111122223333",
        regions=["eu-west-1"],
        pass_roles=[ROLE] if "compute/v1" in document["contracts"] else [],
    )


def test_all_takes_every_instance_on_aws_and_only_those(estate: Path) -> None:
    code, output = invoke("aws", "--all", "--estate", str(estate), "--format", "json")
    assert code == 0, output
    assert json.loads(output)["instances"] == ["dev"]


def test_refusals(estate: Path) -> None:
    assert invoke("aws", "prod", "--estate", str(estate))[0] == 1  # prod runs on local
    assert invoke("nimbus", "--all", "--estate", str(estate))[0] == 64
    assert invoke("aws", "--estate", str(estate))[0] == 64  # neither INSTANCE nor --all
    assert invoke("aws", "dev", "--estate", str(estate), "--account", "12")[0] == 64


def test_docs_permissions_table_is_what_the_drivers_declare() -> None:
    text = (REPO / "docs" / "aws.md").read_text()
    section = text.split("## Permissions", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] in (*DRIVERS, "every adapter"):
            documented[cells[0]] = set(re.findall(r"`([a-z0-9]+:[A-Za-z]+)`", cells[1]))
    declared = {c: {a for g in permissions.driver_grants([c]) for a in g.actions} for c in DRIVERS}
    declared["every adapter"] = {a for g in permissions.COMMON for a in g.actions}
    assert documented == declared


def test_the_policy_for_every_contract_fits_a_managed_policy() -> None:
    """AWS takes at most 6,144 characters (whitespace aside) in a customer managed policy."""
    document = permissions.policy(
        permissions.driver_grants(DRIVERS),
        account="123456789012",
        regions=["eu-west-1", "us-east-1"],
        pass_roles=[ROLE],
    )
    assert len(json.dumps(document, separators=(",", ":"))) <= 6144
