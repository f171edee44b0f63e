"""Governance side by side: the generated estate, with violations planted, judged by `mnops enforce` and, rendered as
Terraform JSON for the same resources, by checkov restricted to the checks equivalent to mnops's rules.

Both run as the commands a user would run, each in a process of its own; wall time and CPU seconds (of the process
and of whatever it waits for) are measured for each. Findings are compared pair by pair: the same resources flagged?
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks.generate import generate_estate
from benchmarks.governance import install_policies
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance import evaluate, load_governed
from mnops_assets.governance.loading import GOVERNANCE_DIR, POLICIES_FILE

AS_OF = "2026-01-01"
Target = tuple[str, str]  # (instance, resource)


@dataclass(frozen=True)
class Pair:
    rule: str
    terraform: str
    """The checkov check judging the same thing on the Terraform resource."""
    cloudformation: str | None
    """The same for CloudFormation, where checkov has one that can fail."""
    note: str
    """How the check differs from the rule. None of checkov's checks knows tiers: each judges every tier."""


# Each mnops rule with the checkov check that judges the same thing on the same resource, where one exists.
PAIRS = (
    Pair(
        "GL-STO-01",
        "CKV_AWS_145",
        None,
        "KMS by default; CKV_AWS_19 passes a bucket without settings (S3 encrypts by default)",
    ),
    Pair("GL-STO-02", "CKV_AWS_21", "CKV_AWS_21", ""),
    Pair("GL-STO-03", "CKV_AWS_20", "CKV_AWS_20", "a public-read ACL"),
    Pair("GL-QUEUE-01", "CKV_AWS_27", "CKV_AWS_27", ""),
    Pair("GL-LOG-01", "CKV_AWS_338", None, "at least 365 days (mnops: 90); CloudFormation: none"),
    Pair("GL-SEC-01", "CKV2_AWS_57", None, "rotation on at all (mnops: at most 90 days); CloudFormation: none"),
)
UNPAIRED = {
    "GL-NAME-01": "naming of instances",
    "GL-NAME-02": "naming of secrets",
    "GL-NAME-03": "naming of log sinks",
    "GL-NAME-04": "naming of buckets",
    "GL-TAG-01": "required tags with value patterns (checkov: a custom policy, none built in)",
    "GL-TAG-02": "a prod bucket's own data-classification tag",
    "GL-REGION-01": "allowed regions by provider",
    "GL-CONTRACT-01": "certified contract versions (no such notion)",
    "GL-TENANT-01": "customer tenants are prod (no such notion)",
    "GL-PROD-01": "protection from destruction (prevent_destroy is not checked)",
    "GL-PROD-02": "drift policy (no such notion)",
    "GL-STO-04": "public and confidential together",
    "GL-QUEUE-02": "minimum message retention",
    "GL-QUEUE-03": "FIFO queue without dead-letter queue",
    "GL-LOG-02": "maximum log retention",
    "GL-LOG-03": "minimum log level",
    "GL-COMPUTE-01": "minimum replicas in prod",
    "GL-COMPUTE-02": "maximum replicas in dev",
    "GL-COMPUTE-03": "health check timeout",
    "GL-SEC-02": "secrets from files",
    "GL-SEC-03": "generated secret length",
    "GL-COST-01": "monthly cost (dev, staging)",
    "GL-COST-02": "monthly cost (prod)",
    # checkov has RDS checks (CKV_AWS_16 encryption, CKV_AWS_17 public access, CKV_AWS_133 backups), but the
    # benchmark's generated estate declares no database: there is nothing to compare on either side.
    "GL-DB-01": "database encryption (no database in the generated estate)",
    "GL-DB-02": "database public access (no database in the generated estate)",
    "GL-DB-03": "database backups in prod (no database in the generated estate)",
    "GL-DB-04": "database backup retention in prod (no database in the generated estate)",
    "GL-NET-01": "local services bind loopback (prod): a local-provider notion, no cloud resource to check",
    "GL-NET-02": "local services bind loopback (other tiers): as GL-NET-01",
}
# Violations planted in the generated estate (which has none of the paired kinds): every n-th instance, from index r,
# gets the override. The periods are prime to the 3 tiers, so each violation lands in every tier.
PLANTED: tuple[tuple[int, int, str, str, Any], ...] = (
    (5, 0, "assets", "encrypted", False),
    (7, 1, "assets", "versioning", False),
    (11, 2, "assets", "public", True),
    (4, 1, "jobs", "encrypted", False),
    (8, 3, "audit-logs", "retention_days", 30),
    (10, 3, "api-key", "rotation_days", None),
)


def plant(root: Path) -> None:
    """Write the planted violations into the generated estate's platform files."""
    for folder in sorted((root / "platform-cloud").iterdir()):
        index = int(folder.name.split("-")[1])
        path = folder / "platform.yaml"
        document = yaml.safe_load(path.read_text())
        for period, offset, name, field, value in PLANTED:
            if index % period == offset:
                document.setdefault("resources", {}).setdefault(name, {})[field] = value
        path.write_text(yaml.safe_dump(document, sort_keys=False))


