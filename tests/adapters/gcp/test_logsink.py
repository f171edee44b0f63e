"""logging/v1 on GCP: a log bucket's retention, the sink's severity filter, tags kept in the description, refusals and
a deleted bucket's pending deletion."""

from __future__ import annotations

import pytest

from adapters.base import AdapterError
from adapters.gcp.adapter import GcpAdapter
from tests.adapters.gcp.conftest import LOCATION, PROJECT, build
from tests.adapters.gcp.grpc_fakes import LoggingConfig


def test_a_log_bucket_keeps_its_retention_and_its_sink_filters_by_level(adapter: GcpAdapter) -> None:
    made = adapter.logging.create(
        build("app-logs", {"contract": "logging/v1", "retention_days": 14, "min_level": "warning"})
    )
    client = adapter.gcp.logging_config()
    bucket = client.get_bucket(request={"name": made.resource_id})
    assert bucket.name == f"projects/{PROJECT}/locations/{LOCATION}/buckets/mnops-dev_app-logs"
    assert bucket.retention_days == 14
    sink = client.get_sink(request={"sink_name": f"projects/{PROJECT}/sinks/mnops-dev_app-logs"})
    assert sink.destination == f"logging.googleapis.com/{made.resource_id}"
    assert sink.filter.startswith("severity>=WARNING ")
    assert 'labels."mnops-platform"="dev"' in sink.filter


def test_tags_are_kept_in_the_bucket_description_since_log_buckets_have_no_labels(adapter: GcpAdapter) -> None:
    made = adapter.logging.create(build("app-logs", {"contract": "logging/v1"}, tags={"team": "ops"}))
    bucket = adapter.gcp.logging_config().get_bucket(request={"name": made.resource_id})
    assert bucket.description.startswith("mnops:{")
    assert made.tags["team"] == "ops" and made.tags["mnops-contract"] == "logging/v1"
    # Descriptions hold any text, but a tag GCP labels could not hold is refused all the same: the same estate must
    # deploy the same way whichever GCP service a contract lands on.
    with pytest.raises(AdapterError, match="tag 'team'"):
        adapter.logging.create(build("app-logs", {"contract": "logging/v1"}, tags={"team": "Ops / Platform"}))


def test_a_retention_cloud_logging_cannot_hold_is_refused_naming_the_field(adapter: GcpAdapter) -> None:
    desired = build("app-logs", {"contract": "logging/v1", "retention_days": 3653})
    with pytest.raises(AdapterError, match="retention_days.*3650"):
        adapter.logging.create(desired)
    assert adapter.logging.find(desired.key) is None


def test_a_deleted_bucket_is_pending_deletion_and_creating_it_again_undeletes_it(
    adapter: GcpAdapter, logging_fake: LoggingConfig
) -> None:
    desired = build("app-logs", {"contract": "logging/v1", "retention_days": 14})
    made = adapter.logging.create(desired)
    adapter.logging.delete(made)
    assert logging_fake.buckets[made.resource_id].lifecycle_state.name == "DELETE_REQUESTED"
    assert adapter.logging.find(desired.key) is None
    again = adapter.logging.create(build("app-logs", {"contract": "logging/v1", "retention_days": 7}))
    assert again.resource_id == made.resource_id and again.fields["retention_days"] == 7


def test_a_changed_sink_filter_is_a_problem_repaired_by_the_next_apply(adapter: GcpAdapter) -> None:
    desired = build("app-logs", {"contract": "logging/v1"})
    made = adapter.logging.create(desired)
    adapter.gcp.logging_config().update_sink(
        request={
            "sink_name": f"projects/{PROJECT}/sinks/mnops-dev_app-logs",
            "sink": {"filter": "severity>=DEBUG"},
            "update_mask": {"paths": ["filter"]},
        }
    )
    broken = adapter.logging.find(desired.key)
    assert broken is not None and broken.problem and broken.fields["min_level"] is None
    assert not adapter.logging.health(made).healthy
    repaired = adapter.logging.update(desired, broken)
    assert repaired.problem is None and repaired.fields["min_level"] == "info"


def test_observing_many_platforms_takes_two_listings(adapter: GcpAdapter, logging_fake: LoggingConfig) -> None:
    platforms = [f"p{i}" for i in range(6)]
    for platform in platforms:
        adapter.logging.create(build("app-logs", {"contract": "logging/v1"}, platform=platform))
    logging_fake.calls.clear()
    found = adapter.logging.observe_platforms(platforms)
    assert all(len(found[p]) == 1 for p in platforms)
    assert dict(logging_fake.calls) == {"list_buckets": 1, "list_sinks": 1}
