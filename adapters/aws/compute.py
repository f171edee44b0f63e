"""compute/v1 on AWS: an ECS service on Fargate, in one cluster per platform (`mnops-<platform>`), running a task
definition (family `mnops-<platform>_<resource>`) made from the contract.

- `image` is required: a container provider cannot run a bare command. The adapter's `default_image` setting stands in
  for resources that name none; with neither, planning fails naming the resource.
- `{port}` in the command becomes the adapter's `container_port` (default 8080), which is also mapped and given to the
  container as `PORT` unless `env` sets it. The command as declared is kept in the docker label `mnops.command`, so
  observation shows it with `{port}` when the running command is what that label makes of it, and the running
  command otherwise (drift).
- `cpu`/`memory_mb` are rounded up to the smallest Fargate size holding both (Fargate runs only fixed combinations);
  `desired_fields` and observation report the Fargate size, so a plan shows what will really run.
- `env` values `secret:<resource>` become the task definition's `secrets`, `valueFrom` the secret's ARN: ECS fetches
  the value when a task starts; it never passes through here. Since tasks read it only then, the service records the
  secrets' current versions (tag `mnops:secret-versions`) and an update after a new value forces a new deployment.
  A plain value under a credential-like name (which governance flags) is shown as its HMAC, never as itself.
- `health` is recorded in docker labels; ECS has no HTTP probe without a load balancer, so `health()` asks ECS whether
  the service runs the declared number of tasks, waiting up to `health.timeout_seconds` for them to start (a rollout
  ECS marks FAILED is unhealthy at once; during a rolling deployment AWS counts old and new tasks). moto starts
  nothing: a new service reports `MOTO_ECS_SERVICE_RUNNING` running tasks (default 0), and after an update of the
  desired count it reports exactly that many running.
- Networking (`awsvpc`) comes from the adapter's settings: `subnets` (required), `security_groups` (default: the VPC's
  default group, what ECS itself would pick; moto needs the groups named, so the adapter always names them) and
  `assign_public_ip`. Secrets need the adapter's `execution_role_arn`, as on AWS.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from adapters.aws import PROVIDER, names
from adapters.aws.context import INTERNAL_TAG_PREFIX, AwsContext, error_code, failures, tag_changes
from adapters.aws.driver import AwsDriver, Claimed
from adapters.aws.permissions import Grant
from adapters.aws.secretstore import SecretsDriver
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
)
from contracts.base import SEALED_PREFIX, SECRET_REFERENCE_PREFIX, SENSITIVE_NAME, Sealed
from contracts.compute.v1 import PORT_PLACEHOLDER

# Fargate's task sizes: CPU units (1024 = 1 vCPU) and the memory (MiB) each allows.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: (1024, 2048, 3072, 4096),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
LABEL_COMMAND = "mnops.command"
LABEL_HEALTH_HTTP = "mnops.health.http"
LABEL_HEALTH_TIMEOUT = "mnops.health.timeout-seconds"
LABEL_ADDED_ENV = "mnops.added-env"
LABEL_FINGERPRINT = "mnops.fingerprint"
PORT_ENV = "PORT"
DATABASE_CONTRACT = "database/v1"
# The versions of the secrets the tasks read when they started, so a new value restarts them (see `_ensure`).
SECRETS_TAG = INTERNAL_TAG_PREFIX + "secret-versions"
DESCRIBE_BATCH = 10  # the most DescribeServices takes at once
DEFINITION_CACHE = 4096
_SERVICE_GONE = ("ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException")


def fargate_size(cpu: float, memory_mb: int) -> tuple[int, int]:
    """The smallest Fargate (CPU units, MiB) with at least `cpu` vCPUs and `memory_mb` MiB."""
    wanted_units = math.ceil(cpu * 1024 - 1e-9)
    for units, memories in FARGATE_SIZES.items():
        if units < wanted_units:
            continue
        for memory in memories:
            if memory >= memory_mb:
                return units, memory
    largest = max(FARGATE_SIZES)
    raise ValueError(
        f"no Fargate size has {cpu} vCPU and {memory_mb} MiB "
        f"(the largest is {largest // 1024} vCPU with {FARGATE_SIZES[largest][-1]} MiB)"
    )


class ComputeDriver(AwsDriver):
    contract = "compute/v1"
    resource_type = "ecs:service"
    # Task definitions are registered, described, listed and deregistered on "*": AWS scopes none of those calls. The
    # EC2 reads find the VPC's default security group when the `security_groups` setting names none.
    PERMISSIONS: ClassVar[tuple[Grant, ...]] = (
        Grant(
            (
                "ecs:RegisterTaskDefinition",
                "ecs:DeregisterTaskDefinition",
                "ecs:DescribeTaskDefinition",
                "ecs:ListTaskDefinitions",
                "ecs:ListServices",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            )
        ),
        Grant(
            ("ecs:CreateCluster", "ecs:DescribeClusters", "ecs:DeleteCluster"),
            ("arn:{partition}:ecs:{region}:{account}:cluster/mnops-*",),
        ),
        Grant(
            ("ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:DescribeServices"),
            ("arn:{partition}:ecs:{region}:{account}:service/mnops-*",),
        ),
        Grant(
            ("ecs:TagResource", "ecs:UntagResource"),
            (
                "arn:{partition}:ecs:{region}:{account}:cluster/mnops-*",
                "arn:{partition}:ecs:{region}:{account}:service/mnops-*",
                "arn:{partition}:ecs:{region}:{account}:task-definition/mnops-*",
            ),
        ),
    )

    def __init__(self, aws: AwsContext) -> None:
        super().__init__(aws)
        self._definitions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def bind(self, drivers: Mapping[str, ResourceDriver]) -> None:
        # A task is given the secrets its `env` refers to by ARN (ECS reads them at start): the secrets driver has them;
        # and the sensitive outputs it reads (a database's url) by their own drivers' references.
        self._secrets: SecretsDriver = drivers[SecretsDriver.contract]
        self._drivers = drivers

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        fields = ResourceDriver.desired_fields(self, desired)
        fields["image"] = self._image(desired)
        units, memory = self._size(desired)
        fields["cpu"] = units / 1024
        fields["memory_mb"] = memory
        with failures("plan", desired.key):
            fields["env"] = {name: self._shown_env(name, value) for name, value in desired.spec.env.items()}
        return fields

    # -- observation -------------------------------------------------------------------------------------------------

    def owns(self, arn: str) -> bool:
        return ":ecs:" in arn and ":service/" in arn

    def _list(self, claimed: Claimed) -> dict[str, Any]:
        """The services claimed, described 10 at a time per cluster (one cluster per platform), and their task
        definitions, each revision described once (a revision never changes: see `_task_definition`):
        {"services": key -> service or None or AdapterError, "definitions": ARN -> definition or None or AdapterError}.
        """
        keys = [key for key, tagged in claimed.items() if any(self._names_service(key, arn) for arn in tagged)]
        by_platform: dict[str, list[ResourceKey]] = {}
        for key in sorted(keys):
            by_platform.setdefault(key.platform, []).append(key)
        batches = [
            platform_keys[i : i + DESCRIBE_BATCH]
            for platform_keys in by_platform.values()
            for i in range(0, len(platform_keys), DESCRIBE_BATCH)
        ]

        def describe_services(keys: list[ResourceKey]) -> dict[ResourceKey, dict[str, Any] | None]:
            with failures("observe", None, subject=f"services of cluster {names.cluster(keys[0].platform)}"):
                return self._services(keys)

        services: dict[ResourceKey, Any] = {}
        for batch, result in zip(batches, self.aws.map(describe_services, batches), strict=True):
            services.update(dict.fromkeys(batch, result) if isinstance(result, AdapterError) else result)
        arns = sorted({s["taskDefinition"] for s in services.values() if isinstance(s, dict)})

        def describe(arn: str) -> dict[str, Any] | None:
            with failures("observe", None, subject=arn):
                return self._task_definition(arn)

        return {"services": services, "definitions": dict(zip(arns, self.aws.map(describe, arns), strict=True))}

    def _observe_key(
        self, key: ResourceKey, tagged: Mapping[str, Mapping[str, str]], listing: dict[str, Any]
    ) -> Observed | None:
        service = listing["services"].get(key)
        if isinstance(service, AdapterError):
            raise service
        if service is None or not any(self._names_service(key, arn) for arn in tagged):
            return None
        definition = listing["definitions"].get(service["taskDefinition"])
        if isinstance(definition, AdapterError):
            raise definition
        return self._observation(key, service, definition)

    def _names_service(self, key: ResourceKey, arn: str) -> bool:
        """Whether a service ARN is the one `key`'s service would have."""
        # New-style service ARNs name the cluster (`service/<cluster>/<name>`); old-style ones do not.
        path = arn.split(":service/", 1)[1].split("/")
        return path[-1] == names.service(key) and (len(path) == 1 or path[0] == names.cluster(key.platform))

    def find(self, key: ResourceKey) -> Observed | None:
        service = self._service(key)
        if service is None:
            return None
        return self._observation(key, service, self._task_definition(service["taskDefinition"]))

    def _observation(self, key: ResourceKey, service: dict[str, Any], definition: dict[str, Any] | None) -> Observed:
        tags = {t["key"]: t["value"] for t in service.get("tags", [])}
        container = _container(definition, key) if definition else None
        if definition is None or container is None:
            problem = f"its task definition {service['taskDefinition']} is gone or has no container {key.name}"
            return self.observed(key, service["serviceArn"], {}, tags, problem)
        return self.observed(key, service["serviceArn"], self._fields(key, service, definition, container), tags)

    def _fields(
        self, key: ResourceKey, service: dict[str, Any], definition: dict[str, Any], container: dict[str, Any]
    ) -> dict[str, Any]:
        labels = container.get("dockerLabels", {})
        command = container.get("command", [])
        try:
            declared = json.loads(labels.get(LABEL_COMMAND, "null"))
        except ValueError:
            declared = None
        if isinstance(declared, list) and self._command(declared) == command:
            command = declared
        added = set(filter(None, labels.get(LABEL_ADDED_ENV, "").split(",")))
        env = {e["name"]: self._shown_env(e["name"], e["value"]) for e in container.get("environment", [])}
        env = {name: value for name, value in env.items() if name not in added}
        for secret in container.get("secrets", []):
            env[secret["name"]] = self._shown_reference(key, secret["valueFrom"])
        timeout = labels.get(LABEL_HEALTH_TIMEOUT, "")
        return {
            "command": command,
            "image": container.get("image"),
            "replicas": service["desiredCount"],
            "cpu": int(definition["cpu"]) / 1024 if definition.get("cpu") else None,
            "memory_mb": int(definition["memory"]) if definition.get("memory") else None,
            "env": env,
            "health": {
                "http": labels.get(LABEL_HEALTH_HTTP) or None,
                "timeout_seconds": int(timeout) if timeout.isdigit() else None,
            },
        }

    def outputs(self, current: Observed) -> dict[str, str]:
        # An ECS service has no address of its own: that is a load balancer's, which compute/v1 does not make.
        return {"name": names.service(current.key), "url": "", "urls": ""}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        key = desired.key
        spec = desired.spec
        ecs = self.aws.client("ecs")
        operation = "update" if current else "create"
        network = self._network(key, operation)
        references = self._secret_references(desired, operation)
        request = self._task_definition_request(desired, operation, references)
        tags = {**desired.tags, SECRETS_TAG: _versions_digest(references)}
        cluster = names.cluster(key.platform)
        self._ensure_cluster(cluster)
        service = self._service(key)
        in_use = self._task_definition(service["taskDefinition"]) if service else None
        # A revision deregistered by a delete that failed half-way is not reused: a deploy registers a fresh one.
        reuse = (
            in_use is not None and in_use.get("status") == "ACTIVE" and self._matches(desired, request, service, in_use)
        )
        if reuse:
            definition_arn = in_use["taskDefinitionArn"]
        else:
            definition_arn = ecs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"]
        if service is None:
            ecs.create_service(
                cluster=cluster,
                serviceName=names.service(key),
                taskDefinition=definition_arn,
                desiredCount=spec.replicas,
                launchType="FARGATE",
                networkConfiguration=network,
                propagateTags="SERVICE",
                enableECSManagedTags=True,
                tags=[{"key": k, "value": v} for k, v in sorted(tags.items())],
            )
        else:
            changes: dict[str, Any] = {}
            if service["taskDefinition"] != definition_arn:
                changes["taskDefinition"] = definition_arn
            if service["desiredCount"] != spec.replicas:
                changes["desiredCount"] = spec.replicas
            if _vpc(service.get("networkConfiguration")) != _vpc(network):
                changes["networkConfiguration"] = network
            have = {t["key"]: t["value"] for t in service.get("tags", [])}
            if "taskDefinition" not in changes and have.get(SECRETS_TAG) != tags[SECRETS_TAG]:
                # A secret has a new value: only tasks started from now on read it.
                changes["forceNewDeployment"] = True
            if changes:
                ecs.update_service(cluster=cluster, service=names.service(key), **changes)
            to_set, to_remove = tag_changes(have, tags)
            if to_set:
                ecs.tag_resource(
                    resourceArn=service["serviceArn"], tags=[{"key": k, "value": v} for k, v in to_set.items()]
                )
            if to_remove:
                ecs.untag_resource(resourceArn=service["serviceArn"], tagKeys=to_remove)
        # Older revisions of the family are never used again: deregistered, so the family shows one active revision.
        self._deregister(names.task_family(key), keep=definition_arn)
        observed = self.find(key)
        if observed is None:
            raise AdapterError(
                PROVIDER, "create", key, f"service {names.service(key)} vanished while it was being set up"
            )
        return observed

    def _matches(
        self, desired: Desired, request: dict[str, Any], service: dict[str, Any], definition: dict[str, Any]
    ) -> bool:
        """Whether the revision in use is the one `request` would register: same fingerprint, and nobody changed it."""
        container = _container(definition, desired.key)
        if container is None:
            return False
        wanted = request["containerDefinitions"][0]["dockerLabels"][LABEL_FINGERPRINT]
        if container.get("dockerLabels", {}).get(LABEL_FINGERPRINT) != wanted:
            return False
        have = self._fields(desired.key, service, definition, container)
        want = self.desired_fields(desired)
        return all(have[f] == want[f] for f in ("command", "image", "cpu", "memory_mb", "env", "health"))

    def _ensure_cluster(self, cluster: str) -> None:
        ecs = self.aws.client("ecs")
        found = ecs.describe_clusters(clusters=[cluster]).get("clusters", [])
        if any(c.get("status") == "ACTIVE" for c in found):
            return
        platform = cluster.removeprefix(f"{names.PREFIX}-")
        ecs.create_cluster(
            clusterName=cluster,
            tags=[{"key": TAG_PLATFORM, "value": platform}, {"key": TAG_MANAGED_BY, "value": MANAGED_BY}],
        )

    def _delete(self, key: ResourceKey) -> None:
        """The family's ACTIVE revisions are deregistered before the service is deleted: the service is what
        observation finds, so while any part is left it stays observed, and a delete that failed half-way (a
        deregistration refused) is planned and tried again by the next destroy instead of passing for a service
        deleted outside mnops. ECS keeps running a service on a deregistered revision, so the order costs nothing.
        A retry after the service is gone deregisters what is left just the same."""
        ecs = self.aws.client("ecs")
        cluster = names.cluster(key.platform)
        self._deregister(names.task_family(key), keep=None)
        if self._service(key) is not None:
            try:
                # `force` scales to zero and deletes in one call.
                ecs.delete_service(cluster=cluster, service=names.service(key), force=True)
            except ClientError as exc:
                if error_code(exc) not in _SERVICE_GONE:
                    raise
        self._remove_cluster_if_empty(cluster)

    def _tag(self, current: Observed, tags: Mapping[str, str]) -> None:
        service = self._service(current.key)
        if service is None:
            raise AdapterError(PROVIDER, "tag", current.key, f"service {names.service(current.key)} is gone")
        self.aws.client("ecs").tag_resource(
            resourceArn=service["serviceArn"], tags=[{"key": k, "value": v} for k, v in sorted(tags.items())]
        )

    def _remove_cluster_if_empty(self, cluster: str) -> None:
        ecs = self.aws.client("ecs")
        try:
            arns = [a for p in ecs.get_paginator("list_services").paginate(cluster=cluster) for a in p["serviceArns"]]
            for start in range(0, len(arns), DESCRIBE_BATCH):
                batch = ecs.describe_services(cluster=cluster, services=arns[start : start + DESCRIBE_BATCH])
                if any(s.get("status") != "INACTIVE" for s in batch.get("services", [])):
                    return
            ecs.delete_cluster(cluster=cluster)
        except ClientError as exc:
            # Still draining a deleted service's tasks (AWS), or gone already: an empty cluster costs nothing, and
            # the next delete in this platform tries again.
            if error_code(exc) not in (
                "ClusterNotFoundException",
                "ClusterContainsServicesException",
                "ClusterContainsTasksException",
            ):
                raise

    def _deregister(self, family: str, keep: str | None) -> None:
        ecs = self.aws.client("ecs")
        paginator = ecs.get_paginator("list_task_definitions")
        for page in paginator.paginate(familyPrefix=family, status="ACTIVE"):
            for arn in page.get("taskDefinitionArns", []):
                # `familyPrefix` is a prefix: `mnops-p_api` also lists `mnops-p_api2`.
                if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family and arn != keep:
                    ecs.deregister_task_definition(taskDefinition=arn)
                    with self._cache_lock:  # read again when next needed: its status is INACTIVE now
                        self._definitions.pop(arn, None)

    def _health(self, current: Observed) -> HealthReport:
        declared = current.fields.get("replicas")
        timeout = (current.fields.get("health") or {}).get("timeout_seconds") or 30
        deadline = time.monotonic() + timeout
        while True:
            service = self._service(current.key)
            if service is None:
                return HealthReport(False, "service is gone")
            desired_count, running = service["desiredCount"], service["runningCount"]
            if declared is not None and desired_count != declared:
                # Nobody is starting the declared tasks: waiting would not help.
                return HealthReport(False, f"service wants {desired_count} tasks, {declared} are declared")
            if desired_count == 0:
                return HealthReport(True, "scaled to zero tasks")
            if any(d.get("rolloutState") == "FAILED" for d in service.get("deployments", [])):
                return HealthReport(False, "its latest deployment failed")
            if running == desired_count:
                return HealthReport(True, f"{running} of {desired_count} tasks running")
            if time.monotonic() >= deadline:
                return HealthReport(False, f"{running} of {desired_count} tasks running after {timeout} s")
            time.sleep(self.aws.health_poll_seconds)

    # -- building the task definition --------------------------------------------------------------------------------

    def _secret_references(self, desired: Desired, operation: str) -> dict[str, tuple[str, str]]:
        """Env name -> (ARN, current version) of every `secret:` the service's env refers to."""
        key = desired.key
        found = {}
        for name, value in sorted(desired.spec.env.items()):
            sealed = Sealed.parse(value)
            if sealed is not None:
                found[name] = self._sealed_reference(key, name, sealed, operation)
                continue
            if not value.startswith(SECRET_REFERENCE_PREFIX):
                continue
            resource = value.removeprefix(SECRET_REFERENCE_PREFIX)
            reference = (
                self._secrets.reference(ResourceKey(key.platform, resource)) if names.is_name(resource) else None
            )
            if reference is None:
                raise AdapterError(
                    PROVIDER,
                    operation,
                    key,
                    f"env {name} refers to secret {resource!r}, which platform {key.platform} does not have "
                    "(deploy it first: list it in depends_on)",
                )
            found[name] = reference
        return found

    def _sealed_reference(self, key: ResourceKey, name: str, sealed: Sealed, operation: str) -> tuple[str, str]:
        producer = self._drivers.get(sealed.contract)
        reference = getattr(producer, "output_reference", None)
        if reference is None:
            reason = f"env {name} reads a {sealed.contract} output that the aws provider does not hand to tasks"
            raise AdapterError(PROVIDER, operation, key, reason)
        try:
            return reference(ResourceKey(sealed.platform, sealed.resource), sealed.output)
        except AdapterError as exc:
            reason = f"env {name} reads {sealed.platform}/{sealed.resource}.{sealed.output}: {exc.reason}"
            raise AdapterError(PROVIDER, operation, key, reason) from exc

    def _task_definition_request(
        self, desired: Desired, operation: str, references: dict[str, tuple[str, str]]
    ) -> dict[str, Any]:
        spec = desired.spec
        key = desired.key
        units, memory = self._size(desired, operation)
        held = (SECRET_REFERENCE_PREFIX, SEALED_PREFIX)
        environment = {name: value for name, value in spec.env.items() if not value.startswith(held)}
        added = []
        if PORT_ENV not in spec.env:
            environment[PORT_ENV] = str(self.aws.container_port)
            added.append(PORT_ENV)
        secrets = [{"name": name, "valueFrom": arn} for name, (arn, _) in sorted(references.items())]
        if secrets and not self.aws.execution_role_arn:
            raise AdapterError(
                PROVIDER,
                operation,
                key,
                "ECS needs a task execution role to fetch secrets: set the aws provider's `execution_role_arn`",
            )
        labels = {
            LABEL_COMMAND: json.dumps(list(spec.command)),
            LABEL_HEALTH_HTTP: spec.health.http or "",
            LABEL_HEALTH_TIMEOUT: str(spec.health.timeout_seconds),
            LABEL_ADDED_ENV: ",".join(added),
        }
        container = {
            "name": key.name,
            "image": self._image(desired, operation),
            "essential": True,
            "command": self._command(list(spec.command)),
            "environment": [{"name": n, "value": v} for n, v in sorted(environment.items())],
            "secrets": secrets,
            "portMappings": [{"containerPort": self.aws.container_port, "protocol": "tcp"}],
            "dockerLabels": labels,
        }
        request: dict[str, Any] = {
            "family": names.task_family(key),
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": str(units),
            "memory": str(memory),
            "containerDefinitions": [container],
            "tags": [{"key": k, "value": v} for k, v in sorted(desired.tags.items())],
        }
        if self.aws.execution_role_arn:
            request["executionRoleArn"] = self.aws.execution_role_arn
        if self.aws.task_role_arn:
            request["taskRoleArn"] = self.aws.task_role_arn
        # What the revision is made of, so an update that changes nothing in it registers no new revision. Tags are
        # left out: they are changed on the service, and a revision's tags are only a copy made when it was registered.
        made_of = {k: v for k, v in request.items() if k != "tags"}
        fingerprint = hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()[:16]
        labels[LABEL_FINGERPRINT] = fingerprint
        return request

    def _command(self, command: list[str]) -> list[str]:
        port = str(self.aws.container_port)
        return [part.replace(PORT_PLACEHOLDER, port) for part in command]

    def _image(self, desired: Desired, operation: str = "plan") -> str:
        image = desired.spec.image or self.aws.default_image
        if not image:
            raise AdapterError(
                PROVIDER,
                operation,
                desired.key,
                "compute on aws runs containers: set `image` on the resource (or the aws provider's `default_image`)",
            )
        return image

    def _size(self, desired: Desired, operation: str = "plan") -> tuple[int, int]:
        try:
            return fargate_size(desired.spec.cpu, desired.spec.memory_mb)
        except ValueError as exc:
            raise AdapterError(PROVIDER, operation, desired.key, str(exc)) from exc

    def _shown_reference(self, key: ResourceKey, value_from: str) -> str:
        """What a task definition's `valueFrom` was written from: `secret:<resource>`, or a sealed database URL."""
        resource = names.secret_resource(key.platform, value_from)
        if resource:
            return SECRET_REFERENCE_PREFIX + resource
        database = names.database_of_secret(value_from)
        if database is not None:
            return str(Sealed(DATABASE_CONTRACT, database.platform, database.name, "url"))
        return f"valueFrom:{value_from}"

    def _shown_env(self, name: str, value: str) -> str:
        if SENSITIVE_NAME.search(name) and not value.startswith((SECRET_REFERENCE_PREFIX, SEALED_PREFIX)):
            return self.aws.value_hmac(value)
        return value

    def _network(self, key: ResourceKey, operation: str) -> dict[str, Any]:
        settings = self.aws.network
        if not settings.subnets:
            raise AdapterError(
                PROVIDER, operation, key, "ECS on Fargate needs subnets: set the aws provider's `subnets` setting"
            )
        groups = list(settings.security_groups) or [self._default_security_group(key, operation, settings.subnets[0])]
        return {
            "awsvpcConfiguration": {
                "subnets": list(settings.subnets),
                "securityGroups": groups,
                "assignPublicIp": "ENABLED" if settings.assign_public_ip else "DISABLED",
            }
        }

    def _default_security_group(self, key: ResourceKey, operation: str, subnet: str) -> str:
        ec2 = self.aws.client("ec2")
        vpc = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"]
        if not groups:
            raise AdapterError(PROVIDER, operation, key, f"VPC {vpc} of subnet {subnet} has no default security group")
        return groups[0]["GroupId"]

    # -- ECS reads that may meet something deleted meanwhile ---------------------------------------------------------

    def _service(self, key: ResourceKey) -> dict[str, Any] | None:
        """The service of `key` while it is ACTIVE; a DRAINING or INACTIVE one is being (or was) deleted."""
        return self._services([key])[key]

    def _services(self, keys: list[ResourceKey]) -> dict[ResourceKey, dict[str, Any] | None]:
        """`_service` of each of `keys` (one platform's, at most 10) in one call."""
        try:
            found = self.aws.client("ecs").describe_services(
                cluster=names.cluster(keys[0].platform), services=[names.service(key) for key in keys], include=["TAGS"]
            )
        except ClientError as exc:
            if error_code(exc) == "ClusterNotFoundException":
                return dict.fromkeys(keys)
            raise
        active = {s["serviceName"]: s for s in found.get("services", []) if s.get("status") == "ACTIVE"}
        return {key: active.get(names.service(key)) for key in keys}

    def _task_definition(self, arn: str) -> dict[str, Any] | None:
        """The task definition revision `arn`, or None if it is gone (deleted, or never was).

        A revision's content never changes once registered, so each is described once per adapter and kept (the
        `DEFINITION_CACHE` last used): a second observation by the same adapter (a plan after a deploy, a long-lived
        process) then costs one call per 10 services. A revision deleted after it was read still reads as it was
        until the adapter is made again; ECS keeps running services on a deleted revision too, so nothing the service
        does is misreported.
        """
        with self._cache_lock:
            cached = self._definitions.get(arn)
            if cached is not None:
                self._definitions.move_to_end(arn)
                return cached
        try:
            definition = self.aws.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
        except ClientError as exc:
            if error_code(exc) in ("ClientException", "InvalidParameterException"):
                return None
            raise
        if definition.get("status") in ("ACTIVE", "INACTIVE"):
            with self._cache_lock:
                self._definitions[arn] = definition
                while len(self._definitions) > DEFINITION_CACHE:
                    self._definitions.popitem(last=False)
        return definition


def _container(definition: dict[str, Any], key: ResourceKey) -> dict[str, Any] | None:
    return next((c for c in definition.get("containerDefinitions", []) if c.get("name") == key.name), None)


def _vpc(network: dict[str, Any] | None) -> tuple[frozenset[str], frozenset[str], str]:
    config = (network or {}).get("awsvpcConfiguration", {})
    return (
        frozenset(config.get("subnets", [])),
        frozenset(config.get("securityGroups", [])),
        config.get("assignPublicIp", "DISABLED"),
    )


def _versions_digest(references: dict[str, tuple[str, str]]) -> str:
    text = json.dumps(sorted(references.values()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
