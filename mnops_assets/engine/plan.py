"""The planner: desired spec x observed resources x last applied state -> ordered steps with a readable diff.

Observation is the source of truth for what exists (found by identity tags), so a plan made after a crash still sees
what the crashed run created. Last-applied state tells a change made in YAML from a change made outside (drift), and
makes muted fields (`drift.ignore`) stay muted until the YAML itself changes them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from adapters.base import Adapter, Desired, Observed, ResourceKey
from contracts.base import ContractSpec
from mnops_assets.engine.state import ResourceRecord
from mnops_assets.engine.wiring import Rows, Wiring
from mnops_assets.estate.spec import PlatformSpec

MISSING: Any = None
DELETED_OUTSIDE = "deleted outside mnops since the last apply"
UNFINISHED_DELETE = "its delete failed part-way in deploy"
UNDECLARED = "carries this platform's tags but is not declared"
CHANGED_OUTSIDE = "changed outside mnops"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"


SYMBOLS = {Action.CREATE: "+", Action.UPDATE: "~", Action.REPLACE: "-/+", Action.DELETE: "-"}


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any
    cause: str
    """'config': the YAML asks for something new; 'drift': changed outside mnops since the last apply."""


@dataclass(frozen=True)
class Step:
    action: Action
    name: str
    contract: str
    reason: str
    changes: tuple[Change, ...] = ()
    desired: Desired | None = None
    current: Observed | None = None
    source: ContractSpec | None = None
    """The resource as declared, references unresolved: `desired` is resolved again from it when the step runs
    (`Wiring.settle`), so a producer made earlier in the same deploy gives its real outputs."""

    def apply(self, adapter: Adapter) -> Observed | None:
        """Make this step so at the provider: the resource as it now stands, or None once it is deleted."""
        if self.action is Action.CREATE:
            assert self.desired is not None
            return adapter.driver(self.contract).create(self.desired)
        if self.action is Action.UPDATE:
            assert self.desired is not None and self.current is not None
            return adapter.driver(self.contract).update(self.desired, self.current)
        assert self.current is not None
        adapter.driver(self.current.contract).delete(self.current)
        if self.action is Action.REPLACE:
            assert self.desired is not None
            return adapter.driver(self.contract).create(self.desired)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "resource": self.name,
            "contract": self.contract,
            "reason": self.reason,
            "changes": [
                {"field": c.field, "before": c.before, "after": c.after, "cause": c.cause} for c in self.changes
            ],
        }


@dataclass(frozen=True)
class Plan:
    platform: str
    config_hash: str
    steps: tuple[Step, ...]
    unchanged: tuple[str, ...] = field(default=())
    config_changed: bool = False
    """The spec's config hash is not the last applied version's (a hook, a note, a tag of no resource changed):
    applying it records a new version even with no resource step."""

    @property
    def changed(self) -> bool:
        """Whether a deploy of this plan does anything: a step to run, or a new version to record."""
        return bool(self.steps) or self.config_changed

    def counts(self) -> dict[str, int]:
        return {action.value: sum(1 for s in self.steps if s.action is action) for action in Action}

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "config_hash": self.config_hash,
            "changed": self.changed,
            "config_changed": self.config_changed,
            "counts": self.counts(),
            "steps": [s.to_dict() for s in self.steps],
            "unchanged": list(self.unchanged),
        }


def desired_resources(spec: PlatformSpec, wiring: Wiring | None = None) -> dict[str, Desired]:
    """What each resource of `spec` asks a driver for, its references resolved through `wiring` (which only a spec
    without references may go without)."""
    found = {}
    for name, resource in spec.resources.items():
        if wiring is not None:
            resource = wiring.resolve(name, resource)
        elif resource.references():
            raise ValueError(f"{spec.name}/{name} has references: resolving them needs a Wiring")
        found[name] = Desired.build(ResourceKey(spec.name, name), resource, spec.tags, spec.region)
    return found


def applied_record(adapter: Adapter, desired: Desired, observed: Observed) -> ResourceRecord:
    """The state row of `desired` once applied, as `observed` shows it (see `ResourceRecord`)."""
    driver = adapter.driver(desired.contract)
    fields = driver.desired_fields(desired, observed)
    key = desired.key
    outputs = driver.outputs(observed)
    return ResourceRecord(
        key.platform, key.name, desired.contract, observed.resource_id, fields, dict(desired.tags), outputs
    )


def make_plan(
    platform: str,
    spec: PlatformSpec | None,
    observed: Mapping[str, Observed],
    last: Mapping[str, ResourceRecord],
    adapter: Adapter,
    previous: PlatformSpec | None = None,
    *,
    rows: Rows,
    applied_hash: str | None = None,
    unfinished: Mapping[str, str] | None = None,
) -> Plan:
    """Steps that turn `observed` into `spec` (None plans a destroy), creates and updates in dependency order first,
    deletes last in reverse dependency order (`previous`, the last applied spec, orders the undeclared ones).

    `applied_hash` is the last applied version's config hash (None: never applied); a spec with another one is a
    change in itself (`Plan.config_changed`). `rows` gives platforms' state rows, where references find the outputs
    of resources not observed here (`Wiring`).

    `unfinished` names the resources whose last journalled step is a delete that failed (resource -> its deploy id):
    one that is not observed was being deleted by mnops, not outside it. A destroy deletes it again (the driver
    removes what is left of it, its name derived from the key), and a deploy makes it again, neither reported as
    drift."""
    wiring = Wiring(platform, adapter, observed, rows)
    desired = desired_resources(spec, wiring) if spec is not None else {}
    muted = spec.drift.ignore if spec is not None else []
    unfinished_deletes = {n: d for n, d in (unfinished or {}).items() if n in last and n not in observed}
    steps: list[Step] = []
    unchanged: list[str] = []
    for name in _dependency_order(spec) if spec is not None else []:
        want = desired[name]
        have = observed.get(name)
        if have is None:
            reason = DELETED_OUTSIDE if name in last else "new"
            if name in last and name in unfinished_deletes:
                reason = f"{UNFINISHED_DELETE} {unfinished_deletes[name]}"
            steps.append(Step(Action.CREATE, name, want.contract, reason, desired=want))
            continue
        driver = adapter.driver(want.contract)
        if have.contract != want.contract:
            reason = f"contract changes from {have.contract} to {want.contract}"
            steps.append(Step(Action.REPLACE, name, want.contract, reason, desired=want, current=have))
            continue
        changes = _diff(name, driver.desired_fields(want, have), dict(want.tags), have, last.get(name), muted)
        if have.problem is not None:
            # Damaged: its state cannot be read, so every field counts as changed; the update repairs it.
            reason = f"damaged outside mnops: {have.problem}"
            steps.append(Step(Action.UPDATE, name, want.contract, reason, tuple(changes), want, have))
            continue
        if not changes:
            secrets = sorted(set(want.spec.secret_references().values()) & {step.name for step in steps})
            remade = sorted(_own_references(spec.resources[name]) & {s.name for s in steps if _new_outputs(s, spec)})
            if secrets:
                # A service reads its secrets when it starts: a new value reaches it only through a restart.
                reason = f"restarts to read the new value of {', '.join(secrets)}"
                steps.append(Step(Action.UPDATE, name, want.contract, reason, (), want, have))
            elif remade:
                # Outputs are read when the step runs: a producer made anew, or changed where its outputs follow, may
                # give new ones.
                reason = f"reads the outputs of {', '.join(remade)}, which may change"
                steps.append(Step(Action.UPDATE, name, want.contract, reason, (), want, have))
            else:
                unchanged.append(name)
            continue
        immutable = sorted({c.field for c in changes} & driver.immutable)
        if immutable:
            reason = f"{', '.join(immutable)} cannot change in place"
            steps.append(Step(Action.REPLACE, name, want.contract, reason, tuple(changes), want, have))
        else:
            drifted = all(c.cause == "drift" for c in changes)
            reason = CHANGED_OUTSIDE if drifted else "changed in YAML"
            steps.append(Step(Action.UPDATE, name, want.contract, reason, tuple(changes), want, have))
    for name, deploy_id in sorted(unfinished_deletes.items()):
        if name not in desired:
            # Half-deleted already: what depended on it went before it. Its driver deletes what is left by name.
            record = last[name]
            left = Observed(ResourceKey(platform, name), record.contract, record.resource_id, {}, {})
            reason = f"{UNFINISHED_DELETE} {deploy_id}"
            steps.append(Step(Action.DELETE, name, record.contract, reason, current=left))
    for name in _delete_order([n for n in observed if n not in desired], previous):
        have = observed[name]
        reason = "no longer declared" if name in last else UNDECLARED
        steps.append(Step(Action.DELETE, name, have.contract, reason, current=have))
    if spec is not None:
        steps = [replace(s, source=spec.resources[s.name]) if s.desired is not None else s for s in steps]
    config_hash = spec.config_hash() if spec is not None else ""
    config_changed = spec is not None and applied_hash != config_hash
    return Plan(platform, config_hash, tuple(steps), tuple(sorted(unchanged)), config_changed)


REMAKES = (Action.CREATE, Action.REPLACE)


def _new_outputs(step: Step, spec: PlatformSpec) -> bool:
    """Whether `step` may give its resource new outputs: made anew, or a field its outputs follow changed."""
    if step.action in REMAKES:
        return True
    declared = spec.resources.get(step.name)
    return declared is not None and any(c.field in declared.output_fields for c in step.changes)


def _own_references(resource: ContractSpec) -> set[str]:
    return {r.resource for r in resource.references().values() if r.platform is None}


def _diff(
    name: str,
    want_fields: dict[str, Any],
    want_tags: dict[str, str],
    have: Observed,
    last: ResourceRecord | None,
    muted: list[str],
) -> list[Change]:
    changes = []
    pairs = [(key, want_fields.get(key, MISSING), have.fields.get(key, MISSING)) for key in sorted(want_fields)]
    for key in sorted(set(want_tags) | set(have.tags)):
        pairs.append((f"tags.{key}", want_tags.get(key, MISSING), have.tags.get(key, MISSING)))
    for key, after, before in pairs:
        if after == before:
            continue
        applied = _last_value(last, key)
        from_yaml = last is None or applied != after
        if not from_yaml and _muted(name, key, muted):
            continue
        changes.append(Change(key, before, after, "config" if from_yaml else "drift"))
    return changes


def _last_value(last: ResourceRecord | None, key: str) -> Any:
    if last is None:
        return MISSING
    if key.startswith("tags."):
        return last.tags.get(key[5:], MISSING)
    return last.fields.get(key, MISSING)


def _muted(name: str, key: str, muted: list[str]) -> bool:
    """`drift.ignore` entries are RESOURCE.FIELD with `*` for any resource; `api.tags` mutes every tag of api."""
    for entry in muted:
        resource, _, pattern = entry.partition(".")
        if fnmatch.fnmatchcase(name, resource) and (key == pattern or key.startswith(pattern + ".")):
            return True
    return False


def _dependency_order(spec: PlatformSpec) -> list[str]:
    """Resources with their dependencies first; ties broken by name so plans are deterministic."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in sorted(spec.resources[name].dependencies()):
            if dep in spec.resources:
                visit(dep)
        order.append(name)

    for name in sorted(spec.resources):
        visit(name)
    return order


