"""Import boundaries as a check that can fail: contracts import nothing of ours, adapters only contracts, only
mnops_assets imports dagster, and its stages import only the stages below them (import-linter contracts in
pyproject.toml)."""

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


def test_a_stage_importing_a_stage_above_it_is_caught(tmp_path):
    root = copy_tree(tmp_path)
    with (root / "mnops_assets" / "estate" / "spec.py").open("a") as f:
        f.write("\nimport mnops_assets.governance  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "mnops_assets stages import only the stages below them BROKEN" in result.stdout
    assert "mnops_assets.estate is not allowed to import mnops_assets.governance" in result.stdout


def test_the_graph_importing_its_code_location_back_is_caught(tmp_path):
    root = copy_tree(tmp_path)
    with (root / "mnops_assets" / "graph" / "launch.py").open("a") as f:
        f.write("\n\ndef _build():\n    from mnops_assets.definitions import defs  # noqa: F401\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "mnops_assets.graph is not allowed to import mnops_assets.definitions" in result.stdout


def test_a_top_level_module_without_a_stage_is_caught(tmp_path):
    root = copy_tree(tmp_path)
    (root / "mnops_assets" / "stray.py").write_text('"""A module nobody gave a stage."""\n')
    result = lint_imports(root)
    assert result.returncode != 0
    assert "mnops_assets stages import only the stages below them BROKEN" in result.stdout
    assert "mnops_assets.stray" in result.stdout


def test_the_command_line_modules_import_no_command_module_but_their_own(tmp_path):
    # The command modules are siblings: each imports `common` and `render`, never another command module.
    root = copy_tree(tmp_path)
    with (root / "mnops_assets" / "cli" / "drift.py").open("a") as f:
        f.write("\nimport mnops_assets.cli.deploy  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "mnops_assets.cli.drift is not allowed to import mnops_assets.cli.deploy" in result.stdout
