"""The fault suite's tally: each family counts the faults it injected and, once the test's recovery assertions held,
those it recovered from; the session ends with one line saying so."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

FAMILIES = ("disk-full", "postgres", "aws-proxy")


@dataclass
class Tally:
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAMILIES, 0))
    recovered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAMILIES, 0))

    def line(self) -> str:
        each = ", ".join(f"{name} {self.recovered[name]}/{self.injected[name]}" for name in FAMILIES)
        return f"faults: {sum(self.injected.values())} injected, {sum(self.recovered.values())} recovered ({each})"


@dataclass
class Episode:
    """The faults one test injects; counted as recovered only if the test's block ends without an exception."""

    injected: int = 0


TALLY = pytest.StashKey[Tally]()


class Faults:
    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    @contextmanager
    def family(self, name: str) -> Iterator[Episode]:
        """Inside: inject faults and add them to the episode; then assert recovery. Faults count as injected whatever
        happens, and as recovered only when every assertion inside held."""
        assert name in FAMILIES, name
        episode = Episode()
        try:
            yield episode
        finally:
            self.tally.injected[name] += episode.injected
        self.tally.recovered[name] += episode.injected


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TALLY] = Tally()


@pytest.fixture
def faults(request: pytest.FixtureRequest) -> Faults:
    return Faults(request.config.stash[TALLY])


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    tally = config.stash.get(TALLY, None)
    if tally is not None:
        terminalreporter.write_line(tally.line())
