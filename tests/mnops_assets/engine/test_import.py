"""Import on the real local provider: a platform whose state was lost is adopted as it stands, found by tags or by
name, without making anything again; a dry run and every refusal write nothing. Runs on SQLite and PostgreSQL state."""

from __future__ import annotations

import json

import pytest

from adapters.base import IDENTITY_TAGS, ResourceKey
from adapters.local import testing
from adapters.local.adapter import LocalAdapter
from adapters.local.files import METADATA, read_json, write_json
from mnops_assets.engine import audit
from mnops_assets.engine.apply import Engine, Failpoints
from mnops_assets.engine.errors import PlatformLocked
from mnops_assets.engine.importing import FOUND_BY_NAME, FOUND_BY_TAGS, ImportRefused
from mnops_assets.engine.plan import Action
from mnops_assets.engine.state import Actor, ResourceRecord, StateStore, metadata
from tests.mnops_assets.engine.platforms import BASE, make_engine, spec


@pytest.fixture
def lost(store, adapter, tmp_path):
    """An engine on the same database once every table was dropped and made again: the state lost, the resources
    still there."""

    def lose() -> Engine:
        metadata.drop_all(store.engine)
        return make_engine(StateStore(store.url), adapter, tmp_path)

    return lose


def strip_identity(adapter: LocalAdapter, kind: str, name: str) -> dict:
    """Take mnops's identity tags off a resource, as if it had been made by hand; returns its metadata as left."""
    path = adapter.home.folder(kind, ResourceKey("dev", name)) / METADATA
    document = read_json(path)
    document["tags"] = {k: v for k, v in document["tags"].items() if k not in IDENTITY_TAGS}
    write_json(path, document)
    return document


def nothing_written(store: StateStore) -> bool:
    return not (store.resources("dev") or store.versions("dev") or store.deploys("dev") or audit.records(store))


def test_lost_state_is_imported_by_tags_as_the_deploy_recorded_it(engine, lost, adapter):
    engine.deploy(spec())
    recorded = engine.store.resources("dev")
    ids = {name: o.resource_id for name, o in adapter.observe("dev").items()}
    fresh = lost()
    assert nothing_written(fresh.store)

    result = fresh.import_platform(spec())
    assert [(a.name, a.found_by, a.tagged) for a in result.resources] == [
        (name, FOUND_BY_TAGS, False) for name in sorted(BASE["resources"])
    ]
    assert (result.version.version, result.version.note) == (1, "imported")
    assert result.version.config_hash == spec().config_hash() and result.version.resources == ids
    assert fresh.store.resources("dev") == recorded  # row for row what the deploy itself had recorded
    assert not result.plan.changed and not fresh.plan(spec()).changed
    assert [d["kind"] for d in fresh.store.deploys("dev")] == ["import"]
    redeploy = fresh.deploy(spec())
    assert redeploy.version is None  # a no-op: nothing made again, no version
    assert {name: o.resource_id for name, o in adapter.observe("dev").items()} == ids


