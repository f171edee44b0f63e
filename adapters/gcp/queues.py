"""queue/v1 on GCP: a Pub/Sub topic `mnops-<platform>_<resource>` and a pull subscription of the same name, which is
the queue: it holds the identity labels and every setting.

- `retention_seconds`: the subscription's message retention (Pub/Sub keeps 10 minutes to 7 days: other values are
  refused by `limits`, at validate time).
- `visibility_timeout_seconds`: the subscription's ack deadline (10 to 600 seconds).
- `dead_letter.max_receives`: a dead-letter policy of that many delivery attempts (5 to 100) to the topic
  `mnops-<platform>_<resource>_dead`, which has a subscription of the same name keeping what lands there for 7 days
  (a topic alone keeps nothing). Dropping `dead_letter` removes the policy and keeps the dead-letter topic and its
  messages until the queue is deleted.
- `fifo`: message ordering (fixed when the subscription is made, so changing it replaces) with exactly-once delivery.
- `encrypted`: Pub/Sub always encrypts at rest: `encrypted: false` is refused by `limits`.
- tags: labels on the topic, the subscription and the dead-letter topic; labels somebody else added are kept.

A subscription whose topic was deleted is detached for good (Pub/Sub shows its topic as `_deleted-topic_`): it is
damaged, and the next deploy makes the topic and the subscription again.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as api_exceptions

from adapters.base import AdapterError, Desired, Observed, ResourceKey
from adapters.gcp import PROVIDER, labels, names
from adapters.gcp.driver import GcpDriver

PAGE_SIZE = 1000
DEAD_LETTER_RETENTION = datetime.timedelta(days=7)


class QueueDriver(GcpDriver):
    contract = "queue/v1"
    immutable = frozenset({"fifo"})

    def topic(self, key: ResourceKey) -> str:
        return f"projects/{self.gcp.project}/topics/{names.topic(key)}"

    def subscription(self, key: ResourceKey) -> str:
        return f"projects/{self.gcp.project}/subscriptions/{names.topic(key)}"

    def dead_letter_topic(self, key: ResourceKey) -> str:
        return f"projects/{self.gcp.project}/topics/{names.dead_letter_topic(key)}"

    def dead_letter_subscription(self, key: ResourceKey) -> str:
        return f"projects/{self.gcp.project}/subscriptions/{names.dead_letter_topic(key)}"

    # -- observation -------------------------------------------------------------------------------------------------

    def _list(self, platforms: list[str] | None) -> list[Observed | AdapterError]:
        """One listing of the project's subscriptions, a page per 1,000, whatever the number of platforms: labels
        and settings come with it."""
        listing = self.gcp.subscriber().list_subscriptions(
            request={"project": f"projects/{self.gcp.project}", "page_size": PAGE_SIZE}, retry=self.gcp.grpc_retry
        )
        found: list[Observed | AdapterError] = []
        for subscription in listing:
            key = self.identity(labels.from_labels(subscription.labels))
            if (
                key is None
                or (platforms is not None and key.platform not in platforms)
                or subscription.name != self.subscription(key)
            ):
                continue  # not ours, or labelled as a key whose subscription it is not (copied labels)
            found.append(self._observation(key, subscription))
        return found

    def _find(self, key: ResourceKey) -> Observed | None:
        subscription = self._get_subscription(key)
        return None if subscription is None else self._observation(key, subscription)

    def _observation(self, key: ResourceKey, subscription: Any) -> Observed:
        problem = None
        if subscription.topic != self.topic(key):
            problem = f"subscription {names.topic(key)} is detached from its topic ({subscription.topic or 'none'})"
        policy = subscription.dead_letter_policy
        dead_letter = None
        if policy.dead_letter_topic:
            dead_letter = {"max_receives": int(policy.max_delivery_attempts)}
            if policy.dead_letter_topic != self.dead_letter_topic(key):
                problem = problem or f"its dead-letter policy sends to {policy.dead_letter_topic}"
        ordered = bool(subscription.enable_message_ordering)
        if ordered and not subscription.enable_exactly_once_delivery:
            problem = problem or "exactly-once delivery is off"
        fields = {
            "retention_seconds": _seconds(subscription.message_retention_duration),
            "visibility_timeout_seconds": int(subscription.ack_deadline_seconds),
            "fifo": ordered,
            "encrypted": True,
            "dead_letter": dead_letter,
        }
        return self.observed(key, subscription.name, fields, labels.from_labels(subscription.labels), problem)

    def outputs(self, current: Observed) -> dict[str, str]:
        # Publishers write to the topic, subscribers read from the subscription of the same name.
        dead_letter = self.dead_letter_topic(current.key) if current.fields.get("dead_letter") else ""
        return {"url": self.topic(current.key), "dead_letter_url": dead_letter}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        key, spec = desired.key, desired.spec
        wanted = labels.to_labels(desired.tags)
        topic = self._ensure_topic(self.topic(key), wanted)
        dead_letter: dict[str, Any] | None = None
        if spec.dead_letter is not None:
            dead_topic = self._ensure_topic(self.dead_letter_topic(key), wanted)
            self._ensure_dead_letter_subscription(key, dead_topic, wanted)
            dead_letter = {"dead_letter_topic": dead_topic, "max_delivery_attempts": spec.dead_letter.max_receives}
        settings: dict[str, Any] = {
            "ack_deadline_seconds": spec.visibility_timeout_seconds,
            "message_retention_duration": datetime.timedelta(seconds=spec.retention_seconds),
            "enable_exactly_once_delivery": spec.fifo,
            "dead_letter_policy": dead_letter,
        }
        subscriber = self.gcp.subscriber()
        found = self._get_subscription(key)
        if found is not None and (found.topic != topic or bool(found.enable_message_ordering) != spec.fifo):
            # Detached from a deleted topic, or ordered otherwise: neither changes in place.
            self._delete_subscription(self.subscription(key))
            found = None
        if found is None:
            try:
                subscriber.create_subscription(
                    request={
                        "name": self.subscription(key),
                        "topic": topic,
                        "labels": wanted,
                        "enable_message_ordering": spec.fifo,
                        **_present(settings),
                    },
                    retry=self.gcp.grpc_retry,
                )
            except api_exceptions.AlreadyExists:  # made meanwhile by a concurrent apply: converge it below
                found = self._get_subscription(key)
        if found is not None:
            have = {
                "ack_deadline_seconds": found.ack_deadline_seconds,
                "message_retention_duration": _seconds(found.message_retention_duration),
                "enable_exactly_once_delivery": bool(found.enable_exactly_once_delivery),
                "dead_letter_policy": _policy(found.dead_letter_policy),
            }
            want = {**settings, "message_retention_duration": spec.retention_seconds}
            paths = [path for path in settings if have[path] != want[path]]
            merged = {**found.labels, **wanted}
            if dict(found.labels) != merged:
                paths.append("labels")
            if paths:
                subscriber.update_subscription(
                    request={
                        # A field named by the mask and absent from the body is cleared (the dead-letter policy).
                        "subscription": {"name": found.name, "labels": merged, **_present(settings)},
                        "update_mask": {"paths": paths},
                    },
                    retry=self.gcp.grpc_retry,
                )
        observed = self._find(key)
        if observed is None:
            raise AdapterError(PROVIDER, "create", key, f"subscription {names.topic(key)} vanished while it was made")
        return observed

    def _ensure_topic(self, name: str, wanted: Mapping[str, str]) -> str:
        publisher = self.gcp.publisher()
        try:
            topic = publisher.get_topic(request={"topic": name}, retry=self.gcp.grpc_retry)
        except api_exceptions.NotFound:
            try:
                publisher.create_topic(request={"name": name, "labels": dict(wanted)}, retry=self.gcp.grpc_retry)
                return name
            except api_exceptions.AlreadyExists:
                topic = publisher.get_topic(request={"topic": name}, retry=self.gcp.grpc_retry)
        merged = {**topic.labels, **wanted}
        if dict(topic.labels) != merged:
            publisher.update_topic(
                request={"topic": {"name": name, "labels": merged}, "update_mask": {"paths": ["labels"]}},
                retry=self.gcp.grpc_retry,
            )
        return name

    def _ensure_dead_letter_subscription(self, key: ResourceKey, topic: str, wanted: Mapping[str, str]) -> None:
        """What a topic is sent is kept only by its subscriptions: the dead-letter topic gets one, or dead letters
        would be dropped."""
        name = self.dead_letter_subscription(key)
        try:
            self.gcp.subscriber().get_subscription(request={"subscription": name}, retry=self.gcp.grpc_retry)
            return
        except api_exceptions.NotFound:
            pass
        try:
            self.gcp.subscriber().create_subscription(
                request={
                    "name": name,
                    "topic": topic,
                    "labels": dict(wanted),
                    "message_retention_duration": DEAD_LETTER_RETENTION,
                },
                retry=self.gcp.grpc_retry,
            )
        except api_exceptions.AlreadyExists:
            pass

    def _delete(self, key: ResourceKey) -> None:
        self._delete_subscription(self.subscription(key))
        self._delete_subscription(self.dead_letter_subscription(key))
        for topic in (self.dead_letter_topic(key), self.topic(key)):
            try:
                self.gcp.publisher().delete_topic(request={"topic": topic}, retry=self.gcp.grpc_retry)
            except api_exceptions.NotFound:
                pass

    def _add_labels(self, key: ResourceKey, wanted: Mapping[str, str]) -> None:
        self._ensure_topic(self.topic(key), wanted)
        found = self.gcp.subscriber().get_subscription(
            request={"subscription": self.subscription(key)}, retry=self.gcp.grpc_retry
        )
        self.gcp.subscriber().update_subscription(
            request={
                "subscription": {"name": found.name, "labels": {**found.labels, **wanted}},
                "update_mask": {"paths": ["labels"]},
            },
            retry=self.gcp.grpc_retry,
        )

    # -- internals ---------------------------------------------------------------------------------------------------

    def _get_subscription(self, key: ResourceKey) -> Any | None:
        try:
            return self.gcp.subscriber().get_subscription(
                request={"subscription": self.subscription(key)}, retry=self.gcp.grpc_retry
            )
        except api_exceptions.NotFound:
            return None

    def _delete_subscription(self, name: str) -> None:
        try:
            self.gcp.subscriber().delete_subscription(request={"subscription": name}, retry=self.gcp.grpc_retry)
        except api_exceptions.NotFound:
            pass


def _seconds(duration: Any) -> int:
    """proto-plus gives Durations as timedeltas."""
    return int(duration.total_seconds()) if isinstance(duration, datetime.timedelta) else int(duration or 0)


def _present(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if v is not None}


def _policy(policy: Any) -> dict[str, Any] | None:
    if not policy.dead_letter_topic:
        return None
    return {"dead_letter_topic": policy.dead_letter_topic, "max_delivery_attempts": int(policy.max_delivery_attempts)}
