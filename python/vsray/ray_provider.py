"""Ray's NodeProvider for vSphere, over vsray's C++ provider.

Ray loads this class for ``provider: {type: external, module:
vsray.ray_provider.VsphereNodeProvider}``: on the launching machine (``ray up``,
``ray down``) and on the head node (the autoscaler). It subclasses Ray's
``NodeProvider`` when Ray is installed, else a stand-in with the same constructor
and attributes, so the package works without Ray (tests, the ``vsray`` tools).

Every instance built in one process from an equal provider dict and cluster name
shares one C++ provider: one vCenter session and one live cache of the cluster's
VMs, kept current by a watcher thread, so the autoscaler's questions cost no
vCenter calls. Node ids are VM managed-object ids ("vm-123"). All methods are
thread-safe and release the GIL while they wait on vCenter.
"""

import copy
import logging
import os
import sys
import threading
from typing import Any, Dict, List, Optional

from vsray import _vsray
from vsray._vsray import ConfigError, VsphereError

logger = logging.getLogger(__name__)

try:  # pragma: no cover - depends on whether Ray is installed
    from ray.autoscaler.node_provider import NodeProvider as _BaseNodeProvider

    RAY_AVAILABLE = True
except ImportError:
    RAY_AVAILABLE = False

    class _BaseNodeProvider:
        """Stand-in for ray.autoscaler.node_provider.NodeProvider (Ray not installed).

        Same constructor and attributes as Ray's base class; the methods are
        all defined by the subclass.
        """

        def __init__(self, provider_config: Dict[str, Any], cluster_name: str) -> None:
            self.provider_config = provider_config
            self.cluster_name = cluster_name
            self._internal_ip_cache: Dict[str, str] = {}
            self._external_ip_cache: Dict[str, str] = {}

        def cleanup(self) -> None:
            """Nothing to clean up: the shared provider is released with its last user."""

        @property
        def max_terminate_nodes(self) -> Optional[int]:
            return None


try:  # pragma: no cover - depends on whether Ray is installed
    from ray.autoscaler.node_launch_exception import NodeLaunchException as _NodeLaunchException
except ImportError:
    _NodeLaunchException = None


# Ray's tag keys and values (Ray's names, ray.autoscaler.tags), from vsray's one vocabulary
# in C++ (src/provider/tags.h), so that Ray is not needed.
TAGS = dict(_vsray.TAGS)
TAG_RAY_CLUSTER_NAME = TAGS["TAG_RAY_CLUSTER_NAME"]
TAG_RAY_NODE_KIND = TAGS["TAG_RAY_NODE_KIND"]
TAG_RAY_NODE_NAME = TAGS["TAG_RAY_NODE_NAME"]
TAG_RAY_NODE_STATUS = TAGS["TAG_RAY_NODE_STATUS"]
TAG_RAY_USER_NODE_TYPE = TAGS["TAG_RAY_USER_NODE_TYPE"]
TAG_RAY_LAUNCH_CONFIG = TAGS["TAG_RAY_LAUNCH_CONFIG"]

# Where prepare_for_head_node points the head's tls.ca_file; bootstrap_config mounts the
# launcher's CA file there.
HEAD_CA_FILE = "~/vsray-vcenter-ca.pem"

_CREDENTIAL_ENV = (("server", "VSPHERE_SERVER"), ("user", "VSPHERE_USER"), ("password", "VSPHERE_PASSWORD"))


class _Listed:
    """A node as the last listing that returned it saw it."""

    __slots__ = ("tags", "internal_ip", "external_ip")

    def __init__(self, tags: Dict[str, str], internal_ip: Optional[str], external_ip: Optional[str]) -> None:
        self.tags = tags
        self.internal_ip = internal_ip
        self.external_ip = external_ip


class _Listings:
    """What listings returned while the C++ cache was at `version`: each node's last listed
    state (`nodes`), and the ids each filter returned (`answers`, only at `version`)."""

    __slots__ = ("version", "nodes", "answers")

    def __init__(self, version: int, nodes: Dict[str, _Listed], answers: Dict[Any, List[str]]) -> None:
        self.version = version
        self.nodes = nodes
        self.answers = answers


