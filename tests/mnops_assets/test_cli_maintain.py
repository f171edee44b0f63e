"""`mnops maintain` on the local provider: nothing due is exit 0 and writes nothing; a due secret is rotated and its
reader restarted, with no value in the output; a reader that cannot come back fails its platform with exit 1; a
maintenance killed between a rotation and the restart it needs is finished by the next one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.base import ResourceKey
from adapters.local import testing
from adapters.local.files import METADATA
from mnops_assets.cli import app
from mnops_assets.engine import audit
from mnops_assets.engine.apply import FAILPOINTS_ENV
from mnops_assets.engine.runtime import open_engine
from mnops_assets.estate import load_estate
from tests.mnops_assets.engine.reader import move_adapter_clocks, served_digest, stored_digest, write_shop_estate

runner = CliRunner()
DAY = 86400
API = ResourceKey("shop", "api")
API_KEY = ResourceKey("shop", "api-key")


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The `shop` estate, deployed; its service's health check gives up after 3 s."""
    root = write_shop_estate(tmp_path / "ecosystem", timeout_seconds=3)
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)
    deployed = runner.invoke(app, ["deploy", "shop", "--direct", "--estate", str(root)], catch_exceptions=False)
    assert deployed.exit_code == 0, deployed.output
    yield root
    destroyed = runner.invoke(app, ["destroy", "shop", "--force", "--estate", str(root)], catch_exceptions=False)
    assert destroyed.exit_code == 0, destroyed.output
    testing.kill_strays(tmp_path)


def maintain(root: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["maintain", *args, "--estate", str(root)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def audit_trail(root: Path) -> list[audit.AuditRecord]:
    engine = open_engine(load_estate(root))
    try:
        return audit.records(engine.store)
    finally:
        engine.close()


def test_nothing_due_exits_0_and_writes_nothing(shop):
    before = audit_trail(shop)
    assert "nothing due" in maintain(shop)
    document = json.loads(maintain(shop, "shop", "--format", "json"))
    assert document["format_version"] == 1
    assert [(p["platform"], p["rotated"], p["error"]) for p in document["platforms"]] == [("shop", [], None)]
    assert audit_trail(shop) == before


def test_a_due_secret_is_rotated_and_its_reader_restarted(shop, monkeypatch):
    engine = open_engine(load_estate(shop))
    adapter = engine.adapter_for("local")
    old_value = adapter.secrets.reveal(API_KEY)
    before = adapter.compute.running(API)["replicas"][0]
    move_adapter_clocks(monkeypatch, 2 * DAY)
    output = maintain(shop, "--format", "json")
    [platform] = json.loads(output)["platforms"]
    assert platform["rotated"] == ["api-key"] and platform["restarted"] == ["api"] and platform["error"] is None
    new_value = adapter.secrets.reveal(API_KEY)
    assert new_value != old_value and old_value not in output and new_value not in output
    assert adapter.compute.running(API)["replicas"][0] not in (None, before)
    assert served_digest(adapter, API) == stored_digest(adapter, API_KEY)
    engine.close()
    assert "nothing due" in maintain(shop)  # rotated a moment ago: due again only in a day


def test_a_reader_that_cannot_restart_fails_its_platform_with_exit_1(shop, tmp_path, monkeypatch):
    (tmp_path / "serve.py").write_text("raise SystemExit(3)\n")  # the service's next start fails
    move_adapter_clocks(monkeypatch, 2 * DAY)
    result = runner.invoke(app, ["maintain", "--estate", str(shop)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "error: shop:" in result.output and "restart after rotation" in result.output
    kinds = [r.type.removeprefix(audit.EVENT_PREFIX) for r in audit_trail(shop)]
    assert "secret.rotated" in kinds and "maintain.failed" in kinds


def test_a_maintenance_killed_between_rotation_and_restart_restarts_the_reader_next_time(shop, tmp_path, monkeypatch):
    monkeypatch.setenv("MNOPS_LOCK_LEASE_SECONDS", "1")  # the killed maintenance's lock is broken a second later
    engine = open_engine(load_estate(shop))
    adapter = engine.adapter_for("local")
    # Age the value by a day and a half, as time would: the next maintenance finds it due.
    metadata_file = adapter.secrets.folder(API_KEY) / METADATA
    metadata = json.loads(metadata_file.read_text())
    metadata["state"]["written_at"] -= 1.5 * DAY
    metadata_file.write_text(json.dumps(metadata))
    before = adapter.compute.running(API)["replicas"][0]
    old = stored_digest(adapter, API_KEY)
    engine.close()
    # Killed (SIGKILL) just before its first restart step (step 1 of its journal is the rotation).
    env = {**os.environ, FAILPOINTS_ENV: "before:2=crash"}
    killed = subprocess.run(
        [sys.executable, "-m", "mnops_assets", "maintain", "--estate", str(shop)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    engine = open_engine(load_estate(shop))
    adapter = engine.adapter_for("local")
    try:
        assert stored_digest(adapter, API_KEY) != old  # rotated...
        assert served_digest(adapter, API) == old  # ...but the service still holds the old value
        document = json.loads(maintain(shop, "--format", "json", "--wait"))
        [platform] = document["platforms"]
        assert platform["rotated"] == [] and platform["restarted"] == ["api"] and platform["error"] is None
        assert adapter.compute.running(API)["replicas"][0] not in (None, before)
        assert served_digest(adapter, API) == stored_digest(adapter, API_KEY)
        statuses = [d["status"] for d in engine.store.deploys("shop") if d["kind"] == "maintain"]
        assert statuses == ["crashed", "succeeded"]
        assert "nothing due" in maintain(shop)  # and once is enough
    finally:
        engine.close()
