"""A destroy whose task-definition deregistration fails converges on the next run (finding: the revision stayed ACTIVE
and drift called the service "deleted outside mnops").

The failure is injected by a botocore event handler on the test's own session, handed to the engine's aws adapter:
ECS refuses the chosen operations while it is on. A delete that fails after its service is gone (the empty cluster
refused) is unobserved but journalled as failed: the next destroy finishes it, and drift does not call it a deletion
outside mnops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from mnops_assets.engine.runtime import open_engine
from mnops_assets.estate import load_estate
from tests.adapters.aws.conftest import ESTATE_REGION


class Refusing:
    """Makes ECS refuse the operations in `refused` on `session` while `on`, as a failing ECS would."""

    def __init__(self) -> None:
        self.on = False
        self.operations = {"DeregisterTaskDefinition"}
        self.refused = 0
        self.session = boto3.Session(region_name=ESTATE_REGION)
        self.session.events.register("before-call.ecs.*", self.before_call)

    def before_call(self, model: Any, **kwargs: Any) -> None:
        if self.on and model.name in self.operations:
            self.refused += 1
            error = {"Error": {"Code": "ServerException", "Message": "injected: ECS is unavailable"}}
            raise ClientError(error, model.name)


@pytest.fixture
def engine_and_fault(dev_on_aws: Path) -> Iterator[tuple[Any, Any, Refusing]]:
    fault = Refusing()
    estate = load_estate(dev_on_aws, ["dev"])
    engine = open_engine(estate, provider_settings={"aws": {"session": fault.session}})
    try:
        yield engine, estate.platform("dev").spec, fault
    finally:
        fault.on = False
        try:
            engine.destroy(estate.platform("dev").spec)
        finally:
            engine.close()


def _active_revisions(ecs: Any, family: str) -> list[str]:
    arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    return [arn for arn in arns if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]


def test_a_destroy_whose_deregistration_failed_is_finished_by_the_next_one(
    engine_and_fault: tuple[Any, Any, Refusing], estate_client: Callable[[str], Any]
) -> None:
    engine, spec, fault = engine_and_fault
    compute = [name for name, r in spec.resources.items() if r.contract == "compute/v1"]
    assert compute, "the shipped dev instance runs no service"
    name = compute[0]
    family, cluster = f"mnops-dev_{name}", "mnops-dev"
    ecs = estate_client("ecs")
    engine.deploy(spec)
    assert _active_revisions(ecs, family)

    fault.on = True
    with pytest.raises(Exception, match="DeregisterTaskDefinition|ECS is unavailable"):
        engine.destroy(spec)
    assert fault.refused
    # The service is still there, so what the failed destroy left is mnops's own, and drift does not report it as
    # deleted outside mnops (nor would remediation make it again).
    services = ecs.describe_services(cluster=cluster, services=[name])["services"]
    assert [s["status"] for s in services] == ["ACTIVE"]
    assert _active_revisions(ecs, family)
    report = engine.drift_scan([spec])["dev"]
    assert report is not None and report.error is None
    assert not [s for s in report.steps if s.name == name and "deleted outside" in s.reason], report.steps

    fault.on = False
    result = engine.destroy(spec)
    assert name in {step.name for step in result.plan.steps}
    assert _active_revisions(ecs, family) == []
    gone = (
        ecs.describe_services(cluster=cluster, services=[name])["services"]
        if ecs.list_clusters()["clusterArns"]
        else []
    )
    assert [s["status"] for s in gone] in ([], ["INACTIVE"])
    assert engine.store.resources("dev") == {}
    # And a deploy after it makes everything afresh.
    engine.deploy(spec)
    assert len(_active_revisions(ecs, family)) == 1


def test_a_delete_that_failed_after_its_service_went_is_finished_from_the_journal(
    engine_and_fault: tuple[Any, Any, Refusing], estate_client: Callable[[str], Any]
) -> None:
    engine, spec, fault = engine_and_fault
    name = next(name for name, r in spec.resources.items() if r.contract == "compute/v1")
    ecs = estate_client("ecs")
    engine.deploy(spec)
    fault.operations = {"DeleteCluster"}
    fault.on = True
    with pytest.raises(Exception, match="ECS is unavailable"):
        engine.destroy(spec)
    assert fault.refused
    assert _active_revisions(ecs, f"mnops-dev_{name}") == []
    assert ecs.describe_clusters(clusters=["mnops-dev"])["clusters"][0]["status"] == "ACTIVE"
    assert name in engine.store.resources("dev")  # the failed step left its row

    report = engine.drift_scan([spec])["dev"]
    assert report is not None and report.error is None
    assert not [s for s in report.steps if s.name == name], report.steps  # mnops's own delete: not drift
    planned = {s.name: s.reason for s in engine.plan(spec).steps}
    assert planned[name].startswith("its delete failed part-way in deploy"), planned

    fault.on = False
    result = engine.destroy(spec)
    finished = [s for s in result.plan.steps if s.name == name]
    assert [s.action.value for s in finished] == ["delete"] and "failed part-way" in finished[0].reason
    assert [c["status"] for c in ecs.describe_clusters(clusters=["mnops-dev"])["clusters"]] in ([], ["INACTIVE"])
    assert engine.store.resources("dev") == {}
    assert engine.plan(spec).steps and all(s.reason == "new" for s in engine.plan(spec).steps)
