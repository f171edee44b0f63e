"""A deploy killed with SIGKILL at any step leaves state from which the next deploy converges, with no orphans.

Each case runs the real `mnops deploy` in a child process that kills itself (a real SIGKILL, set through
MNOPS_FAILPOINTS) just before or just after step k of a five-step plan, then deploys again normally.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ECOSYSTEM = """\
name: crash-estate
providers:
  local:
    default_region: local
defaults:
  provider: local
  owner: team-crash
state:
  lock_lease_seconds: 1  # a killed deploy's lock is broken a second after it died
"""
V1 = """\
template: base
tier: dev
resources:
  assets: {contract: storage/v1, versioning: true}
  jobs: {contract: queue/v1, retention_seconds: 86400}
  api-key: {contract: secrets/v1, from: generate}
  app-logs: {contract: logging/v1, retention_days: 14, depends_on: [assets, jobs]}
"""
# Five steps: update assets (tags), update jobs, update app-logs (tags), create cache, delete api-key.
V2 = """\
template: base
tier: dev
tags: {release: two}
resources:
  assets: {contract: storage/v1, versioning: true}
  jobs: {contract: queue/v1, retention_seconds: 3600}
  cache: {contract: storage/v1}
  app-logs: {contract: logging/v1, retention_days: 14, depends_on: [assets, jobs]}
"""


def write_estate(root: Path, platform: str) -> Path:
    estate = root / "ecosystem"
    files = {
        "ecosystem.yaml": ECOSYSTEM,
        "platform-templates/base.yaml": "description: empty base\n",
        "platform-cloud/dev/platform.yaml": platform,
    }
    for relative, text in files.items():
        path = estate / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return estate


def mnops(estate: Path, *args: str, failpoints: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MNOPS_HOME": str(estate.parent / ".mnops"), "MNOPS_FAILPOINTS": failpoints}
    env.pop("MNOPS_STATE_URL", None)
    # --direct: the engine in this process, so the SIGKILL lands in the engine itself, not in a Dagster step; --wait:
    # a killed deploy's lock holds until its lease runs out.
    direct = ["--direct", "--wait"] if args[0] == "deploy" else ["--wait"] if args[0] == "destroy" else []
    command = [sys.executable, "-m", "mnops_assets", *args, *direct, "--estate", str(estate)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_plan_under_test_has_five_steps(tmp_path):
    estate = write_estate(tmp_path, V1)
    assert mnops(estate, "deploy", "dev").returncode == 0
    (estate / "platform-cloud/dev/platform.yaml").write_text(V2)
    plan = json.loads(mnops(estate, "plan", "dev", "--format", "json").stdout)
    assert [s["action"] for s in plan["steps"]] == ["update", "update", "update", "create", "delete"]


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["before", "after"])
@pytest.mark.parametrize("step", [1, 2, 3, 4, 5])
def test_a_deploy_killed_at_any_step_converges_on_the_next(tmp_path, step, moment):
    estate = write_estate(tmp_path, V1)
    assert mnops(estate, "deploy", "dev").returncode == 0
    (estate / "platform-cloud/dev/platform.yaml").write_text(V2)

    killed = mnops(estate, "deploy", "dev", failpoints=f"{moment}:{step}=crash")
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    again = mnops(estate, "deploy", "dev")
    assert again.returncode == 0, again.stdout + again.stderr
    plan = json.loads(mnops(estate, "plan", "dev", "--format", "json").stdout)
    assert plan["changed"] is False, plan
    assert sorted(plan["unchanged"]) == ["app-logs", "assets", "cache", "jobs"]  # api-key gone: nothing orphaned
    history = json.loads(mnops(estate, "history", "dev", "--format", "json").stdout)["versions"]
    assert [v["version"] for v in history] == [1, 2]
    # The last-applied state says what was applied, or a later change outside mnops would pass for a YAML change.
    from mnops_assets.engine.state import StateStore

    store = StateStore(f"sqlite:///{tmp_path / '.mnops' / 'state.db'}")
    state = store.resources("dev")
    store.close()
    assert sorted(state) == ["app-logs", "assets", "cache", "jobs"]
    assert state["jobs"].fields["retention_seconds"] == 3600 and state["assets"].tags["release"] == "two"
    assert mnops(estate, "audit", "verify").returncode == 0
    events = json.loads(mnops(estate, "audit", "list", "dev", "--format", "json").stdout)["events"]
    assert "io.mnops.deploy.crashed" in [e["type"] for e in events]


WITH_SERVICE = (
    V1
    + """\
  api:
    contract: compute/v1
    command: [python, -c, "import time; time.sleep(600)"]
    depends_on: [app-logs]
