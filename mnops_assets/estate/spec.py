"""The resolved platform: what one instance declares once every layer is merged, frozen and validated.

`PlatformSpec` is the desired state the engine plans from and the state store records; it carries no file positions
(those live beside it, in the resolution's provenance) so moving a line never changes a config hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts import CONTRACTS, ContractSpec, ResourceName, Tags
from contracts.base import MAX_DECLARED_TAGS, MAX_TAGS, RESERVED_TAGS, SECRET_REFERENCE_PREFIX
from contracts.secrets import SecretsContract

Tier = Literal["dev", "test", "staging", "prod"]
DriftPolicy = Literal["remediate", "alert", "adopt"]
OWNER_PATTERN = r"^[a-z][a-z0-9-]*(@[a-z0-9.-]+)?$"
Owner = Annotated[str, StringConstraints(pattern=OWNER_PATTERN)]

Resource = Annotated[Union[tuple(CONTRACTS.values())], Field(discriminator="contract")]  # noqa: UP007


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, hide_input_in_errors=True)


class Drift(_Frozen):
    """How drift between declared and observed state is answered, and which fields never count as drift."""

    policy: DriftPolicy = Field(
        "alert", description="remediate: redeploy; alert: fail the in-sync check; adopt: write a YAML patch."
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="Muted fields, as 'RESOURCE.FIELD' ('*' matches every resource), e.g. 'api.replicas'.",
    )


PYTHON_CALLABLE_PATTERN = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
HookEvent = Literal["pre-plan", "pre-apply", "post-apply", "on-rollback", "on-drift"]


class Hook(_Frozen):
    """A command (or a Python callable) run at lifecycle events with the event as JSON on stdin.

    A failing `pre-*` hook stops the deploy before anything changes; later hooks' failures are reported and audited.
    """

    events: list[HookEvent] = Field(min_length=1, description="Events that run the hook.")
    command: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        None, min_length=1, description="Program and arguments, run in the estate folder."
    )
    python: Annotated[str, StringConstraints(pattern=PYTHON_CALLABLE_PATTERN)] | None = Field(
        None, description="'package.module:function' called with the event (a dict); a false result or an error fails."
    )
    timeout_seconds: int = Field(60, ge=1, le=3600, description="The hook is killed after this long, and fails.")

    @model_validator(mode="after")
    def _one_way_to_run(self) -> Hook:
        if (self.command is None) == (self.python is None):
            raise ValueError("give exactly one of command or python")
        return self


class PlatformSpec(_Frozen):
    """One platform instance, fully resolved."""

    name: ResourceName = Field(description="The instance's folder name.")
    template: str = Field(description="The template the instance is built from.")
    tier: Tier = Field(description="Environment tier; policies are scoped by it.")
    provider: str = Field(description="Provider adapter deploying every resource (local, aws, azure, gcp).")
    region: Annotated[str, StringConstraints(min_length=1)] = Field(description="Provider region.")
    owner: Owner = Field(description="Team (or team@domain) answerable for the platform.")
    tags: Tags = Field(default_factory=dict, description="Tags put on every resource.")
    drift: Drift = Field(default_factory=Drift)
    protect: bool = Field(False, description="Refuse to destroy the platform unless forced.")
    enabled: bool = Field(
        True,
        description="false: validated and judged by governance but never deployed (`deploy --all` passes it by, "
        "`deploy` refuses it): how an estate ships something opt-in.",
    )
    auto_deploy: bool = Field(
        False, description="Redeploy by itself (through Dagster's automation) when its config changes and checks pass."
    )
    resources: dict[ResourceName, Resource] = Field(default_factory=dict, description="Resources by name.")
    hooks: dict[ResourceName, Hook] = Field(default_factory=dict, description="Lifecycle hooks by name.")

    def config_hash(self) -> str:
        """sha256 of the canonical JSON form: equal for equal specs, whatever the files' layout.

        Values equal to their defaults are left out, so a new field with a default changes no existing hash (and
        writes no new version everywhere), and `x: <default>` written out hashes as leaving it out.
        """
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def contract_versions(self) -> dict[str, str]:
        return {name: resource.contract for name, resource in self.resources.items()}

    def producers(self) -> list[str]:
        """The other platforms whose outputs this one's resources read (`ref:<platform>/...`), sorted: each must be
        deployed first, and a change of theirs may change this one (a lineage edge in the graph)."""
        found = {
            reference.platform
            for resource in self.resources.values()
            for reference in resource.references().values()
            if reference.platform is not None and reference.platform != self.name
        }
        return sorted(found)


Finding = tuple[tuple[str | int, ...], str]
"""(path in the resolved spec, message): the caller points it at the file and line that set the path."""


def resource_checks(name: str, resource: ContractSpec) -> list[Finding]:
    """Rules about one resource that its contract model cannot state alone (its kind says which)."""
    return [(("resources", name, *path), message) for path, message in resource.findings()]


def platform_checks(spec: PlatformSpec) -> list[Finding]:
    """Rules that span resources: dependencies, secret references, muted drift fields."""
    found: list[Finding] = []
    names = set(spec.resources)
    for name, resource in spec.resources.items():
        declared = len(spec.tags.keys() | resource.tags.keys())
        if declared > MAX_DECLARED_TAGS:
            message = (
                f"{declared} tags with the platform's; at most {MAX_DECLARED_TAGS} may be declared per resource "
                f"({MAX_TAGS}, AWS's limit, less {RESERVED_TAGS} kept for mnops)"
            )
            found.append((("resources", name, "tags"), message))
        for index, dep in enumerate(resource.depends_on):
            if dep not in names:
                found.append((("resources", name, "depends_on", index), f"unknown resource {dep!r}"))
            elif dep == name:
                found.append((("resources", name, "depends_on", index), "a resource cannot depend on itself"))
        for path, target in resource.secret_references().items():
            if not isinstance(spec.resources.get(target), SecretsContract):
                message = f"'{SECRET_REFERENCE_PREFIX}{target}' names no secrets resource of this platform"
                found.append((("resources", name, *path), message))
        for path, reference in resource.references().items():
            where = ("resources", name, *path)
            if reference.platform == spec.name:
                found.append(
                    (where, f"{reference} names this platform: write 'ref:{reference.resource}.{reference.output}'")
                )
                continue
            if reference.platform is not None:
                continue  # another platform's: judged with the whole estate (`reference_checks`)
            target = spec.resources.get(reference.resource)
            if reference.resource == name:
                found.append((where, f"{reference} reads the resource's own output"))
            elif target is None:
                found.append((where, f"{reference}: this platform has no resource {reference.resource!r}"))
            elif reference.output not in target.outputs:
                known = ", ".join(target.outputs)
                found.append((where, f"{reference}: {target.contract} has no output {reference.output!r} ({known})"))
    found.extend(_cycle_checks(spec))
    found.extend(_ignore_checks(spec))
    return found


def _cycle_checks(spec: PlatformSpec) -> list[Finding]:
    # Self-dependencies are reported on their own above; a cycle of one would say the same thing twice.
    graph = {n: [d for d in r.dependencies() if d in spec.resources and d != n] for n, r in spec.resources.items()}
    done: set[str] = set()
    found = []
    for start in sorted(graph):
        stack: list[str] = []
        _visit(start, graph, stack, set(), done, found)
    return found


def _visit(node, graph, stack, on_stack, done, found) -> None:  # noqa: ANN001 - small private recursion
    if node in done:
        return
    if node in on_stack:
        cycle = [*stack[stack.index(node) :], node]
        found.append((("resources", stack[-1], "depends_on"), f"dependency cycle: {' -> '.join(cycle)}"))
        return
    stack.append(node)
    on_stack.add(node)
    for dep in graph[node]:
        _visit(dep, graph, stack, on_stack, done, found)
    stack.pop()
    on_stack.discard(node)
    done.add(node)


def _ignore_checks(spec: PlatformSpec) -> list[Finding]:
    found = []
    for index, entry in enumerate(spec.drift.ignore):
        resource, _, field = entry.partition(".")
        targets = list(spec.resources.values()) if resource == "*" else [spec.resources.get(resource)]
        if targets and targets[0] is None:
            found.append((("drift", "ignore", index), f"unknown resource {resource!r}"))
            continue
        top = field.split(".", 1)[0]
        if not any(top in type(t).model_fields or _alias_of(type(t), top) for t in targets):
            found.append((("drift", "ignore", index), f"no resource field {field!r}; write RESOURCE.FIELD"))
    return found


def _alias_of(model: type[BaseModel], name: str) -> bool:
    return any(info.alias == name for info in model.model_fields.values())
