"""JSON Schema for every contract version and for each kind of estate file, for editors and outside tools.

The estate's YAML files name these with a yaml-language-server modeline, so editors complete and check them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts import CONTRACTS, NAME_PATTERN
from mnops_assets.estate.files import EcosystemFile, EnvironmentFile, PlatformFile, TemplateFile
from mnops_assets.governance.schema import FILE_MODELS as GOVERNANCE_MODELS

SCHEMA_DIR = "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
FILE_MODELS: dict[str, type[BaseModel]] = {
    "ecosystem": EcosystemFile,
    "template": TemplateFile,
    "environment": EnvironmentFile,
    "platform": PlatformFile,
    **GOVERNANCE_MODELS,
}


def contract_schema_name(tag: str) -> str:
    return f"contracts/{tag.replace('/', '-')}.schema.json"


def render() -> dict[str, str]:
    """Every schema file, as path (relative to the schema folder) -> JSON text."""
    out = {}
    for tag, model in CONTRACTS.items():
        out[contract_schema_name(tag)] = _dump(_titled(model.model_json_schema(by_alias=True), f"mnops contract {tag}"))
    for name, model in FILE_MODELS.items():
        schema = model.model_json_schema(by_alias=True)
        _partial_resources(schema)
        out[f"{name}.schema.json"] = _dump(_titled(schema, f"mnops {name} file"))
    return out


def write(folder: Path) -> list[Path]:
    """Write every schema under `folder`; return the files whose content changed."""
    changed = []
    for relative, text in render().items():
        path = folder / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale(folder: Path) -> list[Path]:
    """Schema files under `folder` that are missing or differ from what the code would write."""
    return [
        folder / relative
        for relative, text in render().items()
        if not (folder / relative).is_file() or (folder / relative).read_text(encoding="utf-8") != text
    ]


def _partial_resources(schema: dict[str, Any]) -> None:
    """Describe `resources` entries as any contract with every field optional: a layer may set only some."""
    defs = schema.setdefault("$defs", {})
    refs = []
    for tag, model in CONTRACTS.items():
        contract = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
        defs.update(contract.pop("$defs", {}))
        contract.pop("required", None)
        name = f"partial-{tag.replace('/', '-')}"
        defs[name] = contract
        refs.append({"$ref": f"#/$defs/{name}"})
    entry = {"anyOf": [*refs, {"type": "null"}]}
    for node in [schema, *defs.values()]:
        resources = node.get("properties", {}).get("resources")
        if resources is not None:
            node["properties"]["resources"] = {
                "description": resources.get("description", ""),
                "anyOf": [
                    {"type": "object", "additionalProperties": entry, "propertyNames": {"pattern": NAME_PATTERN}},
                    {"type": "null"},
                ],
            }


def _titled(schema: dict[str, Any], title: str) -> dict[str, Any]:
    return {"$schema": DIALECT, **schema, "title": title}


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
