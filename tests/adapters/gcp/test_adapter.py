"""The gcp adapter as a whole: its settings, the registry, observation of many platforms in bulk, the platform
listing, adopting a bucket made by hand, and errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters import registry
from adapters.base import AdapterError, ResourceKey
from adapters.gcp.adapter import GcpAdapter
from tests.adapters.gcp import gcs
from tests.adapters.gcp.conftest import LOCATION, PROJECT, build, unreachable


def test_the_registry_makes_a_gcp_adapter_from_settings(gcs: gcs.GcsEmulator) -> None:
    adapter = registry.create_adapter(
        "gcp", project=PROJECT, location=LOCATION, anonymous="true", storage_endpoint=gcs.url
    )
    try:
        assert isinstance(adapter, GcpAdapter)
        assert "storage/v1" in registry.supported_contracts("gcp")
    finally:
        adapter.close()


def test_no_location_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AdapterError, match="location"):
        GcpAdapter(project=PROJECT, anonymous=True)


def test_no_project_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with pytest.raises(AdapterError, match="no project"):
        GcpAdapter(location=LOCATION, anonymous=True)


def test_the_project_comes_from_the_environment_when_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-the-env")
    assert GcpAdapter(location=LOCATION, anonymous=True).gcp.project == "from-the-env"


def test_a_project_that_is_no_project_id_is_refused() -> None:
    with pytest.raises(AdapterError, match="not a GCP project id"):
        GcpAdapter(project="Not A Project", location=LOCATION, anonymous=True)


def test_an_unreadable_credentials_file_is_refused_by_setting(tmp_path) -> None:
    with pytest.raises(AdapterError, match="credentials_file"):
        GcpAdapter(project=PROJECT, location=LOCATION, credentials_file=str(tmp_path / "missing.json"))


def test_observing_many_platforms_lists_buckets_once(adapter: GcpAdapter) -> None:
    platforms = [f"p{i:02d}" for i in range(12)]
    for platform in platforms:
        adapter.storage.create(build("assets", {"contract": "storage/v1"}, platform=platform))
        adapter.storage.create(build("media", {"contract": "storage/v1"}, platform=platform))
    gcs.CALLS.clear()
    found = adapter.observe_many([*platforms, "absent"])
    assert all(sorted(found[p]) == ["assets", "media"] for p in platforms)
    assert found["absent"] == {}
    # One page of the listing for 24 private buckets: no per-bucket call, their IAM policy cannot make them public.
    assert dict(gcs.CALLS) == {"ls": 1}


def test_platforms_lists_every_platform_with_a_bucket(adapter: GcpAdapter) -> None:
    assert adapter.platforms() == []
    adapter.storage.create(build("assets", {"contract": "storage/v1"}, platform="beta"))
    adapter.storage.create(build("assets", {"contract": "storage/v1"}, platform="alpha"))
    assert adapter.platforms() == ["alpha", "beta"]


def test_a_bucket_labelled_as_another_key_is_not_observed(adapter: GcpAdapter) -> None:
    made = adapter.storage.create(build("assets", {"contract": "storage/v1"}))
    bucket = adapter.gcp.storage().get_bucket(adapter.storage.bucket(made.key))
    # Someone copied the labels onto a bucket of their own: observation goes by name as well as labels.
    copy = adapter.gcp.storage().bucket("mnops-dev-copy")
    copy.labels = dict(bucket.labels)
    adapter.gcp.storage().create_bucket(copy)
    assert [o.resource_id for o in adapter.storage.observe("dev")] == [made.resource_id]


def test_a_bucket_made_by_hand_is_found_then_adopted_by_its_identity_labels(adapter: GcpAdapter) -> None:
    key = ResourceKey("dev", "assets")
    by_hand = adapter.gcp.storage().bucket(adapter.storage.bucket(key))
    by_hand.labels = {"team": "data"}
    adapter.gcp.storage().create_bucket(by_hand, location=LOCATION)
    assert adapter.storage.observe("dev") == []
    found = adapter.storage.find(key)
    assert found is not None and found.tags == {"team": "data"}
    adopted = adapter.storage.tag_identity(found)
    assert adopted.tags["mnops-contract"] == "storage/v1"
    assert adopted.tags["team"] == "data"
    assert [o.key for o in adapter.storage.observe("dev")] == [key]


def test_an_unreachable_endpoint_fails_observation_with_the_cause_kept(adapter: GcpAdapter) -> None:
    with unreachable(adapter):
        found = adapter.observe_many(["dev"])["dev"]
        assert isinstance(found, AdapterError)
        assert found.provider == "gcp" and found.__cause__ is not None
        with pytest.raises(AdapterError, match="list platforms"):
            adapter.platforms()


def test_health_fails_with_the_reason_when_the_endpoint_is_unreachable(adapter: GcpAdapter) -> None:
    made = adapter.storage.create(build("assets", {"contract": "storage/v1"}))
    with unreachable(adapter):
        report = adapter.storage.health(made)
    assert not report.healthy and report.detail


def test_repr_shows_no_credentials(make_adapter: Callable[..., GcpAdapter]) -> None:
    shown = repr(make_adapter())
    assert PROJECT in shown and "credentials" not in shown.lower()


def test_the_engines_region_is_the_location_and_a_disagreeing_one_is_refused() -> None:
    assert GcpAdapter(project=PROJECT, region=LOCATION, anonymous=True).gcp.location == LOCATION
    with pytest.raises(AdapterError, match="disagree"):
        GcpAdapter(project=PROJECT, location=LOCATION, region="us-central1", anonymous=True)


def test_a_service_account_key_file_gives_the_credentials_and_the_project(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = tmp_path / "key.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "from-the-key-file",
                "private_key_id": "1",
                "private_key": pem,
                "client_email": "mnops@from-the-key-file.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    adapter = GcpAdapter(location=LOCATION, credentials_file=str(path))
    assert adapter.gcp.project == "from-the-key-file"
    assert adapter.gcp.credentials.service_account_email.startswith("mnops@")
    assert "PRIVATE KEY" not in repr(adapter)
