"""Evaluating the code location's real `drift_sensor` once, as the daemon would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import DagsterInstance, Definitions, SensorResult, build_sensor_context

from mnops_assets.graph.resources import LocalProvider, Mnops


def tick(definitions: Definitions, estate: Path, instance: DagsterInstance, cursor: str | None = None) -> Any:
    """One evaluation of `definitions`' `drift_sensor` for `estate`, given its resources as the daemon gives them."""
    sensor = next(s for s in definitions.sensors if s.name == "drift_sensor")
    resources = {"mnops": Mnops(estate=str(estate), local=LocalProvider())}
    with build_sensor_context(
        instance=instance, cursor=cursor, resources=resources, definitions=definitions
    ) as context:
        result: SensorResult = sensor(context)
        return result
