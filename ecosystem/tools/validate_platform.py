"""Seed entry: validate one instance folder, or the whole estate, exactly as `mnops validate` does.

    python ecosystem/tools/validate_platform.py ecosystem/platform-cloud/dev
"""

import os
import sys
from pathlib import Path

try:
    from mnops_assets.cli import main
except ImportError:
    # Run by a Python without the package: use the project's own environment when `make setup` has made it.
    venv_python = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"
    if venv_python.is_file() and os.path.abspath(sys.executable) != str(venv_python):
        os.execv(venv_python, [str(venv_python), *sys.argv])
    sys.exit("mnops is not installed in this Python: run `make setup`, then `source .venv/bin/activate`")

if __name__ == "__main__":
    main(["validate", *sys.argv[1:]])
