"""The adapter protocol: what every provider implements for each contract version it supports.

One `ResourceDriver` per contract version (Libcloud's one-base-per-service), gathered by an `Adapter`. Drivers find the
resources they manage by identity tags, never by a list kept elsewhere, so a crash between "created" and "recorded"
leaves nothing orphaned: the next observation finds it. SDK and OS errors stop here and leave as `AdapterError`s
naming the resource and the operation, raised `from` the cause. Drivers build on `adapters.driver.ConvergingDriver`,
which writes create, update and delete once over each driver's own "make it so" (`_ensure`).

A provider declares its drivers once, in a table of lazy import paths in its package's top level (see
`adapters.registry`): `DRIVERS = {"storage/v1": ("adapters.<p>.storage", "StorageDriver"), ...}`. The registry reads
`SUPPORTED_CONTRACTS = frozenset(DRIVERS)` without importing any SDK, and the adapter builds its drivers from the same
table (`build_drivers`). Adding a provider `<p>` touches exactly:

- `adapters/<p>/__init__.py`: `PROVIDER`, `ADAPTER` (its adapter class's import path), `DRIVERS`, `SUPPORTED_CONTRACTS`;
- `adapters/<p>/adapter.py`: the `Adapter` subclass, its settings, `platforms()`, drivers from `build_drivers`;
- `adapters/<p>/driver.py`: the provider's `ConvergingDriver` subclass (`provider`, `failures`, what its drivers share);
- `adapters/<p>/<kind>.py`: one driver per contract version (`_ensure`, `_delete`, `observe`, ...);
- `adapters/registry.py`: one line in `BUILTIN`;
- `tests/adapters/<p>/`: a `target` fixture in `conftest.py` and `test_conformance.py`, whose one import runs the
  shared conformance suite (`tests/adapters/conformance.py`) against it;
- `pyproject.toml`: its SDK as an optional dependency (`machine-native-ops[<p>]`), if it needs one.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from contracts import ContractSpec
from contracts.errors import MnopsError

MANAGED_BY = "mnops"
TAG_PLATFORM = "mnops-platform"
TAG_RESOURCE = "mnops-resource"
TAG_MANAGED_BY = "mnops-managed-by"
TAG_CONTRACT = "mnops-contract"
IDENTITY_TAGS = (TAG_PLATFORM, TAG_RESOURCE, TAG_MANAGED_BY, TAG_CONTRACT)

# Fields of every contract that are engine bookkeeping, not provider state: never observed, never diffed.
ENGINE_FIELDS = frozenset({"contract", "depends_on", "tags"})


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """A managed resource's identity: the platform instance and the resource's name in it."""

    platform: str
    name: str

    def __str__(self) -> str:
        return f"{self.platform}/{self.name}"


def identity_tags(key: ResourceKey, contract: str) -> dict[str, str]:
    return {TAG_PLATFORM: key.platform, TAG_RESOURCE: key.name, TAG_MANAGED_BY: MANAGED_BY, TAG_CONTRACT: contract}


@dataclass(frozen=True, slots=True)
class Desired:
    """What the engine asks a driver for: the contract spec, the tags to put on it (identity tags included)."""

    key: ResourceKey
    spec: ContractSpec
    tags: Mapping[str, str]
    region: str

    @property
    def contract(self) -> str:
        return self.spec.contract

    @classmethod
    def build(cls, key: ResourceKey, spec: ContractSpec, tags: Mapping[str, str], region: str) -> Desired:
        """Effective tags are the platform's, then the resource's own, then identity tags, which nobody overrides."""
        return cls(key, spec, {**tags, **spec.tags, **identity_tags(key, spec.contract)}, region)


@dataclass(frozen=True, slots=True)
class Observed:
    """What a provider really holds for a managed resource.

    `fields` uses the contract's own field names (aliases, e.g. `from`) and JSON types, and holds only what the
    provider can read back; `resource_id` is the provider's id for it (a path, an ARN, a URL).
    """

    key: ResourceKey
    contract: str
    resource_id: str
    fields: Mapping[str, Any]
    tags: Mapping[str, str]
    problem: str | None = None
    """Set when the resource exists but its state cannot be read (damaged): the planner repairs it."""
    private: Mapping[str, str] = field(default_factory=dict)
    """The adapter's own bookkeeping, read along with the resource (on aws, its `mnops:` tags), for the driver's
    `desired_fields`; never shown, compared or recorded by the engine. Addresses the resource's outputs need and no
    name implies (a queue's URL) are kept here too (`address_entries`, `address`)."""

    def address(self, name: str) -> str:
        """An address read along with the resource (see `address_entries`); empty when none was."""
        return self.private.get(ADDRESS_PREFIX + name, "")


ADDRESS_PREFIX = "@"
"""Keys of `Observed.private` holding addresses (see `address_entries`)."""


def address_entries(addresses: Mapping[str, str] | None) -> dict[str, str]:
    """`Observed.private` entries for addresses a listing gave that outputs need and no name implies (a queue's URL,
    an account's blob endpoint); empty ones are left out."""
    return {ADDRESS_PREFIX + name: value for name, value in (addresses or {}).items() if value}


@dataclass(frozen=True, slots=True)
class HealthReport:
    healthy: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Upkeep:
    """What one resource's housekeeping did (`ResourceDriver.maintain`); the default, nothing."""

    rotated: bool = False
    """A secret's value was replaced: whatever read the old one (a service, at its start) must restart."""
    removed: int = 0
    """Objects, messages or log files expired by their retention."""
    detail: str = ""
    """A short note for the audit trail (a new version id); never a value."""
    error: str | None = None
    """Why the housekeeping of this resource failed; the platform's other resources are maintained all the same."""

    @property
    def done(self) -> bool:
        """Whether anything happened (or failed): a resource with nothing to do is left out of every record."""
        return self.rotated or self.removed > 0 or self.error is not None

    def to_dict(self) -> dict[str, Any]:
        return {"rotated": self.rotated, "removed": self.removed, "detail": self.detail, "error": self.error}


class AdapterError(MnopsError):
    """A provider operation failed; names the provider, the operation and the resource."""

    def __init__(self, provider: str, operation: str, key: ResourceKey | None, reason: str) -> None:
        self.provider = provider
        self.operation = operation
        self.key = key
        self.reason = reason
        target = f" {key}" if key is not None else ""
        super().__init__(f"{provider}: {operation}{target} failed: {reason}")


class UnsupportedContract(MnopsError):
    def __init__(self, provider: str, contract: str, supported: frozenset[str]) -> None:
        self.provider = provider
        self.contract = contract
        super().__init__(
            f"provider {provider!r} does not support {contract!r} (supported: {', '.join(sorted(supported))})"
        )


class CannotTag(MnopsError):
    """A driver that cannot put identity tags on a resource it did not make (see `ResourceDriver.tag_identity`)."""

    def __init__(self, contract: str, key: ResourceKey) -> None:
        self.contract = contract
        self.key = key
        tags = ", ".join(f"{k}={v}" for k, v in identity_tags(key, contract).items())
        super().__init__(f"the {contract} driver cannot tag {key}: give it the tags {tags} by hand, then import again")


class ResourceDriver(ABC):
    """The lifecycle of one contract version on one provider."""

    contract: ClassVar[str]
    immutable: ClassVar[frozenset[str]] = frozenset()
    """Fields that cannot change in place: changing one plans a replace (delete, then create)."""

    @abstractmethod
    def observe(self, platform: str) -> list[Observed]:
        """Every resource of this contract that carries `platform`'s identity tags."""

    @abstractmethod
    def create(self, desired: Desired) -> Observed:
        """Make the resource `desired` asks for; return its fresh observation.

        A resource that exists already and is this platform's (it carries `desired.key`'s identity tags, or it is
        named for `desired.key`: what a crash between "made" and "recorded" leaves) is converged to `desired`
        instead: the same resource, its data kept, its settings and tags made as desired. `create` never fails
        because the resource exists.
        """

    @abstractmethod
    def update(self, desired: Desired, current: Observed) -> Observed:
        """Converge the resource `current` observed to `desired`, repairing a damaged one; return its fresh
        observation. A driver may refuse a resource that is gone since `current` was read (local does), so that the
        engine plans again rather than remaking what someone removed."""

    @abstractmethod
    def delete(self, current: Observed) -> None:
        """Remove the resource and everything it owns; deleting one that is already gone is not an error."""

    def find(self, key: ResourceKey) -> Observed | None:
        """One resource by the name `key` implies, whether or not it carries identity tags (`mnops import` adopts
        resources made by hand this way); by default, among what `observe` finds for the platform."""
        return next((o for o in self.observe(key.platform) if o.key == key), None)

    def tag_identity(self, current: Observed) -> Observed:
        """Put `current.key`'s identity tags on a resource found by `find` without them, and change nothing else;
        return its fresh observation. `mnops import` calls it so that observation finds the resource from then on."""
        raise CannotTag(self.contract, current.key)

    def bind(self, drivers: Mapping[str, ResourceDriver]) -> None:
        """Called once every driver of the adapter is made, with all of them by contract version: a driver that works
        through another (compute handing a secret's value to its processes) keeps it here. Nothing by default."""
        return None

    def health(self, current: Observed) -> HealthReport:
        """Whether the resource serves; by default, whether it still exists."""
        present = self.find(current.key) is not None
        return HealthReport(present, "" if present else "resource is gone")

    def outputs(self, current: Observed) -> dict[str, str]:
        """What other resources may read of `current` (a resource just made, changed or observed): exactly the
        outputs its contract kind declares (`ContractSpec.outputs`), as strings, an empty one where the provider has
        nothing to give. A sensitive output (`ContractSpec.sensitive_outputs`) is a reference to where the value is
        kept, never the value. Read from the observation and the driver's settings: no call to the provider where
        the observation holds enough. None by default, which the conformance suite refuses."""
        return {}

    def reveal_output(self, key: ResourceKey, output: str) -> str:
        """The value of a sensitive output of `key`'s resource, for the environment of a service that reads it (see
        `contracts.base.SEALED_PREFIX`); held in memory only. Only kinds with sensitive outputs implement it."""
        raise AdapterError(type(self).__name__, "reveal", key, f"{self.contract} has no sensitive output {output!r}")

    def maintain(self, key: ResourceKey) -> Upkeep:
        """Housekeeping a cloud does on its own schedule where the provider does not (expiry, purges, retention,
        rotation of secrets whose `rotation_days` have passed); nothing by default."""
        return Upkeep()

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        """The `fields` an observation of a resource made from `desired` would show; the planner diffs the two.

        `current`, the resource as just observed, spares a driver asking the provider again for what observation
        read already (a generated secret's last written value). May read the deployer's environment or files (a
        secret's `env:` source) and so raise `AdapterError`.
        """
        data = desired.spec.model_dump(mode="json", by_alias=True)
        return {k: v for k, v in data.items() if k not in ENGINE_FIELDS}


DriverTable = Mapping[str, tuple[str, str]]
"""A provider's drivers: contract version -> (module, class), imported only when an adapter is made."""


class DriverTableError(MnopsError):
    """A provider's `DRIVERS` table names something that is not the driver of that contract version."""

    def __init__(self, contract: str, location: tuple[str, str], reason: str) -> None:
        self.contract = contract
        self.location = location
        super().__init__(f"DRIVERS[{contract!r}] = {location!r}: {reason}")


def load(location: tuple[str, str]) -> Any:
    """The object `(module, name)` names, or None if the module has no such name; the module is imported now
    (Libcloud's `get_driver`). An `ImportError` (a missing SDK) is left to the registry, which turns it into the
    install command."""
    module, name = location
    return getattr(importlib.import_module(module), name, None)


def build_drivers(table: DriverTable, context: object) -> dict[str, ResourceDriver]:
    """One driver per entry of `table`, each made as `Driver(context)` (the settings and connections the provider's
    drivers share), then bound to the others (`ResourceDriver.bind`)."""
    drivers: dict[str, ResourceDriver] = {}
    for contract, location in table.items():
        cls = load(location)
        if not (isinstance(cls, type) and issubclass(cls, ResourceDriver)):
            raise DriverTableError(contract, location, "no ResourceDriver of that name there")
        if cls.contract != contract:
            raise DriverTableError(contract, location, f"that driver is for {cls.contract!r}")
        drivers[contract] = cls(context)
    for driver in drivers.values():
        driver.bind(drivers)
    return drivers


def _kind_and_version(contract: str) -> tuple[str, int]:
    kind, _, version = contract.partition("/")
    number = version.removeprefix("v")
    return kind, int(number) if number.isdigit() else 0


@dataclass
class Adapter(ABC):
    """A provider: its drivers by contract version, and the settings they share.

    Each driver is also an attribute named for its contract's kind (`adapter.storage`, `adapter.secrets`): the
    newest version's, where the provider supports several.
    """

    provider: ClassVar[str]
    drivers: dict[str, ResourceDriver] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for contract in sorted(self.drivers, key=_kind_and_version):
            kind = _kind_and_version(contract)[0]
            if any(kind in vars(cls) for cls in type(self).__mro__):
                # A kind named like a method (`observe`) would hide it: refuse rather than break the adapter quietly.
                raise TypeError(f"{type(self).__name__}: contract kind {kind!r} is already one of its attributes")
            setattr(self, kind, self.drivers[contract])

    @property
    def supported_contracts(self) -> frozenset[str]:
        return frozenset(self.drivers)

    def driver(self, contract: str) -> ResourceDriver:
        try:
            return self.drivers[contract]
        except KeyError:
            raise UnsupportedContract(self.provider, contract, self.supported_contracts) from None

    @abstractmethod
    def platforms(self) -> list[str]:
        """Every platform with at least one managed resource at the provider (whatever its contract), sorted; a
        platform whose last resource is deleted is no longer listed."""

    def observe(self, platform: str) -> dict[str, Observed]:
        """Every managed resource of `platform`, by resource name, whatever its contract."""
        found: dict[str, Observed] = {}
        for driver in self.drivers.values():
            for observed in driver.observe(platform):
                found[observed.key.name] = observed
        return found

    def observe_many(self, platforms: Sequence[str]) -> dict[str, dict[str, Observed] | MnopsError]:
        """`observe` for each platform; a platform that could not be observed maps to the error instead, so one broken
        platform does not hide the others. A provider whose API lists many resources a call overrides this (aws)."""
        found: dict[str, dict[str, Observed] | MnopsError] = {}
        for platform in platforms:
            try:
                found[platform] = self.observe(platform)
            except MnopsError as exc:
                found[platform] = exc
        return found

    def maintain(self, platform: str) -> dict[str, Upkeep]:
        """Run the housekeeping of every resource of `platform` whose driver has any, by resource name.

        A resource whose upkeep fails maps to an `Upkeep` with its `error`, and a contract whose resources could not be
        listed maps to one under the contract's name (`secrets/v1`, never a resource's name), after the others have had
        theirs: a secret rotated before a failure must still be reported, or its readers would never be restarted.
        Damaged resources (an observation with a `problem`) are left to the next deploy, which repairs them.
        """
        done: dict[str, Upkeep] = {}
        for contract, driver in self.drivers.items():
            if type(driver).maintain is ResourceDriver.maintain:
                continue  # nothing to do for this contract: spare its observation
            try:
                found = driver.observe(platform)
            except MnopsError as exc:
                done[contract] = Upkeep(error=str(exc))
                continue
            for observed in found:
                if observed.problem is not None:
                    continue
                try:
                    done[observed.key.name] = driver.maintain(observed.key)
                except MnopsError as exc:
                    done[observed.key.name] = Upkeep(error=str(exc))
        return done

    def close(self) -> None:
        """Release connections and handles (not the resources)."""
        return None
