"""queue/v1 on AWS: FIFO queues, the dead-letter queue and its redrive policy, encryption, and finding queues."""

from __future__ import annotations

import json

import pytest

from adapters.base import AdapterError, ResourceKey

JOBS = {"contract": "queue/v1", "retention_seconds": 86400, "dead_letter": {"max_receives": 2}}


def sqs(adapter):
    return adapter.aws.client("sqs")


def attributes(adapter, name):
    url = sqs(adapter).get_queue_url(QueueName=name)["QueueUrl"]
    return sqs(adapter).get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_a_dead_letter_queue_is_a_second_queue_wired_by_a_redrive_policy(adapter, desired):
    want = desired("jobs", JOBS, tags={"team": "t"})
    created = adapter.queue.create(want)
    main = attributes(adapter, "mnops-dev_jobs")
    dead = attributes(adapter, "mnops-dev_jobs_dlq")
    assert created.resource_id == main["QueueArn"]
    assert json.loads(main["RedrivePolicy"]) == {"deadLetterTargetArn": dead["QueueArn"], "maxReceiveCount": 2}
    assert main["MessageRetentionPeriod"] == "86400"
    assert dead["MessageRetentionPeriod"] == "1209600"
    url = sqs(adapter).get_queue_url(QueueName="mnops-dev_jobs_dlq")["QueueUrl"]
    dead_tags = sqs(adapter).list_queue_tags(QueueUrl=url)["Tags"]
    assert dead_tags["mnops-resource"] == "jobs" and dead_tags["mnops:part"] == "dead-letter"
    assert "mnops:part" not in created.tags
    assert [o.key for o in adapter.queue.observe("dev")] == [want.key]


def test_a_message_received_too_often_moves_to_the_dead_letter_queue(adapter, desired):
    adapter.queue.create(desired("jobs", {**JOBS, "visibility_timeout_seconds": 0}))
    main = sqs(adapter).get_queue_url(QueueName="mnops-dev_jobs")["QueueUrl"]
    dead = sqs(adapter).get_queue_url(QueueName="mnops-dev_jobs_dlq")["QueueUrl"]
    sqs(adapter).send_message(QueueUrl=main, MessageBody="poison")
    received = [len(sqs(adapter).receive_message(QueueUrl=main).get("Messages", [])) for _ in range(3)]
    assert received == [1, 1, 0]
    assert [m["Body"] for m in sqs(adapter).receive_message(QueueUrl=dead)["Messages"]] == ["poison"]


def test_dropping_the_dead_letter_queue_unwires_and_deletes_it(adapter, desired):
    current = adapter.queue.create(desired("jobs", JOBS))
    updated = adapter.queue.update(desired("jobs", {"contract": "queue/v1"}), current)
    assert updated.fields["dead_letter"] is None
    assert (
        "RedrivePolicy" not in attributes(adapter, "mnops-dev_jobs")
        or not attributes(adapter, "mnops-dev_jobs")["RedrivePolicy"]
    )
    listed = sqs(adapter).list_queues(QueueNamePrefix="mnops-dev_").get("QueueUrls", [])
    assert [u.rsplit("/", 1)[1] for u in listed] == ["mnops-dev_jobs"]


def test_a_fifo_queue_and_its_dead_letter_queue_are_fifo(adapter, desired):
    created = adapter.queue.create(desired("orders", {**JOBS, "fifo": True}))
    main = attributes(adapter, "mnops-dev_orders.fifo")
    assert main["FifoQueue"] == "true"
    assert main["ContentBasedDeduplication"] == "true"
    assert attributes(adapter, "mnops-dev_orders_dlq.fifo")["FifoQueue"] == "true"
    assert created.fields["fifo"] is True and created.fields["dead_letter"] == {"max_receives": 2}
    url = sqs(adapter).get_queue_url(QueueName="mnops-dev_orders.fifo")["QueueUrl"]
    # Content-based deduplication: no deduplication id needed, and the same body twice is one message.
    for _ in range(2):
        sqs(adapter).send_message(QueueUrl=url, MessageBody="order-1", MessageGroupId="g")
    assert attributes(adapter, "mnops-dev_orders.fifo")["ApproximateNumberOfMessages"] == "1"


def test_fifo_is_immutable_and_an_update_that_changes_it_is_refused(adapter, desired):
    assert "fifo" in adapter.queue.immutable
    current = adapter.queue.create(desired("jobs", {"contract": "queue/v1"}))
    with pytest.raises(AdapterError, match="fifo cannot change in place") as raised:
        adapter.queue.update(desired("jobs", {"contract": "queue/v1", "fifo": True}), current)
    assert raised.value.key == current.key
    # Replacing it (what the planner does for an immutable field) works.
    adapter.queue.delete(current)
    replaced = adapter.queue.create(desired("jobs", {"contract": "queue/v1", "fifo": True}))
    assert replaced.resource_id.endswith(":mnops-dev_jobs.fifo")


def test_encryption_is_sse_sqs_and_can_be_turned_off(adapter, desired):
    current = adapter.queue.create(desired("jobs", {"contract": "queue/v1"}))
    assert attributes(adapter, "mnops-dev_jobs")["SqsManagedSseEnabled"] == "true"
    updated = adapter.queue.update(desired("jobs", {"contract": "queue/v1", "encrypted": False}), current)
    assert attributes(adapter, "mnops-dev_jobs")["SqsManagedSseEnabled"] == "false"
    assert updated.fields["encrypted"] is False


def test_a_platform_whose_name_starts_another_sees_only_its_own_queues(adapter, desired):
    adapter.queue.create(desired("jobs", {"contract": "queue/v1"}, platform="conf"))
    adapter.queue.create(desired("jobs", {"contract": "queue/v1"}, platform="conf-a"))
    assert [o.key for o in adapter.queue.observe("conf")] == [ResourceKey("conf", "jobs")]
    assert [o.key for o in adapter.queue.observe("conf-a")] == [ResourceKey("conf-a", "jobs")]


def test_a_queue_without_our_tags_is_not_ours(adapter):
    sqs(adapter).create_queue(QueueName="mnops-dev_jobs", tags={"mnops-platform": "dev"})
    assert adapter.queue.observe("dev") == []


def test_a_queue_deleted_behind_the_engines_back_leaves_a_damaged_resource_that_update_repairs(adapter, desired):
    want = desired("jobs", JOBS)
    current = adapter.queue.create(want)
    sqs(adapter).delete_queue(QueueUrl=sqs(adapter).get_queue_url(QueueName="mnops-dev_jobs")["QueueUrl"])
    [damaged] = adapter.queue.observe("dev")
    assert damaged.problem == "the queue is missing; only its dead-letter queue is left"
    assert not adapter.queue.health(current).healthy
    repaired = adapter.queue.update(want, damaged)
    assert repaired.problem is None
    assert repaired.fields == adapter.queue.desired_fields(want)
    assert adapter.queue.health(repaired).healthy


def test_a_redrive_policy_pointed_elsewhere_is_a_problem(adapter, desired):
    want = desired("jobs", JOBS)
    adapter.queue.create(want)
    sqs(adapter).create_queue(QueueName="somewhere-else")
    arn = attributes(adapter, "somewhere-else")["QueueArn"]
    url = sqs(adapter).get_queue_url(QueueName="mnops-dev_jobs")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2})
    sqs(adapter).set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    [observed] = adapter.queue.observe("dev")
    assert observed.fields["dead_letter"] is None
    assert arn in observed.problem
    repaired = adapter.queue.update(want, observed)
    assert repaired.problem is None and repaired.fields["dead_letter"] == {"max_receives": 2}
