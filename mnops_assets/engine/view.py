"""One view of a platform: what exists at its provider, its last state rows, its last version and the spec that
version applied, gathered in one place, so that every plan (deploy, plan, destroy, rollback, drift, import, health) is
made from the same facts the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from adapters.base import Adapter, Observed
from contracts.errors import MnopsError
from mnops_assets.engine import tracing
from mnops_assets.engine.plan import Plan, make_plan, read_by_name, with_untagged
from mnops_assets.engine.state import ResourceRecord, StateStore, Version
from mnops_assets.engine.wiring import Rows, Wiring
from mnops_assets.estate.spec import PlatformSpec


class Unobservable(MnopsError):
    """A deployed platform whose provider could not be asked (a bulk view's answer for it)."""

    def __init__(self, platform: str, version: Version, cause: MnopsError) -> None:
        self.platform = platform
        self.version = version
        self.cause = cause
        super().__init__(str(cause))


@dataclass(frozen=True)
class PlatformView:
    platform: str
    adapter: Adapter
    observed: Mapping[str, Observed]
    """What exists: found by identity tags, plus each resource of the state rows still there under the name it
    implies (its tags removed by hand: a change in its tags, not a deletion)."""
    state: Mapping[str, ResourceRecord]
    """The last state rows (see `ResourceRecord`)."""
    version: Version | None
    """The last version recorded (a destroy's has no spec); None when never deployed."""
    rows: Rows
    """Any platform's state rows, for references to the outputs of other platforms' resources (`Wiring`)."""
    unfinished: Mapping[str, str] = field(default_factory=dict)
    """Resources whose last journalled step is a delete that failed (resource -> deploy id): see `make_plan`."""

    @classmethod
    def observe(cls, adapter: Adapter, store: StateStore, platform: str) -> PlatformView:
        state = store.resources(platform)
        observed = with_untagged(adapter, platform, adapter.observe(platform), state)
        unfinished = store.unfinished_deletes([platform]).get(platform, {})
        return cls(platform, adapter, observed, state, store.latest_version(platform), store.resources, unfinished)

    @property
    def wiring(self) -> Wiring:
        """Where the references of this platform's resources find their values, as it stands."""
        return Wiring(self.platform, self.adapter, self.observed, self.rows)

    @property
    def deployed(self) -> bool:
        """Deployed and not destroyed since: the last version applied a spec."""
        return self.version is not None and bool(self.version.spec)

    @cached_property
    def previous(self) -> PlatformSpec | None:
        """The spec the last version applied (None: never deployed, or destroyed); parsed only when asked for."""
        return spec_of(self.version)

    def plan(self, spec: PlatformSpec | None, *, previous: PlatformSpec | None = None) -> Plan:
        """What turns what exists into `spec` (None: into nothing), judged against the last applied state.

        The last applied spec (or `previous`, for a platform that has none) only orders the deletes of resources
        `spec` does not declare: it is parsed only when there are some.
        """
        declared = spec.resources if spec is not None else {}
        undeclared = any(name not in declared for name in self.observed)
        order = (self.previous or previous) if undeclared else None
        applied = self.version.config_hash if self.version is not None else None
        return make_plan(
            self.platform,
            spec,
            self.observed,
            self.state,
            self.adapter,
            order,
            rows=self.rows,
            applied_hash=applied,
            unfinished=self.unfinished,
        )

    def reread(self, names: Iterable[str]) -> PlatformView:
        """This view with `names` read again directly, by the name each implies (bulk listings may lag)."""
        contracts = {name: self.observed[name].contract for name in names}
        return replace(self, observed=read_by_name(self.adapter, self.platform, self.observed, contracts))


def deployed_views(
    store: StateStore, adapter_for: Callable[[str], Adapter], specs: Sequence[PlatformSpec]
) -> dict[str, PlatformView | Unobservable]:
    """The views of the deployed platforms among `specs`, for drift scans: state read in bulk (two queries however
    many platforms), each provider asked once for all of its platforms (`Adapter.observe_many`). A provider that fails
    fails only its own platforms (`Unobservable`); platforms never deployed, or destroyed, are left out."""
    names = [spec.name for spec in specs]
    versions = store.latest_versions(names)
    state = store.resources_of(names)

    def rows(platform: str) -> Mapping[str, ResourceRecord]:
        # A scan's references mostly point inside the scanned set: its rows are read already.
        return state[platform] if platform in state else store.resources(platform)

    deployed = [spec for spec in specs if spec.name in versions and versions[spec.name].spec]
    unfinished = store.unfinished_deletes([spec.name for spec in deployed])
    by_provider: dict[str, list[str]] = {}
    for spec in deployed:
        by_provider.setdefault(spec.provider, []).append(spec.name)
    observations: dict[str, Mapping[str, Observed] | MnopsError] = {}
    for provider, platforms in by_provider.items():
        try:
            with tracing.span("mnops.observe_many", provider=provider, platforms=len(platforms)):
                observations.update(adapter_for(provider).observe_many(platforms))
        except MnopsError as exc:
            observations.update(dict.fromkeys(platforms, exc))
    views: dict[str, PlatformView | Unobservable] = {}
    for spec in deployed:
        name, version = spec.name, versions[spec.name]
        try:
            observed = observations[name]
            if isinstance(observed, MnopsError):
                raise observed
            adapter = adapter_for(spec.provider)
            observed = with_untagged(adapter, name, observed, state[name])
        except MnopsError as exc:
            views[name] = Unobservable(name, version, exc)
            continue
        views[name] = PlatformView(name, adapter, observed, state[name], version, rows, unfinished.get(name, {}))
    return views


def spec_of(version: Version | None) -> PlatformSpec | None:
    """The spec a version applied; None for no version, or a destroy's."""
    if version is None or not version.spec:
        return None
    return PlatformSpec.model_validate(version.spec)


def deployed_readers(store: StateStore, platform: str) -> list[str]:
    """The deployed platforms whose last applied spec reads an output of `platform` (`ref:<platform>/...`), sorted:
    removing `platform` would leave them unable to plan."""
    others = [name for name in store.platforms() if name != platform]
    readers = []
    for name, version in sorted(store.latest_versions(others).items()):
        spec = spec_of(version)
        if spec is not None and platform in spec.producers():
            readers.append(name)
    return readers
