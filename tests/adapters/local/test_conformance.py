"""The shared conformance suite, run against the local provider."""

from tests.adapters.conformance import *  # noqa: F403
