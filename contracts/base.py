"""What every contract version shares: the frozen model base, resource names, tags and dependencies."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# DNS-label rules: the strictest naming any supported cloud applies to buckets, queues, log groups and services, so a
# name that is valid here is valid on every provider once prefixed by the platform name.
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"
ResourceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A resource or platform name: 2-40 lower-case letters, digits and inner hyphens, starting with a letter."""

TAG_KEY_PATTERN = r"^[a-z][a-z0-9_.:/=+@-]{0,127}$"
TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY_PATTERN)]
TagValue = Annotated[str, StringConstraints(max_length=256)]
Tags = dict[TagKey, TagValue]
"""Tags (AWS), labels (GCP) and tags (Azure) reduced to what all three accept: lower-case keys, values <= 256 chars."""


class ContractSpec(BaseModel):
    """Base of every contract version: immutable, no unknown keys, no coercion (YAML already typed the values)."""

    # Inputs never appear in error texts: a pasted credential must not reach a log through a ValidationError.
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, populate_by_name=True, hide_input_in_errors=True
    )

    kind: ClassVar[str]
    version: ClassVar[str]

    depends_on: list[ResourceName] = Field(
        default_factory=list,
        description="Names of resources of the same platform that must exist before this one (and go after it).",
    )
    tags: Tags = Field(default_factory=dict, description="Tags added to the platform's tags on this resource only.")

    @classmethod
    def tag(cls) -> str:
        return f"{cls.kind}/{cls.version}"
