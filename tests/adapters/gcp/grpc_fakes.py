"""In-process gRPC servers for the Google APIs that have no emulator, built from the client libraries' own method
tables and message types: each transport's stubs are touched once through a recording channel, which gives every
method's path and its request and response types; a fake implements the methods it serves as GCP does (validation,
NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT, field masks, pages) and the rest answer UNIMPLEMENTED.

`SecretManager` is Secret Manager v1 as the adapter uses it: secrets with labels, annotations and versions, strict on
label and annotation syntax, update masks, automatic replication and the CRC32C of version payloads. `LoggingConfig`
is Cloud Logging's bucket and sink configuration. `CloudRun` is Cloud Run v2's services, whose writes are long-running
operations served by the shipped `OperationsServicer`; `ResourceManager` is Resource Manager v3's projects and tag
bindings. `grpc_fakes()` serves them all on one port, behind an
interceptor that counts every call.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import google_crc32c
import grpc
from google.cloud.secretmanager_v1 import types as sm
from google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc import (
    SecretManagerServiceGrpcTransport,
)

Handler = Callable[[Any, grpc.ServicerContext], Any]


class _Recorder(grpc.Channel):
    """A channel that makes no call: it records what each stub asks it for."""

    def __init__(self) -> None:
        self.methods: dict[str, tuple[Any, Any]] = {}

    def unary_unary(self, method: str, request_serializer: Any = None, response_deserializer: Any = None, *a, **k):
        self.methods[method] = (request_serializer, response_deserializer)
        return _NoCall()

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def subscribe(self, *args: Any, **kwargs: Any) -> None:
        return None

    def unsubscribe(self, *args: Any, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        return None


class _NoCall:
    def __call__(self, *args: Any, **kwargs: Any) -> None:
        return None

    def with_call(self, *args: Any, **kwargs: Any) -> tuple[None, None]:
        return None, None


def method_table(transport: type) -> dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes]]]:
    """Method path -> (request deserializer, response serializer) for a client library's gRPC transport class."""
    recorder = _Recorder()
    made = transport(channel=recorder, credentials=None)
    for stub in made._stubs.values():
        try:
            stub(None)
        except Exception:  # the interceptors may object to a None request; the channel has recorded it by then
            pass
    table = {}
    for path, (serialize, deserialize) in recorder.methods.items():
        request_type = getattr(serialize, "__self__", None)
        response_type = getattr(deserialize, "__self__", None)
        if response_type is None:
            continue  # a method without types of its own (operations' cancel): not served
        parse = request_type.deserialize if hasattr(request_type, "deserialize") else None
        if parse is None:
            continue  # a raw protobuf method (IAM, locations): not served
        write = response_type.serialize if hasattr(response_type, "serialize") else _raw_serializer
        table[path] = (parse, write)
    return table


def _raw_serializer(message: Any) -> bytes:
    return message.SerializeToString()


class Failure(Exception):
    """What a fake answers instead of a response: a gRPC status and its message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Counting(grpc.ServerInterceptor):
    """Counts every call the server receives, by method, and adds `delay` seconds to each: how benchmarks measure
    what a scan costs at the server, whatever the client does."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.delay = 0.0
        self.lock = threading.Lock()

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        with self.lock:
            self.calls[handler_call_details.method.rsplit("/", 1)[1]] += 1
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        def slowed(request: Any, context: grpc.ServicerContext) -> Any:
            # Waiting here, in the call's own worker thread: waiting in the interceptor would hold up every call.
            if self.delay:
                time.sleep(self.delay)
            return inner(request, context)

        return handler._replace(unary_unary=slowed)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.delay = 0.0


@contextmanager
def serve_all(
    services: list[tuple[str, Any, type]],
    servicers: list[Callable[[grpc.Server], None]] = (),
    counting: Counting | None = None,
) -> Iterator[str]:
    """Serve each (service, fake, transport)'s methods, named as the client's (`create_secret`), on one port of
    127.0.0.1, with `servicers` (each adds itself to the server: the long-running operations); yields `host:port`."""
    generic = []
    for service, fake, transport in services:
        handlers = {}
        for path, (parse, write) in method_table(transport).items():
            if not path.startswith(f"/{service}/"):
                continue  # a mixin (locations, operations) the fake does not serve
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", path.rsplit("/", 1)[1]).lower()
            implementation = getattr(fake, name, None)
            handlers[path.rsplit("/", 1)[1]] = grpc.unary_unary_rpc_method_handler(
                _answer(fake, name, implementation), request_deserializer=parse, response_serializer=write
            )
        generic.append(grpc.method_handlers_generic_handler(service, handlers))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16), interceptors=[counting] if counting is not None else []
    )
    server.add_generic_rpc_handlers(generic)
    for add in servicers:
        add(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def _answer(fake: Any, name: str, implementation: Handler | None) -> Handler:
    def answer(request: Any, context: grpc.ServicerContext) -> Any:
        fake.calls[name] += 1
        if implementation is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} is not served by this fake")
        try:
            with fake.lock:
                return implementation(request)
        except Failure as failure:
            context.abort(failure.code, failure.message)

    return answer


