"""SDK errors become AdapterErrors naming the provider, operation and resource, with secret values kept out."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from adapters.aws.context import failures
from adapters.base import AdapterError, ResourceKey

KEY = ResourceKey("dev", "api-key")


def client_error(code: str, message: str, operation: str = "PutSecretValue") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def test_a_client_error_names_code_message_operation_and_resource():
    with pytest.raises(AdapterError) as raised, failures("update", KEY):
        raise client_error("ThrottlingException", "Rate exceeded")
    error = raised.value
    assert (error.provider, error.operation, error.key) == ("aws", "update", KEY)
    assert error.reason == "ThrottlingException: Rate exceeded"
    assert str(error) == "aws: update dev/api-key failed: ThrottlingException: Rate exceeded"
    assert isinstance(error.__cause__, ClientError)


def test_a_connection_error_is_an_adapter_error_too():
    with pytest.raises(AdapterError, match="EndpointConnectionError") as raised, failures("create", KEY):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert isinstance(raised.value.__cause__, EndpointConnectionError)


def test_without_a_key_the_subject_says_what_failed():
    expected = r"observe failed: arn:aws:s3:::b: AccessDenied: no"
    with pytest.raises(AdapterError, match=expected) as raised, failures("observe", None, subject="arn:aws:s3:::b"):
        raise client_error("AccessDenied", "no")
    assert raised.value.key is None


def test_a_value_echoed_by_aws_is_redacted_from_the_message_and_the_cause():
    value = "hunter2-correct-horse"
    with pytest.raises(AdapterError) as raised, failures("update", KEY, redact=(value,)):
        raise client_error("ValidationException", f"Value '{value}' at 'secretString' failed to satisfy constraint")
    error = raised.value
    assert value not in str(error)
    assert "[redacted]" in error.reason
    assert value not in str(error.__cause__)
    assert value not in repr(error.__cause__.response)
    context = error.__context__
    while context is not None:
        assert value not in str(context)
        context = context.__context__


def test_a_value_echoed_by_botocore_validation_is_redacted_too():
    value = "hunter2-correct-horse"
    with pytest.raises(AdapterError) as raised, failures("create", KEY, redact=(value,)):
        raise ParamValidationError(report=f"Invalid length for parameter SecretString, value: {value}")
    assert value not in str(raised.value)
    assert value not in str(raised.value.__cause__)


def test_an_emulators_html_error_page_is_cut_short():
    with pytest.raises(AdapterError) as raised, failures("create", KEY):
        raise client_error("500", "<html>" + "x" * 5000 + "</html>")
    assert len(raised.value.reason) <= 400
