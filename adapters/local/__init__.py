"""The embedded `local` provider: real directories, a SQLite queue, an encrypted secret store, local processes.

This package's top level stays free of heavy imports so the registry can read what it supports cheaply.
"""

PROVIDER = "local"
SUPPORTED_CONTRACTS = frozenset({"storage/v1", "queue/v1", "secrets/v1", "logging/v1", "compute/v1"})


def create_adapter(**settings):  # noqa: ANN003, ANN201 - documented on LocalAdapter
    from adapters.local.adapter import LocalAdapter

    return LocalAdapter(**settings)
