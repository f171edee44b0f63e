"""What every GCP driver shares: the project, location and credentials, the clients made from them (once each), the
retry deadline, and the one place where the Google libraries' errors become `AdapterError`s.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import google.auth
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials

from adapters.base import AdapterError, ResourceKey
from adapters.gcp import PROVIDER

# Google's messages are short; a proxy's HTML error page is not, and is no use in an error message.
MAX_REASON = 400
REDACTED = "[redacted]"
# What the Google libraries and their transport raise: API answers, exhausted retries, credentials that cannot be had,
# and connections that fail below the API (the JSON APIs run over `requests`).
SDK_ERRORS: tuple[type[BaseException], ...] = (
    api_exceptions.GoogleAPIError,
    auth_exceptions.GoogleAuthError,
    requests.exceptions.RequestException,
)


# The client libraries' transports log whole requests and responses at DEBUG (as structured `extra` fields, base64 for
# bytes), which for these calls are secret values.
BODY_LOGGERS = (
    "google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc",
    "google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest",
)
VALUE_CALLS = ("AddSecretVersion", "AccessSecretVersion", "add_secret_version", "access_secret_version")


class SecretBodies(logging.Filter):
    """Drops the DEBUG records of a call whose body holds a secret value, so no log level or handler can show one:
    a debugging session's logs are read by more people than the secrets are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True
        described = f"{record.getMessage()} {getattr(record, 'rpcName', '')}"
        return not any(call in described for call in VALUE_CALLS)


def keep_secret_values_out_of_logs() -> None:
    """Attach `SecretBodies` to the loggers that log bodies, once per process."""
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretBodies) for f in logger.filters):
            logger.addFilter(SecretBodies())


def failures_reason(exc: BaseException) -> str:
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        status = exc.grpc_status_code.name if exc.grpc_status_code is not None else str(exc.code or "")
        reason = f"{status or type(exc).__name__}: {' '.join(str(exc.message or '').split())}"
    elif isinstance(exc, api_exceptions.RetryError):
        cause = exc.cause
        reason = f"gave up retrying: {failures_reason(cause) if cause is not None else exc.message}"
    else:
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


@contextmanager
def failures(
    operation: str, key: ResourceKey | None, *, subject: str = "", redact: Sequence[str] = ()
) -> Iterator[None]:
    """Turn a Google library error into `AdapterError(gcp, operation, key, "<status>: <message>")`, raised from it.

    `subject` (a bucket's name) goes in front of the reason when `key` is unknown. `redact` lists values that must not
    leave in the message: a call carrying a secret value passes it, in case a server echoes a request back.
    """
    try:
        yield
    except AdapterError:
        raise
    except SDK_ERRORS as exc:
        reason = failures_reason(exc)
        for value in redact:
            if value:
                reason = reason.replace(value, REDACTED)
        if subject and key is None:
            reason = f"{subject}: {reason}"
        raise AdapterError(PROVIDER, operation, key, reason) from exc


def credentials_for(anonymous: bool, credentials_file: str | None) -> tuple[Credentials, str | None]:
    """(credentials, the project they name if any): anonymous for emulators, a service-account key file when the
    settings name one, else application default credentials (the metadata server, `gcloud auth
    application-default login`, `GOOGLE_APPLICATION_CREDENTIALS`)."""
    if anonymous:
        return AnonymousCredentials(), None
    scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    if credentials_file:
        from google.oauth2 import service_account

        found = service_account.Credentials.from_service_account_file(credentials_file, scopes=scopes)
        return found, found.project_id
    return google.auth.default(scopes=scopes)


