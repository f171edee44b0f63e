"""The platform the engine tests deploy: a spec built from one base with dotted-path changes."""

from __future__ import annotations

import copy
from pathlib import Path

from adapters.base import Adapter
from mnops_assets.engine.apply import Engine, Failpoints
from mnops_assets.engine.state import Actor, StateStore
from mnops_assets.estate.spec import PlatformSpec

ACTOR = Actor("tester", "host-t", 1)

MASTER_KEY = "d2hhdC1hLWxvdmVseS1kYXktdG8tdGVzdC1tbm9wcyE="  # 32 bytes, urlsafe base64: a Fernet key

BASE = {
    "name": "dev",
    "template": "web-service",
    "tier": "dev",
    "provider": "local",
    "region": "local",
    "owner": "team-storefront",
    "tags": {"service": "storefront"},
    "resources": {
        "assets": {"contract": "storage/v1", "versioning": True},
        "jobs": {"contract": "queue/v1", "retention_seconds": 86400},
        "api-key": {"contract": "secrets/v1", "from": "generate"},
        "app-logs": {"contract": "logging/v1", "retention_days": 14, "depends_on": ["assets", "jobs"]},
    },
}


def spec(changes: dict | None = None, **top) -> PlatformSpec:
    """BASE with dotted-path changes (`{"resources.jobs.retention_seconds": 60}`; None removes) and top-level ones."""
    data = copy.deepcopy(BASE) | top
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return PlatformSpec.model_validate(data)


def make_engine(store: StateStore, adapter: Adapter, hooks_cwd: Path) -> Engine:
    """An engine on `store` deploying everything through `adapter`, as the tester on host-t, with no failpoint."""
    return Engine(store, lambda provider: adapter, actor=ACTOR, failpoints=Failpoints(), hooks_cwd=hooks_cwd)
