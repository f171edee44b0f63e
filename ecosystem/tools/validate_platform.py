"""Seed entry: validate one instance folder, or the whole estate, exactly as `mnops validate` does.

python ecosystem/tools/validate_platform.py ecosystem/platform-cloud/dev
"""

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).resolve().parents[2] / "mnops_assets" / "cli" / "seed.py"))["run"](
        "validate", __file__
    )
