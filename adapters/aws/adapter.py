"""`AwsAdapter`: the AWS drivers (`DRIVERS`) sharing one boto3 session, one region and the adapter's settings."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import boto3
from botocore.exceptions import BotoCoreError

from adapters.aws import DRIVERS, PROVIDER, names
from adapters.aws.context import AwsContext, Network, failures, flag, split_list
from adapters.aws.driver import AwsDriver
from adapters.base import Adapter, AdapterError, Observed, build_drivers
from contracts.errors import MnopsError

DEFAULT_MAX_ATTEMPTS = 8
# Threads observing at once. AWS calls spend their time waiting on the network: at a 30 ms round trip, 16 threads keep
# a scan of a thousand resources near the endpoint's own speed, while staying under the per-account request rates
# (S3 and ECS describes) that adaptive retries would otherwise have to slow down to.
DEFAULT_MAX_CONCURRENCY = 16


class AwsAdapter(Adapter):
    """Resources in one AWS account and region.

    Settings (from `providers.aws.settings` in ecosystem.yaml, so all scalars; lists are comma-separated):
    `region` (default: `AWS_REGION`, else `AWS_DEFAULT_REGION` or the profile's; there is no silent fallback),
    `endpoint_url` (one endpoint for every service: moto, LocalStack), `profile` (a named profile; credentials
    otherwise come from boto3's usual chain, never from settings), `max_attempts` (adaptive retries per call),
    `connect_timeout`/`read_timeout` (seconds), `max_concurrency` (threads observing at once, default 16), and for
    compute `subnets`, `security_groups`, `assign_public_ip`, `execution_role_arn`, `task_role_arn`, `default_image`,
    `container_port`, `health_poll_seconds`. Secrets:
    `deletion_recovery_days` (unset: deleted at once; 7-30: recoverable that long). `base_dir` is what `file:`
    secret sources are relative to; `clock` (seconds since the epoch) is what rotation ages are measured by.
    `session` is a ready boto3 Session to use instead of making one (credentials from an assumed role; tests share one
    between adapters, since every new session loads the service models again); only one thread may make clients from
    a session at a time, so adapters used from different threads should not share one.
    """

    provider: ClassVar[str] = PROVIDER

    def __init__(
        self,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        subnets: str | Sequence[str] | None = None,
        security_groups: str | Sequence[str] | None = None,
        assign_public_ip: bool = False,
        execution_role_arn: str | None = None,
        task_role_arn: str | None = None,
        default_image: str | None = None,
        container_port: int = 8080,
        health_poll_seconds: float = 5.0,
        deletion_recovery_days: int | None = None,
        database_instance_class: str = "db.t4g.micro",
        base_dir: str | Path | None = None,
        clock: Callable[[], float] | None = None,
        session: boto3.Session | None = None,
    ) -> None:
        if session is None:
            # AWS_REGION is what the AWS CLI v2 and the other SDKs read first; botocore reads only AWS_DEFAULT_REGION.
            region = region or os.environ.get("AWS_REGION") or None
            try:
                session = boto3.Session(profile_name=profile, region_name=region)
            except BotoCoreError as exc:  # an unknown profile
                raise AdapterError(PROVIDER, "configure", None, f"{type(exc).__name__}: {exc}") from exc
        elif region is not None and session.region_name != region:
            raise AdapterError(
                PROVIDER, "configure", None, f"the session given is for {session.region_name}, not {region}"
            )
        chosen = session.region_name
        if not chosen:
            # Deploying to whatever region a default happens to name is how resources end up where nobody looks.
            raise AdapterError(
                PROVIDER, "configure", None, "no region: set the aws provider's `region` setting or AWS_REGION"
            )
        if deletion_recovery_days is not None and not 7 <= int(deletion_recovery_days) <= 30:
            raise AdapterError(PROVIDER, "configure", None, "deletion_recovery_days must be between 7 and 30")
        self.aws = AwsContext(
            session=session,
            endpoint_url=endpoint_url,
            profile=profile,
            max_attempts=int(max_attempts),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            network=Network(split_list(subnets), split_list(security_groups), flag(assign_public_ip)),
            execution_role_arn=execution_role_arn or None,
            task_role_arn=task_role_arn or None,
            default_image=default_image or None,
            container_port=int(container_port),
            health_poll_seconds=float(health_poll_seconds),
            deletion_recovery_days=int(deletion_recovery_days) if deletion_recovery_days is not None else None,
            base_dir=Path(base_dir).absolute() if base_dir is not None else Path(os.getcwd()),
            clock=clock or time.time,
            max_concurrency=max(1, int(max_concurrency)),
            database_instance_class=str(database_instance_class),
        )
        super().__init__(drivers=build_drivers(DRIVERS, self.aws))

    @property
    def region(self) -> str:
        return self.aws.region

    def __repr__(self) -> str:
        where = f", endpoint_url={self.aws.endpoint_url!r}" if self.aws.endpoint_url else ""
        return f"AwsAdapter(region={self.aws.region!r}{where}, profile={self.aws.profile!r})"

    def observe(self, platform: str) -> dict[str, Observed]:
        found = self.observe_many([platform])[platform]
        if isinstance(found, MnopsError):
            raise found
        return found

    def observe_many(self, platforms: Sequence[str]) -> dict[str, dict[str, Observed] | MnopsError]:
        """Every managed resource of each platform, read with as few calls as AWS allows, on `max_concurrency` threads.

        One tagging-API listing per 20 platforms finds every candidate of every service with its tags; then each
        service lists what it can in bulk (log groups, queue URLs, 10 ECS services a call, 20 secret values a call),
        and what has no bulk call (an S3 bucket's settings, a queue's attributes, a task definition) is read per
        resource. A platform whose resources could not all be read maps to the error: a failed tagging listing fails
        its 20 platforms, a failed bulk listing of a service every platform.
        """
        found: dict[str, dict[str, Observed] | MnopsError] = {p: {} for p in platforms}
        wanted = sorted({p for p in platforms if names.is_name(p)})
        if not wanted:
            return found
        drivers = [d for d in self.drivers.values() if isinstance(d, AwsDriver)]
        try:
            tagged = self.aws.tagged(wanted, [d.resource_type for d in drivers])
            by_driver = [driver.observe_tagged(tagged) for driver in drivers]
        except MnopsError as exc:
            return {p: exc if p in wanted else {} for p in platforms}
        for observations in by_driver:
            for platform, result in observations.items():
                so_far = found[platform]
                if isinstance(so_far, MnopsError):
                    continue
                if isinstance(result, MnopsError):
                    found[platform] = result
                else:
                    so_far.update((o.key.name, o) for o in result)
        return found

    def platforms(self) -> list[str]:
        """Every platform with at least one managed resource in this account and region, sorted.

        The tagging API also lists what AWS keeps of deleted resources for a while (a deleted service, the inactive
        revisions of its task definition), so each platform it names is confirmed by observing it: as many calls as
        a drift scan of those platforms.
        """
        with failures("list platforms", None):
            listed = self.aws.platforms()
        observed = self.observe_many(listed)
        failed = [result for result in observed.values() if isinstance(result, MnopsError)]
        if failed:
            raise failed[0]
        return [platform for platform in listed if observed[platform]]

    def close(self) -> None:
        self.aws.close()
