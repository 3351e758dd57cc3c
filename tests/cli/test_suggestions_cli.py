""""Did you mean": mistyped inventory names and node types get the closest names that exist,
and errors about what a config names in vCenter point at `vsray check CONFIG`."""

from test_cli import one_line


def test_mistyped_frozen_vm_gets_the_closest_name_and_points_at_check(sim, cli, tmp_path):
    config = sim.derived_config(tmp_path, "typo.yaml",
                                lambda t: t.replace('name: "ray-frozen-vm"', 'name: "ray-frozen-vn"'))
    up = cli.run("up", config, "--yes")
    assert up.code == 1, up
    line = one_line(up.err)
    assert "'ray-frozen-vn' not found" in line and "did you mean 'ray-frozen-vm'?" in line, line
    assert f"`vsray check {config}`" in line, line

    check = cli.run("check", config)
    assert check.code == 1, check
    assert "did you mean 'ray-frozen-vm'?" in check.out, check
    # The fix does not send the user to a command that fails the same way.
    assert "frozen-vm status" not in check.out, check
    status = cli.run("frozen-vm", "status", config)
    assert status.code == 1 and "did you mean 'ray-frozen-vm'?" in one_line(status.err)


def test_unrelated_name_lists_what_exists(sim, cli, tmp_path):
    config = sim.derived_config(tmp_path, "far.yaml",
                                lambda t: t.replace('name: "ray-frozen-vm"', 'name: "zzzz"'))
    up = cli.run("up", config, "--yes")
    assert up.code == 1, up
    line = one_line(up.err)
    assert "'zzzz' not found" in line and "(have: " in line and "ray-frozen-vm" in line, line


def test_mistyped_node_type_gets_the_closest_one(sim, cli):
    result = cli.run("create", sim.config, "--node-type", "ray.worker.defualt")
    assert result.code == 2, result
    line = one_line(result.err)
    assert "did you mean 'ray.worker.default'?" in line, line
    far = cli.run("create", sim.config, "--node-type", "gpu")
    assert far.code == 2, far
    assert "(have: ray.head.default, ray.worker.default)" in one_line(far.err)
