"""The models `mnops schema` describes policies.yaml and waivers.yaml with.

Rules are described as a union on `kind`, so an editor completes each kind's params; the loader validates the same
params in a second step, to report problems at `rules[N].params.<field>`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field, create_model

from mnops_assets.governance.model import PARAMS, PolicyFile, RuleEntry, WaiverFile


def _rule_of(kind: str, params: type[BaseModel]) -> type[BaseModel]:
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{params.__name__}Rule",
        __base__=RuleEntry,
        __doc__=f"A rule of kind {kind}: {params.__doc__ or ''}".strip(),
        kind=(Literal[kind], Field(description=RuleEntry.model_fields["kind"].description)),
        params=(params, Field(description="The kind's parameters.")),
    )


AnyRule = Annotated[Union[tuple(_rule_of(k, p) for k, p in PARAMS.items())], Field(discriminator="kind")]  # noqa: UP007


class PolicyFileSchema(PolicyFile):
    """`governance/policies.yaml`: the estate's rules."""

    rules: list[AnyRule] = Field(default_factory=list)  # type: ignore[assignment, valid-type]


FILE_MODELS: dict[str, type[BaseModel]] = {"policies": PolicyFileSchema, "waivers": WaiverFile}
