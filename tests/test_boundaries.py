"""Import boundaries as a check that can fail: contracts import nothing of ours, adapters only contracts, and only
mnops_assets imports dagster (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("contracts", "adapters", "mnops_assets")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)


def test_the_tree_keeps_its_boundaries():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def copy_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_contract_importing_the_product_is_caught(tmp_path):
    root = copy_tree(tmp_path)
    with (root / "contracts" / "base.py").open("a") as f:
        f.write("\nimport mnops_assets.errors  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "contracts import nothing of ours BROKEN" in result.stdout


def test_an_adapter_importing_dagster_is_caught(tmp_path):
    root = copy_tree(tmp_path)
    with (root / "adapters" / "local" / "__init__.py").open("a") as f:
        f.write("\nimport dagster  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "adapters import contracts only, never dagster BROKEN" in result.stdout
