"""Azurite, Microsoft's Blob Storage emulator, for the azure tests: installed from npm once into the repository's
`.mnops/azurite/<version>/` (`make azurite` does the same), started on a free loopback port over HTTPS with bearer
tokens checked (`--oauth basic`: issuer, audience and lifetime; not the signature), its accounts given at start.

Only its blob service is started: the queue contract is Service Bus, and no contract uses Storage queues or tables.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import secrets
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

VERSION = "3.35.0"
REPO = Path(__file__).resolve().parents[3]
LISTENING = re.compile(rb"(?:listens on|listening at) (https?://[0-9.]+:[0-9]+)")


def installed(root: Path = REPO) -> Path:
    """The `azurite-blob` executable of `VERSION`, installed with npm under `root/.mnops/azurite/` if missing (one
    installer at a time: a lock file)."""
    prefix = root / ".mnops" / "azurite" / VERSION
    binary = prefix / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"Azurite {VERSION} is installed with npm, which is not on PATH: install Node.js 18 or later"
        )
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            subprocess.run(
                [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"azurite@{VERSION}"],
                check=True,
                capture_output=True,
                timeout=600,
            )
    return binary


@dataclass(frozen=True)
class Azurite:
    url: str
    """The blob service's root, `https://127.0.0.1:<port>`: an account's endpoint is `<url>/<account>/`."""
    keys: dict[str, str]
    """Each account's shared key (base64), as AZURITE_ACCOUNTS gave it."""


@contextmanager
def serve(cert: Path, key: Path, accounts: list[str]) -> Iterator[Azurite]:
    """Azurite's blob service with `accounts`, on a free port of 127.0.0.1, over HTTPS with `cert`; stopped on exit."""
    keys = {name: base64.b64encode(secrets.token_bytes(32)).decode() for name in accounts}
    environment = {**os.environ, "AZURITE_ACCOUNTS": ";".join(f"{n}:{k}" for n, k in keys.items())}
    command = [
        str(installed()),
        "--silent",
        "--disableTelemetry",
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        "0",
        "--oauth",
        "basic",
        "--cert",
        str(cert),
        "--key",
        str(key),
    ]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None
        seen = b""
        deadline = time.monotonic() + 60
        while (match := LISTENING.search(seen)) is None:
            ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(process.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                raise RuntimeError(f"Azurite did not start: {seen.decode(errors='replace')[-2000:]}")
            seen += chunk
        yield Azurite(match.group(1).decode(), keys)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
