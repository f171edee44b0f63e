"""Cloud Storage for the tests: `gcp-storage-emulator` in this process, on a free port, corrected where it is less
strict or less complete than GCS.

The emulator's bucket insert keeps only the name (labels, versioning, lifecycle, IAM configuration and location are
dropped) and its patch replaces a bucket's labels whole, storing the `null`s the JSON API uses to remove a label. Both
handlers are wrapped, in the emulator's route table before any server is made, to do what GCS does: insert keeps the
writable fields of its body, patch merges labels and drops the removed ones, and both refuse labels GCS refuses
(400 `invalid`). Nothing of the client library is touched.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from gcp_storage_emulator import server as emulator_server
from gcp_storage_emulator.handlers import buckets

LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def _invalid(response: Any, message: str) -> None:
    response.status = HTTPStatus.BAD_REQUEST
    response.json({"error": {"code": 400, "message": message, "errors": [{"reason": "invalid", "message": message}]}})


def _bad_labels(body: Any) -> str | None:
    for key, value in ((body or {}).get("labels") or {}).items():
        if not LABEL_KEY.match(key):
            return f"Invalid argument: label key {key!r}"
        if value is not None and not LABEL_VALUE.match(str(value)):
            return f"Invalid argument: value of label {key!r}"
    return None


def _insert(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> None:
    body = request.data or {}
    bad = _bad_labels(body)
    if bad:
        return _invalid(response, bad)
    buckets.insert(request, response, storage, *args, **kwargs)
    if response.status != HTTPStatus.OK:
        return None
    name = body["name"]
    bucket = storage.buckets[name]
    fields = {k: v for k, v in body.items() if k in buckets._WRITABLE_BUCKET_FIELDS}
    fields["labels"] = {k: v for k, v in (fields.get("labels") or {}).items() if v is not None}
    made = buckets._patch_bucket(bucket, fields)
    made["metageneration"] = "1"
    storage.create_bucket(name, made)
    response.json(made)
    return None


def _patch(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> None:
    body = request.data or {}
    bad = _bad_labels(body)
    if bad:
        return _invalid(response, bad)
    name = request.params.get("bucket_name")
    bucket = storage.buckets.get(name) if name else None
    if bucket is not None and "labels" in body:
        merged = {**(bucket.get("labels") or {}), **(body.get("labels") or {})}
        body["labels"] = {k: v for k, v in merged.items() if v is not None}
        if not body["labels"]:
            bucket.pop("labels", None)
            del body["labels"]
    return buckets.patch(request, response, storage, *args, **kwargs)


# Requests served, by handler name (`ls`, `get`, `get_iam_policy`): what a test of observation's cost counts.
CALLS: Counter[str] = Counter()
# Seconds every request waits before it is served: a benchmark's stand-in for the network's round trip.
LATENCY = {"seconds": 0.0}


def _counted(handler: Callable[..., Any], name: str) -> Callable[..., Any]:
    def serve(*args: Any, **kwargs: Any) -> Any:
        CALLS[name] += 1
        if LATENCY["seconds"]:
            time.sleep(LATENCY["seconds"])
        return handler(*args, **kwargs)

    serve.counted = True  # type: ignore[attr-defined]
    return serve


def _correct_routes() -> None:
    for route in emulator_server.HANDLERS:
        for handlers in (part for part in route if isinstance(part, dict)):
            if handlers.get(emulator_server.POST) is buckets.insert:
                handlers[emulator_server.POST] = _insert
            if handlers.get(emulator_server.PATCH) is buckets.patch:
                handlers[emulator_server.PATCH] = _patch
            for method, handler in handlers.items():
                if not getattr(handler, "counted", False):
                    handlers[method] = _counted(handler, getattr(handler, "__name__", method).lstrip("_"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GcsEmulator:
    """The emulator on 127.0.0.1; `url` is what `storage_endpoint` takes, `wipe()` forgets every bucket."""

    def __init__(self) -> None:
        _correct_routes()
        logging.getLogger("api").setLevel(logging.ERROR)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = emulator_server.create_server("127.0.0.1", self.port, in_memory=True)

    def start(self) -> None:
        self._server.start()

    def wipe(self) -> None:
        self._server.wipe()

    def stop(self) -> None:
        self._server.stop()


@contextmanager
def gcs_emulator() -> Iterator[GcsEmulator]:
    emulator = GcsEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
