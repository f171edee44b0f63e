"""Plan and apply on the real local provider: versions, no-op plans, deletes last, rollback on failure at every step,
locking, destroy order, drift, hooks and the governance gate. Runs on SQLite and PostgreSQL state alike."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from adapters.base import Observed
from adapters.local.adapter import LocalAdapter
from mnops_assets.engine import audit, hooks
from mnops_assets.engine.apply import Engine, Failpoints
from mnops_assets.engine.errors import (
    DeployFailed,
    GovernanceRefused,
    LeaseLost,
    PlatformLocked,
    ProtectedPlatform,
    UnknownVersion,
)
from mnops_assets.engine.hooks import HookFailed
from mnops_assets.engine.plan import Action, desired_resources
from mnops_assets.engine.state import Actor
from mnops_assets.estate.spec import PlatformSpec
from tests.mnops_assets.engine.platforms import BASE, MASTER_KEY, spec


@pytest.fixture
def adapter(tmp_path):
    local = LocalAdapter(root=tmp_path / "local", master_key=MASTER_KEY)
    yield local
    for platform in ("dev", "prod"):
        for observed in local.observe(platform).values():
            local.driver(observed.contract).delete(observed)
    local.close()


@pytest.fixture
def engine(store, adapter, tmp_path):
    return Engine(
        store, lambda provider: adapter, actor=Actor("tester", "host-t", 1), failpoints=Failpoints(), hooks_cwd=tmp_path
    )


def test_first_deploy_creates_everything_and_records_version_1(engine, adapter):
    result = engine.deploy(spec())
    assert [s.action for s in result.plan.steps] == [Action.CREATE] * 4
    assert [s.name for s in result.plan.steps].index("app-logs") == 3  # after what it depends on
    assert result.version.version == 1 and result.version.config_hash == spec().config_hash()
    assert set(adapter.observe("dev")) == {"assets", "jobs", "api-key", "app-logs"}
    assert all(report.healthy for report in result.health.values())
    assert set(engine.store.resources("dev")) == {"assets", "jobs", "api-key", "app-logs"}
    [version] = engine.store.versions("dev")
    assert version.contracts["jobs"] == "queue/v1" and version.created_by == "tester" and version.host == "host-t"


def test_an_unchanged_redeploy_writes_nothing(engine, adapter, monkeypatch):
    engine.deploy(spec())
    writes = []
    for driver in adapter.drivers.values():
        for method in ("create", "update", "delete"):
            original = getattr(driver, method)
            monkeypatch.setattr(driver, method, lambda *a, _m=method, _o=original: writes.append(_m) or _o(*a))
    seqs = len(audit.records(engine.store))
    deploys = len(engine.store.deploys("dev"))
    result = engine.deploy(spec())
    assert not result.changed and result.version is None
    assert len(audit.records(engine.store)) == seqs and len(engine.store.deploys("dev")) == deploys
    assert len(engine.store.versions("dev")) == 1
    assert writes == []  # the real planner, through the real adapter: not one provider write
    engine.deploy(spec({"resources.jobs.retention_seconds": 600}))
    assert writes == ["update"]  # and the count does see writes


def test_a_changed_value_plans_exactly_that_change(engine):
    engine.deploy(spec())
    plan = engine.plan(spec({"resources.jobs.retention_seconds": 3600}))
    [step] = plan.steps
    assert (step.action, step.name, step.reason) == (Action.UPDATE, "jobs", "changed in YAML")
    assert [(c.field, c.before, c.after, c.cause) for c in step.changes] == [
        ("retention_seconds", 86400, 3600, "config")
    ]
    result = engine.deploy(spec({"resources.jobs.retention_seconds": 3600}))
    assert result.version.version == 2
    assert engine.plan(spec({"resources.jobs.retention_seconds": 3600})).steps == ()


def test_a_resource_no_longer_declared_is_deleted_last(engine, adapter):
    engine.deploy(spec())
    changed = copy.deepcopy(BASE)
    del changed["resources"]["assets"]
    changed["resources"]["app-logs"]["depends_on"] = ["jobs"]
    changed["resources"]["cache"] = {"contract": "storage/v1"}
    result = engine.deploy(PlatformSpec.model_validate(changed))
    assert [(s.action, s.name) for s in result.plan.steps][-1] == (Action.DELETE, "assets")
    journal = engine.store.journal_of(result.deploy_id)
    assert [j["resource"] for j in journal if j["phase"] == "done"][-1] == "assets"
    assert "assets" not in adapter.observe("dev") and "assets" not in engine.store.resources("dev")


def v2_spec() -> PlatformSpec:
    """A second version whose plan has every kind of step: update, update, create, delete (4 steps)."""
    data = copy.deepcopy(BASE)
    data["resources"]["jobs"]["retention_seconds"] = 3600
    data["tags"]["release"] = "two"
    del data["resources"]["api-key"]
    data["resources"]["cache"] = {"contract": "storage/v1"}
    return PlatformSpec.model_validate(data)


def fingerprint(adapter, *, values: bool = True) -> dict:
    """Each resource's contract, fields and tags; `values=False` leaves out secret value hashes."""
    return {
        name: (o.contract, {k: v for k, v in o.fields.items() if values or k != "value_hmac"}, dict(o.tags))
        for name, o in sorted(adapter.observe("dev").items())
    }


