"""queue/v1 on Azure: a Service Bus namespace (Standard tier) per resource, holding one queue named as the resource.

Service Bus is the Azure queue with dead-lettering and ordering (Storage queues have neither).
- `retention_seconds`: the queue's default message time-to-live.
- `visibility_timeout_seconds`: the peek-lock duration, which Service Bus allows from 5 seconds to 5 minutes: values
  outside are refused, naming the field.
- `dead_letter.max_receives`: the queue's max delivery count, after which Service Bus moves a message to the queue's
  own dead-letter sub-queue. Service Bus always dead-letters at some count: unset is the largest count it takes, so
  failed messages cycle as the contract says.
- `fifo`: sessions (`requiresSession`), Service Bus's ordered delivery; fixed at creation, so changing it replaces.
- `encrypted`: Service Bus encrypts every message at rest and cannot be told not to: `encrypted: false` is refused.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

import isodate
from azure.core.exceptions import ResourceNotFoundError

from adapters.azure import names
from adapters.azure.driver import AzureDriver, provisioning_state
from adapters.base import Desired, Observed, ResourceDriver, ResourceKey

SKU = {"name": "Standard", "tier": "Standard"}
UNLIMITED_DELIVERIES = 2147483647


class QueueDriver(AzureDriver):
    contract = "queue/v1"
    arm_type = "Microsoft.ServiceBus/namespaces"
    immutable = frozenset({"fifo"})

    def resource_name(self, key: ResourceKey) -> str:
        return names.namespace(self.azure.subscription_id, key)

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        return ResourceDriver.desired_fields(self, desired)

    # -- observation -------------------------------------------------------------------------------------------------

    def listing(self) -> Iterable[Any]:
        return self.azure.client("servicebus").namespaces.list()

    def _read(self, key: ResourceKey) -> Observed | None:
        try:
            found = self.azure.client("servicebus").namespaces.get(names.group(key.platform), self.resource_name(key))
        except ResourceNotFoundError:
            return None
        return self._complete(key, found)

    def _complete(self, key: ResourceKey, found: Any) -> Observed | None:
        servicebus = self.azure.client("servicebus")
        group, namespace = names.group(key.platform), self.resource_name(key)
        try:
            queue = servicebus.queues.get(group, namespace, key.name)
        except ResourceNotFoundError:
            problem = f"queue {key.name} of Service Bus namespace {namespace} is missing"
            return self.observed(key, found.id, {}, found.tags, problem, _addresses(found))
        state = provisioning_state(found)
        problem = None if state.lower() == "succeeded" else f"Service Bus namespace {namespace} is {state}"
        deliveries = int(queue.max_delivery_count or 0)
        fields = {
            "retention_seconds": _seconds(queue.default_message_time_to_live),
            "visibility_timeout_seconds": _seconds(queue.lock_duration),
            "fifo": bool(queue.requires_session),
            "encrypted": True,
            "dead_letter": None if deliveries >= UNLIMITED_DELIVERIES else {"max_receives": deliveries},
        }
        return self.observed(key, found.id, fields, found.tags, problem, _addresses(found))

    def outputs(self, current: Observed) -> dict[str, str]:
        # Service Bus addresses a queue under its namespace's endpoint, and its dead-letter queue beneath it.
        endpoint = current.address("endpoint")
        url = f"{endpoint.rstrip('/')}/{current.key.name}" if endpoint else ""
        dead_letter = f"{url}/$DeadLetterQueue" if url and current.fields.get("dead_letter") else ""
        return {"url": url, "dead_letter_url": dead_letter}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        spec = desired.spec
        servicebus = self.azure.client("servicebus")
        group = self.azure.ensure_group(desired.key.platform)
        namespace = self.resource_name(desired.key)
        tags = dict(desired.tags)
        try:
            found = servicebus.namespaces.get(group, namespace)
        except ResourceNotFoundError:
            found = None
        if found is None:
            body = {"location": self.azure.location, "sku": SKU, "tags": tags}
            servicebus.namespaces.begin_create_or_update(group, namespace, body).result()
        elif dict(found.tags or {}) != tags:
            servicebus.namespaces.update(group, namespace, {"tags": tags})
        wanted = {
            "defaultMessageTimeToLive": _duration(spec.retention_seconds),
            "lockDuration": _duration(spec.visibility_timeout_seconds),
            "requiresSession": spec.fifo,
            "maxDeliveryCount": spec.dead_letter.max_receives if spec.dead_letter else UNLIMITED_DELIVERIES,
        }
        try:
            queue = servicebus.queues.get(group, namespace, desired.key.name)
        except ResourceNotFoundError:
            queue = None
        if queue is None or _queue_settings(queue) != wanted:
            if queue is not None and bool(queue.requires_session) != spec.fifo:
                # Sessions are fixed when a queue is made: the planner replaces on `fifo`, but a create over a
                # queue made otherwise must not fail half-way.
                servicebus.queues.delete(group, namespace, desired.key.name)
            servicebus.queues.create_or_update(group, namespace, desired.key.name, {"properties": wanted})
        observed = self._read(desired.key)
        if observed is None:
            raise self.refused(desired, "create", "namespace", f"{namespace} vanished while it was being set up")
        return observed

    def _delete(self, key: ResourceKey) -> None:
        try:
            self.azure.client("servicebus").namespaces.begin_delete(
                names.group(key.platform), self.resource_name(key)
            ).result()
        except ResourceNotFoundError:
            return

    def _tag(self, key: ResourceKey, tags: Mapping[str, str]) -> None:
        self.azure.client("servicebus").namespaces.update(
            names.group(key.platform), self.resource_name(key), {"tags": dict(tags)}
        )


def _duration(seconds: int) -> str:
    return isodate.duration_isoformat(datetime.timedelta(seconds=seconds))


def _seconds(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = isodate.parse_duration(value)
    return int(value.total_seconds())


def _queue_settings(queue: Any) -> dict[str, Any]:
    return {
        "defaultMessageTimeToLive": _duration(_seconds(queue.default_message_time_to_live) or 0),
        "lockDuration": _duration(_seconds(queue.lock_duration) or 0),
        "requiresSession": bool(queue.requires_session),
        "maxDeliveryCount": int(queue.max_delivery_count or 0),
    }


def _addresses(namespace: Any) -> dict[str, str]:
    return {"endpoint": str(getattr(namespace, "service_bus_endpoint", None) or "")}
