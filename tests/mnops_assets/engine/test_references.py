"""References within a platform, through the engine on the local provider and both state stores: a consumer of a
resource made in the same deploy plans `(known after apply)` and is applied with the real value; state records the
resolved value, so the next plan is empty; a rollback resolves references as they stand then."""

from __future__ import annotations

import sys

from mnops_assets.engine.plan import Action
from mnops_assets.engine.wiring import KNOWN_AFTER_APPLY
from tests.mnops_assets.engine.platforms import make_engine, spec

API = {
    "contract": "compute/v1",
    "command": [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
    "replicas": 0,
    "env": {"ASSETS": "ref:assets.url"},
}


def test_a_consumer_of_a_new_producer_is_planned_unknown_then_applied_with_the_value(store, adapter, tmp_path):
    engine = make_engine(store, adapter, tmp_path)
    first = engine.deploy(spec({"resources.api": API}))
    assert [s.name for s in first.plan.steps].index("api") > [s.name for s in first.plan.steps].index("assets")
    recorded = store.resources("dev")["api"].fields["env"]
    assert recorded == {"ASSETS": (tmp_path / "local/storage/dev/assets/objects").as_uri()}

    # A queue added, and read by the service, in one change: its URL is known only once it is made.
    changed = spec(
        {
            "resources.api": {**API, "env": {**API["env"], "JOBS": "ref:later.url"}},
            "resources.later": {"contract": "queue/v1"},
        }
    )
    plan = engine.plan(changed)
    steps = {s.name: s for s in plan.steps}
    assert steps["later"].action is Action.CREATE and steps["api"].action is Action.UPDATE
    [change] = steps["api"].changes
    assert change.field == "env" and change.after["JOBS"] == KNOWN_AFTER_APPLY
    engine.deploy(changed)
    jobs = store.resources("dev")["api"].fields["env"]["JOBS"]
    assert jobs == (tmp_path / "local/queue/dev/later/queue.db").as_uri()
    assert not engine.plan(changed).changed

    # Back to version 1: the reference to the queue goes with it, and the queue after its reader.
    result = engine.rollback(changed, to=1)
    assert [s.action for s in result.plan.steps if s.name == "later"] == [Action.DELETE]
    assert store.resources("dev")["api"].fields["env"] == recorded


def test_a_producer_changed_where_its_outputs_follow_restarts_its_reader_in_the_same_deploy(store, adapter, tmp_path):
    engine = make_engine(store, adapter, tmp_path)
    reader = {**API, "env": {"DEAD_LETTERS": "ref:jobs.dead_letter_url"}}
    engine.deploy(spec({"resources.api": reader}))
    assert store.resources("dev")["api"].fields["env"] == {"DEAD_LETTERS": ""}

    # The queue gains a dead-letter queue: its dead_letter_url goes from empty to an address, known once applied.
    changed = spec({"resources.api": reader, "resources.jobs.dead_letter": {"max_receives": 3}})
    steps = {s.name: s for s in engine.plan(changed).steps}
    assert steps["jobs"].action is Action.UPDATE
    assert steps["api"].action is Action.UPDATE and steps["api"].reason == "reads the outputs of jobs, which may change"
    engine.deploy(changed)
    dead = (tmp_path / "local/queue/dev/jobs/queue.db").as_uri() + "#dead-letter"
    assert store.resources("dev")["api"].fields["env"] == {"DEAD_LETTERS": dead}
    assert not engine.plan(changed).changed
