"""The estate as data: YAML with positions (`yamldoc`), the four kinds of file (`files`), layered resolution with
provenance (`layers`), the resolved spec (`spec`), readable validation messages (`validation`) and the loader that
turns an `ecosystem/` folder into frozen, validated platforms (`loader`).

Nothing here imports the engine, governance or dagster: every other part of mnops reads the estate through this package.
"""

from mnops_assets.estate.loader import (
    ECOSYSTEM_FILE,
    ENVIRONMENT_FILE,
    INSTANCES_DIR,
    PLATFORM_FILE,
    TEMPLATES_DIR,
    Estate,
    ResolvedPlatform,
    ResolvedTemplate,
    display,
    find_estate,
    load_estate,
)

__all__ = [
    "ECOSYSTEM_FILE",
    "ENVIRONMENT_FILE",
    "INSTANCES_DIR",
    "PLATFORM_FILE",
    "TEMPLATES_DIR",
    "Estate",
    "ResolvedPlatform",
    "ResolvedTemplate",
    "display",
    "find_estate",
    "load_estate",
]
