"""Relational databases: RDS instances (aws), a database and its role on a PostgreSQL server (local)."""

from __future__ import annotations

from typing import ClassVar

from contracts.base import ContractSpec


class DatabaseContract(ContractSpec):
    """Every version of `database`: a relational database reached with a generated password, which mnops keeps as a
    secret of the provider's and hands to services only through their environment (the `url` output)."""

    kind: ClassVar[str] = "database"
    outputs: ClassVar[dict[str, str]] = {
        "host": "the server's host name",
        "port": "the server's port",
        "name": "the database's name on the server",
        "user": "the role services log in as",
        "url": "a connection URL with the password: recorded as where the password is kept; `ref:` hands the value "
        "to a service's environment only",
    }
    sensitive_outputs: ClassVar[frozenset[str]] = frozenset({"url"})
