"""What `governance/policies.yaml` and `governance/waivers.yaml` may hold: strict models, a params model per rule kind.

A rule's `params` are validated in a second step, against the model of its `kind`, so a problem in them is reported at
`rules[3].params.field` rather than under a union member's name; the schema for editors still shows the union.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from contracts import NAME_PATTERN
from contracts.base import TagKey
from mnops_assets.estate.spec import Owner, Tier

Severity = Literal["error", "warn", "info"]
Kind = Literal[
    "name_pattern",
    "required_tags",
    "allowed_values",
    "numeric_bounds",
    "required_value",
    "forbidden_combination",
    "secret_hygiene",
    "plugin",
]
RULE_ID_PATTERN = re.compile(r"^GL-[A-Z0-9]+(-[A-Z0-9]+)*$")


def _matching(pattern: re.Pattern[str], rule: str) -> Any:
    """A string type checked against `pattern`, whose error says `rule` in words rather than the expression."""

    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(rule)
        return value

    return Annotated[str, AfterValidator(check), Field(json_schema_extra={"pattern": pattern.pattern})]


RuleId = _matching(RULE_ID_PATTERN, "must look like GL-<AREA>-<NN>: 'GL-' then capitals, digits and inner hyphens")
FIELD_PATTERN = r"^[A-Za-z0-9_*-]+(\.[^.\s]+)*$"
FieldPath = Annotated[
    str,
    StringConstraints(pattern=FIELD_PATTERN),
    Field(
        description=(
            "Dotted path such as 'region', 'retention_days' or 'resources.*.contract'; "
            "after 'tags.' the rest is one key."
        )
    ),
]
Scalar = str | int | float | bool | None
SecretSource = Literal["generate", "env", "file"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


Regex = Annotated[
    str,
    StringConstraints(min_length=1),
    AfterValidator(_regex),
    Field(description="A Python regular expression, searched (anchor it with ^ and $ to match whole names)."),
]


# -- policies.yaml ---------------------------------------------------------------------------------------------------


class Scope(_Strict):
    """Where a rule applies; an empty list means everywhere. Every list that is given must match."""

    tiers: list[Tier] = Field(default_factory=list, description="Environment tiers (dev, test, staging, prod).")
    providers: list[str] = Field(default_factory=list, description="Providers (local, aws, azure, gcp, onprem).")
    contracts: list[str] = Field(
        default_factory=list,
        description="Contract kinds ('storage') or versions ('storage/v1'). Given, the rule judges each such resource.",
    )
    instances: list[str] = Field(default_factory=list, description="Instance names, as fnmatch globs ('customer-*').")


class RuleEntry(_Strict):
    """One rule as written; `params` are checked against the model of `kind` (see PARAMS)."""

    id: RuleId = Field(description="Stable identifier, GL-<AREA>-<NUMBER>; waivers and reports name it.")
    description: Annotated[str, StringConstraints(min_length=1)] = Field(description="What the rule asks, and why.")
    severity: Severity = Field(description="error blocks deployment; warn and info are reported only.")
    scope: Scope = Field(default_factory=Scope)
    kind: Kind = Field(description="What kind of check the rule is; decides the shape of params.")
    params: dict[str, Any] = Field(default_factory=dict, description="The kind's parameters.")


class PolicyFile(_Strict):
    """`governance/policies.yaml`: the estate's rules."""

    description: str | None = None
    rules: list[RuleEntry] = Field(default_factory=list)


# -- params of each kind ---------------------------------------------------------------------------------------------


class NamePattern(_Strict):
    """Instance names (no contracts in scope) or resource names (contracts in scope) must match `pattern`."""

    pattern: Regex
    hint: str | None = Field(None, description="The convention in words, added to the message.")


class RequiredTags(_Strict):
    """Tags that must be present: the platform's tags, or a resource's own `tags` when contracts are in scope."""

    tags: list[TagKey] = Field(min_length=1, description="Tag keys that must be set.")
    patterns: dict[TagKey, Regex] = Field(
        default_factory=dict, description="Tag key -> regular expression its value must match, where it is set."
    )


