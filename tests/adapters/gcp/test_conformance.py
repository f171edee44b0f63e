"""The shared conformance suite, run against the gcp provider on its emulators and fakes."""

from tests.adapters.conformance import *
