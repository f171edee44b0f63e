"""The models `mnops schema` describes policies.yaml and waivers.yaml with.

Rules are described as a union on `kind`, one member per registered kind, so an editor completes each kind's params;
the loader validates the same params in a second step, to report problems at `rules[N].params.<field>`.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field, create_model

from mnops_assets.governance import kinds
from mnops_assets.governance.model import PolicyFile, RuleEntry, WaiverFile


def _rule_of(kind: str, params: type[BaseModel]) -> type[BaseModel]:
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{params.__name__}Rule",
        __base__=RuleEntry,
        __doc__=f"A rule of kind {kind}: {params.__doc__ or ''}".strip(),
        kind=(Literal[kind], Field(description=RuleEntry.model_fields["kind"].description)),
        params=(params, Field(description="The kind's parameters.")),
    )


def policy_file_schema() -> type[BaseModel]:
    """The model of policies.yaml for editors, its rules a union over the kinds registered now."""
    return _policy_file_schema(tuple(kinds.KINDS.items()))


@cache
def _policy_file_schema(registered: tuple[tuple[str, str], ...]) -> type[BaseModel]:
    members = tuple(_rule_of(name, kinds.kind(name).params) for name, _ in registered)
    any_rule = Annotated[Union[members], Field(discriminator="kind")]  # noqa: UP007

    class PolicyFileSchema(PolicyFile):
        """`governance/policies.yaml`: the estate's rules."""

        rules: list[any_rule] = Field(default_factory=list)  # type: ignore[assignment, valid-type]

    return PolicyFileSchema


def file_models() -> dict[str, type[BaseModel]]:
    """Each governance file's schema model, by the name its schema file takes (`policies.schema.json`)."""
    return {"policies": policy_file_schema(), "waivers": WaiverFile}


FILE_MODELS: dict[str, type[BaseModel]] = file_models()
"""The same, as built when first imported: `file_models()` sees kinds registered since."""
