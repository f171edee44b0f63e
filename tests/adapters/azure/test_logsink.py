"""logging/v1 on Azure: a Log Analytics workspace whose custom table holds the retention."""

from __future__ import annotations

import pytest

from adapters.azure import names
from adapters.azure.logsink import LEVEL_TAG, TABLE
from adapters.base import AdapterError
from tests.adapters.azure.conftest import build


def table(adapter, key):
    workspace = names.workspace(adapter.azure.subscription_id, key)
    return adapter.azure.client("loganalytics").tables.get(names.group(key.platform), workspace, TABLE)


def test_retention_is_the_tables_and_min_level_a_hidden_tag(adapter):
    created = adapter.logging.create(build("app-logs", {"contract": "logging/v1", "retention_days": 14}))
    made = table(adapter, created.key)
    assert (made.retention_in_days, made.total_retention_in_days) == (14, 14)
    assert created.fields == {"retention_days": 14, "min_level": "info"}
    assert LEVEL_TAG not in created.tags and created.private[LEVEL_TAG] == "info"


def test_a_retention_past_730_days_is_kept_in_long_term_retention(adapter):
    created = adapter.logging.create(build("audit-logs", {"contract": "logging/v1", "retention_days": 2555}))
    made = table(adapter, created.key)
    assert (made.retention_in_days, made.total_retention_in_days) == (730, 2555)
    assert created.fields["retention_days"] == 2555


def test_a_retention_shorter_than_log_analytics_keeps_is_refused_naming_the_field(adapter, fake):
    want = build("app-logs", {"contract": "logging/v1", "retention_days": 3})
    with pytest.raises(AdapterError, match="retention_days: 3 is shorter than Log Analytics keeps") as raised:
        adapter.logging.create(want)
    assert raised.value.key == want.key
    assert fake.count("PUT") == 0