# -- Secret Manager ----------------------------------------------------------------------------------------------------

SECRET_MANAGER = "google.cloud.secretmanager.v1.SecretManagerService"
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
ANNOTATION_KEY = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$")
ANNOTATIONS_MAX_BYTES = 16384
SECRET_ID = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
SECRET_NAME = re.compile(r"^projects/([^/]+)/secrets/([^/]+)$")
VERSION_NAME = re.compile(r"^projects/([^/]+)/secrets/([^/]+)/versions/([^/]+)$")
UPDATABLE = {
    "labels",
    "annotations",
    "topics",
    "expire_time",
    "ttl",
    "rotation",
    "version_aliases",
    "version_destroy_ttl",
}
PAYLOAD_MAX = 65536
# The filter terms Secret Manager documents that the adapter may send: `name:<substring>`, `labels.<key>=<value>`.
FILTER_TERM = re.compile(r"^(name|labels\.[a-z][a-z0-9_-]*)[=:](\S+)$")


def _invalid(message: str) -> Failure:
    return Failure(grpc.StatusCode.INVALID_ARGUMENT, message)


class SecretManager:
    """Secret Manager's state and rules; `calls` counts requests by method, `deny` names secrets whose every call is
    PERMISSION_DENIED."""

    def __init__(self) -> None:
        self.secrets: dict[str, sm.Secret] = {}
        self.versions: dict[str, list[tuple[sm.SecretVersion, bytes]]] = {}
        self.calls: Counter[str] = Counter()
        self.deny: set[str] = set()
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.secrets.clear()
            self.versions.clear()
            self.calls.clear()
            self.deny.clear()

    def _check_labels(self, secret: sm.Secret) -> None:
        for key, value in secret.labels.items():
            if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
                raise _invalid(f"Invalid label: {key}")
        size = 0
        for key, value in secret.annotations.items():
            if not ANNOTATION_KEY.match(key):
                raise _invalid(f"Invalid annotation key: {key}")
            size += len(key.encode()) + len(value.encode())
        if size > ANNOTATIONS_MAX_BYTES:
            raise _invalid("annotations exceed 16 KiB")

    def _secret(self, name: str) -> sm.Secret:
        if not SECRET_NAME.match(name):
            raise _invalid(f"Invalid resource name: {name}")
        if name in self.deny:
            raise Failure(grpc.StatusCode.PERMISSION_DENIED, f"Permission denied on resource {name}")
        if name not in self.secrets:
            raise Failure(grpc.StatusCode.NOT_FOUND, f"Secret [{name}] not found or has no versions.")
        return self.secrets[name]

    def create_secret(self, request: sm.CreateSecretRequest) -> sm.Secret:
        if not SECRET_ID.match(request.secret_id):
            raise _invalid(f"Invalid secret id: {request.secret_id!r}")
        if "replication" not in request.secret or not (
            "automatic" in request.secret.replication or "user_managed" in request.secret.replication
        ):
            raise _invalid("Secret.replication is required")
        name = f"{request.parent}/secrets/{request.secret_id}"
        if name in self.secrets:
            raise Failure(grpc.StatusCode.ALREADY_EXISTS, f"Secret [{name}] already exists.")
        self._check_labels(request.secret)
        secret = sm.Secret(request.secret)
        secret.name = name
        secret.create_time = datetime.now(UTC)
        self.secrets[name] = secret
        self.versions[name] = []
        return secret

    def get_secret(self, request: sm.GetSecretRequest) -> sm.Secret:
        return self._secret(request.name)

    def update_secret(self, request: sm.UpdateSecretRequest) -> sm.Secret:
        paths = list(request.update_mask.paths)
        if not paths:
            raise _invalid("update_mask is required")
        for path in paths:
            if path not in UPDATABLE:
                raise _invalid(f"update_mask path {path!r} cannot be updated")
        secret = self._secret(request.secret.name)
        self._check_labels(request.secret)
        changed = sm.Secret(secret)
        for path in paths:
            setattr(changed, path, getattr(request.secret, path))
        self.secrets[secret.name] = changed
        return changed

    def delete_secret(self, request: sm.DeleteSecretRequest) -> Any:
        self._secret(request.name)
        del self.secrets[request.name]
        del self.versions[request.name]
        from google.protobuf import empty_pb2

        return empty_pb2.Empty()

    def list_secrets(self, request: sm.ListSecretsRequest) -> sm.ListSecretsResponse:
        terms = []
        for term in request.filter.split(" AND ") if request.filter else []:
            match = FILTER_TERM.match(term.strip())
            if not match:
                raise _invalid(f"Invalid filter: {request.filter}")
            terms.append((match.group(1), match.group(2)))

        def matches(secret: sm.Secret) -> bool:
            for field, wanted in terms:
                if field == "name":
                    if wanted not in secret.name.rsplit("/", 1)[-1]:
                        return False
                elif secret.labels.get(field.removeprefix("labels.")) != wanted:
                    return False
            return True

        size = min(request.page_size or 25000, 25000)
        found = [s for name, s in sorted(self.secrets.items()) if name.startswith(request.parent + "/") and matches(s)]
        start = int(request.page_token or 0)
        page = found[start : start + size]
        more = start + size < len(found)
        return sm.ListSecretsResponse(
            secrets=page, next_page_token=str(start + size) if more else "", total_size=len(found)
        )

    def add_secret_version(self, request: sm.AddSecretVersionRequest) -> sm.SecretVersion:
        secret = self._secret(request.parent)
        data = request.payload.data
        if len(data) > PAYLOAD_MAX:
            raise _invalid("payload exceeds 64 KiB")
        if "data_crc32c" in request.payload and google_crc32c.value(data) != request.payload.data_crc32c:
            raise _invalid("Checksum mismatch: data_crc32c does not match the payload")
        versions = self.versions[secret.name]
        version = sm.SecretVersion(
            name=f"{secret.name}/versions/{len(versions) + 1}",
            create_time=datetime.now(UTC),
            state=sm.SecretVersion.State.ENABLED,
        )
        versions.append((version, data))
        return version

    def _version(self, name: str) -> tuple[sm.SecretVersion, bytes]:
        match = VERSION_NAME.match(name)
        if not match:
            raise _invalid(f"Invalid resource name: {name}")
        secret = self._secret(name.rsplit("/versions/", 1)[0])
        versions = self.versions[secret.name]
        wanted = match.group(3)
        if wanted == "latest":
            enabled = [v for v in versions if v[0].state == sm.SecretVersion.State.ENABLED]
            if enabled:
                return enabled[-1]
        elif wanted.isdigit() and 1 <= int(wanted) <= len(versions):
            return versions[int(wanted) - 1]
        raise Failure(grpc.StatusCode.NOT_FOUND, f"Secret Version [{name}] not found.")

    def get_secret_version(self, request: sm.GetSecretVersionRequest) -> sm.SecretVersion:
        return self._version(request.name)[0]

    def access_secret_version(self, request: sm.AccessSecretVersionRequest) -> sm.AccessSecretVersionResponse:
        version, data = self._version(request.name)
        payload = sm.SecretPayload(data=data, data_crc32c=google_crc32c.value(data))
        return sm.AccessSecretVersionResponse(name=version.name, payload=payload)


