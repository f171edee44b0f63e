"""Rule kind `required_value`: the value at a field must equal a given value, and be set."""

from __future__ import annotations

from collections.abc import Iterator

from contracts import ContractSpec
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.kinds.base import RuleKind, Violation, relative, show, values
from mnops_assets.governance.model import FieldPath, Scalar, Strict
from mnops_assets.governance.paths import MISSING, same


class RequiredValue(Strict):
    """The value at `field` must equal `value` (an unset value is a finding)."""

    field: FieldPath
    value: Scalar


def required_value(
    p: RequiredValue, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    for path, value in values(platform, name, resource, p.field):
        if value is MISSING:
            yield path, f"{relative(path, name)} is not set; must be {show(path, p.value)}"
        elif not same(value, p.value):
            yield path, f"{relative(path, name)} is {show(path, value)}; must be {show(path, p.value)}"


KIND = RuleKind(RequiredValue, required_value)
