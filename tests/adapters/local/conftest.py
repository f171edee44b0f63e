"""Fixtures for the local provider: a fresh adapter under a temporary root, a clock tests can move, the conformance
target, and a guard that fails any test leaving a process running under its root."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from adapters.base import Desired, ResourceKey
from adapters.local import testing
from adapters.local.adapter import LocalAdapter
from contracts import contract_model
from tests.adapters.conformance import Target
from tests.conftest import POSTGRES_ADMIN_URL
from tests.faults.inject import tmpfs


class Clock:
    """Wall-clock time that a test can move forward."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def no_stray_processes(tmp_path: Path) -> Iterator[None]:
    # Autouse, so it is set up first and torn down last: after every adapter fixture has deleted what it made.
    yield
    strays = testing.kill_strays(tmp_path)
    if strays:
        pytest.fail(f"processes still running under {tmp_path} after the test (now killed): {strays}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def master_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def adapter(tmp_path: Path, clock: Clock, master_key: str) -> Iterator[LocalAdapter]:
    # database/v1 makes its databases on the PostgreSQL server this machine kind (and CI) runs.
    adapter = LocalAdapter(
        tmp_path / "root", master_key, clock=clock, stop_grace_seconds=2.0, postgres_url=POSTGRES_ADMIN_URL
    )
    yield adapter
    if adapter.root.is_dir():
        testing.remove_everything(adapter)
    adapter.close()


@pytest.fixture
def target(adapter: LocalAdapter) -> Target:
    return Target(
        adapter=adapter,
        region="local",
        tamper=partial(testing.tamper, adapter),
        break_resource=partial(testing.break_resource, adapter),
        failing=partial(testing.unusable_root, adapter),
    )


def build(name: str, spec: dict, platform: str = "dev", tags: dict | None = None) -> Desired:
    """A Desired for resource `name` of `platform` from a spec as YAML would give it (`from`, not `source`)."""
    return Desired.build(
        ResourceKey(platform, name), contract_model(spec["contract"]).model_validate(spec), tags or {}, "local"
    )


@pytest.fixture
def desired() -> Callable[..., Desired]:
    return build


@pytest.fixture
def small_disk(tmp_path):
    """A real tmpfs of 2 MB when this process may mount one (root on Linux, as CI runs), else None."""
    with tmpfs(tmp_path / "disk") as disk:
        yield disk
