"""Seed entry: deploy one instance folder, exactly as `mnops deploy` does.

python ecosystem/tools/deploy_platform.py ecosystem/platform-cloud/dev
"""

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).resolve().parents[2] / "mnops_assets" / "cli" / "seed.py"))["run"](
        "deploy", __file__
    )
