"""Rule kind `required_tags`: tags that must be set on the platform, or on each resource in scope, and their shape."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from contracts import ContractSpec
from contracts.base import TagKey
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.kinds.base import RuleKind, Violation, compiled
from mnops_assets.governance.model import Regex, Strict


class RequiredTags(Strict):
    """Tags that must be present: the platform's tags, or a resource's own `tags` when contracts are in scope."""

    tags: list[TagKey] = Field(min_length=1, description="Tag keys that must be set.")
    patterns: dict[TagKey, Regex] = Field(
        default_factory=dict, description="Tag key -> regular expression its value must match, where it is set."
    )


def required_tags(
    p: RequiredTags, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    if resource is None:
        tags, base, where = platform.spec.tags, ("tags",), ""
    else:
        tags, base, where = resource.tags, ("resources", name, "tags"), " on the resource itself"
    for key in p.tags:
        if key not in tags:
            yield (*base, key), f"required tag {key!r} is missing{where}"
    for key, pattern in p.patterns.items():
        if key in tags and not compiled(pattern).search(tags[key]):
            yield (*base, key), f"tag {key!r} is {tags[key]!r}; must match {pattern}"


KIND = RuleKind(RequiredTags, required_tags)
