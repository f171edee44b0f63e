"""Deploying through Dagster from the CLI: the same assets, checks and instance the UI shows.

`mnops deploy` materializes `config/<instance>` (its governance checks) and `platform/<instance>` on the Dagster
instance under DAGSTER_HOME (default `.mnops/dagster/`, seeded with the repository's dagster.yaml), so deployments
started from a terminal appear in the UI's history and pass the same blocking checks as those started there.

Dagster's storage holds every run's logs and metadata (instance names, resource outputs, errors): the folder is made
0700, and after each run what Dagster wrote there is narrowed to its owner (a umask for the whole run would also
narrow what the run deploys, the local provider's folders, which are not Dagster's to decide).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import DagsterEventType, DagsterInstance

from mnops_assets.engine.runtime import home
from mnops_assets.estate import Estate
from mnops_assets.graph.definitions import build_definitions
from mnops_assets.graph.factory import BLOCKING_CHECK, FORCE_TAG, WAIT_TAG, config_key, platform_key

LAUNCHED_BY = "mnops/launched-by"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass(frozen=True)
class Outcome:
    instance: str
    ok: bool
    metadata: dict[str, Any]
    error: str = ""


def dagster_home(estate: Estate) -> Path:
    """DAGSTER_HOME, or `<home>/dagster` holding a copy of the repository's dagster.yaml (or Dagster's defaults).
    mnops makes the folder 0700; one it chose itself is narrowed to 0700 if an older mnops made it wider, while a
    DAGSTER_HOME someone set is theirs to share."""
    configured = os.environ.get("DAGSTER_HOME")
    folder = Path(configured) if configured else home(estate) / "dagster"
    with private_files():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not configured and folder.stat().st_uid == os.getuid() and folder.stat().st_mode & 0o077:
            folder.chmod(0o700)
        target = folder / "dagster.yaml"
        if not target.exists():
            shipped = estate.root.parent / "dagster.yaml"
            if shipped.is_file():
                shutil.copyfile(shipped, target)
            else:
                target.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return folder


@contextmanager
def private_files() -> Iterator[None]:
    """Files and folders made meanwhile are readable by their owner only (the process's umask: Dagster's storages are
    made by Dagster's own code, so a mode at each creation is not ours to pass)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def narrow(folder: Path) -> None:
    """What this user owns under `folder` loses every group and other permission: run storage, event logs, compute
    logs. The folder is 0700 already; this keeps the files private if it is ever copied or opened up."""
    uid = os.getuid()
    for path in (folder, *folder.rglob("*")):
        try:
            status = path.lstat()
        except FileNotFoundError:  # a file Dagster removed meanwhile
            continue
        if status.st_uid == uid and status.st_mode & 0o077 and not path.is_symlink():
            path.chmod(status.st_mode & 0o700)


def deploy(estate: Estate, names: list[str], *, wait: bool, force: bool = False) -> list[Outcome]:
    """Materialize config and platform of each instance in one run; what happened to each."""
    defs = build_definitions(estate.root)
    job = defs.resolve_implicit_global_asset_job_def()
    selection = [key for name in names for key in (config_key(name), platform_key(name))]
    folder = dagster_home(estate)
    ours = not os.environ.get("DAGSTER_HOME")
    try:
        with private_files():
            instance = DagsterInstance.from_config(str(folder))
        with instance:
            result = job.execute_in_process(
                instance=instance,
                asset_selection=selection,
                raise_on_error=False,
                tags={LAUNCHED_BY: "cli", WAIT_TAG: str(wait).lower(), FORCE_TAG: str(force).lower()},
                run_config=QUIET,
            )
            return [_outcome(name, result) for name in names]
    finally:
        if ours:
            narrow(folder)


def _outcome(name: str, result: Any) -> Outcome:
    platform = platform_key(name)
    for event in result.get_asset_materialization_events():
        if event.asset_key == platform:
            metadata = {k: v.value for k, v in event.materialization.metadata.items()}
            return Outcome(name, True, metadata)
    step = "__".join(platform.path)
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE and event.step_key == step:
            error = event.event_specific_data.error
            return Outcome(name, False, {}, _message(error))
    for evaluation in result.get_asset_check_evaluations():
        if (
            evaluation.asset_key == config_key(name)
            and evaluation.check_name == BLOCKING_CHECK
            and not evaluation.passed
        ):
            findings = evaluation.metadata.get("findings")
            detail = findings.value if findings is not None else ""
            return Outcome(name, False, {}, f"refused by governance (blocking check failed):\n{detail}")
    return Outcome(name, False, {}, "not deployed: an upstream step failed (see the run in the Dagster UI)")


def _message(error: Any) -> str:
    # A Failure's description is the whole story (the engine's own message); other errors say what they are.
    while error is not None and error.cls_name in ("DagsterExecutionStepExecutionError",) and error.cause is not None:
        error = error.cause
    text = error.message.strip() if error is not None else "failed"
    return text.removeprefix("dagster._core.definitions.events.Failure: ")
