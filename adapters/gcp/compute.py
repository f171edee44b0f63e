"""compute/v1 on GCP: a Cloud Run v2 service `mnops-<platform>-<resource>-<hash>` in the adapter's location, one
container named as the resource.

- `image` is required: Cloud Run runs containers. The adapter's `default_image` setting stands in for resources that
  name none; with neither, planning fails naming the resource.
- `command`: the container's command (its first word) and arguments; `{port}` becomes the adapter's `container_port`
  (default 8080), which is also the port Cloud Run sends requests to and sets as `PORT`. The command as declared is
  kept in the service's annotation `mnops-command`, so observation shows `{port}` where it was declared.
- `replicas`: the revision's scaling, `min_instance_count` = replicas and `max_instance_count` = replicas (at least
  1: Cloud Run has no stopped service, so 0 scales to zero when idle).
- `cpu`/`memory_mb`: the container's limits, rounded up to the smallest size Cloud Run runs (`limits.run_size`): a
  fraction of a vCPU, in thousandths, with at most 512 MiB; else a whole step (1, 2, 4, 6, 8) with at most 4 GiB a
  vCPU, and at least 2 GiB from 4 vCPUs and 4 GiB from 6; `desired_fields` and observation show the real size.
- `env`: plain values as variables; `secret:<resource>` becomes a Secret Manager reference to the platform's secret
  (`latest` version), read by the service's identity when an instance starts: the value never passes through here.
  A plain value under a credential-like name is shown as its HMAC.
- `health.http`: a startup probe and a readiness probe on that path (without it, a TCP startup probe on the port);
  `health.timeout_seconds` is how long the startup probe lets an instance take, kept in `mnops-health-timeout`.
- `health()` asks whether the service is Ready (its latest revision serves).

Writes are long-running operations, polled with short delays; updates carry the etag read, so a change made meanwhile
fails the write (ABORTED) instead of being overwritten.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as api_exceptions

from adapters.base import AdapterError, Desired, HealthReport, Observed, ResourceDriver, ResourceKey
from adapters.gcp import PROVIDER, labels, names
from adapters.gcp.driver import GcpDriver
from adapters.gcp.limits import run_size
from adapters.gcp.secretstore import SecretsDriver
from contracts.base import SECRET_REFERENCE_PREFIX, SENSITIVE_NAME
from contracts.compute.v1 import PORT_PLACEHOLDER

COMMAND_ANNOTATION = "mnops-command"
TIMEOUT_ANNOTATION = "mnops-health-timeout"
MAX_PROBE_FAILURES = 10
MAX_PROBE_PERIOD = 240
READY = "CONDITION_SUCCEEDED"
PAGE_SIZE = 500
_MEMORY = re.compile(r"^([0-9]+)(Mi|Gi)$")


class ComputeDriver(GcpDriver):
    contract = "compute/v1"

    def __init__(self, gcp: Any) -> None:
        super().__init__(gcp)
        self._secrets: SecretsDriver | None = None

    def bind(self, drivers: Mapping[str, ResourceDriver]) -> None:
        # A service is given the secrets its `env` refers to by their Secret Manager names: the secrets driver knows
        # them, and shows plain values under credential-like names as HMACs.
        found = drivers.get(SecretsDriver.contract)
        self._secrets = found if isinstance(found, SecretsDriver) else None

    def parent(self) -> str:
        return f"projects/{self.gcp.project}/locations/{self.gcp.location}"

    def service(self, key: ResourceKey) -> str:
        return f"{self.parent()}/services/{names.service(key)}"

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        fields = ResourceDriver.desired_fields(self, desired)
        fields["image"] = self._image(desired)
        cpu, fields["memory_mb"] = run_size(desired.spec.cpu, desired.spec.memory_mb)
        fields["cpu"] = _cpu(cpu)
        fields["env"] = {name: self._shown_env(desired.key, name, value) for name, value in desired.spec.env.items()}
        return fields

    def check(self, desired: Desired, operation: str) -> None:
        super().check(desired, operation)
        # The one refusal that depends on the adapter's settings (its `default_image`), so it is not a limit.
        self._image(desired, operation)

    # -- observation -------------------------------------------------------------------------------------------------

    def _list(self, platforms: list[str] | None) -> list[Observed | AdapterError]:
        """One listing of the location's services, a page per 500, whatever the number of platforms: labels and the
        whole template come with it."""
        listing = self.gcp.run_services().list_services(
            request={"parent": self.parent(), "page_size": PAGE_SIZE}, retry=self.gcp.grpc_retry
        )
        found: list[Observed | AdapterError] = []
        for service in listing:
            key = self.identity(labels.from_labels(service.labels))
            if (
                key is None
                or (platforms is not None and key.platform not in platforms)
                or service.name != self.service(key)
            ):
                continue  # not ours, or labelled as a key whose service it is not (copied labels)
            try:
                # Showing a credential-like plain value reads the HMAC key: a failure there fails this service only.
                with self.failures("observe", key):
                    found.append(self._observation(key, service))
            except AdapterError as exc:
                found.append(exc)
        return found

    def _find(self, key: ResourceKey) -> Observed | None:
        service = self._get(key)
        return None if service is None else self._observation(key, service)

    def _observation(self, key: ResourceKey, service: Any) -> Observed:
        tags = labels.from_labels(service.labels)
        containers = list(service.template.containers)
        if not containers:
            return self.observed(
                key, service.name, {}, tags, f"Cloud Run service {names.service(key)} has no container"
            )
        container = containers[0]
        problem = None
        condition = service.terminal_condition
        if condition.state.name != READY:
            problem = (
                f"Cloud Run service {names.service(key)} is not ready: {condition.message or condition.state.name}"
            )
        running = [*container.command, *container.args]
        try:
            declared = json.loads(service.annotations.get(COMMAND_ANNOTATION, "null"))
        except ValueError:
            declared = None
        if isinstance(declared, list) and self._command(declared) == running:
            command = declared
        else:
            port = str(self.gcp.container_port)
            command = [PORT_PLACEHOLDER if part == port else part for part in running]
        env: dict[str, str] = {}
        for variable in container.env:
            if "value_source" in variable:
                env[variable.name] = self._shown_reference(key, variable.value_source.secret_key_ref)
            else:
                env[variable.name] = self._shown_env(key, variable.name, variable.value)
        limits = dict(container.resources.limits)
        memory = _MEMORY.match(limits.get("memory", ""))
        probe = container.startup_probe
        timeout = service.annotations.get(TIMEOUT_ANNOTATION, "")
        fields = {
            "command": command,
            "image": container.image,
            "replicas": int(service.template.scaling.min_instance_count),
            "cpu": _cpu(limits["cpu"]) if "cpu" in limits else None,
            "memory_mb": int(memory.group(1)) * (1024 if memory.group(2) == "Gi" else 1) if memory else None,
            "env": env,
            "health": {
                "http": probe.http_get.path if "http_get" in probe else None,
                "timeout_seconds": int(timeout) if timeout.isdigit() else None,
            },
        }
        return self.observed(key, service.name, fields, tags, problem, {"url": service.uri})

    def health(self, current: Observed) -> HealthReport:
        report = super().health(current)
        return HealthReport(True, "Cloud Run service is ready") if report.healthy else report

    def outputs(self, current: Observed) -> dict[str, str]:
        url = current.address("url")
        return {"name": names.service(current.key), "url": url, "urls": url}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        key = desired.key
        operation = "update" if current else "create"
        client = self.gcp.run_services()
        body = self._service_body(desired, operation)
        found = self._get(key)
        if found is None:
            try:
                client.create_service(
                    request={"parent": self.parent(), "service_id": names.service(key), "service": body},
                    retry=self.gcp.grpc_retry,
                ).result(polling=self.gcp.polling)
            except api_exceptions.AlreadyExists:  # made meanwhile by a concurrent apply: converge it below
                found = self._get(key)
        if found is not None:
            observed = self._observation(key, found)
            merged = {**found.labels, **body["labels"]}
            if (
                observed.fields != self.desired_fields(desired)
                or dict(found.labels) != merged
                or any(found.annotations.get(k) != v for k, v in body["annotations"].items())
            ):
                annotations = {**found.annotations, **body["annotations"]}
                client.update_service(
                    request={
                        "service": {
                            **body,
                            "name": found.name,
                            "etag": found.etag,
                            "labels": merged,
                            "annotations": annotations,
                        }
                    },
                    retry=self.gcp.grpc_retry,
                ).result(polling=self.gcp.polling)
        made = self._find(key)
        if made is None:
            raise AdapterError(PROVIDER, operation, key, f"Cloud Run service {names.service(key)} vanished")
        return made

    def _delete(self, key: ResourceKey) -> None:
        try:
            operation = self.gcp.run_services().delete_service(
                request={"name": self.service(key)}, retry=self.gcp.grpc_retry
            )
        except api_exceptions.NotFound:
            return
        operation.result(polling=self.gcp.polling)

    def _add_labels(self, key: ResourceKey, wanted: Mapping[str, str]) -> None:
        found = self.gcp.run_services().get_service(request={"name": self.service(key)}, retry=self.gcp.grpc_retry)
        found.labels.update(wanted)
        self.gcp.run_services().update_service(request={"service": found}, retry=self.gcp.grpc_retry).result(
            polling=self.gcp.polling
        )

    # -- building the service ----------------------------------------------------------------------------------------

    def _service_body(self, desired: Desired, operation: str) -> dict[str, Any]:
        spec = desired.spec
        port = self.gcp.container_port
        command = self._command(list(spec.command))
        cpu, memory = run_size(spec.cpu, spec.memory_mb)
        check: dict[str, Any] = {"http_get": {"path": spec.health.http}} if spec.health.http else {"tcp_socket": {}}
        period = min(MAX_PROBE_PERIOD, max(1, math.ceil(spec.health.timeout_seconds / MAX_PROBE_FAILURES)))
        container: dict[str, Any] = {
            "name": desired.key.name,
            "image": self._image(desired, operation),
            "command": command[:1],
            "args": command[1:],
            "env": self._env(desired, operation),
            "resources": {"limits": {"cpu": cpu, "memory": f"{memory}Mi"}},
            "ports": [{"container_port": port}],
            "startup_probe": {
                **check,
                "period_seconds": period,
                "timeout_seconds": 1,
                "failure_threshold": max(1, math.ceil(spec.health.timeout_seconds / period)),
            },
        }
        if spec.health.http:
            container["readiness_probe"] = {**check, "period_seconds": 10, "failure_threshold": 3}
        return {
            "labels": labels.to_labels(desired.tags),
            "annotations": {
                COMMAND_ANNOTATION: json.dumps(list(spec.command), separators=(",", ":")),
                TIMEOUT_ANNOTATION: str(spec.health.timeout_seconds),
            },
            "template": {
                "scaling": {"min_instance_count": spec.replicas, "max_instance_count": max(1, spec.replicas)},
                "containers": [container],
            },
        }

    def _env(self, desired: Desired, operation: str) -> list[dict[str, Any]]:
        key = desired.key
        env: list[dict[str, Any]] = []
        for name, value in sorted(desired.spec.env.items()):
            if not value.startswith(SECRET_REFERENCE_PREFIX):
                env.append({"name": name, "value": value})
                continue
            resource = value.removeprefix(SECRET_REFERENCE_PREFIX)
            if (
                not names.is_name(resource)
                or self._secrets is None
                or self._secrets.find(ResourceKey(key.platform, resource)) is None
            ):
                raise AdapterError(
                    PROVIDER,
                    operation,
                    key,
                    f"env {name} refers to secret {resource!r}, which platform {key.platform} does not have "
                    "(deploy it first: list it in depends_on)",
                )
            reference = {"secret": self._secret_name(key.platform, resource), "version": "latest"}
            env.append({"name": name, "value_source": {"secret_key_ref": reference}})
        return env

    def _secret_name(self, platform: str, resource: str) -> str:
        return f"projects/{self.gcp.project}/secrets/{names.secret(ResourceKey(platform, resource))}"

    def _shown_reference(self, key: ResourceKey, reference: Any) -> str:
        prefix = f"projects/{self.gcp.project}/secrets/{names.secret_prefix(key.platform)}"
        resource = reference.secret.removeprefix(prefix)
        if reference.secret.startswith(prefix) and names.is_name(resource) and reference.version == "latest":
            return SECRET_REFERENCE_PREFIX + resource
        return f"secretKeyRef:{reference.secret}@{reference.version}"

    def _shown_env(self, key: ResourceKey, name: str, value: str) -> str:
        if not SENSITIVE_NAME.search(name) or value.startswith(SECRET_REFERENCE_PREFIX):
            return value
        if self._secrets is None:
            raise AdapterError(PROVIDER, "plan", key, f"env {name} looks like a credential: make it a secrets resource")
        return self._secrets.value_hmac(value)

    def _command(self, command: list[str]) -> list[str]:
        port = str(self.gcp.container_port)
        return [part.replace(PORT_PLACEHOLDER, port) for part in command]

    def _image(self, desired: Desired, operation: str = "plan") -> str:
        image = desired.spec.image or self.gcp.default_image
        if not image:
            raise AdapterError(
                PROVIDER,
                operation,
                desired.key,
                "image: compute on gcp runs containers: set `image` on the resource "
                "(or the gcp provider's `default_image`)",
            )
        return image

    def _get(self, key: ResourceKey) -> Any | None:
        try:
            return self.gcp.run_services().get_service(request={"name": self.service(key)}, retry=self.gcp.grpc_retry)
        except api_exceptions.NotFound:
            return None


def _cpu(limit: str) -> float:
    """Cloud Run's CPU limit as vCPUs: `250m` is 0.25, `2` is 2."""
    return int(limit[:-1]) / 1000 if limit.endswith("m") else float(limit)
