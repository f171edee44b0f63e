"""`AzureAdapter`: the Azure drivers (`DRIVERS`) sharing one credential, one subscription and location, and the
management clients made from them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from azure.core.credentials import TokenCredential

from adapters.azure import DRIVERS, PROVIDER
from adapters.azure.context import AzureContext, failures
from adapters.azure.driver import AzureDriver
from adapters.base import Adapter, AdapterError, Observed, build_drivers
from contracts.errors import MnopsError

PUBLIC_ARM = "https://management.azure.com"
BULK_FROM = 5
"""From this many platforms on, observation lists the subscription once per tracked type (5 listings) rather than
each platform's group."""
CREDENTIALS = ("default", "managed-identity", "cli", "environment", "workload-identity")


class AzureAdapter(Adapter):
    """Resources in one Azure subscription and location, one resource group (`mnops-<platform>`) per platform.

    Settings (from `providers.azure.settings` in ecosystem.yaml): `region` (the Azure location, `westeurope`; the
    provider's `default_region` unless set), `subscription_id` (default: `AZURE_SUBSCRIPTION_ID`), `credential`
    (`default`: `DefaultAzureCredential`'s chain; or one link of it: `managed-identity`, `workload-identity`,
    `environment`, `cli`), `client_id` (a user-assigned managed identity), `arm_endpoint` (Resource Manager's URL,
    default the public cloud's), `ca_bundle` (a PEM file of certificate authorities to trust instead of the system's),
    `polling_interval` (seconds between polls of a long-running operation when Azure does not say), `retry_total`
    (retries of a throttled or failed call; 429s wait as long as `Retry-After` says), `tenant_id` (the directory
    new Key Vaults trust; default `AZURE_TENANT_ID`), `verify_challenge_resource` (whether Key Vault's authentication
    challenge must name a Key Vault domain; off only for a vault reached by address, as tests do). Credentials never
    come from settings: only which chain finds them. `token_credential` is a ready `TokenCredential` to use instead.
    For compute: `default_image` (for resources naming no `image`) and `container_port` (what `{port}` becomes).
    `max_concurrency` is how many platforms observation reads at once (8).
    `base_dir` is what `file:` secret sources are relative to; `clock` (seconds since the epoch) is what rotation ages
    are measured by.
    """

    provider: ClassVar[str] = PROVIDER

    def __init__(
        self,
        region: str | None = None,
        subscription_id: str | None = None,
        *,
        credential: str = "default",
        client_id: str | None = None,
        arm_endpoint: str = PUBLIC_ARM,
        ca_bundle: str | Path | None = None,
        polling_interval: float | None = None,
        retry_total: int | None = None,
        tenant_id: str | None = None,
        default_image: str | None = None,
        container_port: int = 8080,
        verify_challenge_resource: bool = True,
        base_dir: str | Path | None = None,
        clock: Callable[[], float] | None = None,
        token_credential: TokenCredential | None = None,
        max_concurrency: int = 8,
    ) -> None:
        subscription_id = subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID") or None
        if not subscription_id:
            raise AdapterError(
                PROVIDER,
                "configure",
                None,
                "no subscription: set the azure provider's `subscription_id` setting or AZURE_SUBSCRIPTION_ID",
            )
        if not region:
            raise AdapterError(PROVIDER, "configure", None, "no location: set the azure provider's `region` setting")
        if credential not in CREDENTIALS:
            raise AdapterError(
                PROVIDER, "configure", None, f"credential {credential!r} is not one of {', '.join(CREDENTIALS)}"
            )
        if ca_bundle is not None and not Path(ca_bundle).is_file():
            raise AdapterError(PROVIDER, "configure", None, f"ca_bundle {ca_bundle} is not a file")
        options: dict[str, Any] = {}
        if ca_bundle is not None:
            options["connection_verify"] = str(ca_bundle)
        if polling_interval is not None:
            options["polling_interval"] = float(polling_interval)
        if retry_total is not None:
            options["retry_total"] = int(retry_total)
        self.azure = AzureContext(
            subscription_id=str(subscription_id),
            location=str(region),
            credential=token_credential or _credential(credential, client_id),
            arm_endpoint=str(arm_endpoint).rstrip("/"),
            client_options=options,
            tenant_id=tenant_id or os.environ.get("AZURE_TENANT_ID") or None,
            verify_challenge_resource=_flag(verify_challenge_resource),
            base_dir=Path(base_dir).absolute() if base_dir is not None else Path(os.getcwd()),
            clock=clock or time.time,
            default_image=default_image or None,
            container_port=int(container_port),
        )
        self.max_concurrency = max(1, int(max_concurrency))
        super().__init__(drivers=build_drivers(DRIVERS, self.azure))

    @property
    def region(self) -> str:
        return self.azure.location

    def __repr__(self) -> str:
        where = f", arm_endpoint={self.azure.arm_endpoint!r}" if self.azure.arm_endpoint != PUBLIC_ARM else ""
        return f"AzureAdapter(region={self.azure.location!r}, subscription_id={self.azure.subscription_id!r}{where})"

    def observe(self, platform: str) -> dict[str, Observed]:
        found = self.observe_many([platform])[platform]
        if isinstance(found, MnopsError):
            raise found
        return found

    def observe_many(self, platforms: Sequence[str]) -> dict[str, dict[str, Observed] | MnopsError]:
        """Every managed resource of each platform; a platform whose resources could not be read maps to the error.

        Fewer than `BULK_FROM` platforms: one listing of each platform's group (with tags) serves every driver, then
        each resource of ours is read. From `BULK_FROM` on: one listing of the subscription per tracked type (each
        row with its tags and properties; a failed listing fails every platform), so only what a listing does not
        carry is read (child resources, a vault's secrets). Platforms are observed `max_concurrency` at a time."""
        wanted = list(dict.fromkeys(platforms))
        drivers = [d for d in self.drivers.values() if isinstance(d, AzureDriver)]
        if len(wanted) < BULK_FROM:
            return dict(zip(wanted, self._each(wanted, lambda p: self._observe_group(p, drivers)), strict=True))
        try:
            rows = self._listings(drivers)
        except MnopsError as exc:
            return dict.fromkeys(wanted, exc)
        return dict(zip(wanted, self._each(wanted, lambda p: self._observe_rows(p, drivers, rows)), strict=True))

    def _each(
        self, platforms: list[str], observe: Callable[[str], dict[str, Observed]]
    ) -> list[dict[str, Observed] | MnopsError]:
        def one(platform: str) -> dict[str, Observed] | MnopsError:
            try:
                return observe(platform)
            except MnopsError as exc:
                return exc

        if self.max_concurrency <= 1 or len(platforms) <= 1:
            return [one(p) for p in platforms]
        with ThreadPoolExecutor(min(self.max_concurrency, len(platforms))) as pool:
            return list(pool.map(one, platforms))

    def _observe_group(self, platform: str, drivers: list[AzureDriver]) -> dict[str, Observed]:
        with failures("observe", None, subject=f"platform {platform}"):
            listed = self.azure.listed(platform)
        observed: dict[str, Observed] = {}
        for driver in drivers:
            observed.update((o.key.name, o) for o in driver.observe_listed(platform, listed))
        return observed

    def _listings(self, drivers: list[AzureDriver]) -> dict[tuple[str, str], list[Any]]:
        """Each driver's subscription listing, concurrently, by (ARM type in lower case, platform of the group)."""

        def listing(driver: AzureDriver) -> list[Any]:
            with failures("observe", None, subject=f"listing of {driver.arm_type}"):
                return list(driver.listing())

        with ThreadPoolExecutor(max(1, min(self.max_concurrency, len(drivers)))) as pool:
            listed = list(pool.map(listing, drivers))
        rows: dict[tuple[str, str], list[Any]] = {}
        for driver, models in zip(drivers, listed, strict=True):
            for model in models:
                platform = self.azure.platform_of(str(model.id or ""))
                if platform is not None:
                    rows.setdefault((driver.arm_type.lower(), platform), []).append(model)
        return rows

    def _observe_rows(
        self, platform: str, drivers: list[AzureDriver], rows: dict[tuple[str, str], list[Any]]
    ) -> dict[str, Observed]:
        observed: dict[str, Observed] = {}
        for driver in drivers:
            found = rows.get((driver.arm_type.lower(), platform), [])
            observed.update((o.key.name, o) for o in driver.observe_found(platform, found))
        return observed

    def platforms(self) -> list[str]:
        """Every platform with at least one managed resource in this subscription, sorted: one tag-filtered listing."""
        drivers = [d for d in self.drivers.values() if isinstance(d, AzureDriver)]
        with failures("list platforms", None):
            found = self.azure.managed_groups(frozenset(d.arm_type.lower() for d in drivers))
        # A vault outlives its last secret: such a platform counts only while something of ours is in it.
        listed: set[str] = set()
        for platform, types in sorted(found.items()):
            if any(d.per_resource and d.arm_type.lower() in types for d in drivers) or any(
                not d.per_resource and d.arm_type.lower() in types and d.holds_any(platform) for d in drivers
            ):
                listed.add(platform)
        return sorted(listed)

    def close(self) -> None:
        self.azure.close()


def _flag(value: object) -> bool:
    """A boolean setting, which YAML or an environment may give as text."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "no", "off", "0", "")
    return bool(value)


def _credential(kind: str, client_id: str | None) -> TokenCredential:
    import azure.identity as identity

    if kind == "managed-identity":
        return identity.ManagedIdentityCredential(client_id=client_id)
    if kind == "workload-identity":
        return identity.WorkloadIdentityCredential(client_id=client_id)
    if kind == "environment":
        return identity.EnvironmentCredential()
    if kind == "cli":
        return identity.AzureCliCredential()
    return identity.DefaultAzureCredential(managed_identity_client_id=client_id)
