"""Checking, finding and stopping the processes the compute driver starts.

Every supervisor and replica carries `MNOPS_SERVICE=<token>` in its environment, and a child inherits it, so what a
service started can be found from its folder even after a pid was reused or a replica forked helpers of its own. The
token is a digest of the folder's path, not the path: a service's environment names no place under the local root.
Liveness reads `/proc` on Linux, where a zombie (exited, not yet reaped) must count as dead.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

MARKER_ENV = "MNOPS_SERVICE"
_PROC = Path("/proc")


def token(folder: Path) -> str:
    """The marker value of the service in `folder`."""
    return "svc-" + hashlib.sha256(str(folder).encode()).hexdigest()[:32]


def state(pid: int) -> str | None:
    """The process's state letter (`R`, `S`, `T`, `Z`, ...), or None when there is no such process."""
    if _PROC.is_dir():
        try:
            stat = (_PROC / str(pid) / "stat").read_bytes()
        except OSError:
            return None
        # The command name in parentheses may itself hold spaces or parentheses: the state follows the last ')'.
        return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3].decode()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return "R"
    return "R"


def alive(pid: int | None) -> bool:
    return pid is not None and state(pid) not in (None, "Z", "X", "x")


def stopped(pid: int) -> bool:
    """Stopped by a signal (SIGSTOP) or a debugger: alive, but doing nothing."""
    return state(pid) in ("T", "t")


def marker(pid: int) -> str | None:
    """The `MNOPS_SERVICE` value in a process's environment, if it has one and /proc lets us read it."""
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = MARKER_ENV.encode() + b"="
    for item in environ.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode(errors="replace")
    return None


def belongs_to(pid: int, folder: Path) -> bool:
    """Whether `pid` is a process of the service in `folder` (not a stranger that inherited a reused pid)."""
    if not _PROC.is_dir():
        return alive(pid)
    return marker(pid) == token(folder)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def marked(folder: Path) -> list[int]:
    """Live processes carrying `folder` as their marker: a service's supervisor, replicas and their descendants, even
    those that left the replica's process group. Cheaper than `processes_under` (one read per process)."""
    if not _PROC.is_dir():
        return []
    wanted = token(folder)
    mine = os.getpid()
    found = []
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit() or int(entry.name) == mine:
            continue
        if marker(int(entry.name)) == wanted and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def processes_under(root: Path) -> list[int]:
    """Live processes started under `root`: by working directory, or naming it on their command line (a supervisor
    names its folder; a replica works in it)."""
    if not _PROC.is_dir():
        return []
    root_text = str(root)
    inside = root_text.rstrip("/") + "/"
    mine = {os.getpid(), os.getppid()}
    found = []
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        pid = int(entry.name)
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        try:
            args = (_PROC / entry.name / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            args = []
        places = [cwd, *args]
        if any(p == root_text or p.startswith(inside) for p in places) and alive(pid):
            found.append(pid)
    return found


def signal_group(pid: int, signum: int) -> None:
    """Signal the process group `pid` leads (each of our processes leads its own session), else the process alone."""
    try:
        os.killpg(pid, signum)
        return
    except ProcessLookupError:
        pass
    except PermissionError:
        return
    with suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until none of `pids` is alive or `timeout` passes; the ones still alive."""
    remaining = [pid for pid in pids if alive(pid)]
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        time.sleep(0.02)
        remaining = [pid for pid in remaining if alive(pid)]
    return remaining


def terminate(pids: Iterable[int], grace: float) -> list[int]:
    """SIGTERM each process group, SIGKILL what is left after `grace` seconds; the pids that survived even that."""
    pids = [pid for pid in pids if alive(pid)]
    for pid in pids:
        signal_group(pid, signal.SIGTERM)
        # A stopped process keeps SIGTERM pending until it runs again.
        signal_group(pid, signal.SIGCONT)
    left = wait_gone(pids, grace)
    for pid in left:
        signal_group(pid, signal.SIGKILL)
    return wait_gone(left, 2.0)
