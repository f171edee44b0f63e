"""What every AWS driver shares: one boto3 session and its clients, the adapter's settings, the account and region, the
tagging-API lookup, and the one place where SDK errors become `AdapterError`s.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws import PROVIDER, names
from adapters.base import MANAGED_BY, TAG_MANAGED_BY, TAG_PLATFORM, AdapterError, ResourceKey

# Tags the adapter keeps for itself (a secret's source, a log sink's level): never shown as the resource's tags, so the
# planner does not plan to remove them. `aws:` tags are AWS's own and cannot be changed by anyone.
INTERNAL_TAG_PREFIX = "mnops:"
AWS_TAG_PREFIX = "aws:"
# The messages AWS returns are short; an emulator's HTML error page is not, and is no use in an error message.
MAX_REASON = 400
REDACTED = "[redacted]"


def failures_reason(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "Unknown"))
        message = " ".join(str(error.get("Message") or "").split())
        reason = f"{code}: {message}" if message else str(code)
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


@contextmanager
def failures(
    operation: str, key: ResourceKey | None, *, subject: str = "", redact: Sequence[str] = ()
) -> Iterator[None]:
    """Turn an SDK error into `AdapterError(aws, operation, key, "<code>: <message>")`, raised from the cause.

    `subject` (an ARN, a name) goes in front of the reason when `key` is unknown. `redact` lists values that must not
    leave in the message or the cause: a call carrying a secret value passes it here, in case AWS or botocore echoes a
    parameter back (validation errors can).
    """
    try:
        yield
    except AdapterError:
        raise
    except (ClientError, BotoCoreError) as exc:
        hidden = [v for v in redact if v]
        if hidden:
            # In place: the exception stays the cause (and the context), and would print the value in any traceback.
            _scrub(exc, hidden)
        reason = failures_reason(exc)
        if subject and key is None:
            reason = f"{subject}: {reason}"
        raise AdapterError(PROVIDER, operation, key, reason) from exc


def _scrub(exc: ClientError | BotoCoreError, hidden: Sequence[str]) -> None:
    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            for secret in hidden:
                value = value.replace(secret, REDACTED)
        return value

    exc.args = tuple(scrub(a) for a in exc.args)
    if isinstance(exc, ClientError):
        exc.response["Error"] = {k: scrub(v) for k, v in exc.response.get("Error", {}).items()}
    else:
        exc.kwargs = {k: scrub(v) for k, v in exc.kwargs.items()}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def split_list(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Subnets and security groups come from YAML as `a,b` (provider settings are scalars) or from Python as lists."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if item.strip())


def flag(value: bool | str) -> bool:
    """A yes/no setting; a string from an environment variable or a CLI option is read as YAML would read it."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


@dataclass(frozen=True)
class Network:
    """Where ECS tasks run: `awsvpc` subnets and security groups, and whether tasks get a public IP."""

    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    assign_public_ip: bool


