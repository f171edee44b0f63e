"""storage/v1: a private, encrypted object store with optional versioning and object expiry."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts.storage import StorageContract


class StorageV1(StorageContract):
    """An object store. Objects are private unless `public` is set; encryption at rest is on unless turned off."""

    version: ClassVar[str] = "v1"

    contract: Literal["storage/v1"] = Field(description="Contract and version this resource is bound to.")
    versioning: bool = Field(False, description="Keep every version of every object.")
    encrypted: bool = Field(True, description="Encrypt objects at rest with a provider-managed key.")
    public: bool = Field(False, description="Allow anonymous reads of objects.")
    expire_after_days: int | None = Field(
        None, ge=1, le=36500, description="Delete objects this many days after their last write; unset keeps them."
    )
