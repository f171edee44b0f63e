"""References between resources (`ref:<resource>.<output>`, `ref:<platform>/<resource>.<output>`) resolved into the
values their producers' drivers gave (`ResourceDriver.outputs`), before a spec is planned or applied.

A reference within the platform reads its producer as it stands (observed now), else as last recorded; one not made
yet reads `KNOWN_AFTER_APPLY` in a plan, and is resolved again just before its step runs, once the producer exists
(`Wiring.settle`). A reference across platforms reads the producer's recorded state, as its last deploy left it: a
producer never deployed refuses the consumer's plan. A sensitive output (a database's `url`) resolves to a `sealed:`
reference that only the consumer's driver opens, into the service's environment; state and plans hold the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from adapters.base import Adapter, Observed
from contracts import contract_model
from contracts.base import ContractSpec, FieldPath, Reference, Sealed
from contracts.errors import MnopsError, UnknownContract, UnknownContractVersion
from mnops_assets.engine.state import ResourceRecord

KNOWN_AFTER_APPLY = "(known after apply)"
"""What a plan shows for a reference to an output of a resource the same deploy makes first."""

Rows = Callable[[str], Mapping[str, ResourceRecord]]
"""A platform's state rows, by resource name (`StateStore.resources`)."""


class ProducerNotDeployed(MnopsError):
    """A reference to a resource of another platform that has no recorded state: deploy the producer first."""

    def __init__(self, consumer: str, path: str, reference: Reference, platform: str) -> None:
        self.consumer = consumer
        self.reference = reference
        super().__init__(
            f"{consumer}: {path} reads {reference}, but platform {platform!r} has no deployed resource "
            f"{reference.resource!r}: deploy {platform} first (`mnops deploy {platform}`)"
        )


class OutputUnavailable(MnopsError):
    """A producer that exists but has no such output recorded (deployed before outputs were recorded, or a
    contract that changed): its next deploy records it."""


@dataclass(frozen=True)
class Wiring:
    """Where one platform's references find their values."""

    platform: str
    adapter: Adapter
    observed: Mapping[str, Observed]
    """The platform's own resources as they stand (outputs read from them first)."""
    rows: Rows
    """State rows by platform: the own platform's as a fallback, other platforms' as the only source."""

    def resolve(self, name: str, spec: ContractSpec) -> ContractSpec:
        """`spec` of resource `name` with every reference replaced by its value (or `KNOWN_AFTER_APPLY`)."""
        references = spec.references()
        if not references:
            return spec
        values = {path: self.value(name, path, reference) for path, reference in references.items()}
        return spec.with_values(values)

    def settle(self, name: str, spec: ContractSpec) -> ContractSpec:
        """`resolve`, for a step about to run: a reference still unknown now is an error, never handed to a driver."""
        resolved = self.resolve(name, spec)
        unknown = [_dotted(path) for path in spec.references() if _at(resolved, path) == KNOWN_AFTER_APPLY]
        if unknown:
            raise OutputUnavailable(
                f"{self.platform}/{name}: {', '.join(unknown)} read outputs of resources that were not made"
            )
        return resolved

    def value(self, name: str, path: FieldPath, reference: Reference) -> str:
        platform, resource = reference.target(self.platform)
        consumer = f"{self.platform}/{name}"
        if platform == self.platform:
            observed = self.observed.get(resource)
            if observed is not None and observed.problem is None:
                contract = observed.contract
                outputs: Mapping[str, str] | None = self.adapter.driver(contract).outputs(observed)
            else:
                record = self.rows(platform).get(resource)
                if record is None:
                    return KNOWN_AFTER_APPLY
                contract, outputs = record.contract, record.outputs
        else:
            record = self.rows(platform).get(resource)
            if record is None:
                raise ProducerNotDeployed(consumer, _dotted(path), reference, platform)
            contract, outputs = record.contract, record.outputs
        sensitive = _sensitive(contract)
        if reference.output in sensitive:
            return str(Sealed(contract, platform, resource, reference.output))
        if reference.output not in outputs:
            raise OutputUnavailable(
                f"{consumer}: {_dotted(path)} reads {reference}, but {platform}/{resource} has no recorded output "
                f"{reference.output!r} (known: {', '.join(sorted(outputs)) or 'none'}); deploy {platform} again"
            )
        return outputs[reference.output]


def _sensitive(contract: str) -> frozenset[str]:
    try:
        return contract_model(contract).sensitive_outputs
    except (UnknownContract, UnknownContractVersion):
        return frozenset()


def _at(spec: ContractSpec, path: FieldPath) -> object:
    node: object = spec.model_dump(mode="json", by_alias=True)
    for part in path:
        node = node[part]  # type: ignore[index]
    return node


def _dotted(path: FieldPath) -> str:
    return ".".join(str(part) for part in path)
