"""How mnops names what it makes on AWS: derived from (platform, resource) alone, so observe, delete and a crashed
create all agree on it; inside an `mnops` namespace, so one IAM policy can scope the adapter (`mnops-*`, `mnops/*`).

Platform and resource names are DNS labels (letters, digits, inner hyphens), so "mnops-a-b-c" could be platform "a-b"
with resource "c" or platform "a" with resource "b-c". Where a service allows a character that names never contain
(`/`, `_`) it separates the two; S3 allows neither, so a bucket's hash suffix covers the two parts separately.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

from adapters.base import ResourceKey
from contracts import NAME_PATTERN

PREFIX = "mnops"
HASH_LENGTH = 8

BUCKET_MAX = 63
QUEUE_MAX = 80
FIFO_SUFFIX = ".fifo"
DEAD_LETTER_SUFFIX = "_dlq"
# Room for both suffixes, so a FIFO queue's dead-letter queue still fits.
QUEUE_BASE_MAX = QUEUE_MAX - len(DEAD_LETTER_SUFFIX) - len(FIFO_SUFFIX)

SECRET_PREFIX = f"{PREFIX}/"
# Not a platform name (those start with a letter), so no platform's secrets can collide with it.
HMAC_KEY_SECRET = f"{PREFIX}/_adapter/hmac-key"

_NAME = re.compile(NAME_PATTERN)


def is_name(value: object) -> bool:
    return isinstance(value, str) and bool(_NAME.match(value))


def digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:HASH_LENGTH]


def bucket(account: str, region: str, key: ResourceKey) -> str:
    """`mnops-<platform>-<resource>-<hash>`, at most 63 characters.

    Bucket names are global across every AWS account, so the suffix hashes the account and region with the platform
    and resource: the same platform deployed from two accounts, or two regions of one, never asks for the same name,
    and one account always gets the same name back. The readable part is cut to fit; the hash keeps it unique.
    """
    suffix = digest("s3", account, region, key.platform, key.name)
    readable = f"{PREFIX}-{key.platform}-{key.name}"[: BUCKET_MAX - HASH_LENGTH - 1].rstrip("-")
    return f"{readable}-{suffix}"


def queue_prefix(platform: str) -> str:
    """What every queue name of `platform` starts with, and no other platform's does (`_` ends the platform)."""
    return f"{PREFIX}-{platform}_"


def queues_prefix(platforms: Collection[str]) -> str:
    """What every queue of `platforms` starts with: one platform's own prefix, else mnops's whole namespace."""
    return queue_prefix(next(iter(platforms))) if len(platforms) == 1 else f"{PREFIX}-"


def _queue_base(key: ResourceKey) -> str:
    base = queue_prefix(key.platform) + key.name
    if len(base) <= QUEUE_BASE_MAX:
        return base
    # The longest names (40 + 40 characters) do not fit SQS's 80 with both suffixes: cut, and keep them apart by hash.
    return f"{base[: QUEUE_BASE_MAX - HASH_LENGTH - 1]}_{digest('sqs', key.platform, key.name)}"


def queue(key: ResourceKey, fifo: bool) -> str:
    return _queue_base(key) + (FIFO_SUFFIX if fifo else "")


def dead_letter_queue(key: ResourceKey, fifo: bool) -> str:
    # A FIFO queue's dead-letter queue must be FIFO too.
    return _queue_base(key) + DEAD_LETTER_SUFFIX + (FIFO_SUFFIX if fifo else "")


def secret(key: ResourceKey) -> str:
    return f"{SECRET_PREFIX}{key.platform}/{key.name}"


def secret_resource(platform: str, arn_or_name: str) -> str | None:
    """The resource name of one of `platform`'s secrets from its ARN or name, or None if it is not one of them.

    A secret's ARN ends in its name plus `-` and six random characters that Secrets Manager adds.
    """
    name = arn_or_name.split(":secret:", 1)[1] if ":secret:" in arn_or_name else arn_or_name
    prefix = f"{SECRET_PREFIX}{platform}/"
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    if ":secret:" in arn_or_name and re.fullmatch(r".+-[A-Za-z0-9]{6}", rest):
        rest = rest[:-7]
    return rest if is_name(rest) else None


DATABASE_MAX = 63
DATABASE_SECRET_PREFIX = f"{PREFIX}/_db/"
# Not a platform name (those start with a letter): a platform's secrets listing never sees these.


def database(key: ResourceKey) -> str:
    """An RDS instance identifier: letters, digits and single inner hyphens, 63 at most. The digest keeps "a-b"/"c"
    apart from "a"/"b-c"; the resource's name follows for people reading the console."""
    readable = re.sub("-+", "-", key.name)
    return f"{PREFIX}-{digest(key.platform, key.name)}-{readable}"[:DATABASE_MAX].rstrip("-")


def database_secret(key: ResourceKey) -> str:
    return f"{DATABASE_SECRET_PREFIX}{key.platform}/{key.name}"


def database_of_secret(arn_or_name: str) -> ResourceKey | None:
    """The database whose connection secret this ARN (with or without a JSON key) or name is, if it is one."""
    name = arn_or_name.split(":secret:", 1)[1] if ":secret:" in arn_or_name else arn_or_name
    name = name.split(":", 1)[0]
    if not name.startswith(DATABASE_SECRET_PREFIX):
        return None
    rest = name[len(DATABASE_SECRET_PREFIX) :]
    if ":secret:" in arn_or_name and re.fullmatch(r".+-[A-Za-z0-9]{6}", rest):
        rest = rest[:-7]
    platform, _, resource = rest.partition("/")
    return ResourceKey(platform, resource) if is_name(platform) and is_name(resource) else None


def log_group(key: ResourceKey) -> str:
    return f"/{PREFIX}/{key.platform}/{key.name}"


def log_group_prefix(platforms: Collection[str]) -> str:
    """What every log group of `platforms` starts with: one platform's own prefix, else mnops's whole namespace (a
    listing of which costs one call per 50 groups, fewer than one per platform)."""
    return f"/{PREFIX}/{next(iter(platforms))}/" if len(platforms) == 1 else f"/{PREFIX}/"


def cluster(platform: str) -> str:
    """One ECS cluster per platform: a cluster costs nothing and keeps each platform's services apart."""
    return f"{PREFIX}-{platform}"


def service(key: ResourceKey) -> str:
    return key.name


def task_family(key: ResourceKey) -> str:
    return f"{PREFIX}-{key.platform}_{key.name}"
