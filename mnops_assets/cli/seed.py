"""Runs an `mnops` command for the estate's seed scripts (ecosystem/enforce.py, ecosystem/tools/*.py).

Loaded by path, before the package may be importable: only the standard library at the top. Run by a Python without
the package, it re-runs the calling script with the project's own environment when `make setup` has made it.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(command: str, script: str, estate: str | None = None) -> None:
    """Run `mnops COMMAND` with the script's arguments; `estate` is the default estate (MNOPS_ESTATE) if given."""
    try:
        from mnops_assets.cli import main
    except ImportError:
        venv_python = REPO / ".venv" / "bin" / "python"
        if venv_python.is_file() and os.path.abspath(sys.executable) != str(venv_python):
            os.execv(venv_python, [str(venv_python), script, *sys.argv[1:]])
        sys.exit("mnops is not installed in this Python: run `make setup`, then `source .venv/bin/activate`")
    if estate is not None:
        os.environ["MNOPS_ESTATE"] = estate
    main([command, *sys.argv[1:]])
