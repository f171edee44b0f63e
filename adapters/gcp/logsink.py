"""logging/v1 on GCP: a Cloud Logging bucket, `mnops-<platform>_<resource>` in the adapter's location, with its
retention, fed by a sink of the same name whose filter keeps records at `min_level` and above.

- `retention_days`: the bucket's own; Cloud Logging keeps records 1 to 3650 days, so the contract's 3651-3653 are
  refused naming the field, never shortened.
- `min_level`: the sink routes the project's entries labelled with the platform and resource (`mnops-platform`,
  `mnops-resource`) at that severity or above into the bucket; `debug`, `info`, `warning`, `error` are Cloud Logging's
  DEBUG, INFO, WARNING, ERROR.
- Log buckets and sinks carry no labels: the identity and the other tags are kept in the bucket's description
  (`mnops:` and a JSON object), read back as the resource's tags.
- A deleted bucket stays DELETE_REQUESTED for 7 days and keeps its name: it counts as gone, and creating the same
  resource again undeletes and converges it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.protobuf import field_mask_pb2

from adapters.base import AdapterError, Desired, Observed, ResourceKey
from adapters.gcp import PROVIDER, names
from adapters.gcp.driver import GcpDriver

DESCRIPTION_PREFIX = "mnops:"
SEVERITY = {"debug": "DEBUG", "info": "INFO", "warning": "WARNING", "error": "ERROR"}
LEVEL = {v: k for k, v in SEVERITY.items()}
_FILTER_LEVEL = re.compile(r"^severity>=([A-Z]+) ")
ACTIVE = "ACTIVE"
PAGE_SIZE = 200


class LoggingDriver(GcpDriver):
    contract = "logging/v1"

    def parent(self) -> str:
        return f"projects/{self.gcp.project}/locations/{self.gcp.location}"

    def bucket(self, key: ResourceKey) -> str:
        return f"{self.parent()}/buckets/{names.log_bucket(key)}"

    def sink(self, key: ResourceKey) -> str:
        return f"projects/{self.gcp.project}/sinks/{names.log_bucket(key)}"

    # -- observation -------------------------------------------------------------------------------------------------

    def _list(self, platforms: list[str] | None) -> list[Observed | AdapterError]:
        """Two listings whatever the number of platforms: the location's buckets, then the project's sinks."""
        client = self.gcp.logging_config()
        buckets = client.list_buckets(
            request={"parent": self.parent(), "page_size": PAGE_SIZE}, retry=self.gcp.grpc_retry
        )
        ours: list[tuple[ResourceKey, Any]] = []
        for bucket in buckets:
            key = self.identity(_tags(bucket.description))
            if key is None or (platforms is not None and key.platform not in platforms):
                continue
            if bucket.name == self.bucket(key) and bucket.lifecycle_state.name == ACTIVE:
                ours.append((key, bucket))
        if not ours:
            return []
        sinks = {
            s.name: s
            for s in client.list_sinks(
                request={"parent": f"projects/{self.gcp.project}", "page_size": PAGE_SIZE}, retry=self.gcp.grpc_retry
            )
        }
        return [self._observation(key, (bucket, sinks.get(names.log_bucket(key)))) for key, bucket in ours]

    def _find(self, key: ResourceKey) -> Observed | None:
        bucket = self._get_bucket(key)
        if bucket is None or bucket.lifecycle_state.name != ACTIVE:
            return None
        return self._observation(key, (bucket, self._get_sink(key)))

    def _observation(self, key: ResourceKey, item: tuple[Any, Any | None]) -> Observed:
        bucket, sink = item
        level = None
        problem = None
        if sink is None:
            problem = "the sink feeding the bucket is gone"
        else:
            match = _FILTER_LEVEL.match(sink.filter)
            level = LEVEL.get(match.group(1)) if match else None
            if sink.destination != self._destination(key) or sink.filter != self._filter(key, level or "info"):
                problem, level = "the sink no longer feeds the bucket what it was made for", None
        fields = {"retention_days": bucket.retention_days, "min_level": level}
        return self.observed(key, bucket.name, fields, _tags(bucket.description), problem)

    def outputs(self, current: Observed) -> dict[str, str]:
        return {"name": names.log_bucket(current.key)}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        spec = desired.spec
        key = desired.key
        client = self.gcp.logging_config()
        description = _description(desired.tags)
        bucket = self._get_bucket(key)
        if bucket is None:
            client.create_bucket(
                request={
                    "parent": self.parent(),
                    "bucket_id": names.log_bucket(key),
                    "bucket": {"retention_days": spec.retention_days, "description": description},
                },
                retry=self.gcp.grpc_retry,
            )
        else:
            if bucket.lifecycle_state.name != ACTIVE:
                client.undelete_bucket(request={"name": bucket.name}, retry=self.gcp.grpc_retry)
            if bucket.retention_days != spec.retention_days or bucket.description != description:
                client.update_bucket(
                    request={
                        "name": bucket.name,
                        "bucket": {"retention_days": spec.retention_days, "description": description},
                        "update_mask": field_mask_pb2.FieldMask(paths=["retention_days", "description"]),
                    },
                    retry=self.gcp.grpc_retry,
                )
        wanted = {"destination": self._destination(key), "filter": self._filter(key, spec.min_level)}
        sink = self._get_sink(key)
        if sink is None:
            client.create_sink(
                request={
                    "parent": f"projects/{self.gcp.project}",
                    "sink": {"name": names.log_bucket(key), "description": f"mnops: feeds {key}", **wanted},
                },
                retry=self.gcp.grpc_retry,
            )
        elif sink.destination != wanted["destination"] or sink.filter != wanted["filter"]:
            client.update_sink(
                request={
                    "sink_name": self.sink(key),
                    "sink": {"name": names.log_bucket(key), **wanted},
                    "update_mask": field_mask_pb2.FieldMask(paths=["destination", "filter"]),
                },
                retry=self.gcp.grpc_retry,
            )
        found = self._find(key)
        if found is None:
            raise AdapterError(PROVIDER, "create", key, f"log bucket {names.log_bucket(key)} vanished")
        return found

    def _delete(self, key: ResourceKey) -> None:
        client = self.gcp.logging_config()
        # The sink first: without its bucket it would fail every write, and Cloud Logging would say so by email.
        try:
            client.delete_sink(request={"sink_name": self.sink(key)}, retry=self.gcp.grpc_retry)
        except api_exceptions.NotFound:
            pass
        bucket = self._get_bucket(key)
        if bucket is None or bucket.lifecycle_state.name != ACTIVE:
            return
        client.delete_bucket(request={"name": bucket.name}, retry=self.gcp.grpc_retry)

    def _add_labels(self, key: ResourceKey, wanted: Mapping[str, str]) -> None:
        bucket = self.gcp.logging_config().get_bucket(request={"name": self.bucket(key)}, retry=self.gcp.grpc_retry)
        self.gcp.logging_config().update_bucket(
            request={
                "name": bucket.name,
                "bucket": {"description": _description({**_tags(bucket.description), **wanted})},
                "update_mask": field_mask_pb2.FieldMask(paths=["description"]),
            },
            retry=self.gcp.grpc_retry,
        )

    # -- internals ---------------------------------------------------------------------------------------------------

    def _get_bucket(self, key: ResourceKey) -> Any | None:
        try:
            return self.gcp.logging_config().get_bucket(request={"name": self.bucket(key)}, retry=self.gcp.grpc_retry)
        except api_exceptions.NotFound:
            return None

    def _get_sink(self, key: ResourceKey) -> Any | None:
        try:
            return self.gcp.logging_config().get_sink(request={"sink_name": self.sink(key)}, retry=self.gcp.grpc_retry)
        except api_exceptions.NotFound:
            return None

    def _destination(self, key: ResourceKey) -> str:
        return f"logging.googleapis.com/{self.bucket(key)}"

    def _filter(self, key: ResourceKey, level: str) -> str:
        return (
            f'severity>={SEVERITY[level]} AND labels."mnops-platform"="{key.platform}" '
            f'AND labels."mnops-resource"="{key.name}"'
        )


def _description(tags: Mapping[str, str]) -> str:
    return DESCRIPTION_PREFIX + json.dumps(dict(sorted(tags.items())), separators=(",", ":"))


def _tags(description: str) -> dict[str, str]:
    """The tags a bucket's description holds; none if it holds no mnops record (made by hand, or edited badly)."""
    if not description.startswith(DESCRIPTION_PREFIX):
        return {}
    try:
        found = json.loads(description[len(DESCRIPTION_PREFIX) :])
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): str(v) for k, v in found.items()}
