"""How mnops names what it makes on GCP: derived from (project, platform, resource) alone, so observe, delete and a
crashed create all agree on it; every name starts `mnops-`, so one IAM condition can scope the adapter.

Platform and resource names are DNS labels, so "mnops-a-b-c" could be platform "a-b" with resource "c": bucket names
allow no separator names lack, so a bucket's hash suffix covers the two parts separately, and identity comes from its
labels, never from parsing its name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from adapters.base import ResourceKey
from contracts import NAME_PATTERN

PREFIX = "mnops"
HASH_LENGTH = 8
BUCKET_MAX = 63
# GCS refuses bucket names containing "google" (or close misspellings): a platform or resource so named cannot be held.
FORBIDDEN_IN_BUCKETS = ("google", "g00gle")

_NAME = re.compile(NAME_PATTERN)


def is_name(value: object) -> bool:
    return isinstance(value, str) and bool(_NAME.match(value))


def digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:HASH_LENGTH]


def bucket(project: str, key: ResourceKey) -> str:
    """`mnops-<platform>-<resource>-<hash>`, at most 63 characters.

    Bucket names are global across every GCP project, so the suffix hashes the project with the platform and resource:
    the same platform deployed from two projects never asks for the same name. The readable part is cut to fit; the
    hash keeps it unique.
    """
    suffix = digest("gcs", project, key.platform, key.name)
    readable = f"{PREFIX}-{key.platform}-{key.name}"[: BUCKET_MAX - HASH_LENGTH - 1].rstrip("-")
    return f"{readable}-{suffix}"


def bucket_prefix(platforms: Sequence[str]) -> str:
    """What every bucket of `platforms` starts with: one platform's own prefix, else mnops's whole namespace."""
    return f"{PREFIX}-{platforms[0]}-" if len(platforms) == 1 else f"{PREFIX}-"


def secret(key: ResourceKey) -> str:
    """`mnops-<platform>_<resource>`: secret ids allow `_`, which names never contain, so the two parts stay apart."""
    return f"{secret_prefix(key.platform)}{key.name}"


def secret_prefix(platform: str) -> str:
    """What every secret id of `platform` starts with, and no other platform's does."""
    return f"{PREFIX}-{platform}_"


# Not of the `mnops-<platform>_` form, so no platform's secrets can collide with it.
HMAC_KEY_SECRET = f"{PREFIX}_hmac-key"


def log_bucket(key: ResourceKey) -> str:
    """`mnops-<platform>_<resource>`, the id of the log bucket and of the sink that feeds it."""
    return f"{PREFIX}-{key.platform}_{key.name}"


def topic(key: ResourceKey) -> str:
    """`mnops-<platform>_<resource>`: the id of a queue's topic and of its subscription."""
    return f"{PREFIX}-{key.platform}_{key.name}"


def dead_letter_topic(key: ResourceKey) -> str:
    """`mnops-<platform>_<resource>_dead`: names never contain `_`, so no resource's topic can be called that."""
    return f"{topic(key)}_dead"


SERVICE_MAX = 49


def service(key: ResourceKey) -> str:
    """`mnops-<platform>-<resource>-<hash>`, at most 49 characters (Cloud Run's service ids: lower-case letters,
    digits and hyphens). The readable part is cut to fit; the hash over the two parts keeps it unique."""
    suffix = digest("run", key.platform, key.name)
    readable = f"{PREFIX}-{key.platform}-{key.name}"[: SERVICE_MAX - HASH_LENGTH - 1].rstrip("-")
    return f"{readable}-{suffix}"
