"""Fixtures of the simulator's own tests: from the shared harness (tests/support/simharness.py).

The names are also here for test modules that still write `from conftest import ...`
(new ones import from simharness)."""

from simharness import (  # noqa: F401 (fixture and re-exports)
    PASSWORD,
    USER,
    Sim,
    find_vm,
    launch,
    nics,
    start_sim,
    wait_for,
    wait_task,
)
