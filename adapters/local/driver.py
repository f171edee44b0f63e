"""What the five local drivers share: finding resources by folder, reading and writing their metadata, and the order of
steps in making (`_ensure`) and removing a resource that keeps a crash from leaving a half-made resource behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from adapters.base import (
    AdapterError,
    Desired,
    HealthReport,
    Observed,
    ResourceDriver,
    ResourceKey,
    identity_tags,
)
from adapters.driver import ConvergingDriver
from adapters.local import PROVIDER
from adapters.local.files import (
    METADATA,
    Home,
    failures,
    is_resource_name,
    metadata_document,
    read_metadata,
    remove_folder,
    sweep_leftovers,
    write_json,
)


class LocalDriver(ConvergingDriver):
    """One contract version stored under `<root>/<kind>/`.

    Metadata is written last on create, so a folder without readable metadata is a resource whose creation did not
    finish (or whose metadata was damaged). Observe still reports it, with empty `fields` and the identity its path
    gives it, so the planner sees it as different from anything desired and repairs (update) or removes (delete) it.
    """

    provider: ClassVar[str] = PROVIDER
    failures = staticmethod(failures)
    kind: ClassVar[str]

    def __init__(self, home: Home) -> None:
        self.home = home

    # -- the protocol ------------------------------------------------------------------------------------------------

    def observe(self, platform: str) -> list[Observed]:
        if not is_resource_name(platform):
            return []
        platform_folder = self.home.root / self.kind / platform
        with failures("observe", None):
            try:
                entries = list(os.scandir(platform_folder))
            except FileNotFoundError:
                return []
            found = []
            for entry in entries:
                if is_resource_name(entry.name) and entry.is_dir(follow_symlinks=False):
                    found.append(self._observe_folder(ResourceKey(platform, entry.name), Path(entry.path)))
            return found

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        folder = self.folder(desired.key)
        if current is not None and not folder.is_dir():
            raise AdapterError(PROVIDER, "update", desired.key, f"it does not exist at {folder}")
        sweep_leftovers(folder.parent)
        folder.mkdir(parents=True, exist_ok=True)
        # What is there already is converged from (a create of what exists keeps its data); a folder without readable
        # metadata, new or damaged, is provisioned as if anew.
        previous = read_metadata(folder, self.contract)
        state = self._provision(folder, desired, previous=previous)
        # Last: until the metadata is written, the folder reads as a resource whose creation did not finish.
        self._write_metadata(folder, desired, state)
        return self._observe_folder(desired.key, folder)

    def _delete(self, key: ResourceKey) -> None:
        folder = self.folder(key)
        if folder.exists():
            self._release(folder)
            remove_folder(folder)

    def find(self, key: ResourceKey) -> Observed | None:
        # A resource's folder is its name: finding by name is looking at one folder instead of listing the platform's.
        folder = self.folder(key)
        with failures("find", key):
            return self._observe_folder(key, folder) if folder.is_dir() else None

    def tag_identity(self, current: Observed) -> Observed:
        folder = self.folder(current.key)
        with failures("tag", current.key):
            metadata = read_metadata(folder, self.contract)
            if metadata is None:
                # Observation gives such a folder its identity from its path already: there is nothing to tag.
                raise AdapterError(PROVIDER, "tag", current.key, f"no readable metadata at {folder / METADATA}")
            metadata["tags"] = {**metadata["tags"], **identity_tags(current.key, self.contract)}
            write_json(folder / METADATA, metadata)
            return self._observe_folder(current.key, folder)

    def outputs(self, current: Observed) -> dict[str, str]:
        folder = self.folder(current.key)
        metadata = read_metadata(folder, self.contract)
        return self._outputs(current, folder, metadata["state"] if metadata is not None else {})

    def health(self, current: Observed) -> HealthReport:
        folder = self.folder(current.key)
        metadata = read_metadata(folder, self.contract)
        if metadata is None:
            return HealthReport(False, f"no readable metadata at {folder / METADATA}")
        try:
            with failures("health", current.key):
                return self._health(folder, metadata)
        except AdapterError as exc:
            return HealthReport(False, exc.reason)

    # -- for subclasses ----------------------------------------------------------------------------------------------

    def folder(self, key: ResourceKey) -> Path:
        return self.home.folder(self.kind, key)

    def _provision(self, folder: Path, desired: Desired, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Make the folder's contents match `desired`; return the driver's private state to keep in the metadata."""
        return {}

    def _outputs(self, current: Observed, folder: Path, state: dict[str, Any]) -> dict[str, str]:
        """The kind's outputs (`ContractSpec.outputs`) for `current`, in `folder`, `state` its private state."""
        return {}

    def _release(self, folder: Path) -> None:
        """Stop whatever the resource runs before its folder is removed."""

    def _health(self, folder: Path, metadata: dict[str, Any]) -> HealthReport:
        return HealthReport(True)

    def _problem(self, folder: Path, metadata: dict[str, Any]) -> str | None:
        """What is wrong with a resource whose metadata reads fine (a service whose processes died), if anything."""
        return None

    def _observed_fields(self, folder: Path, metadata: dict[str, Any]) -> dict[str, Any]:
        return dict(metadata["fields"])

    def _stored_fields(self, desired: Desired) -> dict[str, Any]:
        """The contract fields recorded in the metadata (what observe reports back)."""
        return ResourceDriver.desired_fields(self, desired)

    def settings(self, key: ResourceKey, operation: str) -> tuple[Path, dict[str, Any]]:
        """The folder and metadata of an existing resource, for the data-plane calls."""
        folder = self.folder(key)
        metadata = read_metadata(folder, self.contract)
        if metadata is None:
            raise AdapterError(PROVIDER, operation, key, f"no {self.contract} resource at {folder}")
        return folder, metadata

    # -- internals ---------------------------------------------------------------------------------------------------

    def _observe_folder(self, key: ResourceKey, folder: Path) -> Observed:
        metadata = read_metadata(folder, self.contract)
        if metadata is None:
            # Identifiable by its path alone: the engine can still delete or repair it.
            problem = f"no readable metadata at {folder / METADATA}"
            return Observed(key, self.contract, str(folder), {}, identity_tags(key, self.contract), problem)
        fields = self._observed_fields(folder, metadata)
        return Observed(
            key, self.contract, str(folder), fields, dict(metadata["tags"]), self._problem(folder, metadata)
        )

    def _write_metadata(self, folder: Path, desired: Desired, state: dict[str, Any]) -> None:
        document = metadata_document(
            self.contract, desired.region, desired.tags, self._stored_fields(desired), state, self.home.clock()
        )
        write_json(folder / METADATA, document)
