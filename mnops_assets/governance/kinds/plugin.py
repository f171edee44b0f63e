"""Rule kind `plugin`: a check the other kinds cannot state, named from the `mnops.policies` entry-point group.

Its rules carry the plugin they name (loaded, with the plugin's own params, by the loader), so the kind has no check.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mnops_assets.governance.kinds.base import RuleKind


class PluginParams(BaseModel):
    """`plugin` names an entry point of the `mnops.policies` group; the other keys are the plugin's own."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    plugin: Annotated[str, StringConstraints(min_length=1)] = Field(description="Entry-point name of the plugin.")


KIND = RuleKind(PluginParams, None)
