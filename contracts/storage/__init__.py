"""Object storage: a bucket (S3), a container (Azure Blob), a bucket (GCS), a directory (local)."""

from __future__ import annotations

from typing import ClassVar

from contracts.base import ContractSpec


class StorageContract(ContractSpec):
    """Every version of `storage`: object storage (a bucket and its objects). It reads no secret and runs nothing."""

    kind: ClassVar[str] = "storage"
    outputs: ClassVar[dict[str, str]] = {
        "name": "the bucket's (container's, folder's) name at the provider",
        "url": "where its objects are addressed (s3://..., file://...)",
    }