def test_drift_is_found_after_an_import(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    fresh.import_platform(spec())
    assert fresh.drift(spec()) == []
    testing.tamper(adapter, adapter.observe("dev")["jobs"])
    [step] = fresh.drift(spec())
    assert [(c.field, c.before, c.after, c.cause) for c in step.changes] == [("retention_seconds", 60, 86400, "drift")]


def test_the_import_is_audited_with_references_never_values(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    result = fresh.import_platform(spec())
    records = audit.records(fresh.store, "dev")
    assert [r.type for r in records] == ["io.mnops.import.started", "io.mnops.import.succeeded"]
    assert [r.seq for r in records] == list(result.audit_seqs)
    data = records[-1].event["data"]
    assert data["version"] == 1 and data["deploy_id"] == result.deploy_id
    assert {r["resource"]: r["resource_id"] for r in data["resources"]} == result.version.resources
    value = adapter.secrets.reveal(ResourceKey("dev", "api-key"))
    assert value not in json.dumps([r.event for r in records])
    assert audit.verify(fresh.store) == []


def test_a_resource_without_identity_tags_gets_them_and_nothing_else(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    before = strip_identity(adapter, "queue", "jobs")
    result = fresh.import_platform(spec())

    jobs = next(a for a in result.resources if a.name == "jobs")
    assert (jobs.found_by, jobs.tagged) == (FOUND_BY_NAME, True)
    assert [a.name for a in result.resources if a.tagged] == ["jobs"]
    after = read_json(adapter.home.folder("queue", ResourceKey("dev", "jobs")) / METADATA)
    assert after == {**before, "tags": {**before["tags"], **jobs.observed.tags}}
    assert {t: jobs.observed.tags[t] for t in IDENTITY_TAGS} == {
        "mnops-platform": "dev",
        "mnops-resource": "jobs",
        "mnops-managed-by": "mnops",
        "mnops-contract": "queue/v1",
    }
    assert not fresh.plan(spec()).changed
    [tag] = [e for e in fresh.store.journal_of(result.deploy_id) if e["phase"] == "done"]
    assert (tag["action"], tag["resource"]) == ("tag", "jobs")


def test_a_dry_run_writes_nothing_and_says_what_would_be_tagged(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    stripped = strip_identity(adapter, "queue", "jobs")
    result = fresh.import_platform(spec(), dry_run=True)
    assert result.dry_run and result.version is None and result.deploy_id is None
    assert [a.name for a in result.resources if a.tagged] == ["jobs"]
    assert not result.plan.changed  # what the plan will say once imported
    assert nothing_written(fresh.store)
    assert read_json(adapter.home.folder("queue", ResourceKey("dev", "jobs")) / METADATA) == stripped


def test_a_missing_resource_is_refused_and_nothing_is_written(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    stripped = strip_identity(adapter, "queue", "jobs")
    adapter.storage.delete(adapter.observe("dev")["assets"])
    with pytest.raises(ImportRefused) as refused:
        fresh.import_platform(spec())
    assert [(p.resource, p.reason) for p in refused.value.problems] == [
        ("assets", "no storage/v1 resource found, by identity tags or by the name it implies")
    ]
    assert "nothing was written" in str(refused.value)
    assert nothing_written(fresh.store)
    # Not even the tags of the resource that was found: nothing is half-applied.
    assert read_json(adapter.home.folder("queue", ResourceKey("dev", "jobs")) / METADATA) == stripped


def test_every_problem_is_named_at_once(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    adapter.storage.delete(adapter.observe("dev")["assets"])
    adapter.logging.delete(adapter.observe("dev")["app-logs"])
    wanted = spec({"resources.jobs.fifo": True, "resources.api-key": {"contract": "storage/v1"}})
    with pytest.raises(ImportRefused) as refused:
        fresh.import_platform(wanted)
    problems = {p.resource: p for p in refused.value.problems}
    assert sorted(problems) == ["api-key", "app-logs", "assets", "jobs"]
    assert problems["jobs"].field == "fifo"
    assert problems["jobs"].reason.startswith("fifo is false there and true in YAML, which cannot change in place")
    assert problems["api-key"].reason.startswith("declared as storage/v1, but ")
    assert "is a secrets/v1 resource" in problems["api-key"].reason
    assert nothing_written(fresh.store)


def test_a_value_unlike_the_yaml_is_a_change_the_yaml_asks_for_not_drift(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    wanted = spec({"resources.jobs.retention_seconds": 3600})
    result = fresh.import_platform(wanted)
    [step] = result.plan.steps
    assert (step.action, step.name, step.reason) == (Action.UPDATE, "jobs", "changed in YAML")
    assert [(c.field, c.before, c.after, c.cause) for c in step.changes] == [
        ("retention_seconds", 86400, 3600, "config")
    ]
    assert fresh.plan(wanted).to_dict() == result.plan.to_dict()
    assert fresh.drift(wanted) == []
    applied = fresh.deploy(wanted)
    assert applied.version.version == 2 and adapter.observe("dev")["jobs"].fields["retention_seconds"] == 3600


def test_missing_tags_are_changes_the_yaml_asks_for(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    path = adapter.home.folder("logging", ResourceKey("dev", "app-logs")) / METADATA
    document = read_json(path)
    document["tags"] = {}  # made by hand: no tag at all
    write_json(path, document)
    result = fresh.import_platform(spec())
    [step] = result.plan.steps
    assert (step.name, step.reason) == ("app-logs", "changed in YAML")
    assert [(c.field, c.before, c.after, c.cause) for c in step.changes] == [
        ("tags.service", None, "storefront", "config")
    ]


def test_a_muted_field_stays_muted(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    wanted = spec({"resources.app-logs.retention_days": 30}, drift={"ignore": ["app-logs.retention_days"]})
    result = fresh.import_platform(wanted)
    assert not result.plan.changed and fresh.drift(wanted) == []
    assert fresh.store.resources("dev")["app-logs"].fields["retention_days"] == 30


def test_a_deployed_platform_is_refused_unless_in_sync(engine):
    engine.deploy(spec())
    events = len(audit.records(engine.store))
    result = engine.import_platform(spec())
    assert result.already_deployed and result.version.version == 1 and not result.resources
    assert len(engine.store.versions("dev")) == 1 and len(audit.records(engine.store)) == events
    with pytest.raises(ImportRefused, match=r"deployed already \(version 1\)"):
        engine.import_platform(spec({"resources.jobs.retention_seconds": 600}))
    assert len(engine.store.versions("dev")) == 1


def test_undeclared_resources_are_named_and_not_imported(engine, lost):
    engine.deploy(spec())
    fresh = lost()
    wanted = spec({"resources.app-logs": None})
    result = fresh.import_platform(wanted)
    assert result.undeclared == ("app-logs",)
    assert "app-logs" not in fresh.store.resources("dev") and "app-logs" not in result.version.resources
    [step] = result.plan.steps
    assert (step.action, step.name) == (Action.DELETE, "app-logs")


def test_rows_a_crashed_first_deploy_left_are_replaced(engine, lost):
    engine.deploy(spec())
    fresh = lost()
    fresh.store.put_resource(ResourceRecord("dev", "ghost", "queue/v1", "/nowhere", {}, {}))
    fresh.import_platform(spec())
    assert sorted(fresh.store.resources("dev")) == sorted(BASE["resources"])


def test_import_takes_the_platform_lock(engine, lost):
    engine.deploy(spec())
    fresh = lost()
    fresh.store.try_lock("dev", "someone-elses-deploy", Actor("someone", "elsewhere", 1))
    with pytest.raises(PlatformLocked):
        fresh.import_platform(spec())
    assert not fresh.import_platform(spec(), dry_run=True).plan.changed  # looking needs no lock
    assert not fresh.store.versions("dev")


def test_an_interrupted_import_leaves_no_running_deploy_and_no_lock(engine, lost, adapter):
    engine.deploy(spec())
    fresh = lost()
    strip_identity(adapter, "queue", "jobs")
    fresh.failpoints = Failpoints.parse("before:1=interrupt")  # Ctrl-C as the tags are about to be written
    with pytest.raises(KeyboardInterrupt):
        fresh.import_platform(spec())
    [deploy] = fresh.store.deploys("dev")
    assert (deploy["kind"], deploy["status"]) == ("import", "interrupted")
    assert fresh.store.lock_of("dev") is None and fresh.store.versions("dev") == []
    types = [r.type for r in audit.records(fresh.store, "dev")]
    assert types == ["io.mnops.import.started", "io.mnops.import.interrupted"]
    fresh.failpoints = Failpoints()
    assert fresh.import_platform(spec()).version.version == 1
