"""Layered resolution: one test per adjacent pair of layers, list and null semantics, and a merge property test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mnops_assets.estate import load_estate
from mnops_assets.estate.layers import Layer, explain, merge
from mnops_assets.estate.yamldoc import parse_yaml

ECOSYSTEM = """\
name: layered
providers:
  local:
    default_region: local-1
defaults:
  provider: local
  owner: platform-team
  tags:
    level: ecosystem
    organisation: acme
"""
BASE = """\
resources:
  logs:
    contract: logging/v1
    retention_days: 10
tags:
  level: base
"""
CHILD = """\
extends: base
resources:
  logs:
    retention_days: 20
tags:
  level: child
"""
ENVIRONMENT = """\
tier: dev
resources:
  logs:
    retention_days: 30
tags:
  level: environment
"""
PLATFORM = """\
template: child
resources:
  logs:
    retention_days: 40
tags:
  level: platform
"""


def write_estate(root: Path, **overrides: str) -> Path:
    files = {
        "ecosystem.yaml": ECOSYSTEM,
        "platform-templates/base.yaml": BASE,
        "platform-templates/child.yaml": CHILD,
        "platform-cloud/dev/environment.yaml": ENVIRONMENT,
        "platform-cloud/dev/platform.yaml": PLATFORM,
    }
    for key, text in overrides.items():
        files[key.replace("__", "/").replace("_yaml", ".yaml")] = text
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def drop(text: str, *keys: str) -> str:
    """`text` without the top-level blocks named by `keys`."""
    data = yaml.safe_load(text)
    for key in keys:
        data.pop(key, None)
    return yaml.safe_dump(data, sort_keys=False)


def resolve(root: Path):
    return load_estate(root).platforms["dev"]


def where(platform, *path):
    origin = platform.origin(path)
    return f"{Path(origin.file).relative_to(platform.folder.parents[1]).as_posix()}:{origin.line}"


def test_instance_over_environment(tmp_path):
    dev = resolve(write_estate(tmp_path))
    assert dev.spec.resources["logs"].retention_days == 40
    assert dev.spec.tags["level"] == "platform"
    assert where(dev, "resources", "logs", "retention_days") == "platform-cloud/dev/platform.yaml:4"


def test_environment_over_template(tmp_path):
    dev = resolve(write_estate(tmp_path, **{"platform-cloud__dev__platform_yaml": "template: child\n"}))
    assert dev.spec.resources["logs"].retention_days == 30
    assert dev.spec.tags["level"] == "environment"
    assert where(dev, "tags", "level") == "platform-cloud/dev/environment.yaml:6"


def test_child_template_over_parent_template(tmp_path):
    root = write_estate(
        tmp_path,
        **{
            "platform-cloud__dev__platform_yaml": "template: child\n",
            "platform-cloud__dev__environment_yaml": "tier: dev\n",
        },
    )
    dev = resolve(root)
    assert dev.spec.resources["logs"].retention_days == 20
    assert where(dev, "resources", "logs", "retention_days") == "platform-templates/child.yaml:4"
    assert dev.template_chain == ("base", "child")


def test_template_over_ecosystem_defaults(tmp_path):
    root = write_estate(
        tmp_path,
        **{
            "platform-cloud__dev__platform_yaml": "template: child\n",
            "platform-cloud__dev__environment_yaml": "tier: dev\n",
            "platform-templates__child_yaml": "extends: base\n",
        },
    )
    dev = resolve(root)
    assert dev.spec.tags == {"level": "base", "organisation": "acme"}
    assert where(dev, "tags", "level") == "platform-templates/base.yaml:6"
    assert where(dev, "tags", "organisation") == "ecosystem.yaml:10"


def test_ecosystem_defaults_over_provider_default_region(tmp_path):
    dev = resolve(write_estate(tmp_path))
    assert dev.spec.region == "local-1"
    assert where(dev, "region") == "ecosystem.yaml:4"
    root = write_estate(tmp_path / "b", ecosystem_yaml=ECOSYSTEM + "  region: local-2\n")
    dev = resolve(root)
    assert dev.spec.region == "local-2"
    assert where(dev, "region") == "ecosystem.yaml:11"


def test_lists_are_replaced_whole_never_concatenated(tmp_path):
    base = BASE + "drift:\n  ignore: [logs.retention_days, logs.min_level]\n"
    platform = PLATFORM + "drift:\n  ignore: [logs.tags]\n"
    dev = resolve(
        write_estate(tmp_path, platform_templates__base_yaml=base, **{"platform-cloud__dev__platform_yaml": platform})
    )
    assert dev.spec.drift.ignore == ["logs.tags"]
    assert where(dev, "drift", "ignore", 0) == "platform-cloud/dev/platform.yaml:8"


def test_null_removes_what_lower_layers_set(tmp_path):
    platform = PLATFORM + "  organisation: null\n"
    dev = resolve(write_estate(tmp_path, **{"platform-cloud__dev__platform_yaml": platform}))
    assert "organisation" not in dev.spec.tags
    # Nothing is left at the key, so its origin is its parent's: where `tags` was first declared.
    assert where(dev, "tags", "organisation") == "ecosystem.yaml:8"


def test_a_resource_can_be_removed_by_an_instance(tmp_path):
    platform = "template: child\nresources:\n  logs: null\n"
    dev = resolve(write_estate(tmp_path, **{"platform-cloud__dev__platform_yaml": platform}))
    assert dev.spec.resources == {}


def test_explain_lists_every_layer_winner_first(tmp_path):
    dev = resolve(write_estate(tmp_path))
    settings_ = explain(list(dev.layers), ("resources", "logs", "retention_days"))
    assert [(s.layer.name, s.value) for s in settings_] == [
        ("platform", 40),
        ("environment", 30),
        ("template child", 20),
        ("template base", 10),
    ]


def test_explain_shows_removals(tmp_path):
    platform = PLATFORM + "  organisation: null\n"
    dev = resolve(write_estate(tmp_path, **{"platform-cloud__dev__platform_yaml": platform}))
    settings_ = explain(list(dev.layers), ("tags", "organisation"))
    assert [(s.layer.name, s.removed) for s in settings_] == [("platform", True), ("ecosystem defaults", False)]


# -- property: the merge is a deep merge, and provenance points at the layer that set each value -------------------

keys = st.sampled_from(["a", "b", "c", "d"])
scalars = st.one_of(st.integers(-5, 5), st.text("xyz", min_size=1, max_size=3), st.booleans())
values = st.recursive(
    st.one_of(scalars, st.lists(scalars, max_size=3)),
    lambda children: st.dictionaries(keys, st.one_of(children, st.none()), max_size=3),
    max_leaves=12,
)
layer_data = st.dictionaries(keys, st.one_of(values, st.none()), max_size=4)


def reference_merge(dst: dict, src: dict) -> dict:
    for key, value in src.items():
        if value is None:
            dst.pop(key, None)
        elif isinstance(value, dict):
            if not isinstance(dst.get(key), dict):
                dst[key] = {}
            reference_merge(dst[key], value)
        else:
            dst[key] = value
    return dst


def leaves(data, path=()):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from leaves(value, (*path, key))
        else:
            yield (*path, key), value


def get(data, path):
    for part in path:
        data = data[part]
    return data


@settings(max_examples=300, deadline=None)
@given(st.lists(layer_data, min_size=1, max_size=5))
def test_merge_is_a_deep_merge_with_exact_provenance(datas):
    layers = []
    for index, data in enumerate(datas):
        doc, problems = parse_yaml(yaml.safe_dump(data), f"layer{index}.yaml")
        assert problems == []
        layers.append(Layer(f"layer {index}", doc))
    merged, provenance = merge(layers)

    expected: dict = {}
    for data in datas:
        reference_merge(expected, data)
    assert merged == expected

    top = layers[-1]
    for path, value in leaves(merged):
        origin = provenance[path]
        # The origin's layer really holds this value at this path, on the line it names ...
        assert get(origin.layer.data, path) == value
        assert (origin.line, origin.column) == origin.layer.doc.value_position(path) or isinstance(value, list)
        # ... and no layer above it sets the path: the highest layer's own keys always win.
        above = layers[layers.index(origin.layer) + 1 :]
        for layer in above:
            try:
                get(layer.data, path)
            except (KeyError, TypeError):
                continue
            raise AssertionError(f"{layer.name} sets {path} but provenance names {origin.layer.name}")
    for path, value in leaves({k: v for k, v in top.data.items() if v is not None}):
        if value is not None and all(get(top.data, path[:i]) is not None for i in range(1, len(path))):
            assert provenance[path].layer is top