def fingerprint_of(found: dict, *, values: bool) -> dict:
    return {n: (c, {k: v for k, v in f.items() if values or k != "value_hmac"}, t) for n, (c, f, t) in found.items()}


def test_the_v2_plan_has_several_kinds_of_step(engine):
    engine.deploy(spec())
    steps = [(s.action, s.name) for s in engine.plan(v2_spec()).steps]
    assert steps == [
        (Action.UPDATE, "assets"),  # the new platform tag
        (Action.UPDATE, "jobs"),
        (Action.UPDATE, "app-logs"),
        (Action.CREATE, "cache"),
        (Action.DELETE, "api-key"),
    ]


@pytest.mark.parametrize("moment", ["before", "after"])
@pytest.mark.parametrize("step", range(1, 6))
def test_a_failure_at_any_step_rolls_back_to_the_last_good_version(engine, adapter, step, moment):
    engine.deploy(spec())
    good = fingerprint(adapter)
    steps = engine.plan(v2_spec()).steps
    engine.failpoints = Failpoints.parse(f"{moment}:{step}=fail")
    with pytest.raises(DeployFailed, match=f"injected failure {moment} step {step}.*rolled back"):
        engine.deploy(v2_spec())
    # Deletes run last so that a failure before them loses nothing. A failure after a delete brings the resource
    # back, but not its data: a generated secret gets a new value.
    deleted_already = steps[step - 1].action is Action.DELETE and moment == "after"
    assert fingerprint(adapter, values=not deleted_already) == fingerprint_of(good, values=not deleted_already)
    assert [v.version for v in engine.store.versions("dev")] == [1]
    assert engine.store.deploys("dev")[-1]["status"] == "rolled-back"
    types = [r.type for r in audit.records(engine.store, "dev")]
    failed_at = types.index("io.mnops.deploy.failed")
    assert types[-1] == "io.mnops.undo.succeeded"
    assert set(types[failed_at + 1 : -1]) <= {"io.mnops.step.update", "io.mnops.step.create", "io.mnops.step.delete"}
    engine.failpoints = Failpoints()
    assert engine.deploy(v2_spec()).version.version == 2


def test_a_failed_first_deploy_leaves_nothing(engine, adapter):
    engine.failpoints = Failpoints.parse("after:3=fail")
    with pytest.raises(DeployFailed):
        engine.deploy(spec())
    assert adapter.observe("dev") == {} and engine.store.resources("dev") == {}
    assert engine.store.versions("dev") == []


def test_a_second_concurrent_deploy_fails_at_once(engine, monkeypatch):
    engine.store.try_lock("dev", "someone-else", Actor("bob", engine.actor.host, _live_pid()))
    attempts = []
    try_lock = engine.store.try_lock
    monkeypatch.setattr(engine.store, "try_lock", lambda *a: attempts.append(a[1]) or try_lock(*a))
    with pytest.raises(PlatformLocked, match=r"platform 'dev' is being changed by bob@host-t"):
        engine.deploy(spec())
    assert len(attempts) == 1  # asked once and gave up: it did not wait for the lock
    assert engine.store.lock_of("dev").deploy_id == "someone-else" and engine.store.deploys("dev") == []


