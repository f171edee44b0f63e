"""The Dagster code location: one `Definitions` built from the estate beside this package (`ecosystem/`).

`workspace.yaml` loads this module; `build_definitions(path)` (from `graph/definitions.py`) builds the same graph for
any other estate.
"""

from __future__ import annotations

from pathlib import Path

from mnops_assets.graph.definitions import build_definitions

ESTATE = Path(__file__).resolve().parents[1] / "ecosystem"


defs = build_definitions(ESTATE)

__all__ = ["ESTATE", "build_definitions", "defs"]
