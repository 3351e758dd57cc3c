"""Fixtures of the role tests: one vsray-sim per module (started by `vsray sim`), users made
through its control endpoint, configs derived per user, and pyvmomi as the administrator's
independent client."""

import json
import re
import ssl
import urllib.request

import pytest

from simharness import Cli, start_vsray_sim, stop_vsray_sim


class RoleSim:
    """The simulator, the admin's config and helpers to act as admin or as a user."""

    def __init__(self, cluster, tmp_path):
        self.cluster = cluster
        self.tmp_path = tmp_path
        text = cluster.config.read_text()
        self.admin_text = text
        self.ca_file = re.search(r'ca_file: "([^"]+)"', text).group(1)
        self.base = cluster.url.rsplit("/sdk", 1)[0]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.ca_file)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                   urllib.request.HTTPSHandler(context=ctx))
        self.cli = Cli(tmp_path, secrets=[cluster.password])

    def add_user(self, name, password):
        req = urllib.request.Request(self.base + "/vsray/users", method="POST",
                                     data=json.dumps({"name": name, "password": password}).encode())
        req.add_header("Content-Type", "application/json")
        with self._opener.open(req, timeout=20) as resp:
            assert resp.status == 201

    def config(self, name, cluster_name, user=None, password=None, edit=None):
        """A config file: the admin's with another cluster name, user and frozen_vm edits."""
        text = self.admin_text.replace("cluster_name: clitest", f"cluster_name: {cluster_name}")
        if user is not None:
            text = text.replace('user: "user"', f'user: "{user}"')
            text = text.replace(f'password: "{self.cluster.password}"', f'password: "{password}"')
        if edit is not None:
            text = edit(text)
        path = self.tmp_path / name
        path.write_text(text)
        path.chmod(0o600)
        return path

    def pyvmomi(self):
        from pyVim.connect import SmartConnect
        host, port = re.search(r"https://([^:/]+):(\d+)", self.cluster.url).groups()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.ca_file)
        return SmartConnect(host=host, port=int(port), user="user", pwd=self.cluster.password,
                            sslContext=ctx)


@pytest.fixture(scope="module")
def rsim(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("role")
    cluster = start_vsray_sim(tmp_path)
    yield RoleSim(cluster, tmp_path)
    stop_vsray_sim(cluster)