def test_wait_waits_for_the_other_deploy(engine):
    engine.store.try_lock("dev", "someone-else", Actor("bob", engine.actor.host, _live_pid()))
    threading.Timer(0.5, engine.store.release_lock, ("dev", "someone-else")).start()
    assert engine.deploy(spec(), wait=True).version.version == 1


def test_a_lock_whose_lease_ran_out_is_broken_and_its_deploy_marked_crashed(engine):
    engine.store.start_deploy("crashed-deploy", "dev", "deploy", "h", engine.actor)
    engine.store.try_lock("dev", "crashed-deploy", Actor("tester", "another-host", 4242), lease_seconds=0)
    assert engine.deploy(spec()).version.version == 1
    statuses = {d["id"]: d["status"] for d in engine.store.deploys("dev")}
    assert statuses["crashed-deploy"] == "crashed"
    [crashed] = [r for r in audit.records(engine.store, "dev") if r.type == "io.mnops.deploy.crashed"]
    assert crashed.event["data"]["deploy_id"] == "crashed-deploy"


def test_a_fresh_lease_holds_whatever_its_host_and_pid_say(engine):
    """A deploy in another PID namespace on this host shows a pid this process cannot see (or a dead one's): its
    lease, renewed, is what says it lives."""
    someone = Actor("tester", engine.actor.host, _dead_pid())
    engine.store.start_deploy("in-a-container", "dev", "deploy", "h", someone)
    engine.store.try_lock("dev", "in-a-container", someone)
    with pytest.raises(PlatformLocked, match=r"its lease renewed until 20"):
        engine.deploy(spec())
    assert engine.store.lock_of("dev").deploy_id == "in-a-container"
    assert [d["status"] for d in engine.store.deploys("dev")] == ["running"]


def test_the_holder_renews_its_lease_while_it_works(engine, adapter):
    """A deploy longer than its lease keeps its lock: another deploy started meanwhile is refused, not let in."""
    engine.lease_seconds = 0.6
    engine.failpoints = Failpoints.parse("after:1=sleep:1.5")
    other = Engine(engine.store, lambda _: adapter, actor=Actor("bob", "other-host", 4242), lease_seconds=0.6)
    refused: list[BaseException] = []

    def meanwhile() -> None:
        while engine.store.lock_of("dev") is None:
            time.sleep(0.05)
        time.sleep(1.0)  # longer than the lease: only renewals keep it fresh
        try:
            other.deploy(spec())
        except PlatformLocked as exc:
            refused.append(exc)

    thread = threading.Thread(target=meanwhile)
    thread.start()
    try:
        assert engine.deploy(spec()).version.version == 1
    finally:
        thread.join()
    assert len(refused) == 1 and refused[0].holder == str(engine.actor)
    assert "io.mnops.deploy.crashed" not in [r.type for r in audit.records(engine.store, "dev")]
    assert engine.store.lock_of("dev") is None


def test_a_holder_whose_lock_was_broken_stops_before_its_next_step(engine, adapter):
    engine.failpoints = Failpoints.parse("after:1=sleep:0.8")
    engine.lease_seconds = 0.3
    broken: list[object] = []

    def break_it() -> None:
        while not [d for d in engine.store.deploys("dev") if engine.store.journal_of(d["id"])]:
            time.sleep(0.05)
        broken.append(engine.unlock("dev", force=True))

    thread = threading.Thread(target=break_it)
    thread.start()
    with pytest.raises(LeaseLost, match=r"the lock of deploy .* was broken by someone else"):
        engine.deploy(spec())
    thread.join()
    assert broken and broken[0] is not None
    # No rollback behind the back of whoever holds the platform now: the next deploy converges.
    [deploy] = engine.store.deploys("dev")
    assert deploy["status"] == "failed" and [j["step"] for j in engine.store.journal_of(deploy["id"])] == [1, 1]
    assert engine.deploy(spec()).version.version == 1


def test_rollback_returns_to_an_earlier_version_as_a_new_one(engine, adapter):
    engine.deploy(spec())
    first = fingerprint(adapter)
    engine.deploy(v2_spec())
    result = engine.rollback(v2_spec())
    assert result.version.version == 3 and result.version.note == "rollback to version 1"
    assert result.version.config_hash == spec().config_hash()
    # api-key was deleted by version 2: version 1's resources are all back, but the generated value is a new one.
    assert fingerprint(adapter, values=False) == fingerprint_of(first, values=False)
    assert engine.rollback(v2_spec(), to=2).version.version == 4
    with pytest.raises(UnknownVersion, match=r"no version 9 \(applied versions: 1, 2, 3, 4\)"):
        engine.rollback(v2_spec(), to=9)


