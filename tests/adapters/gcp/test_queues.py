"""queue/v1 on GCP, against the Pub/Sub emulator: topic and subscription settings, the dead-letter topic and its
subscription, ordering replaced, labels kept, refusals before any call, and observation from one listing."""

from __future__ import annotations

import pytest

from adapters.base import AdapterError
from adapters.gcp.adapter import GcpAdapter
from tests.adapters.gcp.conftest import build
from tests.adapters.gcp.pubsub import PubSubEmulator

JOBS = {
    "contract": "queue/v1",
    "retention_seconds": 86400,
    "visibility_timeout_seconds": 60,
    "dead_letter": {"max_receives": 5},
}


def test_a_queue_is_a_topic_and_a_subscription_with_a_kept_dead_letter_topic(
    adapter: GcpAdapter, pubsub_proxy: PubSubEmulator
) -> None:
    made = adapter.queue.create(build("jobs", JOBS, tags={"team": "shop"}))
    subscription = adapter.gcp.subscriber().get_subscription(subscription=made.resource_id)
    assert subscription.topic == adapter.queue.topic(made.key)
    assert subscription.ack_deadline_seconds == 60
    assert subscription.message_retention_duration.total_seconds() == 86400
    assert subscription.dead_letter_policy.max_delivery_attempts == 5
    dead = adapter.queue.dead_letter_topic(made.key)
    assert subscription.dead_letter_policy.dead_letter_topic == dead
    # What lands on the dead-letter topic is kept by a subscription of its own.
    kept = adapter.gcp.subscriber().get_subscription(subscription=adapter.queue.dead_letter_subscription(made.key))
    assert kept.topic == dead
    assert dict(subscription.labels)["mnops-contract"] == "queue_v1"
    assert made.tags["team"] == "shop" and made.tags["mnops-contract"] == "queue/v1"

    adapter.queue.delete(made)
    names = [t.name for t in adapter.gcp.publisher().list_topics(project="projects/mnops-test")]
    assert names == []


def test_fifo_orders_with_exactly_once_and_changing_it_replaces(
    adapter: GcpAdapter, pubsub_proxy: PubSubEmulator
) -> None:
    assert "fifo" in adapter.queue.immutable
    made = adapter.queue.create(build("jobs", {**JOBS, "fifo": True}))
    subscription = adapter.gcp.subscriber().get_subscription(subscription=made.resource_id)
    assert subscription.enable_message_ordering and subscription.enable_exactly_once_delivery
    again = adapter.queue.create(build("jobs", {**JOBS, "fifo": False}))
    assert again.fields["fifo"] is False and not again.problem


def test_labels_removed_by_hand_are_put_back_and_others_kept(adapter: GcpAdapter, pubsub_proxy: PubSubEmulator) -> None:
    desired = build("jobs", JOBS, tags={"team": "shop"})
    made = adapter.queue.create(desired)
    subscriber = adapter.gcp.subscriber()
    labels = {k: v for k, v in subscriber.get_subscription(subscription=made.resource_id).labels.items() if k != "team"}
    subscriber.update_subscription(
        request={
            "subscription": {"name": made.resource_id, "labels": {**labels, "owner": "ops"}},
            "update_mask": {"paths": ["labels"]},
        }
    )
    drifted = adapter.queue.find(made.key)
    assert drifted is not None and "team" not in drifted.tags
    repaired = adapter.queue.update(desired, drifted)
    assert repaired.tags["team"] == "shop" and repaired.tags["owner"] == "ops"


def test_dropping_the_dead_letter_removes_the_policy(adapter: GcpAdapter, pubsub_proxy: PubSubEmulator) -> None:
    made = adapter.queue.create(build("jobs", JOBS))
    without = {k: v for k, v in JOBS.items() if k != "dead_letter"}
    updated = adapter.queue.update(build("jobs", without), made)
    assert updated.fields["dead_letter"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"visibility_timeout_seconds": 601}, "visibility_timeout_seconds"),
        ({"retention_seconds": 8 * 86400}, "retention_seconds"),
        ({"dead_letter": {"max_receives": 3}}, "dead_letter, max_receives"),
        ({"encrypted": False}, "encrypted"),
    ],
)
def test_what_pubsub_cannot_hold_is_refused_before_any_call(
    adapter: GcpAdapter, pubsub_proxy: PubSubEmulator, change: dict, field: str
) -> None:
    with pytest.raises(AdapterError, match=f"{field}: ") as raised:
        adapter.queue.create(build("jobs", {**JOBS, **change}))
    assert raised.value.key is not None and raised.value.key.name == "jobs"
    assert sum(pubsub_proxy.proxy.calls.values()) == 0


def test_many_platforms_are_observed_from_one_listing(adapter: GcpAdapter, pubsub_proxy: PubSubEmulator) -> None:
    platforms = [f"p{i}" for i in range(6)]
    for platform in platforms:
        adapter.queue.create(build("jobs", JOBS, platform=platform))
    pubsub_proxy.proxy.calls.clear()
    found = adapter.observe_many(platforms)
    assert all(list(found[p]) == ["jobs"] for p in platforms)
    assert pubsub_proxy.proxy.calls == {"ListSubscriptions": 1}


def test_the_emulator_behind_its_proxy_refuses_labels_pubsub_refuses(
    adapter: GcpAdapter, pubsub_proxy: PubSubEmulator
) -> None:
    from google.api_core import exceptions as api_exceptions

    with pytest.raises(api_exceptions.InvalidArgument, match="Invalid label: team"):
        adapter.gcp.publisher().create_topic(
            request={"name": "projects/mnops-test/topics/t", "labels": {"team": "Shop"}}
        )


def test_a_subscription_detached_from_its_deleted_topic_is_damaged_and_made_again(
    adapter: GcpAdapter, pubsub_proxy: PubSubEmulator
) -> None:
    desired = build("jobs", JOBS)
    made = adapter.queue.create(desired)
    adapter.gcp.publisher().delete_topic(topic=adapter.queue.topic(made.key))
    damaged = adapter.queue.find(made.key)
    assert damaged is not None and "detached" in (damaged.problem or "")
    repaired = adapter.queue.update(desired, damaged)
    assert repaired.problem is None and repaired.fields == made.fields
