"""Real faults, shared by the fault suite and the tests that first needed them: a small tmpfs filled to ENOSPC, and
PostgreSQL backends terminated by the server (pg_terminate_backend) before chosen statements."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, text

NO_TMPFS = "cannot mount a tmpfs here (needs root on Linux, as CI runs)"


@contextmanager
def tmpfs(mountpoint: Path, size: str = "2m") -> Iterator[Path | None]:
    """A real tmpfs of `size` at `mountpoint` when this process may mount one, else None."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mountpoint)]
    mounted = subprocess.run(command, capture_output=True, check=False)
    try:
        yield mountpoint if mounted.returncode == 0 else None
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(disk: Path) -> None:
    """Write to `disk` until it is full (ENOSPC); `disk / "filler"` then holds the space."""
    with open(disk / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC


def kill_backend_when(store, admin, wanted: Callable[[str, object], bool], times: int) -> list[int]:
    """Before each of the first `times` statements `wanted` picks, the server terminates the backend running it, as
    a restart or a network cut would: the statement then fails on a dead connection. The pids killed."""
    killed: list[int] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _kill(conn, cursor, statement, parameters, context, executemany):
        if len(killed) < times and wanted(statement, parameters):
            pid = cursor.connection.info.backend_pid
            with admin.connect() as c:
                assert c.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()
            killed.append(pid)

    return killed
