"""Contracts v1: defaults, bounds, frozen models, literal tags, secrets by reference only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts import (
    CONTRACTS,
    KINDS,
    ComputeV1,
    LoggingV1,
    QueueV1,
    SecretsV1,
    StorageV1,
    UnknownContract,
    UnknownContractVersion,
    contract_model,
    versions,
)


def test_every_kind_has_a_v1_tagged_by_its_literal():
    assert KINDS == ("compute", "database", "logging", "queue", "secrets", "storage")
    for tag, model in CONTRACTS.items():
        assert model.tag() == tag
        assert model.model_fields["contract"].annotation.__args__ == (tag,)


def test_storage_defaults_are_private_and_encrypted():
    bucket = StorageV1(contract="storage/v1")
    assert (bucket.encrypted, bucket.public, bucket.versioning, bucket.expire_after_days) == (True, False, False, None)


def test_models_are_frozen():
    bucket = StorageV1(contract="storage/v1")
    with pytest.raises(ValidationError):
        bucket.versioning = True  # type: ignore[misc]


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError) as info:
        QueueV1(contract="queue/v1", retention=10)  # type: ignore[call-arg]
    assert info.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("seconds", [59, 1209601])
def test_queue_retention_is_bounded_like_sqs(seconds):
    with pytest.raises(ValidationError):
        QueueV1(contract="queue/v1", retention_seconds=seconds)


def test_queue_dead_letter_bounds():
    assert QueueV1.model_validate({"contract": "queue/v1", "dead_letter": {}}).dead_letter.max_receives == 5
    with pytest.raises(ValidationError):
        QueueV1.model_validate({"contract": "queue/v1", "dead_letter": {"max_receives": 0}})


def test_logging_retention_bounds():
    assert LoggingV1(contract="logging/v1").retention_days == 30
    with pytest.raises(ValidationError):
        LoggingV1(contract="logging/v1", retention_days=0)


def test_strings_are_not_coerced_into_numbers_or_booleans():
    with pytest.raises(ValidationError):
        LoggingV1.model_validate({"contract": "logging/v1", "retention_days": "30"})
    with pytest.raises(ValidationError):
        StorageV1.model_validate({"contract": "storage/v1", "public": "yes"})


@pytest.mark.parametrize("source", ["generate", "env:DB_PASSWORD", "file:/run/secrets/db"])
def test_secret_references_are_accepted(source):
    assert SecretsV1.model_validate({"contract": "secrets/v1", "from": source}).source == source


@pytest.mark.parametrize("literal", ["hunter2", "env:my-var", "env:1BAD", "generated", "s3cr3t-v@lue"])
def test_literal_secret_values_are_refused_without_echoing_them(literal):
    with pytest.raises(ValidationError) as info:
        SecretsV1.model_validate({"contract": "secrets/v1", "from": literal})
    error = info.value.errors(include_input=False)[0]
    assert error["type"] == "literal_secret"
    assert literal not in error["msg"]
    assert literal not in str(info.value)


def test_compute_needs_a_command_and_bounds_replicas():
    with pytest.raises(ValidationError):
        ComputeV1.model_validate({"contract": "compute/v1"})
    with pytest.raises(ValidationError):
        ComputeV1.model_validate({"contract": "compute/v1", "command": ["x"], "replicas": 101})
    service = ComputeV1.model_validate({"contract": "compute/v1", "command": ["python", "-m", "http.server", "{port}"]})
    assert service.replicas == 1 and service.health.http is None


def test_health_path_must_be_absolute():
    with pytest.raises(ValidationError):
        ComputeV1.model_validate({"contract": "compute/v1", "command": ["x"], "health": {"http": "healthz"}})


@pytest.mark.parametrize("name", ["Assets", "a", "1bucket", "bucket_", "bucket-", "x" * 41])
def test_resource_names_follow_dns_label_rules(name):
    with pytest.raises(ValidationError):
        StorageV1(contract="storage/v1", depends_on=[name])


def test_contract_model_tells_unknown_kind_from_unknown_version():
    assert contract_model("queue/v1") is QueueV1
    with pytest.raises(UnknownContractVersion, match=r"unknown contract version 'queue/v9' \(known: queue/v1\)"):
        contract_model("queue/v9")
    with pytest.raises(UnknownContract, match=r"unknown contract 'blob/v1' \(known: compute, database, logging"):
        contract_model("blob/v1")


def test_versions_lists_a_kind_oldest_first():
    assert versions("storage") == ["storage/v1"]


@pytest.mark.parametrize("value", ["a\nb", "nul\x00", "rtl\u202eevil", "zero\u200bwidth", "tab\there", "line\u2028sep"])
def test_tag_values_refuse_control_and_invisible_characters(value):
    from contracts.queue.v1 import QueueV1

    with pytest.raises(ValidationError, match=r"U\+[0-9A-F]{4} at position"):
        QueueV1.model_validate({"contract": "queue/v1", "tags": {"team": value}})
    assert QueueV1.model_validate({"contract": "queue/v1", "tags": {"team": "Équipe 7 a.b:c/d=e+f-g@h_i"}})


def test_tags_on_one_resource_are_bounded():
    from contracts.base import MAX_DECLARED_TAGS
    from contracts.queue.v1 import QueueV1

    QueueV1.model_validate({"contract": "queue/v1", "tags": {f"t{i}": "v" for i in range(MAX_DECLARED_TAGS)}})
    with pytest.raises(ValidationError, match="at most 40 items"):
        QueueV1.model_validate({"contract": "queue/v1", "tags": {f"t{i}": "v" for i in range(110_000)}})
