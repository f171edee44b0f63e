"""The shipped estate, and how loading behaves on whole estates, single instances and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import registry
from contracts import CONTRACTS, KINDS
from mnops_assets.errors import EstateInvalid, UsageError
from mnops_assets.estate import find_estate, load_estate


def test_shipped_estate_is_what_the_seed_promises(shipped):
    estate = load_estate(shipped)
    platforms = estate.platforms
    assert len(platforms) >= 20
    assert {"dev", "staging", "prod"} <= set(platforms)
    assert len([name for name in platforms if name.startswith("customer-")]) >= 2
    assert len(estate.templates) >= 3
    assert max(len(t.chain) for t in estate.templates.values()) >= 3  # two levels of inheritance at least
    used = {r.kind for p in platforms.values() for r in p.spec.resources.values()}
    assert used == set(KINDS)
    assert {p.spec.provider for p in platforms.values()} == {"local"}
    assert {p.spec.tier for p in platforms.values()} >= {"dev", "staging", "prod"}


def test_every_resolved_leaf_has_a_file_and_line(shipped):
    estate = load_estate(shipped)
    for platform in estate.platforms.values():
        for path in platform.provenance:
            origin = platform.origin(path)
            assert Path(origin.file).is_file() and origin.line >= 1


def test_single_instance_loads_only_its_chain(shipped):
    estate = load_estate(shipped, ["analytics-dev"])
    assert list(estate.platforms) == ["analytics-dev"]
    assert set(estate.templates) == {"base", "data-pipeline"}


def test_config_hash_ignores_layout_but_not_values(estate_copy):
    before = load_estate(estate_copy, ["dev"]).platform("dev").config_hash
    platform = estate_copy / "platform-cloud" / "dev" / "platform.yaml"
    text = platform.read_text()
    platform.write_text(
        "# a comment moves every line\n\n" + text.replace("retention_seconds: 86400", "retention_seconds:   86400")
    )
    assert load_estate(estate_copy, ["dev"]).platform("dev").config_hash == before
    platform.write_text(text.replace("retention_seconds: 86400", "retention_seconds: 86401"))
    assert load_estate(estate_copy, ["dev"]).platform("dev").config_hash != before


def test_problems_in_several_files_are_reported_together(estate_copy):
    (estate_copy / "platform-cloud" / "dev" / "platform.yaml").write_text("template: web-service\nowner: Bad Owner\n")
    (estate_copy / "platform-cloud" / "prod" / "environment.yaml").write_text("tier: production\n")
    with pytest.raises(EstateInvalid) as info:
        load_estate(estate_copy)
    found = {(Path(p.file).parent.name, p.line, p.field) for p in info.value.problems}
    assert found == {("dev", 2, "owner"), ("prod", 1, "tier")}


def test_a_broken_template_is_reported_once_not_per_instance(estate_copy):
    path = estate_copy / "platform-templates" / "base.yaml"
    path.write_text(path.read_text().replace("retention_days: 365", "retention_days: 0"))
    with pytest.raises(EstateInvalid) as info:
        load_estate(estate_copy)
    assert [f"{Path(p.file).name}:{p.line}: {p.field}" for p in info.value.problems] == [
        "base.yaml:6: resources.audit-logs.retention_days"
    ]


def test_instance_folder_without_platform_yaml(estate_copy):
    (estate_copy / "platform-cloud" / "dev" / "platform.yaml").unlink()
    with pytest.raises(EstateInvalid) as info:
        load_estate(estate_copy)
    [problem] = info.value.problems
    assert problem.file.endswith("platform-cloud/dev/platform.yaml")
    assert problem.message == "missing: every instance folder needs a platform.yaml"


@pytest.fixture
def onprem_provider(tmp_path, monkeypatch):
    """A second provider supporting every contract, registered as an outside package would be."""
    package = tmp_path / "site" / "onprem_adapter"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f'PROVIDER = "onprem"\nSUPPORTED_CONTRACTS = frozenset({sorted(CONTRACTS)})\n')
    monkeypatch.syspath_prepend(str(package.parent))
    registry.register("onprem", "onprem_adapter")
    yield
    registry.unregister("onprem")


def enable_onprem(estate: Path) -> None:
    eco = estate / "ecosystem.yaml"
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n", "    default_region: local\n  onprem:\n    default_region: dc-1\n"
        )
    )


def test_a_provider_switch_is_one_line_taking_its_default_region(estate_copy, onprem_provider):
    enable_onprem(estate_copy)
    env = estate_copy / "platform-cloud" / "dev" / "environment.yaml"
    env.write_text(env.read_text() + "provider: onprem\n")
    dev = load_estate(estate_copy, ["dev"]).platform("dev")
    assert (dev.spec.provider, dev.spec.region) == ("onprem", "dc-1")
    assert dev.origin(("region",)).line == 10 and dev.origin(("region",)).file.endswith("ecosystem.yaml")


def test_an_unregistered_provider_is_refused_where_it_is_named(estate_copy):
    enable_onprem(estate_copy)
    env = estate_copy / "platform-cloud" / "dev" / "environment.yaml"
    env.write_text(env.read_text() + "provider: onprem\n")
    with pytest.raises(EstateInvalid) as info:
        load_estate(estate_copy, ["dev"])
    assert [(Path(p.file).name, p.line, p.field, p.message) for p in info.value.problems] == [
        ("ecosystem.yaml", 9, "providers.onprem", "unknown provider 'onprem' (known: aws, azure, gcp, local)"),
        (
            "environment.yaml",
            len(env.read_text().splitlines()),
            "provider",
            "unknown provider 'onprem' (known: aws, azure, gcp, local)",
        ),
    ]


def test_find_estate_accepts_a_root_or_an_instance_folder(shipped):
    assert find_estate(shipped) == (shipped.resolve(), None)
    assert find_estate(shipped / "platform-cloud" / "dev") == (shipped.resolve(), "dev")
    with pytest.raises(UsageError, match="neither an estate"):
        find_estate(shipped / "platform-templates")
    with pytest.raises(UsageError, match="no such instance folder"):
        find_estate(shipped / "platform-cloud" / "nowhere")


def test_unknown_instance_is_a_usage_error(shipped):
    with pytest.raises(UsageError, match="no instance folder nowhere"):
        load_estate(shipped, ["nowhere"])


def test_hooks_are_declared_in_yaml_and_merged_by_name(estate_copy):
    eco = estate_copy / "ecosystem.yaml"
    eco.write_text(
        eco.read_text().replace(
            "  protect: false\n",
            "  protect: false\n  hooks:\n    notify:\n      events: [post-apply, on-rollback]\n"
            "      python: hooks.notify:send\n    change-window:\n      events: [pre-apply]\n"
            "      command: [python, hooks/change_window.py]\n      timeout_seconds: 30\n",
        )
    )
    dev = estate_copy / "platform-cloud" / "dev" / "platform.yaml"
    dev.write_text(dev.read_text() + "hooks:\n  change-window: null\n")
    estate = load_estate(estate_copy)
    assert set(estate.platform("dev").spec.hooks) == {"notify"}
    prod = estate.platform("prod").spec.hooks
    assert prod["change-window"].events == ["pre-apply"] and prod["change-window"].timeout_seconds == 30
    assert prod["notify"].python == "hooks.notify:send"


def test_every_layer_may_set_exactly_what_the_resolved_spec_holds():
    from mnops_assets.estate.files import LAYER_FIELDS
    from mnops_assets.estate.spec import PlatformSpec

    # name comes from the folder and template from platform.yaml alone; everything else any layer may set.
    assert set(LAYER_FIELDS) == set(PlatformSpec.model_fields) - {"name", "template"}
