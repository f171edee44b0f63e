"""Seed entry: enforce governance over the whole estate (or one instance folder), exactly as `mnops enforce` does.

python ecosystem/enforce.py [--format table|json|sarif|junit] [PATH]
"""

import os
import sys
from pathlib import Path

try:
    from mnops_assets.cli import main
except ImportError:
    # Run by a Python without the package: use the project's own environment when `make setup` has made it.
    venv_python = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
    if venv_python.is_file() and os.path.abspath(sys.executable) != str(venv_python):
        os.execv(venv_python, [str(venv_python), *sys.argv])
    sys.exit("mnops is not installed in this Python: run `make setup`, then `source .venv/bin/activate`")

if __name__ == "__main__":
    # The estate is the folder this script lives in, wherever it is run from.
    os.environ["MNOPS_ESTATE"] = str(Path(__file__).resolve().parent)
    main(["enforce", *sys.argv[1:]])
