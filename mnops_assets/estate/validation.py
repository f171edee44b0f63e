"""Pydantic's validation errors turned into messages a platform engineer can act on, keyed by path."""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from contracts.base import NAME_PATTERN, TAG_KEY_PATTERN
from contracts.compute.v1 import ENV_NAME_PATTERN, HEALTH_PATH_PATTERN
from mnops_assets.estate.spec import OWNER_PATTERN, PYTHON_CALLABLE_PATTERN

NAME_RULE = "must be 2-40 lower-case letters, digits or inner hyphens, starting with a letter"
# Regular expressions say nothing to most readers: each pattern the models use, in words.
PATTERN_RULES = {
    NAME_PATTERN: NAME_RULE,
    TAG_KEY_PATTERN: "must start with a lower-case letter, then up to 127 of a-z 0-9 _ . : / = + @ -",
    ENV_NAME_PATTERN: "must be letters, digits and underscores, not starting with a digit",
    HEALTH_PATH_PATTERN: "must be a path starting with '/'",
    OWNER_PATTERN: "must be a team name in lower case (team-payments), optionally with @domain",
    PYTHON_CALLABLE_PATTERN: "must name a callable as package.module:function",
}


def messages(exc: ValidationError, model: type[BaseModel], *, missing: str = "required") -> list[tuple[tuple, str]]:
    """(path, message) for every error in `exc`, `model` being the model that was validated."""
    out = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        if loc and loc[-1] == "[key]":
            out.append((loc[:-1], "invalid name: " + _message(error)))
        elif kind == "missing":
            out.append((loc, missing))
        elif kind == "extra_forbidden":
            out.append((loc, _unknown_field(model, loc)))
        else:
            out.append((loc, _message(error)))
    return out


def _message(error: dict[str, Any]) -> str:
    # Only the input's type is looked at, never its value: it may be a secret somebody pasted.
    pattern = (error.get("ctx") or {}).get("pattern")
    if pattern in PATTERN_RULES:
        return PATTERN_RULES[pattern]
    if error["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of keys"
    if error["type"] == "too_long" and isinstance(error.get("input"), dict):
        return f"more than {error['ctx']['max_length']} entries; at most {error['ctx']['max_length']} are allowed here"
    message = error["msg"].removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if error["type"] == "string_type" and isinstance(error.get("input"), bool):
        message += "; YAML reads this value as bool, quote it"
    return message


def _unknown_field(model: type[BaseModel], loc: tuple) -> str:
    parent = model_at(model, loc[:-1])
    if parent is None:
        return "unknown field"
    names = sorted(info.alias or name for name, info in parent.model_fields.items())
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(names)}"
    return f"unknown field; {hint}"


def model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class found by following `loc` from `model` through fields, dict values and list items."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                info = next((f for f in current.model_fields.values() if f.alias == part), None)
            if info is None:
                return None
            current = info.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
