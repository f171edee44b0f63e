"""The project's own mark, through Resource Manager, per the `project_identity` setting: `labels` adds the label
`mnops-managed-by: mnops` to the project; `tags` binds the tag value named by `tag_value` (`tagValues/<id>`) to it;
`none` (the default) leaves the project alone. Either tells people, Cloud Asset Inventory searches and (for tags) IAM
conditions and organisation policies that mnops deploys into the project.

It is done before the first write of an adapter (a read, then a write only when the mark is missing) and never undone:
a project outlives its platforms, and other deployers of the estate may share it.
"""

from __future__ import annotations

import re
from typing import Any

from google.api_core import exceptions as api_exceptions

from adapters.base import MANAGED_BY, TAG_MANAGED_BY

MODES = ("none", "labels", "tags")
TAG_VALUE = re.compile(r"^tagValues/[0-9]+$")
RESOURCE_PREFIX = "//cloudresourcemanager.googleapis.com/"


def check_settings(mode: str, tag_value: str | None) -> str | None:
    """Why `project_identity` and `tag_value` cannot work together, or None."""
    if mode not in MODES:
        return f"project_identity {mode!r} is not one of {', '.join(MODES)}"
    if mode == "tags" and not (tag_value and TAG_VALUE.match(tag_value)):
        return "project_identity 'tags' needs the `tag_value` setting, as tagValues/<numeric id>"
    return None


def ensure(gcp: Any) -> None:
    """Mark the project as the settings ask; raises the library's error."""
    if gcp.project_identity == "none":
        return
    projects = gcp.projects()
    project = projects.get_project(request={"name": f"projects/{gcp.project}"}, retry=gcp.grpc_retry)
    if gcp.project_identity == "labels":
        if project.labels.get(TAG_MANAGED_BY) == MANAGED_BY:
            return
        projects.update_project(
            request={
                "project": {"name": project.name, "labels": {**project.labels, TAG_MANAGED_BY: MANAGED_BY}},
                "update_mask": {"paths": ["labels"]},
            },
            retry=gcp.grpc_retry,
        ).result(polling=gcp.polling)
        return
    bindings = gcp.tag_bindings()
    parent = RESOURCE_PREFIX + project.name
    listing = bindings.list_tag_bindings(request={"parent": parent}, retry=gcp.grpc_retry)
    if any(binding.tag_value == gcp.tag_value for binding in listing):
        return
    try:
        bindings.create_tag_binding(
            request={"tag_binding": {"parent": parent, "tag_value": gcp.tag_value}}, retry=gcp.grpc_retry
        ).result(polling=gcp.polling)
    except api_exceptions.AlreadyExists:  # bound meanwhile by another deployer
        return
