"""logging/v1 on the local provider: a log directory of JSON-lines files, one per UTC day, with retention enforced.

`write` drops records below `min_level`; day files older than `retention_days` are removed by `maintain()` and by every
update (so shortening retention takes effect at once, as it does on CloudWatch).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.base import Desired, HealthReport, Observed, ResourceKey, Upkeep
from adapters.local.driver import LocalDriver
from adapters.local.files import failures

RECORDS = "records"
LEVELS = ("debug", "info", "warning", "error")
_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl$")


class LoggingDriver(LocalDriver):
    contract = "logging/v1"
    kind = "logging"

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _provision(self, folder: Path, desired: Desired, previous: dict[str, Any] | None) -> dict[str, Any]:
        (folder / RECORDS).mkdir(exist_ok=True)
        self._enforce_retention(folder, desired.spec.retention_days)
        return {}

    def _outputs(self, current: Observed, folder: Path, state: dict[str, Any]) -> dict[str, str]:
        return {"name": str(current.key)}

    def _health(self, folder: Path, metadata: dict[str, Any]) -> HealthReport:
        records = folder / RECORDS
        try:
            for entry in os.scandir(records):
                if _DAY_FILE.match(entry.name):
                    with open(entry.path, "rb"):
                        pass
        except OSError as exc:
            return HealthReport(False, f"log records at {records} are not readable: {exc.strerror}")
        return HealthReport(True)

    # -- data plane --------------------------------------------------------------------------------------------------

    def write(self, key: ResourceKey, record: Mapping[str, Any] | str, level: str = "info") -> bool:
        """Append a record (a message or a mapping of fields) at `level`; False when `min_level` dropped it."""
        if level not in LEVELS:
            raise ValueError(f"unknown log level {level!r} (known: {', '.join(LEVELS)})")
        with failures("write log", key):
            folder, metadata = self.settings(key, "write log")
            if LEVELS.index(level) < LEVELS.index(metadata["fields"]["min_level"]):
                return False
            now = datetime.fromtimestamp(self.home.clock(), UTC)
            fields = {"message": record} if isinstance(record, str) else dict(record)
            # Time and level last: a record's own `level` key must not disguise the level it was written at.
            line = json.dumps({**fields, "time": now.isoformat(), "level": level}, default=str) + "\n"
            # One write() of one line on an O_APPEND descriptor: concurrent writers interleave lines, never bytes.
            fd = os.open(folder / RECORDS / f"{now.date().isoformat()}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
            return True

    def read(self, key: ResourceKey, since: date | None = None) -> list[dict[str, Any]]:
        """Every kept record, oldest first; from day `since` on if given."""
        with failures("read log", key):
            folder, _ = self.settings(key, "read log")
            records = []
            for day, path in self._day_files(folder):
                if since is None or day >= since:
                    with open(path, encoding="utf-8") as f:
                        records.extend(json.loads(line) for line in f if line.strip())
            return records

    def maintain(self, key: ResourceKey) -> Upkeep:
        """Remove day files older than `retention_days` now; `removed` counts them."""
        with failures("maintain", key):
            folder, metadata = self.settings(key, "maintain")
            return Upkeep(removed=self._enforce_retention(folder, metadata["fields"]["retention_days"]))

    # -- internals ---------------------------------------------------------------------------------------------------

    def _enforce_retention(self, folder: Path, retention_days: int) -> int:
        today = datetime.fromtimestamp(self.home.clock(), UTC).date()
        oldest_kept = today - timedelta(days=retention_days)
        removed = 0
        for day, path in self._day_files(folder):
            if day < oldest_kept:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    @staticmethod
    def _day_files(folder: Path) -> list[tuple[date, Path]]:
        found = []
        for entry in os.scandir(folder / RECORDS):
            match = _DAY_FILE.match(entry.name)
            if match:
                found.append((date.fromisoformat(match[1]), Path(entry.path)))
        return sorted(found)
