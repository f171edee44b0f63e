"""The protocol's shared parts: drivers built from a provider's table and bound to each other, kind attributes."""

from __future__ import annotations

import pytest

from adapters.base import Adapter, DriverTableError, build_drivers
from adapters.local import DRIVERS


def test_a_driver_table_naming_the_wrong_driver_is_refused():
    table = {"queue/v1": ("adapters.local.storage", "StorageDriver")}
    with pytest.raises(DriverTableError, match=r"DRIVERS\['queue/v1'\] = .*that driver is for 'storage/v1'"):
        build_drivers(table, None)
    with pytest.raises(DriverTableError, match="no ResourceDriver of that name there"):
        build_drivers({"queue/v1": ("adapters.local.queues", "QueueDriverr")}, None)


def test_drivers_are_made_once_each_and_bound_to_one_another():
    drivers = build_drivers(DRIVERS, object())
    assert sorted(drivers) == sorted(DRIVERS)
    # Compute hands secrets to its processes through the adapter's own secrets driver, not a second one.
    assert drivers["compute/v1"]._secrets is drivers["secrets/v1"]


class Plain(Adapter):
    provider = "plain"

    def platforms(self) -> list[str]:
        return []


def test_each_driver_is_an_attribute_named_for_its_kind_the_newest_version_winning():
    old, new = (type(f"Queue{v}", (), {"contract": f"queue/v{v}"})() for v in (2, 10))
    adapter = Plain(drivers={"queue/v10": new, "queue/v2": old})
    assert adapter.queue is new


def test_a_kind_named_like_an_adapter_method_is_refused():
    with pytest.raises(TypeError, match="contract kind 'observe' is already one of its attributes"):
        Plain(drivers={"observe/v1": object()})


def test_an_adapter_must_list_its_platforms():
    class Forgetful(Adapter):
        provider = "forgetful"

    with pytest.raises(TypeError, match="platforms"):
        Forgetful()
