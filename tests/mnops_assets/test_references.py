"""References across platforms at load time (cycles need two files, beyond one bad-input case), their lineage edge in
the Dagster graph, and the order `deploy --all` takes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import AssetKey

from mnops_assets.errors import EstateInvalid
from mnops_assets.estate import load_estate
from mnops_assets.graph.definitions import build_definitions

BASE = Path(__file__).parents[1] / "data" / "estate"

SERVICE_READING = """\
template: service
resources:
  api:
    env:
      {name}: {reference}
"""


def estate_with(tmp_path: Path, **platforms: str) -> Path:
    root = tmp_path / "estate"
    shutil.copytree(BASE, root)
    for name, text in platforms.items():
        folder = root / "platform-cloud" / name
        folder.mkdir(exist_ok=True)
        (folder / "platform.yaml").write_text(text)
    return root


def test_platforms_reading_each_other_in_a_cycle_are_refused_at_the_reference(tmp_path):
    root = estate_with(
        tmp_path,
        dev=SERVICE_READING.format(name="PROD_QUEUE", reference="ref:prod/jobs.url"),
        prod=SERVICE_READING.format(name="DEV_QUEUE", reference="ref:dev/jobs.url"),
    )
    with pytest.raises(EstateInvalid) as raised:
        load_estate(root)
    [problem] = raised.value.problems
    assert str(problem).endswith(
        "platform-cloud/dev/platform.yaml:5:19: resources.api.env.PROD_QUEUE: platforms read each other's outputs "
        "in a cycle: dev -> prod -> dev; none could deploy first"
    )


def test_a_sensitive_output_is_not_read_across_providers(tmp_path):
    root = estate_with(
        tmp_path,
        prod="template: base\nresources:\n  orders-db: {contract: database/v1, engine_version: '16'}\n",
        dev="provider: aws\nregion: eu-west-1\n"
        + SERVICE_READING.format(name="DATABASE_URL", reference="ref:prod/orders-db.url"),
    )
    ecosystem = root / "ecosystem.yaml"
    ecosystem.write_text(
        ecosystem.read_text().replace("providers:\n", "providers:\n  aws: {default_region: eu-west-1}\n")
    )
    with pytest.raises(EstateInvalid) as raised:
        load_estate(root)
    messages = [str(p) for p in raised.value.problems]
    assert any(
        "resources.api.env.DATABASE_URL: ref:prod/orders-db.url: a sensitive output is opened by its own provider, "
        "and prod runs on local, this platform on aws" in m
        for m in messages
    ), messages


def test_a_cross_platform_reference_is_a_lineage_edge_and_orders_deploys(tmp_path):
    root = estate_with(
        tmp_path,
        dev=SERVICE_READING.format(name="AUDIT_LOG", reference="ref:prod/audit-logs.name"),
    )
    estate = load_estate(root)
    assert estate.platform("dev").spec.producers() == ["prod"]
    assert [p.name for p in estate.deploy_order()] == ["prod", "dev"]
    graph = build_definitions(root).resolve_asset_graph()
    assert AssetKey(["platform", "prod"]) in graph.get(AssetKey(["config", "dev"])).parent_keys
    assert AssetKey(["platform", "dev"]) not in graph.get(AssetKey(["config", "prod"])).parent_keys