def _delete_order(names: list[str], previous: PlatformSpec | None) -> list[str]:
    """Dependents before what they depend on, as the last applied spec declared them; unknown ones by name."""
    known = _dependency_order(previous) if previous is not None else []
    rank = {name: index for index, name in enumerate(known)}
    return sorted(names, key=lambda n: (-rank.get(n, -1), n))


def drift_steps(plan: Plan) -> list[Step]:
    """The part of a plan that undoes changes made outside mnops, each step keeping only its drifted fields."""
    found = []
    for step in plan.steps:
        drifted = tuple(c for c in step.changes if c.cause == "drift")
        if step.action is Action.CREATE and step.reason == DELETED_OUTSIDE:
            found.append(step)
        elif step.action is Action.DELETE and step.reason == UNDECLARED:
            found.append(step)
        elif step.current is not None and step.current.problem is not None:
            found.append(step)
        elif drifted:
            found.append(replace(step, reason=CHANGED_OUTSIDE, changes=drifted))
    return found


def with_untagged(
    adapter: Adapter, platform: str, observed: Mapping[str, Observed], last: Mapping[str, ResourceRecord]
) -> dict[str, Observed]:
    """`observed` (found by identity tags), plus each last-applied resource it lacks that is still there under the
    name it implies (`find`): one whose identity tags were removed by hand is then a change in its tags, put right by
    a deploy, rather than a resource deleted outside mnops (and made again, or orphaned by a destroy). Costs a call
    only for what is missing."""
    missing = {name: record.contract for name, record in last.items() if name not in observed}
    return read_by_name(adapter, platform, observed, missing)


def read_by_name(
    adapter: Adapter, platform: str, observed: Mapping[str, Observed], contracts: Mapping[str, str]
) -> dict[str, Observed]:
    """`observed` with each resource of `contracts` (name -> contract) read directly, by the name it implies (`find`):
    what is found replaces or joins the observation, what is gone leaves it."""
    found = dict(observed)
    for name, contract in contracts.items():
        current = adapter.driver(contract).find(ResourceKey(platform, name))
        if current is None:
            found.pop(name, None)
        else:
            found[name] = current
    return found
