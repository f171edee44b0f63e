"""A drift scan of 1,000 platforms x 5 resources stays within its 2 s budget: observe reads one small file per resource
(plus one decryption per secret), never walks a resource's contents."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from adapters.base import ResourceKey, identity_tags

PLATFORMS = 1000
BUDGET_SECONDS = 2.0


@pytest.mark.slow
def test_observing_a_thousand_platforms_takes_under_two_seconds(adapter, desired):
    template = "p0000"
    for name, spec in {
        "assets": {"contract": "storage/v1", "versioning": True},
        "jobs": {"contract": "queue/v1"},
        "api-key": {"contract": "secrets/v1", "from": "generate"},
        "app-logs": {"contract": "logging/v1"},
    }.items():
        adapter.driver(spec["contract"]).create(desired(name, spec, platform=template, tags={"team": "x"}))
    # A compute resource as create records it, without starting a thousand supervisors: observe reads metadata only.
    api = desired("api", {"contract": "compute/v1", "command": ["srv", "{port}"]}, platform=template)
    folder = adapter.compute.folder(api.key)
    folder.mkdir(parents=True)
    metadata = {"contract": "compute/v1", "region": "local", "tags": dict(api.tags), "state": {"ports": [1]}}
    (folder / "metadata.json").write_text(json.dumps({**metadata, "fields": adapter.compute.desired_fields(api)}))
    # Cloned folders, tags rewritten to their own platform: the same bytes a real deployment leaves, made quickly.
    for kind in ("storage", "queue", "secrets", "logging", "compute"):
        for n in range(1, PLATFORMS):
            platform = f"p{n:04d}"
            shutil.copytree(adapter.root / kind / template, adapter.root / kind / platform)
            for meta in (adapter.root / kind / platform).glob("*/metadata.json"):
                document = json.loads(meta.read_text())
                document["tags"].update(identity_tags(ResourceKey(platform, meta.parent.name), document["contract"]))
                meta.write_text(json.dumps(document))

    started = time.perf_counter()
    seen = sum(len(adapter.observe(f"p{n:04d}")) for n in range(PLATFORMS))
    elapsed = time.perf_counter() - started

    assert seen == PLATFORMS * 5
    assert elapsed <= BUDGET_SECONDS, f"observing {seen} resources took {elapsed:.2f}s"
