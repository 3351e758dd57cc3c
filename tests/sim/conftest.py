"""Fixtures of the simulator's own tests: from the shared harness (tests/support/simharness.py)."""

from simharness import start_sim  # noqa: F401 (fixture)
