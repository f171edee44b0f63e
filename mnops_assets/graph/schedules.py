"""Housekeeping as a daily Dagster schedule: `maintenance_job` runs `Engine.maintain` over the estate's deployed
platforms (expiry, purges, rotation of secrets whose `rotation_days` have passed, restarts of their readers), and
`maintenance_schedule`, running by default, launches it once a day.

Rotation is due once `rotation_days` have passed since a value was written, so a daily run rotates each secret at most
a day late. The run fails, naming each failed platform, when any platform's housekeeping failed; the others are
maintained all the same.
"""

# No `from __future__ import annotations`: Dagster reads the op's annotations (context, resource) as objects.
from typing import Any

from dagster import (
    DefaultScheduleStatus,
    Failure,
    MetadataValue,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)

from mnops_assets.engine.maintenance import MaintenanceResult
from mnops_assets.graph.resources import Mnops

MAINTENANCE_CRON = "17 3 * * *"
"""Daily at 03:17 UTC: a quiet hour, and off the full hour every other schedule of a shared daemon starts at."""


@op(description="Housekeeping of every deployed platform: expiry, purges, secret rotation and the restarts it needs.")
def maintain_platforms(context: OpExecutionContext, mnops: Mnops) -> dict[str, Any]:
    estate, _ = mnops.load()
    # No governance gate: housekeeping re-applies only what was deployed (and judged) already.
    engine = mnops.engine(estate, None)
    try:
        # Wait for a deploy in progress rather than skip its platform for a day.
        results = engine.maintain([platform.spec for platform in estate.platforms.values()], wait=True)
    finally:
        engine.close()
    for result in results.values():
        if result.changed or result.error is not None:
            context.log.info(_summary(result))
    failed = {name: result.error for name, result in results.items() if result.error is not None}
    metadata = {
        "platforms": MetadataValue.int(len(results)),
        "rotated": MetadataValue.json({n: list(r.rotated) for n, r in sorted(results.items()) if r.rotated}),
        "restarted": MetadataValue.json({n: list(r.restarted) for n, r in sorted(results.items()) if r.restarted}),
        "removed": MetadataValue.json({n: r.removed for n, r in sorted(results.items()) if r.removed}),
    }
    if failed:
        listed = "\n".join(f"  {name}: {error}" for name, error in sorted(failed.items()))
        raise Failure(
            description=f"housekeeping failed for {len(failed)} platform(s):\n{listed}",
            metadata={**metadata, "failed": MetadataValue.json(failed)},
        )
    context.add_output_metadata(metadata)
    return {name: result.to_dict() for name, result in sorted(results.items())}


@job(description="Housekeeping of the estate's deployed platforms (see maintenance_schedule).")
def maintenance_job() -> None:
    maintain_platforms()


maintenance_schedule = ScheduleDefinition(
    name="maintenance_schedule",
    job=maintenance_job,
    cron_schedule=MAINTENANCE_CRON,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily housekeeping: rotates secrets whose rotation_days have passed and restarts their readers.",
)


def _summary(result: MaintenanceResult) -> str:
    parts = []
    if result.rotated:
        parts.append(f"rotated {', '.join(result.rotated)}")
    if result.restarted:
        parts.append(f"restarted {', '.join(result.restarted)}")
    if result.removed:
        parts.append(f"removed {result.removed} expired item(s)")
    if result.error:
        parts.append(f"failed: {result.error}")
    return f"{result.platform}: {'; '.join(parts)}"
