"""Least privilege: the conformance flows of each contract (create, observe, update, health, list, delete), run as an
IAM user holding exactly the policy `permissions.policy` generates for that contract, on a moto server of its own
with authorization enforced on every call (`INITIAL_NO_AUTH_ACTION_COUNT=0`). A call the drivers make without
declaring its permission is refused by moto and fails the flow; so does an action declared under the wrong contract.

Every call the drivers can make is also checked statically against what they declare (`test_every_call_*`), for the
calls no flow here reaches (the VPC's default security group).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

from adapters.aws import DRIVERS, permissions, testing
from adapters.aws.adapter import AwsAdapter
from tests.adapters.conformance import CASES, desired_for, differences

REGION = testing.REGION
ACCOUNT = "123456789012"  # moto's default account
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mnops-task-execution"

# moto checks three actions under other names than AWS's; the generated (production) policy keeps AWS's names, and
# only this test policy adds moto's beside them.
MOTO_ALIASES = {
    "tag:GetResources": "tagging:GetResources",
    "s3:GetEncryptionConfiguration": "s3:ListBucket",
    "s3:GetBucketPublicAccessBlock": "s3:ListBucket",
}


def _checked_against_everything(action: str) -> bool:
    """moto scopes by resource only S3 and SQS (an existing queue); it checks every other call, and SQS's CreateQueue
    and GetQueueUrl, against "*", so a scoped statement for them could never match on moto."""
    service = action.split(":", 1)[0]
    return service not in ("s3", "sqs") or action in ("sqs:CreateQueue", "sqs:GetQueueUrl")


def moto_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The generated policy as moto can check it: the same actions, moto's aliases beside three of them, and the
    actions moto checks against "*" moved onto "*" (it cannot scope them; AWS does)."""
    statements: list[dict[str, Any]] = []
    unscoped: set[str] = set()
    for statement in policy["Statement"]:
        actions = set(statement["Action"])
        actions |= {MOTO_ALIASES[a] for a in actions if a in MOTO_ALIASES}
        if statement["Resource"] == "*":
            unscoped |= actions
            continue
        moved = {a for a in actions if _checked_against_everything(a)}
        unscoped |= moved
        if actions - moved:
            statements.append({**statement, "Action": sorted(actions - moved)})
    statements.insert(0, {"Sid": "CheckedOnEverything", "Effect": "Allow", "Action": sorted(unscoped), "Resource": "*"})
    return {"Version": policy["Version"], "Statement": statements}


def generated(contract: str) -> dict[str, Any]:
    return permissions.policy(
        permissions.driver_grants([contract]), account=ACCOUNT, regions=[REGION], pass_roles=[EXECUTION_ROLE]
    )


@pytest.fixture(scope="module")
def enforcing() -> Iterator[tuple[testing.MotoProcess, dict[str, Any]]]:
    """A moto server of this module's own enforcing IAM, one user per contract holding that contract's policy (made
    in the set-up window), and a network for compute: (server, {contract: (key id, secret), "network": ...})."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in testing.ENVIRONMENT.items():
            patch.setenv(name, value)
        for name in testing.UNSET:
            patch.delenv(name, raising=False)
        server = testing.MotoProcess({"INITIAL_NO_AUTH_ACTION_COUNT": "0", **testing.ENVIRONMENT})
        try:
            made: dict[str, Any] = {}
            with server.unauthorized():
                admin = boto3.Session(region_name=REGION)
                iam = admin.client("iam", endpoint_url=server.url)
                for number, contract in enumerate(CASES):
                    user = f"mnops-deployer-{number}"
                    iam.create_user(UserName=user)
                    document = json.dumps(moto_policy(generated(contract)))
                    arn = iam.create_policy(PolicyName=f"{user}-policy", PolicyDocument=document)["Policy"]["Arn"]
                    iam.attach_user_policy(UserName=user, PolicyArn=arn)
                    key = iam.create_access_key(UserName=user)["AccessKey"]
                    made[contract] = (key["AccessKeyId"], key["SecretAccessKey"])
                made["network"] = testing.make_network(admin.client("ec2", endpoint_url=server.url))
            yield server, made
        finally:
            server.stop()


def test_the_server_refuses_what_the_policy_does_not_grant(enforcing: tuple[testing.MotoProcess, Any]) -> None:
    """The premise: this server enforces IAM, so a call outside a user's policy fails."""
    server, made = enforcing
    key, secret = made["queue/v1"]
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION)
    with pytest.raises(Exception, match="AccessDenied|not authorized"):
        session.client("s3", endpoint_url=server.url).create_bucket(Bucket="mnops-not-granted")


