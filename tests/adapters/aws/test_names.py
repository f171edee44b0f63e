"""Naming rules: deterministic, within each service's limits, and never ambiguous between platforms."""

from __future__ import annotations

import re

import pytest

from adapters.aws import names
from adapters.base import ResourceKey

LONGEST = "p" + "x" * 38 + "z"  # 40 characters, the most a platform or resource name may have
BUCKET_RULE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
QUEUE_RULE = re.compile(r"^[A-Za-z0-9_-]{1,80}(\.fifo)?$")


def test_a_bucket_name_is_stable_and_names_the_platform_and_resource():
    key = ResourceKey("dev", "assets")
    name = names.bucket("123456789012", "us-east-1", key)
    assert name == names.bucket("123456789012", "us-east-1", key)
    assert re.fullmatch(r"mnops-dev-assets-[0-9a-f]{8}", name)


def test_bucket_names_differ_by_account_and_region_because_s3_names_are_global():
    key = ResourceKey("dev", "assets")
    assert names.bucket("111111111111", "us-east-1", key) != names.bucket("222222222222", "us-east-1", key)
    assert names.bucket("111111111111", "us-east-1", key) != names.bucket("111111111111", "eu-west-1", key)


def test_bucket_names_keep_platform_and_resource_apart_where_hyphens_would_not():
    a_b_c = names.bucket("1", "us-east-1", ResourceKey("a-b", "c"))
    a_bc = names.bucket("1", "us-east-1", ResourceKey("a", "b-c"))
    assert a_b_c.rsplit("-", 1)[0] == a_bc.rsplit("-", 1)[0] == "mnops-a-b-c"
    assert a_b_c != a_bc


def test_the_longest_names_still_make_a_valid_bucket_name():
    name = names.bucket("123456789012", "ap-southeast-2", ResourceKey(LONGEST, LONGEST))
    assert len(name) <= 63
    assert BUCKET_RULE.match(name)
    assert "--" not in name[-10:]
    other = names.bucket("123456789012", "ap-southeast-2", ResourceKey(LONGEST, LONGEST[:-1] + "y"))
    assert other != name


@pytest.mark.parametrize("fifo", [False, True])
def test_queue_names_fit_sqs_with_both_suffixes(fifo):
    key = ResourceKey(LONGEST, LONGEST)
    for name in (names.queue(key, fifo), names.dead_letter_queue(key, fifo)):
        assert len(name) <= 80
        assert QUEUE_RULE.match(name)
        assert name.endswith(".fifo") == fifo
        assert name.startswith(names.queue_prefix(LONGEST))
    assert names.queue(key, fifo) != names.queue(ResourceKey(LONGEST, LONGEST[:-1] + "y"), fifo)


def test_a_queue_prefix_belongs_to_one_platform_only():
    # "conf" must not list "conf-a"'s queues.
    assert not names.queue(ResourceKey("conf-a", "jobs"), False).startswith(names.queue_prefix("conf"))
    assert names.queue(ResourceKey("conf", "jobs"), False) == "mnops-conf_jobs"


def test_a_dead_letter_queue_never_takes_another_resources_name():
    assert names.dead_letter_queue(ResourceKey("p", "jobs"), False) != names.queue(ResourceKey("p", "jobs-dlq"), False)
    assert names.dead_letter_queue(ResourceKey("p", "jobs"), True) == "mnops-p_jobs_dlq.fifo"


def test_a_secrets_resource_is_read_back_from_its_arn():
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mnops/dev/api-key-AbC123"
    assert names.secret(ResourceKey("dev", "api-key")) == "mnops/dev/api-key"
    assert names.secret_resource("dev", arn) == "api-key"
    assert names.secret_resource("dev", "mnops/dev/api-key") == "api-key"
    assert names.secret_resource("prod", arn) is None
    assert names.secret_resource("dev", "arn:aws:secretsmanager:us-east-1:1:secret:other/x-AbC123") is None


def test_other_names():
    key = ResourceKey("dev", "api")
    assert names.log_group(key) == "/mnops/dev/api"
    assert names.cluster("dev") == "mnops-dev"
    assert names.service(key) == "api"
    assert names.task_family(key) == "mnops-dev_api"
    assert not names.secret(key).startswith(names.HMAC_KEY_SECRET.rsplit("/", 1)[0] + "/")
