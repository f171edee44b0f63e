"""Policy plugins: checks the built-in rule kinds cannot state, found through the `mnops.policies` entry-point group.

A plugin is a callable `(platform, params) -> iterable of (path, message)`, `platform` being a `ResolvedPlatform` and
`path` a path in its resolved spec (`("resources", "api", "replicas")`), which the engine turns into file and line.
A plugin that declares a pydantic model with `@policy_plugin(params=Model)` gets its params validated when the
policies are loaded, problems pointing into policies.yaml, and receives an instance of that model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from mnops_assets.errors import MnopsError
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.paths import Path_

ENTRY_POINT_GROUP = "mnops.policies"


class PolicyPlugin(Protocol):
    def __call__(self, platform: ResolvedPlatform, params: Any) -> Iterable[tuple[Path_, str]]: ...


class PluginFailed(MnopsError):
    """A plugin raised while judging a platform: a bug in the plugin, never a verdict on the platform."""

    def __init__(self, rule: str, plugin: str, instance: str) -> None:
        self.rule, self.plugin, self.instance = rule, plugin, instance
        super().__init__(f"rule {rule}: policy plugin {plugin!r} failed on instance {instance!r}")


F = TypeVar("F", bound=Callable[..., Any])


def policy_plugin(*, params: type[BaseModel] | None = None) -> Callable[[F], F]:
    """Mark a function as a policy plugin whose params are validated against `params` at load time."""

    def mark(function: F) -> F:
        function.params_model = params  # type: ignore[attr-defined]
        return function

    return mark


def params_model(plugin: PolicyPlugin) -> type[BaseModel] | None:
    return getattr(plugin, "params_model", None)


@cache
def available() -> dict[str, EntryPoint]:
    """Installed plugins by entry-point name; none is imported until a rule names it."""
    return {ep.name: ep for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)}


def load(name: str) -> PolicyPlugin:
    """The plugin registered as `name`; KeyError if none is, ImportError (and friends) if it cannot be imported."""
    return _load(name)


@cache
def _load(name: str) -> PolicyPlugin:
    plugin = available()[name].load()
    if not callable(plugin):
        raise TypeError(f"entry point {name!r} is not callable")
    return plugin
