"""OpenTelemetry spans of the engine: deploy, plan, lock, apply per resource, health, rollback, drift observation.

Only `opentelemetry-api` is used here: without an SDK installed every span is a no-op costing a few microseconds. The
entry points install one when asked (`install_from_environment`): `MNOPS_TRACE_FILE` writes finished spans as JSON
lines to that file; the standard `OTEL_EXPORTER_OTLP_*` variables send them over OTLP where that exporter is
installed. Attributes name platforms, resources, contracts and counts: never a value of a resource's fields, so never
a secret.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

TRACE_FILE_ENV = "MNOPS_TRACE_FILE"
OTLP_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
_tracer = trace.get_tracer("mnops")
_installed = threading.Lock()


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span named `name` under the current one; an exception leaving it marks it failed (and is re-raised)."""
    with _tracer.start_as_current_span(name, attributes=_clean(attributes), record_exception=False) as current:
        try:
            yield current
        except SystemExit as exc:
            if exc.code not in (0, None):
                current.set_status(Status(StatusCode.ERROR, f"exit {exc.code}"))
            raise
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


@contextmanager
def within_run(run_id: str) -> Iterator[None]:
    """Make spans started inside children of a trace whose id is the Dagster run's: a run's steps, in whatever
    process each runs, then belong to one trace (the run id is a UUID: 128 bits, as a trace id)."""
    try:
        trace_id = uuid.UUID(run_id).int
    except ValueError:
        yield
        return
    if trace.get_current_span().get_span_context().is_valid:
        yield  # already inside a trace (the CLI's): keep it
        return
    parent = SpanContext(trace_id, uuid.uuid5(uuid.NAMESPACE_OID, run_id).int >> 64, True, TraceFlags(1))
    token = trace.context_api.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        yield
    finally:
        trace.context_api.detach(token)


def install_from_environment(service: str) -> bool:
    """Install the OpenTelemetry SDK if `MNOPS_TRACE_FILE` or an OTLP endpoint asks for spans, once per process, unless
    another tracer provider is installed already; whether spans are now recorded."""
    path = os.environ.get(TRACE_FILE_ENV)
    otlp = os.environ.get(OTLP_ENV) or os.environ.get(OTLP_ENV.replace("ENDPOINT", "TRACES_ENDPOINT"))
    if not (path or otlp):
        return False
    with _installed:
        if isinstance(trace.get_tracer_provider(), _sdk_provider_type()):
            return True
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": service, "process.pid": os.getpid()}))
        if path:
            # One line per span, written as each ends: a batching processor drops spans of a burst (a thousand steps).
            out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held for the process's life, as the exporter's
            exporter = ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\n")
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        if otlp:
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                pass  # the OTLP exporter is not installed: the file, if asked for, still gets every span
            else:
                from opentelemetry.sdk.trace.export import BatchSpanProcessor

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        return True


def _sdk_provider_type() -> type:
    try:
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:  # pragma: no cover - the SDK ships with the project's dependencies
        return type(None)
    return TracerProvider


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {f"mnops.{k}": v for k, v in attributes.items() if isinstance(v, str | bool | int | float) and v is not None}
