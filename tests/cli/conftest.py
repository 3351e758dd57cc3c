"""Fixtures for the command-line tests: the real vsray binary against vsray-sim.

The simulator is started the way a user would: `vsray sim --write-config PATH`, which runs
the bundled vsray-sim with a random password and writes a ready-to-use cluster config
(simharness.start_vsray_sim).
"""

import pytest

from simharness import Cli, start_vsray_sim, stop_vsray_sim


@pytest.fixture
def sim(tmp_path):
    cluster = start_vsray_sim(tmp_path)
    yield cluster
    stop_vsray_sim(cluster)


@pytest.fixture
def cli(tmp_path, sim):
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home, secrets=[sim.password])
