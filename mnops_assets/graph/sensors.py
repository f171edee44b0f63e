"""Drift: the `drift_sensor`, the on-demand `is_in_sync` checks over `observed/*`, and the automation sensor.

The sensor judges a shard of instances per tick (ticks must stay well under Dagster's 60 s limit) and answers as each
instance's drift policy says: `remediate` requests a redeploy with run key `instance:declared:vVERSION:observed` (the
same drift from the same version is never redeployed twice; the same drift coming back after its remediation is),
`alert` fails the `is_in_sync` check only, `adopt` writes a platform.yaml patch for review. Muted fields
(`drift.ignore`) never count.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetObservation,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    multi_asset_check,
    sensor,
)

from mnops_assets.engine import adopt
from mnops_assets.engine.apply import DriftReport, Engine
from mnops_assets.engine.runtime import home
from mnops_assets.estate import Estate
from mnops_assets.estate.spec import PlatformSpec
from mnops_assets.graph.factory import SYNC_CHECK, observed_key, platform_key
from mnops_assets.graph.resources import Mnops

SHARD_SIZE = 250
"""Instances judged per tick: a tick of 250 local instances takes well under a second; 1,000 take 4 ticks."""
CHUNK = 50
"""Instances whose state is read in one query: the budget is checked between chunks."""
TICK_BUDGET_SECONDS = 20.0
"""Stop early when a slow provider makes a shard take this long: Dagster kills a tick at 60 s."""


def drift_sensor_definition(names: list[str]) -> SensorDefinition:
    @sensor(
        name="drift_sensor",
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        target=AssetSelection.groups("platforms"),
        description="Observes a shard of instances per tick; remediates, alerts or proposes a YAML patch.",
    )
    def drift_sensor(context: SensorEvaluationContext, mnops: Mnops) -> SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {"next": 0, "seen": {}}
        start = cursor["next"] % len(names) if names else 0
        shard = [names[(start + i) % len(names)] for i in range(min(SHARD_SIZE, len(names)))]
        began = time.monotonic()
        requests: list[RunRequest] = []
        events: list[Any] = []
        estate, policies = mnops.load(shard)
        engine = mnops.engine(estate, None)
        judged = 0
        try:
            for chunk in _chunks(shard, CHUNK):
                if time.monotonic() - began > TICK_BUDGET_SECONDS:
                    break
                judged += len(chunk)
                specs = [estate.platform(name).spec for name in chunk]
                reports = engine.inspect(specs)
                for spec in specs:
                    _respond(spec, reports.get(spec.name), cursor, events, requests, estate, engine)
        finally:
            engine.close()
        cursor["next"] = (start + judged) % len(names) if names else 0
        context.log.info(
            f"judged {judged} instance(s) in {time.monotonic() - began:.2f} s; {len(requests)} redeploy(s)"
        )
        return SensorResult(run_requests=requests, asset_events=events, cursor=json.dumps(cursor))

    return drift_sensor


def _respond(
    spec: PlatformSpec,
    report: DriftReport | None,
    cursor: dict[str, Any],
    events: list[Any],
    requests: list[RunRequest],
    estate: Estate,
    engine: Engine,
) -> None:
    """Record one instance's observation and answer its drift as its policy says."""
    name = spec.name
    if report is None:
        return  # never deployed: nothing to compare with
    new = cursor["seen"].get(name) != report.observed_hash
    cursor["seen"][name] = report.observed_hash
    events.extend(_events(name, report))
    if report.in_sync or report.error is not None:
        return  # an error fails the check (its metadata says why); there is nothing to redeploy or adopt
    if new:
        engine.record_drift(spec, report)
    if spec.drift.policy == "remediate":
        # Dagster launches a run key once per sensor, ever: the version drifted from tells a drift that comes back
        # after its remediation (a new version) from the same drift seen again, which must not redeploy twice.
        run_key = f"{name}:{spec.config_hash()[:16]}:v{report.version}:{report.observed_hash[:16]}"
        tags = {"mnops/provider": spec.provider, "mnops/instance": name}  # the run queue's limits key on these
        requests.append(RunRequest(run_key=run_key, asset_selection=[platform_key(name)], tags=tags))
    elif spec.drift.policy == "adopt" and new:
        _write_adoption(estate, name, report, engine)


def _chunks(names: list[str], size: int) -> list[list[str]]:
    return [names[i : i + size] for i in range(0, len(names), size)]


def in_sync_checks(names: Iterable[str]) -> Any:
    """`is_in_sync` on every `observed/<instance>`: the sensor records them each tick; they also run on demand."""
    specs = [
        AssetCheckSpec(SYNC_CHECK, asset=observed_key(name), description="Nothing changed outside mnops.")
        for name in names
    ]

    @multi_asset_check(specs=specs, can_subset=True, name="observed_is_in_sync")
    def _in_sync(context, mnops: Mnops) -> Iterable[AssetCheckResult]:  # noqa: ANN001 - dagster reads the bare name
        selected = [key.asset_key.path[-1] for key in context.selected_asset_check_keys]
        estate, _ = mnops.load(selected)
        engine = mnops.engine(estate, None)
        try:
            reports = engine.inspect([estate.platform(name).spec for name in selected])
        finally:
            engine.close()
        for name in selected:
            report = reports.get(name)
            if report is None:
                yield AssetCheckResult(
                    asset_key=observed_key(name), check_name=SYNC_CHECK, passed=True, metadata={"deployed": False}
                )
            else:
                yield AssetCheckResult(
                    asset_key=observed_key(name),
                    check_name=SYNC_CHECK,
                    passed=report.in_sync,
                    severity=AssetCheckSeverity.WARN,
                    metadata=_drift_metadata(report),
                )

    return _in_sync


def automation_sensor() -> AutomationConditionSensorDefinition:
    # Dagster's own automation sensor is stopped by default in OSS: this one runs, so auto_deploy instances redeploy.
    return AutomationConditionSensorDefinition(
        "mnops_automation_sensor",
        target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Redeploys auto_deploy instances whose config changed, once their blocking checks pass.",
    )


def _events(name: str, report: DriftReport) -> list[Any]:
    metadata = _drift_metadata(report)
    return [
        AssetObservation(asset_key=observed_key(name), metadata=metadata),
        AssetCheckEvaluation(
            asset_key=observed_key(name),
            check_name=SYNC_CHECK,
            passed=report.in_sync,
            severity=AssetCheckSeverity.WARN,
            metadata=metadata,
        ),
    ]


def _drift_metadata(report: DriftReport) -> dict[str, Any]:
    diff = [
        {"resource": s.name, "action": s.action.value, "reason": s.reason, "changes": s.to_dict()["changes"]}
        for s in report.steps
    ]
    return {
        "in_sync": report.in_sync,
        "error": report.error or "",
        "observed_hash": report.observed_hash,
        "compared_with_version": report.version,
        "drift": MetadataValue.json(diff),
    }


def _write_adoption(estate: Estate, name: str, report: DriftReport, engine: Engine) -> Path:
    adoption = adopt.propose(estate.platform(name), report.steps)
    folder = home(estate) / "adopt"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{report.observed_hash[:12]}.patch"
    notes = "".join(f"# not adopted: {line}\n" for line in adoption.skipped)
    path.write_text(notes + adoption.patch, encoding="utf-8")
    engine.audit("drift.adoption-proposed", name, {"patch": str(path), "observed_hash": report.observed_hash})
    return path
