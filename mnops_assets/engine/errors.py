"""Errors of the deployment engine, each naming the platform and what to do next."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import HealthReport
from contracts.errors import MnopsError


class PlatformLocked(MnopsError):
    """Another deployment of the same platform holds its lock."""

    def __init__(self, platform: str, holder: str, since: str, deploy_id: str, until: str | None = None) -> None:
        self.platform = platform
        self.holder = holder
        self.until = until
        lease = f"its lease renewed until {until}" if until else "no lease (taken before leases)"
        super().__init__(
            f"platform {platform!r} is being changed by {holder} since {since} (deploy {deploy_id}; {lease}); "
            "retry later or wait for it with --wait: a lock whose holder died is broken once its lease runs out"
        )


class LockHeld(MnopsError):
    """`unlock` without --force of a lock whose lease is still fresh: its holder may be alive."""

    def __init__(self, platform: str, holder: str, deploy_id: str, until: str | None) -> None:
        self.platform = platform
        self.holder = holder
        self.until = until
        lease = f"a lease renewed until {until}" if until else "no lease (taken before leases existed)"
        super().__init__(
            f"platform {platform!r} is locked by {holder} (deploy {deploy_id}) with {lease}: its holder renews it "
            f"while it runs, so it may be alive; nothing was broken. A dead holder's lease runs out by itself; "
            f"`mnops unlock {platform} --force` breaks it now, if you know that deploy is gone"
        )


class LeaseLost(MnopsError):
    """This operation's lock was broken by someone else (its lease had run out, or `unlock --force`)."""

    def __init__(self, platform: str, deploy_id: str) -> None:
        self.platform = platform
        super().__init__(
            f"platform {platform!r}: the lock of deploy {deploy_id} was broken by someone else (its lease ran out or "
            "`mnops unlock --force`); stopped before the next step"
        )


class DeployFailed(MnopsError):
    """A deployment failed and was rolled back (or the rollback failed too: see `rolled_back`)."""

    def __init__(self, platform: str, reason: str, *, rolled_back: bool, rollback_error: str | None = None) -> None:
        self.platform = platform
        self.reason = reason
        self.rolled_back = rolled_back
        self.rollback_error = rollback_error
        outcome = "rolled back to the last good version" if rolled_back else f"ROLLBACK FAILED: {rollback_error}"
        super().__init__(f"deploy of {platform!r} failed: {reason}; {outcome}")


class GovernanceRefused(MnopsError):
    """Unwaived error-severity governance findings: nothing was touched."""

    def __init__(self, platform: str, findings: list[str]) -> None:
        self.platform = platform
        self.findings = findings
        listed = "\n".join(f"  {f}" for f in findings)
        super().__init__(f"deploy of {platform!r} refused by governance ({len(findings)} error finding(s)):\n{listed}")


class ProtectedPlatform(MnopsError):
    def __init__(self, platform: str) -> None:
        self.platform = platform
        super().__init__(f"platform {platform!r} is marked protect: true; destroying it needs --force")


class UnknownVersion(MnopsError):
    def __init__(self, platform: str, version: int | None, known: list[int]) -> None:
        what = f"version {version}" if version is not None else "a version to return to"
        listed = ", ".join(map(str, known)) or "none"
        super().__init__(f"platform {platform!r} has no {what} (applied versions: {listed})")


class AuditBroken(MnopsError):
    """The audit chain does not verify: a record was altered or removed."""


class DestructiveChangeRefused(MnopsError):
    """A protected platform's plan deletes or replaces resources (and so their data)."""

    def __init__(self, platform: str, steps: list[str]) -> None:
        self.platform = platform
        self.steps = steps
        super().__init__(
            f"platform {platform!r} is marked protect: true and this deploy would {', '.join(steps)}; "
            "nothing was changed: deploy with --force if that is meant"
        )


class HealthCheckFailed(MnopsError):
    """Resources applied (or restarted) did not pass their health checks: the operation converges back."""

    def __init__(self, failures: Mapping[str, HealthReport], when: str = "") -> None:
        self.failures = dict(failures)
        listed = "; ".join(f"{name}: {report.detail or 'unhealthy'}" for name, report in sorted(failures.items()))
        super().__init__(f"health check failed{f' {when}' if when else ''}: {listed}")


class ProducerInUse(MnopsError):
    """A destroy of a platform whose outputs deployed platforms read: they could not plan again."""

    def __init__(self, platform: str, readers: list[str]) -> None:
        self.platform = platform
        self.readers = readers
        them = "them" if len(readers) > 1 else "it"
        super().__init__(
            f"platform {platform!r} is read by deployed {', '.join(readers)} (`ref:{platform}/...`): destroy {them} "
            f"first, or pass --force to leave {them} unable to plan until {platform} is deployed again"
        )
