"""A drift scan of 1,000 platforms x 5 resources does a fixed amount of work per resource: observe lists each platform's
folder of each kind once and reads one small file per resource (plus a secret's value, to compare by HMAC), never
walking a resource's contents. How long that takes is a figure `make bench` prints ("drift scan", target <= 2 s)."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter

import pytest

from adapters.base import ResourceKey, identity_tags
from adapters.local import driver as local_driver

PLATFORMS = 1000
KINDS = ("storage", "queue", "secrets", "logging", "compute")


@pytest.mark.slow
def test_observing_a_thousand_platforms_reads_one_listing_per_folder_and_one_file_per_resource(
    adapter, desired, monkeypatch
):
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
    # Objects in the bucket, which observation must not look at.
    for n in range(2):
        adapter.storage.put_object(ResourceKey(template, "assets"), f"object-{n}", b"data")
    # Cloned folders, tags rewritten to their own platform: the same bytes a real deployment leaves, made quickly.
    for kind in KINDS:
        for n in range(1, PLATFORMS):
            platform = f"p{n:04d}"
            shutil.copytree(adapter.root / kind / template, adapter.root / kind / platform)
            for meta in (adapter.root / kind / platform).glob("*/metadata.json"):
                document = json.loads(meta.read_text())
                document["tags"].update(identity_tags(ResourceKey(platform, meta.parent.name), document["contract"]))
                meta.write_text(json.dumps(document))

    calls: Counter[str] = Counter()
    listing, reading = os.scandir, local_driver.read_metadata

    def counted_listing(path):
        calls["list"] += 1
        return listing(path)

    def counted_reading(folder, contract):
        calls[f"metadata {contract}"] += 1
        return reading(folder, contract)

    monkeypatch.setattr(os, "scandir", counted_listing)
    monkeypatch.setattr(local_driver, "read_metadata", counted_reading)
    seen = sum(len(adapter.observe(f"p{n:04d}")) for n in range(PLATFORMS))

    assert seen == PLATFORMS * 5
    # One listing per platform and driver (a kind with nothing there, database, is one listing that finds nothing).
    assert calls["list"] == PLATFORMS * len(adapter.drivers), "a resource's contents were listed"
    assert {k: v for k, v in calls.items() if k != "list"} == {f"metadata {spec}/v1": PLATFORMS for spec in KINDS}, (
        "metadata was read more than once per resource"
    )
