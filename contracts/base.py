"""What every contract version shares: the frozen model base, resource names, tags, and the questions generic code asks
of any resource (what it reads, what it needs first, what it costs) instead of asking which model it is.

Each kind has a base of its own in its package (`contracts.compute.ComputeContract`, ...) answering those questions for
every version of the kind; a version overrides an answer only where its fields differ."""

from __future__ import annotations

import re
from dataclasses import dataclass
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

SECRET_REFERENCE_PREFIX = "secret:"
"""A string field whose value is `secret:<resource>` carries that secrets resource's value, not those characters."""

# Names (of environment variables, of tags) that say they carry a credential; their values must be references.
SENSITIVE_NAME = re.compile(r"(?i)(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential)")

FieldPath = tuple[str | int, ...]
"""A path inside one resource's spec, such as `('env', 'DB_PASSWORD')`."""


@dataclass(frozen=True, slots=True)
class Sizing:
    """What a resource runs, for cost estimates: `replicas` copies of `cpu` vCPUs and `memory_mb` MiB each."""

    replicas: int
    cpu: float
    memory_mb: int


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

    # -- what generic code asks of any resource; kinds answer for themselves -----------------------------------------

    def secret_references(self) -> dict[FieldPath, str]:
        """The secrets resources of the same platform whose values this resource reads, by the field that names each
        (a service reads them when it starts, so a new value reaches it only through a restart). None by default."""
        return {}

    def dependencies(self) -> list[str]:
        """What must exist before this resource (and go after it): `depends_on`, then the secrets it reads."""
        needs = list(self.depends_on)
        for target in self.secret_references().values():
            if target not in needs:
                needs.append(target)
        return needs

    def environment_sources(self) -> set[str]:
        """Variables of the deployer's environment whose values this resource carries (a secret `from: env:NAME`): they
        are withheld from hooks and anything else mnops starts. None by default."""
        return set()

    def sizing(self) -> Sizing | None:
        """What it runs, for cost estimates; None for a resource that runs nothing."""
        return None

    def findings(self) -> list[tuple[FieldPath, str]]:
        """Problems the model's field types cannot state alone (a credential pasted as a literal), each with the field
        it is about; the message never holds the value."""
        return []
