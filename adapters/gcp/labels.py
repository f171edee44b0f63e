"""Tags as GCP labels: keys and values of lower-case letters, digits, `_` and `-` only (keys start with a letter, both
at most 63 characters), so the one identity value that breaks the rule, a contract version (`storage/v1`), is written
`storage_v1` and read back as it was; any other tag GCP cannot hold is refused, naming it, never changed quietly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.base import TAG_CONTRACT

LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
MAX_LABELS = 64
# A contract version is `<kind>/v<n>`, kinds being plain words: `_` never occurs in one, so the encoding reverses.
_CONTRACT = re.compile(r"^([a-z]+)/(v[0-9]+)$")
_ENCODED_CONTRACT = re.compile(r"^([a-z]+)_(v[0-9]+)$")


class LabelRefused(ValueError):
    """A tag GCP cannot hold as a label; the message names the tag and the rule, never more than the tag's key."""


def problems(tags: Mapping[str, str]) -> list[str]:
    """Why each tag of `tags` cannot be a GCP label (after the contract's encoding), one line per tag; empty if all
    can."""
    found: list[str] = []
    for key, value in sorted(tags.items()):
        if not LABEL_KEY.match(key):
            found.append(
                f"tag {key!r}: GCP label keys are 1-63 lower-case letters, digits, '_' or '-', starting with a letter"
            )
        elif not LABEL_VALUE.match(encode_value(key, value)):
            found.append(f"tag {key!r}: GCP label values are at most 63 lower-case letters, digits, '_' or '-'")
    if len(tags) > MAX_LABELS:
        found.append(f"{len(tags)} tags: a GCP resource holds at most {MAX_LABELS} labels")
    return found


def encode_value(key: str, value: str) -> str:
    if key == TAG_CONTRACT:
        match = _CONTRACT.match(value)
        if match:
            return f"{match.group(1)}_{match.group(2)}"
    return value


def decode_value(key: str, value: str) -> str:
    if key == TAG_CONTRACT:
        match = _ENCODED_CONTRACT.match(value)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    return value


def to_labels(tags: Mapping[str, str]) -> dict[str, str]:
    """The labels that hold `tags`; raises `LabelRefused` listing every tag GCP cannot hold."""
    refused = problems(tags)
    if refused:
        raise LabelRefused("; ".join(refused))
    return {key: encode_value(key, value) for key, value in tags.items()}


def from_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    return {key: decode_value(key, value) for key, value in (labels or {}).items()}
