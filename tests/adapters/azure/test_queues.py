"""queue/v1 on Azure: a Service Bus namespace and queue; what Service Bus cannot do is refused naming the field."""

from __future__ import annotations

import datetime

import pytest

from adapters.azure import names
from adapters.azure.queues import UNLIMITED_DELIVERIES
from adapters.base import AdapterError
from tests.adapters.azure.conftest import build


def queue(adapter, key):
    namespace = names.namespace(adapter.azure.subscription_id, key)
    return adapter.azure.client("servicebus").queues.get(names.group(key.platform), namespace, key.name)


def test_a_queue_maps_to_service_bus_settings(adapter):
    spec = {
        "contract": "queue/v1",
        "retention_seconds": 86400,
        "visibility_timeout_seconds": 45,
        "dead_letter": {"max_receives": 4},
    }
    created = adapter.queue.create(build("jobs", spec))
    made = queue(adapter, created.key)
    assert made.default_message_time_to_live == datetime.timedelta(days=1)
    assert made.lock_duration == datetime.timedelta(seconds=45)
    assert made.max_delivery_count == 4
    assert made.requires_session is False
    assert created.fields == adapter.queue.desired_fields(build("jobs", spec))


def test_without_a_dead_letter_queue_messages_cycle_as_long_as_service_bus_allows(adapter):
    created = adapter.queue.create(build("jobs", {"contract": "queue/v1"}))
    assert queue(adapter, created.key).max_delivery_count == UNLIMITED_DELIVERIES
    assert created.fields["dead_letter"] is None


@pytest.mark.parametrize("seconds", [0, 4, 301, 43200])
def test_a_visibility_timeout_service_bus_cannot_lock_for_is_refused_naming_the_field(adapter, fake, seconds):
    want = build("jobs", {"contract": "queue/v1", "visibility_timeout_seconds": seconds})
    with pytest.raises(AdapterError, match=f"visibility_timeout_seconds: {seconds} is outside") as raised:
        adapter.queue.create(want)
    assert raised.value.key == want.key
    assert fake.count("PUT") == 0


def test_unencrypted_is_refused_naming_the_field(adapter):
    with pytest.raises(AdapterError, match="encrypted: Service Bus always encrypts"):
        adapter.queue.create(build("jobs", {"contract": "queue/v1", "encrypted": False}))


def test_fifo_is_a_session_queue_and_cannot_change_in_place(adapter):
    created = adapter.queue.create(build("jobs", {"contract": "queue/v1", "fifo": True}))
    assert queue(adapter, created.key).requires_session is True
    assert "fifo" in adapter.queue.immutable
    # A create over a queue made otherwise converges it rather than failing half-way.
    converged = adapter.queue.create(build("jobs", {"contract": "queue/v1", "fifo": False}))
    assert converged.fields["fifo"] is False and converged.resource_id == created.resource_id


def test_a_namespace_that_fails_to_provision_is_an_error_naming_the_resource(adapter, fake):
    fake.failing_operations.add("microsoft.servicebus/namespaces")
    want = build("jobs", {"contract": "queue/v1"})
    with pytest.raises(AdapterError, match="quota exceeded") as raised:
        adapter.queue.create(want)
    assert raised.value.key == want.key and raised.value.operation == "create"
    assert adapter.queue.observe("dev") == []
