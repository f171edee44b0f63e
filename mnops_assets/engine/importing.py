"""Import: adopt resources that already exist at the provider into state, so that mnops manages them without making
them again (`mnops import`).

Each declared resource is looked for by identity tags first, as every plan observes (the usual case: the state database
was lost, the resources live on), then by the name its key implies (`ResourceDriver.find`). A resource found that way
without mnops's identity tags, made by hand or stripped of them, is given those tags and nothing else, so that
observation finds it from then on. State is then written as a deploy writes it, under the platform's lock: a row per
resource, a version of the spec, a deploy of kind `import` with a journal entry per tag written, and audit events.

Rows record what was found wherever it differs from the YAML, so the next plan shows each difference as a change the
YAML asks for (not as drift); where the two agree a row is what a deploy would have written, so that plan is a no-op.
Fields muted by `drift.ignore` record the YAML's value, and stay muted as after a deploy.

Nothing is written unless every declared resource is found and none conflicts with the YAML in what cannot change in
place (its contract, an immutable field); a refusal names every problem at once. A platform deployed already is
refused too, unless what exists is in sync with it: then there is nothing to import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from adapters.base import Adapter, Desired, Observed, ResourceDriver, identity_tags
from contracts.errors import MnopsError
from mnops_assets.engine.operation import Operation
from mnops_assets.engine.plan import Plan, applied_record, desired_resources, make_plan
from mnops_assets.engine.state import ResourceRecord, Version
from mnops_assets.engine.view import PlatformView
from mnops_assets.engine.wiring import Rows, Wiring
from mnops_assets.estate.spec import PlatformSpec

FOUND_BY_TAGS = "tags"
FOUND_BY_NAME = "name"
NOTE = "imported"


class Problem(NamedTuple):
    resource: str | None
    """None for the platform as a whole."""
    reason: str
    field: str | None = None
    """The field in question, so that a report can point at the line that sets it."""


class ImportRefused(MnopsError):
    """Import found something it cannot adopt, and wrote nothing."""

    def __init__(self, platform: str, problems: Sequence[Problem]) -> None:
        self.platform = platform
        self.problems = list(problems)
        listed = "\n".join(f"  {p.resource}: {p.reason}" if p.resource else f"  {p.reason}" for p in self.problems)
        super().__init__(f"import of {platform!r} refused, nothing was written:\n{listed}")


@dataclass(frozen=True)
class Adopted:
    """A declared resource as import found it."""

    name: str
    observed: Observed
    found_by: str
    """`tags` when it carries its identity tags (what every plan finds), `name` when found by the name it implies."""
    tagged: bool
    """Whether import writes its identity tags (in a dry run: would write them)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.name,
            "contract": self.observed.contract,
            "resource_id": self.observed.resource_id,
            "found_by": self.found_by,
            "tagged": self.tagged,
            "problem": self.observed.problem,
        }


@dataclass(frozen=True)
class ImportResult:
    platform: str
    config_hash: str
    resources: tuple[Adopted, ...]
    undeclared: tuple[str, ...]
    """Resources carrying the platform's tags that it does not declare: not imported; a deploy deletes them."""
    plan: Plan
    """What `mnops plan` shows once imported: no steps when every resource matches the YAML."""
    dry_run: bool = False
    version: Version | None = None
    """The version recorded; when `already_deployed`, the version that was there."""
    already_deployed: bool = False
    """The platform was deployed already and what exists is in sync with it: nothing was imported."""
    deploy_id: str | None = None
    audit_seqs: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "config_hash": self.config_hash,
            "dry_run": self.dry_run,
            "already_deployed": self.already_deployed,
            "version": self.version.version if self.version is not None else None,
            "deploy_id": self.deploy_id,
            "resources": [a.to_dict() for a in self.resources],
            "undeclared": list(self.undeclared),
            "plan": self.plan.to_dict(),
        }


