"""What every contract version shares: the frozen model base, resource names, tags, and the questions generic code asks
of any resource (what it reads, what it needs first, what it costs) instead of asking which model it is.

Each kind has a base of its own in its package (`contracts.compute.ComputeContract`, ...) answering those questions for
every version of the kind; a version overrides an answer only where its fields differ."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

# DNS-label rules: the strictest naming any supported cloud applies to buckets, queues, log groups and services, so a
# name that is valid here is valid on every provider once prefixed by the platform name.
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"
ResourceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A resource or platform name: 2-40 lower-case letters, digits and inner hyphens, starting with a letter."""

TAG_KEY_PATTERN = r"^[a-z][a-z0-9_.:/=+@-]{0,127}$"
TAG_VALUE_PUNCTUATION = "_.:/=+-@"
MAX_TAGS = 50
"""Tags on one resource: AWS's limit, the lowest of the supported clouds (Azure allows 50, GCP 64 labels)."""
RESERVED_TAGS = 10
"""Of those, kept for mnops's own: its identity tags and what adapters record (a secret's source, length, ...)."""
MAX_DECLARED_TAGS = MAX_TAGS - RESERVED_TAGS


def _tag_value_characters(value: str) -> str:
    # AWS accepts letters, digits, spaces and _ . : / = + - @ in values; Azure and GCP labels (after adapters/gcp
    # lowers them) accept those too. Control, newline, NUL, BiDi override and other invisible characters never pass.
    for position, char in enumerate(value, 1):
        category = unicodedata.category(char)
        if category[0] not in "LN" and category != "Zs" and char not in TAG_VALUE_PUNCTUATION:
            raise PydanticCustomError(
                "tag_value",
                "may hold letters, digits, spaces and {punctuation} only (what every supported cloud accepts); "
                "U+{code} at position {position} is not",
                {"punctuation": " ".join(TAG_VALUE_PUNCTUATION), "code": f"{ord(char):04X}", "position": position},
            )
    return value


TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY_PATTERN)]
TagValue = Annotated[str, StringConstraints(max_length=256), AfterValidator(_tag_value_characters)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=MAX_DECLARED_TAGS)]

SECRET_REFERENCE_PREFIX = "secret:"
"""A string field whose value is `secret:<resource>` carries that secrets resource's value, not those characters."""

# Names (of environment variables, of tags) that say they carry a credential; their values must be references.
SENSITIVE_NAME = re.compile(r"(?i)(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential)")

FieldPath = tuple[str | int, ...]
"""A path inside one resource's spec, such as `('env', 'DB_PASSWORD')`."""

REFERENCE_PREFIX = "ref:"
"""A string field whose value is `ref:<resource>.<output>` (same platform) or `ref:<platform>/<resource>.<output>`
carries that resource's recorded output, resolved at deploy time (see `Reference`)."""
_NAME = NAME_PATTERN.strip("^$")
OUTPUT_PATTERN = r"[a-z][a-z0-9_]{0,39}"
REFERENCE_PATTERN = re.compile(rf"^ref:(?:(?P<platform>{_NAME})/)?(?P<resource>{_NAME})\.(?P<output>{OUTPUT_PATTERN})$")
REFERENCE_FORM = "'ref:<resource>.<output>' or 'ref:<platform>/<resource>.<output>'"

SEALED_PREFIX = "sealed:"
"""What a reference to a sensitive output (a database's `url`, which holds its password) resolves to:
`sealed:<contract>:<platform>/<resource>.<output>`. The value itself reaches only the service that reads it, through
its environment at start (the consumer's driver asks the producer's `reveal`); state, plans and logs hold this."""


@dataclass(frozen=True, slots=True)
class Reference:
    """`ref:[<platform>/]<resource>.<output>`: another resource's output, where `platform` None means the same one."""

    platform: str | None
    resource: str
    output: str

    @classmethod
    def parse(cls, text: str) -> Reference | None:
        """The reference `text` spells, or None where it is not one (a `ref:` string of the wrong form included:
        `ContractSpec.findings` reports those)."""
        match = REFERENCE_PATTERN.match(text)
        if match is None:
            return None
        return cls(match["platform"], match["resource"], match["output"])

    def target(self, platform: str) -> tuple[str, str]:
        """(platform, resource) this reference names, read from a resource of `platform`."""
        return (self.platform or platform, self.resource)

    def __str__(self) -> str:
        where = f"{self.platform}/" if self.platform else ""
        return f"{REFERENCE_PREFIX}{where}{self.resource}.{self.output}"