# -- Cloud Logging configuration ---------------------------------------------------------------------------------------

LOGGING_CONFIG = "google.logging.v2.ConfigServiceV2"
BUCKET_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$")
SINK_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
BUCKET_UPDATABLE = {
    "retention_days",
    "description",
    "locked",
    "restricted_fields",
    "index_configs",
    "analytics_enabled",
}
SINK_UPDATABLE = {"destination", "filter", "description", "disabled", "include_children", "exclusions"}


class LoggingConfig:
    """Cloud Logging's bucket and sink configuration: retention 1-3650 days, update masks, a deleted bucket kept
    DELETE_REQUESTED (its name taken until it is undeleted or purged), locked buckets whose retention cannot shrink."""

    def __init__(self) -> None:
        self.buckets: dict[str, Any] = {}
        self.sinks: dict[str, Any] = {}
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.buckets.clear()
            self.sinks.clear()
            self.calls.clear()

    @staticmethod
    def _retention(days: int) -> None:
        if not 1 <= days <= 3650:
            raise _invalid(f"retention_days must be between 1 and 3650, not {days}")

    def _bucket(self, name: str) -> Any:
        if name not in self.buckets:
            raise Failure(grpc.StatusCode.NOT_FOUND, f"Bucket {name} does not exist")
        return self.buckets[name]

    def create_bucket(self, request: Any) -> Any:
        from google.cloud.logging_v2 import types as logging_types

        if not BUCKET_ID.match(request.bucket_id) or request.bucket_id.startswith("_"):
            raise _invalid(f"Invalid bucket id: {request.bucket_id!r}")
        name = f"{request.parent}/buckets/{request.bucket_id}"
        existing = self.buckets.get(name)
        if existing is not None and existing.lifecycle_state == logging_types.LifecycleState.DELETE_REQUESTED:
            raise Failure(grpc.StatusCode.FAILED_PRECONDITION, f"Bucket {name} is pending deletion; undelete it")
        if existing is not None:
            raise Failure(grpc.StatusCode.ALREADY_EXISTS, f"Bucket {name} already exists")
        self._retention(request.bucket.retention_days or 30)
        bucket = logging_types.LogBucket(request.bucket)
        bucket.name = name
        bucket.retention_days = request.bucket.retention_days or 30
        bucket.lifecycle_state = logging_types.LifecycleState.ACTIVE
        bucket.create_time = datetime.now(UTC)
        self.buckets[name] = bucket
        return bucket

    def get_bucket(self, request: Any) -> Any:
        return self._bucket(request.name)

    def list_buckets(self, request: Any) -> Any:
        from google.cloud.logging_v2 import types as logging_types

        found = [b for n, b in sorted(self.buckets.items()) if n.startswith(request.parent + "/buckets/")]
        size = min(request.page_size or 200, 200)
        start = int(request.page_token or 0)
        more = start + size < len(found)
        return logging_types.ListBucketsResponse(
            buckets=found[start : start + size], next_page_token=str(start + size) if more else ""
        )

    def update_bucket(self, request: Any) -> Any:
        from google.cloud.logging_v2 import types as logging_types

        paths = list(request.update_mask.paths)
        if not paths or any(p not in BUCKET_UPDATABLE for p in paths):
            raise _invalid(f"update_mask must name updatable fields, not {paths}")
        bucket = self._bucket(request.name)
        if bucket.lifecycle_state != logging_types.LifecycleState.ACTIVE:
            raise Failure(grpc.StatusCode.FAILED_PRECONDITION, f"Bucket {request.name} is not active")
        changed = logging_types.LogBucket(bucket)
        for path in paths:
            setattr(changed, path, getattr(request.bucket, path))
        self._retention(changed.retention_days)
        if bucket.locked and changed.retention_days < bucket.retention_days:
            raise Failure(grpc.StatusCode.FAILED_PRECONDITION, "the retention of a locked bucket cannot be reduced")
        changed.update_time = datetime.now(UTC)
        self.buckets[request.name] = changed
        return changed

    def delete_bucket(self, request: Any) -> Any:
        from google.cloud.logging_v2 import types as logging_types
        from google.protobuf import empty_pb2

        bucket = self._bucket(request.name)
        if bucket.locked:
            raise Failure(grpc.StatusCode.FAILED_PRECONDITION, "a locked bucket cannot be deleted")
        if bucket.lifecycle_state == logging_types.LifecycleState.DELETE_REQUESTED:
            raise Failure(grpc.StatusCode.FAILED_PRECONDITION, f"Bucket {request.name} is already pending deletion")
        bucket.lifecycle_state = logging_types.LifecycleState.DELETE_REQUESTED
        return empty_pb2.Empty()

    def undelete_bucket(self, request: Any) -> Any:
        from google.cloud.logging_v2 import types as logging_types
        from google.protobuf import empty_pb2

        bucket = self._bucket(request.name)
        if bucket.lifecycle_state != logging_types.LifecycleState.DELETE_REQUESTED:
            raise Failure(grpc.StatusCode.FAILED_PRECONDITION, f"Bucket {request.name} is not pending deletion")
        bucket.lifecycle_state = logging_types.LifecycleState.ACTIVE
        return empty_pb2.Empty()

    def _sink(self, name: str) -> Any:
        if name not in self.sinks:
            raise Failure(grpc.StatusCode.NOT_FOUND, f"Sink {name} does not exist")
        return self.sinks[name]

    def create_sink(self, request: Any) -> Any:
        from google.cloud.logging_v2 import types as logging_types

        sink = logging_types.LogSink(request.sink)
        if not SINK_ID.match(sink.name):
            raise _invalid(f"Invalid sink name: {sink.name!r}")
        if not sink.destination.startswith("logging.googleapis.com/projects/"):
            raise _invalid("a sink's destination must be a log bucket here")
        name = f"{request.parent}/sinks/{sink.name}"
        if name in self.sinks:
            raise Failure(grpc.StatusCode.ALREADY_EXISTS, f"Sink {sink.name} already exists")
        sink.create_time = datetime.now(UTC)
        self.sinks[name] = sink
        return sink

    def get_sink(self, request: Any) -> Any:
        return self._sink(request.sink_name)

    def update_sink(self, request: Any) -> Any:
        from google.cloud.logging_v2 import types as logging_types

        sink = self._sink(request.sink_name)
        paths = list(request.update_mask.paths) or ["destination", "filter", "include_children"]
        if any(p not in SINK_UPDATABLE for p in paths):
            raise _invalid(f"update_mask must name updatable fields, not {paths}")
        changed = logging_types.LogSink(sink)
        for path in paths:
            setattr(changed, path, getattr(request.sink, path))
        self.sinks[request.sink_name] = changed
        return changed

    def delete_sink(self, request: Any) -> Any:
        from google.protobuf import empty_pb2

        self._sink(request.sink_name)
        del self.sinks[request.sink_name]
        return empty_pb2.Empty()

    def list_sinks(self, request: Any) -> Any:
        from google.cloud.logging_v2 import types as logging_types

        found = [s for n, s in sorted(self.sinks.items()) if n.startswith(request.parent + "/sinks/")]
        size = min(request.page_size or 200, 200)
        start = int(request.page_token or 0)
        more = start + size < len(found)
        return logging_types.ListSinksResponse(
            sinks=found[start : start + size], next_page_token=str(start + size) if more else ""
        )


