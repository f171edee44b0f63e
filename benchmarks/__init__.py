"""Benchmarks: `python -m benchmarks` (or `make bench`) prints figures measured side by side in one run."""