def _launch_failure(error: VsphereError) -> Exception:
    """Ray's NodeLaunchException for a create_node that made no node (needs Ray).

    category: the vSphere fault name, else the error code; description: the one-line message;
    src_exc_info: the VsphereError being handled.
    """
    category = getattr(error, "fault", None) or getattr(error, "code", None) or type(error).__name__
    return _NodeLaunchException(category, str(error), sys.exc_info())


class VsphereNodeProvider(_BaseNodeProvider):
    """Ray's NodeProvider contract on vSphere (instant clones of frozen VMs)."""

    def __init__(self, provider_config: Dict[str, Any], cluster_name: str) -> None:
        super().__init__(provider_config, cluster_name)
        # The C++ side keeps no reference to the dict: later changes to it are not seen.
        self._provider = _vsray.Provider(dict(provider_config), cluster_name)
        # The C++ cache's version, read without a call: version[0] == _provider.cache_version().
        self._version = memoryview(self._provider.cache_version_word())
        # What listings returned (a _Listings, replaced whole, never changed: read without a
        # lock). Nodes are kept until a later listing that would have returned them does not:
        # Ray reads node_tags(id) for every id it listed, even if the VM was deleted in between
        # (as Ray's cloud providers serve listed nodes from their cache).
        self._listings = _Listings(-1, {}, {})
        self._listings_lock = threading.Lock()  # one listing updates it at a time

    # --- cluster config -----------------------------------------------------------------

    @staticmethod
    def bootstrap_config(cluster_config: Dict[str, Any]) -> Dict[str, Any]:
        """Validates the whole cluster config and completes it; what `ray up` runs first.

        Every key is checked (errors: ConfigError naming the YAML path); the SSH key pair
        is reused or created (~/ray-bootstrap-key.pem) and mounted; credentials from
        VSPHERE_* are written in (the head has no such environment); each node type's
        node_config gets its resolved placement, frozen VM and resources. Also, for the
        provider built from the provider dict alone: the head node type's frozen VM becomes
        provider.vsphere_config.frozen_vm when that is unset, and a tls.ca_file is mounted
        on the head (see prepare_for_head_node).
        """
        config = _vsray.bootstrap_config(dict(cluster_config))
        vsphere = config.setdefault("provider", {}).setdefault("vsphere_config", {})
        if not vsphere.get("frozen_vm"):
            head_type = config.get("head_node_type")
            head = config.get("available_node_types", {}).get(head_type, {})
            frozen = (head.get("node_config") or {}).get("frozen_vm")
            if frozen:
                vsphere["frozen_vm"] = copy.deepcopy(frozen)
        ca_file = (vsphere.get("tls") or {}).get("ca_file")
        if ca_file and ca_file != HEAD_CA_FILE:
            mounts = config.get("file_mounts") or {}
            mounts[HEAD_CA_FILE] = os.path.abspath(os.path.expanduser(ca_file))
            config["file_mounts"] = mounts
        return config

    def prepare_for_head_node(self, cluster_config: Dict[str, Any]) -> Dict[str, Any]:
        """The config the head's autoscaler gets: what it needs to reach vCenter and nodes.

        Credentials (filled from VSPHERE_* if missing, as the head has no such environment),
        the CA file at the path bootstrap_config mounted it to (when it did), and the key Ray copies to
        the head (~/ray_bootstrap_key.pem). Returns a new dict.
        """
        config = copy.deepcopy(cluster_config)
        provider = config.setdefault("provider", {})
        vsphere = provider.setdefault("vsphere_config", {})
        credentials = vsphere.get("credentials") or {}
        for key, env in _CREDENTIAL_ENV:
            if not credentials.get(key) and os.environ.get(env):
                credentials[key] = os.environ[env]
        if credentials:
            vsphere["credentials"] = credentials
        tls = vsphere.get("tls") or {}
        if tls.get("ca_file") and HEAD_CA_FILE in (config.get("file_mounts") or {}):
            tls["ca_file"] = HEAD_CA_FILE
            vsphere["tls"] = tls
        auth = config.get("auth")
        if isinstance(auth, dict) and auth.get("ssh_private_key"):
            auth["ssh_private_key"] = "~/ray_bootstrap_key.pem"
        return config

    @property
    def max_terminate_nodes(self) -> Optional[int]:
        """No limit: terminate_nodes removes any number of nodes in parallel."""
        return None

    def is_readonly(self) -> bool:
        return False

    def safe_to_scale(self) -> bool:
        return True

    def post_process(self) -> None:
        """Nothing to do after an autoscaler update: writes take effect at once."""

    # --- reads (served from the live cache) ---------------------------------------------

    def non_terminated_nodes(self, tag_filters: Dict[str, str]) -> List[str]:
        """The nodes matching every filter, each listed with its tags (pending ones included).

        Also the refresh point of what node_tags, internal_ip and external_ip serve for
        nodes that vanish after being listed. While the C++ cache is unchanged (its version
        says), the same filters get the same answer without asking it again.
        """
        filters = {str(key): str(value) for key, value in (tag_filters or {}).items()}
        question = tuple(sorted(filters.items()))
        listings = self._listings
        if listings.version == self._version[0]:
            answer = listings.answers.get(question)
            if answer is not None:
                return list(answer)
        version, listed = self._provider.list_nodes(filters)
        ids = [node_id for node_id, _, _, _ in listed]
        with self._listings_lock:
            before = self._listings
            # A node this listing would have returned and did not is gone; the others stay.
            nodes = {node_id: seen for node_id, seen in before.nodes.items()
                     if not all(seen.tags.get(k) == v for k, v in filters.items())}
            for node_id, tags, internal_ip, external_ip in listed:
                nodes[node_id] = _Listed(tags, internal_ip, external_ip)  # a dict of its own
            answers = dict(before.answers) if before.version == version else {}
            answers[question] = ids
            self._listings = _Listings(version, nodes, answers)
        return list(ids)

    def _last_listed(self, node_id: str) -> Optional[_Listed]:
        return self._listings.nodes.get(node_id)

    # Ray asks about node None when a cluster has no head (e.g. the head's IP for a worker's
    # updater): None is a node that does not exist.

    def is_running(self, node_id: str) -> bool:
        return node_id is not None and self._provider.is_running(node_id)

    def is_terminated(self, node_id: str) -> bool:
        return node_id is None or self._provider.is_terminated(node_id)

    # An autoscaler tick lists the nodes, then asks node_tags and an IP of each. Those answers
    # come from what the listing read as long as the C++ cache has not changed since (its
    # version word says, read without a call), so a quiet tick makes no call into the C++
    # provider; after any change they are asked of the live cache, as always.

    def node_tags(self, node_id: str) -> Dict[str, str]:
        """The node's current tags; for a node gone since it was listed, its listed tags."""
        listings = self._listings
        seen = listings.nodes.get(node_id)
        if seen is not None and listings.version == self._version[0]:
            return dict(seen.tags)  # what the last listing read: nothing changed since
        if node_id is None:
            return {}
        tags = self._provider.node_tags(node_id)
        if tags:
            return dict(tags)
        seen = self._last_listed(node_id)
        return dict(seen.tags) if seen is not None else {}

    def external_ip(self, node_id: str) -> Optional[str]:
        listings = self._listings
        seen = listings.nodes.get(node_id)
        if seen is not None and listings.version == self._version[0]:
            return seen.external_ip  # nothing changed since the listing
        return self._ip(node_id, internal=False)

    def internal_ip(self, node_id: str) -> Optional[str]:
        listings = self._listings
        seen = listings.nodes.get(node_id)
        if seen is not None and listings.version == self._version[0]:
            return seen.internal_ip  # nothing changed since the listing
        return self._ip(node_id, internal=True)

    def _ip(self, node_id: str, internal: bool) -> Optional[str]:
        """From the live cache; for a node gone since it was listed, its listed IP."""
        if node_id is None:
            return None
        ip = self._provider.internal_ip(node_id) if internal else self._provider.external_ip(node_id)
        if ip is None and self._provider.is_terminated(node_id):
            seen = self._last_listed(node_id)
            ip = None if seen is None else (seen.internal_ip if internal else seen.external_ip)
        return ip

    def get_node_id(self, ip_address: str, use_internal_ip: bool = False) -> str:
        """The node with this IP; ValueError if none has it (as Ray's base class)."""
        node_id = self._provider.get_node_id(ip_address, use_internal_ip)
        if node_id is None:
            self.non_terminated_nodes({})  # refreshes a provider without a watcher
            node_id = self._provider.get_node_id(ip_address, use_internal_ip)
        if node_id is None:
            kind = "internal" if use_internal_ip else "external"
            raise ValueError(f"ip {ip_address} not found among the {kind} IPs of cluster {self.cluster_name}")
        cache = self._internal_ip_cache if use_internal_ip else self._external_ip_cache
        cache[ip_address] = node_id
        return node_id

    # --- writes ---------------------------------------------------------------------------

    def create_node(self, node_config: Dict[str, Any], tags: Dict[str, str], count: int) -> Optional[Dict[str, Any]]:
        """Creates `count` nodes in parallel; returns {node_id: {"name", "host"}}.

        The nodes are listed by non_terminated_nodes at once. A node that fails is removed
        and logged; its siblings are kept. When none could be created: Ray's
        NodeLaunchException (category: the vSphere fault or error code; description: the
        message; src_exc_info: the VsphereError) when Ray is importable, else the VsphereError
        (a ConfigError for an invalid node_config).
        """
        try:
            result = self._provider.create_node(node_config, dict(tags or {}), int(count))
        except VsphereError as error:
            if _NodeLaunchException is None:
                raise
            raise _launch_failure(error) from error
        for failure in result["failures"]:
            logger.warning("vsray: cluster %s: a node could not be created: %s", self.cluster_name, failure["message"])
        return {node["id"]: {"name": node["name"], "host": node["host"]} for node in result["created"]}

    def create_node_with_resources_and_labels(
        self,
        node_config: Dict[str, Any],
        tags: Dict[str, str],
        count: int,
        resources: Dict[str, float],
        labels: Dict[str, str],
    ) -> Optional[Dict[str, Any]]:
        """What newer autoscalers call. The node type's CPU and Memory (MiB) size the VM:
        from node_config["resources"] (set by bootstrap_config), else from `resources`.
        Labels are Ray's business (given to `ray start`); nothing to do here."""
        if resources and not (node_config or {}).get("resources"):
            node_config = dict(node_config or {})
            node_config["resources"] = {k: v for k, v in resources.items() if k in ("CPU", "Memory", "GPU")}
        return self.create_node(node_config, tags, count)

    def set_node_tags(self, node_id: str, tags: Dict[str, str]) -> None:
        self._provider.set_node_tags(node_id, dict(tags))

    def terminate_node(self, node_id: str) -> Optional[Dict[str, Any]]:
        """Powers off and deletes the VM; a node already gone counts as done."""
        self._provider.terminate_node(node_id)
        return None

    def terminate_nodes(self, node_ids: List[str]) -> Optional[Dict[str, Any]]:
        """Terminates the nodes in parallel."""
        self._provider.terminate_nodes(list(node_ids))
        return None

    # --- vsray extras ---------------------------------------------------------------------

    def all_nodes(self) -> List[str]:
        """Every VM of this cluster in any power state (what a tear-down removes)."""
        return list(self._provider.all_nodes())

    def get_node(self, node_id: str) -> Optional[Dict[str, Any]]:
        """The cached view of a node: name, power_state, host, nics; None if unknown."""
        return self._provider.get_node(node_id)


__all__ = ["VsphereNodeProvider", "VsphereError", "ConfigError", "RAY_AVAILABLE"]
