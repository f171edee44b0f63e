"""The shared conformance suite, run against the aws provider on moto's server."""

from tests.adapters.conformance import *
