"""`LocalAdapter`: the embedded provider, its drivers (`DRIVERS`) sharing one root folder and one master key."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from adapters.base import Adapter, build_drivers
from adapters.local import DRIVERS, PROVIDER, isolation
from adapters.local.driver import LocalDriver
from adapters.local.files import Home, failures, is_resource_name
from adapters.local.keys import Keyring

ROOT_ENV = "MNOPS_LOCAL_ROOT"
DEFAULT_ROOT = ".mnops/local"
POSTGRES_URL_ENV = "MNOPS_LOCAL_POSTGRES_URL"


class LocalAdapter(Adapter):
    """Real effects under `root`: `<root>/<kind>/<platform>/<resource>/` per resource.

    Settings: `root` (default `$MNOPS_LOCAL_ROOT`, else `.mnops/local`), `master_key` (a Fernet key; default
    `$MNOPS_MASTER_KEY`, else `<root>/master.key`, created with mode 0600 on first use), `clock` (seconds since the
    epoch; tests move it to age messages, objects and logs), `stop_grace_seconds` (how long a process may take to
    stop after SIGTERM before it is killed), `base_dir` (what a relative `root` and `file:` secret sources are
    relative to: the estate folder when the engine creates the adapter; the working directory otherwise) and
    `postgres_url` (an administrator's URL of the PostgreSQL server database/v1 uses; default
    `$MNOPS_LOCAL_POSTGRES_URL`; unset, database/v1 resources are refused when made), `isolate_services` (whether
    each service's replicas run under a uid and gid of their own; default: when mnops runs as root, unless
    `$MNOPS_LOCAL_SERVICE_ISOLATION` is `off`) and `services_dir` (where those ids and the services' working folders
    are kept; default `/var/lib/mnops`).
    """

    provider: ClassVar[str] = PROVIDER

    def __init__(
        self,
        root: str | Path | None = None,
        master_key: str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        stop_grace_seconds: float = 5.0,
        base_dir: str | Path | None = None,
        postgres_url: str | None = None,
        isolate_services: bool | None = None,
        services_dir: str | Path | None = None,
    ) -> None:
        base = Path(base_dir).absolute() if base_dir is not None else Path.cwd()
        chosen = Path(root if root is not None else os.environ.get(ROOT_ENV) or DEFAULT_ROOT).expanduser()
        # Absolute, because supervisors and replicas run elsewhere and must find the same folders; a relative root
        # is relative to `base_dir` (the estate folder), never to wherever the command runs.
        self.root = (base / chosen).absolute()
        postgres = postgres_url or os.environ.get(POSTGRES_URL_ENV) or None
        self.home = Home(
            self.root,
            Keyring(self.root, master_key),
            clock or time.time,
            stop_grace_seconds,
            base,
            postgres,
            Path(services_dir or isolation.STATE_DIR).absolute() if isolation.wanted(isolate_services) else None,
        )
        super().__init__(drivers=build_drivers(DRIVERS, self.home))

    def __repr__(self) -> str:
        return f"LocalAdapter(root={str(self.root)!r}, keys={self.home.keys!r})"

    def platforms(self) -> list[str]:
        """Every platform with at least one resource under the root, sorted."""
        found: set[str] = set()
        with failures("list platforms", None):
            for kind in {d.kind for d in self.drivers.values() if isinstance(d, LocalDriver)}:
                try:
                    found.update(e.name for e in os.scandir(self.root / kind) if is_resource_name(e.name))
                except FileNotFoundError:
                    continue
        return sorted(found)