class AllowedValues(_Strict):
    """The value at `field` must be one of `values`, or of `by_provider[<provider>]` where the provider is listed."""

    field: FieldPath
    values: list[Scalar] | None = Field(None, description="Allowed values, for every provider not in by_provider.")
    by_provider: dict[str, list[Scalar]] = Field(default_factory=dict, description="Allowed values per provider.")

    @model_validator(mode="after")
    def _something(self) -> AllowedValues:
        if self.values is None and not self.by_provider:
            raise ValueError("give values, by_provider, or both")
        return self


class NumericBounds(_Strict):
    """The number at `field` must lie within [min, max]; unset passes unless `required`."""

    field: FieldPath
    min: int | float | None = None
    max: int | float | None = None
    required: bool = Field(False, description="An unset value (null, or no key) is a finding too.")

    @model_validator(mode="after")
    def _bounds(self) -> NumericBounds:
        if self.min is None and self.max is None:
            raise ValueError("give min, max, or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class RequiredValue(_Strict):
    """The value at `field` must equal `value` (an unset value is a finding)."""

    field: FieldPath
    value: Scalar


class ForbiddenCombination(_Strict):
    """Refused when every field in `when` holds the value given for it (no wildcards: one subject at a time)."""

    when: dict[Annotated[str, StringConstraints(pattern=FIELD_PATTERN)], Scalar] = Field(min_length=1)


class SecretHygiene(_Strict):
    """Rotation, sources and length of secrets/* resources (the rule's contracts default to secrets)."""

    max_rotation_days: int | None = Field(None, ge=1, description="Rotation is required, at most this many days apart.")
    forbidden_sources: list[SecretSource] = Field(default_factory=list, description="Reference kinds not allowed.")
    min_length: int | None = Field(None, ge=1, description="Least length of a generated value.")

    @model_validator(mode="after")
    def _something(self) -> SecretHygiene:
        if self.max_rotation_days is None and not self.forbidden_sources and self.min_length is None:
            raise ValueError("give max_rotation_days, forbidden_sources or min_length")
        return self


class PluginParams(BaseModel):
    """`plugin` names an entry point of the `mnops.policies` group; the other keys are the plugin's own."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    plugin: Annotated[str, StringConstraints(min_length=1)] = Field(description="Entry-point name of the plugin.")


PARAMS: dict[str, type[BaseModel]] = {
    "name_pattern": NamePattern,
    "required_tags": RequiredTags,
    "allowed_values": AllowedValues,
    "numeric_bounds": NumericBounds,
    "required_value": RequiredValue,
    "forbidden_combination": ForbiddenCombination,
    "secret_hygiene": SecretHygiene,
    "plugin": PluginParams,
}


# -- waivers.yaml ----------------------------------------------------------------------------------------------------

TARGET_PATTERN = re.compile(rf"^{NAME_PATTERN[1:-1]}(/{NAME_PATTERN[1:-1]})?$")
Target = _matching(TARGET_PATTERN, "must be 'instance' or 'instance/resource', by name (no globs)")


def _iso_date(value: object) -> object:
    # YAML 1.1 (PyYAML) reads 2027-03-31 as a date, YAML 1.2 (editors) as a string: both mean the same day.
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return value
    return value


IsoDate = Annotated[datetime.date, BeforeValidator(_iso_date)]


class WaiverEntry(_Strict):
    """An exemption of one target from one rule, owned by a team, for a reason, until a date."""

    rule: RuleId = Field(description="The rule waived.")
    target: Target = Field(description="'instance' (every finding of the rule there) or 'instance/resource'; no globs.")
    owner: Owner = Field(description="Team answerable for the exemption.")
    reason: Annotated[str, StringConstraints(min_length=10)] = Field(description="Why, and what ends the need.")
    expires: IsoDate = Field(description="Last day the waiver holds (YYYY-MM-DD); after it the finding is back.")


class WaiverFile(_Strict):
    """`governance/waivers.yaml`: exemptions from the rules of policies.yaml."""

    description: str | None = None
    waivers: list[WaiverEntry] = Field(default_factory=list)
