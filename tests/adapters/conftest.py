"""The conformance suite is a plain module imported by each provider's tests: have pytest rewrite its asserts too."""

import pytest

pytest.register_assert_rewrite("tests.adapters.conformance")
