"""The least IAM policy the aws adapter needs, made from what each driver declares (`AwsDriver.PERMISSIONS`).

Each driver declares the IAM actions of every call it makes, next to those calls, as `Grant`s: actions and the
resources they may touch, written as ARN templates (`{partition}`, `{region}`, `{account}`) inside mnops's
namespaces (`mnops-*`, `mnops/*`, `/mnops/*`). `COMMON` is what every aws adapter needs whatever it runs: the tagging
API's listing, the caller's identity (bucket names include the account) and the HMAC key's secret. `policy` joins the
grants of the contracts an estate uses into one IAM policy document, with the account and region filled in where they
are known and `*` where not; an action whose resource AWS cannot scope is granted on `*` alone.

`iam_action` names the IAM action a boto3 call needs, so a test can check every call the drivers make against what
they declare, and `tests/adapters/aws/test_least_privilege.py` runs the conformance flows as a user holding exactly the
generated policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

POLICY_VERSION = "2012-10-17"
ACCOUNT = re.compile(r"^\d{12}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")

# The IAM prefix of each boto3 service the adapter calls, where it is not the service's own name.
_PREFIX = {"resourcegroupstaggingapi": "tag"}
# Calls whose IAM action is not the prefix and the API operation's name.
_ACTION = {
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "DeleteBucketLifecycle"): "s3:PutLifecycleConfiguration",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action a call of API `operation` (`GetBucketEncryption`) of boto3 service `service` (`s3`) needs."""
    return _ACTION.get((service, operation), f"{_PREFIX.get(service, service)}:{operation}")


@dataclass(frozen=True)
class Grant:
    """`actions` allowed on `resources` (ARN templates with `{partition}`, `{region}`, `{account}`, or `*`)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)


# What every aws adapter needs: the tagging API lists every service's candidates; STS says which account bucket names
# derive from; the HMAC key (a secret of the adapter's own) compares secret values and a compute env's credentials.
HMAC_KEY = "arn:{partition}:secretsmanager:{region}:{account}:secret:mnops/_adapter/hmac-key-*"
COMMON: tuple[Grant, ...] = (
    Grant(("tag:GetResources", "sts:GetCallerIdentity")),
    Grant(
        ("secretsmanager:GetSecretValue", "secretsmanager:CreateSecret", "secretsmanager:TagResource"),
        (HMAC_KEY,),
    ),
)


def _fill(template: str, values: Mapping[str, str]) -> str:
    return template.format_map(values)


def policy(
    grants: Iterable[Grant],
    *,
    account: str | None = None,
    regions: Iterable[str] = (),
    partition: str = "aws",
    pass_roles: Iterable[str] = (),
) -> dict[str, Any]:
    """One IAM policy document allowing `grants` and `COMMON`, one statement per set of resources, sorted.

    `account` and `regions` fill the ARN templates (None and none: `*`); `pass_roles` are the ECS task roles the
    adapter hands to ECS (`iam:PassRole`, scoped to them and to ECS tasks)."""
    if account is not None and not ACCOUNT.match(account):
        raise ValueError(f"{account!r} is not an AWS account id (12 digits)")
    chosen = sorted(set(regions)) or ["*"]
    for region in chosen:
        if region != "*" and not REGION.match(region):
            raise ValueError(f"{region!r} is not an AWS region name")
    by_resources: dict[tuple[str, ...], set[str]] = {}
    for grant in (*COMMON, *grants):
        resources = sorted(
            {
                _fill(template, {"partition": partition, "region": region, "account": account or "*"})
                for template in grant.resources
                for region in chosen
            }
        )
        by_resources.setdefault(tuple(resources), set()).update(grant.actions)
    # An action granted on "*" needs no narrower grant beside it.
    everywhere = by_resources.get(("*",), set())
    statements = []
    for resources, actions in sorted(by_resources.items(), key=lambda item: (item[0] != ("*",), item[0])):
        kept = sorted(actions if resources == ("*",) else actions - everywhere)
        if not kept:
            continue
        statements.append(
            {
                "Sid": _sid(resources),
                "Effect": "Allow",
                "Action": kept,
                "Resource": resources[0] if len(resources) == 1 else list(resources),
            }
        )
    roles = sorted(set(pass_roles))
    if roles:
        statements.append(
            {
                "Sid": "PassTaskRoles",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": roles[0] if len(roles) == 1 else roles,
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            }
        )
    _unique_sids(statements)
    return {"Version": POLICY_VERSION, "Statement": statements}


def _sid(resources: tuple[str, ...]) -> str:
    if resources == ("*",):
        return "Unscoped"
    first = resources[0]
    service = first.split(":")[2] if first.startswith("arn:") else "any"
    return "".join(part.capitalize() for part in re.split(r"[^a-z0-9]+", service) if part) or "Scoped"


def _unique_sids(statements: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for statement in statements:
        sid = statement["Sid"]
        seen[sid] = seen.get(sid, 0) + 1
        if seen[sid] > 1:
            statement["Sid"] = f"{sid}{seen[sid]}"


def account_of(arn: str | None) -> str | None:
    """The account id in an ARN (a role's), if it has one."""
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and ACCOUNT.match(parts[4]) else None


def driver_grants(contracts: Iterable[str]) -> list[Grant]:
    """The grants the drivers of `contracts` declare (`PERMISSIONS`); KeyError for a contract aws does not run."""
    from importlib import import_module

    from adapters.aws import DRIVERS

    found: list[Grant] = []
    for contract in sorted(set(contracts)):
        module, name = DRIVERS[contract]
        found.extend(getattr(import_module(module), name).PERMISSIONS)
    return found
