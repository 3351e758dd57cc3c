"""vsray's copy of Ray's launch hash (the ray-launch-config tag vsray up writes) against
Python's json module and Ray's formula, so that Ray's launcher and autoscaler see nodes made by
vsray as up to date."""

import hashlib
import json

import pytest

from vsray import _vsray

VALUES = [
    {},
    [],
    {"b": 1, "a": [1, 2.5, None, True, False], "c": {"z": "", "y": {}}},
    {"resources": {"CPU": 2, "Memory": 4096, "GPU": 1}, "clone_mode": "instant",
     "frozen_vm": {"name": "frozen-vm"}, "resource_pool": None},
    {"quote\"back\\slash": "tab\tnew\nline\rcr\bback\fform\x01\x1f\x7f"},
    {"unicode": "h\u00e9llo \u4e16\u754c \U0001F600", "\u00e9": "key"},
    [0.1, 1.0, -0.0, 1e16, 1e15, -1.5e15, 1234567890123456.7, 9.999999999999998e15, 1.5e-05, 0.0001,
     123456789.123, 2.5e300, 2 ** 63, -7],
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_python_json_dumps_is_pythons(value):
    assert _vsray._python_json_dumps(value) == json.dumps(value, sort_keys=True)


def test_launch_hash_is_rays_formula(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\r\ndef\n-----END OPENSSH PRIVATE KEY-----\n")
    pub = tmp_path / "key.pub"
    pub.write_text("ssh-ed25519 AAAA test\n")
    node_config = {"resources": {"CPU": 2, "Memory": 4096}, "clone_mode": "instant", "frozen_vm": {"name": "f"}}
    auth = {"ssh_user": "ray", "ssh_private_key": str(key), "ssh_public_key": str(pub)}
    # Ray's hash_launch_conf, written out: the key files' contents (text mode) replace their paths.
    full_auth = dict(auth)
    for name in ("ssh_private_key", "ssh_public_key"):
        with open(auth[name]) as f:
            full_auth[name] = f.read()
    expected = hashlib.sha1(json.dumps([node_config, full_auth], sort_keys=True).encode("utf-8")).hexdigest()
    assert _vsray._ray_launch_hash(node_config, auth) == expected
    assert _vsray._ray_launch_hash(node_config, {"ssh_user": "ray"}) == hashlib.sha1(
        json.dumps([node_config, {"ssh_user": "ray"}], sort_keys=True).encode()).hexdigest()
    with pytest.raises(_vsray.VsphereError, match="cannot read the SSH key"):
        _vsray._ray_launch_hash(node_config, {"ssh_private_key": str(tmp_path / "absent")})


def test_floats_of_every_magnitude_are_written_as_python_writes_them():
    import random
    rng = random.Random(11)
    values = [rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(2000)]
    values += [float(10 ** k) for k in range(-8, 20)] + [1 / 3, 2 / 3, 5e-324, 1.7976931348623157e308]
    assert _vsray._python_json_dumps(values) == json.dumps(values)
