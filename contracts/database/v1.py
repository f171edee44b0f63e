"""database/v1: a PostgreSQL database with its own login role, storage, backups and an availability choice."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts.database import DatabaseContract

POSTGRES_VERSIONS = ("13", "14", "15", "16", "17")


class DatabaseV1(DatabaseContract):
    """A relational database. Private and encrypted unless said otherwise; backed up daily unless `backups` is off."""

    version: ClassVar[str] = "v1"

    contract: Literal["database/v1"] = Field(description="Contract and version this resource is bound to.")
    engine: Literal["postgres"] = Field("postgres", description="The database engine; PostgreSQL today.")
    engine_version: Literal["13", "14", "15", "16", "17"] = Field(
        "16", description="The engine's major version (quoted: YAML would read 16 as a number)."
    )
    storage_gb: int = Field(20, ge=1, le=65536, description="Storage allocated, in GiB.")
    backups: bool = Field(True, description="Take a backup every day.")
    backup_retention_days: int = Field(7, ge=1, le=35, description="How long backups are kept, in days.")
    high_availability: bool = Field(False, description="Keep a standby in another zone, failed over to automatically.")
    public: bool = Field(False, description="Reachable from outside the provider's private network.")
    encrypted: bool = Field(True, description="Encrypt storage and backups at rest.")
