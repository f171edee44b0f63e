"""compute/v1 on Azure: a Container App per resource, in one Container Apps environment per platform
(`mnops-<platform>`, made on first use and kept, like the platform's group).

- `image` is required: Container Apps runs containers. The adapter's `default_image` setting stands in for resources
  that name none; with neither, planning fails naming the resource.
- `{port}` in the command becomes the adapter's `container_port` (default 8080), also given as `PORT` unless `env`
  sets it. The command as declared is kept in the tag `mnops:command` when it fits a tag (256 characters), so
  observation shows `{port}` where it was declared; longer commands are shown with the port number put back.
- `replicas` is the app's scale: `minReplicas` = `maxReplicas` = replicas (0 keeps the app scaled to zero).
- `cpu`/`memory_mb` are rounded up to the smallest Consumption size holding both (0.25 vCPU with 0.5 GiB, in steps,
  up to 4 vCPU with 8 GiB); larger is refused naming the field. `desired_fields` and observation report the real size.
- `env` values `secret:<resource>` become app secrets referring to the Key Vault secret by URL (read by the app's
  managed identity, which needs the Key Vault Secrets User role on the platform's vault) and `secretRef` variables:
  the value never passes through here. A plain value under a credential-like name is shown as its HMAC.
- `health.http` is a startup and a readiness probe on that path (without it, a TCP probe on the port);
  `health.timeout_seconds` is how long the startup probe lets a replica take, and is kept in `mnops:health-timeout`.
- `health()` asks whether the app is provisioned and running (a stopped app is unhealthy).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from adapters.azure import PROVIDER, names
from adapters.azure.context import AzureContext
from adapters.azure.driver import AzureDriver, provisioning_state
from adapters.azure.limits import app_size
from adapters.azure.secretstore import SecretsDriver
from adapters.base import (
    MANAGED_BY,
    TAG_MANAGED_BY,
    TAG_PLATFORM,
    AdapterError,
    Desired,
    HealthReport,
    Observed,
    ResourceDriver,
    ResourceKey,
    address_entries,
)
from contracts.base import SECRET_REFERENCE_PREFIX, SENSITIVE_NAME
from contracts.compute.v1 import PORT_PLACEHOLDER

COMMAND_TAG = "mnops:command"
TIMEOUT_TAG = "mnops:health-timeout"
ADDED_ENV_TAG = "mnops:added-env"
PORT_ENV = "PORT"
MAX_TAG_VALUE = 256
# Consumption sizes: vCPU in quarters, memory twice the vCPU in GiB.
MAX_PROBE_FAILURES = 10


class ComputeDriver(AzureDriver):
    contract = "compute/v1"
    arm_type = "Microsoft.App/containerApps"

    def __init__(self, azure: AzureContext) -> None:
        super().__init__(azure)
        self._secrets: SecretsDriver | None = None

    def bind(self, drivers: Mapping[str, ResourceDriver]) -> None:
        # An app is given the secrets its `env` refers to by their Key Vault URL: the secrets driver knows the vault.
        found = drivers.get(SecretsDriver.contract)
        self._secrets = found if isinstance(found, SecretsDriver) else None

    def resource_name(self, key: ResourceKey) -> str:
        return names.container_app(self.azure.subscription_id, key)

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        fields = ResourceDriver.desired_fields(self, desired)
        fields["image"] = self._image(desired)
        fields["cpu"], fields["memory_mb"] = self._size(desired)
        fields["env"] = {name: self._shown_env(desired.key, name, value) for name, value in desired.spec.env.items()}
        return fields

    def refuse(self, desired: Desired, operation: str) -> None:
        super().refuse(desired, operation)
        # The one refusal that depends on the adapter's settings (its `default_image`), so it is not a limit.
        self._image(desired, operation)

    # -- observation -------------------------------------------------------------------------------------------------

    def listing(self) -> Iterable[Any]:
        return self.azure.client("appcontainers").container_apps.list_by_subscription()

    def _read(self, key: ResourceKey) -> Observed | None:
        apps = self.azure.client("appcontainers").container_apps
        try:
            app = apps.get(names.group(key.platform), self.resource_name(key))
        except ResourceNotFoundError:
            return None
        return self._complete(key, app)

    def _complete(self, key: ResourceKey, app: Any) -> Observed | None:
        raw = dict(app)
        tags = dict(raw.get("tags") or {})
        visible = {k: v for k, v in tags.items() if not k.startswith("mnops:")}
        private = {k: v for k, v in tags.items() if k.startswith("mnops:")}
        properties = raw.get("properties") or {}
        containers = (properties.get("template") or {}).get("containers") or []
        container = next((c for c in containers if c.get("name") == key.name), None)
        if container is None:
            problem = f"container app {self.resource_name(key)} has no container {key.name}"
            return Observed(key, self.contract, raw.get("id", ""), {}, visible, problem, private)
        problem = None
        state = provisioning_state(app) or str(properties.get("provisioningState") or "")
        running = str(properties.get("runningStatus") or "Running")
        if state.lower() != "succeeded":
            problem = f"container app {self.resource_name(key)} is {state}"
        elif running.lower() != "running":
            problem = f"container app {self.resource_name(key)} is {running}"
        fields = self._fields(key, properties, container, tags)
        fqdn = ((properties.get("configuration") or {}).get("ingress") or {}).get("fqdn")
        if fqdn:
            private.update(address_entries({"fqdn": str(fqdn)}))
        return Observed(key, self.contract, raw.get("id", ""), fields, visible, problem, private)

    def _fields(
        self, key: ResourceKey, properties: Mapping[str, Any], container: Mapping[str, Any], tags: Mapping[str, str]
    ) -> dict[str, Any]:
        running = list(container.get("command") or []) + list(container.get("args") or [])
        try:
            declared = json.loads(tags.get(COMMAND_TAG, "null"))
        except ValueError:
            declared = None
        if isinstance(declared, list) and self._command(declared) == running:
            command = declared
        else:
            port = str(self.azure.container_port)
            command = [PORT_PLACEHOLDER if part == port else part for part in running]
        secret_urls = {
            s.get("name"): s.get("keyVaultUrl") for s in (properties.get("configuration") or {}).get("secrets") or []
        }
        added = set(filter(None, tags.get(ADDED_ENV_TAG, "").split(",")))
        env: dict[str, str] = {}
        for variable in container.get("env") or []:
            name = variable.get("name")
            if name in added:
                continue
            if "secretRef" in variable:
                env[name] = self._shown_reference(key, variable["secretRef"], secret_urls.get(variable["secretRef"]))
            else:
                env[name] = self._shown_env(key, name, str(variable.get("value", "")))
        size = container.get("resources") or {}
        memory = str(size.get("memory") or "")
        scale = (properties.get("template") or {}).get("scale") or {}
        probes = {p.get("type"): p for p in container.get("probes") or []}
        startup = probes.get("Startup") or {}
        timeout = tags.get(TIMEOUT_TAG, "")
        return {
            "command": command,
            "image": container.get("image"),
            "replicas": scale.get("minReplicas"),
            "cpu": float(size["cpu"]) if size.get("cpu") is not None else None,
            "memory_mb": int(float(memory.removesuffix("Gi")) * 1024) if memory.endswith("Gi") else None,
            "env": env,
            "health": {
                "http": (startup.get("httpGet") or {}).get("path"),
                "timeout_seconds": int(timeout) if timeout.isdigit() else None,
            },
        }

    def health(self, current: Observed) -> HealthReport:
        report = super().health(current)
        if report.healthy:
            return HealthReport(True, "container app is running")
        return report

    def outputs(self, current: Observed) -> dict[str, str]:
        # Reachable only where ingress is configured, which compute/v1 does not ask for.
        fqdn = current.address("fqdn")
        url = f"https://{fqdn}" if fqdn else ""
        return {"name": self.resource_name(current.key), "url": url, "urls": url}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        key = desired.key
        spec = desired.spec
        operation = "update" if current else "create"
        client = self.azure.client("appcontainers")
        group = self.azure.ensure_group(key.platform)
        environment = self._ensure_environment(key.platform, group)
        app_secrets, env = self._env(desired, operation)
        cpu, memory = self._size(desired, operation)
        added = [] if PORT_ENV in spec.env else [PORT_ENV]
        if added:
            env.append({"name": PORT_ENV, "value": str(self.azure.container_port)})
        tags = {**desired.tags, TIMEOUT_TAG: str(spec.health.timeout_seconds), ADDED_ENV_TAG: ",".join(added)}
        declared = json.dumps(list(spec.command), separators=(",", ":"))
        if len(declared) <= MAX_TAG_VALUE:
            tags[COMMAND_TAG] = declared
        container = {
            "name": key.name,
            "image": self._image(desired, operation),
            "command": self._command(list(spec.command)),
            "env": env,
            "resources": {"cpu": cpu, "memory": f"{memory / 1024:g}Gi"},
            "probes": self._probes(spec.health.http, spec.health.timeout_seconds),
        }
        body: dict[str, Any] = {
            "location": self.azure.location,
            "tags": tags,
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "managedEnvironmentId": environment,
                "configuration": {"activeRevisionsMode": "Single", "secrets": app_secrets},
                "template": {
                    "containers": [container],
                    "scale": {"minReplicas": spec.replicas, "maxReplicas": max(1, spec.replicas)},
                },
            },
        }
        name = self.resource_name(key)
        found = self._read(key)
        private = {k: v for k, v in tags.items() if k.startswith("mnops:")}
        if (
            found is None
            or found.fields != self.desired_fields(desired)
            or dict(found.tags) != dict(desired.tags)
            or dict(found.private) != private
        ):
            client.container_apps.begin_create_or_update(group, name, body).result()
        if found is not None and found.problem and "Stopped" in found.problem:
            client.container_apps.begin_start(group, name).result()
        observed = self._read(key)
        if observed is None:
            raise AdapterError(PROVIDER, operation, key, f"container app {name} vanished while it was being set up")
        return observed

    def _ensure_environment(self, platform: str, group: str) -> str:
        environments = self.azure.client("appcontainers").managed_environments
        name = names.environment(platform)
        try:
            found = environments.get(group, name)
        except ResourceNotFoundError:
            tags = {TAG_PLATFORM: platform, TAG_MANAGED_BY: MANAGED_BY}
            found = environments.begin_create_or_update(
                group, name, {"location": self.azure.location, "tags": tags, "properties": {}}
            ).result()
        return found.id

    def _delete(self, key: ResourceKey) -> None:
        try:
            self.azure.client("appcontainers").container_apps.begin_delete(
                names.group(key.platform), self.resource_name(key)
            ).result()
        except ResourceNotFoundError:
            return

    def _tag(self, key: ResourceKey, tags: Mapping[str, str]) -> None:
        self.azure.client("appcontainers").container_apps.begin_update(
            names.group(key.platform), self.resource_name(key), {"tags": dict(tags)}
        ).result()

    # -- building the app --------------------------------------------------------------------------------------------

    def _env(self, desired: Desired, operation: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The app's secrets (Key Vault references) and its containers' variables."""
        key = desired.key
        app_secrets: list[dict[str, Any]] = []
        env: list[dict[str, Any]] = []
        for name, value in sorted(desired.spec.env.items()):
            if not value.startswith(SECRET_REFERENCE_PREFIX):
                env.append({"name": name, "value": value})
                continue
            resource = value.removeprefix(SECRET_REFERENCE_PREFIX)
            url = self._secret_url(key.platform, resource) if names.is_name(resource) else None
            if url is None:
                raise AdapterError(
                    PROVIDER,
                    operation,
                    key,
                    f"env {name} refers to secret {resource!r}, which platform {key.platform} does not have "
                    "(deploy it first: list it in depends_on)",
                )
            if all(s["name"] != resource for s in app_secrets):
                app_secrets.append({"name": resource, "keyVaultUrl": url, "identity": "system"})
            env.append({"name": name, "secretRef": resource})
        return app_secrets, env

    def _secret_url(self, platform: str, resource: str) -> str | None:
        if self._secrets is None:
            return None
        found = self._secrets.find(ResourceKey(platform, resource))
        return found.resource_id if found is not None else None

    def _shown_reference(self, key: ResourceKey, secret: str, url: str | None) -> str:
        if url is not None and names.is_name(secret) and url == self._secret_url(key.platform, secret):
            return SECRET_REFERENCE_PREFIX + secret
        return f"keyVaultUrl:{url}"

    def _shown_env(self, key: ResourceKey, name: str, value: str) -> str:
        if not SENSITIVE_NAME.search(name) or value.startswith(SECRET_REFERENCE_PREFIX):
            return value
        if self._secrets is None:
            raise AdapterError(PROVIDER, "plan", key, f"env {name} looks like a credential: make it a secrets resource")
        return self._secrets.value_hmac(key.platform, value)

    def _probes(self, http: str | None, timeout: int) -> list[dict[str, Any]]:
        period = max(1, math.ceil(timeout / MAX_PROBE_FAILURES))
        failures = max(1, math.ceil(timeout / period))
        port = self.azure.container_port
        check: dict[str, Any] = {"httpGet": {"path": http, "port": port}} if http else {"tcpSocket": {"port": port}}
        return [
            {"type": "Startup", **check, "periodSeconds": period, "failureThreshold": failures},
            {"type": "Readiness", **check, "periodSeconds": 10, "failureThreshold": 3},
        ]

    def _command(self, command: list[str]) -> list[str]:
        port = str(self.azure.container_port)
        return [part.replace(PORT_PLACEHOLDER, port) for part in command]

    def _image(self, desired: Desired, operation: str = "plan") -> str:
        image = desired.spec.image or self.azure.default_image
        if not image:
            raise AdapterError(
                PROVIDER,
                operation,
                desired.key,
                "image: compute on azure runs containers: set `image` on the resource "
                "(or the azure provider's `default_image`)",
            )
        return image

    def _size(self, desired: Desired, operation: str = "plan") -> tuple[float, int]:
        try:
            return app_size(desired.spec.cpu, desired.spec.memory_mb)
        except ValueError as exc:
            raise AdapterError(PROVIDER, operation, desired.key, f"cpu, memory_mb: {exc}") from exc