def test_destroy_goes_dependents_first_and_respects_protect(engine, adapter):
    engine.deploy(spec())
    with pytest.raises(ProtectedPlatform):
        engine.destroy(spec(protect=True))
    result = engine.destroy(spec(protect=True), force=True)
    names = [s.name for s in result.plan.steps]
    assert names.index("app-logs") < names.index("assets") and names.index("app-logs") < names.index("jobs")
    assert adapter.observe("dev") == {} and engine.store.resources("dev") == {}
    assert engine.store.latest_version("dev").note == "destroyed"


def test_drift_is_found_and_muted_fields_stay_muted(engine, adapter):
    engine.deploy(spec(drift={"ignore": ["app-logs.retention_days"]}))
    logs = adapter.observe("dev")["app-logs"]
    jobs = adapter.observe("dev")["jobs"]
    # Changes made behind the engine's back, with the provider's own driver:
    adapter.driver("logging/v1").update(
        desired_resources(spec({"resources.app-logs.retention_days": 3}))["app-logs"], logs
    )
    adapter.driver("queue/v1").update(desired_resources(spec({"resources.jobs.retention_seconds": 120}))["jobs"], jobs)
    drifted = engine.drift(spec(drift={"ignore": ["app-logs.retention_days"]}))
    assert [(s.name, [(c.field, c.before, c.after) for c in s.changes]) for s in drifted] == [
        ("jobs", [("retention_seconds", 120, 86400)])
    ]
    assert "io.mnops.drift.detected" in [r.type for r in audit.records(engine.store, "dev")]


def test_a_failing_pre_apply_hook_changes_nothing_and_is_audited(engine, adapter, tmp_path, monkeypatch):
    monkeypatch.setenv("MNOPS_MASTER_KEY", MASTER_KEY)
    script = "import os, sys; print('window closed; key', os.environ.get('MNOPS_MASTER_KEY')); sys.exit(1)"
    hooks = {"change-window": {"events": ["pre-apply"], "command": ["python", "-c", script]}}
    engine.hooks.log_dir = tmp_path / "hooks"
    with pytest.raises(HookFailed, match=r"change-window: exit code 1 \(output in .*change-window.log\)") as info:
        engine.deploy(spec(hooks=hooks))
    log = next((tmp_path / "hooks" / "dev").glob("*.log"))
    assert log.read_text() == "window closed; key None\n"  # the master key is withheld from hooks
    assert oct(log.stat().st_mode & 0o777) == "0o600" and "window closed" not in str(info.value)
    assert adapter.observe("dev") == {}
    [event] = [r.event for r in audit.records(engine.store, "dev") if r.type == "io.mnops.hook.failed"]
    assert event["data"]["hook"] == "change-window" and event["data"]["exit_code"] == 1


def test_post_apply_hooks_get_the_event_as_json(engine, tmp_path):
    out = tmp_path / "events.jsonl"
    script = f"import sys; open({str(out)!r}, 'a').write(sys.stdin.read() + '\\n')"
    hooks = {"record": {"events": ["post-apply", "pre-apply"], "command": ["python", "-c", script]}}
    engine.deploy(spec(hooks=hooks))
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["event"] for e in events] == ["pre-apply", "post-apply"]
    assert events[1]["platform"] == "dev" and events[1]["version"] == 1


def test_a_hook_that_overruns_its_time_limit_is_killed(engine, tmp_path):
    import os

    pid_file = tmp_path / "hook.pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    hooks = {"slow": {"events": ["pre-plan"], "command": ["python", "-c", script], "timeout_seconds": 3}}
    with pytest.raises(HookFailed, match="timed out after 3 s"):
        engine.deploy(spec(hooks=hooks))
    assert pid_file.exists()  # it did start
    with pytest.raises(ProcessLookupError):  # and was killed and reaped, not left sleeping
        os.kill(int(pid_file.read_text()), 0)


