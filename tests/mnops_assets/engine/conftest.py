"""State stores for engine tests: SQLite always, and the real PostgreSQL this machine kind runs.

On a laptop without PostgreSQL the PostgreSQL variants skip and say why; in CI (CI=true) they fail instead, so a
missing server can never turn the suite green by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from mnops_assets.engine.state import StateStore

POSTGRES_ADMIN_URL = os.environ.get("MNOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server here"
        admin.dispose()
        reason = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc.__class__.__name__}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run the PostgreSQL state tests)")
        pytest.skip(reason)
    name = f"mnops_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def store(state_url) -> Iterator[StateStore]:
    opened = StateStore(state_url)
    yield opened
    opened.close()
