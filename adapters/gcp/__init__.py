"""The `gcp` provider: Cloud Storage, Secret Manager and Cloud Logging through Google's client libraries.

This package's top level imports nothing from the Google libraries, so the registry can read what it supports without
them installed; making an adapter imports them, and fails with the install command when they are missing.
"""

PROVIDER = "gcp"
# Lazy import paths (see `adapters.base`): the adapter and its drivers, and so the SDKs, are imported only when an
# adapter is made.
ADAPTER = ("adapters.gcp.adapter", "GcpAdapter")
DRIVERS = {
    "storage/v1": ("adapters.gcp.storage", "StorageDriver"),
    "secrets/v1": ("adapters.gcp.secretstore", "SecretsDriver"),
    "logging/v1": ("adapters.gcp.logsink", "LoggingDriver"),
}
SUPPORTED_CONTRACTS = frozenset(DRIVERS)
