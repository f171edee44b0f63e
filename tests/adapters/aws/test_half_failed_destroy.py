"""A destroy whose task-definition deregistration fails converges on the next run (finding: the revision stayed ACTIVE
and drift called the service "deleted outside mnops").

The failure is injected by a botocore event handler on the test's own session, handed to the engine's aws adapter:
ECS refuses `DeregisterTaskDefinition` while `refusing` is set.
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
    """Makes ECS refuse DeregisterTaskDefinition on `session` while `on`, as a throttled or failing ECS would."""

    def __init__(self) -> None:
        self.on = False
        self.refused = 0
        self.session = boto3.Session(region_name=ESTATE_REGION)
        self.session.events.register("before-call.ecs.DeregisterTaskDefinition", self.before_call)

    def before_call(self, **kwargs: Any) -> None:
        if self.on:
            self.refused += 1
            error = {"Error": {"Code": "ServerException", "Message": "injected: ECS is unavailable"}}
            raise ClientError(error, "DeregisterTaskDefinition")


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


@pytest.mark.slow
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
