"""What `mnops plan` and `mnops drift` print: a changed mapping key by key at the line that set each key, every drifted
instance named above its steps, never-deployed instances said so, a hook-only change as a change; and `mnops unlock`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.local.adapter import LocalAdapter
from mnops_assets.cli import app
from mnops_assets.engine.runtime import open_engine
from mnops_assets.engine.state import Actor
from mnops_assets.estate import load_estate

runner = CliRunner()
TEMPLATE = Path("platform-templates") / "web-service.yaml"


@pytest.fixture
def mnops(estate_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("MNOPS_HOME", str(tmp_path / ".mnops"))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--estate", str(estate_copy)], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    yield run
    runner.invoke(app, ["destroy", "--all", "--force", "--estate", str(estate_copy)])


def set_env(estate: Path, lines: list[str]) -> Path:
    """Replace the web-service template's `env` keys after SESSION_KEY (line 26) with `lines`, from line 27 on."""
    template = estate / TEMPLATE
    text = template.read_text().splitlines()
    end = next(i for i, line in enumerate(text) if line.startswith("    health:"))
    template.write_text("\n".join([*text[:26], *(f"      {line}" for line in lines), *text[end:]]) + "\n")
    return template


def test_a_changed_mapping_key_is_shown_alone_at_the_line_that_set_it(mnops, estate_copy):
    template = set_env(estate_copy, ["LOG_LEVEL: info", "WORKERS: '2'"])
    mnops("deploy", "dev", "--direct")
    set_env(estate_copy, ["LOG_LEVEL: debug", "REGION_HINT: eu"])
    shown = mnops("plan", "dev", code=2).splitlines()
    assert shown[1:] == [
        "  ~ api (compute/v1): changed in YAML",
        f'      env.LOG_LEVEL: "info" -> "debug"   {template}:27',
        f'      env.WORKERS: "2" -> (none)   {template}:24',
        f'      env.REGION_HINT: (none) -> "eu"   {template}:28',
    ]


def test_a_key_removed_by_a_null_points_at_the_null(mnops, estate_copy):
    set_env(estate_copy, ["LOG_LEVEL: info"])
    mnops("deploy", "dev", "--direct")
    platform = estate_copy / "platform-cloud" / "dev" / "platform.yaml"
    text = platform.read_text()
    platform.write_text(text + "  api:\n    env:\n      LOG_LEVEL: null\n")
    line = len(text.splitlines()) + 3
    shown = mnops("plan", "dev", code=2)
    assert f'env.LOG_LEVEL: "info" -> (none)   {platform}:{line}' in shown


def test_drift_names_every_drifted_instance_above_its_steps(mnops, estate_copy, tmp_path):
    mnops("deploy", "dev", "--direct")
    mnops("deploy", "staging", "--direct")
    local = LocalAdapter(root=tmp_path / ".mnops" / "local")
    for name in ("dev", "staging"):
        local.driver("queue/v1").delete(local.observe(name)["jobs"])
    lines = mnops("drift", code=2).splitlines()
    steps = "  + jobs (queue/v1): deleted outside mnops since the last apply"
    assert lines[lines.index("dev: drift from version 1 (1 resource(s))") + 1] == steps
    assert lines[lines.index("staging: drift from version 1 (1 resource(s))") + 1] == steps
    [undeployed] = [line for line in lines if line.endswith(": never deployed (nothing to compare)")]
    listed = undeployed.split(": ")[1].split(", ")
    assert "prod" in listed and "dev" not in listed and "staging" not in listed
    assert "dev: in sync" not in lines
    data = json.loads(runner.invoke(app, ["drift", "-f", "json", "--estate", str(estate_copy)]).stdout)
    status = {row["instance"]: row["status"] for row in data["platforms"]}
    assert status["dev"] == status["staging"] == "drift" and status["prod"] == "never deployed"


def test_drift_of_a_never_deployed_instance_says_so_and_exits_0(mnops):
    assert mnops("drift", "dev").splitlines() == ["dev: never deployed"]


def test_a_hook_only_change_is_a_change_for_plan_and_deploy_alike(mnops, estate_copy):
    mnops("deploy", "dev", "--direct")
    platform = estate_copy / "platform-cloud" / "dev" / "platform.yaml"
    platform.write_text(platform.read_text() + "hooks:\n  notify:\n    events: [post-apply]\n    command: [echo, hi]\n")
    shown = mnops("plan", "dev", code=2)
    assert shown.startswith("dev: no resource changes; the config changed (hooks, or settings no resource holds)")
    data = json.loads(runner.invoke(app, ["plan", "dev", "-f", "json", "--estate", str(estate_copy)]).stdout)
    assert data["changed"] and data["config_changed"] and data["steps"] == []
    mnops("deploy", "dev", "--direct")
    assert [v["version"] for v in json.loads(mnops("history", "dev", "-f", "json"))["versions"]] == [1, 2]
    assert mnops("plan", "dev").startswith("dev: no changes")


def test_plan_takes_an_instance_folder(mnops, estate_copy):
    result = runner.invoke(app, ["plan", str(estate_copy / "platform-cloud" / "dev")], catch_exceptions=False)
    assert result.exit_code == 2 and result.output.startswith("dev: 7 to create")


def test_unlock_refuses_a_fresh_lease_and_breaks_it_with_force(mnops, estate_copy):
    engine = open_engine(load_estate(estate_copy, ["dev"]))
    try:
        engine.store.try_lock("dev", "d-1", Actor("someone", "elsewhere", 4242))
        until = engine.store.lock_of("dev").expires_at
    finally:
        engine.close()
    refused = runner.invoke(app, ["unlock", "dev", "--estate", str(estate_copy)])
    assert refused.exit_code == 1
    assert f"locked by someone@elsewhere (pid 4242) (deploy d-1) with a lease renewed until {until}" in refused.output
    assert "dev: lock of someone@elsewhere (pid 4242) (deploy d-1) broken" in mnops("unlock", "dev", "--force")
    assert "dev: not locked" in mnops("unlock", "dev")
    events = json.loads(mnops("audit", "list", "dev", "--format", "json"))["events"]
    assert [e["type"] for e in events] == ["io.mnops.lock.broken"]
