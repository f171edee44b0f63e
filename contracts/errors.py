"""The project's one root error and the errors raised while naming contracts.

Every package of the project raises subclasses of `MnopsError`; `contracts` is the bottom layer, so the root lives
here where everything else may import it.
"""

from __future__ import annotations


class MnopsError(Exception):
    """Root of every error machine-native-ops raises on purpose."""


class UnknownContract(MnopsError):
    """A contract kind that no module defines (`blob/v1`)."""

    def __init__(self, tag: str, known_kinds: list[str]) -> None:
        self.tag = tag
        self.known_kinds = known_kinds
        super().__init__(f"unknown contract {tag!r} (known: {', '.join(known_kinds)})")


class UnknownContractVersion(MnopsError):
    """A known contract kind asked for at a version that does not exist (`storage/v9`)."""

    def __init__(self, tag: str, known_versions: list[str]) -> None:
        self.tag = tag
        self.known_versions = known_versions
        super().__init__(f"unknown contract version {tag!r} (known: {', '.join(known_versions)})")
