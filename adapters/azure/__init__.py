"""The `azure` provider: Blob Storage, Service Bus, Key Vault, Log Analytics and Container Apps through Azure's SDKs, a
resource group per platform.

This package's top level imports nothing from the Azure SDKs, so the registry can read what it supports without them
installed; making an adapter imports them, and fails with the install command when they are missing.
"""

PROVIDER = "azure"
# Lazy import paths (see `adapters.base`): the SDKs are imported only when an adapter is made.
ADAPTER = ("adapters.azure.adapter", "AzureAdapter")
DRIVERS = {
    "storage/v1": ("adapters.azure.storage", "StorageDriver"),
    "queue/v1": ("adapters.azure.queues", "QueueDriver"),
    "secrets/v1": ("adapters.azure.secretstore", "SecretsDriver"),
    "logging/v1": ("adapters.azure.logsink", "LoggingDriver"),
    "compute/v1": ("adapters.azure.compute", "ComputeDriver"),
}
SUPPORTED_CONTRACTS = frozenset(DRIVERS)
# What Azure refuses of a contract's values, without its SDKs: `mnops validate` asks it, with file and line.
LIMITS = ("adapters.azure.limits", "refusals")
