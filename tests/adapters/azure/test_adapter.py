"""The azure adapter as a whole: settings, the credential chain, observation by platform group, pagination,
throttling, errors and the platform listing."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from adapters import registry
from adapters.azure import names
from adapters.azure.adapter import AzureAdapter
from adapters.azure.context import failures
from adapters.base import AdapterError, ResourceKey
from tests.adapters.azure import fakearm
from tests.adapters.azure.conftest import REGION, build

QUEUE = {"contract": "queue/v1", "retention_seconds": 3600}
STORAGE = {"contract": "storage/v1"}


def test_the_registry_makes_an_azure_adapter_from_settings_as_yaml_gives_them(arm, fake):
    adapter = registry.create_adapter(
        "azure",
        region=REGION,
        subscription_id=fakearm.SUBSCRIPTION,
        arm_endpoint=arm.url,
        ca_bundle=str(arm.ca_bundle),
        tenant_id=fakearm.TENANT,
        verify_challenge_resource="false",
    )
    try:
        assert isinstance(adapter, AzureAdapter)
        assert adapter.azure.verify_challenge_resource is False
        assert adapter.platforms() == []
    finally:
        adapter.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"subscription_id": None}, "no subscription: set the azure provider's `subscription_id`"),
        ({"region": None}, "no location: set the azure provider's `region` setting"),
        ({"credential": "password"}, "credential 'password' is not one of default, managed-identity"),
        ({"ca_bundle": "/nowhere/ca.pem"}, "ca_bundle /nowhere/ca.pem is not a file"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(make_adapter, monkeypatch, settings, message):
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    with pytest.raises(AdapterError, match=message):
        make_adapter(**settings)


def test_the_default_credential_chain_gets_its_token_from_the_managed_identity_endpoint(adapter, fake):
    adapter.queue.create(build("jobs", QUEUE))
    assert fake.tokens, "no token was issued: the credential chain did not reach the managed identity endpoint"


def test_requests_without_a_token_or_api_version_are_refused_by_the_fake_as_by_azure(arm):
    import requests

    url = f"{arm.url}/subscriptions/{fakearm.SUBSCRIPTION}/resourcegroups"
    assert requests.get(url, params={"api-version": "2025-04-01"}, verify=str(arm.ca_bundle)).status_code == 401
    assert requests.get(url, verify=str(arm.ca_bundle)).status_code == 400


def test_a_region_other_than_the_adapters_is_refused_before_anything_is_made(adapter, fake):
    want = build("jobs", QUEUE)
    elsewhere = type(want)(want.key, want.spec, want.tags, "northeurope")
    with pytest.raises(AdapterError, match="declared in region 'northeurope' but this azure adapter serves"):
        adapter.queue.create(elsewhere)
    assert fake.count("PUT") == 0


def test_each_platform_lives_in_its_own_tagged_resource_group(adapter, fake):
    adapter.storage.create(build("assets", STORAGE, platform="shop"))
    group = fake.get(f"/subscriptions/{fakearm.SUBSCRIPTION}/resourcegroups/mnops-shop")
    assert group["location"] == REGION
    assert group["tags"] == {"mnops-platform": "shop", "mnops-managed-by": "mnops"}


def test_observation_lists_each_platform_group_once_and_follows_next_link(adapter, fake):
    fake.page_size = 2
    for name in ("a1", "a2", "a3"):
        adapter.storage.create(build(name, STORAGE))
    for name in ("j1", "j2"):
        adapter.queue.create(build(name, QUEUE))
    fake.calls.clear()
    found = adapter.observe_many(["dev"])["dev"]
    assert sorted(found) == ["a1", "a2", "a3", "j1", "j2"]
    listings = [path for method, path in fake.calls if path.lower().endswith("/resourcegroups/mnops-dev/resources")]
    assert len(listings) == 3  # 5 resources in pages of 2: one listing, two nextLinks


def test_a_resource_tagged_for_another_platform_or_misnamed_is_not_observed(adapter):
    made = adapter.storage.create(build("assets", STORAGE))
    storage = adapter.azure.client("storage")
    group, account = names.group("dev"), names.storage_account(adapter.azure.subscription_id, made.key)
    storage.storage_accounts.update(group, account, {"tags": {**made.tags, "mnops-platform": "other"}})
    assert adapter.observe("dev") == {}
    # Tagged as dev/assets, but not named as dev/assets's account would be: someone's copy, not ours.
    storage.storage_accounts.update(group, account, {"tags": {**made.tags, "mnops-resource": "images"}})
    assert adapter.observe("dev") == {}


def test_a_throttled_call_is_retried_after_the_time_azure_asks_for(make_adapter, fake):
    adapter = make_adapter(retry_total=3)
    fake.throttled = 2
    created = adapter.queue.create(build("jobs", QUEUE))
    assert created.fields["retention_seconds"] == 3600
    assert fake.throttled == 0


def test_throttling_past_the_retries_is_an_error_naming_status_and_resource(make_adapter, fake):
    adapter = make_adapter(retry_total=0)
    fake.throttled = 5
    want = build("jobs", QUEUE)
    with pytest.raises(AdapterError, match="429 TooManyRequests: Rate limit exceeded") as raised:
        adapter.queue.create(want)
    assert raised.value.key == want.key


def test_an_endpoint_that_is_down_is_an_adapter_error_with_the_cause(target):
    want = build("jobs", QUEUE, platform="conf")
    with target.failing(), pytest.raises(AdapterError) as raised:
        target.adapter.queue.create(want)
    assert raised.value.key == want.key and raised.value.__cause__ is not None


def test_platforms_are_those_with_a_managed_resource(adapter):
    adapter.storage.create(build("assets", STORAGE, platform="shop"))
    made = adapter.queue.create(build("jobs", QUEUE, platform="billing"))
    assert adapter.platforms() == ["billing", "shop"]
    adapter.queue.delete(made)
    assert adapter.platforms() == ["shop"]


def test_an_http_error_names_status_code_and_message():
    key = ResourceKey("dev", "jobs")
    error = HttpResponseError(message="(Conflict) The namespace is being deleted.")
    error.status_code = 409
    with pytest.raises(AdapterError, match="409") as raised, failures("update", key):
        raise error
    assert raised.value.key == key and "being deleted" in raised.value.reason


def test_a_value_echoed_in_an_error_is_redacted_from_the_message_and_the_cause():
    value = "hunter2-correct-horse"
    key = ResourceKey("dev", "api-key")
    with pytest.raises(AdapterError) as raised, failures("update", key, redact=(value,)):
        raise ServiceRequestError(f"could not send {value}")
    assert value not in str(raised.value) and value not in str(raised.value.__cause__)
    assert "[redacted]" in raised.value.reason
