"""A local service cannot reach what is not its own: a dev service started by mnops (as root, as this machine kind and
CI run it) tries to read the master key, the audit key, the state database, another platform's secret and that
platform's running service, and reports over HTTP what it could read."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from adapters.base import AdapterError, Desired, ResourceKey
from adapters.local import isolation, testing
from adapters.local.adapter import LocalAdapter
from adapters.local.secretstore import VALUE
from contracts.compute.v1 import ComputeV1
from mnops_assets.engine import audit
from mnops_assets.engine.state import StateStore
from tests.mnops_assets.engine.platforms import MASTER_KEY, make_engine, spec

PROBE = """\
import json, os, sys
from http.server import HTTPServer, SimpleHTTPRequestHandler
report = {}
for what, (path, mode) in json.loads(sys.argv[1]).items():
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, mode) as f:
                f.read(1) if "r" in mode and "+" not in mode else f.write(b"")
        report[what] = "done"
    except OSError as exc:
        report[what] = type(exc).__name__
for what, pid in json.loads(sys.argv[2]).items():
    try:
        os.kill(pid, 0)
        report[what] = "done"
    except OSError as exc:
        report[what] = type(exc).__name__
report["own secret"] = "done" if os.environ.get("OWN") else "missing"
report["uid"] = os.getuid()
with open("report.json", "w") as f:
    json.dump(report, f)
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), SimpleHTTPRequestHandler).serve_forever()
"""


def _python_for_services() -> str | None:
    """An interpreter a service's own uid may run (this machine kind keeps the test interpreter under /root, 0700)."""
    candidates = [sys.executable, "/usr/local/bin/python3", "/usr/bin/python3"]
    return next((c for c in candidates if os.path.exists(c) and isolation.runnable_by_anyone(Path(c))), None)


PYTHON = _python_for_services()
pytestmark = [
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="services change uid only under root"),
    pytest.mark.skipif(PYTHON is None, reason="no Python interpreter that an unprivileged user may run"),
]


@pytest.fixture
def home(monkeypatch):
    # Worst case: a home anyone may enter and list (a project checkout), not pytest's private temporary folder.
    folder = Path(tempfile.mkdtemp(prefix="mnops-home-", dir="/tmp"))
    folder.chmod(0o755)
    monkeypatch.delenv(isolation.ISOLATION_ENV, raising=False)
    monkeypatch.delenv("MNOPS_MASTER_KEY", raising=False)
    monkeypatch.delenv("MNOPS_AUDIT_KEY", raising=False)
    yield folder
    testing.kill_strays(folder)
    shutil.rmtree(folder, ignore_errors=True)


def work_of(adapter: LocalAdapter, platform: str, name: str) -> Path:
    metadata = json.loads((adapter.root / "compute" / platform / name / "metadata.json").read_text())
    return isolation.work_folder(isolation.STATE_DIR, metadata["state"]["user"])


def server(port_field: str = "{port}") -> list[str]:
    return [PYTHON, "-m", "http.server", port_field, "--bind", "127.0.0.1"]


def test_a_dev_service_reads_neither_the_keys_nor_the_state_nor_another_platforms_secrets(home):
    adapter = LocalAdapter(root=home / "local", stop_grace_seconds=2.0)  # the master key in <root>/master.key
    store = StateStore(f"sqlite:///{home / 'state.db'}")
    store.audit_key = audit.load_key(home)
    engine = make_engine(store, adapter, home)
    try:
        secret = {"contract": "secrets/v1", "from": "generate"}
        prod_service = {"contract": "compute/v1", "command": server(), "env": {"DB_PASSWORD": "secret:db-password"}}
        engine.deploy(spec(name="prod", resources={"db-password": secret, "api": prod_service}))
        prod_value = adapter.secrets.reveal(ResourceKey("prod", "db-password"))
        [prod_pid] = adapter.compute.running(ResourceKey("prod", "api"))["replicas"].values()
        root = adapter.root
        targets = {
            "master key": [str(root / "master.key"), "rb"],
            "audit key": [str(home / "audit.key"), "rb"],
            "state database": [str(home / "state.db"), "rb"],
            "state database (write)": [str(home / "state.db"), "r+b"],
            "prod secret": [str(root / "secrets" / "prod" / "db-password" / VALUE), "rb"],
            "prod service environment": [f"/proc/{prod_pid}/environ", "rb"],
            "prod service folder": [str(work_of(adapter, "prod", "api")), "rb"],
            "local root": [str(root), "rb"],
        }
        prober = {
            "contract": "compute/v1",
            "command": [PYTHON, "-c", PROBE, json.dumps(targets), json.dumps({"signal prod service": prod_pid})],
            "env": {"OWN": "secret:own"},
            "health": {"http": "/report.json", "timeout_seconds": 15},
        }
        engine.deploy(spec(name="dev", resources={"own": secret, "prober": prober}))  # healthy: the report is served

        folder = root / "compute" / "dev" / "prober"
        port = json.loads((folder / "service.json").read_text())["ports"][0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/report.json", timeout=5) as answer:
            report = json.loads(answer.read())
        uid = report.pop("uid")
        assert report.pop("own secret") == "done"
        assert report == dict.fromkeys([*targets, "signal prod service"], "PermissionError"), report
        # Its own uid, owning its working folder; not root's, not the prod service's.
        assert uid != 0 and work_of(adapter, "dev", "prober").stat().st_uid == uid
        assert Path(f"/proc/{prod_pid}").stat().st_uid not in (0, uid)
        # Nothing in its environment leads to the root, the home, a key or another platform's secret.
        [pid] = adapter.compute.running(ResourceKey("dev", "prober"))["replicas"].values()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        for needle in (str(home), "MNOPS_MASTER_KEY", "MNOPS_AUDIT_KEY", "MNOPS_STATE_URL", prod_value):
            assert needle.encode() not in environ, needle
        assert stat.S_IMODE(root.stat().st_mode) == 0o700 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    finally:
        testing.remove_everything(adapter)
        adapter.close()
        store.close()


def test_a_command_the_services_own_user_cannot_run_is_refused_before_anything_starts(home, tmp_path):
    private = tmp_path / "private"  # 0700, as a home is: closed to a service's own user
    private.mkdir(mode=0o700)
    program = private / "serve"
    program.write_text("#!/bin/sh\nexec sleep 600\n")
    program.chmod(0o755)
    adapter = LocalAdapter(root=home / "local", master_key=MASTER_KEY)
    desired = Desired.build(
        ResourceKey("dev", "api"),
        ComputeV1.model_validate({"contract": "compute/v1", "command": [str(program)]}),
        {},
        "local",
    )
    try:
        with pytest.raises(AdapterError, match="cannot be run by the service's own user"):
            adapter.compute.create(desired)
        assert adapter.compute.running(ResourceKey("dev", "api"))["supervisor"] is None
        number = isolation.allocated(isolation.STATE_DIR, adapter.root, ResourceKey("dev", "api"))
        assert number is None or not isolation.work_folder(isolation.STATE_DIR, number).exists()
    finally:
        testing.remove_everything(adapter)
        adapter.close()
