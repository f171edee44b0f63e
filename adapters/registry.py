"""Which providers exist, where their code lives, and which contract versions each supports.

A plain dict of lazy import paths (nothing is imported until asked for), plus the `mnops.adapters` entry-point group
for adapters shipped outside this repository. A provider package's top level must import without its cloud SDK and
define `PROVIDER`, `SUPPORTED_CONTRACTS`, and either `ADAPTER = ("module", "Class")` or `create_adapter(**settings)`;
the SDK is imported only when an adapter is made. The built-in providers also define `DRIVERS`, the table their
`SUPPORTED_CONTRACTS` is derived from and their adapter builds its drivers from (see `adapters.base`).
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType

from adapters.base import Adapter, Desired, DriverTable, load
from contracts.errors import MnopsError

ENTRY_POINT_GROUP = "mnops.adapters"

BUILTIN: dict[str, str] = {
    "local": "adapters.local",
    "aws": "adapters.aws",
    "azure": "adapters.azure",
    "gcp": "adapters.gcp",
}


class UnknownProvider(MnopsError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown provider {name!r} (known: {', '.join(known)})")


class DuplicateProvider(MnopsError):
    def __init__(self, name: str, existing: str, new: str) -> None:
        self.name = name
        super().__init__(f"provider {name!r} is already registered by {existing}; refusing {new}")


class ProviderUnavailable(MnopsError):
    """The provider is registered but its package cannot be imported (usually a missing optional SDK)."""


_extra: dict[str, str] = {}


def register(name: str, module_path: str) -> None:
    """Register an outside provider package by import path; a name already taken is refused."""
    existing = {**BUILTIN, **_extra, **_entry_point_providers()}
    if name in existing:
        raise DuplicateProvider(name, existing[name], module_path)
    _extra[name] = module_path


def unregister(name: str) -> None:
    """Forget a provider added with `register` (built-ins and entry points stay)."""
    _extra.pop(name, None)


def providers() -> dict[str, str]:
    """Every known provider name mapped to its package's import path, sorted by name."""
    merged = dict(BUILTIN)
    for source in (_entry_point_providers(), _extra):
        for name, path in source.items():
            if name in merged and merged[name] != path:
                raise DuplicateProvider(name, merged[name], path)
            merged[name] = path
    return dict(sorted(merged.items()))


def provider_module(name: str) -> ModuleType:
    known = providers()
    if name not in known:
        raise UnknownProvider(name, list(known))
    try:
        return importlib.import_module(known[name])
    except ImportError as exc:
        raise ProviderUnavailable(
            f"provider {name!r} cannot be loaded ({exc}); install it with: pip install 'machine-native-ops[{name}]'"
        ) from exc


def supported_contracts(name: str) -> frozenset[str]:
    """The contract versions (`storage/v1`, ...) provider `name` declares it implements."""
    return frozenset(provider_module(name).SUPPORTED_CONTRACTS)


def driver_table(name: str) -> DriverTable:
    """Where provider `name`'s driver of each contract version lives: contract -> (module, class), nothing imported.
    Empty for an outside provider that declares only `SUPPORTED_CONTRACTS`."""
    return dict(getattr(provider_module(name), "DRIVERS", {}))


def create_adapter(name: str, **settings: object) -> Adapter:
    """A ready adapter for provider `name`, configured by `settings` (each provider documents its own)."""
    module = provider_module(name)
    try:
        factory = getattr(module, "create_adapter", None)
        if factory is None and hasattr(module, "ADAPTER"):
            factory = load(module.ADAPTER)
        if not callable(factory):
            raise ProviderUnavailable(
                f"provider {name!r} ({module.__name__}) names no adapter: define ADAPTER or create_adapter"
            )
        return factory(**settings)
    except TypeError as exc:
        # Settings come from ecosystem.yaml: say which one the provider does not take, not where Python noticed.
        raise ProviderUnavailable(f"provider {name!r} cannot be configured with {sorted(settings)}: {exc}") from exc
    except ImportError as exc:
        raise ProviderUnavailable(
            f"provider {name!r} needs a package that is not installed ({exc.name}); "
            f"install it with: pip install 'machine-native-ops[{name}]'"
        ) from exc


@cache
def _entry_point_providers() -> dict[str, str]:
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTIN or ep.name in found:
            raise DuplicateProvider(ep.name, BUILTIN.get(ep.name) or found[ep.name], ep.value)
        found[ep.name] = ep.value
    return found


def refusals(name: str, desired: Desired) -> list[tuple[tuple[str, ...], str]]:
    """What provider `name` refuses of `desired` before anything is made, each with the contract fields it is about:
    its package's `LIMITS` (a lazy import path to a function that needs no SDK); none when it declares no limits."""
    location = getattr(provider_module(name), "LIMITS", None)
    return [] if location is None else list(load(location)(desired))