"""
)


@pytest.mark.slow
def test_destroy_all_removes_what_a_crashed_first_deploy_and_a_removed_folder_left(tmp_path):
    from adapters.local.adapter import LocalAdapter

    estate = write_estate(tmp_path, WITH_SERVICE)
    killed = mnops(estate, "deploy", "dev", failpoints="after:5=crash")  # api is the last of five creates
    assert killed.returncode == -signal.SIGKILL
    local = LocalAdapter(root=tmp_path / ".mnops" / "local")
    assert local.compute.running(local.observe("dev")["api"].key)["supervisor"] is not None  # no version, yet running
    assert mnops(estate, "destroy", "--all", "--force").returncode == 0
    assert local.observe("dev") == {}

    assert mnops(estate, "deploy", "dev").returncode == 0
    (estate / "platform-cloud" / "dev" / "platform.yaml").rename(tmp_path / "gone.yaml")
    (estate / "platform-cloud" / "dev").rmdir()
    assert mnops(estate, "destroy", "--all", "--force").returncode == 0
    assert local.observe("dev") == {}


def running_step(state_db: Path, kind: str, timeout: float = 120.0) -> None:
    """Wait until a deploy of `kind` is inside its first step (journalled `started`), as a person would watch it."""
    import time

    from mnops_assets.engine.state import StateStore

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state_db.exists():
            store = StateStore(f"sqlite:///{state_db}")
            try:
                running = [d for d in store.deploys("dev") if d["kind"] == kind and d["status"] == "running"]
                if running and store.journal_of(running[-1]["id"]):
                    return
            finally:
                store.close()
        time.sleep(0.2)
    raise AssertionError(f"no {kind} reached its first step")


@pytest.mark.parametrize(("command", "signum"), [("destroy", signal.SIGINT), ("deploy", signal.SIGTERM)])
def test_a_signal_during_a_step_leaves_no_running_deploy_and_no_lock(tmp_path, command, signum):
    from mnops_assets.engine.state import StateStore

    estate = write_estate(tmp_path, V1)
    assert mnops(estate, "deploy", "dev").returncode == 0
    (estate / "platform-cloud/dev/platform.yaml").write_text(V2)
    env = {**os.environ, "MNOPS_HOME": str(tmp_path / ".mnops"), "MNOPS_FAILPOINTS": "before:1=sleep:600"}
    env.pop("MNOPS_STATE_URL", None)
    extra = ["--direct"] if command == "deploy" else ["--force"]
    argv = [sys.executable, "-m", "mnops_assets", command, "dev", *extra, "--estate", str(estate)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        running_step(tmp_path / ".mnops" / "state.db", command)
        process.send_signal(signum)
        process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode != 0
    store = StateStore(f"sqlite:///{tmp_path / '.mnops' / 'state.db'}")
    try:
        last = store.deploys("dev")[-1]
        assert (last["kind"], last["status"]) == (command, "interrupted")
        assert store.lock_of("dev") is None
    finally:
        store.close()
    events = json.loads(mnops(estate, "audit", "list", "dev", "--format", "json").stdout)["events"]
    assert events[-1]["type"] == f"io.mnops.{command}.interrupted"
    assert mnops(estate, "deploy", "dev").returncode == 0  # and nothing stands in the next one's way
