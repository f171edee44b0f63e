"""What Azure refuses of the contracts, known without its SDKs: the estate loader asks it (through the registry) so that
`mnops validate` names the file and line, and every driver asks it again before it touches anything, so the two never
disagree.

Each refusal names the contract fields it is about (the first is where the loader points) and why Azure cannot give it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from adapters.base import Desired

Refusal = tuple[tuple[str, ...], str]

LOCK_MIN_SECONDS = 5
LOCK_MAX_SECONDS = 300
"""Service Bus's lock duration, which is what a queue's visibility timeout becomes."""
MIN_DAYS = 4
"""The shortest retention Log Analytics keeps a table's records."""
MAX_TAGS = 15
BOOKKEEPING = 4
"""Key Vault allows 15 tags a secret version, and mnops's own bookkeeping takes 4 of them."""
CPU_STEPS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0)
"""Container Apps' Consumption sizes: each step's vCPUs with twice as many GiB."""


def app_size(cpu: float, memory_mb: int) -> tuple[float, int]:
    """The smallest Consumption size (vCPU, MiB) with at least `cpu` vCPUs and `memory_mb` MiB."""
    for step in CPU_STEPS:
        if step + 1e-9 >= cpu and step * 2048 >= memory_mb:
            return step, int(step * 2048)
    raise ValueError(f"Container Apps runs at most {CPU_STEPS[-1]} vCPU with {int(CPU_STEPS[-1] * 2)} GiB a replica")


def refusals(desired: Desired) -> list[Refusal]:
    """Every contract value of `desired` that Azure cannot give; none for a contract it has no limits for."""
    check = CHECKS.get(desired.contract)
    return list(check(desired)) if check is not None else []


def _storage(desired: Desired) -> Iterator[Refusal]:
    if not desired.spec.encrypted:
        yield ("encrypted",), "Azure Storage always encrypts data at rest; it cannot be turned off"


def _queue(desired: Desired) -> Iterator[Refusal]:
    seconds = desired.spec.visibility_timeout_seconds
    if not LOCK_MIN_SECONDS <= seconds <= LOCK_MAX_SECONDS:
        yield (
            ("visibility_timeout_seconds",),
            f"{seconds} is outside what Service Bus allows for a lock duration "
            f"({LOCK_MIN_SECONDS}-{LOCK_MAX_SECONDS} seconds)",
        )
    if not desired.spec.encrypted:
        yield ("encrypted",), "Service Bus always encrypts messages at rest; it cannot be turned off"


def _secrets(desired: Desired) -> Iterator[Refusal]:
    if len(desired.tags) + BOOKKEEPING > MAX_TAGS:
        yield (
            ("tags",),
            f"Key Vault allows {MAX_TAGS} tags a secret and mnops needs {BOOKKEEPING} of them; "
            f"this secret would carry {len(desired.tags)} others",
        )


def _logging(desired: Desired) -> Iterator[Refusal]:
    days = desired.spec.retention_days
    if days < MIN_DAYS:
        yield (
            ("retention_days",),
            f"{days} is shorter than Log Analytics keeps a table's records ({MIN_DAYS} days at least)",
        )


def _compute(desired: Desired) -> Iterator[Refusal]:
    try:
        app_size(desired.spec.cpu, desired.spec.memory_mb)
    except ValueError as exc:
        yield ("cpu", "memory_mb"), str(exc)


CHECKS: dict[str, Callable[[Desired], Iterator[Refusal]]] = {
    "storage/v1": _storage,
    "queue/v1": _queue,
    "secrets/v1": _secrets,
    "logging/v1": _logging,
    "compute/v1": _compute,
}