def test_python_hooks_are_called_with_the_event(engine, tmp_path):
    (tmp_path / "my_hooks.py").write_text("def refuse(event):\n    return event['platform'] != 'dev'\n")
    with pytest.raises(HookFailed, match="refuse: exit code 1"):
        engine.deploy(spec(hooks={"refuse": {"events": ["pre-apply"], "python": "my_hooks:refuse"}}))


def test_the_governance_gate_refuses_before_anything_changes(engine, adapter):
    engine.gate = lambda s: ["GL-TAG-001 error dev: missing tag cost-center (platform.yaml:4)"]
    with pytest.raises(GovernanceRefused, match="GL-TAG-001"):
        engine.deploy(spec())
    assert adapter.observe("dev") == {}
    assert [r.type for r in audit.records(engine.store, "dev")] == ["io.mnops.governance.refused"]


# -- helpers ----------------------------------------------------------------------------------------------------------


def _live_pid() -> int:
    import os

    return os.getpid()


def _dead_pid() -> int:
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_damaged_resource_is_drift_and_the_next_deploy_repairs_it(engine, adapter):
    engine.deploy(spec())
    logs = adapter.observe("dev")["app-logs"]
    (Path(logs.resource_id) / "metadata.json").write_text("{ not json")
    [step] = engine.drift(spec())
    assert step.name == "app-logs" and step.reason.startswith("damaged outside mnops: no readable metadata")
    result = engine.deploy(spec())
    assert [(s.action, s.name) for s in result.plan.steps] == [(Action.UPDATE, "app-logs")]
    assert adapter.observe("dev")["app-logs"].problem is None and engine.drift(spec()) == []


def test_a_secret_that_changes_restarts_the_services_reading_it(engine, adapter, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "first-value")
    data = copy.deepcopy(BASE)
    data["resources"]["db-password"] = {"contract": "secrets/v1", "from": "env:DB_PASSWORD"}
    data["resources"]["api"] = {
        "contract": "compute/v1",
        "command": ["python", "-c", "import time; time.sleep(600)"],
        "env": {"DB_PASSWORD": "secret:db-password"},
    }
    with_service = PlatformSpec.model_validate(data)
    engine.deploy(with_service)
    pid_file = next((Path(adapter.observe("dev")["api"].resource_id)).glob("replica-0.pid"))
    before = pid_file.read_text()
    monkeypatch.setenv("DB_PASSWORD", "second-value")
    plan = engine.plan(with_service)
    assert [(s.action, s.name, s.reason) for s in plan.steps] == [
        (Action.UPDATE, "db-password", "changed in YAML"),
        (Action.UPDATE, "api", "restarts to read the new value of db-password"),
    ]
    engine.deploy(with_service)
    assert pid_file.read_text() != before


def test_a_service_whose_processes_died_is_drift_and_is_restarted(engine, adapter):
    import os
    import signal

    data = copy.deepcopy(BASE)
    data["resources"]["api"] = {"contract": "compute/v1", "command": ["python", "-c", "import time; time.sleep(600)"]}
    with_service = PlatformSpec.model_validate(data)
    engine.deploy(with_service)
    folder = Path(adapter.observe("dev")["api"].resource_id)
    os.kill(int((folder / "supervisor.pid").read_text()), signal.SIGKILL)  # its replicas die with it
    time.sleep(0.3)
    [step] = engine.drift(with_service)
    assert step.name == "api" and "supervisor is not running" in step.reason
    engine.deploy(with_service)
    assert engine.drift(with_service) == [] and all(r.healthy for r in engine.health(with_service).values())


def test_a_protected_platform_loses_nothing_without_force(engine, adapter):
    from mnops_assets.engine.errors import DestructiveChangeRefused

    engine.deploy(spec(protect=True))
    smaller = copy.deepcopy(BASE) | {"protect": True}
    del smaller["resources"]["api-key"]
    with pytest.raises(DestructiveChangeRefused, match="would delete api-key; nothing was changed"):
        engine.deploy(PlatformSpec.model_validate(smaller))
    assert "api-key" in adapter.observe("dev")
    engine.deploy(PlatformSpec.model_validate(smaller), force=True)
    assert "api-key" not in adapter.observe("dev")


class LaggingAdapter(LocalAdapter):
    """A provider whose listings lag behind its resources, as AWS's tagging API may: `observe` shows the queue as it
    was (`stale`), while a direct read (`find`) shows it as it is."""

    stale: Observed | None = None

    def observe(self, platform: str) -> dict[str, Observed]:
        found = super().observe(platform)
        if self.stale is not None and platform == self.stale.key.platform:
            found[self.stale.key.name] = self.stale
        return found


