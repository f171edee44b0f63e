"""The `gcp` provider: Cloud Storage, Pub/Sub, Secret Manager, Cloud Logging and Cloud Run through Google's client
libraries.

This package's top level imports nothing from the Google libraries, so the registry can read what it supports without
them installed; making an adapter imports them, and fails with the install command when they are missing.
"""

PROVIDER = "gcp"
# Lazy import paths (see `adapters.base`): the adapter and its drivers, and so the SDKs, are imported only when an
# adapter is made.
ADAPTER = ("adapters.gcp.adapter", "GcpAdapter")
DRIVERS = {
    "storage/v1": ("adapters.gcp.storage", "StorageDriver"),
    "queue/v1": ("adapters.gcp.queues", "QueueDriver"),
    "secrets/v1": ("adapters.gcp.secretstore", "SecretsDriver"),
    "logging/v1": ("adapters.gcp.logsink", "LoggingDriver"),
    "compute/v1": ("adapters.gcp.compute", "ComputeDriver"),
}
SUPPORTED_CONTRACTS = frozenset(DRIVERS)
# What GCP refuses of a contract's values, without its libraries: `mnops validate` asks it, with file and line.
LIMITS = ("adapters.gcp.limits", "refusals")
