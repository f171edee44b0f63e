"""compute/v1 on the local provider: `replicas` supervised processes of `command` on this machine.

Each service folder holds `service.json` (what the supervisor runs: command, ports, no secret values), the supervisor's
pid and log, and per replica a pid file and stdout/stderr logs. `cpu`, `memory_mb` and `image` are recorded only:
processes here are not limited or containerised.

Isolation. When mnops runs as root (`adapters.local.isolation`), the local root and each service folder are root-only
(0700) and every service's replicas run under a uid and gid of their own, with a working folder only that uid can use
(`/var/lib/mnops/services/<uid>/`, removed with the service): they cannot read the master key, the state, other
services' folders or other services' `/proc/<pid>/environ`, and cannot signal other services. Otherwise replicas run
as the deployer, in the service folder: a same-user process can still read `master.key` (0600) by path; what holds
then is only that nothing in their environment leads there.

Environment. Replicas receive a small inherited environment (PATH, locale, TZ, TMPDIR; HOME, USER and LOGNAME only when
they run as the deployer), never the deployer's whole one, so the deployer's credentials (the master key, the audit key,
the state URL) do not reach services; then `PORT`, the spec's `env` (its `secret:` references resolved in the
service's own platform only), `MNOPS_REPLICA` and the marker `MNOPS_SERVICE` (a digest, not a path) by which every
process of the service can be found again. No path to the local root, the key or the state is passed.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.base import AdapterError, Desired, HealthReport, Observed, ResourceDriver, ResourceKey
from adapters.local import PROVIDER, isolation
from adapters.local import processes as procs
from adapters.local.driver import LocalDriver
from adapters.local.files import write_atomically, write_json
from adapters.local.secretstore import SecretsDriver
from contracts.base import SECRET_REFERENCE_PREFIX, Sealed

SUPERVISOR_SCRIPT = Path(__file__).with_name("supervisor.py")
SERVICE = "service.json"
SUPERVISOR_PID = "supervisor.pid"
INHERITED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")
# They name the deployer's home and account, of no use to a service running under its own uid.
DEPLOYER_ONLY_ENV = ("HOME", "USER", "LOGNAME")
# Fields whose change needs the processes restarted; the rest (health, cpu, memory, image) is bookkeeping here.
RESTART_FIELDS = ("command", "env", "replicas")
PROBE_SECONDS = 2.0
MIN_UPTIME_SECONDS = 1.0


class ComputeDriver(LocalDriver):
    contract = "compute/v1"
    kind = "compute"

    def bind(self, drivers: Mapping[str, ResourceDriver]) -> None:
        # A process is given the values of the secrets its `env` refers to: the secrets driver reveals them; and of
        # the sensitive outputs it reads (a database's url): their own drivers reveal those.
        self._secrets: SecretsDriver = drivers[SecretsDriver.contract]
        self._drivers = drivers

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _provision(self, folder: Path, desired: Desired, previous: dict[str, Any] | None) -> dict[str, Any]:
        declared = self._declared_env(desired)
        user = self._service_user(desired.key)
        inherited = _inherited_env()
        if user is not None:
            inherited = {name: value for name, value in inherited.items() if name not in DEPLOYER_ONLY_ENV}
            inherited["PATH"] = isolation.searchable_path(inherited.get("PATH", os.defpath))
        env = {**inherited, **declared}
        services = self.home.services_dir or isolation.STATE_DIR
        cwd = folder if user is None else isolation.work_folder(services, user)
        # Before anything is made for the service: a command it cannot run leaves nothing behind.
        self._check_command(desired, env, cwd, isolated=user is not None)
        if user is not None:
            self._prepare(folder, user)
        fields = self._stored_fields(desired)
        # Of the declared part only: a secret's new value restarts the service, a deployer's different PATH does not.
        env_hmac = self.home.keys.hmac(json.dumps(declared, sort_keys=True))
        if (
            previous is not None
            and all(previous["fields"].get(name) == fields[name] for name in RESTART_FIELDS)
            and previous["state"].get("env_hmac") == env_hmac
            and previous["state"].get("user") == user
            and (desired.spec.replicas == 0 or self._supervisor(folder) is not None)
        ):
            return previous["state"]
        self._stop(folder, desired.key)
        if previous is None:
            # A folder removed by hand leaves its processes running with nothing pointing at them but their marker.
            procs.terminate(procs.marked(folder), self.home.stop_grace_seconds)
        old_ports = previous["state"].get("ports", []) if previous else []
        ports = _ports(desired.spec.replicas, old_ports)
        write_json(
            folder / SERVICE,
            {"command": fields["command"], "ports": ports, "grace_seconds": self.home.stop_grace_seconds},
        )
        # Zero replicas is a service scaled to nothing: no supervisor either, so a thousand of them cost no process.
        if ports:
            self._start_supervisor(folder, desired.key, env, user, cwd)
        return {"ports": ports, "env_hmac": env_hmac, "user": user}

    def _outputs(self, current: Observed, folder: Path, state: dict[str, Any]) -> dict[str, str]:
        urls = [f"http://127.0.0.1:{port}" for port in state.get("ports", [])]
        return {"name": str(current.key), "url": urls[0] if urls else "", "urls": ",".join(urls)}

    def _problem(self, folder: Path, metadata: dict[str, Any]) -> str | None:
        if metadata["state"].get("ports") and self._supervisor(folder) is None:
            return "the service's supervisor is not running: its replicas are down"
        return None

    def _release(self, folder: Path) -> None:
        key = ResourceKey(folder.parent.name, folder.name)
        self._stop(folder, key)
        # By the ids table, not the metadata: a service whose creation failed half-way has no metadata yet.
        services = self.home.services_dir or isolation.STATE_DIR
        user = isolation.allocated(services, self.home.root, key)
        if user is not None:
            isolation.release(services, user)

    def _health(self, folder: Path, metadata: dict[str, Any]) -> HealthReport:
        ports: list[int] = metadata["state"].get("ports", [])
        if not ports:
            return HealthReport(True, "scaled to zero replicas")
        check = metadata["fields"]["health"]
        deadline = time.monotonic() + check["timeout_seconds"]
        while True:
            supervisor = self._supervisor(folder)
            problems = []
            if supervisor is None:
                problems.append("supervisor is not running")
            elif procs.stopped(supervisor):
                problems.append("supervisor is stopped")
            # Without a working supervisor nothing will come back: no point waiting out the timeout.
            hopeless = bool(problems)
            for index, port in enumerate(ports):
                pid = procs.read_pid(folder / f"replica-{index}.pid")
                if not (procs.alive(pid) and procs.belongs_to(pid, folder)):
                    problems.append(f"replica {index} is not running")
                elif check["http"] is None:
                    # Alive at one instant proves little: a crash-looping replica is alive for a moment every
                    # restart. Ask for a replica that has stayed up a while (its pid file is written at its start).
                    uptime = _age(folder / f"replica-{index}.pid")
                    if uptime < MIN_UPTIME_SECONDS:
                        problems.append(f"replica {index} has been up only {uptime:.1f}s")
                else:
                    trouble = _probe(port, check["http"], min(PROBE_SECONDS, max(deadline - time.monotonic(), 0.1)))
                    if trouble:
                        problems.append(f"replica {index} on port {port}: {trouble}")
            if not problems:
                return HealthReport(True, f"{len(ports)} replicas healthy")
            if hopeless or time.monotonic() >= deadline:
                return HealthReport(False, "; ".join(problems))
            time.sleep(0.1)

    # -- processes ---------------------------------------------------------------------------------------------------

    def running(self, key: ResourceKey) -> dict[str, Any]:
        """The service's live processes: `supervisor` pid (or None) and `replicas` pids by index (None if down)."""
        folder = self.folder(key)
        replicas = {}
        for pid_file in sorted(folder.glob("replica-*.pid")):
            pid = procs.read_pid(pid_file)
            index = int(pid_file.name.split("-")[1].split(".")[0])
            replicas[index] = pid if procs.alive(pid) and procs.belongs_to(pid, folder) else None
        return {"supervisor": self._supervisor(folder), "replicas": replicas}

    def _supervisor(self, folder: Path) -> int | None:
        pid = procs.read_pid(folder / SUPERVISOR_PID)
        return pid if procs.alive(pid) and procs.belongs_to(pid, folder) else None

    def _service_user(self, key: ResourceKey) -> int | None:
        """The uid and gid the service's replicas run as, or None: as the deployer."""
        if self.home.services_dir is None:
            return None
        return isolation.service_id(self.home.services_dir, self.home.root, key)

    def _prepare(self, folder: Path, user: int) -> Path:
        """Root-only local root and service folder (the master key and every kind's folders are below the root); the
        service's own working folder elsewhere, usable by its id alone."""
        for private in (self.home.root, folder):
            private.chmod(0o700)
        return isolation.prepare(self.home.services_dir or isolation.STATE_DIR, user)

    def _start_supervisor(
        self, folder: Path, key: ResourceKey, env: dict[str, str], user: int | None, cwd: Path
    ) -> int:
        supervisor_env = {**_inherited_env(), procs.MARKER_ENV: procs.token(folder)}
        # Before the launch, so that a crash between launch and the real pid file still leaves a sign that processes
        # may be running here (and a later delete searches for them by marker).
        write_atomically(folder / SUPERVISOR_PID, b"starting\n")
        try:
            # Returns as soon as the supervisor has detached: the daemon is not our child, nothing is left to reap.
            result = subprocess.run(
                [sys.executable, "-I", str(SUPERVISOR_SCRIPT), str(folder)],
                input=json.dumps({"env": env, "user": user, "cwd": str(cwd)}).encode(),
                capture_output=True,
                cwd=folder,
                env=supervisor_env,
                # The supervisor's and replicas' logs (and whatever the service writes) readable by this user only.
                umask=0o077,
                timeout=30,
                check=False,
            )
            pid = int(result.stdout.strip())
        except subprocess.TimeoutExpired as exc:
            raise AdapterError(PROVIDER, "start", key, "supervisor did not detach within 30 s") from exc
        except ValueError:
            # The supervisor's stderr may hold a traceback; point at it rather than copy it into an error message.
            raise AdapterError(
                PROVIDER, "start", key, f"supervisor failed to start (exit {result.returncode}); see {folder}"
            ) from None
        write_atomically(folder / SUPERVISOR_PID, f"{pid}\n".encode())
        return pid

    def _stop(self, folder: Path, key: ResourceKey) -> None:
        """Stop the supervisor (which stops its replicas), then anything of the service still alive."""
        if not (folder / SUPERVISOR_PID).exists() and not any(folder.glob("replica-*.pid")):
            # Nothing was ever started here (or it was stopped cleanly): spare the scan of every process.
            return
        grace = self.home.stop_grace_seconds
        supervisor = self._supervisor(folder)
        if supervisor is not None:
            # The supervisor needs up to `grace` for its replicas, plus a moment for itself.
            procs.terminate([supervisor], grace + 1.0)
        leftovers = [
            pid
            for pid_file in folder.glob("replica-*.pid")
            if (pid := procs.read_pid(pid_file)) is not None and procs.alive(pid) and procs.belongs_to(pid, folder)
        ]
        leftovers += [pid for pid in procs.marked(folder) if pid not in leftovers]
        survivors = procs.terminate(leftovers, grace)
        if survivors:
            raise AdapterError(PROVIDER, "stop", key, f"processes {survivors} would not stop")
        for pid_file in [*folder.glob("replica-*.pid"), folder / SUPERVISOR_PID]:
            pid_file.unlink(missing_ok=True)

    # -- environment -------------------------------------------------------------------------------------------------

    def _declared_env(self, desired: Desired) -> dict[str, str]:
        """The spec's `env`, secret references resolved. Held in memory and handed over a pipe only."""
        env = {}
        for name, value in desired.spec.env.items():
            if value.startswith(SECRET_REFERENCE_PREFIX):
                target = ResourceKey(desired.key.platform, value[len(SECRET_REFERENCE_PREFIX) :])
                try:
                    env[name] = self._secrets.reveal(target)
                except AdapterError as exc:
                    raise AdapterError(
                        PROVIDER, "resolve env", desired.key, f"env {name} refers to {target}: {exc.reason}"
                    ) from exc
            elif (sealed := Sealed.parse(value)) is not None:
                env[name] = self._reveal(desired.key, name, sealed)
            else:
                env[name] = value
        return env

    def _reveal(self, key: ResourceKey, name: str, sealed: Sealed) -> str:
        producer = self._drivers.get(sealed.contract)
        target = ResourceKey(sealed.platform, sealed.resource)
        if producer is None:
            reason = f"env {name} reads {target}.{sealed.output}, a {sealed.contract} the local provider does not run"
            raise AdapterError(PROVIDER, "resolve env", key, reason)
        try:
            return producer.reveal_output(target, sealed.output)
        except AdapterError as exc:
            reason = f"env {name} reads {target}.{sealed.output}: {exc.reason}"
            raise AdapterError(PROVIDER, "resolve env", key, reason) from exc

    def _check_command(self, desired: Desired, env: dict[str, str], cwd: Path, *, isolated: bool) -> None:
        program = desired.spec.command[0]
        found: Path | None
        if os.sep in program:
            found = Path(program) if Path(program).is_absolute() else cwd / program
            if not (found.is_file() and os.access(found, os.X_OK)):
                found = None
        else:
            which = shutil.which(program, path=env.get("PATH", os.defpath))
            found = Path(which) if which is not None else None
        if found is None:
            hint = " on the folders of PATH any user may search" if isolated and os.sep not in program else ""
            raise AdapterError(PROVIDER, "start", desired.key, f"command not found{hint}: {program}")
        if isolated and not isolation.runnable_by_anyone(found):
            reason = (
                f"command {program} ({found}) cannot be run by the service's own user: it, or a folder above it, is"
                f" closed to other users; install it where any user may run it, or set {isolation.ISOLATION_ENV}=off"
            )
            raise AdapterError(PROVIDER, "start", desired.key, reason)


def _inherited_env() -> dict[str, str]:
    return {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}


def _ports(count: int, previous: list[int]) -> list[int]:
    """A free local port per replica, keeping the ports replicas had before where they are still free."""
    ports: list[int] = []
    for index in range(count):
        if index < len(previous) and _free(previous[index]) and previous[index] not in ports:
            ports.append(previous[index])
            continue
        while True:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in ports:
                ports.append(port)
                break
    return ports


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        # Replaced at this very moment by a restart: as young as can be.
        return 0.0


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _probe(port: int, path: str, timeout: float) -> str | None:
    """None if GET `path` answers 2xx/3xx, else why not."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return f"GET {path} failed: {type(exc).__name__}"
    finally:
        connection.close()
    return None if 200 <= status < 400 else f"GET {path} answered {status}"
