"""Provider-neutral, versioned service contracts.

A contract version is a module (`contracts/storage/v1.py`) holding one frozen model whose `contract` field is a
`Literal` tag. Registering a new version is one line in `CONTRACTS`.
"""

from __future__ import annotations

from contracts.base import NAME_PATTERN, ContractSpec, ResourceName, Tags
from contracts.compute.v1 import ComputeV1
from contracts.database.v1 import DatabaseV1
from contracts.errors import MnopsError, UnknownContract, UnknownContractVersion
from contracts.logging.v1 import LoggingV1
from contracts.queue.v1 import QueueV1
from contracts.secrets.v1 import SecretsV1
from contracts.storage.v1 import StorageV1

CONTRACTS: dict[str, type[ContractSpec]] = {
    "storage/v1": StorageV1,
    "queue/v1": QueueV1,
    "secrets/v1": SecretsV1,
    "logging/v1": LoggingV1,
    "compute/v1": ComputeV1,
    "database/v1": DatabaseV1,
}

KINDS: tuple[str, ...] = tuple(sorted({model.kind for model in CONTRACTS.values()}))


def versions(kind: str) -> list[str]:
    """Every registered tag of one kind, oldest first (`['storage/v1']`)."""
    return sorted((tag for tag, model in CONTRACTS.items() if model.kind == kind), key=_version_number)


def contract_model(tag: str) -> type[ContractSpec]:
    """The model for a tag such as `storage/v1`, or an error saying whether the kind or the version is unknown."""
    try:
        return CONTRACTS[tag]
    except KeyError:
        kind = tag.split("/", 1)[0]
        if kind in KINDS:
            raise UnknownContractVersion(tag, versions(kind)) from None
        raise UnknownContract(tag, list(KINDS)) from None


def _version_number(tag: str) -> int:
    return int(tag.rsplit("/v", 1)[1])


__all__ = [
    "CONTRACTS",
    "KINDS",
    "NAME_PATTERN",
    "ComputeV1",
    "ContractSpec",
    "DatabaseV1",
    "LoggingV1",
    "MnopsError",
    "QueueV1",
    "ResourceName",
    "SecretsV1",
    "StorageV1",
    "Tags",
    "UnknownContract",
    "UnknownContractVersion",
    "contract_model",
    "versions",
]
