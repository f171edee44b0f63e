"""What `governance/policies.yaml` and `governance/waivers.yaml` may hold, and the types rule kinds' params share.

A rule's `params` are validated in a second step, against the params model of its `kind` (each kind's own module, see
`kinds`), so a problem in them is reported at `rules[3].params.field` rather than under a union member's name; the
schema for editors still shows the union.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from contracts import NAME_PATTERN
from mnops_assets.estate.spec import Owner, Tier
from mnops_assets.governance import kinds

Severity = Literal["error", "warn", "info"]
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


def _registered(value: object) -> object:
    # Checked against the registry when validating, not frozen into a Literal: the kinds are the registry's to list.
    if isinstance(value, str) and value in kinds.KINDS:
        return value
    *head, last = [repr(name) for name in kinds.names()]
    raise ValueError(f"Input should be {', '.join(head)} or {last}" if head else f"Input should be {last}")


Kind = Annotated[str, BeforeValidator(_registered)]


class Strict(BaseModel):
    """Base of every model here and of each rule kind's params: no unknown keys, no coercion, immutable."""

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


class Scope(Strict):
    """Where a rule applies; an empty list means everywhere. Every list that is given must match."""

    tiers: list[Tier] = Field(default_factory=list, description="Environment tiers (dev, test, staging, prod).")
    providers: list[str] = Field(default_factory=list, description="Providers (local, aws, azure, gcp, onprem).")
    contracts: list[str] = Field(
        default_factory=list,
        description="Contract kinds ('storage') or versions ('storage/v1'). Given, the rule judges each such resource.",
    )
    instances: list[str] = Field(default_factory=list, description="Instance names, as fnmatch globs ('customer-*').")


class RuleEntry(Strict):
    """One rule as written; `params` are checked against the params model of `kind` (see `kinds.KINDS`)."""

    id: RuleId = Field(description="Stable identifier, GL-<AREA>-<NUMBER>; waivers and reports name it.")
    description: Annotated[str, StringConstraints(min_length=1)] = Field(description="What the rule asks, and why.")
    severity: Severity = Field(description="error blocks deployment; warn and info are reported only.")
    scope: Scope = Field(default_factory=Scope)
    kind: Kind = Field(description="What kind of check the rule is; decides the shape of params.")
    params: dict[str, Any] = Field(default_factory=dict, description="The kind's parameters.")


class PolicyFile(Strict):
    """`governance/policies.yaml`: the estate's rules."""

    description: str | None = None
    rules: list[RuleEntry] = Field(default_factory=list)


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


class WaiverEntry(Strict):
    """An exemption of one target from one rule, owned by a team, for a reason, until a date."""

    rule: RuleId = Field(description="The rule waived.")
    target: Target = Field(description="'instance' (every finding of the rule there) or 'instance/resource'; no globs.")
    owner: Owner = Field(description="Team answerable for the exemption.")
    reason: Annotated[str, StringConstraints(min_length=10)] = Field(description="Why, and what ends the need.")
    expires: IsoDate = Field(description="Last day the waiver holds (YYYY-MM-DD); after it the finding is back.")


class WaiverFile(Strict):
    """`governance/waivers.yaml`: exemptions from the rules of policies.yaml."""

    description: str | None = None
    waivers: list[WaiverEntry] = Field(default_factory=list)
