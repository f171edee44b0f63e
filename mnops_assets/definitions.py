"""The Dagster code location: one `Definitions` built from the estate beside this package (`ecosystem/`).

`workspace.yaml` loads this module; `build_definitions(path)` builds the same graph for any other estate.
"""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions

from mnops_assets.governance import load_governed
from mnops_assets.graph.factory import build_assets
from mnops_assets.graph.resources import LocalProvider, Mnops
from mnops_assets.graph.sensors import automation_sensor, drift_sensor_definition, in_sync_checks

ESTATE = Path(__file__).resolve().parents[1] / "ecosystem"


def build_definitions(estate_path: Path, *, state_url: str | None = None) -> Definitions:
    """Every asset, check and sensor of the estate at `estate_path`; an invalid estate fails the load with its
    problems (file:line), so the UI shows them instead of a graph that would deploy the wrong thing."""
    estate, _ = load_governed(estate_path)
    names = list(estate.platforms)
    return Definitions(
        assets=build_assets(estate),
        asset_checks=[in_sync_checks(names)] if names else [],
        sensors=[drift_sensor_definition(names), automation_sensor()],
        resources={"mnops": Mnops(estate=str(estate_path), state_url=state_url, local=LocalProvider())},
    )


defs = build_definitions(ESTATE)
