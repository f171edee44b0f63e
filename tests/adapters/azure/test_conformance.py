"""The shared conformance suite, run against the azure provider on the HTTPS fake of Resource Manager."""

from tests.adapters.conformance import *
