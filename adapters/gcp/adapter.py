"""`GcpAdapter`: the GCP drivers (`DRIVERS`) sharing one project, one location, one set of credentials and the
adapter's settings."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from adapters.base import Adapter, AdapterError, Observed, build_drivers
from adapters.gcp import DRIVERS, PROVIDER, names
from adapters.gcp.context import SDK_ERRORS, GcpContext, credentials_for, failures, failures_reason
from adapters.gcp.driver import GcpDriver
from adapters.gcp.project import check_settings as project_identity_problem
from contracts.errors import MnopsError

DEFAULT_RETRY_SECONDS = 60.0
# Threads reading secret values during observation: each read waits on a network round trip, and 16 keep a scan of a
# thousand secrets near the listing's own speed while staying well under Secret Manager's per-project access quota.
DEFAULT_MAX_CONCURRENCY = 16
# GCP project ids: 6-30 lower-case letters, digits and hyphens, starting with a letter (`domain:` prefixes for legacy
# projects included).
PROJECT_ID = re.compile(r"^([a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")


class GcpAdapter(Adapter):
    """Resources in one GCP project and location.

    Settings (from `providers.gcp.settings` in ecosystem.yaml, so all scalars): `project` (default:
    `GOOGLE_CLOUD_PROJECT`, else the credentials' own; there is no silent fallback), `location` (where buckets are
    made, e.g. `europe-west1`; a platform's region must name it; `region`, which the engine passes from the
    provider's `default_region`, says the same), `credentials_file` (a service-account key file;
    otherwise application default credentials), `anonymous` (no credentials: for emulators only),
    `storage_endpoint` (the Cloud Storage JSON API's root URL: an emulator), `grpc_endpoint` (`host:port` serving the
    gRPC APIs, Secret Manager, Cloud Logging, Cloud Run, over a plain channel without credentials: an emulator or a
    fake), `pubsub_endpoint` (`host:port` of a Pub/Sub emulator, likewise), `retry_seconds` (how long a call is
    retried on transient errors, default 60), `max_concurrency` (threads reading secret values while observing,
    default 16). For compute: `default_image` (for resources naming no `image`) and `container_port` (what `{port}`
    becomes and Cloud Run sends requests to, default 8080). `project_identity`: how the project itself is marked as
    mnops's through Resource Manager before the first write, `none` (default), `labels` or `tags` (binding
    `tag_value`, `tagValues/<id>`). `base_dir` is what `file:` secret sources are relative to;
    `clock` (seconds since the epoch) is what rotation ages are measured by.
    """

    provider: ClassVar[str] = PROVIDER

    def __init__(
        self,
        project: str | None = None,
        location: str | None = None,
        *,
        region: str | None = None,
        credentials_file: str | None = None,
        anonymous: bool = False,
        storage_endpoint: str | None = None,
        grpc_endpoint: str | None = None,
        pubsub_endpoint: str | None = None,
        default_image: str | None = None,
        container_port: int = 8080,
        project_identity: str = "none",
        tag_value: str | None = None,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        base_dir: str | Path | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if location and region and location != region:
            raise AdapterError(
                PROVIDER, "configure", None, f"location {location!r} and region {region!r} disagree: set one"
            )
        location = location or region
        if not location:
            # Making buckets wherever a default happens to put them is how data ends up outside its jurisdiction.
            raise AdapterError(PROVIDER, "configure", None, "no location: set the gcp provider's `location` setting")
        try:
            with failures("configure", None, subject="credentials"):
                credentials, their_project = credentials_for(_flag(anonymous), credentials_file or None)
        except OSError as exc:  # a key file that cannot be read
            raise AdapterError(PROVIDER, "configure", None, f"credentials_file: {exc.strerror}") from exc
        chosen = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or their_project
        if not chosen:
            raise AdapterError(
                PROVIDER,
                "configure",
                None,
                "no project: set the gcp provider's `project` setting or GOOGLE_CLOUD_PROJECT",
            )
        refused = project_identity_problem(str(project_identity), tag_value or None)
        if refused:
            raise AdapterError(PROVIDER, "configure", None, refused)
        if not PROJECT_ID.match(chosen):
            raise AdapterError(PROVIDER, "configure", None, f"project {chosen!r} is not a GCP project id")
        self.gcp = GcpContext(
            project=chosen,
            location=str(location),
            credentials=credentials,
            storage_endpoint=storage_endpoint or None,
            grpc_endpoint=grpc_endpoint or None,
            pubsub_endpoint=pubsub_endpoint or None,
            default_image=default_image or None,
            container_port=int(container_port),
            project_identity=str(project_identity),
            tag_value=tag_value or None,
            retry_seconds=float(retry_seconds),
            max_concurrency=max(1, int(max_concurrency)),
            base_dir=Path(base_dir).absolute() if base_dir is not None else Path(os.getcwd()),
            clock=clock,
        )
        super().__init__(drivers=build_drivers(DRIVERS, self.gcp))

    def __repr__(self) -> str:
        where = f", storage_endpoint={self.gcp.storage_endpoint!r}" if self.gcp.storage_endpoint else ""
        return f"GcpAdapter(project={self.gcp.project!r}, location={self.gcp.location!r}{where})"

    def observe(self, platform: str) -> dict[str, Observed]:
        found = self.observe_many([platform])[platform]
        if isinstance(found, MnopsError):
            raise found
        return found

    def observe_many(self, platforms: Sequence[str]) -> dict[str, dict[str, Observed] | MnopsError]:
        """Every managed resource of each platform: one listing per service for all the platforms at once (labels
        and settings come with it), so a scan costs a few calls per page, not per resource. A listing that fails
        fails every platform, since each might have had resources in it; a resource that cannot be read fails its own
        platform only."""
        found: dict[str, dict[str, Observed] | MnopsError] = {p: {} for p in platforms}
        wanted = sorted({p for p in platforms if names.is_name(p)})
        if not wanted:
            return found
        for driver in self.drivers.values():
            assert isinstance(driver, GcpDriver)
            try:
                observations = driver.observe_platforms(wanted)
            except SDK_ERRORS as exc:
                error = AdapterError(PROVIDER, "observe", None, f"{driver.contract} resources: {failures_reason(exc)}")
                error.__cause__ = exc
                return {p: error if p in wanted else {} for p in platforms}
            for platform, observed in observations.items():
                so_far = found[platform]
                if isinstance(so_far, MnopsError):
                    continue
                if isinstance(observed, MnopsError):
                    found[platform] = observed
                else:
                    so_far.update((o.key.name, o) for o in observed)
        return found

    def platforms(self) -> list[str]:
        """Every platform with at least one managed resource in this project, sorted: the identity labels of what
        each service lists in mnops's namespace."""
        seen: set[str] = set()
        with failures("list platforms", None):
            for driver in self.drivers.values():
                assert isinstance(driver, GcpDriver)
                seen.update(driver.platform_names())
        return sorted(seen)

    def close(self) -> None:
        self.gcp.close()


def _flag(value: object) -> bool:
    """Settings are YAML scalars: `true`, or the strings a templated value gives."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
