"""Keeps one local service's replicas running: restarts a replica that exits (with backoff) and stops them all on
SIGTERM.

The compute driver runs it as `python -I supervisor.py FOLDER`, writing the replicas' environment as JSON on stdin, so
secret values reach the replicas' environment without touching the disk or this process's own environment. It then
detaches (double fork, new session), prints the daemon's pid on stdout and exits, so the deployer is left with no
child to reap. Given a `user` id, it stays root itself (it must signal and write in a root-only folder) and starts
each replica in the given working folder as that uid and gid with no supplementary groups.
Standard library only: `-I` runs it apart from the project's packages and `PYTHONPATH`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVICE = "service.json"
STATUS = "status.json"
LOG = "supervisor.log"
MARKER_ENV = "MNOPS_SERVICE"
POLL_SECONDS = 0.05
# With nothing to do, wake now and then anyway: a lost SIGCHLD then costs seconds, not a dead replica forever.
IDLE_SECONDS = 5.0
# A file it could not write (a full disk) is tried again this often.
RETRY_WRITE_SECONDS = 0.5
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
_EVENT_DRIVEN = hasattr(signal, "sigtimedwait")
_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    folder = Path(argv[1]).resolve()
    config = json.loads((folder / SERVICE).read_text())
    handed = json.loads(sys.stdin.buffer.read() or b"{}")
    log = os.open(folder / LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    pid = os.fork()
    if pid:
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(devnull)
    os.close(log)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = sys.stdout
    Supervisor(folder, config, handed.get("env", {}), handed.get("user"), handed.get("cwd")).run()
    return 0


class Replica:
    def __init__(self, index: int, port: int) -> None:
        self.index = index
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.next_start = 0.0
        self.failures = 0
        self.restarts = 0
        self.last_exit: int | None = None


class Supervisor:
    def __init__(
        self, folder: Path, config: dict, env: dict[str, str], user: int | None = None, cwd: str | None = None
    ) -> None:
        self.folder = folder
        self.user = user
        self.cwd = cwd or str(folder)
        self.marker = os.environ.get(MARKER_ENV, "")
        self.command: list[str] = config["command"]
        self.grace = float(config.get("grace_seconds", 5))
        backoff = config.get("backoff", {})
        self.backoff_initial = float(backoff.get("initial", 0.1))
        self.backoff_max = float(backoff.get("max", 5.0))
        # A replica that stayed up this long is considered fixed: its next crash starts the backoff over.
        self.backoff_reset = float(backoff.get("reset_after", 10.0))
        self.env = env
        self.replicas = [Replica(i, port) for i, port in enumerate(config["ports"])]
        self.stopping = False
        self.pid = os.getpid()
        self._unwritten: dict[str, str] = {}
        """Files whose last write failed (a full disk), newest content by name: written again at every wake."""
        self._write_failing = False
        self._libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

    def run(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_stop)
        if _EVENT_DRIVEN:
            # Blocked, then taken with sigtimedwait: an idle supervisor sleeps until a replica exits or it is told to
            # stop, instead of waking 20 times a second (a thousand services on one laptop add up).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, *STOP_SIGNALS})
        say(f"supervising {len(self.replicas)} replicas of {self.command[0]}")
        while not self.stopping:
            now = time.monotonic()
            for replica in self.replicas:
                if replica.process is None:
                    if now >= replica.next_start:
                        self._start(replica)
                elif (code := replica.process.poll()) is not None:
                    self._exited(replica, code, now)
            self._write_pending()
            self._wait(now)
        self._stop_all()

    def _wait(self, now: float) -> None:
        """Until a replica exits, a stop signal comes, or the next restart is due."""
        pending = [r.next_start - now for r in self.replicas if r.process is None]
        idle = RETRY_WRITE_SECONDS if self._unwritten else IDLE_SECONDS
        timeout = max(min(pending, default=idle), 0.0)
        if not _EVENT_DRIVEN:
            time.sleep(min(timeout, POLL_SECONDS))
            return
        info = signal.sigtimedwait({signal.SIGCHLD, *STOP_SIGNALS}, timeout)
        if info is not None and info.si_signo in STOP_SIGNALS:
            self.stopping = True

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _start(self, replica: Replica) -> None:
        port = str(replica.port)
        argv = [arg.replace("{port}", port) for arg in self.command]
        env = {"PORT": port, **self.env, MARKER_ENV: self.marker, "MNOPS_REPLICA": str(replica.index)}
        try:
            with (
                open(self.folder / f"replica-{replica.index}.out.log", "ab") as out,
                open(self.folder / f"replica-{replica.index}.err.log", "ab") as err,
            ):
                replica.process = subprocess.Popen(
                    argv,
                    cwd=self.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    # Its own session, so stopping a replica stops whatever it forked too (one process group).
                    start_new_session=True,
                    # The supervisor has no threads, which is what makes preexec_fn safe here.
                    preexec_fn=self._die_with_supervisor,
                )
        except (OSError, subprocess.SubprocessError) as exc:
            # SubprocessError: dropping to the service's ids failed in the child (an id this host cannot map).
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            say(f"replica {replica.index} failed to start: {why}: {argv[0]}")
            self._exited(replica, 127, time.monotonic())
            return
        replica.started = time.monotonic()
        self._write(f"replica-{replica.index}.pid", f"{replica.process.pid}\n")
        say(f"replica {replica.index} started as pid {replica.process.pid} on port {port}")
        self._write_status()

    def _die_with_supervisor(self) -> None:
        # Runs in the child between fork and exec. The signal mask survives exec: a replica must not start with
        # SIGTERM blocked. And if the supervisor dies without stopping its replicas (SIGKILL, OOM), the kernel kills
        # them too, so no replica outlives its supervisor.
        if _EVENT_DRIVEN:
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
        if self.user is not None:
            # Groups first (they need root), the uid last; an exception here fails the start, never runs as root.
            os.setgroups([])
            os.setgid(self.user)
            os.setuid(self.user)
        # After the uid change, which clears the parent-death signal.
        if self._libc is not None:
            self._libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != self.pid:
                os._exit(1)

    def _exited(self, replica: Replica, code: int, now: float) -> None:
        replica.process = None
        replica.last_exit = code
        if replica.started and now - replica.started >= self.backoff_reset:
            replica.failures = 0
        delay = min(self.backoff_initial * 2**replica.failures, self.backoff_max)
        replica.failures += 1
        replica.restarts += 1
        replica.next_start = now + delay
        say(f"replica {replica.index} exited with {code}; restarting in {delay:.2f}s")
        self._write_status()

    def _stop_all(self) -> None:
        running = [r.process for r in self.replicas if r.process is not None and r.process.poll() is None]
        say(f"stopping {len(running)} replicas")
        for process in running:
            _signal_group(process.pid, signal.SIGTERM)
            # A stopped replica would keep SIGTERM pending until the grace period ran out.
            _signal_group(process.pid, signal.SIGCONT)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and any(p.poll() is None for p in running):
            time.sleep(POLL_SECONDS)
        for process in running:
            if process.poll() is None:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        for replica in self.replicas:
            (self.folder / f"replica-{replica.index}.pid").unlink(missing_ok=True)
        say("stopped")

    def _write_status(self) -> None:
        status = {
            "supervisor": self.pid,
            "replicas": [
                {
                    "index": r.index,
                    "port": r.port,
                    "pid": r.process.pid if r.process is not None else None,
                    "restarts": r.restarts,
                    "last_exit": r.last_exit,
                }
                for r in self.replicas
            ],
        }
        self._write(STATUS, json.dumps(status, indent=1))

    def _write(self, name: str, text: str) -> None:
        """A file of the service folder; failing to write it (a full disk) must not stop the supervisor, whose
        replicas would die with it: the file stays as it was, and the next write tries again."""
        self._unwritten[name] = text
        self._write_pending()

    def _write_pending(self) -> None:
        for name, text in list(self._unwritten.items()):
            try:
                write_atomically(self.folder / name, text)
            except OSError as exc:
                if not self._write_failing:
                    say(f"cannot write {name}: {exc.strerror or exc}; replicas keep running, retrying")
                self._write_failing = True
                return
            del self._unwritten[name]
        if self._write_failing:
            say("the service folder is writable again")
        self._write_failing = False


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def write_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f".tmp-{path.name}")
    try:
        temp.write_text(text)
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()  # a half-written temporary file would hold on to the little space left
        raise


def say(message: str) -> None:
    # The log may be on a full disk too: a line lost there must not stop the supervisor.
    with contextlib.suppress(OSError):
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
