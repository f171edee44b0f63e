"""The deploy commands end to end on a copy of the shipped estate: deploy, plan a change, history, rollback, audit."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from mnops_assets.cli import app

runner = CliRunner()


@pytest.fixture
def mnops(estate_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)
    deployed: list[str] = []

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--estate", str(estate_copy)], catch_exceptions=False)
        assert result.exit_code == code, result.output
        if args[0] == "deploy":
            deployed.append(args[1])
        return result.output

    yield run
    for name in set(deployed):
        runner.invoke(app, ["destroy", name, "--force", "--estate", str(estate_copy)])


def test_deploy_change_plan_history_rollback_audit(mnops, estate_copy, tmp_path):
    assert "deployed" in mnops("deploy", "dev")
    assert "dev: no changes (7 resources up to date)" in mnops("plan", "dev")

    platform = estate_copy / "platform-cloud" / "dev" / "platform.yaml"
    platform.write_text(platform.read_text().replace("retention_seconds: 86400", "retention_seconds: 7200"))
    shown = mnops("plan", "dev", code=2).splitlines()
    assert shown[0].startswith("dev: 0 to create, 1 to update, 0 to replace, 0 to delete")
    assert shown[1:] == [
        "  ~ jobs (queue/v1): changed in YAML",
        f"      retention_seconds: 86400 -> 7200   {platform}:9",
    ]
    data = json.loads(mnops("plan", "dev", "--format", "json", code=2))
    assert [(s["action"], s["resource"], s["changes"]) for s in data["steps"]] == [
        ("update", "jobs", [{"field": "retention_seconds", "before": 86400, "after": 7200, "cause": "config"}])
    ]

    mnops("deploy", "dev")
    history = json.loads(mnops("history", "dev", "--format", "json"))["versions"]
    assert [v["version"] for v in history] == [1, 2]
    assert "now version 3" in mnops("rollback", "dev")
    history = json.loads(mnops("history", "dev", "--format", "json"))["versions"]
    assert [(v["version"], v["note"]) for v in history][-1] == (3, "rollback to version 1")
    assert history[2]["config_hash"] == history[0]["config_hash"]
    from adapters.local.adapter import LocalAdapter

    local = LocalAdapter(root=tmp_path / ".mnops" / "local")
    assert local.observe("dev")["jobs"].fields["retention_seconds"] == 86400  # the provider holds version 1 again

    assert "audit trail intact" in mnops("audit", "verify")
    events = json.loads(mnops("audit", "list", "dev", "--format", "json"))["events"]
    assert {"io.mnops.deploy.succeeded", "io.mnops.rollback.succeeded", "io.mnops.step.update"} <= {
        e["type"] for e in events
    }
    with sqlite3.connect(tmp_path / ".mnops" / "state.db") as db:
        db.execute("UPDATE mnops_audit SET event = replace(event, '7200', '7201') WHERE type = 'io.mnops.step.update'")
    mnops("audit", "verify", code=1)


def test_destroying_a_protected_platform_needs_force(mnops):
    mnops("deploy", "prod")
    mnops("destroy", "prod", code=1)
    assert "prod: destroyed 7 resource(s)" in mnops("destroy", "prod", "--force")


def test_drift_exits_2_when_something_changed_behind_our_back(mnops, tmp_path):
    mnops("deploy", "staging")
    assert "staging: in sync" in mnops("drift", "staging")
    from adapters.local.adapter import LocalAdapter

    local = LocalAdapter(root=tmp_path / ".mnops" / "local")
    jobs = local.observe("staging")["jobs"]
    local.driver("queue/v1").delete(jobs)
    out = mnops("drift", "staging", code=2)
    assert "+ jobs (queue/v1): deleted outside mnops since the last apply" in out


def test_deploy_needs_one_instance_or_all(mnops):
    result = runner.invoke(app, ["deploy"])
    assert result.exit_code == 64


def test_a_platform_failing_governance_is_not_deployed(mnops, estate_copy, tmp_path):
    platform = estate_copy / "platform-cloud" / "prod" / "platform.yaml"
    platform.write_text(platform.read_text() + "  exports:\n    contract: storage/v1\n    versioning: true\n")
    result = runner.invoke(app, ["deploy", "prod", "--estate", str(estate_copy)])
    assert result.exit_code == 1
    assert "refused by governance" in result.output and "GL-TAG-02 prod/exports" in result.output
    assert not (tmp_path / ".mnops" / "local" / "storage" / "prod").exists()


def test_a_rewritten_and_rehashed_audit_trail_fails_verify(mnops, tmp_path):
    import stat

    from mnops_assets.engine.audit import chain_hash

    mnops("deploy", "dev")
    assert stat.S_IMODE((tmp_path / ".mnops" / "audit.key").stat().st_mode) == 0o600
    with sqlite3.connect(tmp_path / ".mnops" / "state.db") as db:
        rows = db.execute("SELECT seq, event FROM mnops_audit ORDER BY seq").fetchall()
        db.execute("DELETE FROM mnops_audit WHERE seq = ?", (rows[0][0],))
        prev = "0" * 64
        for seq, text in rows[1:]:
            event = json.loads(text)
            event["data"]["actor"] = "mallory"
            digest = chain_hash(prev, event)
            db.execute(
                "UPDATE mnops_audit SET event = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (json.dumps(event, sort_keys=True), prev, digest, seq),
            )
            prev = digest
        db.execute("UPDATE mnops_audit_head SET seq = ?, hash = ?", (rows[-1][0], prev))
    shown = mnops("audit", "verify", "--format", "json", code=1)
    report = json.loads(shown[: shown.index("\nerror:")])
    assert report["intact"] is False and len(report["problems"]) == len(rows)  # each record left, and the head
    assert all("signature does not match" in problem for problem in report["problems"])


def test_a_trail_stripped_of_signatures_is_caught_against_its_export(mnops, estate_copy, tmp_path):
    from mnops_assets.engine import export
    from mnops_assets.engine.audit import chain_hash

    ecosystem = estate_copy / "ecosystem.yaml"
    ecosystem.write_text(ecosystem.read_text() + "audit:\n  sinks: [file:../exported/audit.jsonl]\n")
    mnops("deploy", "dev")
    for exporter in export._EXPORTERS.values():
        assert exporter.flush(10)
    sink = tmp_path / "exported" / "audit.jsonl"
    assert "records verified, " not in mnops("audit", "verify")
    assert "compared with" in mnops("audit", "verify", "--against", f"file:{sink}")
    with sqlite3.connect(tmp_path / ".mnops" / "state.db") as db:
        rows = db.execute("SELECT seq, event FROM mnops_audit ORDER BY seq").fetchall()
        db.execute("DELETE FROM mnops_audit WHERE seq = ?", (rows[0][0],))
        prev = "0" * 64
        for seq, text in rows[1:]:
            digest = chain_hash(prev, json.loads(text))
            db.execute(
                "UPDATE mnops_audit SET prev_hash = ?, hash = ?, signature = NULL WHERE seq = ?", (prev, digest, seq)
            )
            prev = digest
        db.execute("UPDATE mnops_audit_head SET seq = ?, hash = ?, signature = NULL", (rows[-1][0], prev))
    alone = mnops("audit", "verify")  # without the key's evidence it reads as a store older than signing...
    assert "are unsigned" in alone and "intact" in alone
    shown = mnops("audit", "verify", "--against", str(sink), code=1)  # ...which its export refutes
    assert f"record {rows[0][0]} (io.mnops.deploy.started" in shown and "(removed)" in shown


def test_a_lost_audit_key_is_an_error_not_a_new_key(mnops, tmp_path):
    mnops("deploy", "dev")
    key = tmp_path / ".mnops" / "audit.key"
    kept = key.read_bytes()
    key.unlink()
    shown = mnops("audit", "verify", code=1)
    assert "the audit trail is signed, but there is no audit key here: set MNOPS_AUDIT_KEY" in shown
    assert not key.exists()
    # Put back, so the fixture's destroy (audited, hence signed) can stop what the deploy started.
    key.write_bytes(kept)
