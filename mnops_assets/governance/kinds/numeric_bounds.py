"""Rule kind `numeric_bounds`: the number at a field must lie within bounds, and may be required to be set."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, model_validator

from contracts import ContractSpec
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.kinds.base import RuleKind, Violation, relative, values
from mnops_assets.governance.model import FieldPath, Strict
from mnops_assets.governance.paths import MISSING


class NumericBounds(Strict):
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


def numeric_bounds(
    p: NumericBounds, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    for path, value in values(platform, name, resource, p.field):
        if value is MISSING or value is None:
            if p.required:
                yield path, f"{relative(path, name)} is not set; must be {_bounds(p)}"
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
            yield path, f"{relative(path, name)} is {value}; must be {_bounds(p)}"


def _bounds(p: NumericBounds) -> str:
    if p.min is not None and p.max is not None:
        return f"between {p.min} and {p.max}"
    return f">= {p.min}" if p.min is not None else f"<= {p.max}"


KIND = RuleKind(NumericBounds, numeric_bounds)
