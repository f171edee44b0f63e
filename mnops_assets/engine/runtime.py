"""Wiring for one estate: where its state lives, which database, which adapters with which settings."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from adapters import registry
from adapters.base import Adapter
from mnops_assets.engine import audit, export
from mnops_assets.engine.apply import Engine
from mnops_assets.engine.state import STATE_URL_ENV, StateStore
from mnops_assets.errors import UsageError
from mnops_assets.estate import Estate
from mnops_assets.governance import PolicySet, deploy_gate

HOME_ENV = "MNOPS_HOME"
LEASE_ENV = "MNOPS_LOCK_LEASE_SECONDS"


def home(estate: Estate) -> Path:
    """The folder for state and local resources: MNOPS_HOME, or `.mnops/` beside the estate folder."""
    return Path(os.environ.get(HOME_ENV) or estate.root.parent / ".mnops").absolute()


def state_url(estate: Estate) -> str:
    """MNOPS_STATE_URL, else ecosystem.yaml's `state.url`, else SQLite in the home folder."""
    return os.environ.get(STATE_URL_ENV) or estate.ecosystem.state.url or f"sqlite:///{home(estate) / 'state.db'}"


def open_engine(
    estate: Estate,
    policies: PolicySet | None = None,
    today: datetime.date | None = None,
    *,
    url: str | None = None,
    provider_settings: dict[str, dict[str, object]] | None = None,
) -> Engine:
    """The engine for `estate`; with `policies`, every deploy is judged by them first (unwaived errors refuse it).

    `url` and `provider_settings` override the state URL and ecosystem.yaml's provider settings (Dagster resources
    pass theirs here).
    """
    adapters = EstateAdapters(estate, provider_settings or {})
    store = StateStore(url or state_url(estate))
    try:
        store.audit_key = audit.load_key(home(estate), create=not audit.is_signed(store))
    except BaseException:
        store.close()
        raise
    export.attach(store, export.configured(estate.ecosystem.audit.sinks), estate.root)
    gate = None if policies is None else deploy_gate(estate.platforms, policies, today or datetime.date.today())
    return Engine(
        store,
        adapters,
        hooks_cwd=estate.root,
        hooks_log=home(estate) / "hooks",
        gate=gate,
        lease_seconds=lease_seconds(estate),
    )


def lease_seconds(estate: Estate) -> float:
    """MNOPS_LOCK_LEASE_SECONDS, else ecosystem.yaml's `state.lock_lease_seconds` (default 30)."""
    given = os.environ.get(LEASE_ENV)
    if given is None:
        return float(estate.ecosystem.state.lock_lease_seconds)
    try:
        seconds = float(given)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise UsageError(f"{LEASE_ENV}={given!r}: give a number of seconds, more than 0 and at most 3600")
    return seconds


class EstateAdapters:
    """The estate's adapters, each made on first use with its provider's settings, and closed together."""

    def __init__(self, estate: Estate, overrides: dict[str, dict[str, object]]) -> None:
        self.estate = estate
        self.overrides = overrides
        self.made: dict[str, Adapter] = {}

    def __call__(self, provider: str) -> Adapter:
        if provider not in self.made:
            configured = self.estate.ecosystem.providers.get(provider)
            settings: dict[str, object] = dict(configured.settings) if configured else {}
            settings.update({k: v for k, v in self.overrides.get(provider, {}).items() if v is not None})
            # Relative paths (`file:` secrets, a relative root) are relative to the estate, wherever mnops runs.
            settings.setdefault("base_dir", str(self.estate.root))
            if provider == "local":
                # The embedded provider keeps its resources beside the state, wherever the command runs from.
                settings.setdefault("root", str(home(self.estate) / "local"))
            elif configured is not None:
                # A cloud adapter serves one region: the provider's default one unless its settings say otherwise.
                settings.setdefault("region", configured.default_region)
            self.made[provider] = registry.create_adapter(provider, **settings)
        return self.made[provider]

    def close(self) -> None:
        made, self.made = self.made, {}
        failure: Exception | None = None
        for adapter in made.values():
            try:
                adapter.close()
            except Exception as exc:  # close the others all the same
                failure = failure or exc
        if failure is not None:
            raise failure
