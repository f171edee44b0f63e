"""The embedded `local` provider: real directories, a SQLite queue, an encrypted secret store, local processes.

This package's top level stays free of heavy imports so the registry can read what it supports cheaply.
"""

PROVIDER = "local"
# Lazy import paths (see `adapters.base`): the adapter and its drivers are imported only when an adapter is made.
ADAPTER = ("adapters.local.adapter", "LocalAdapter")
DRIVERS = {
    "storage/v1": ("adapters.local.storage", "StorageDriver"),
    "queue/v1": ("adapters.local.queues", "QueueDriver"),
    "secrets/v1": ("adapters.local.secretstore", "SecretsDriver"),
    "logging/v1": ("adapters.local.logsink", "LoggingDriver"),
    "compute/v1": ("adapters.local.compute", "ComputeDriver"),
    "database/v1": ("adapters.local.database", "DatabaseDriver"),
}
SUPPORTED_CONTRACTS = frozenset(DRIVERS)
