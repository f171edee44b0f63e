"""Rule kind `allowed_values`: the value at a field must be one of a list, which may differ per provider."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, model_validator

from contracts import ContractSpec
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.kinds.base import Named, RuleKind, Violation, relative, show, values
from mnops_assets.governance.model import FieldPath, Scalar, Strict
from mnops_assets.governance.paths import MISSING, same


class AllowedValues(Strict):
    """The value at `field` must be one of `values`, or of `by_provider[<provider>]` where the provider is listed."""

    field: FieldPath
    values: list[Scalar] | None = Field(None, description="Allowed values, for every provider not in by_provider.")
    by_provider: dict[str, list[Scalar]] = Field(default_factory=dict, description="Allowed values per provider.")

    @model_validator(mode="after")
    def _something(self) -> AllowedValues:
        if self.values is None and not self.by_provider:
            raise ValueError("give values, by_provider, or both")
        return self


def allowed_values(
    p: AllowedValues, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    provider = platform.spec.provider
    allowed = p.by_provider.get(provider, p.values)
    if allowed is None:
        return
    where = f" on provider {provider}" if provider in p.by_provider else ""
    for path, value in values(platform, name, resource, p.field):
        if value is not MISSING and not any(same(value, a) for a in allowed):
            shown = ", ".join(show(path, a) for a in allowed)
            yield path, f"{relative(path, name)} is {show(path, value)}; allowed{where}: {shown}"


def _providers(p: AllowedValues) -> list[Named]:
    return [(("by_provider", provider), provider) for provider in p.by_provider]


KIND = RuleKind(AllowedValues, allowed_values, providers=_providers)
