"""logging/v1 on AWS: CloudWatch's fixed retention periods (rounded up, reported as they are) and min_level."""

from __future__ import annotations

import pytest

from adapters.aws import names
from adapters.aws.logsink import RETENTION_DAYS, cloudwatch_retention


@pytest.mark.parametrize(
    ("declared", "kept"),
    [(1, 1), (2, 3), (7, 7), (10, 14), (31, 60), (366, 400), (1000, 1096), (3000, 3288), (3653, 3653)],
)
def test_retention_rounds_up_to_a_period_cloudwatch_accepts(declared, kept):
    assert cloudwatch_retention(declared) == kept


def test_every_period_cloudwatch_accepts_is_kept_as_it_is():
    assert [cloudwatch_retention(days) for days in RETENTION_DAYS] == list(RETENTION_DAYS)
    with pytest.raises(ValueError, match="at most 3653 days"):
        cloudwatch_retention(3654)


def test_a_rounded_retention_is_what_the_plan_shows_and_what_is_observed(adapter, desired):
    want = desired("app-logs", {"contract": "logging/v1", "retention_days": 10})
    assert adapter.logging.desired_fields(want)["retention_days"] == 14
    created = adapter.logging.create(want)
    group = adapter.aws.client("logs").describe_log_groups(logGroupNamePrefix="/mnops/dev/app-logs")["logGroups"][0]
    assert group["retentionInDays"] == 14
    assert created.fields == {"retention_days": 14, "min_level": "info"}
    assert created.fields == adapter.logging.desired_fields(want)


def test_min_level_is_recorded_in_a_tag_the_engine_does_not_see(adapter, desired):
    want = desired("app-logs", {"contract": "logging/v1", "min_level": "warning"}, tags={"team": "t"})
    created = adapter.logging.create(want)
    arn = created.resource_id
    assert arn == "arn:aws:logs:us-east-1:123456789012:log-group:/mnops/dev/app-logs"
    tags = adapter.aws.client("logs").list_tags_for_resource(resourceArn=arn)["tags"]
    assert tags["mnops:min-level"] == "warning"
    assert created.tags == dict(want.tags)


def test_a_group_whose_name_extends_ours_is_not_taken_for_it(adapter, desired):
    adapter.aws.client("logs").create_log_group(
        logGroupName=names.log_group(desired("app", {"contract": "logging/v1"}).key) + "-2"
    )
    assert adapter.logging.find(desired("app", {"contract": "logging/v1"}).key) is None
