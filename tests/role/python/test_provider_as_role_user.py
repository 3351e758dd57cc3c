"""The Python provider's calls (as Ray's launcher and autoscaler make them) as a user holding
only the role `vsray role create` made, granted where `vsray role show` says."""

import copy
import gc
import json
import os
import subprocess

from vsray.ray_provider import VsphereNodeProvider

from simharness import PASSWORD, cluster_config, vsray_binary
from simharness import env, sim, start_sim  # noqa: F401 (fixtures)


def test_provider_calls_as_a_user_holding_only_the_role(sim, env, tmp_path):
    sim.control("POST", "users", {"name": "ray-svc", "password": "Svc-pw-123"})
    admin = cluster_config(sim, name="rolepy")
    admin_file = tmp_path / "admin.yaml"
    admin_file.write_text(json.dumps(admin))  # JSON is YAML
    made = subprocess.run([vsray_binary(), "role", "create", str(admin_file), "--name",
                           "vsray-py", "--assign-to", "ray-svc"],
                          capture_output=True, text=True, env={"PATH": os.environ["PATH"],
                                                               "HOME": str(env)})
    assert made.returncode == 0, made.stderr
    assert PASSWORD not in made.stdout + made.stderr

    config = copy.deepcopy(admin)
    config["provider"]["vsphere_config"]["credentials"].update(user="ray-svc",
                                                              password="Svc-pw-123")
    config = VsphereNodeProvider.bootstrap_config(config)
    provider = VsphereNodeProvider(config["provider"], "rolepy")
    try:
        assert provider.non_terminated_nodes({}) == []
        head_type = config["head_node_type"]
        created = provider.create_node(
            config["available_node_types"][head_type]["node_config"],
            {"ray-node-type": "head", "ray-node-status": "uninitialized",
             "ray-user-node-type": head_type, "ray-launch-config": "h1"}, 1)
        [head] = created
        assert provider.non_terminated_nodes({"ray-node-type": "head"}) == [head]
        provider.set_node_tags(head, {"ray-node-status": "up-to-date"})
        assert provider.node_tags(head)["ray-node-status"] == "up-to-date"
        assert provider.is_running(head)
        provider.terminate_node(head)
        assert provider.non_terminated_nodes({}) == []
    finally:
        del provider
        gc.collect()
