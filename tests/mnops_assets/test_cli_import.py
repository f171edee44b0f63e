"""`mnops import` end to end on a copy of the shipped estate: deploy, lose the state database, import, and every other
command carries on as if the state had never been lost."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from adapters.base import IDENTITY_TAGS
from adapters.local.files import METADATA, read_json, write_json
from mnops_assets.cli import app

runner = CliRunner()


@pytest.fixture
def mnops(estate_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--estate", str(estate_copy)], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    yield run
    runner.invoke(app, ["destroy", "dev", "--force", "--estate", str(estate_copy)])


def lose_state(home) -> None:
    for path in home.glob("state.db*"):
        path.unlink()


def rows(home) -> int:
    with sqlite3.connect(home / "state.db") as db:
        return sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("mnops_resources", "mnops_versions"))


def test_import_after_the_state_database_is_lost(mnops, tmp_path):
    home = tmp_path / ".mnops"
    mnops("deploy", "dev", "--direct")
    lose_state(home)
    jobs = home / "local" / "queue" / "dev" / "jobs" / METADATA
    document = read_json(jobs)
    document["tags"] = {k: v for k, v in document["tags"].items() if k not in IDENTITY_TAGS}
    write_json(jobs, document)

    shown = mnops("import", "dev", "--dry-run")
    assert "dev: would import 7 resource(s) (dry run: nothing written)" in shown
    assert "  jobs (queue/v1): found by name; identity tags would be written" in shown
    assert "  assets (storage/v1): found by identity tags" in shown
    assert "dev: no changes (7 resources up to date)" in shown
    assert rows(home) == 0 and "mnops-resource" not in read_json(jobs)["tags"]

    shown = mnops("import", "dev")
    assert "dev: imported 7 resource(s) as version 1" in shown
    assert "  jobs (queue/v1): found by name; identity tags written" in shown
    assert read_json(jobs)["tags"]["mnops-resource"] == "jobs"
    assert "dev: no changes (7 resources up to date)" in mnops("plan", "dev")
    assert "dev: in sync" in mnops("drift", "dev")
    assert "nothing to import" in mnops("import", "dev")
    history = json.loads(mnops("history", "dev", "--format", "json"))["versions"]
    assert [(v["version"], v["note"]) for v in history] == [(1, "imported")]
    events = [e["type"] for e in json.loads(mnops("audit", "list", "dev", "--format", "json"))["events"]]
    assert events == ["io.mnops.import.started", "io.mnops.import.succeeded"]
    assert "audit trail intact" in mnops("audit", "verify")
    assert "no changes" in mnops("deploy", "dev", "--direct")


def test_import_json_and_a_refusal_naming_file_and_line(mnops, estate_copy, tmp_path):
    home = tmp_path / ".mnops"
    mnops("deploy", "dev", "--direct")
    lose_state(home)
    platform = estate_copy / "platform-cloud" / "dev" / "platform.yaml"
    original = platform.read_text()
    platform.write_text(original.replace("retention_seconds: 86400", "retention_seconds: 86400\n    fifo: true"))
    refused = mnops("import", "dev", code=1)
    assert "error: import of 'dev' refused, nothing was written:" in refused
    assert "  jobs: fifo is false there and true in YAML, which cannot change in place (" in refused
    assert f"{platform}:10" in refused
    assert rows(home) == 0

    platform.write_text(original.replace("retention_seconds: 86400", "retention_seconds: 7200"))
    data = json.loads(mnops("import", "dev", "--format", "json"))
    assert data["version"] == 1 and data["dry_run"] is False and data["undeclared"] == []
    assert {r["resource"]: r["found_by"] for r in data["resources"]}["jobs"] == "tags"
    assert [(s["action"], s["resource"], s["reason"]) for s in data["plan"]["steps"]] == [
        ("update", "jobs", "changed in YAML")
    ]
    shown = mnops("plan", "dev", code=2)
    assert f"retention_seconds: 86400 -> 7200   {platform}:9" in shown
