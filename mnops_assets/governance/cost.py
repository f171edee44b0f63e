"""The shipped example policy plugin: a monthly compute-cost ceiling per platform, estimated from cpu, memory, replicas.

Registered as `monthly-cost` in the `mnops.policies` entry-point group. Prices are on-demand list prices of each
provider's serverless container offer (Fargate, Container Apps, Cloud Run), per vCPU-hour and GiB-hour; a rule may
override them. Storage, traffic and requests depend on use, not on the declaration, so they are left out.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.paths import Path_
from mnops_assets.governance.plugins import policy_plugin


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    vcpu_hour: float = Field(ge=0, description="USD per vCPU-hour.")
    gib_hour: float = Field(ge=0, description="USD per GiB-hour of memory.")


LIST_PRICES: dict[str, Price] = {
    "aws": Price(vcpu_hour=0.04048, gib_hour=0.004445),  # Fargate, Linux/x86
    "azure": Price(vcpu_hour=0.0864, gib_hour=0.0108),  # Container Apps, consumption plan, active
    "gcp": Price(vcpu_hour=0.0648, gib_hour=0.0072),  # Cloud Run, instance-based billing
}


class CostCeiling(BaseModel):
    """Params of a `monthly-cost` rule."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    max_monthly_usd: float = Field(gt=0, description="Ceiling of the platform's estimated monthly compute cost.")
    hours_per_month: float = Field(730, gt=0, le=744, description="Hours a replica runs per month.")
    prices: dict[str, Price] = Field(default_factory=dict, description="Per-provider prices, over the list prices.")
    local_priced_as: str | None = Field(
        "aws",
        description="`local` stands in for a cloud: price it as this provider; null prices it at zero.",
    )


@policy_plugin(params=CostCeiling)
def monthly_cost(platform: ResolvedPlatform, params: CostCeiling) -> Iterator[tuple[Path_, str]]:
    """One finding when the platform's estimated compute cost per month is above the ceiling."""
    spec = platform.spec
    provider = spec.provider
    if provider == "local":
        if params.local_priced_as is None:
            return
        provider = params.local_priced_as
    price = params.prices.get(provider) or LIST_PRICES.get(provider)
    if price is None:
        yield ("provider",), f"no price known for provider {provider!r}; give one in the rule's params.prices"
        return
    sizes = {name: size for name, r in spec.resources.items() if (size := r.sizing()) is not None}
    costs = {
        name: s.replicas * params.hours_per_month * (s.cpu * price.vcpu_hour + s.memory_mb / 1024 * price.gib_hour)
        for name, s in sizes.items()
    }
    total = sum(costs.values())
    if total <= params.max_monthly_usd:
        return
    name = max(costs, key=lambda n: (costs[n], n))
    top = sizes[name]
    priced = "" if provider == spec.provider else f", priced as {provider}"
    yield (
        ("resources", name, "replicas"),
        (
            f"estimated compute cost ${total:,.2f}/month is above the ceiling of "
            f"${params.max_monthly_usd:,.2f}{priced}; "
            f"largest: {name}, {top.replicas} x ({top.cpu:g} vCPU, {top.memory_mb} MiB) = ${costs[name]:,.2f}/month"
        ),
    )