@dataclass
class GcpContext:
    """The settings and connections the GCP drivers share (see `GcpAdapter` for what each setting means)."""

    project: str
    location: str
    credentials: Credentials
    storage_endpoint: str | None
    retry_seconds: float
    grpc_endpoint: str | None = None
    base_dir: Path = field(default_factory=lambda: Path(os.getcwd()))
    clock: Callable[[], float] | None = None
    max_concurrency: int = 16
    pubsub_endpoint: str | None = None
    default_image: str | None = None
    container_port: int = 8080
    project_identity: str = "none"
    tag_value: str | None = None
    _project_marked: bool = field(default=False, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def storage(self) -> Any:
        """The Cloud Storage client (JSON API over HTTPS), made on first use."""
        with self._lock:
            if "storage" not in self._clients:
                from google.cloud import storage

                options = {"api_endpoint": self.storage_endpoint} if self.storage_endpoint else None
                self._clients["storage"] = storage.Client(
                    project=self.project, credentials=self.credentials, client_options=options
                )
            return self._clients["storage"]

    @property
    def storage_retry(self) -> Any:
        """Cloud Storage's own retry policy (transient errors, 429 and 5xx), bounded by the adapter's deadline."""
        from google.cloud.storage.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_timeout(self.retry_seconds).with_delay(initial=0.05, maximum=2.0)

    def secret_manager(self) -> Any:
        """The Secret Manager client (gRPC), made on first use; over a plain channel to `grpc_endpoint` when set."""
        with self._lock:
            if "secretmanager" not in self._clients:
                from google.cloud import secretmanager_v1

                keep_secret_values_out_of_logs()
                if self.grpc_endpoint:
                    import grpc
                    from google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc import (
                        SecretManagerServiceGrpcTransport,
                    )

                    transport = SecretManagerServiceGrpcTransport(channel=grpc.insecure_channel(self.grpc_endpoint))
                    self._clients["secretmanager"] = secretmanager_v1.SecretManagerServiceClient(transport=transport)
                else:
                    self._clients["secretmanager"] = secretmanager_v1.SecretManagerServiceClient(
                        credentials=self.credentials
                    )
            return self._clients["secretmanager"]

    def logging_config(self) -> Any:
        """Cloud Logging's configuration client (gRPC), made on first use; over a plain channel to `grpc_endpoint`
        when set."""
        with self._lock:
            if "logging" not in self._clients:
                from google.cloud.logging_v2.services.config_service_v2 import ConfigServiceV2Client

                if self.grpc_endpoint:
                    import grpc
                    from google.cloud.logging_v2.services.config_service_v2.transports.grpc import (
                        ConfigServiceV2GrpcTransport,
                    )

                    transport = ConfigServiceV2GrpcTransport(channel=grpc.insecure_channel(self.grpc_endpoint))
                    self._clients["logging"] = ConfigServiceV2Client(transport=transport)
                else:
                    self._clients["logging"] = ConfigServiceV2Client(credentials=self.credentials)
            return self._clients["logging"]

    def _grpc_client(self, name: str, client: Any, transport: Any, endpoint: str | None) -> Any:
        """A gRPC client made on first use: over a plain channel to `endpoint` when set (an emulator or a fake),
        else to Google with the adapter's credentials."""
        with self._lock:
            if name not in self._clients:
                if endpoint:
                    import grpc

                    self._clients[name] = client(transport=transport(channel=grpc.insecure_channel(endpoint)))
                else:
                    self._clients[name] = client(credentials=self.credentials)
            return self._clients[name]

    def publisher(self) -> Any:
        """Pub/Sub's topic administration (gRPC), over a plain channel to `pubsub_endpoint` when set."""
        from google.pubsub_v1 import PublisherClient
        from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport

        return self._grpc_client("publisher", PublisherClient, PublisherGrpcTransport, self.pubsub_endpoint)

    def subscriber(self) -> Any:
        """Pub/Sub's subscription administration (gRPC), over a plain channel to `pubsub_endpoint` when set."""
        from google.pubsub_v1 import SubscriberClient
        from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

        return self._grpc_client("subscriber", SubscriberClient, SubscriberGrpcTransport, self.pubsub_endpoint)

    def run_services(self) -> Any:
        """Cloud Run v2's services client (gRPC), over a plain channel to `grpc_endpoint` when set."""
        from google.cloud.run_v2 import ServicesClient
        from google.cloud.run_v2.services.services.transports.grpc import ServicesGrpcTransport

        return self._grpc_client("run", ServicesClient, ServicesGrpcTransport, self.grpc_endpoint)

    def projects(self) -> Any:
        """Resource Manager v3's projects client (gRPC), over a plain channel to `grpc_endpoint` when set."""
        from google.cloud.resourcemanager_v3 import ProjectsClient
        from google.cloud.resourcemanager_v3.services.projects.transports.grpc import ProjectsGrpcTransport

        return self._grpc_client("projects", ProjectsClient, ProjectsGrpcTransport, self.grpc_endpoint)

    def tag_bindings(self) -> Any:
        """Resource Manager v3's tag bindings client (gRPC), over a plain channel to `grpc_endpoint` when set."""
        from google.cloud.resourcemanager_v3 import TagBindingsClient
        from google.cloud.resourcemanager_v3.services.tag_bindings.transports.grpc import TagBindingsGrpcTransport

        return self._grpc_client("tag_bindings", TagBindingsClient, TagBindingsGrpcTransport, self.grpc_endpoint)

    def mark_project(self) -> None:
        """The project's mark (`project_identity`), once per adapter; raises the library's error."""
        if self._project_marked:
            return
        from adapters.gcp import project

        project.ensure(self)
        self._project_marked = True

    @property
    def polling(self) -> Any:
        """How a long-running operation is waited for: polled after 10 ms, then less often up to every second, for ten
        minutes (or the retry deadline, if longer): a Cloud Run revision can take minutes to become ready."""
        from google.api_core.future.polling import DEFAULT_POLLING

        return DEFAULT_POLLING.with_delay(initial=0.01, maximum=1.0).with_timeout(max(self.retry_seconds, 600.0))

    @property
    def grpc_retry(self) -> Any:
        """Retries of transient gRPC errors (UNAVAILABLE, RESOURCE_EXHAUSTED...), bounded by the adapter's deadline."""
        from google.api_core import retry

        return retry.Retry(predicate=retry.if_transient_error, initial=0.05, maximum=2.0, timeout=self.retry_seconds)

    def reconnect(
        self, storage_endpoint: str | None, grpc_endpoint: str | None, pubsub_endpoint: str | None = None
    ) -> None:
        """Use other endpoints from now on (an emulator restarted elsewhere); clients are made again on first use."""
        self.close()
        self.storage_endpoint = storage_endpoint
        self.grpc_endpoint = grpc_endpoint
        self.pubsub_endpoint = pubsub_endpoint

    def map(self, function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """`function(item)` for every item, on up to `max_concurrency` threads, in order; the first error raised is
        raised again. Per-resource reads wait on the network, so threads are what keeps a scan of many resources near
        the speed of one listing. The gRPC clients are safe to share between threads. `function` must not call `map`
        itself: the pool is bounded."""
        if len(items) <= 1 or self.max_concurrency <= 1:
            return [function(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="mnops-gcp")
            pool = self._pool
        return list(pool.map(function, items))

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            for client in self._clients.values():
                closing = getattr(client, "close", None) or getattr(client.transport, "close", None)
                if callable(closing):
                    closing()
            self._clients.clear()
