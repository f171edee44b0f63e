"""logging/v1 on the local provider: JSON lines per day, records below `min_level` dropped, retention enforced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import ResourceKey, Upkeep

KEY = ResourceKey("dev", "app-logs")
DAY = 86400


def sink(adapter, desired, **fields):
    adapter.logging.create(desired("app-logs", {"contract": "logging/v1", **fields}))
    return adapter.logging


def day_files(adapter):
    return sorted(p.name for p in (adapter.root / "logging" / "dev" / "app-logs" / "records").iterdir())


def test_records_are_json_lines_in_a_file_per_day(adapter, desired, clock):
    logs = sink(adapter, desired)
    assert logs.write(KEY, "started")
    assert logs.write(KEY, {"event": "request", "status": 200, "level": "forged"}, level="warning")
    clock.advance(DAY)
    assert logs.write(KEY, "next day")
    assert len(day_files(adapter)) == 2
    records = logs.read(KEY)
    assert [r.get("message", r.get("event")) for r in records] == ["started", "request", "next day"]
    assert records[1]["level"] == "warning", "a record's own fields must not override the level it was written at"
    first = (adapter.root / "logging" / "dev" / "app-logs" / "records" / day_files(adapter)[0]).read_text()
    assert [json.loads(line)["level"] for line in first.splitlines()] == ["info", "warning"]


def test_records_below_min_level_are_dropped(adapter, desired):
    logs = sink(adapter, desired, min_level="warning")
    assert not logs.write(KEY, "chatty", level="debug")
    assert not logs.write(KEY, "normal", level="info")
    assert logs.write(KEY, "careful", level="warning")
    assert logs.write(KEY, "broken", level="error")
    assert [r["message"] for r in logs.read(KEY)] == ["careful", "broken"]
    with pytest.raises(ValueError, match="unknown log level"):
        logs.write(KEY, "?", level="fatal")


def test_maintain_removes_day_files_older_than_the_retention(adapter, desired, clock):
    logs = sink(adapter, desired, retention_days=3)
    for _ in range(6):
        logs.write(KEY, "tick")
        clock.advance(DAY)
    assert len(day_files(adapter)) == 6
    assert logs.maintain(KEY) == Upkeep(removed=3)
    today = datetime.fromtimestamp(clock(), UTC).date()
    assert day_files(adapter)[0] == f"{today - timedelta(days=3)}.jsonl"


def test_shortening_the_retention_takes_effect_on_update(adapter, desired, clock):
    logs = sink(adapter, desired, retention_days=30)
    for _ in range(10):
        logs.write(KEY, "tick")
        clock.advance(DAY)
    [current] = logs.observe("dev")
    logs.update(desired("app-logs", {"contract": "logging/v1", "retention_days": 2}), current)
    assert len(day_files(adapter)) == 2
    assert adapter.maintain("dev") == {"app-logs": Upkeep(removed=0)}
