"""The state store, on SQLite and on the real PostgreSQL: resources, versions, deploys, journal, locks."""

from __future__ import annotations

from dataclasses import replace

from mnops_assets.engine.state import Actor, ResourceRecord, StateStore

ME = Actor("alice", "host-a", 4242)


def record(name: str, retention: int = 30) -> ResourceRecord:
    return ResourceRecord("dev", name, "logging/v1", f"/r/{name}", {"retention_days": retention}, {"team": "a"})


def test_resources_are_written_replaced_and_dropped(store):
    store.put_resource(record("logs"))
    store.put_resource(record("logs", 60))
    store.put_resource(record("audit"))
    assert store.resources("dev")["logs"].fields == {"retention_days": 60}
    assert sorted(store.resources("dev")) == ["audit", "logs"]
    assert store.resources("prod") == {}
    store.drop_resource("dev", "logs")
    assert list(store.resources("dev")) == ["audit"]


def test_versions_count_up_per_platform(store):
    first = store.record_version("dev", "h1", {"name": "dev"}, {"logs": "logging/v1"}, {"logs": "/r/logs"}, "d1", ME)
    second = store.record_version("dev", "h2", {"name": "dev"}, {}, {}, "d2", ME, note="second")
    other = store.record_version("prod", "h3", {"name": "prod"}, {}, {}, "d3", ME)
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert [v.config_hash for v in store.versions("dev")] == ["h1", "h2"]
    latest = store.latest_version("dev")
    assert (latest.version, latest.note, latest.created_by, latest.host) == (2, "second", "alice", "host-a")
    assert latest.contracts == {} and store.versions("dev")[0].resources == {"logs": "/r/logs"}
    assert store.platforms() == ["dev", "prod"]


def test_a_lock_is_held_by_one_deploy_at_a_time(store):
    assert store.try_lock("dev", "deploy-1", ME) is None
    holder = store.try_lock("dev", "deploy-2", replace(ME, pid=9))
    assert holder is not None and holder.deploy_id == "deploy-1" and holder.holder == "alice@host-a (pid 4242)"
    assert store.try_lock("prod", "deploy-3", ME) is None
    assert not store.release_lock("dev", "deploy-2")
    assert store.release_lock("dev", "deploy-1")
    assert store.try_lock("dev", "deploy-2", ME) is None


def test_deploys_and_their_journal(store):
    store.start_deploy("d1", "dev", "deploy", "h1", ME)
    store.journal("d1", "dev", 1, "create", "logs", "started")
    store.journal("d1", "dev", 1, "create", "logs", "done")
    store.finish_deploy("d1", "succeeded")
    [deploy] = store.deploys("dev")
    assert (deploy["status"], deploy["started_by"], deploy["pid"]) == ("succeeded", "alice", 4242)
    assert [(j["step"], j["phase"]) for j in store.journal_of("d1")] == [(1, "started"), (1, "done")]


def test_a_second_store_on_the_same_database_sees_everything(state_url, store):
    store.put_resource(record("logs"))
    other = StateStore(state_url)
    try:
        assert list(other.resources("dev")) == ["logs"]
    finally:
        other.close()


def test_many_processes_may_create_a_new_store_at_once(state_url):
    import threading

    errors: list[BaseException] = []
    opened: list[StateStore] = []

    def open_one():
        try:
            opened.append(StateStore(state_url))
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(opened) == 6
    for store in opened:
        store.close()


def test_an_unusable_url_is_a_clear_error():
    import pytest

    from mnops_assets.engine.state import StateUnavailable

    with pytest.raises(
        StateUnavailable, match=r"state store postgresql\+psycopg://bob:\*\*\*@127.0.0.1:1/db cannot be opened"
    ):
        StateStore("postgresql+psycopg://bob:hunter2@127.0.0.1:1/db")
    with pytest.raises(StateUnavailable, match="bogus://x cannot be opened"):
        StateStore("bogus://x")


def test_a_sqlite_store_is_private_to_its_user(tmp_path):
    import stat

    from mnops_assets.engine import audit

    path = tmp_path / "home" / "state.db"
    opened = StateStore(f"sqlite:///{path}")
    audit.record(opened, "test.private", None, {}, ME)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for made in path.parent.iterdir():  # the database and SQLite's -wal and -shm files
        assert stat.S_IMODE(made.stat().st_mode) == 0o600, made.name
    opened.close()
    path.chmod(0o644)  # as an older mnops left it
    StateStore(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
