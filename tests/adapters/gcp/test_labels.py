"""Identity tags as GCP labels: every one holds to GCP's label rules, reads back as written, and tags GCP cannot hold
are refused by name."""

from __future__ import annotations

import pytest

from adapters.base import ResourceKey, identity_tags
from adapters.gcp import labels
from tests.adapters.conformance import CONTRACTS

LONGEST = "a" + "b" * 38 + "c"


@pytest.mark.parametrize("contract", CONTRACTS)
def test_every_identity_label_holds_to_gcps_label_rules(contract: str) -> None:
    for key in (ResourceKey("dev", "assets"), ResourceKey(LONGEST, LONGEST), ResourceKey("a1", "b-2")):
        encoded = labels.to_labels(identity_tags(key, contract))
        for name, value in encoded.items():
            assert labels.LABEL_KEY.match(name), name
            assert labels.LABEL_VALUE.match(value), (name, value)


@pytest.mark.parametrize("contract", CONTRACTS)
def test_identity_labels_read_back_as_the_tags_they_hold(contract: str) -> None:
    tags = identity_tags(ResourceKey("dev", "assets"), contract)
    assert labels.from_labels(labels.to_labels(tags)) == tags


def test_a_contract_version_is_written_with_an_underscore() -> None:
    assert labels.to_labels({"mnops-contract": "storage/v1"}) == {"mnops-contract": "storage_v1"}
    # Only the contract label is decoded: an ordinary value with an underscore stays as it is.
    assert labels.from_labels({"team": "storage_v1"}) == {"team": "storage_v1"}


def test_a_tag_key_gcp_cannot_hold_is_refused_by_name() -> None:
    with pytest.raises(labels.LabelRefused, match="'cost.centre'"):
        labels.to_labels({"cost.centre": "cc-42"})


def test_a_tag_value_gcp_cannot_hold_is_refused_without_showing_it() -> None:
    with pytest.raises(labels.LabelRefused) as raised:
        labels.to_labels({"owner": "Ops Team", "team": "x" * 64})
    message = str(raised.value)
    assert "'owner'" in message and "'team'" in message
    assert "Ops Team" not in message


def test_more_than_sixty_four_labels_are_refused() -> None:
    with pytest.raises(labels.LabelRefused, match="at most 64"):
        labels.to_labels({f"t{i}": "v" for i in range(65)})