def make_estate(root: Path, instances: int) -> tuple[Path, dict[str, ResolvedPlatform]]:
    """The generated estate with the violations planted and the shipped policies; its resolved platforms."""
    generate_estate(root, instances)
    plant(root)
    platforms, _ = install_policies(root)
    return root, platforms


def paired_only(root: Path, into: Path) -> Path:
    """A copy of the estate whose policy file keeps only the rules checkov has an equivalent for."""
    shutil.copytree(root, into)
    path = into / GOVERNANCE_DIR / POLICIES_FILE
    document = yaml.safe_load(path.read_text())
    keep = {p.rule for p in PAIRS}
    document["rules"] = [rule for rule in document["rules"] if rule["id"] in keep]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return into


# -- Terraform JSON ---------------------------------------------------------------------------------------------------


def address(instance: str, name: str) -> str:
    return f"{instance}__{name}"


def target_of(address_: str) -> Target:
    instance, _, name = address_.partition("__")
    return instance, name


def _tags(platform: ResolvedPlatform, name: str) -> dict[str, str]:
    return {**platform.spec.tags, "mnops-platform": platform.spec.name, "mnops-resource": name}


def terraform(platforms: dict[str, ResolvedPlatform]) -> dict[str, Any]:
    """The resources of every platform as Terraform JSON (AWS provider), one Terraform resource per mnops resource,
    plus a rotation resource for each secret that rotates."""
    blocks: dict[str, dict[str, Any]] = {}

    def add(kind: str, name: str, body: dict[str, Any]) -> None:
        blocks.setdefault(kind, {})[name] = body

    for platform in platforms.values():
        instance = platform.spec.name
        for name, spec in platform.spec.resources.items():
            here, tags = address(instance, name), _tags(platform, name)
            if spec.contract == "storage/v1":
                body: dict[str, Any] = {
                    "bucket": f"{instance}-{name}",
                    "acl": "public-read" if spec.public else "private",
                    "versioning": {"enabled": spec.versioning},
                    "tags": tags,
                }
                if spec.encrypted:
                    by_default = {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}}
                    body["server_side_encryption_configuration"] = {"rule": by_default}
                if spec.expire_after_days:
                    body["lifecycle_rule"] = {"enabled": True, "expiration": {"days": spec.expire_after_days}}
                add("aws_s3_bucket", here, body)
            elif spec.contract == "queue/v1":
                body = {
                    "name": f"{instance}-{name}{'.fifo' if spec.fifo else ''}",
                    "fifo_queue": spec.fifo,
                    "message_retention_seconds": spec.retention_seconds,
                    "visibility_timeout_seconds": spec.visibility_timeout_seconds,
                    "sqs_managed_sse_enabled": spec.encrypted,
                    "tags": tags,
                }
                if spec.dead_letter is not None:
                    arn = f"arn:aws:sqs:eu-west-1:123456789012:{instance}-{name}-dlq"
                    policy = {"deadLetterTargetArn": arn, "maxReceiveCount": spec.dead_letter.max_receives}
                    body["redrive_policy"] = json.dumps(policy)
                add("aws_sqs_queue", here, body)
            elif spec.contract == "secrets/v1":
                add("aws_secretsmanager_secret", here, {"name": f"{instance}/{name}", "tags": tags})
                if spec.rotation_days is not None:
                    rotation = {
                        "secret_id": f"${{aws_secretsmanager_secret.{here}.id}}",
                        "rotation_lambda_arn": "arn:aws:lambda:eu-west-1:123456789012:function:rotate",
                        "rotation_rules": {"automatically_after_days": spec.rotation_days},
                    }
                    add("aws_secretsmanager_secret_rotation", here, rotation)
            elif spec.contract == "logging/v1":
                body = {"name": f"/{instance}/{name}", "retention_in_days": spec.retention_days, "tags": tags}
                add("aws_cloudwatch_log_group", here, body)
            elif spec.contract == "compute/v1":
                body = {"name": f"{instance}-{name}", "desired_count": spec.replicas, "tags": tags}
                add("aws_ecs_service", here, body)
    return {"resource": blocks}


