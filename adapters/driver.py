"""The driver base most providers build on: create, update and delete written once, over one "make it so" per driver.

`create` and `update` both check what they are given, then converge the resource to what is desired (`_ensure`), so
creating a resource that exists already repairs and keeps it (see `ResourceDriver.create`); `delete` removes it, gone
already being fine. Whatever the provider's SDK or OS raises on the way leaves as an `AdapterError` naming the
provider, the operation and the resource, raised from the cause.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import ClassVar

from adapters.base import AdapterError, Desired, Observed, ResourceDriver, ResourceKey
from contracts import NAME_PATTERN

_NAME = re.compile(NAME_PATTERN)


class ConvergingDriver(ResourceDriver):
    """One contract version on one provider, converging each resource to what is desired.

    A provider's driver base sets `provider` and `failures` (its context manager turning the SDK's or the OS's
    errors into `AdapterError(provider, operation, key, reason)`, as a staticmethod); each driver implements
    `_ensure` and `_delete`.
    """

    provider: ClassVar[str]
    failures: ClassVar[Callable[[str, ResourceKey | None], AbstractContextManager[None]]]

    def create(self, desired: Desired) -> Observed:
        self.check(desired, "create")
        with self.failures("create", desired.key):
            return self._ensure(desired, current=None)

    def update(self, desired: Desired, current: Observed) -> Observed:
        self.check(desired, "update")
        with self.failures("update", desired.key):
            return self._ensure(desired, current=current)

    def delete(self, current: Observed) -> None:
        with self.failures("delete", current.key):
            self._delete(current.key)

    def check(self, desired: Desired, operation: str) -> None:
        """Refuse, before touching anything, what this driver cannot make: another contract, or a name the
        provider cannot hold (`check_name`)."""
        if desired.contract != self.contract:
            raise AdapterError(
                self.provider, operation, desired.key, f"{desired.contract} given to the {self.contract} driver"
            )
        self.check_name(desired.key, operation)

    def check_name(self, key: ResourceKey, operation: str) -> None:
        """Names reach drivers from validated YAML, but paths and cloud names are built from them: refuse anything
        outside the contracts' name pattern (`..`, `/`) rather than trust the caller. A provider with stricter rules
        extends this."""
        if not (_NAME.match(key.platform) and _NAME.match(key.name)):
            raise AdapterError(self.provider, operation, key, "platform and resource names must match " + NAME_PATTERN)

    @abstractmethod
    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        """Make the resource named for `desired.key` match `desired`, making it if it is missing and repairing it if
        it is damaged; return its fresh observation. `current` is the resource as the engine last observed it (None
        on create). Writes whatever marks the resource as complete last, so a crash half-way leaves something the
        next `_ensure` finishes."""

    @abstractmethod
    def _delete(self, key: ResourceKey) -> None:
        """Remove the resource named for `key` and everything it owns; gone already is fine. The name comes from the
        key, never from an observation's `resource_id`, so a stale or forged observation cannot point it elsewhere."""
