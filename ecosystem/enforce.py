"""Seed entry: enforce governance over the whole estate, exactly as `mnops enforce` does.

python ecosystem/enforce.py [--format table|json|sarif|junit]
"""

import runpy
from pathlib import Path

if __name__ == "__main__":
    seed = runpy.run_path(str(Path(__file__).resolve().parents[1] / "mnops_assets" / "cli" / "seed.py"))
    # The estate is the folder this script lives in, wherever it is run from.
    seed["run"]("enforce", __file__, str(Path(__file__).resolve().parent))