@dataclass(frozen=True)
class _Survey:
    adapter: Adapter
    observed: dict[str, Observed]
    found: list[Adopted]
    undeclared: list[str]
    in_sync: ImportResult | None = None
    """The answer when the platform is deployed already and in sync with what exists: nothing to import."""


def survey(spec: PlatformSpec, view: PlatformView) -> ImportResult:
    """What importing `spec` would do, writing nothing at all (a dry run): no tag, no state, no lock, no audit."""
    look = _survey(spec, view, dry_run=True)
    if look.in_sync is not None:
        return look.in_sync
    current = dict(look.observed)
    for item in look.found:
        current[item.name] = _with_identity(item.observed) if item.tagged else item.observed
    records = _records(spec, look.adapter, current, view.rows)
    plan = _plan_after(spec, look.adapter, current, records, view.rows)
    return ImportResult(spec.name, spec.config_hash(), tuple(look.found), tuple(look.undeclared), plan, dry_run=True)


def adopt(spec: PlatformSpec, view: PlatformView, op: Operation) -> ImportResult:
    """Import `spec`'s resources as `op` (of kind `import`, holding the platform's lock), from `view`, taken under
    that lock; see `Engine.import_platform`."""
    name = spec.name
    store = op.store
    look = _survey(spec, view, dry_run=False)
    if look.in_sync is not None:
        return look.in_sync
    config_hash = spec.config_hash()
    op.start(config_hash, {"config_hash": config_hash, "resources": [item.to_dict() for item in look.found]})
    to_tag = [item for item in look.found if item.tagged]
    tagged = {item.name: _tag(op, n, item, look.adapter) for n, item in enumerate(to_tag, 1)}
    found = [tagged.get(item.name, item) for item in look.found]
    current = {**look.observed, **{item.name: item.observed for item in found}}
    records = _records(spec, look.adapter, current, view.rows)
    for record in records.values():
        store.put_resource(record)
    # Rows without a version are what a crashed first deploy (or import) left: the rows written here replace them.
    for leftover in store.resources(name):
        if leftover not in records:
            store.drop_resource(name, leftover)
    ids = {resource: record.resource_id for resource, record in records.items()}
    version = op.record_version(spec, ids, NOTE, {resource: record.outputs for resource, record in records.items()})
    plan = _plan_after(spec, look.adapter, current, records, view.rows)
    data = {
        "version": version.version,
        "config_hash": config_hash,
        "resources": [item.to_dict() for item in found],
        "undeclared": look.undeclared,
        "plan": plan.to_dict(),
    }
    op.succeed(data)
    return ImportResult(
        name,
        config_hash,
        tuple(found),
        tuple(look.undeclared),
        plan,
        version=version,
        deploy_id=op.deploy_id,
        audit_seqs=tuple(op.seqs),
    )


def _plan_after(
    spec: PlatformSpec,
    adapter: Adapter,
    current: Mapping[str, Observed],
    records: Mapping[str, ResourceRecord],
    rows: Rows,
) -> Plan:
    """The plan once imported: against the rows written and a version of `spec` itself."""
    return make_plan(spec.name, spec, current, records, adapter, spec, rows=rows, applied_hash=spec.config_hash())