def cloudformation(platforms: dict[str, ResolvedPlatform]) -> tuple[dict[str, Any], dict[str, Target]]:
    """The resources of every platform as one CloudFormation template (logical ids are alphanumeric, so they are
    numbered), and the target each logical id stands for."""
    resources: dict[str, Any] = {}
    targets: dict[str, Target] = {}
    for platform in platforms.values():
        instance = platform.spec.name
        for name, spec in platform.spec.resources.items():
            logical = f"R{len(targets):06d}"
            tags = [{"Key": k, "Value": v} for k, v in _tags(platform, name).items()]
            if spec.contract == "storage/v1":
                properties: dict[str, Any] = {
                    "BucketName": f"{instance}-{name}",
                    "AccessControl": "PublicRead" if spec.public else "Private",
                    "VersioningConfiguration": {"Status": "Enabled" if spec.versioning else "Suspended"},
                    "Tags": tags,
                }
                if spec.encrypted:
                    by_default = {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
                    properties["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [by_default]}
                kind = "AWS::S3::Bucket"
            elif spec.contract == "queue/v1":
                properties = {
                    "QueueName": f"{instance}-{name}{'.fifo' if spec.fifo else ''}",
                    "MessageRetentionPeriod": spec.retention_seconds,
                    "VisibilityTimeout": spec.visibility_timeout_seconds,
                    "Tags": tags,
                }
                if spec.fifo:
                    properties["FifoQueue"] = True
                if spec.encrypted:
                    properties["KmsMasterKeyId"] = "alias/aws/sqs"
                kind = "AWS::SQS::Queue"
            elif spec.contract == "secrets/v1":
                properties = {"Name": f"{instance}/{name}", "Tags": tags}
                kind = "AWS::SecretsManager::Secret"
                if spec.rotation_days is not None:
                    resources[f"{logical}Rotation"] = {
                        "Type": "AWS::SecretsManager::RotationSchedule",
                        "Properties": {
                            "SecretId": {"Ref": logical},
                            "RotationRules": {"AutomaticallyAfterDays": spec.rotation_days},
                        },
                    }
            elif spec.contract == "logging/v1":
                properties = {"LogGroupName": f"/{instance}/{name}", "RetentionInDays": spec.retention_days}
                properties["Tags"] = tags
                kind = "AWS::Logs::LogGroup"
            else:
                properties = {"ServiceName": f"{instance}-{name}", "DesiredCount": spec.replicas, "Tags": tags}
                kind = "AWS::ECS::Service"
            resources[logical] = {"Type": kind, "Properties": properties}
            targets[logical] = (instance, name)
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}, targets


# -- running both -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    findings: dict[str, set[Target]]
    """rule or check id -> the resources it flagged."""

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.findings.values())


def timed(command: list[str], environment: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and all it waited for, stdout) of running `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # both exit 1 when they find something
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def run_mnops(root: Path, report: Path) -> Run:
    mnops = Path(sys.executable).with_name("mnops")
    command = [str(mnops), "enforce", "--estate", str(root), "-f", "json", "-o", str(report), "--as-of", AS_OF]
    # This tree's packages, whichever checkout the venv's `mnops` was installed from.
    tree = str(Path(__file__).resolve().parents[2])
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tree, os.environ.get("PYTHONPATH")]))}
    wall, cpu, _ = timed(command, environment)
    findings: dict[str, set[Target]] = {}
    for finding in json.loads(report.read_text())["findings"]:
        findings.setdefault(finding["rule"], set()).add((finding["instance"], finding["resource"] or ""))
    return Run(wall, cpu, findings)


def run_in_process(root: Path) -> Run:
    """Loading the estate and evaluating its policies in this process, as the Dagster code location and a sensor do:
    mnops without starting its command."""
    start, cpu = time.perf_counter(), time.process_time()
    estate, policies = load_governed(root)
    report = evaluate(estate.platforms, policies, policies.waivers, datetime.date.fromisoformat(AS_OF))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    findings: dict[str, set[Target]] = {}
    for finding in report.findings:
        findings.setdefault(finding.rule, set()).add((finding.instance, finding.resource or ""))
    return Run(wall, cpu, findings)


def run_checkov(checkov: Path, path: Path, framework: str, checks: list[str], resolve: Callable[[str], Target]) -> Run:
    command = [str(checkov), "-f", str(path), "--framework", framework, "--quiet", "--compact", "-o", "json"]
    command += ["--skip-download", "--check", ",".join(checks)]
    # No call home: no mapping download, no version check.
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    wall, cpu, stdout = timed(command, environment)
    document = json.loads(stdout) if stdout.strip() else {}
    reports = document if isinstance(document, list) else [document]
    findings: dict[str, set[Target]] = {}
    for report in reports:
        for failed in report.get("results", {}).get("failed_checks", []):
            findings.setdefault(failed["check_id"], set()).add(resolve(failed["resource"]))
    return Run(wall, cpu, findings)


@dataclass(frozen=True)
class Comparison:
    pair: Pair
    mnops: set[Target]
    checkov: set[Target]
    in_scope: set[Target]
    """checkov's findings on resources within the rule's scope (its tiers)."""

    @property
    def same(self) -> bool:
        return self.mnops == self.in_scope


def compare(
    platforms: dict[str, ResolvedPlatform], policies: dict[str, Any], mnops: Run, checkov: Run, framework: str
) -> list[Comparison]:
    """A row for each pair with a check in `framework` (`terraform` or `cloudformation`)."""
    tiers = {rule["id"]: (rule.get("scope") or {}).get("tiers") for rule in policies["rules"]}
    rows = []
    for pair in PAIRS:
        check = getattr(pair, framework)
        if check is None:
            continue
        flagged = checkov.findings.get(check, set())
        wanted = tiers.get(pair.rule)
        in_scope = {t for t in flagged if wanted is None or platforms[t[0]].spec.tier in wanted}
        rows.append(Comparison(pair, mnops.findings.get(pair.rule, set()), flagged, in_scope))
    return rows
