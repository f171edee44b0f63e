"""An in-process HTTPS fake of the Azure Resource Manager surface the azure adapter uses, plus the managed-identity
token endpoint `DefaultAzureCredential` reaches, so the real SDKs and the real credential chain run against it.

It is as strict as Azure where the SDKs depend on it: api-version required, a bearer token it issued required,
synchronous PUTs answer 200, long-running operations in the two ARM styles (Location: 202 until done; Azure-
AsyncOperation: a status document, then the resource), collection pages linked by `nextLink`, tag-filtered listings
without tags (as ARM documents), parents required, names checked against each type's rules. State lives in one store
keyed by resource id (lower-cased, as ARM's ids are case-insensitive); deleting a parent deletes its children.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import json
import re
import secrets
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.adapters.azure.fakevault import KeyVaults, VaultRefusal

SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
TENANT = "00000000-0000-4000-8000-0000000000aa"
IDENTITY_HEADER = "mnops-fake-identity"


@dataclass(frozen=True)
class Kind:
    """The rules of one resource type: how its PUT and DELETE answer, and what its name may be."""

    put: str = "sync"  # sync | location | async
    delete: str = "sync"
    name: str = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"
    name_rule: str = "letters, digits, '-', '_' and '.'"
    tracked: bool = False  # a tracked resource has a location and tags
    needs: tuple[str, ...] = ()  # body fields PUT requires


KINDS: dict[str, Kind] = {
    "microsoft.storage/storageaccounts": Kind(
        put="location",
        name=r"^[a-z0-9]{3,24}$",
        name_rule="3-24 lowercase letters and digits",
        tracked=True,
        needs=("sku", "kind"),
    ),
    "microsoft.storage/storageaccounts/blobservices": Kind(name=r"^default$", name_rule="'default'"),
    "microsoft.storage/storageaccounts/blobservices/containers": Kind(
        name=r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
        name_rule="3-63 lowercase letters, digits and single hyphens",
    ),
    "microsoft.storage/storageaccounts/managementpolicies": Kind(name=r"^default$", name_rule="'default'"),
    "microsoft.servicebus/namespaces": Kind(
        put="async",
        delete="location",
        name=r"^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$",
        name_rule="6-50 letters, digits and hyphens, starting with a letter",
        tracked=True,
    ),
    "microsoft.servicebus/namespaces/queues": Kind(name=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$"),
    "microsoft.keyvault/vaults": Kind(
        name=r"^(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$",
        name_rule="3-24 letters, digits and single hyphens, starting with a letter",
        tracked=True,
        needs=("properties",),
    ),
    "microsoft.app/managedenvironments": Kind(
        put="async",
        delete="location",
        name=r"^[a-z][a-z0-9-]{0,58}[a-z0-9]$",
        name_rule="2-60 lowercase letters, digits and hyphens",
        tracked=True,
    ),
    "microsoft.app/containerapps": Kind(
        put="async",
        delete="location",
        name=r"^(?!.*--)[a-z][a-z0-9-]{0,30}[a-z0-9]$",
        name_rule="2-32 lowercase letters, digits and single hyphens, starting with a letter",
        tracked=True,
        needs=("properties",),
    ),
    "microsoft.operationalinsights/workspaces": Kind(
        put="async",
        delete="location",
        name=r"^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$",
        name_rule="4-63 letters, digits and hyphens",
        tracked=True,
    ),
    "microsoft.operationalinsights/workspaces/tables": Kind(put="location", name=r"^[A-Za-z0-9_]{1,63}$"),
}

# Server-side defaults ARM fills in on a PUT that leaves them out, per type.
DEFAULTS: dict[str, dict[str, Any]] = {
    "microsoft.storage/storageaccounts": {
        "allowBlobPublicAccess": False,
        "minimumTlsVersion": "TLS1_2",
        "supportsHttpsTrafficOnly": True,
        "encryption": {"keySource": "Microsoft.Storage", "services": {"blob": {"enabled": True}}},
    },
    "microsoft.storage/storageaccounts/blobservices/containers": {"publicAccess": "None", "metadata": {}},
    "microsoft.servicebus/namespaces/queues": {
        "lockDuration": "PT1M",
        "maxDeliveryCount": 10,
        "defaultMessageTimeToLive": "P10675199DT2H48M5.4775807S",
        "requiresSession": False,
        "deadLetteringOnMessageExpiration": False,
        "status": "Active",
    },
    "microsoft.operationalinsights/workspaces": {"retentionInDays": 30, "sku": {"name": "PerGB2018"}},
}

PROVIDERS = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/([^/]+)/(.+)$", re.IGNORECASE)
GROUP = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)$", re.IGNORECASE)
GROUP_NAME = re.compile(r"^[-\w._()]{1,89}[-\w_()]$")
TYPE_LISTING = re.compile(r"^/subscriptions/[^/]+/providers/([^/]+)/([^/]+)$", re.IGNORECASE)
CSHARP_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TAG_FILTER = re.compile(r"^tagName eq '([^']*)' and tagValue eq '([^']*)'$")


class BlobData:
    """The blob data plane behind the fake's storage accounts: Azurite, whose accounts are fixed when it starts.

    Each storage account made through the fake is given one of Azurite's accounts (its `primaryEndpoints.blob` is
    that account's endpoint), which is emptied when the storage account is deleted and given to a later one. Containers
    made or deleted through Resource Manager are made or deleted there too, with their metadata, by shared key.
    """

    def __init__(self, url: str, keys: dict[str, str], ca_bundle: Path) -> None:
        self.url = url.rstrip("/")
        self.keys = keys
        self.ca_bundle = ca_bundle
        self.free = sorted(keys)
        self.used: set[str] = set()
        self.left_at_release: dict[str, int] = {}
        """How many blobs (snapshots included) each account still held when its storage account was deleted."""

    def endpoint(self, account: str) -> str:
        return f"{self.url}/{account}/"

    def assign(self) -> str:
        if not self.free:
            raise Refusal(409, "StorageAccountQuotaExceeded", "The fake's blob service has no account left.")
        account = self.free.pop(0)
        self.used.add(account)
        return account

    def release(self, account: str) -> None:
        service = self._service(account)
        self.left_at_release[account] = self.count(account)
        for container in service.list_containers():
            service.delete_container(container.name)
        self.used.discard(account)
        self.free.append(account)

    def release_all(self) -> None:
        for account in sorted(self.used):
            self.release(account)

    def count(self, account: str) -> int:
        """The blobs of every container of `account`, snapshots included."""
        service = self._service(account)
        return sum(
            len(list(service.get_container_client(c.name).list_blobs(include=["snapshots"])))
            for c in service.list_containers()
        )

    def ensure_container(self, account: str, name: str, metadata: dict[str, str]) -> None:
        from azure.core.exceptions import ResourceExistsError

        container = self._service(account).get_container_client(name)
        try:
            container.create_container(metadata=metadata)
        except ResourceExistsError:
            container.set_container_metadata(metadata)

    def delete_container(self, account: str, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._service(account).delete_container(name)
        except ResourceNotFoundError:
            pass

    def _service(self, account: str) -> Any:
        from azure.storage.blob import BlobServiceClient

        credential = {"account_name": account, "account_key": self.keys[account]}
        return BlobServiceClient(self.endpoint(account), credential=credential, connection_verify=str(self.ca_bundle))


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class Operation:
    """A long-running operation: done after `polls` more polls, when `finish` runs."""

    resource_id: str
    finish: Any
    style: str
    polls: int = 1
    failed: str | None = None


@dataclass
class FakeArm:
    """The store and the rules; `serve()` puts it behind HTTPS."""

    store: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    page_size: int = 5
    latency: float = 0.0
    """Seconds every call waits before it is answered (a network round trip to Azure), outside the store's lock."""
    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    throttled: int = 0
    refusing: bool = False
    failing_operations: set[str] = field(default_factory=set)
    failing_reads: set[str] = field(default_factory=set)
    """Paths (lower-case) whose GETs answer 500, as a service having a bad day."""
    """ARM types (lower-case) whose next long-running PUT fails."""
    base: str = ""
    blobs: BlobData | None = None
    """Where storage accounts keep their blobs (Azurite); without it, accounts name an endpoint nobody serves."""
    vaults: KeyVaults = field(default_factory=lambda: KeyVaults("", TENANT))
    open_vault: Any = None
    """Starts (or finds) the HTTPS endpoint of a vault by name; returns its URL. Set by `serve`."""

    # -- what the tests use ------------------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.store.clear()
            self.operations.clear()
            self.calls.clear()
            self.throttled = 0
            self.refusing = False
            self.failing_operations.clear()
            self.failing_reads.clear()
            self.vaults.vaults.clear()
            if self.blobs is not None:
                self.blobs.release_all()

    def get(self, resource_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self.store.get(resource_id.lower())

    def of_type(self, arm_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.store.values() if r["type"].lower() == arm_type.lower()]

    def count(self, method: str | None = None) -> int:
        return sum(1 for m, _ in self.calls if method is None or m == method)

    # -- the protocol ------------------------------------------------------------------------------------------------

    def handle(self, method: str, url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        if self.latency:
            time.sleep(self.latency)
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = parts.path.rstrip("/")
        with self.lock:
            self.calls.append((method, path))
            if self.throttled > 0:
                self.throttled -= 1
                raise Refusal(429, "TooManyRequests", "Rate limit exceeded.", {"Retry-After": "0"})
        if method == "GET" and path.lower() in self.failing_reads:
            raise Refusal(500, "InternalServerError", "The service had a bad day.")
        auth = headers.get("Authorization", "")
        if path.startswith("/kv/"):
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
            payload = json.loads(body) if body else None
            with self.lock:
                try:
                    ok = None if token is None else token in self.tokens
                    return self.vaults.handle(method, path[len("/kv/") :], query, ok, payload)
                except VaultRefusal as refusal:
                    raise Refusal(refusal.status, refusal.code, refusal.message, refusal.headers) from refusal
        if not query.get("api-version"):
            raise Refusal(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
        if not auth.startswith("Bearer ") or auth[len("Bearer ") :] not in self.tokens:
            raise Refusal(401, "AuthenticationFailed", "Authentication failed: no valid bearer token.")
        payload = json.loads(body) if body else None
        with self.lock:
            return self._route(method, path, query, payload)

    def _route(self, method: str, path: str, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        low = path.lower()
        subscription = f"/subscriptions/{SUBSCRIPTION}"
        if not low.startswith(subscription):
            raise Refusal(404, "SubscriptionNotFound", f"The subscription in {path} could not be found.")
        if low.startswith(subscription + "/operations/"):
            return self._poll(low.rsplit("/", 1)[1])
        if low == subscription + "/resources" and method == "GET":
            return self._page(self._filtered(query.get("$filter")), query, path)
        if low == subscription + "/resourcegroups" and method == "GET":
            groups = [r for r in self.store.values() if r["type"] == "Microsoft.Resources/resourceGroups"]
            return self._page(self._tag_filter(groups, query.get("$filter"), keep_tags=True), query, path)
        match = TYPE_LISTING.match(path)
        if match and method == "GET":
            # A resource provider's listing of one tracked type in the whole subscription, with tags and properties.
            arm_type = f"{match.group(1)}/{match.group(2)}".lower()
            if not KINDS.get(arm_type, Kind()).tracked:
                raise Refusal(400, "NoRegisteredProviderFound", f"No subscription listing of type '{arm_type}'.")
            return self._page([r for r in self._resources() if r["type"].lower() == arm_type], query, path)
        match = GROUP.match(path)
        if match:
            return self._group(method, path, match.group(2), payload)
        if low.endswith("/resources") and GROUP.match(path[: -len("/resources")]) and method == "GET":
            group_id = path[: -len("/resources")].lower()
            if group_id not in self.store:
                name = path.split("/")[4]
                raise Refusal(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
            inside = [r for r in self._resources() if r["id"].lower().startswith(group_id + "/providers/")]
            return self._page(inside, query, path)
        match = PROVIDERS.match(path)
        if match:
            return self._resource(method, path, match, query, payload)
        raise Refusal(404, "NotFound", f"No route for {method} {path}.")

    # -- resource groups ---------------------------------------------------------------------------------------------

    def _group(self, method: str, path: str, name: str, payload: Any) -> tuple[int, dict[str, str], Any]:
        key = path.lower()
        if method == "PUT":
            if not GROUP_NAME.match(name):
                raise Refusal(400, "InvalidResourceGroupName", f"Resource group name '{name}' is invalid.")
            if not payload or not payload.get("location"):
                raise Refusal(400, "LocationRequired", "The location property is required for this definition.")
            existed = key in self.store
            self.store[key] = {
                "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}",
                "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": payload["location"],
                "tags": dict(payload.get("tags") or {}),
                "properties": {"provisioningState": "Succeeded"},
            }
            return (200 if existed else 201), {}, self.store[key]
        group = self.store.get(key)
        if group is None:
            if method == "DELETE":
                return 204, {}, None
            raise Refusal(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
        if method == "GET":
            return 200, {}, group
        if method == "PATCH":
            if payload and "tags" in payload:
                group["tags"] = dict(payload["tags"] or {})
            return 200, {}, group
        if method == "DELETE":

            def finish() -> None:
                self._remove(key)

            return self._start(key, finish, "location", 202)
        raise Refusal(405, "MethodNotAllowed", f"{method} is not allowed on a resource group.")

    # -- resources under providers -----------------------------------------------------------------------------------

    def _resource(
        self, method: str, path: str, match: re.Match[str], query: dict[str, str], payload: Any
    ) -> tuple[int, dict[str, str], Any]:
        group_id = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{match.group(2)}".lower()
        namespace = match.group(3)
        segments = match.group(4).split("/")
        action = None
        if method == "POST":
            action, segments = segments[-1], segments[:-1]
        if len(segments) % 2 == 1:  # a collection: list the children of that type
            if method != "GET":
                raise Refusal(405, "MethodNotAllowed", f"{method} is not allowed on a collection.")
            arm_type = "/".join([namespace, *segments[0::2]]).lower()
            parent = path.rsplit("/", 1)[0].lower()
            children = [
                r for r in self.store.values() if r["type"].lower() == arm_type and r["id"].lower().startswith(parent)
            ]
            return self._page(children, query, path)
        arm_type = "/".join([namespace, *segments[0::2]]).lower()
        kind = KINDS.get(arm_type)
        if kind is None:
            raise Refusal(400, "NoRegisteredProviderFound", f"No registered resource provider for type '{arm_type}'.")
        if action is not None:
            path = path.rsplit("/", 1)[0]
        key = path.lower()
        parent = key.rsplit("/", 2)[0] if len(segments) > 2 else group_id
        if parent not in self.store:
            code = "ResourceGroupNotFound" if parent == group_id else "ParentResourceNotFound"
            raise Refusal(404, code, f"The parent of '{path}' could not be found.")
        current = self.store.get(key)
        if action is not None:
            if current is None:
                raise Refusal(404, "ResourceNotFound", f"The resource '{path}' was not found.")
            if action.lower() in ("stop", "start") and arm_type == "microsoft.app/containerapps":
                current["properties"]["runningStatus"] = "Stopped" if action.lower() == "stop" else "Running"
                return 200, {}, _public(current)
            if action.lower() == "listkeys" and arm_type == "microsoft.storage/storageaccounts":
                return 200, {}, {"keys": [{"keyName": "key1", "value": current["_key"], "permissions": "FULL"}]}
            raise Refusal(404, "NotFound", f"No action {action} on {arm_type}.")
        if method == "GET":
            if current is None or current.get("_deleting"):
                raise Refusal(
                    404,
                    "ResourceNotFound",
                    f"The Resource '{namespace}/{segments[0]}/{segments[1]}' "
                    f"under resource group '{match.group(2)}' was not found.",
                )
            return 200, {}, _public(current)
        if method == "DELETE":
            if current is None:
                return 204, {}, None

            def finish() -> None:
                self._remove(key)

            if kind.delete == "sync":
                finish()
                return 200, {}, None
            current["_deleting"] = True
            return self._start(key, finish, kind.delete, 202)
        if method == "PATCH":
            if current is None:
                raise Refusal(404, "ResourceNotFound", f"The resource '{path}' was not found.")
            payload = payload or {}
            if "tags" in payload:
                current["tags"] = dict(payload["tags"] or {})
            for name, value in (payload.get("properties") or {}).items():
                current["properties"][name] = value
            for name in ("sku", "kind"):
                if name in payload:
                    current[name] = payload[name]
            return 200, {}, _public(current)
        if method != "PUT":
            raise Refusal(405, "MethodNotAllowed", f"{method} is not allowed here.")
        name = segments[-1]
        if not re.match(kind.name, name):
            raise Refusal(400, "InvalidResourceName", f"Resource name '{name}' is invalid: {kind.name_rule}.")
        payload = payload or {}
        for needed in (*kind.needs, *(("location",) if kind.tracked else ())):
            if not payload.get(needed):
                raise Refusal(400, "InvalidRequestContent", f"The request content is missing '{needed}'.")
        properties = {**DEFAULTS.get(arm_type, {}), **(current or {}).get("properties", {})}
        properties.update(payload.get("properties") or {})
        resource: dict[str, Any] = {
            "id": path,
            "name": name,
            "type": "/".join([namespace, *segments[0::2]]),
            "properties": properties,
        }
        if kind.tracked:
            resource["location"] = payload["location"]
            resource["tags"] = dict(payload.get("tags") or {})
        for extra in ("sku", "kind"):
            if extra in payload:
                resource[extra] = payload[extra]
        if arm_type == "microsoft.operationalinsights/workspaces/tables" and current is None and name.endswith("_CL"):
            schema = (payload.get("properties") or {}).get("schema") or {}
            if schema.get("name") != name or not schema.get("columns"):
                raise Refusal(400, "InvalidParameter", f"A custom table needs a schema named {name} with columns.")
        if arm_type == "microsoft.operationalinsights/workspaces/tables":
            for field_name, low, high in (("retentionInDays", 4, 730), ("totalRetentionInDays", 4, 4383)):
                days = properties.get(field_name)
                if days is not None and not low <= days <= high:
                    raise Refusal(400, "InvalidParameter", f"{field_name} must be {low}-{high}, not {days}.")
        if arm_type == "microsoft.app/containerapps":
            _check_container_app(self.store, payload["properties"])
            properties["runningStatus"] = "Running"
            properties["latestRevisionName"] = f"{name}--{secrets.token_hex(3)}"
        if arm_type == "microsoft.keyvault/vaults":
            vault_properties = payload["properties"]
            if not vault_properties.get("tenantId") or not (vault_properties.get("sku") or {}).get("name"):
                raise Refusal(400, "BadRequest", "A vault needs properties.tenantId and properties.sku.")
            self.vaults.open(name)
            # Key Vault ids are rooted at the vault's host (`https://<vault>.vault.azure.net/secrets/<name>`): each
            # vault gets an HTTPS port of its own.
            properties["vaultUri"] = self.open_vault(name.lower()) + "/"
        if arm_type == "microsoft.storage/storageaccounts/blobservices/containers":
            metadata = properties.get("metadata") or {}
            wrong = sorted(k for k in metadata if not CSHARP_IDENTIFIER.match(k))
            if wrong:
                raise Refusal(400, "InvalidMetadata", f"Metadata names must be C# identifiers, not {', '.join(wrong)}.")
            account = self.store.get(key.rsplit("/", 4)[0], {})
            if self.blobs is not None and account.get("_blobs"):
                self.blobs.ensure_container(account["_blobs"], name, metadata)
        if arm_type == "microsoft.servicebus/namespaces":
            # As Azure answers: the namespace's AMQP/HTTPS endpoint, which queues are addressed under.
            properties["serviceBusEndpoint"] = f"https://{name}.servicebus.windows.net:443/"
        if arm_type == "microsoft.storage/storageaccounts":
            resource["_key"] = (current or {}).get("_key") or secrets.token_urlsafe(32)
            resource["_blobs"] = (current or {}).get("_blobs") or (self.blobs.assign() if self.blobs else None)
            endpoint = (
                self.blobs.endpoint(resource["_blobs"]) if self.blobs else f"https://{name}.blob.core.windows.net/"
            )
            properties["primaryEndpoints"] = {"blob": endpoint}
            # Every account has its blob service from birth, as on Azure.
            service = f"{key}/blobservices/default"
            self.store.setdefault(
                service,
                {
                    "id": f"{path}/blobServices/default",
                    "name": "default",
                    "type": "Microsoft.Storage/storageAccounts/blobServices",
                    "properties": {"isVersioningEnabled": False},
                },
            )
        if kind.put == "sync":
            properties["provisioningState"] = "Succeeded"
            self.store[key] = resource
            return 200, {}, _public(resource)
        failing = arm_type in self.failing_operations
        self.failing_operations.discard(arm_type)
        previous = current
        properties["provisioningState"] = "Creating" if previous is None else "Updating"
        self.store[key] = resource

        def done() -> None:
            if failing:
                if previous is None:
                    self.store.pop(key, None)
                else:
                    self.store[key] = previous
                return
            resource["properties"]["provisioningState"] = "Succeeded"

        return self._start(key, done, kind.put, 202 if kind.put == "location" else 201, resource, failing)

    def _remove(self, key: str) -> None:
        """Remove a resource (or group) and everything under it: an account's blobs with it, as on Azure."""
        for rid in [r for r in self.store if r == key or r.startswith(key + "/")]:
            removed = self.store.pop(rid)
            if removed["type"].lower() == "microsoft.keyvault/vaults":
                self.vaults.close(removed["name"])
            kind = removed["type"].lower()
            if self.blobs is not None and kind == "microsoft.storage/storageaccounts" and removed.get("_blobs"):
                self.blobs.release(removed["_blobs"])
            if self.blobs is not None and kind == "microsoft.storage/storageaccounts/blobservices/containers":
                account = self.store.get(rid.rsplit("/", 4)[0], {})
                if account.get("_blobs"):
                    self.blobs.delete_container(account["_blobs"], removed["name"])

    # -- long-running operations -------------------------------------------------------------------------------------

    def _start(
        self,
        key: str,
        finish: Any,
        style: str,
        status: int,
        resource: dict[str, Any] | None = None,
        failing: bool = False,
    ) -> tuple[int, dict[str, str], Any]:
        token = secrets.token_hex(8)
        failed = "the deployment failed: quota exceeded" if failing else None
        self.operations[token] = Operation(key, finish, style, failed=failed)
        url = f"{self.base}/subscriptions/{SUBSCRIPTION}/operations/{token}?api-version=2024-01-01"
        if style == "location":
            return status, {"Location": url, "Retry-After": "0"}, None
        return status, {"Azure-AsyncOperation": url, "Retry-After": "0"}, _public(resource) if resource else None

    def _poll(self, token: str) -> tuple[int, dict[str, str], Any]:
        operation = self.operations.get(token)
        if operation is None:
            raise Refusal(404, "OperationNotFound", f"Operation {token} was not found.")
        if operation.polls > 0:
            operation.polls -= 1
            # Location style answers 202 while running; the async style a status document. One URL serves both:
            # what tells them apart is which header pointed here, and both clients accept their own shape.
            return 202, {"Retry-After": "0"}, {"status": "InProgress"}
        if operation.failed:
            operation.finish()
            error = {"code": "OperationFailed", "message": operation.failed}
            return 200, {}, {"status": "Failed", "error": error}
        operation.finish()
        current = self.store.get(operation.resource_id)
        if operation.style == "location":
            # The Location URL of a finished operation answers as the resource would (204 once it is deleted).
            return (200, {}, _public(current)) if current else (204, {}, None)
        return 200, {}, {"status": "Succeeded"}

    # -- listings ----------------------------------------------------------------------------------------------------

    def _resources(self) -> list[dict[str, Any]]:
        """Top-level tracked resources (what ARM's resource listings hold: no groups, no child resources)."""
        return [
            r for r in self.store.values() if KINDS.get(r["type"].lower(), Kind()).tracked and not r.get("_deleting")
        ]

    def _filtered(self, expression: str | None) -> list[dict[str, Any]]:
        return self._tag_filter(self._resources(), expression, keep_tags=False)

    def _tag_filter(self, rows: list[dict[str, Any]], expression: str | None, keep_tags: bool) -> list[dict[str, Any]]:
        if not expression:
            return rows
        match = TAG_FILTER.match(expression)
        if match is None:
            raise Refusal(400, "InvalidFilterInQueryString", f"Invalid $filter '{expression}'.")
        name, value = match.groups()
        chosen = [r for r in rows if r.get("tags", {}).get(name) == value]
        if keep_tags:
            return chosen
        # ARM's documented quirk: a listing filtered by tag name and value returns the resources without their tags.
        return [{k: v for k, v in r.items() if k != "tags"} for r in chosen]

    def _page(self, rows: list[dict[str, Any]], query: dict[str, str], path: str) -> tuple[int, dict[str, str], Any]:
        rows = sorted(rows, key=lambda r: r["id"].lower())
        start = int(query.get("$skiptoken") or 0)
        page = rows[start : start + self.page_size]
        body: dict[str, Any] = {"value": [_public(r) for r in page]}
        if start + self.page_size < len(rows):
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = str(start + self.page_size)
            body["nextLink"] = f"{self.base}{path}?{urlencode(rest)}"
        return 200, {}, body


# Consumption profile sizes: vCPU -> memory, as Container Apps allows them.
APP_SIZES = {0.25: "0.5Gi", 0.5: "1Gi", 0.75: "1.5Gi", 1.0: "2Gi", 1.25: "2.5Gi", 1.5: "3Gi", 1.75: "3.5Gi", 2.0: "4Gi",
             2.5: "5Gi", 3.0: "6Gi", 3.5: "7Gi", 4.0: "8Gi"}  # fmt: skip


def _check_container_app(store: dict[str, dict[str, Any]], properties: dict[str, Any]) -> None:
    """What Container Apps checks of an app's definition, as far as the adapter relies on it."""
    environment = properties.get("managedEnvironmentId") or properties.get("environmentId") or ""
    if environment.lower() not in store:
        raise Refusal(400, "ManagedEnvironmentNotFound", f"Managed environment '{environment}' was not found.")
    template = properties.get("template") or {}
    containers = template.get("containers") or []
    if not containers or not all(c.get("image") and c.get("name") for c in containers):
        raise Refusal(400, "ContainerAppInvalidTemplate", "A container app needs containers with a name and an image.")
    known = {s.get("name") for s in (properties.get("configuration") or {}).get("secrets") or []}
    for container in containers:
        size = container.get("resources") or {}
        cpu = float(size.get("cpu", 0.5))
        if APP_SIZES.get(cpu) != size.get("memory", APP_SIZES.get(cpu)):
            raise Refusal(400, "ContainerAppInvalidResourceTotal", f"{cpu} vCPU does not go with {size.get('memory')}.")
        for variable in container.get("env") or []:
            if "secretRef" in variable and variable["secretRef"] not in known:
                raise Refusal(400, "ContainerAppSecretRefNotFound", f"Secret {variable['secretRef']} is not defined.")
        for probe in container.get("probes") or []:
            if not 1 <= probe.get("periodSeconds", 10) <= 240 or not 1 <= probe.get("failureThreshold", 3) <= 10:
                raise Refusal(400, "ContainerAppInvalidProbe", "periodSeconds 1-240 and failureThreshold 1-10.")
    scale = template.get("scale") or {}
    low, high = scale.get("minReplicas", 0), scale.get("maxReplicas", 10)
    if not (0 <= low <= high and 1 <= high <= 1000):
        raise Refusal(400, "ContainerAppInvalidScale", f"minReplicas {low} and maxReplicas {high} are not allowed.")


def _public(resource: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in resource.items() if not k.startswith("_")}
    if "properties" in shown:
        shown["properties"] = dict(shown["properties"])
    return shown


# -- the servers -------------------------------------------------------------------------------------------------------


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key: the CA bundle the adapter is given."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mnops fake azure")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "fake-azure.pem"
    key_path = directory / "fake-azure.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    fake: FakeArm

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return None

    vault: str | None = None
    """Set on a vault's endpoint: every path is that vault's."""

    def _serve(self) -> None:
        if self.vault is not None:
            self.path = f"/kv/{self.vault}{self.path}"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.fake.refusing:
            # As a dead endpoint does: the connection closes with no answer at all.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            status, headers, payload = self.fake.handle(self.command, self.path, self.headers, body)
        except Refusal as refusal:
            status, headers = refusal.status, {**refusal.headers, "x-ms-error-code": refusal.code}
            payload = {"error": {"code": refusal.code, "message": refusal.message}}
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("x-ms-request-id", secrets.token_hex(8))
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST = do_HEAD = _serve


def _jwt(resource: str) -> str:
    """A token shaped as Entra ID's (a JWT for `resource`, issued by the tenant's STS), which Azurite checks (issuer,
    audience, lifetime) and the fake looks up; signed with a key nobody keeps, as no one here checks signatures."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "aud": resource.rstrip("/"),
        "iss": f"https://sts.windows.net/{TENANT}/",
        "tid": TENANT,
        "iat": now,
        "nbf": now - 60,
        "exp": now + 3600,
        "jti": secrets.token_hex(8),
    }
    signature = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


class _TokenHandler(BaseHTTPRequestHandler):
    """The App Service managed-identity endpoint (`IDENTITY_ENDPOINT`), which `DefaultAzureCredential` tries when the
    environment names it: a token for any resource, to whoever presents `IDENTITY_HEADER`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    fake: FakeArm

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER or not query.get("resource"):
            status, payload = 400, {"error": "invalid_request", "error_description": "identity header or resource"}
        else:
            token = _jwt(query["resource"])
            self.fake.tokens.add(token)
            status = 200
            payload = {
                "access_token": token,
                "expires_on": str(int(time.time()) + 3600),
                "resource": query["resource"],
                "token_type": "Bearer",
            }
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class Served:
    fake: FakeArm
    url: str
    identity_endpoint: str
    ca_bundle: Path
    key: Path
    """The private key of `ca_bundle`'s certificate, for another server the adapter must trust (Azurite)."""

    @contextmanager
    def down(self) -> Iterator[None]:
        """The endpoint closes every connection unanswered for the duration."""
        self.fake.refusing = True
        try:
            yield
        finally:
            self.fake.refusing = False


_counter = itertools.count()


@contextmanager
def serve() -> Iterator[Served]:
    """The fake ARM over HTTPS and its token endpoint over HTTP, on free loopback ports, stopped on exit."""
    fake = FakeArm()
    with tempfile.TemporaryDirectory(prefix="fake-azure-") as directory:
        cert_path, key_path = certificate(Path(directory))
        handler = type(f"Handler{next(_counter)}", (_Handler,), {"fake": fake})
        arm = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        arm.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        arm.socket = context.wrap_socket(arm.socket, server_side=True)
        token_handler = type(f"TokenHandler{next(_counter)}", (_TokenHandler,), {"fake": fake})
        identity = ThreadingHTTPServer(("127.0.0.1", 0), token_handler)
        identity.daemon_threads = True
        fake.base = f"https://127.0.0.1:{arm.server_address[1]}"
        fake.vaults.base = fake.base
        servers = [arm, identity]
        by_vault: dict[str, str] = {}

        def open_vault(name: str) -> str:
            if name not in by_vault:
                vault_handler = type(f"VaultHandler{next(_counter)}", (_Handler,), {"fake": fake, "vault": name})
                server = ThreadingHTTPServer(("127.0.0.1", 0), vault_handler)
                server.daemon_threads = True
                server.socket = context.wrap_socket(server.socket, server_side=True)
                servers.append(server)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                by_vault[name] = f"https://127.0.0.1:{server.server_address[1]}"
            return by_vault[name]

        fake.open_vault = open_vault
        fake.vaults.urls = open_vault
        for server in (arm, identity):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield Served(
                fake,
                fake.base,
                f"http://127.0.0.1:{identity.server_address[1]}/msi/token",
                cert_path,
                key_path,
            )
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