def _survey(spec: PlatformSpec, view: PlatformView, *, dry_run: bool) -> _Survey:
    """Find every declared resource, or refuse naming every one that is missing or conflicts with the YAML."""
    adapter = view.adapter
    observed = dict(view.observed)
    if view.deployed:
        # A destroy records a version without a spec: such a platform has nothing deployed, and may be imported.
        assert view.version is not None
        plan = view.plan(spec)
        if plan.changed:
            reason = (
                f"it is deployed already (version {view.version.version}), so mnops manages it; import adopts only "
                f"what mnops has no state of. Its plan is not empty (the YAML changed, or something outside mnops "
                f"did): `mnops plan {spec.name}` shows what, `mnops deploy {spec.name}` applies it"
            )
            raise ImportRefused(spec.name, [Problem(None, reason)])
        in_sync = ImportResult(
            spec.name, spec.config_hash(), (), (), plan, dry_run=dry_run, version=view.version, already_deployed=True
        )
        return _Survey(adapter, observed, [], [], in_sync)
    problems: list[Problem] = []
    found: list[Adopted] = []
    for name, desired in sorted(desired_resources(spec, view.wiring).items()):
        driver = adapter.driver(desired.contract)
        have = observed.get(name) or driver.find(desired.key)
        if have is None:
            problems.append(
                Problem(name, f"no {desired.contract} resource found, by identity tags or by the name it implies")
            )
            continue
        conflict = _conflict(driver, desired, have)
        if conflict is not None:
            problems.append(conflict)
            continue
        carries = _carries_identity(have)
        found.append(Adopted(name, have, FOUND_BY_TAGS if carries and name in observed else FOUND_BY_NAME, not carries))
    if problems:
        raise ImportRefused(spec.name, problems)
    undeclared = sorted(name for name in observed if name not in spec.resources)
    return _Survey(adapter, observed, found, undeclared)


def _conflict(driver: ResourceDriver, desired: Desired, have: Observed) -> Problem | None:
    """Why `have` cannot become `desired` in place, if it cannot: adopting it would only plan its replacement."""
    name = desired.key.name
    if have.contract != desired.contract:
        return Problem(name, f"declared as {desired.contract}, but {have.resource_id} is a {have.contract} resource")
    if have.problem is not None:
        return None  # its fields cannot be read: the next plan repairs it, as it would any damaged resource
    want = driver.desired_fields(desired, have)
    clashes = [field for field in sorted(driver.immutable) if want.get(field) != have.fields.get(field)]
    if not clashes:
        return None
    said = "; ".join(
        f"{field} is {json.dumps(have.fields.get(field))} there and {json.dumps(want.get(field))} in YAML"
        for field in clashes
    )
    return Problem(name, f"{said}, which cannot change in place ({have.resource_id})", clashes[0])


def _carries_identity(observed: Observed) -> bool:
    wanted = identity_tags(observed.key, observed.contract)
    return all(observed.tags.get(tag) == value for tag, value in wanted.items())


def _with_identity(observed: Observed) -> Observed:
    return replace(observed, tags={**observed.tags, **identity_tags(observed.key, observed.contract)})


def _tag(op: Operation, number: int, item: Adopted, adapter: Adapter) -> Adopted:
    """Write `item`'s identity tags, journalled as a deploy journals its steps."""
    driver = adapter.driver(item.observed.contract)
    observed = op.journalled(number, "tag", item.name, lambda: driver.tag_identity(item.observed))
    return replace(item, observed=observed)


def _records(
    spec: PlatformSpec, adapter: Adapter, current: Mapping[str, Observed], rows: Rows
) -> dict[str, ResourceRecord]:
    """The state rows of the declared resources: what a deploy of `spec` records (`applied_record`), with what was
    found instead wherever that differs from the YAML."""
    desired = desired_resources(spec, Wiring(spec.name, adapter, current, rows))
    applied = {name: applied_record(adapter, want, current[name]) for name, want in desired.items()}
    fields = {name: dict(record.fields) for name, record in applied.items()}
    tags = {name: dict(record.tags) for name, record in applied.items()}
    # Planned against rows saying the YAML was applied, every difference found is drift (and a muted one not even
    # that): exactly the values to record as found, so that the planner calls them changes the YAML asks for.
    for step in make_plan(spec.name, spec, current, applied, adapter, spec, rows=rows).steps:
        if step.name not in desired:
            continue  # undeclared: not imported
        for change in step.changes:
            if not change.field.startswith("tags."):
                fields[step.name][change.field] = change.before
            elif change.before is None:
                tags[step.name].pop(change.field.removeprefix("tags."), None)
            else:
                tags[step.name][change.field.removeprefix("tags.")] = change.before
    return {name: replace(record, fields=fields[name], tags=tags[name]) for name, record in applied.items()}
