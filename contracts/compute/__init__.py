"""Compute: ECS services, container apps, Cloud Run services, supervised processes (local)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from contracts.base import (
    REFERENCE_PREFIX,
    SEALED_PREFIX,
    SECRET_REFERENCE_PREFIX,
    SENSITIVE_NAME,
    ContractSpec,
    FieldPath,
    Sizing,
)


class ComputeContract(ContractSpec):
    """Every version of `compute`: a long-running service whose environment may read secrets of its platform
    (`secret:<resource>`), sized by replicas, vCPUs and memory."""

    kind: ClassVar[str] = "compute"
    outputs: ClassVar[dict[str, str]] = {
        "name": "the service's name at the provider",
        "url": "where the service answers (its first replica's, locally); empty where the provider gives none",
        "urls": "every replica's address, comma-separated, where the provider shows them; else the same as url",
    }
    output_fields: ClassVar[frozenset[str]] = frozenset({"replicas"})

    if TYPE_CHECKING:  # fields every version declares
        env: dict[str, str]
        replicas: int
        cpu: float
        memory_mb: int

    def secret_references(self) -> dict[FieldPath, str]:
        return {
            ("env", var): value.removeprefix(SECRET_REFERENCE_PREFIX)
            for var, value in self.env.items()
            if value.startswith(SECRET_REFERENCE_PREFIX)
        }

    def reference_fields(self) -> dict[FieldPath, str]:
        found: dict[FieldPath, str] = {
            ("env", var): value for var, value in self.env.items() if value.startswith(REFERENCE_PREFIX)
        }
        command: list[str] = getattr(self, "command", [])
        found.update({("command", i): arg for i, arg in enumerate(command) if arg.startswith(REFERENCE_PREFIX)})
        return found

    def sizing(self) -> Sizing:
        return Sizing(self.replicas, self.cpu, self.memory_mb)

    def findings(self) -> list[tuple[FieldPath, str]]:
        # Never echo the value: it may be the credential itself.
        message = f"looks like a literal secret; reference a secrets resource: '{SECRET_REFERENCE_PREFIX}NAME'"
        held = (SECRET_REFERENCE_PREFIX, REFERENCE_PREFIX)
        found = [
            (("env", var), message)
            for var, value in self.env.items()
            if SENSITIVE_NAME.search(var) and not value.startswith(held)
        ]
        # A sealed value is what mnops writes when it resolves a reference; in YAML it would skip the checks.
        found += [
            (("env", var), f"'{SEALED_PREFIX}' values are made by mnops; write a 'ref:' instead")
            for var, value in self.env.items()
            if value.startswith(SEALED_PREFIX)
        ]
        return [*found, *super().findings()]
