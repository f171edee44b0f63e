"""What every AWS driver shares: one boto3 session and its clients, the adapter's settings, the account and region, the
tagging-API lookup, and the one place where SDK errors become `AdapterError`s.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws import PROVIDER, names
from adapters.base import MANAGED_BY, TAG_MANAGED_BY, TAG_PLATFORM, AdapterError, ResourceKey
from contracts.errors import MnopsError

# Tags the adapter keeps for itself (a secret's source, a log sink's level): never shown as the resource's tags, so the
# planner does not plan to remove them. `aws:` tags are AWS's own and cannot be changed by anyone.
INTERNAL_TAG_PREFIX = "mnops:"
AWS_TAG_PREFIX = "aws:"
# The messages AWS returns are short; an emulator's HTML error page is not, and is no use in an error message.
MAX_REASON = 400
REDACTED = "[redacted]"
# The tagging API takes at most 20 values per tag filter: more platforms take one listing per 20.
TAG_FILTER_VALUES = 20
# Listing mnops's whole namespace stops paying once it takes more than a page per this many platforms.
PLATFORMS_PER_PAGE = 4
# The most tags a tagging-API page may hold (the fewest pages: each resource of ours carries 6-12 tags).
TAGS_PER_PAGE = 500

Tagged = dict[str, Any]
"""platform -> ARN -> tags (what the tagging API lists as the platform's), or the `AdapterError` of its listing."""


# botocore's DEBUG records carry whole request and response bodies; those of Secrets Manager carry secret values.
BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers")
VALUE_MARKERS = ("SecretString", "SecretBinary", "MasterUserPassword")


class SecretBodies(logging.Filter):
    """Drops botocore's DEBUG records of a body holding a secret value, so that no log level or handler can show one:
    a debugging session's logs are read by more people than the secrets are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True
        message = record.getMessage()
        return not any(marker in message for marker in VALUE_MARKERS)


def keep_secret_values_out_of_logs() -> None:
    """Attach `SecretBodies` to the botocore loggers that log bodies, once per process."""
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretBodies) for f in logger.filters):
            logger.addFilter(SecretBodies())


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


def _platforms(platforms: Sequence[str]) -> str:
    return f"platform {platforms[0]}" if len(platforms) == 1 else f"{len(platforms)} platforms"


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
        max_concurrency: int,
        database_instance_class: str = "db.t4g.micro",
    ) -> None:
        keep_secret_values_out_of_logs()
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
            # A connection per observing thread, or urllib3 discards the extras (and TLS handshakes again).
            max_pool_connections=max(10, max_concurrency),
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
        self.max_concurrency = max_concurrency
        self.database_instance_class = database_instance_class
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._key_lock = threading.Lock()
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
            pool, self._pool = self._pool, None
            for client in self._clients.values():
                client.close()
            self._clients.clear()
        if pool is not None:
            pool.shutdown(wait=True)

    def map(self, function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """`function(item)` for every item, on up to `max_concurrency` threads, in order; an `MnopsError` raised for
        one item is returned in its place, so one broken resource does not hide the others. AWS calls spend their
        time waiting on the network, so threads are what makes a scan of a thousand resources take seconds.
        `function` must not call `map` itself: the pool is bounded, and a task waiting on its own pool can wait
        forever."""

        def guarded(item: Any) -> Any:
            try:
                return function(item)
            except MnopsError as exc:
                return exc

        if len(items) <= 1 or self.max_concurrency <= 1:
            return [guarded(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="mnops-aws")
            pool = self._pool
        return list(pool.map(guarded, items))

    @property
    def account(self) -> str:
        """The account id of the credentials in use (S3 bucket names depend on it); asked once."""
        with self._key_lock:  # asked on many threads at once by observation: ask once
            if self._account is None:
                self._account = self.client("sts").get_caller_identity()["Account"]
            return self._account

    # -- finding resources by tags -------------------------------------------------------------------------------------

    def tagged(self, platforms: Sequence[str], resource_types: Iterable[str]) -> Tagged:
        """ARN -> tags of every resource of `resource_types` (tagging-API filters: `s3`, `ecs:service`, ...) tagged as
        mnops's, for each of `platforms`: one paginated listing per 20 platforms (the most one tag filter takes, so
        the account's other resources are filtered out by AWS), whatever the number of services. The platforms of a
        listing that failed map to its `AdapterError`.

        The tagging API is eventually consistent on AWS: it may list a resource just deleted, miss one just made, or
        show tags as they were moments ago. Drivers treat its answer as candidates and read each one's configuration
        from its own service; a tag changed a moment ago is seen at the next observation.
        """
        wanted = sorted(set(platforms))
        types = sorted(set(resource_types))
        groups = [wanted[i : i + TAG_FILTER_VALUES] for i in range(0, len(wanted), TAG_FILTER_VALUES)]
        found: Tagged = {platform: {} for platform in wanted}
        for group, listing in zip(groups, self.map(lambda group: self._tagged(group, types), groups), strict=True):
            if isinstance(listing, MnopsError):
                found.update(dict.fromkeys(group, listing))
                continue
            for arn, tags in listing.items():
                found[tags[TAG_PLATFORM]][arn] = tags
        return found

    def _tagged(self, platforms: list[str], resource_types: list[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        with failures("observe", None, subject=f"resources of {_platforms(platforms)}"):
            for arn, tags in self._tag_mappings(
                [{"Key": TAG_PLATFORM, "Values": platforms}], ResourceTypeFilters=resource_types
            ):
                if tags.get(TAG_PLATFORM) in platforms:
                    found[arn] = tags
        return found

    def _tag_mappings(self, filters: list[dict[str, Any]], **arguments: Any) -> Iterator[tuple[str, dict[str, str]]]:
        """(ARN, tags) of every resource the tagging API lists as mnops's and matching `filters`, page by page."""
        paginator = self.client("resourcegroupstaggingapi").get_paginator("get_resources")
        pages = paginator.paginate(
            TagFilters=[{"Key": TAG_MANAGED_BY, "Values": [MANAGED_BY]}, *filters],
            TagsPerPage=TAGS_PER_PAGE,
            **arguments,
        )
        for page in pages:
            for mapping in page.get("ResourceTagMappingList", []):
                yield mapping["ResourceARN"], {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}

    def list_prefixed(
        self,
        platforms: Sequence[str],
        prefix: Callable[[Sequence[str]], str],
        pages: Callable[[str], Iterable[Mapping[str, Any]]],
        items: Callable[[Mapping[str, Any]], Iterable[tuple[str, Any]]],
        what: str,
    ) -> dict[str, Any]:
        """name -> item of everything a listing by name prefix (`pages(prefix)`, each page's `items`) finds under the
        platforms' prefix (`prefix(platforms)`: one platform's own, or mnops's whole namespace).

        One listing of the whole namespace serves many platforms while the account holds few such names. Once it has
        taken a page per `PLATFORMS_PER_PAGE` platforms without ending, each platform's own prefix is listed instead,
        on the adapter's threads, so a batch of platforms in an account of thousands costs a bounded number of calls.
        """
        found: dict[str, Any] = {}
        if not platforms:
            return found
        if len(platforms) > 1:
            budget = max(1, len(platforms) // PLATFORMS_PER_PAGE)
            shared = prefix(platforms)
            with failures("observe", None, subject=f"{what} {shared}*"):
                for number, page in enumerate(pages(shared), start=1):
                    found.update(items(page))
                    if number >= budget and (page.get("NextToken") or page.get("nextToken")):
                        break
                else:
                    return found

        def one(platform: str) -> dict[str, Any]:
            own = prefix([platform])
            with failures("observe", None, subject=f"{what} {own}*"):
                return dict(item for page in pages(own) for item in items(page))

        for listing in self.map(one, platforms):
            if isinstance(listing, MnopsError):
                raise listing
            found.update(listing)
        return found

    def platforms(self) -> list[str]:
        """Every platform with at least one resource carrying mnops's tags here, whatever its kind."""
        found = {tags.get(TAG_PLATFORM) for _, tags in self._tag_mappings([])}
        return sorted(platform for platform in found if names.is_name(platform))

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
        with self._key_lock:  # observation reads values on many threads: fetch the key once
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
