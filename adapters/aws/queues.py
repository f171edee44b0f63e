"""queue/v1 on AWS: an SQS queue, with its dead-letter queue (a second queue owned by the same resource) wired through a
redrive policy.

Queues are tagged by SQS itself (`TagQueue`: moto's tagging API cannot tag them) and found, like every resource, through
the tagging API's listing; their URLs come from one `ListQueues` of the platforms' name prefix, so observing a queue
costs one `GetQueueAttributes`. The dead-letter queue carries the resource's identity tags plus
`mnops:part=dead-letter`, so it is attributed to its resource and deleted with it.

- `fifo` cannot change in place (SQS names FIFO queues `*.fifo`): the planner replaces the queue. A FIFO queue gets
  content-based deduplication, so senders need no deduplication ids; its dead-letter queue is FIFO too.
- `encrypted` is SSE-SQS (`SqsManagedSseEnabled`); a queue someone moved to SSE-KMS counts as encrypted and is kept so.
- The dead-letter queue keeps messages for 14 days, SQS's longest, because a message keeps its original enqueue time
  when it moves there.
- On AWS a deleted queue's name cannot be used again for 60 seconds (`QueueDeletedRecently`), so replacing a queue of
  the same name right after deleting it fails until then; moto does not enforce this.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar

from botocore.exceptions import ClientError

from adapters.aws import PROVIDER, names
from adapters.aws.context import INTERNAL_TAG_PREFIX, error_code, tag_changes
from adapters.aws.driver import AwsDriver, Claimed
from adapters.aws.permissions import Grant
from adapters.base import AdapterError, Desired, HealthReport, Observed, ResourceKey

PART_TAG = INTERNAL_TAG_PREFIX + "part"
DEAD_LETTER = "dead-letter"
DEAD_LETTER_RETENTION = 1209600
_GONE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
MAIN, DLQ = "main", "dead-letter"


class QueueDriver(AwsDriver):
    contract = "queue/v1"
    resource_type = "sqs"
    PERMISSIONS: ClassVar[tuple[Grant, ...]] = (
        Grant(("sqs:ListQueues",)),  # listed by name prefix; AWS scopes no listing
        Grant(
            (
                "sqs:CreateQueue",
                "sqs:DeleteQueue",
                "sqs:GetQueueUrl",
                "sqs:GetQueueAttributes",
                "sqs:SetQueueAttributes",
                "sqs:ListQueueTags",
                "sqs:TagQueue",
                "sqs:UntagQueue",
            ),
            ("arn:{partition}:sqs:{region}:{account}:mnops-*",),
        ),
    )
    immutable = frozenset({"fifo"})

    # -- observation -------------------------------------------------------------------------------------------------

    def _list(self, claimed: Claimed) -> dict[str, str]:
        """Queue name -> URL of the platforms' queues, 1,000 a call (see `AwsContext.list_prefixed`): attributes are
        read by URL."""
        return self.aws.list_prefixed(
            sorted({key.platform for key in claimed}),
            names.queues_prefix,
            lambda prefix: (
                self.aws.client("sqs")
                .get_paginator("list_queues")
                .paginate(QueueNamePrefix=prefix, PaginationConfig={"PageSize": 1000})
            ),
            lambda page: ((_queue_name(url), url) for url in page.get("QueueUrls", [])),
            "queues",
        )

    def _observe_key(
        self, key: ResourceKey, tagged: Mapping[str, Mapping[str, str]], listing: dict[str, str]
    ) -> Observed | None:
        roles: dict[str, tuple[str, dict[str, str]]] = {}
        for arn, tags in sorted(tagged.items()):
            name = arn.rsplit(":", 1)[-1]
            role = DLQ if tags.get(PART_TAG) == DEAD_LETTER else MAIN
            if name in _names(key, role) and name in listing:
                roles[role] = (listing[name], dict(tags))
        return self._assemble(key, roles.get(MAIN), roles.get(DLQ))

    def find(self, key: ResourceKey, fifo: bool | None = None) -> Observed | None:
        kinds = (False, True) if fifo is None else (fifo,)
        for kind in kinds:
            main = self._url(names.queue(key, kind))
            dead = self._url(names.dead_letter_queue(key, kind))
            if main is None and dead is None:
                continue
            main_tags = self._tags(main) if main else None
            dead_tags = self._tags(dead) if dead else None
            return self._assemble(
                key,
                (main, main_tags) if main and main_tags is not None else None,
                (dead, dead_tags) if dead and dead_tags is not None else None,
            )
        return None

    def _assemble(
        self, key: ResourceKey, main: tuple[str, dict[str, str]] | None, dead: tuple[str, dict[str, str]] | None
    ) -> Observed | None:
        attributes = self._attributes(main[0]) if main else None
        if attributes is None:
            if dead is None:
                return None
            dead_attributes = self._attributes(dead[0]) or {}
            problem = "the queue is missing; only its dead-letter queue is left"
            resource_id = dead_attributes.get("QueueArn", dead[0])
            return self.observed(key, resource_id, {}, dead[1], problem, {"dead_letter_url": dead[0]})
        arn = attributes["QueueArn"]
        fifo = attributes.get("FifoQueue") == "true"
        dead_arn = _sibling_arn(arn, names.dead_letter_queue(key, fifo)) if dead else None
        dead_letter, problem = None, None
        redrive = _redrive(attributes)
        if redrive is not None:
            target, max_receives = redrive
            if target == dead_arn:
                dead_letter = {"max_receives": max_receives}
            else:
                problem = f"its redrive policy sends messages to {target}, not to its own dead-letter queue"
        fields = {
            "retention_seconds": int(attributes["MessageRetentionPeriod"]),
            "visibility_timeout_seconds": int(attributes["VisibilityTimeout"]),
            "fifo": fifo,
            "encrypted": _encrypted(attributes),
            "dead_letter": dead_letter,
        }
        addresses = {"url": main[0], "dead_letter_url": dead[0] if dead else ""}
        return self.observed(key, arn, fields, main[1], problem, addresses)

    def outputs(self, current: Observed) -> dict[str, str]:
        # The URLs the listing gave (the endpoint's own form, moto's included); a queue observed without its listing
        # (a problem) has what was found.
        return {
            "url": current.address("url"),
            "dead_letter_url": current.address("dead_letter_url"),
        }

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        spec = desired.spec
        key = desired.key
        other = self._url(names.queue(key, not spec.fifo))
        if other is not None:
            kind = "a FIFO" if not spec.fifo else "a standard"
            raise AdapterError(
                PROVIDER,
                "update" if current else "create",
                key,
                f"{kind} queue exists for it already ({_queue_name(other)}); fifo cannot change in place: replace it",
            )
        dead_url = self._url(names.dead_letter_queue(key, spec.fifo))
        dead_arn = None
        if spec.dead_letter is not None:
            dead_tags = {**desired.tags, PART_TAG: DEAD_LETTER}
            dead_wanted = {
                "MessageRetentionPeriod": str(DEAD_LETTER_RETENTION),
                **_encryption(spec.encrypted),
            }
            dead_url = self._converge(
                names.dead_letter_queue(key, spec.fifo), dead_url, dead_wanted, dead_tags, spec.fifo
            )
            dead_arn = self._attributes(dead_url)["QueueArn"]
        wanted = {
            "MessageRetentionPeriod": str(spec.retention_seconds),
            "VisibilityTimeout": str(spec.visibility_timeout_seconds),
            **_encryption(spec.encrypted),
            "RedrivePolicy": (
                json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": spec.dead_letter.max_receives})
                if spec.dead_letter is not None
                else ""
            ),
        }
        main_url = self._converge(
            names.queue(key, spec.fifo), self._url(names.queue(key, spec.fifo)), wanted, dict(desired.tags), spec.fifo
        )
        if spec.dead_letter is None and dead_url is not None:
            # Unwired first (above), then removed: messages never have nowhere to go.
            self._delete_queue(dead_url)
        observed = self.find(key, spec.fifo)
        if observed is None:
            raise AdapterError(PROVIDER, "create", key, f"queue {main_url} vanished while it was being set up")
        return observed

    def _converge(self, name: str, url: str | None, wanted: dict[str, str], tags: dict[str, str], fifo: bool) -> str:
        """Make queue `name` exist with `wanted` attributes and exactly `tags`; returns its URL."""
        sqs = self.aws.client("sqs")
        if url is None:
            attributes = {k: v for k, v in wanted.items() if v != ""}
            if fifo:
                attributes.update({"FifoQueue": "true", "ContentBasedDeduplication": "true"})
            return sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"]
        current = self._attributes(url) or {}
        changes = {k: v for k, v in wanted.items() if not _same_attribute(k, current, v)}
        if wanted.get("SqsManagedSseEnabled") == "false" and current.get("KmsMasterKeyId"):
            changes["KmsMasterKeyId"] = ""
        if changes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=changes)
        to_set, to_remove = tag_changes(self._tags(url) or {}, tags)
        if to_set:
            sqs.tag_queue(QueueUrl=url, Tags=to_set)
        if to_remove:
            sqs.untag_queue(QueueUrl=url, TagKeys=to_remove)
        return url

    def _delete(self, key: ResourceKey) -> None:
        for fifo in (False, True):
            for name in (names.queue(key, fifo), names.dead_letter_queue(key, fifo)):
                url = self._url(name)
                if url is not None:
                    self._delete_queue(url)

    def _tag(self, current: Observed, tags: Mapping[str, str]) -> None:
        # The dead-letter queue too, with the part tag by which observation tells it from the queue itself.
        sqs = self.aws.client("sqs")
        fifo = current.fields.get("fifo")
        dead_letter = {PART_TAG: DEAD_LETTER}
        for kind in (False, True) if fifo is None else (fifo,):
            parts = ((names.queue(current.key, kind), {}), (names.dead_letter_queue(current.key, kind), dead_letter))
            for name, extra in parts:
                url = self._url(name)
                if url is not None:
                    sqs.tag_queue(QueueUrl=url, Tags={**tags, **extra})

    def _delete_queue(self, url: str) -> None:
        try:
            self.aws.client("sqs").delete_queue(QueueUrl=url)
        except ClientError as exc:
            if error_code(exc) not in _GONE:
                raise

    def _health(self, current: Observed) -> HealthReport:
        found = self.find(current.key, current.fields.get("fifo"))
        if found is None:
            return HealthReport(False, "queue is gone")
        if found.problem:
            return HealthReport(False, found.problem)
        if current.fields.get("dead_letter") and found.fields.get("dead_letter") is None:
            return HealthReport(False, "its dead-letter queue is gone")
        return HealthReport(True)

    # -- SQS calls that may meet a queue deleted meanwhile -----------------------------------------------------------

    def _url(self, name: str) -> str | None:
        try:
            return self.aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as exc:
            if error_code(exc) in _GONE:
                return None
            raise

    def _tags(self, url: str) -> dict[str, str] | None:
        try:
            return dict(self.aws.client("sqs").list_queue_tags(QueueUrl=url).get("Tags", {}))
        except ClientError as exc:
            if error_code(exc) in _GONE:
                return None
            raise

    def _attributes(self, url: str) -> dict[str, str] | None:
        try:
            return self.aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        except ClientError as exc:
            if error_code(exc) in _GONE:
                return None
            raise


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _names(key: ResourceKey, role: str) -> set[str]:
    make = names.dead_letter_queue if role == DLQ else names.queue
    return {make(key, False), make(key, True)}


def _sibling_arn(arn: str, name: str) -> str:
    return arn.rsplit(":", 1)[0] + ":" + name


def _redrive(attributes: dict[str, str]) -> tuple[str, int] | None:
    raw = attributes.get("RedrivePolicy")
    if not raw:
        return None
    policy = json.loads(raw)
    return policy.get("deadLetterTargetArn", ""), int(policy.get("maxReceiveCount", 0))


def _encrypted(attributes: dict[str, str]) -> bool:
    return attributes.get("SqsManagedSseEnabled") == "true" or bool(attributes.get("KmsMasterKeyId"))


def _encryption(encrypted: bool) -> dict[str, str]:
    return {"SqsManagedSseEnabled": "true" if encrypted else "false"}


def _same_attribute(name: str, current: dict[str, str], wanted: str) -> bool:
    if name == "RedrivePolicy":
        have = _redrive(current)
        want = _redrive({"RedrivePolicy": wanted})
        return have == want
    if name == "SqsManagedSseEnabled":
        if wanted == "true" and current.get("KmsMasterKeyId"):
            return True
        return current.get(name, "false") == wanted
    return current.get(name) == wanted
