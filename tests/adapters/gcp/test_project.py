"""The project's own mark through Resource Manager, per `project_identity`: a label, or a tag binding, made before the
first write of an adapter and only when missing; nothing at all by default."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.base import AdapterError
from adapters.gcp.adapter import GcpAdapter
from tests.adapters.gcp.conftest import PROJECT_NUMBER, TAG_VALUE, build
from tests.adapters.gcp.grpc_fakes import Fakes

LOGS = {"contract": "logging/v1", "retention_days": 14}
PROJECT = f"projects/{PROJECT_NUMBER}"
PARENT = f"//cloudresourcemanager.googleapis.com/{PROJECT}"


def _rm_calls(fakes: Fakes) -> dict[str, int]:
    wanted = ("GetProject", "UpdateProject", "ListTagBindings", "CreateTagBinding")
    return {name: count for name, count in fakes.counting.calls.items() if name in wanted}


def test_by_default_the_project_is_left_alone(adapter: GcpAdapter, grpc_fakes: Fakes) -> None:
    adapter.logging.create(build("app-logs", LOGS))
    assert _rm_calls(grpc_fakes) == {}


def test_labels_mark_the_project_once_and_keep_its_other_labels(
    make_adapter: Callable[..., GcpAdapter], grpc_fakes: Fakes
) -> None:
    grpc_fakes.resource_manager.projects[PROJECT_NUMBER].labels["owner"] = "platform-team"
    adapter = make_adapter(project_identity="labels")
    adapter.logging.create(build("app-logs", LOGS))
    adapter.logging.create(build("audit-logs", LOGS))
    project = adapter.gcp.projects().get_project(name=PROJECT)
    assert dict(project.labels) == {"owner": "platform-team", "mnops-managed-by": "mnops"}
    assert _rm_calls(grpc_fakes) == {"GetProject": 2, "UpdateProject": 1}  # the test's own get included
    grpc_fakes.counting.calls.clear()
    make_adapter(project_identity="labels").logging.create(build("more-logs", LOGS))
    assert _rm_calls(grpc_fakes) == {"GetProject": 1}


def test_tags_bind_the_tag_value_to_the_project_once(
    make_adapter: Callable[..., GcpAdapter], grpc_fakes: Fakes
) -> None:
    adapter = make_adapter(project_identity="tags", tag_value=TAG_VALUE)
    adapter.logging.create(build("app-logs", LOGS))
    make_adapter(project_identity="tags", tag_value=TAG_VALUE).logging.create(build("audit-logs", LOGS))
    bindings = list(adapter.gcp.tag_bindings().list_tag_bindings(parent=PARENT))
    assert [b.tag_value for b in bindings] == [TAG_VALUE]
    assert grpc_fakes.counting.calls["CreateTagBinding"] == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"project_identity": "tags"}, "needs the `tag_value` setting"),
        ({"project_identity": "tags", "tag_value": "env/prod"}, "tagValues/<numeric id>"),
        ({"project_identity": "folders"}, "is not one of none, labels, tags"),
    ],
)
def test_settings_that_cannot_work_are_refused_when_the_adapter_is_made(
    make_adapter: Callable[..., GcpAdapter], settings: dict, message: str
) -> None:
    with pytest.raises(AdapterError, match=message):
        make_adapter(**settings)


def test_a_project_resource_manager_will_not_show_fails_the_write_naming_the_resource(
    make_adapter: Callable[..., GcpAdapter], grpc_fakes: Fakes
) -> None:
    adapter = make_adapter(project="someone-elses", project_identity="labels")
    with pytest.raises(AdapterError, match="dev/app-logs.*PERMISSION_DENIED") as raised:
        adapter.logging.create(build("app-logs", LOGS))
    assert raised.value.__cause__ is not None
    assert grpc_fakes.logging.buckets == {}
