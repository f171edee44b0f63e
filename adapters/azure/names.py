"""How mnops names what it makes on Azure: derived from (subscription, platform, resource) alone, so observe, delete
and a crashed create all agree on it.

A platform's resources live in its own resource group, `mnops-<platform>`. Storage account and Service Bus namespace
names are global across Azure and short (24 and 50 characters), so they carry a hash of the subscription and the key:
the same platform deployed from two subscriptions never asks for the same name. Which key a resource belongs to is read
from its ARM tags, never from its name.
"""

from __future__ import annotations

import hashlib
import re

from adapters.base import ResourceKey
from contracts import NAME_PATTERN

PREFIX = "mnops"
GROUP_PREFIX = f"{PREFIX}-"
# A blob container of our own in each account: the contract's one object store.
CONTAINER = "objects"

_NAME = re.compile(NAME_PATTERN)


def is_name(value: object) -> bool:
    return isinstance(value, str) and bool(_NAME.match(value))


def digest(*parts: str, length: int) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def group(platform: str) -> str:
    """The resource group holding every resource of `platform` (groups take 90 characters; platform names 63)."""
    return f"{GROUP_PREFIX}{platform}"


def platform_of_group(name: str) -> str | None:
    """The platform a resource group of ours holds, or None for any other group. ARM keeps a group name's case as
    given, but compares them case-insensitively: so do we."""
    lowered = name.lower()
    if not lowered.startswith(GROUP_PREFIX):
        return None
    platform = lowered[len(GROUP_PREFIX) :]
    return platform if is_name(platform) else None


def storage_account(subscription: str, key: ResourceKey) -> str:
    """`mn` + 22 hex digits: storage account names are 3-24 lowercase letters and digits, and nothing else."""
    return "mn" + digest("storage", subscription, key.platform, key.name, length=22)


def vault(subscription: str, platform: str) -> str:
    """`mnops-` + 18 hex digits: the platform's Key Vault (names are 3-24 characters and global across Azure)."""
    return "mnops-" + digest("keyvault", subscription, platform, length=18)


# The secret holding the key values are compared under: it starts with a digit, which no resource name does.
HMAC_KEY_SECRET = "0-mnops-hmac-key"


def workspace(subscription: str, key: ResourceKey) -> str:
    """`mnops-<platform>-<resource>` cut to fit, then a hash: workspace names are 4-63 letters, digits and hyphens,
    unique within a resource group (the hash keeps them unique across Azure too, for log queries by name)."""
    suffix = digest("loganalytics", subscription, key.platform, key.name, length=10)
    readable = f"{PREFIX}-{key.platform}-{key.name}"[: 63 - len(suffix) - 1].rstrip("-")
    return f"{readable}-{suffix}"


def container_app(subscription: str, key: ResourceKey) -> str:
    """`mnops-` + 16 hex digits: app names are 2-32 lowercase letters, digits and single hyphens."""
    return "mnops-" + digest("containerapp", subscription, key.platform, key.name, length=16)


def environment(platform: str) -> str:
    """The platform's Container Apps environment, in its group: names are 2-60 lowercase characters."""
    return f"{PREFIX}-{platform}"


def namespace(subscription: str, key: ResourceKey) -> str:
    """`mnops-<platform>-<resource>` cut to fit, then a hash: namespace names are 6-50 letters, digits and hyphens,
    start with a letter and may not end with `-sb` or `-mgmt` (a hex suffix never does)."""
    suffix = digest("servicebus", subscription, key.platform, key.name, length=10)
    readable = f"{PREFIX}-{key.platform}-{key.name}"[: 50 - len(suffix) - 1].rstrip("-")
    return f"{readable}-{suffix}"


def metadata(tags: dict[str, str]) -> dict[str, str]:
    """Tags as Blob Storage metadata, whose names must be C# identifiers: `-` and `:` become `_`
    (`mnops-platform` is `mnops_platform`)."""
    return {name.replace("-", "_").replace(":", "_"): value for name, value in tags.items()}