@dataclass(frozen=True, slots=True)
class Sealed:
    """A resolved reference to a sensitive output (see `SEALED_PREFIX`)."""

    contract: str
    platform: str
    resource: str
    output: str

    @classmethod
    def parse(cls, text: str) -> Sealed | None:
        if not text.startswith(SEALED_PREFIX):
            return None
        contract, _, rest = text[len(SEALED_PREFIX) :].rpartition(":")
        where, _, output = rest.rpartition(".")
        platform, _, resource = where.partition("/")
        if not (contract and platform and resource and output):
            return None
        return cls(contract, platform, resource, output)

    def __str__(self) -> str:
        return f"{SEALED_PREFIX}{self.contract}:{self.platform}/{self.resource}.{self.output}"


@dataclass(frozen=True, slots=True)
class Sizing:
    """What a resource runs, for cost estimates: `replicas` copies of `cpu` vCPUs and `memory_mb` MiB each."""

    replicas: int
    cpu: float
    memory_mb: int


"""Tags (AWS), labels (GCP) and tags (Azure) reduced to what all three accept: lower-case keys, values <= 256 chars
of letters, digits, spaces and `_ . : / = + - @`, at most `MAX_DECLARED_TAGS` declared per resource."""


class ContractSpec(BaseModel):
    """Base of every contract version: immutable, no unknown keys, no coercion (YAML already typed the values)."""

    # Inputs never appear in error texts: a pasted credential must not reach a log through a ValidationError.
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, populate_by_name=True, hide_input_in_errors=True
    )

    kind: ClassVar[str]
    version: ClassVar[str]
    outputs: ClassVar[dict[str, str]] = {}
    """What every driver of the kind returns once a resource is made or changed, by name, with what each is; other
    resources read them through `ref:` (see `Reference`)."""
    output_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields whose change may change an output (a queue's `dead_letter`: its dead-letter URL): a change of one
    restarts the readers of the resource's outputs in the same deploy, once the new outputs are known."""
    sensitive_outputs: ClassVar[frozenset[str]] = frozenset()
    """Outputs that carry a credential: recorded and shown as a reference to where the value is kept, never the
    value; a reader receives the value only in its environment (see `SEALED_PREFIX`)."""

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

    def reference_fields(self) -> dict[FieldPath, str]:
        """Every string field whose value starts `ref:`, by its path, as written (see `Reference`); kinds whose fields
        may carry one say which. None by default."""
        return {}

    def references(self) -> dict[FieldPath, Reference]:
        """The well-formed references among `reference_fields`, parsed."""
        found = {}
        for path, text in self.reference_fields().items():
            reference = Reference.parse(text)
            if reference is not None:
                found[path] = reference
        return found

    def dependencies(self) -> list[str]:
        """What must exist before this resource (and go after it): `depends_on`, the secrets it reads, then the
        resources of its own platform whose outputs it reads."""
        needs = list(self.depends_on)
        targets = list(self.secret_references().values())
        targets += [r.resource for r in self.references().values() if r.platform is None]
        for target in targets:
            if target not in needs:
                needs.append(target)
        return needs

    def with_values(self, values: dict[FieldPath, str]) -> ContractSpec:
        """A copy with the string fields at `values`' paths replaced (references resolved): built by a plain dump
        and validation, so the copy is as valid as the original."""
        data = self.model_dump(mode="json", by_alias=True)
        for path, value in values.items():
            node = data
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        return type(self).model_validate(data, strict=False)

    def environment_sources(self) -> set[str]:
        """Variables of the deployer's environment whose values this resource carries (a secret `from: env:NAME`): they
        are withheld from hooks and anything else mnops starts. None by default."""
        return set()

    def sizing(self) -> Sizing | None:
        """What it runs, for cost estimates; None for a resource that runs nothing."""
        return None

    def findings(self) -> list[tuple[FieldPath, str]]:
        """Problems the model's field types cannot state alone (a credential pasted as a literal, a malformed `ref:`),
        each with the field it is about; the message never holds the value."""
        return [
            (path, f"malformed reference; use {REFERENCE_FORM}")
            for path, text in self.reference_fields().items()
            if Reference.parse(text) is None
        ]
