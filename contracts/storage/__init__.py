"""Object storage: a bucket (S3), a container (Azure Blob), a bucket (GCS), a directory (local)."""
