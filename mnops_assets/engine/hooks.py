"""Lifecycle hooks: commands or Python callables run at pre-plan, pre-apply, post-apply, on-rollback and on-drift.

Each hook runs as its own process (so its time limit can be enforced by killing it) in the estate folder, with the
event as JSON on stdin. A failing `pre-*` hook stops everything before any change; every run is audited with its
outcome and duration, never its output (a hook may print what the audit trail must not keep): the output goes to a
0600 log file whose path the failure names. Hooks get an allowlisted environment (`HOOK_ENV`: PATH, HOME, locale, TZ,
TMPDIR), never the deployer's whole one: no master or audit key, no state URL, no platform's `env:` secret variables,
no cloud credentials, nothing whose name looks like a credential.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.errors import MnopsError
from mnops_assets.estate.spec import Hook, PlatformSpec

# Runs `module:function` with the event; None or True is success, anything false (or an exception) a failure.
_CALL_PYTHON = """\
import importlib, json, sys
module, _, name = sys.argv[1].partition(":")
result = getattr(importlib.import_module(module), name)(json.load(sys.stdin))
sys.exit(0 if result is None or result is True else 1)
"""


@dataclass(frozen=True)
class HookRun:
    name: str
    event: str
    ok: bool
    exit_code: int | None
    seconds: float
    reason: str = ""


class HookFailed(MnopsError):
    def __init__(self, platform: str, event: str, runs: list[HookRun]) -> None:
        self.runs = runs
        listed = "; ".join(f"{r.name}: {r.reason}" for r in runs if not r.ok)
        super().__init__(f"{event} hook failed for {platform!r}, nothing was changed: {listed}")


Audit = Callable[[str, str, dict[str, Any]], object]


# Everything a hook needs to find programs, its home and its locale; the event itself comes on stdin. An allowlist,
# not a denylist: a variable a later feature reads a secret from cannot leak into hooks by being forgotten here.
HOOK_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
CREDENTIAL_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL|AUTH|SESSION|PRIVATE|CERT", re.IGNORECASE)


class HookRunner:
    def __init__(self, cwd: Path, audit: Audit | None = None, log_dir: Path | None = None) -> None:
        self.cwd = cwd
        self.audit = audit
        self.log_dir = log_dir

    def run(self, spec: PlatformSpec, event: str, payload: dict[str, Any]) -> list[HookRun]:
        """Run every hook of `spec` listening to `event`; raise HookFailed if a `pre-*` hook failed."""
        runs = []
        for name, hook in sorted(spec.hooks.items()):
            if event not in hook.events:
                continue
            run = self._run_one(name, hook, {"event": event, "platform": spec.name, **payload}, _environment())
            runs.append(run)
            if self.audit is not None:
                data = {"hook": name, "event": event, "exit_code": run.exit_code, "seconds": round(run.seconds, 3)}
                self.audit(f"hook.{'succeeded' if run.ok else 'failed'}", spec.name, {**data, "reason": run.reason})
        if event.startswith("pre-") and any(not r.ok for r in runs):
            raise HookFailed(spec.name, event, runs)
        return runs

    def _run_one(self, name: str, hook: Hook, event: dict[str, Any], env: dict[str, str]) -> HookRun:
        argv = hook.command if hook.command is not None else [sys.executable, "-c", _CALL_PYTHON, hook.python or ""]
        start = time.monotonic()
        try:
            process = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            return HookRun(name, event["event"], False, None, time.monotonic() - start, f"cannot start: {exc.strerror}")
        try:
            output, _ = process.communicate(json.dumps(event, default=str), timeout=hook.timeout_seconds)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            reason = f"timed out after {hook.timeout_seconds} s"
            return HookRun(name, event["event"], False, None, time.monotonic() - start, reason)
        seconds = time.monotonic() - start
        if process.returncode == 0:
            return HookRun(name, event["event"], True, 0, seconds)
        reason = f"exit code {process.returncode}" + self._keep(name, event, output)
        return HookRun(name, event["event"], False, process.returncode, seconds, reason)

    def _keep(self, name: str, event: dict[str, Any], output: str) -> str:
        """Write a failed hook's output to a private log file; the part of the reason that points at it."""
        if self.log_dir is None or not output:
            return ""
        folder = self.log_dir / event["platform"]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{event['event']}-{name}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(output)
        return f" (output in {path})"


def _environment() -> dict[str, str]:
    return {name: os.environ[name] for name in HOOK_ENV if name in os.environ and not CREDENTIAL_NAME.search(name)}


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()
