"""What GCP refuses of the contracts, known without Google's libraries: the estate loader asks it (through the
registry) so that `mnops validate` names the file and line, and every driver asks it again before it touches anything,
so the two never disagree.

Each refusal names the contract fields it is about (the first is where the loader points) and why GCP cannot give it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from adapters.base import Desired

Refusal = tuple[tuple[str, ...], str]

ACK_MIN_SECONDS = 10
ACK_MAX_SECONDS = 600
"""A Pub/Sub subscription's ack deadline, which is what a queue's visibility timeout becomes."""
RETENTION_MIN_SECONDS = 600
RETENTION_MAX_SECONDS = 7 * 24 * 3600
"""How long a Pub/Sub subscription keeps unacknowledged messages: 10 minutes to 7 days."""
DELIVERIES_MIN = 5
DELIVERIES_MAX = 100
"""A dead-letter policy's maximum delivery attempts."""
LOG_RETENTION_MAX_DAYS = 3650
"""The longest a Cloud Logging bucket keeps records."""
RUN_MAX_CPU = 8.0
RUN_CPU_STEPS = (1.0, 2.0, 4.0, 6.0, 8.0)
RUN_MIN_MEMORY_MB = 128
RUN_MAX_MEMORY_MB = 32 * 1024
RUN_FRACTION_MAX_MEMORY_MB = 512
RUN_MEMORY_PER_CPU_MB = {1.0: 4096, 2.0: 8192, 4.0: 16384, 6.0: 24576, 8.0: 32768}
RUN_MIN_MEMORY_FOR_CPU_MB = {4.0: 2048, 6.0: 4096, 8.0: 4096}
"""Cloud Run services: under one vCPU, a fraction with at most 512 MiB; then whole steps up to 8, each holding at most
4 GiB a vCPU, and 4 vCPUs or more needing 2 or 4 GiB at least; 128 MiB to 32 GiB a replica."""
RUN_RESERVED_ENV = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION")
"""Variables Cloud Run sets itself and refuses in a service's environment."""


def run_size(cpu: float, memory_mb: int) -> tuple[str, int]:
    """The smallest size Cloud Run runs with at least `cpu` vCPUs and `memory_mb` MiB: its CPU limit (a fraction in
    thousandths, `250m`, else a whole step) and its memory in MiB. Raises `ValueError` past Cloud Run's largest."""
    if cpu < 1 and memory_mb <= RUN_FRACTION_MAX_MEMORY_MB:
        return f"{round(cpu * 1000)}m", max(memory_mb, RUN_MIN_MEMORY_MB)
    for step in RUN_CPU_STEPS:
        if step + 1e-9 >= cpu and RUN_MEMORY_PER_CPU_MB[step] >= memory_mb:
            return f"{step:g}", max(memory_mb, RUN_MIN_MEMORY_FOR_CPU_MB.get(step, RUN_MIN_MEMORY_MB))
    raise ValueError(
        f"Cloud Run runs at most {RUN_MAX_CPU:g} vCPUs and {RUN_MAX_MEMORY_MB} MiB a replica, "
        f"not {cpu:g} vCPUs with {memory_mb} MiB"
    )


def refusals(desired: Desired) -> list[Refusal]:
    """Every contract value of `desired` that GCP cannot give; none for a contract it has no limits for."""
    check = CHECKS.get(desired.contract)
    return list(check(desired)) if check is not None else []


def _queue(desired: Desired) -> Iterator[Refusal]:
    spec = desired.spec
    seconds = spec.visibility_timeout_seconds
    if not ACK_MIN_SECONDS <= seconds <= ACK_MAX_SECONDS:
        yield (
            ("visibility_timeout_seconds",),
            f"{seconds} is outside what Pub/Sub allows for an ack deadline "
            f"({ACK_MIN_SECONDS}-{ACK_MAX_SECONDS} seconds)",
        )
    retention = spec.retention_seconds
    if not RETENTION_MIN_SECONDS <= retention <= RETENTION_MAX_SECONDS:
        yield (
            ("retention_seconds",),
            f"{retention} is outside how long a Pub/Sub subscription keeps messages "
            f"({RETENTION_MIN_SECONDS}-{RETENTION_MAX_SECONDS} seconds: 10 minutes to 7 days)",
        )
    if spec.dead_letter is not None and not DELIVERIES_MIN <= spec.dead_letter.max_receives <= DELIVERIES_MAX:
        yield (
            ("dead_letter", "max_receives"),
            f"{spec.dead_letter.max_receives} is outside the delivery attempts a Pub/Sub dead-letter policy takes "
            f"({DELIVERIES_MIN}-{DELIVERIES_MAX})",
        )
    if not spec.encrypted:
        yield ("encrypted",), "Pub/Sub always encrypts messages at rest; it cannot be turned off"


def _logging(desired: Desired) -> Iterator[Refusal]:
    days = desired.spec.retention_days
    if days > LOG_RETENTION_MAX_DAYS:
        yield (
            ("retention_days",),
            f"Cloud Logging keeps records at most {LOG_RETENTION_MAX_DAYS} days, not {days}",
        )


def _compute(desired: Desired) -> Iterator[Refusal]:
    spec = desired.spec
    try:
        run_size(spec.cpu, spec.memory_mb)
    except ValueError as exc:
        yield ("cpu", "memory_mb"), str(exc)
    reserved = sorted(set(spec.env) & set(RUN_RESERVED_ENV))
    if reserved:
        yield ("env",), f"Cloud Run sets {', '.join(reserved)} itself and refuses them in a service's environment"


CHECKS: dict[str, Callable[[Desired], Iterator[Refusal]]] = {
    "queue/v1": _queue,
    "logging/v1": _logging,
    "compute/v1": _compute,
}
