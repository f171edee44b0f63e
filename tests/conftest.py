"""Fixtures shared by every test: the shipped estate, and private copies of it to break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "ecosystem"


@pytest.fixture
def shipped() -> Path:
    return SHIPPED


@pytest.fixture
def estate_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped estate, safe to edit."""
    target = tmp_path / "ecosystem"
    shutil.copytree(SHIPPED, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target