def test_drift_a_direct_read_no_longer_shows_is_not_drift(store, tmp_path):
    lagging = LaggingAdapter(root=tmp_path / "local", master_key=MASTER_KEY)
    engine = Engine(store, lambda provider: lagging, actor=Actor("tester", "host-t", 1), failpoints=Failpoints())
    try:
        engine.deploy(spec())
        jobs = lagging.observe("dev")["jobs"]
        lagging.stale = dataclasses.replace(jobs, fields={**jobs.fields, "retention_seconds": 120})
        assert engine.drift(spec()) == []
        # Drift that a direct read confirms is reported, from what that read shows.
        lagging.stale = None
        shorter = desired_resources(spec({"resources.jobs.retention_seconds": 60}))["jobs"]
        lagging.driver("queue/v1").update(shorter, jobs)
        lagging.stale = dataclasses.replace(jobs, fields={**jobs.fields, "retention_seconds": 120})
        [step] = engine.drift(spec())
        assert [(c.field, c.before, c.after) for c in step.changes] == [("retention_seconds", 60, 86400)]
    finally:
        for observed in LocalAdapter.observe(lagging, "dev").values():
            lagging.driver(observed.contract).delete(observed)
        lagging.close()


def test_a_rollback_to_a_version_that_is_down_reports_failure_not_recovery(engine, adapter, tmp_path):
    """The last good version converged back is no recovery if it does not pass its health checks again."""
    broken = tmp_path / "dependency-gone"
    script = f"import os, sys, time; sys.exit(3) if os.path.exists({str(broken)!r}) else time.sleep(600)"
    data = copy.deepcopy(BASE)
    data["resources"]["api"] = {
        "contract": "compute/v1",
        "command": ["python", "-c", script],
        "health": {"timeout_seconds": 1},
    }
    engine.deploy(PlatformSpec.model_validate(data))
    broken.touch()  # what v1 runs on went away: v1 itself can no longer come up
    data["resources"]["api"]["env"] = {"RELEASE": "two"}
    down = r"ROLLBACK FAILED: converged back to config \w+, but the platform is not healthy: .* after rolling back: api"
    with pytest.raises(DeployFailed, match=down) as failed:
        engine.deploy(PlatformSpec.model_validate(data))
    assert failed.value.rolled_back is False
    deploys = engine.store.deploys("dev")
    assert deploys[-1]["status"] == "failed" and "not healthy" in deploys[-1]["error"]
    kinds = [r.type.removeprefix("io.mnops.") for r in audit.records(engine.store, "dev")]
    assert kinds[-2:] == ["step.update", "undo.failed"] and "undo.succeeded" not in kinds


def test_hooks_see_only_the_allowlisted_environment(engine, tmp_path, monkeypatch):
    # What a deployer's shell may hold: both keys, the state URL, cloud credentials, another platform's `env:` secret.
    leaks = {
        "MNOPS_MASTER_KEY": MASTER_KEY,
        "MNOPS_AUDIT_KEY": "ab" * 32,
        "MNOPS_STATE_URL": "postgresql://admin:pw@db/state",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
        "PROD_DB_PASSWORD": "prod-secret-value",
        "GITHUB_TOKEN": "ghp-value",
        "PYTHONPATH": "/somewhere",
    }
    for name, value in leaks.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TZ", "UTC")
    out = tmp_path / "hook-env.json"
    script = f"import json, os; open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))"
    other = spec(name="prod", resources={"db-password": {"contract": "secrets/v1", "from": "env:PROD_DB_PASSWORD"}})
    assert "PROD_DB_PASSWORD" in other.resources["db-password"].environment_sources()
    # The interpreter itself, not a shim (pyenv's adds its own variables on the way).
    engine.deploy(spec(hooks={"env": {"events": ["pre-plan"], "command": [sys.executable, "-c", script]}}))
    seen = json.loads(out.read_text())
    # Python may add LC_CTYPE (locale coercion); nothing else gets in.
    assert set(seen) - {"LC_CTYPE"} <= set(hooks.HOOK_ENV) and {"PATH", "TZ"} <= set(seen)
    assert not any(value in json.dumps(seen) for value in leaks.values())