class AwsContext:
    """One boto3 session, its clients (thread-safe once made, made once each), and settings every driver reads."""

    def __init__(
        self,
        *,
        session: boto3.Session,
        endpoint_url: str | None,
        profile: str | None,
        max_attempts: int,
        connect_timeout: float,
        read_timeout: float,
        network: Network,
        execution_role_arn: str | None,
        task_role_arn: str | None,
        default_image: str | None,
        container_port: int,
        health_poll_seconds: float,
        deletion_recovery_days: int | None,
        base_dir: Path,
        clock: Callable[[], float],
    ) -> None:
        self.session = session
        region = session.region_name
        self.region = region
        self.partition = self.session.get_partition_for_region(region)
        self.endpoint_url = endpoint_url
        self.profile = profile
        self.config = Config(
            region_name=region,
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.network = network
        self.execution_role_arn = execution_role_arn
        self.task_role_arn = task_role_arn
        self.default_image = default_image
        self.container_port = container_port
        self.health_poll_seconds = health_poll_seconds
        self.deletion_recovery_days = deletion_recovery_days
        self.base_dir = base_dir
        self.clock = clock
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None
        self._hmac_key: bytes | None = None

    def client(self, service: str) -> Any:
        # A boto3 session is not thread-safe, its clients are: make each client once, under a lock.
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self.session.client(service, endpoint_url=self.endpoint_url, config=self.config)
                    self._clients[service] = client
        return client

    def reconnect(self, endpoint_url: str | None) -> None:
        """Point every client made from now on at another endpoint (tests use it to make the endpoint unreachable)."""
        with self._lock:
            self.endpoint_url = endpoint_url
            self._clients.clear()

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    @property
    def account(self) -> str:
        """The account id of the credentials in use (S3 bucket names depend on it); asked once."""
        if self._account is None:
            self._account = self.client("sts").get_caller_identity()["Account"]
        return self._account

    # -- finding resources by tags -------------------------------------------------------------------------------------

    def tagged(self, platform: str, services: Iterable[str]) -> dict[str, dict[str, str]]:
        """ARN -> tags of every resource of `services` (tagging-API names: `s3`, `logs`, ...) tagged as `platform`'s.

        The tagging API is eventually consistent on AWS: it may list a resource just deleted, or miss one just made.
        Drivers treat its answer as a list of candidates and describe each one; what is gone is skipped.
        """
        paginator = self.client("resourcegroupstaggingapi").get_paginator("get_resources")
        found: dict[str, dict[str, str]] = {}
        pages = paginator.paginate(
            TagFilters=[
                {"Key": TAG_PLATFORM, "Values": [platform]},
                {"Key": TAG_MANAGED_BY, "Values": [MANAGED_BY]},
            ],
            ResourceTypeFilters=sorted(set(services)),
        )
        for page in pages:
            for mapping in page.get("ResourceTagMappingList", []):
                found[mapping["ResourceARN"]] = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
        return found

    def platforms(self) -> list[str]:
        """Every platform with at least one resource carrying mnops's tags here, whatever its kind."""
        paginator = self.client("resourcegroupstaggingapi").get_paginator("get_resources")
        found: set[str] = set()
        for page in paginator.paginate(TagFilters=[{"Key": TAG_MANAGED_BY, "Values": [MANAGED_BY]}]):
            for mapping in page.get("ResourceTagMappingList", []):
                tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
                if names.is_name(tags.get(TAG_PLATFORM)):
                    found.add(tags[TAG_PLATFORM])
        return sorted(found)

    # -- comparing secret values ---------------------------------------------------------------------------------------

    def value_hmac(self, value: str) -> str:
        """HMAC-SHA256 of a secret value under the adapter's HMAC key (see `hmac_key`)."""
        return "hmac-sha256:" + hmac.new(self.hmac_key(), value.encode(), hashlib.sha256).hexdigest()

    def hmac_key(self) -> bytes:
        """The key secret values are compared under, kept as a secret of its own in Secrets Manager.

        A plain hash of a value in a tag would let anyone allowed to read tags (a far wider group than those allowed
        to read secrets) test guesses of a weak value offline; keyed by a secret only secret readers can get, the
        HMAC tells them nothing they could not read anyway. Made on first use, shared by every platform of the
        account and region; two deployers racing to make it agree on the first one.
        """
        if self._hmac_key is None:
            client = self.client("secretsmanager")
            try:
                value = client.get_secret_value(SecretId=names.HMAC_KEY_SECRET)["SecretString"]
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                value = self._create_hmac_key(client)
            self._hmac_key = bytes.fromhex(value)
        return self._hmac_key

    def _create_hmac_key(self, client: Any) -> str:
        fresh = secrets.token_hex(32)
        try:
            client.create_secret(
                Name=names.HMAC_KEY_SECRET,
                SecretString=fresh,
                Description="mnops: key for comparing secret values by HMAC; deleting it makes every secret drift once",
                Tags=[{"Key": TAG_MANAGED_BY, "Value": MANAGED_BY}],
            )
            return fresh
        except ClientError as exc:
            if error_code(exc) != "ResourceExistsException":
                raise
            return client.get_secret_value(SecretId=names.HMAC_KEY_SECRET)["SecretString"]


def visible_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags a resource shows the engine: everything but the adapter's own and AWS's."""
    return {k: v for k, v in tags.items() if not k.startswith((INTERNAL_TAG_PREFIX, AWS_TAG_PREFIX))}


def tag_changes(current: Mapping[str, str], wanted: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """(tags to set, tag keys to remove) to turn `current` into `wanted`; AWS's own tags are left alone."""
    to_set = {k: v for k, v in wanted.items() if current.get(k) != v}
    to_remove = sorted(k for k in current if k not in wanted and not k.startswith(AWS_TAG_PREFIX))
    return to_set, to_remove
