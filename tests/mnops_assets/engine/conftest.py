"""State stores for engine tests: SQLite always, and the real PostgreSQL this machine kind runs.

On a laptop without PostgreSQL the PostgreSQL variants skip and say why; in CI (CI=true) they fail instead, so a
missing server can never turn the suite green by skipping.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.local import testing
from adapters.local.adapter import LocalAdapter
from mnops_assets.engine.apply import Engine
from mnops_assets.engine.state import StateStore
from tests.mnops_assets.engine.platforms import MASTER_KEY, make_engine

AUDIT_KEY = bytes(range(32))


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
    else:
        yield request.getfixturevalue("postgres_database")


@pytest.fixture
def store(state_url) -> Iterator[StateStore]:
    opened = StateStore(state_url, audit_key=AUDIT_KEY)
    yield opened
    opened.close()


@pytest.fixture
def adapter(tmp_path) -> Iterator[LocalAdapter]:
    local = LocalAdapter(root=tmp_path / "local", master_key=MASTER_KEY)
    yield local
    testing.remove_everything(local)
    local.close()


@pytest.fixture
def engine(store, adapter, tmp_path) -> Engine:
    return make_engine(store, adapter, tmp_path)
