"""PostgreSQL backends killed by the real server (pg_terminate_backend) all through a platform's life: a deploy, an
update and a destroy each lose connections mid-statement and still converge; a deploy failing on its own while
connections die still rolls back, with its row finished and its lock released."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

import pytest
from sqlalchemy import create_engine

from mnops_assets.engine import audit
from mnops_assets.engine.apply import Failpoints
from mnops_assets.engine.errors import DeployFailed
from mnops_assets.engine.state import StateStore
from tests.conftest import POSTGRES_ADMIN_URL
from tests.faults.inject import kill_backend_when
from tests.mnops_assets.engine.platforms import make_engine, spec

pytestmark = pytest.mark.slow

V2 = {"resources.jobs.retention_seconds": 3600, "resources.cache": {"contract": "storage/v1"}}
EVERY = 7
"""One statement in so many runs on a backend the server terminates first: writes and reads, in every table."""


@pytest.fixture
def store(postgres_database) -> Iterator[StateStore]:
    opened = StateStore(postgres_database, lock_timeout=2)
    yield opened
    opened.close()


@pytest.fixture
def admin() -> Iterator:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def adapter(tmp_path):
    from adapters.local import testing
    from adapters.local.adapter import LocalAdapter
    from tests.mnops_assets.engine.platforms import MASTER_KEY

    local = LocalAdapter(root=tmp_path / "local", master_key=MASTER_KEY)
    yield local
    testing.remove_everything(local)
    local.close()


def every(n: int):
    seen = count(1)
    return lambda statement, parameters: next(seen) % n == 0


def test_a_platform_lives_through_killed_backends_deploy_update_and_destroy(store, admin, adapter, tmp_path, faults):
    engine = make_engine(store, adapter, tmp_path)
    with faults.family("postgres") as episode:
        killed = kill_backend_when(store, admin, every(EVERY), times=1000)
        first = engine.deploy(spec())
        second = engine.deploy(spec(V2))
        assert (first.version.version, second.version.version) == (1, 2)
        assert adapter.observe("dev")["jobs"].fields["retention_seconds"] == 3600
        assert engine.plan(spec(V2)).changed is False
        engine.destroy(spec(V2), force=True)
        episode.injected = len(killed)
        assert adapter.observe("dev") == {} and store.resources("dev") == {}
        assert [d["status"] for d in store.deploys("dev")] == ["succeeded"] * 3
        assert store.lock_of("dev") is None and audit.verify(store) == []
    assert len(killed) >= 10, killed  # the share held: this many connections really died


def test_a_failing_deploy_rolls_back_while_backends_are_killed(store, admin, adapter, tmp_path, faults):
    engine = make_engine(store, adapter, tmp_path)
    assert engine.deploy(spec()).version.version == 1
    engine.failpoints = Failpoints.parse("after:2=fail")  # both steps done, then the deploy fails
    with faults.family("postgres") as episode:
        killed = kill_backend_when(store, admin, every(EVERY), times=1000)
        with pytest.raises(DeployFailed, match="rolled back") as failed:
            engine.deploy(spec(V2))
        episode.injected = len(killed)
        assert failed.value.rolled_back
        assert [d["status"] for d in store.deploys("dev")] == ["succeeded", "rolled-back"]
        assert store.lock_of("dev") is None and [v.version for v in store.versions("dev")] == [1]
        observed = adapter.observe("dev")
        assert "cache" not in observed and observed["jobs"].fields["retention_seconds"] == 86400
        engine.failpoints = Failpoints()
        assert engine.deploy(spec(V2)).version.version == 2  # and nothing stands in the next one's way
    assert len(killed) >= 3, killed
