"""The Key Vault secrets data plane, served by the fake Resource Manager under `/kv/<vault>/` (each vault's `vaultUri`).

As strict as Key Vault where azure-keyvault-secrets depends on it: a request without a bearer token gets the 401
challenge naming the tenant and resource (the client answers it with a token for that resource), secret names are
letters, digits and hyphens, at most 15 tags, every write makes a new version, and a deleted secret stays
recoverable (soft delete) until purged: writing its name meanwhile is a 409.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
MAX_TAGS = 15
RESOURCE = "https://vault.azure.net"


class VaultRefusal(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class Version:
    id: str
    value: str
    tags: dict[str, str]
    content_type: str | None
    enabled: bool
    created: int
    updated: int


@dataclass
class Vault:
    name: str
    secrets: dict[str, list[Version]] = field(default_factory=dict)
    deleted: dict[str, tuple[list[Version], int]] = field(default_factory=dict)


def challenge(tenant: str) -> dict[str, str]:
    return {
        "WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/{tenant}", resource="{RESOURCE}"'
    }


class KeyVaults:
    """Every vault's secrets, by vault name (lower-case: vault names are case-insensitive)."""

    def __init__(self, base: str, tenant: str) -> None:
        self.base = base
        self.urls: Any = lambda name: f"{self.base}/kv/{name}"
        """The URL a vault is served at, by name."""
        self.tenant = tenant
        self.vaults: dict[str, Vault] = {}
        self.challenged = 0
        """Requests answered with the 401 challenge."""

    def open(self, name: str) -> None:
        self.vaults.setdefault(name.lower(), Vault(name.lower()))

    def close(self, name: str) -> None:
        self.vaults.pop(name.lower(), None)

    def handle(
        self, method: str, path: str, query: dict[str, str], token_ok: bool | None, payload: Any
    ) -> tuple[int, dict[str, str], Any]:
        """`path` after `/kv/`; `token_ok` None when no bearer token came, else whether it is one we issued."""
        if token_ok is None:
            self.challenged += 1
            raise VaultRefusal(
                401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", challenge(self.tenant)
            )
        if not token_ok:
            raise VaultRefusal(401, "Unauthorized", "AKV10022: Invalid audience or token.", challenge(self.tenant))
        if not query.get("api-version"):
            raise VaultRefusal(400, "BadParameter", "The api-version query parameter is required.")
        parts = [p for p in path.split("/") if p]
        vault = self.vaults.get(parts[0].lower()) if parts else None
        if vault is None:
            raise VaultRefusal(404, "VaultNotFound", "No such vault.")
        rest = parts[1:]
        base = self.urls(vault.name)
        if rest == ["secrets"] and method == "GET":
            rows = [self._item(base, name, versions[-1]) for name, versions in sorted(vault.secrets.items())]
            return self._page(rows, query, f"{base}/secrets")
        if rest == ["deletedsecrets"] and method == "GET":
            rows = [self._deleted(base, n, v, d, value=False) for n, (v, d) in sorted(vault.deleted.items())]
            return self._page(rows, query, f"{base}/deletedsecrets")
        if len(rest) >= 2 and rest[0] == "secrets":
            name = rest[1]
            if not SECRET_NAME.match(name):
                raise VaultRefusal(400, "BadParameter", f"The secret name '{name}' is invalid: letters, digits, '-'.")
            version = rest[2] if len(rest) > 2 else ""
            return self._secret(vault, base, method, name, version, payload or {})
        if len(rest) >= 2 and rest[0] == "deletedsecrets":
            name = rest[1].lower()
            gone = vault.deleted.get(name)
            if gone is None:
                raise VaultRefusal(404, "SecretNotFound", f"Deleted Secret not found: {rest[1]}")
            if method == "GET" and len(rest) == 2:
                return 200, {}, self._deleted(base, name, *gone, value=False)
            if method == "DELETE" and len(rest) == 2:
                del vault.deleted[name]
                return 204, {}, None
            if method == "POST" and rest[2:] == ["recover"]:
                vault.secrets[name] = gone[0]
                del vault.deleted[name]
                return 200, {}, self._bundle(base, name, gone[0][-1], value=False)
        raise VaultRefusal(405, "BadParameter", f"{method} {path} is not supported.")

    def _secret(
        self, vault: Vault, base: str, method: str, name: str, version: str, payload: dict[str, Any]
    ) -> tuple[int, dict[str, str], Any]:
        key = name.lower()
        if method == "PUT":
            if key in vault.deleted:
                raise VaultRefusal(
                    409,
                    "Conflict",
                    f"Secret {name} is currently in a deleted but recoverable state, and its name "
                    "cannot be reused; in this state, the secret can only be recovered or purged.",
                )
            if not isinstance(payload.get("value"), str):
                raise VaultRefusal(400, "BadParameter", "Property value is required.")
            tags = dict(payload.get("tags") or {})
            if len(tags) > MAX_TAGS:
                raise VaultRefusal(400, "BadParameter", f"A secret can have at most {MAX_TAGS} tags.")
            now = int(time.time())
            made = Version(
                secrets.token_hex(16),
                payload["value"],
                tags,
                payload.get("contentType"),
                (payload.get("attributes") or {}).get("enabled", True),
                now,
                now,
            )
            vault.secrets.setdefault(key, []).append(made)
            return 200, {}, self._bundle(base, key, made, value=True)
        versions = vault.secrets.get(key)
        if not versions:
            raise VaultRefusal(
                404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault."
            )
        if method == "DELETE" and not version:
            stamp = int(time.time())
            vault.deleted[key] = (versions, stamp)
            del vault.secrets[key]
            return 200, {}, self._deleted(base, key, versions, stamp, value=False)
        chosen = versions[-1] if not version else next((v for v in versions if v.id == version), None)
        if chosen is None:
            raise VaultRefusal(404, "SecretNotFound", f"A secret with (name/id) {name}/{version} was not found.")
        if method == "GET":
            if not chosen.enabled:
                raise VaultRefusal(403, "Forbidden", "Operation get is not allowed on a disabled secret.")
            return 200, {}, self._bundle(base, key, chosen, value=True)
        if method == "PATCH":
            if "tags" in payload:
                tags = dict(payload["tags"] or {})
                if len(tags) > MAX_TAGS:
                    raise VaultRefusal(400, "BadParameter", f"A secret can have at most {MAX_TAGS} tags.")
                chosen.tags = tags
            if "enabled" in (payload.get("attributes") or {}):
                chosen.enabled = bool(payload["attributes"]["enabled"])
            if "contentType" in payload:
                chosen.content_type = payload["contentType"]
            chosen.updated = int(time.time())
            return 200, {}, self._bundle(base, key, chosen, value=False)
        raise VaultRefusal(405, "BadParameter", f"{method} is not supported on a secret.")

    # -- shapes ------------------------------------------------------------------------------------------------------

    @staticmethod
    def _attributes(version: Version) -> dict[str, Any]:
        return {
            "enabled": version.enabled,
            "created": version.created,
            "updated": version.updated,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 7,
        }

    def _bundle(self, base: str, name: str, version: Version, value: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"{base}/secrets/{name}/{version.id}",
            "attributes": self._attributes(version),
            "tags": dict(version.tags),
        }
        if version.content_type is not None:
            body["contentType"] = version.content_type
        if value:
            body["value"] = version.value
        return body

    def _item(self, base: str, name: str, version: Version) -> dict[str, Any]:
        body = {"id": f"{base}/secrets/{name}", "attributes": self._attributes(version), "tags": dict(version.tags)}
        if version.content_type is not None:
            body["contentType"] = version.content_type
        return body

    def _deleted(self, base: str, name: str, versions: list[Version], stamp: int, value: bool) -> dict[str, Any]:
        return {
            **self._bundle(base, name, versions[-1], value=value),
            "recoveryId": f"{base}/deletedsecrets/{name}",
            "deletedDate": stamp,
            "scheduledPurgeDate": stamp + 7 * 86400,
        }

    @staticmethod
    def _page(rows: list[dict[str, Any]], query: dict[str, str], url: str) -> tuple[int, dict[str, str], Any]:
        size = min(int(query.get("maxresults") or 25), 25)
        start = int(query.get("$skiptoken") or 0)
        body: dict[str, Any] = {"value": rows[start : start + size], "nextLink": None}
        if start + size < len(rows):
            body["nextLink"] = f"{url}?api-version={query['api-version']}&maxresults={size}&$skiptoken={start + size}"
        return 200, {}, body
