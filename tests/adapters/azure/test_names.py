"""Azure names derived from keys: within each type's rules for the longest platform and resource names, distinct per
key and subscription, and the same every time."""

from __future__ import annotations

import re

from adapters.azure import names
from adapters.base import ResourceKey

LONGEST = ResourceKey("p" * 40, "r" * 40)
SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"


def test_every_name_follows_its_types_rules_for_the_longest_keys():
    assert re.fullmatch(r"[a-z0-9]{3,24}", names.storage_account(SUBSCRIPTION, LONGEST))
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]", names.namespace(SUBSCRIPTION, LONGEST))
    assert not names.namespace(SUBSCRIPTION, LONGEST).endswith(("-sb", "-mgmt"))
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]", names.workspace(SUBSCRIPTION, LONGEST))
    assert re.fullmatch(r"(?!.*--)[a-z][a-z0-9-]{0,30}[a-z0-9]", names.container_app(SUBSCRIPTION, LONGEST))
    assert re.fullmatch(r"(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]", names.vault(SUBSCRIPTION, LONGEST.platform))
    assert len(names.group(LONGEST.platform)) <= 90
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,58}[a-z0-9]", names.environment(LONGEST.platform))


def test_names_differ_by_key_and_subscription_and_never_change():
    a, b = ResourceKey("shop", "assets"), ResourceKey("shop", "assets2")
    other = "00000000-0000-4000-8000-000000000002"
    for derive in (names.storage_account, names.namespace, names.workspace, names.container_app):
        assert derive(SUBSCRIPTION, a) != derive(SUBSCRIPTION, b)
        assert derive(SUBSCRIPTION, a) != derive(other, a)
        assert derive(SUBSCRIPTION, a) == derive(SUBSCRIPTION, ResourceKey("shop", "assets"))


def test_only_groups_of_ours_name_a_platform():
    assert names.platform_of_group("mnops-shop") == "shop"
    assert names.platform_of_group("MNOPS-Shop") == "shop"  # ARM compares group names case-insensitively
    assert names.platform_of_group("rg-shop") is None
    assert names.platform_of_group("mnops-") is None
