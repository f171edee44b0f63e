"""Compute: ECS services, container apps, Cloud Run services, supervised processes (local)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from contracts.base import SECRET_REFERENCE_PREFIX, SENSITIVE_NAME, ContractSpec, FieldPath, Sizing


class ComputeContract(ContractSpec):
    """Every version of `compute`: a long-running service whose environment may read secrets of its platform
    (`secret:<resource>`), sized by replicas, vCPUs and memory."""

    kind: ClassVar[str] = "compute"

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

    def sizing(self) -> Sizing:
        return Sizing(self.replicas, self.cpu, self.memory_mb)

    def findings(self) -> list[tuple[FieldPath, str]]:
        # Never echo the value: it may be the credential itself.
        message = f"looks like a literal secret; reference a secrets resource: '{SECRET_REFERENCE_PREFIX}NAME'"
        return [
            (("env", var), message)
            for var, value in self.env.items()
            if SENSITIVE_NAME.search(var) and not value.startswith(SECRET_REFERENCE_PREFIX)
        ]
