"""Fixtures shared by every test: the shipped estate, and private copies of it to break."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "ecosystem"
POSTGRES_ADMIN_URL = os.environ.get("MNOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pytest_configure(config: pytest.Config) -> None:
    # As root, local services run under ids of their own (adapters.local.isolation), which cannot run an interpreter
    # kept under a private home (this machine kind's lives under /root, 0700). The suite runs services as the deployer;
    # tests/adapters/local/test_isolation.py turns isolation on with an interpreter every user can run.
    os.environ.setdefault("MNOPS_LOCAL_SERVICE_ISOLATION", "off")


@pytest.fixture
def shipped() -> Path:
    return SHIPPED


@pytest.fixture
def estate_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped estate, safe to edit."""
    target = tmp_path / "ecosystem"
    shutil.copytree(SHIPPED, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The URL of a fresh database on the real PostgreSQL server, dropped afterwards.

    On a laptop without PostgreSQL the test skips and says why; in CI (CI=true) it fails instead, so a missing server
    can never turn the suite green by skipping.
    """
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server here"
        admin.dispose()
        reason = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc.__class__.__name__}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run the PostgreSQL tests)")
        pytest.skip(reason)
    name = f"mnops_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