# -- Cloud Run v2 and long-running operations --------------------------------------------------------------------------

CLOUD_RUN = "google.cloud.run.v2.Services"
SERVICE_ID = re.compile(r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$")
LOCATION_PARENT = re.compile(r"^projects/[^/]+/locations/[^/]+$")
CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
MEMORY = re.compile(r"^[0-9]+(Mi|Gi)$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_ENV = {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}
SECRET_REF = re.compile(r"^(projects/[^/]+/secrets/)?[A-Za-z0-9_-]{1,255}$")


def _check_size(cpu_limit: str, memory_limit: str) -> None:
    """Cloud Run's CPU and memory rules: a fraction of a vCPU holds 512 MiB at most; a whole vCPU count is 1, 2, 4, 6
    or 8 and holds 4 GiB a vCPU at most; 4 vCPUs need 2 GiB, 6 and 8 need 4 GiB; 128 MiB at least."""
    cpu = int(cpu_limit[:-1]) / 1000 if cpu_limit.endswith("m") else float(cpu_limit)
    memory = int(memory_limit[:-2]) * (1024 if memory_limit.endswith("Gi") else 1)
    if memory < 128:
        raise _invalid(f"Invalid value for memory: {memory_limit}: at least 128Mi")
    if cpu < 1:
        if memory > 512:
            raise _invalid(f"Invalid value for memory: less than 1 CPU allows at most 512Mi, not {memory_limit}")
        return
    if cpu not in (1, 2, 4, 6, 8):
        raise _invalid(f"Invalid value for cpu: {cpu_limit}: 1, 2, 4, 6 or 8 CPUs, or a fraction below 1")
    if memory > cpu * 4096:
        raise _invalid(f"Invalid value for memory: {cpu_limit} CPU allows at most {int(cpu) * 4}Gi")
    if memory < {4: 2048, 6: 4096, 8: 4096}.get(int(cpu), 0):
        raise _invalid(f"Invalid value for memory: {cpu_limit} CPU needs more than {memory_limit}")


class Operations:
    """`google.longrunning.Operations` for the fakes whose methods are long-running: an operation is pending when it
    is made and done at its first poll, so clients really poll."""

    def __init__(self) -> None:
        self.pending: dict[str, Callable[[], Any]] = {}
        self.done: dict[str, Any] = {}
        self.lock = threading.Lock()

    def start(self, parent: str, finish: Callable[[], Any], metadata: Any) -> Any:
        """A new pending operation under `parent`; `finish()` gives its response (a proto-plus message) when polled,
        or raises `Failure`."""
        from google.longrunning import operations_pb2
        from google.protobuf import any_pb2

        name = f"{parent}/operations/{uuid.uuid4()}" if parent else f"operations/{uuid.uuid4()}"
        self.pending[name] = finish
        packed = any_pb2.Any()
        packed.Pack(type(metadata).pb(metadata))
        return operations_pb2.Operation(name=name, done=False, metadata=packed)

    def get(self, name: str) -> Any:
        from google.longrunning import operations_pb2
        from google.protobuf import any_pb2
        from google.rpc import status_pb2

        with self.lock:
            if name in self.done:
                return self.done[name]
            finish = self.pending.pop(name, None)
            if finish is None:
                raise Failure(grpc.StatusCode.NOT_FOUND, f"Operation {name} not found")
            operation = operations_pb2.Operation(name=name, done=True)
            try:
                response = finish()
            except Failure as failure:
                operation.error.CopyFrom(status_pb2.Status(code=failure.code.value[0], message=failure.message))
            else:
                packed = any_pb2.Any()
                packed.Pack(type(response).pb(response))
                operation.response.CopyFrom(packed)
            self.done[name] = operation
            return operation

    def reset(self) -> None:
        with self.lock:
            self.pending.clear()
            self.done.clear()

    def add_to(self, server: grpc.Server) -> None:
        from google.longrunning import operations_pb2_grpc

        operations = self

        class Servicer(operations_pb2_grpc.OperationsServicer):
            def GetOperation(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
                try:
                    return operations.get(request.name)
                except Failure as failure:
                    context.abort(failure.code, failure.message)

        operations_pb2_grpc.add_OperationsServicer_to_server(Servicer(), server)


class CloudRun:
    """Cloud Run v2 services as the adapter uses them: create, update and delete are long-running; strict on service
    ids, labels, containers (image, CPU and memory formats, env names, reserved variables, secret references),
    scaling bounds and probes; NOT_FOUND, ALREADY_EXISTS, and ABORTED on a stale etag. A service is Ready once its
    operation is done; `crash(name)` makes its latest revision fail, as a crashing container does."""

    def __init__(self, operations: Operations) -> None:
        self.operations = operations
        self.services: dict[str, Any] = {}
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.services.clear()
            self.calls.clear()

    def crash(self, name: str) -> None:
        from google.cloud import run_v2

        with self.lock:
            service = self.services[name]
            service.terminal_condition = run_v2.Condition(
                type_="Ready",
                state=run_v2.Condition.State.CONDITION_FAILED,
                message="The user-provided container failed to start and listen on the port",
            )

    def _validate(self, service: Any) -> None:
        for key, value in service.labels.items():
            if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
                raise _invalid(f"Invalid label: {key}")
        template = service.template
        if not template.containers:
            raise _invalid("template.containers: at least one container is required")
        for container in template.containers:
            if not container.image:
                raise _invalid("template.containers[0].image: an image is required")
            limits = dict(container.resources.limits)
            if "cpu" in limits and not CPU.match(limits["cpu"]):
                raise _invalid(f"Invalid value for cpu: {limits['cpu']!r}")
            if "memory" in limits and not MEMORY.match(limits["memory"]):
                raise _invalid(f"Invalid value for memory: {limits['memory']!r}")
            _check_size(limits.get("cpu", "1"), limits.get("memory", "512Mi"))
            seen = set()
            for variable in container.env:
                if not ENV_NAME.match(variable.name) or variable.name in seen:
                    raise _invalid(f"Invalid or repeated environment variable name: {variable.name!r}")
                if variable.name in RESERVED_ENV:
                    raise _invalid(f"The following reserved env names were provided: {variable.name}")
                seen.add(variable.name)
                if "value_source" in variable:
                    if variable.value:
                        raise _invalid(f"env {variable.name}: value and value_source are exclusive")
                    ref = variable.value_source.secret_key_ref
                    if not SECRET_REF.match(ref.secret) or not ref.version:
                        raise _invalid(f"env {variable.name}: invalid secret reference {ref.secret!r}")
            for probe in (container.startup_probe, container.readiness_probe):
                if probe.period_seconds and not 1 <= probe.period_seconds <= 240:
                    raise _invalid("probe period_seconds must be 1-240")
                if probe.timeout_seconds and probe.period_seconds and probe.timeout_seconds > probe.period_seconds:
                    raise _invalid("probe timeout_seconds must not exceed period_seconds")
        scaling = template.scaling
        if scaling.max_instance_count and scaling.min_instance_count > scaling.max_instance_count:
            raise _invalid("template.scaling: min_instance_count exceeds max_instance_count")

    def _service(self, name: str) -> Any:
        if name not in self.services:
            raise Failure(
                grpc.StatusCode.NOT_FOUND, f"Resource '{name.rsplit('/', 1)[-1]}' of kind 'SERVICE' does not exist"
            )
        return self.services[name]

    def _ready(self, service: Any) -> Any:
        from google.cloud import run_v2

        service.observed_generation = service.generation
        service.reconciling = False
        service.terminal_condition = run_v2.Condition(type_="Ready", state=run_v2.Condition.State.CONDITION_SUCCEEDED)
        service.latest_ready_revision = f"{service.name}/revisions/r{service.generation}"
        service.latest_created_revision = service.latest_ready_revision
        return service

    def create_service(self, request: Any) -> Any:
        from google.cloud import run_v2

        if not LOCATION_PARENT.match(request.parent):
            raise _invalid(f"Invalid parent: {request.parent}")
        if not SERVICE_ID.match(request.service_id):
            raise _invalid(f"Invalid service id: {request.service_id!r}")
        if request.service.name:
            raise _invalid("service.name must be empty: the name comes from service_id")
        name = f"{request.parent}/services/{request.service_id}"
        if name in self.services:
            raise Failure(grpc.StatusCode.ALREADY_EXISTS, f"Resource '{request.service_id}' already exists.")
        self._validate(request.service)
        service = run_v2.Service(request.service)
        service.name = name
        service.uid = str(uuid.uuid4())
        service.generation = 1
        service.etag = uuid.uuid4().hex
        service.create_time = datetime.now(UTC)
        service.uri = f"https://{request.service_id}-{service.uid[:10]}.a.run.app"
        service.reconciling = True
        self.services[name] = service
        return self.operations.start(request.parent, lambda: self._finish(name), service)

    def _finish(self, name: str) -> Any:
        with self.lock:
            return self._ready(self._service(name))

    def get_service(self, request: Any) -> Any:
        return self._service(request.name)

    def list_services(self, request: Any) -> Any:
        from google.cloud import run_v2

        if not LOCATION_PARENT.match(request.parent):
            raise _invalid(f"Invalid parent: {request.parent}")
        found = [s for n, s in sorted(self.services.items()) if n.startswith(request.parent + "/services/")]
        size = min(request.page_size or 100, 1000)
        start = int(request.page_token or 0)
        more = start + size < len(found)
        return run_v2.ListServicesResponse(
            services=found[start : start + size], next_page_token=str(start + size) if more else ""
        )

    def update_service(self, request: Any) -> Any:
        from google.cloud import run_v2

        if list(request.update_mask.paths):
            raise _invalid("update_mask is not supported here: send the whole service")
        current = self._service(request.service.name)
        if request.service.etag and request.service.etag != current.etag:
            raise Failure(grpc.StatusCode.ABORTED, "etag mismatch: the service was changed meanwhile")
        self._validate(request.service)
        service = run_v2.Service(request.service)
        for kept in ("name", "uid", "create_time", "uri"):
            setattr(service, kept, getattr(current, kept))
        service.generation = current.generation + 1
        service.etag = uuid.uuid4().hex
        service.reconciling = True
        service.terminal_condition = current.terminal_condition
        self.services[service.name] = service
        parent = service.name.rsplit("/services/", 1)[0]
        return self.operations.start(parent, lambda: self._finish(service.name), service)

    def delete_service(self, request: Any) -> Any:
        current = self._service(request.name)
        if request.etag and request.etag != current.etag:
            raise Failure(grpc.StatusCode.ABORTED, "etag mismatch: the service was changed meanwhile")
        del self.services[request.name]
        parent = request.name.rsplit("/services/", 1)[0]
        return self.operations.start(parent, lambda: current, current)


# -- Resource Manager v3: projects and tag bindings --------------------------------------------------------------------

RESOURCE_MANAGER_PROJECTS = "google.cloud.resourcemanager.v3.Projects"
RESOURCE_MANAGER_TAG_BINDINGS = "google.cloud.resourcemanager.v3.TagBindings"
PROJECT_NAME = re.compile(r"^projects/([^/]+)$")
PROJECT_UPDATABLE = {"labels", "display_name"}
TAG_VALUE_NAME = re.compile(r"^tagValues/[0-9]+$")
FULL_PROJECT = re.compile(r"^//cloudresourcemanager\.googleapis\.com/projects/([0-9]+)$")


class ResourceManager:
    """Resource Manager v3's projects (get, and label updates as long-running operations) and tag bindings, strict
    where GCP is: a project named by id or number, updates naming it by number with a mask of updatable fields, label
    syntax, at most 64 labels, stale etags ABORTED; bindings of existing tag values to full resource names, once each.
    A project it does not hold is PERMISSION_DENIED, as GCP answers for projects one cannot see."""

    def __init__(self, operations: Operations) -> None:
        self.operations = operations
        self.projects: dict[str, Any] = {}
        self.tag_values: set[str] = set()
        self.bindings: list[Any] = []
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def add_project(self, project_id: str, number: str) -> None:
        from google.cloud import resourcemanager_v3 as rm

        with self.lock:
            self.projects[number] = rm.Project(
                name=f"projects/{number}",
                project_id=project_id,
                state=rm.Project.State.ACTIVE,
                etag=uuid.uuid4().hex,
            )

    def reset(self) -> None:
        with self.lock:
            for project in self.projects.values():
                project.labels.clear()
            self.bindings.clear()
            self.calls.clear()

    def _project(self, name: str) -> Any:
        match = PROJECT_NAME.match(name)
        if not match:
            raise _invalid(f"Invalid project name: {name}")
        wanted = match.group(1)
        for number, project in self.projects.items():
            if wanted in (number, project.project_id):
                return project
        raise Failure(
            grpc.StatusCode.PERMISSION_DENIED,
            f"Permission 'resourcemanager.projects.get' denied on resource '{name}' (or it may not exist).",
        )

    def get_project(self, request: Any) -> Any:
        return self._project(request.name)

    def update_project(self, request: Any) -> Any:
        from google.cloud import resourcemanager_v3 as rm

        paths = list(request.update_mask.paths)
        if not paths or any(p not in PROJECT_UPDATABLE for p in paths):
            raise _invalid(f"update_mask must name updatable fields (labels, display_name), not {paths}")
        current = self._project(request.project.name)
        if request.project.name != current.name:
            raise _invalid("a project is updated by its number: projects/<number>")
        if request.project.etag and request.project.etag != current.etag:
            raise Failure(grpc.StatusCode.ABORTED, "etag mismatch: the project was changed meanwhile")
        if len(request.project.labels) > 64:
            raise _invalid("a project holds at most 64 labels")
        for key, value in request.project.labels.items():
            if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
                raise _invalid(f"Invalid label: {key}")
        changed = rm.Project(current)
        for path in paths:
            setattr(changed, path, getattr(request.project, path))
        changed.etag = uuid.uuid4().hex
        number = current.name.removeprefix("projects/")
        return self.operations.start("", lambda: self._store(number, changed), changed)

    def _store(self, number: str, project: Any) -> Any:
        with self.lock:
            self.projects[number] = project
            return project

    def _parent(self, parent: str) -> str:
        match = FULL_PROJECT.match(parent)
        if not match:
            raise _invalid(f"Invalid parent: {parent} (a full resource name, //cloudresourcemanager...)")
        if match.group(1) not in self.projects:
            raise Failure(grpc.StatusCode.PERMISSION_DENIED, f"Permission denied on resource '{parent}'")
        return parent

    def list_tag_bindings(self, request: Any) -> Any:
        from google.cloud import resourcemanager_v3 as rm

        parent = self._parent(request.parent)
        found = [b for b in self.bindings if b.parent == parent]
        size = min(request.page_size or 300, 300)
        start = int(request.page_token or 0)
        more = start + size < len(found)
        return rm.ListTagBindingsResponse(
            tag_bindings=found[start : start + size], next_page_token=str(start + size) if more else ""
        )

    def create_tag_binding(self, request: Any) -> Any:
        from google.cloud import resourcemanager_v3 as rm

        binding = rm.TagBinding(request.tag_binding)
        parent = self._parent(binding.parent)
        if not TAG_VALUE_NAME.match(binding.tag_value):
            raise _invalid(f"Invalid tag value: {binding.tag_value!r}")
        if binding.tag_value not in self.tag_values:
            raise Failure(grpc.StatusCode.NOT_FOUND, f"Tag value {binding.tag_value} not found")
        if any(b.parent == parent and b.tag_value == binding.tag_value for b in self.bindings):
            raise Failure(grpc.StatusCode.ALREADY_EXISTS, "A binding already exists between the resource and tag")
        binding.name = f"tagBindings/{parent.replace('/', '%2F')}/{binding.tag_value}"

        def finish() -> Any:
            with self.lock:
                self.bindings.append(binding)
            return binding

        return self.operations.start("", finish, binding)


class Fakes:
    """Every gRPC fake, served on one port; `counting` counts (and can slow) every call the server receives."""

    def __init__(
        self,
        secrets: SecretManager,
        logging_config: LoggingConfig,
        run: CloudRun,
        resource_manager: ResourceManager,
        operations: Operations,
        counting: Counting,
        address: str,
    ) -> None:
        self.secrets = secrets
        self.logging = logging_config
        self.run = run
        self.resource_manager = resource_manager
        self.operations = operations
        self.counting = counting
        self.address = address

    def reset(self) -> None:
        self.secrets.reset()
        self.logging.reset()
        self.run.reset()
        self.resource_manager.reset()
        self.operations.reset()
        self.counting.reset()


@contextmanager
def grpc_fakes() -> Iterator[Fakes]:
    from google.cloud.logging_v2.services.config_service_v2.transports.grpc import ConfigServiceV2GrpcTransport
    from google.cloud.resourcemanager_v3.services.projects.transports.grpc import ProjectsGrpcTransport
    from google.cloud.resourcemanager_v3.services.tag_bindings.transports.grpc import TagBindingsGrpcTransport
    from google.cloud.run_v2.services.services.transports.grpc import ServicesGrpcTransport

    secrets, logging_config, operations, counting = SecretManager(), LoggingConfig(), Operations(), Counting()
    run, resource_manager = CloudRun(operations), ResourceManager(operations)
    services = [
        (SECRET_MANAGER, secrets, SecretManagerServiceGrpcTransport),
        (LOGGING_CONFIG, logging_config, ConfigServiceV2GrpcTransport),
        (CLOUD_RUN, run, ServicesGrpcTransport),
        (RESOURCE_MANAGER_PROJECTS, resource_manager, ProjectsGrpcTransport),
        (RESOURCE_MANAGER_TAG_BINDINGS, resource_manager, TagBindingsGrpcTransport),
    ]
    with serve_all(services, [operations.add_to], counting) as address:
        yield Fakes(secrets, logging_config, run, resource_manager, operations, counting, address)