@pytest.mark.parametrize("contract", list(CASES))
def test_the_conformance_flows_need_nothing_beyond_the_generated_policy(
    enforcing: tuple[testing.MotoProcess, Any], contract: str, tmp_path: Path
) -> None:
    server, made = enforcing
    key, secret = made[contract]
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION)
    network = made["network"]
    adapter = AwsAdapter(
        region=REGION,
        endpoint_url=server.url,
        max_attempts=1,
        execution_role_arn=EXECUTION_ROLE,
        default_image="public.ecr.aws/docker/library/python:3.12-slim",
        health_poll_seconds=0.02,
        base_dir=tmp_path,
        session=session,
        subnets=network["subnets"],
        security_groups=network["security_groups"],
    )
    try:
        driver = adapter.driver(contract)
        target = _target(adapter)
        # A platform of its own per contract: what a failed flow leaves cannot be listed by the next one.
        platform = "lp-" + contract.split("/")[0]
        desired = desired_for(target, contract, platform=platform)
        created = driver.create(desired)
        assert not differences(driver, desired, created)
        assert adapter.observe(desired.key.platform)[desired.key.name].contract == contract
        assert desired.key.platform in adapter.platforms()
        assert driver.create(desired).resource_id == created.resource_id  # converging over what exists
        wanted = desired_for(target, contract, platform=platform, updated=True)
        updated = driver.update(wanted, created)
        assert not differences(driver, wanted, updated)
        assert driver.health(updated).healthy
        assert driver.outputs(updated)
        driver.delete(updated)
        assert driver.find(desired.key) is None
        assert desired.key.name not in adapter.observe(desired.key.platform)
        driver.delete(updated)
    finally:
        adapter.close()


def _target(adapter: AwsAdapter) -> Any:
    from tests.adapters.conformance import Target

    return Target(adapter, REGION, tamper=lambda o: None, break_resource=lambda o: None, failing=None)  # type: ignore[arg-type]


# -- every call the drivers make is declared --------------------------------------------------------------------------

_CALL = re.compile(r"\.(?:get_paginator\(\"([a-z_0-9]+)\"\)|([a-z][a-z_0-9]+)\()")
_SERVICES = ("s3", "sqs", "secretsmanager", "logs", "ecs", "ec2", "rds", "sts", "resourcegroupstaggingapi")


@functools.cache
def _operations() -> dict[str, dict[str, str]]:
    """boto3 service -> python method name -> API operation name."""
    session = botocore.session.get_session()
    found = {}
    for service in _SERVICES:
        client = session.create_client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        found[service] = dict(client.meta.method_to_api_mapping)
        client.close()
    return found


def _calls(source: str, operations: dict[str, dict[str, str]]) -> set[tuple[str, str]]:
    """(service, operation) of every call in `source` whose method name is an operation of one of the services."""
    found = set()
    for match in _CALL.finditer(source):
        method = match.group(1) or match.group(2)
        for service, methods in operations.items():
            if method in methods:
                found.add((service, methods[method]))
    return found


@pytest.mark.parametrize("contract", list(DRIVERS))
def test_every_call_a_driver_makes_has_its_permission_declared(contract: str) -> None:
    module, name = DRIVERS[contract]
    driver = getattr(import_module(module), name)
    declared = {action for grant in driver.PERMISSIONS for action in grant.actions}
    declared_services = {action.split(":", 1)[0] for action in declared}
    operations = _operations()
    source = Path(import_module(module).__file__ or "").read_text()
    # A method name several services share (tag_resource) counts for the services the driver declares.
    calls = {
        (s, op)
        for s, op in _calls(source, operations)
        if permissions.iam_action(s, op).split(":")[0] in declared_services
    }
    assert calls, f"no call found in {module}"
    missing = sorted({permissions.iam_action(s, op) for s, op in calls} - declared)
    assert not missing, f"{name} calls without declaring: {missing}"


def test_what_every_adapter_calls_is_in_the_common_grants() -> None:
    source = Path(import_module("adapters.aws.context").__file__ or "").read_text()
    calls = _calls(source, _operations())
    common = {action for grant in permissions.COMMON for action in grant.actions}
    needed = {permissions.iam_action(s, op) for s, op in calls if s in ("sts", "resourcegroupstaggingapi")}
    needed |= {"secretsmanager:GetSecretValue", "secretsmanager:CreateSecret"}
    assert needed <= common, sorted(needed - common)
