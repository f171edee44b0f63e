"""compute/v1 on the local provider: real supervised processes, secrets in their environment only, nothing left
behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from adapters.base import AdapterError, ResourceKey
from adapters.local import compute as compute_driver
from adapters.local import processes as procs
from adapters.local import testing
from adapters.local.adapter import LocalAdapter
from tests.faults.inject import fill

KEY = ResourceKey("dev", "api")
SERVER = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
VALUE = "tok-3d1f8c2e-the-secret-itself"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def service(**fields):
    return {"contract": "compute/v1", "command": SERVER, **fields}


def eventually(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def proc_file(pid, name):
    with open(f"/proc/{pid}/{name}", "rb") as f:
        return f.read()


def folder_of(adapter):
    return adapter.root / "compute" / "dev" / "api"


def test_each_replica_gets_its_own_port_and_answers(adapter, desired):
    observed = adapter.compute.create(desired("api", service(replicas=2, health={"http": "/", "timeout_seconds": 10})))
    assert adapter.compute.health(observed).healthy
    ports = json.loads((folder_of(adapter) / "service.json").read_text())["ports"]
    assert len(set(ports)) == 2
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
    running = adapter.compute.running(KEY)
    assert running["supervisor"] is not None and None not in running["replicas"].values()
    assert len(running["replicas"]) == 2
    assert observed.fields["command"] == SERVER, "observe reports the command as declared, `{port}` included"


def test_a_secret_reaches_the_replicas_environment_and_nothing_else(adapter, desired, monkeypatch):
    monkeypatch.setenv("DEPLOYER_TOKEN", VALUE)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-deployers-own-credential")
    adapter.secrets.create(desired("api-key", {"contract": "secrets/v1", "from": "env:DEPLOYER_TOKEN"}))
    script = (
        "import hashlib, os, pathlib, time\n"
        "seen = hashlib.sha256(os.environ['TOKEN'].encode()).hexdigest()\n"
        "pathlib.Path('seen').write_text(' '.join([seen, os.environ['PLAIN'], os.getcwd(),"
        " str('AWS_SECRET_ACCESS_KEY' in os.environ)]))\n"
        "time.sleep(600)\n"
    )
    observed = adapter.compute.create(
        desired("api", service(command=python(script), env={"TOKEN": "secret:api-key", "PLAIN": "visible"}))
    )
    folder = folder_of(adapter)
    assert eventually(lambda: (folder / "seen").exists())
    digest, plain, cwd, leaked = (folder / "seen").read_text().split(" ")
    assert digest == hashlib.sha256(VALUE.encode()).hexdigest()
    assert (plain, cwd, leaked) == ("visible", str(folder), "False")
    assert observed.fields["env"] == {"TOKEN": "secret:api-key", "PLAIN": "visible"}
    # Everywhere but the replica's own environment: files under the root, the supervisor's environment and command
    # line, the observation.
    for directory, _, names in os.walk(adapter.root):
        for name in names:
            with open(os.path.join(directory, name), "rb") as f:
                assert VALUE.encode() not in f.read(), os.path.join(directory, name)
    running = adapter.compute.running(KEY)
    for place in ("environ", "cmdline"):
        assert VALUE.encode() not in proc_file(running["supervisor"], place)
    assert f"TOKEN={VALUE}".encode() in proc_file(running["replicas"][0], "environ")
    assert VALUE not in repr(observed)


def test_a_replica_that_exits_is_restarted(adapter, desired):
    observed = adapter.compute.create(desired("api", service(health={"http": "/", "timeout_seconds": 10})))
    assert adapter.compute.health(observed).healthy
    first = adapter.compute.running(KEY)["replicas"][0]
    os.kill(first, signal.SIGKILL)
    assert eventually(lambda: adapter.compute.running(KEY)["replicas"].get(0) not in (None, first))
    assert adapter.compute.health(observed).healthy
    status = json.loads((folder_of(adapter) / "status.json").read_text())
    assert status["replicas"][0]["restarts"] == 1
    assert status["replicas"][0]["last_exit"] == -signal.SIGKILL


def test_a_crashing_replica_is_restarted_with_backoff(adapter, desired):
    observed = adapter.compute.create(
        desired("api", service(command=python("import sys; sys.exit(3)"), health={"timeout_seconds": 1}))
    )
    time.sleep(1.6)
    restarts = json.loads((folder_of(adapter) / "status.json").read_text())["replicas"][0]["restarts"]
    # 0.1 + 0.2 + 0.4 + 0.8 s of backoff fit in 1.6 s, give or take a start; without backoff it would be dozens.
    assert 2 <= restarts <= 6, restarts
    assert not adapter.compute.health(observed).healthy


def test_sigterm_to_the_supervisor_stops_every_replica(adapter, desired):
    adapter.compute.create(desired("api", service(replicas=2)))
    assert eventually(lambda: None not in adapter.compute.running(KEY)["replicas"].values())
    running = adapter.compute.running(KEY)
    os.kill(running["supervisor"], signal.SIGTERM)
    assert procs.wait_gone([running["supervisor"], *running["replicas"].values()], 5) == []
    assert not list(folder_of(adapter).glob("replica-*.pid"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_replicas_do_not_outlive_a_killed_supervisor(adapter, desired):
    adapter.compute.create(desired("api", service(replicas=2)))
    assert eventually(lambda: None not in adapter.compute.running(KEY)["replicas"].values())
    running = adapter.compute.running(KEY)
    os.kill(running["supervisor"], signal.SIGKILL)
    assert procs.wait_gone(running["replicas"].values(), 5) == []


def test_delete_stops_stubborn_processes_and_what_they_forked(tmp_path, master_key, desired):
    adapter = LocalAdapter(tmp_path / "root", master_key, stop_grace_seconds=0.3)
    stubborn = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "code = 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'\n"
        # A helper in a session of its own: out of the replica's process group, found by its marker.
        "subprocess.Popen([sys.executable, '-c', code], start_new_session=True)\n"
        "time.sleep(600)\n"
    )
    observed = adapter.compute.create(desired("api", service(command=python(stubborn))))
    folder = folder_of(adapter)
    assert eventually(lambda: len(procs.processes_under(folder)) >= 3)
    adapter.compute.delete(observed)
    assert procs.processes_under(adapter.root) == []
    assert not folder.exists()


def test_health_without_http_means_every_replica_is_alive(adapter, desired):
    observed = adapter.compute.create(
        desired("api", service(command=python("import time; time.sleep(600)"), replicas=2))
    )
    assert adapter.compute.health(observed).healthy
    for pid in adapter.compute.running(KEY)["replicas"].values():
        os.kill(pid, signal.SIGSTOP)  # alive, just not scheduled: still "alive" for a process check
    assert adapter.compute.health(observed).healthy


def test_health_gives_up_at_once_when_the_supervisor_is_gone(adapter, desired, monkeypatch):
    observed = adapter.compute.create(desired("api", service(health={"http": "/", "timeout_seconds": 60})))
    assert adapter.compute.health(observed).healthy
    testing.break_resource(adapter, observed)
    # Waiting out the 60 s timeout means rounds of checks with a pause between them: giving up at once is one round,
    # so no pause at all.
    pauses = []
    monkeypatch.setattr(compute_driver.time, "sleep", pauses.append)
    report = adapter.compute.health(observed)
    assert not report.healthy and "supervisor is stopped" in report.detail
    assert pauses == []


def test_an_update_restarts_with_the_new_settings(adapter, desired):
    observed = adapter.compute.create(desired("api", service(env={"MODE": "a"})))
    assert eventually(lambda: adapter.compute.running(KEY)["replicas"].get(0))
    before = adapter.compute.running(KEY)
    updated = adapter.compute.update(desired("api", service(env={"MODE": "b"}, replicas=3)), observed)
    assert eventually(lambda: len([p for p in adapter.compute.running(KEY)["replicas"].values() if p]) == 3)
    after = adapter.compute.running(KEY)
    assert after["supervisor"] != before["supervisor"]
    assert before["replicas"][0] not in after["replicas"].values()
    assert procs.wait_gone([before["supervisor"], before["replicas"][0]], 2) == []
    pid = after["replicas"][0]
    assert b"MODE=b" in proc_file(pid, "environ")
    assert updated.fields["replicas"] == 3


def test_an_update_of_tags_or_recorded_fields_does_not_restart(adapter, desired):
    observed = adapter.compute.create(desired("api", service()))
    assert eventually(lambda: adapter.compute.running(KEY)["replicas"].get(0))
    before = adapter.compute.running(KEY)
    adapter.compute.update(desired("api", service(cpu=2.0, memory_mb=2048), tags={"team": "new"}), observed)
    assert adapter.compute.running(KEY) == before
    assert adapter.compute.observe("dev")[0].tags["team"] == "new"


def test_an_update_brings_a_dead_service_back(adapter, desired):
    wanted = desired("api", service(health={"http": "/", "timeout_seconds": 10}))
    observed = adapter.compute.create(wanted)
    os.kill(adapter.compute.running(KEY)["supervisor"], signal.SIGKILL)
    assert not adapter.compute.health(observed).healthy
    adapter.compute.update(wanted, observed)
    assert adapter.compute.health(observed).healthy


def test_output_goes_to_log_files_in_the_service_folder(adapter, desired):
    chatty = "import sys, time; print('hello out', flush=True); print('hello err', file=sys.stderr); time.sleep(600)"
    adapter.compute.create(desired("api", service(command=python(chatty))))
    folder = folder_of(adapter)
    assert eventually(lambda: b"hello out" in (folder / "replica-0.out.log").read_bytes())
    assert eventually(lambda: b"hello err" in (folder / "replica-0.err.log").read_bytes())
    assert b"replica 0 started" in (folder / "supervisor.log").read_bytes()
    for log in ("replica-0.out.log", "replica-0.err.log", "supervisor.log"):
        assert (folder / log).stat().st_mode & 0o777 == 0o600, log  # a service's output is its owner's only


def test_a_replicas_environment_names_no_path_to_the_root_and_no_other_platforms_secret(adapter, desired, monkeypatch):
    # Holds whoever runs mnops: as root the replica also runs under an id of its own (tests/mnops_assets/engine/
    # test_isolation.py); as anyone else this is what stands between a service and the key file.
    monkeypatch.setenv("MNOPS_MASTER_KEY", "not-handed-on")
    monkeypatch.setenv("MNOPS_LOCAL_ROOT", str(adapter.root))
    monkeypatch.setenv("MNOPS_STATE_URL", f"sqlite:///{adapter.root.parent / 'state.db'}")
    adapter.secrets.create(desired("own", {"contract": "secrets/v1", "from": "generate"}))
    adapter.secrets.create(desired("own", {"contract": "secrets/v1", "from": "generate"}, platform="prod"))
    theirs = adapter.secrets.reveal(ResourceKey("prod", "own"))
    mine = adapter.secrets.reveal(ResourceKey("dev", "own"))
    adapter.compute.create(
        desired("api", service(command=python("import time; time.sleep(600)"), env={"OWN": "secret:own"}))
    )
    assert eventually(lambda: adapter.compute.running(KEY)["replicas"].get(0))
    environ = proc_file(adapter.compute.running(KEY)["replicas"][0], "environ")
    assert f"OWN={mine}".encode() in environ and theirs.encode() not in environ
    assert str(adapter.root.parent).encode() not in environ
    names = {item.split(b"=", 1)[0].decode() for item in environ.split(b"\0") if item}
    assert not {"MNOPS_MASTER_KEY", "MNOPS_LOCAL_ROOT", "MNOPS_STATE_URL", "MNOPS_AUDIT_KEY"} & names


def test_an_unknown_command_is_refused_before_anything_starts(adapter, desired):
    with pytest.raises(AdapterError, match="command not found: no-such-program-here") as raised:
        adapter.compute.create(desired("api", service(command=["no-such-program-here"])))
    assert raised.value.key == KEY
    assert procs.processes_under(adapter.root) == []


def test_a_reference_to_a_missing_secret_is_refused(adapter, desired):
    with pytest.raises(AdapterError, match="env TOKEN refers to dev/nope"):
        adapter.compute.create(desired("api", service(env={"TOKEN": "secret:nope"})))


def test_the_guard_finds_a_process_started_under_a_root(tmp_path):
    (tmp_path / "root").mkdir()
    stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], cwd=tmp_path / "root")
    try:
        assert testing.kill_strays(tmp_path) == [stray.pid]
        assert stray.wait(timeout=5) is not None
    finally:
        stray.kill()
        stray.wait()


def test_a_half_created_service_is_found_by_its_marker_and_stopped_on_delete(adapter):
    # What a crash between launching the supervisor and recording its pid leaves: no metadata, no pid, a process.
    folder = folder_of(adapter)
    folder.mkdir(parents=True)
    (folder / "supervisor.pid").write_text("starting\n")
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={**os.environ, procs.MARKER_ENV: procs.token(folder)},
        start_new_session=True,
    )
    try:
        [damaged] = adapter.compute.observe("dev")
        assert damaged.fields == {}
        adapter.compute.delete(damaged)
        assert orphan.wait(timeout=5) is not None
        assert not folder.exists()
    finally:
        orphan.kill()
        orphan.wait()


def test_zero_replicas_runs_no_process_at_all(adapter, desired):
    observed = adapter.compute.create(desired("api", service(replicas=0)))
    assert adapter.compute.running(KEY) == {"supervisor": None, "replicas": {}}
    assert procs.processes_under(adapter.root) == []
    assert adapter.compute.health(observed).healthy
    scaled = adapter.compute.update(desired("api", service(replicas=1)), observed)
    assert eventually(lambda: adapter.compute.running(KEY)["replicas"].get(0))
    adapter.compute.update(desired("api", service(replicas=0)), scaled)
    assert procs.wait_gone(procs.marked(folder_of(adapter)), 5) == []
    assert adapter.compute.running(KEY)["supervisor"] is None


def test_a_full_disk_does_not_stop_the_supervisor_nor_its_healthy_replicas(small_disk, tmp_path, master_key, desired):
    # No tmpfs to fill without root: a status file that cannot be replaced fails its writes the same way.
    root = tmp_path / "root" if small_disk is None else small_disk / "root"
    adapter = LocalAdapter(root, master_key, stop_grace_seconds=1.0)
    try:
        observed = adapter.compute.create(desired("api", service(replicas=2, health={"timeout_seconds": 5})))
        assert eventually(lambda: [*adapter.compute.running(KEY)["replicas"]] == [0, 1])
        assert eventually(lambda: None not in adapter.compute.running(KEY)["replicas"].values())
        before = adapter.compute.running(KEY)
        folder = folder_of(adapter)
        if small_disk is None:
            (folder / "status.json").unlink()
            (folder / "status.json").mkdir()
        else:
            fill(small_disk)
        os.kill(before["replicas"][1], signal.SIGKILL)  # one replica exits: the supervisor writes its status
        # Dead first (SIGKILL takes effect asynchronously), or the count below could include it still dying.
        assert procs.wait_gone([before["replicas"][1]], 5) == []
        assert eventually(lambda: len(procs.processes_under(folder)) == 3)  # the supervisor and two replicas
        assert procs.alive(before["supervisor"]) and procs.alive(before["replicas"][0])
        assert before["replicas"][1] not in procs.processes_under(folder)
        if small_disk is None:
            (folder / "status.json").rmdir()
        else:
            (small_disk / "filler").unlink()
        # Room again: what could not be written is, and the restarted replica is known by its pid file once more.
        assert eventually(lambda: (folder / "status.json").is_file())
        assert eventually(lambda: json.loads((folder / "status.json").read_text())["replicas"][1]["restarts"] == 1)
        after = adapter.compute.running(KEY)
        assert after["supervisor"] == before["supervisor"] and after["replicas"][0] == before["replicas"][0]
        assert after["replicas"][1] not in (None, before["replicas"][1])
        assert adapter.compute.health(observed).healthy
    finally:
        testing.remove_everything(adapter)
        adapter.close()
