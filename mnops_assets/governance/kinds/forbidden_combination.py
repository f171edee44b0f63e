"""Rule kind `forbidden_combination`: refused when every one of several fields holds a given value at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import Field, StringConstraints

from contracts import ContractSpec
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.kinds.base import Named, RuleKind, Violation, relative, show, values
from mnops_assets.governance.model import FIELD_PATTERN, Scalar, Strict
from mnops_assets.governance.paths import MISSING, same


class ForbiddenCombination(Strict):
    """Refused when every field in `when` holds the value given for it (no wildcards: one subject at a time)."""

    when: dict[Annotated[str, StringConstraints(pattern=FIELD_PATTERN)], Scalar] = Field(min_length=1)


def forbidden_combination(
    p: ForbiddenCombination, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    hits = []
    for field, forbidden in p.when.items():
        found = [(path, value) for path, value in values(platform, name, resource, field) if value is not MISSING]
        if not found or not same(found[0][1], forbidden):
            return
        hits.append(found[0][0])
    combination = " and ".join(
        f"{relative(path, name)} = {show(path, v)}" for path, v in zip(hits, p.when.values(), strict=True)
    )
    # The first field of the combination carries the finding: that is the line the rule's author put first.
    yield hits[0], f"forbidden combination: {combination}"


def _fields(p: ForbiddenCombination) -> list[Named]:
    return [(("when", field), field) for field in p.when]


KIND = RuleKind(ForbiddenCombination, forbidden_combination, fields=_fields, wildcards=False)
