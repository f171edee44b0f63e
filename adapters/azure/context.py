"""What every Azure driver shares: the credential, the management clients, the subscription and location, the resource
group of each platform, the one listing observation starts from, and the one place where SDK errors become
`AdapterError`s."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from adapters.azure import PROVIDER, names
from adapters.base import MANAGED_BY, TAG_MANAGED_BY, TAG_PLATFORM, AdapterError, ResourceKey

MAX_REASON = 400
REDACTED = "[redacted]"
MANAGED_FILTER = f"tagName eq '{TAG_MANAGED_BY}' and tagValue eq '{MANAGED_BY}'"


@dataclass(frozen=True)
class Listed:
    """One resource as ARM lists it: enough to know whose it is before reading it."""

    id: str
    name: str
    type: str
    tags: Mapping[str, str]


def failures_reason(exc: BaseException) -> str:
    if isinstance(exc, HttpResponseError):
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None) or (exc.reason or "")
        message = " ".join(str(getattr(error, "message", None) or exc.message or "").split())
        status = exc.status_code if exc.status_code is not None else "no status"
        reason = f"{status} {code}: {message}".strip()
    else:
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


@contextmanager
def failures(
    operation: str, key: ResourceKey | None, *, subject: str = "", redact: Sequence[str] = ()
) -> Iterator[None]:
    """Turn an Azure SDK error (an HTTP error, a failed long-running operation, a connection that failed) into
    `AdapterError(azure, operation, key, "<status> <code>: <message>")`, raised from the cause.

    `redact` lists values that must not leave in the message or the cause: a call carrying a secret value passes it
    here, in case a service echoes a parameter back.
    """
    try:
        yield
    except AdapterError:
        raise
    except AzureError as exc:
        hidden = [v for v in redact if v]
        if hidden:
            _scrub(exc, hidden)
        reason = failures_reason(exc)
        if subject and key is None:
            reason = f"{subject}: {reason}"
        raise AdapterError(PROVIDER, operation, key, reason) from exc


def _scrub(exc: AzureError, hidden: Sequence[str]) -> None:
    """Remove `hidden` values from the exception in place: it stays the cause, and would print them in a traceback."""

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            for secret in hidden:
                value = value.replace(secret, REDACTED)
        return value

    exc.args = tuple(scrub(a) for a in exc.args)
    exc.message = scrub(exc.message)
    if isinstance(exc, HttpResponseError):
        error = getattr(exc, "error", None)
        if error is not None and getattr(error, "message", None):
            error.message = scrub(error.message)
        # The response keeps the body it was built from; nothing reads it once the error is ours.
        exc.response = None


@dataclass
class AzureContext:
    """One subscription and location, reached through `arm_endpoint` with `credential`."""

    subscription_id: str
    location: str
    credential: TokenCredential
    arm_endpoint: str
    client_options: dict[str, Any]
    tenant_id: str | None = None
    verify_challenge_resource: bool = True
    base_dir: Path = field(default_factory=Path.cwd)
    clock: Callable[[], float] = time.time
    default_image: str | None = None
    container_port: int = 8080
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str) -> Any:
        """The management client of `service` (`resource`, `storage`, `servicebus`, `keyvault`), or the secrets client
        of a vault given by its URI; made once and shared: they are safe to use from several threads."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._make(service)
            return self._clients[service]

    def _make(self, service: str) -> Any:
        arguments = {
            "credential": self.credential,
            "subscription_id": self.subscription_id,
            "base_url": self.arm_endpoint,
            **self.client_options,
        }
        if service == "resource":
            return ResourceManagementClient(**arguments)
        if service == "storage":
            from azure.mgmt.storage import StorageManagementClient

            return StorageManagementClient(**arguments)
        if service == "keyvault":
            from azure.mgmt.keyvault import KeyVaultManagementClient

            return KeyVaultManagementClient(**arguments)
        if service.startswith("https://") or service.startswith("http://"):
            from azure.keyvault.secrets import SecretClient

            options = {k: v for k, v in self.client_options.items() if k != "polling_interval"}
            return SecretClient(
                service, self.credential, verify_challenge_resource=self.verify_challenge_resource, **options
            )
        if service == "appcontainers":
            from azure.mgmt.appcontainers import ContainerAppsAPIClient

            return ContainerAppsAPIClient(**arguments)
        if service == "loganalytics":
            from azure.mgmt.loganalytics import LogAnalyticsManagementClient

            return LogAnalyticsManagementClient(**arguments)
        if service == "servicebus":
            from azure.mgmt.servicebus import ServiceBusManagementClient

            return ServiceBusManagementClient(**arguments)
        raise ValueError(f"no Azure client for {service!r}")

    def blobs(self, endpoint: str) -> Any:
        """The Blob Storage data-plane client of a storage account, by its blob endpoint (`primaryEndpoints.blob`),
        with the same credential and connection options; made once per endpoint."""
        with self._lock:
            key = "blob " + endpoint
            if key not in self._clients:
                from azure.storage.blob import BlobServiceClient

                options = {k: v for k, v in self.client_options.items() if k != "polling_interval"}
                self._clients[key] = BlobServiceClient(endpoint, credential=self.credential, **options)
            return self._clients[key]

    # -- resource groups ---------------------------------------------------------------------------------------------

    def ensure_group(self, platform: str) -> str:
        """The platform's resource group, made (or its identity tags restored) if need be; its name."""
        group = names.group(platform)
        tags = {TAG_PLATFORM: platform, TAG_MANAGED_BY: MANAGED_BY}
        resource = self.client("resource")
        try:
            current = resource.resource_groups.get(group)
        except ResourceNotFoundError:
            current = None
        if current is None or any((current.tags or {}).get(k) != v for k, v in tags.items()):
            kept = dict(current.tags or {}) if current is not None else {}
            location = current.location if current is not None else self.location
            resource.resource_groups.create_or_update(group, {"location": location, "tags": {**kept, **tags}})
        return group

    def listed(self, platform: str) -> list[Listed]:
        """Every resource in `platform`'s group, with its tags: one paged listing (ARM's subscription-wide listing
        filtered by tag drops the tags, so the group's is what tells whose each resource is)."""
        if not names.is_name(platform):
            return []
        try:
            pages = self.client("resource").resources.list_by_resource_group(names.group(platform))
            return [Listed(r.id, r.name, r.type, dict(r.tags or {})) for r in pages]
        except ResourceNotFoundError:
            return []

    def platform_of(self, resource_id: str) -> str | None:
        """The platform whose group (`mnops-<platform>`) a resource id is in, if any."""
        parts = resource_id.split("/")
        if len(parts) > 4 and parts[3].lower() == "resourcegroups":
            return names.platform_of_group(parts[4])
        return None

    def managed_groups(self, types: frozenset[str]) -> dict[str, set[str]]:
        """The platforms whose group holds at least one managed resource of `types` (lower-case ARM types), with the
        types found there: one tag-filtered listing of the whole subscription."""
        found: dict[str, set[str]] = {}
        for row in self.client("resource").resources.list(filter=MANAGED_FILTER):
            if (row.type or "").lower() not in types:
                continue
            platform = self.platform_of(row.id or "")
            if platform is not None:
                found.setdefault(platform, set()).add((row.type or "").lower())
        return found

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
