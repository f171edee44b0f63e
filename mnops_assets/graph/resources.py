"""Dagster resources: one per provider, and the engine wiring that uses them. Settings resolve at run time (EnvVar)."""

from __future__ import annotations

import datetime
from pathlib import Path

from dagster import ConfigurableResource

from mnops_assets.engine.apply import Engine
from mnops_assets.engine.runtime import open_engine
from mnops_assets.estate import Estate
from mnops_assets.governance import PolicySet, load_governed


class LocalProvider(ConfigurableResource):
    """The embedded `local` provider. Its master key comes from MNOPS_MASTER_KEY or a 0600 key file under `root`."""

    root: str | None = None
    """Where resources live; unset means `.mnops/local/` beside the estate (or under MNOPS_HOME)."""


class Mnops(ConfigurableResource):
    """The estate and the state store every deployment, check and sensor of this code location works on."""

    estate: str
    """The estate folder (holding ecosystem.yaml)."""
    state_url: str | None = None
    """SQLAlchemy URL of the state store; unset means MNOPS_STATE_URL, ecosystem.yaml's state.url, or SQLite."""
    local: LocalProvider

    def load(self, instances: list[str] | None = None) -> tuple[Estate, PolicySet]:
        """The estate as its files say now (not as they were when the code location loaded), with its policies."""
        return load_governed(Path(self.estate), instances)

    def engine(self, estate: Estate, policies: PolicySet | None) -> Engine:
        return open_engine(
            estate,
            policies,
            datetime.date.today(),
            url=self.state_url,
            provider_settings={"local": {"root": self.local.root}},
        )
