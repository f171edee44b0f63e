"""Running the AWS provider against moto's server over real HTTP, and hurting its resources as a person with console
access would.

Used by this provider's conformance fixture and by anyone testing the engine against AWS (drift, rollback on a failed
health check). Nothing here runs in production code paths; the server needs `moto[server]` (the `dev` extra).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import EndpointConnectionError

from adapters.aws import names
from adapters.aws.adapter import AwsAdapter
from adapters.base import Observed

REGION = "us-east-1"
# Fake credentials for the emulator; set in the environment so nothing falls back to a developer's real ones.
# `MOTO_ECS_SERVICE_RUNNING`: how many tasks moto reports running for a new ECS service (it runs none).
# `MOTO_EC2_LOAD_DEFAULT_AMIS`: off, or every reset makes the first EC2 call load thousands of AMIs (~0.3 s).
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/nonexistent/mnops-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/mnops-aws-credentials",
    "MOTO_ECS_SERVICE_RUNNING": "1",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION")


class MotoServer:
    """moto's server in a thread of this process, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # Otherwise werkzeug writes a line per request to stderr.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self.url

    def reset(self) -> None:
        """Forget every resource of every service (moto's own reset endpoint)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        self._server.stop()


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_network(ec2: Any) -> dict[str, str]:
    """A VPC with one subnet and one security group (made with the EC2 client `ec2`), as the adapter's
    `subnets`/`security_groups` settings."""
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="mnops-tasks", Description="mnops test tasks", VpcId=vpc)["GroupId"]
    return {"subnets": subnet, "security_groups": group, "vpc": vpc}


def tamper(adapter: AwsAdapter, observed: Observed) -> None:
    """Change a resource behind the engine's back, through the AWS API, as a person with console access would."""
    key, fields = observed.key, observed.fields
    aws = adapter.aws
    if observed.contract == "storage/v1":
        status = "Suspended" if fields["versioning"] else "Enabled"
        aws.client("s3").put_bucket_versioning(
            Bucket=adapter.storage.bucket(key), VersioningConfiguration={"Status": status}
        )
    elif observed.contract == "queue/v1":
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName=names.queue(key, fields["fifo"]))["QueueUrl"]
        timeout = fields["visibility_timeout_seconds"] + 1
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(timeout)})
    elif observed.contract == "secrets/v1":
        # A different value in place of the stored one: real drift, seen through the value's HMAC.
        aws.client("secretsmanager").put_secret_value(SecretId=names.secret(key), SecretString="someone else's value")
    elif observed.contract == "logging/v1":
        aws.client("logs").delete_retention_policy(logGroupName=names.log_group(key))
    elif observed.contract == "database/v1":
        aws.client("rds").modify_db_instance(
            DBInstanceIdentifier=names.database(key), MultiAZ=not fields["high_availability"], ApplyImmediately=True
        )
    else:
        aws.client("ecs").untag_resource(resourceArn=observed.resource_id, tagKeys=[_a_tag(observed)])


def break_resource(adapter: AwsAdapter, observed: Observed) -> None:
    """Damage a resource so that its health check fails."""
    key = observed.key
    aws = adapter.aws
    if observed.contract == "storage/v1":
        bucket = adapter.storage.bucket(key)
        s3 = aws.client("s3")
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
        s3.delete_bucket(Bucket=bucket)
    elif observed.contract == "queue/v1":
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName=names.queue(key, observed.fields["fifo"]))["QueueUrl"]
        sqs.delete_queue(QueueUrl=url)
    elif observed.contract == "secrets/v1":
        aws.client("secretsmanager").delete_secret(SecretId=names.secret(key), ForceDeleteWithoutRecovery=True)
    elif observed.contract == "logging/v1":
        aws.client("logs").delete_log_group(logGroupName=names.log_group(key))
    elif observed.contract == "database/v1":
        # Its connection URL is gone: no service could reach it.
        aws.client("secretsmanager").delete_secret(SecretId=names.database_secret(key), ForceDeleteWithoutRecovery=True)
    else:
        aws.client("ecs").update_service(
            cluster=names.cluster(key.platform), service=names.service(key), desiredCount=0
        )


@contextmanager
def unreachable(adapter: AwsAdapter) -> Iterator[None]:
    """Every call the adapter makes meanwhile fails to connect: its endpoint becomes a port nothing listens on."""
    original = adapter.aws.endpoint_url
    # Bound but not listening: connections are refused for as long as the socket is held, and no one else gets it.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        adapter.aws.reconnect(f"http://127.0.0.1:{closed.getsockname()[1]}")
        try:
            yield
        finally:
            adapter.aws.reconnect(original)


def remove_everything(adapter: AwsAdapter, platform: str) -> None:
    """Delete every resource of `platform` the adapter can see."""
    for observed in adapter.observe(platform).values():
        adapter.driver(observed.contract).delete(observed)


def _a_tag(observed: Observed) -> str:
    removable = sorted(k for k in observed.tags if not k.startswith("mnops-"))
    return removable[0] if removable else "mnops-contract"


class Wire:
    """A botocore `before-send` handler on a session of its own: counts every call by operation, holds each `latency`
    seconds before it is sent (a network round trip moto does not have), and makes calls whose URL or body contains
    `fail` fail as an unreachable endpoint would. Clients made from `session` after that go through it."""

    def __init__(self, region: str = REGION) -> None:
        self.calls: Counter[str] = Counter()
        self.latency = 0.0
        self.fail: str | None = None
        self._lock = threading.Lock()
        self.session = boto3.Session(region_name=region)
        self.session.events.register("before-send", self.before_send)

    def before_send(self, request: Any, event_name: str, **kwargs: Any) -> None:
        with self._lock:
            self.calls[event_name.rsplit(".", 1)[-1]] += 1
        if self.fail:
            body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
            if self.fail in request.url or self.fail in body:
                raise EndpointConnectionError(endpoint_url=request.url)
        if self.latency:
            time.sleep(self.latency)

    @contextmanager
    def measured(self, latency: float) -> Iterator[list[float]]:
        """Calls made with `latency` added, counted from zero; yields [seconds, calls], filled in on exit."""
        figures: list[float] = []
        self.latency = latency
        self.calls.clear()
        start = time.perf_counter()
        try:
            yield figures
        finally:
            figures.extend([time.perf_counter() - start, sum(self.calls.values())])
            self.latency = 0.0


class MotoProcess:
    """moto's server in a process of its own, on a free port of 127.0.0.1, with `environment` added to its own (such
    as `INITIAL_NO_AUTH_ACTION_COUNT=0`, which moto reads once, at import: authorization enforced on every call)."""

    def __init__(self, environment: dict[str, str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env={**os.environ, **environment},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto's server did not start on port {self.port}") from None
                time.sleep(0.05)

    def authorization(self, enforced: bool) -> None:
        """Close (enforced) or open moto's window in which calls are neither authenticated nor authorized."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            method="POST",
            data=b"0" if enforced else b"inf",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    @contextmanager
    def unauthorized(self) -> Iterator[None]:
        """Set-up time: every call allowed, whoever makes it; enforced again on exit."""
        self.authorization(enforced=False)
        try:
            yield
        finally:
            self.authorization(enforced=True)

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
