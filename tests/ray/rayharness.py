"""Ray's real launcher and autoscaler, importable without Ray's compiled core.

Ray cannot be installed from a package registry here, so the suite uses Ray's own source: the
pinned tarball of ../shared/ray/ (or $VSRAY_RAY_SOURCE: that directory, or the tarball
itself). It is extracted once per test session into a temporary directory whose python/ goes
on sys.path. Ray's pure-Python modules (ray.autoscaler.*, ray._private.*, ray.util.*,
ray.experimental.*) are the real ones; this module writes small stand-ins for the parts that
are compiled or not in the extract, and for nothing else:

- the `ray` package itself: its __init__.py starts Ray's core runtime (workers, actors, the
  compiled raylet); the stand-in is a package over the same directory with only
  __version__ and __commit__ (from the real ray/_version.py);
- `ray._raylet` (Cython): placeholder id and client classes, and the two constants the
  autoscaler reads;
- `ray.core.generated.*` (protobuf code generated at build time): placeholder message and
  enum classes (an enum's DESCRIPTOR lists no values, which Ray's own check treats as
  "mocked");
- `ray.cloudpickle` (vendored third-party code not in the extract): the standard pickle;
- `ray._private.worker` (the core worker; its import chain needs the compiled core): the one
  list Ray's usage module appends to at import.

Importing this module does all that; AVAILABLE says whether it worked and MISSING why not.
"""

import atexit
import glob
import importlib
import importlib.abc
import importlib.machinery
import os
import pathlib
import pickle
import shutil
import sys
import tarfile
import tempfile
import types

REPO = pathlib.Path(__file__).resolve().parents[2]

# Ray's knobs (read when its modules are imported): no usage-stats prompt or reporting, and
# the updater polls a node's IP every second instead of every five.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_USAGE_STATS_PROMPT_ENABLED", "0")
os.environ.setdefault("AUTOSCALER_NODE_SSH_INTERVAL_S", "1")


def find_tarball():
    """The Ray source tarball, or None."""
    where = os.environ.get("VSRAY_RAY_SOURCE") or str(REPO.parent / "shared" / "ray")
    if os.path.isfile(where):
        return where
    found = sorted(glob.glob(os.path.join(where, "ray-*.tar.xz")))
    return found[-1] if found else None


# --- stand-ins -------------------------------------------------------------------------------

class _Descriptor:
    values_by_name = {}
    fields_by_name = {}


class _ProtoMeta(type):
    """Placeholder protobuf classes: any nested message or enum is another placeholder."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        nested = _ProtoMeta(name, (_ProtoMessage,), {})
        setattr(cls, name, nested)
        return nested


class _ProtoMessage(metaclass=_ProtoMeta):
    DESCRIPTOR = _Descriptor()

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    @staticmethod
    def Value(name):  # noqa: N802 (protobuf's enum API)
        return sum(map(ord, name))

    @staticmethod
    def Name(value):  # noqa: N802 (protobuf's enum API)
        return str(value)


class _GeneratedModule(types.ModuleType):
    """A ray.core.generated.*_pb2 stand-in: every name is a placeholder message class."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _ProtoMeta(name, (_ProtoMessage,), {})
        setattr(self, name, value)
        return value


class _GeneratedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    PREFIX = "ray.core"

    def find_spec(self, name, path, target=None):
        if name == self.PREFIX or name.startswith(self.PREFIX + "."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _GeneratedModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def _placeholder(name):
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
    return type(name, (), {"__init__": __init__, "__module__": "ray._raylet"})


def _install_stand_ins(python_dir):
    ray_dir = os.path.join(python_dir, "ray")
    package = types.ModuleType("ray")
    package.__path__ = [ray_dir]
    package.__file__ = os.path.join(ray_dir, "__init__.py")
    sys.modules["ray"] = package
    version = importlib.import_module("ray._version")
    package.__version__, package.__commit__ = version.version, version.commit

    raylet = types.ModuleType("ray._raylet")
    for name in ("ActorID", "GcsClient", "GcsClientOptions", "ObjectRef", "PlacementGroupID",
                 "StreamRedirector", "TaskID", "WorkerID", "NodeID", "JobID"):
        setattr(raylet, name, _placeholder(name))
    raylet.GRPC_STATUS_CODE_UNIMPLEMENTED = 12  # gRPC's UNIMPLEMENTED
    raylet.IMPLICIT_RESOURCE_PREFIX = "node:__internal_implicit_resource_"
    sys.modules["ray._raylet"] = raylet
    package._raylet = raylet

    sys.meta_path.insert(0, _GeneratedFinder())

    cloudpickle = types.ModuleType("ray.cloudpickle")
    cloudpickle.__dict__.update({k: getattr(pickle, k) for k in ("dumps", "loads", "dump", "load")})
    sys.modules["ray.cloudpickle"] = cloudpickle
    package.cloudpickle = cloudpickle

    worker = types.ModuleType("ray._private.worker")
    worker._post_init_hooks = []
    sys.modules["ray._private.worker"] = worker
    importlib.import_module("ray._private").worker = worker


def _load():
    tarball = find_tarball()
    if tarball is None:
        where = os.environ.get("VSRAY_RAY_SOURCE") or str(REPO.parent / "shared" / "ray")
        return None, f"Ray's source (ray-*.tar.xz) not found in {where}; set VSRAY_RAY_SOURCE"
    root = tempfile.mkdtemp(prefix="vsray-ray-source-")
    atexit.register(shutil.rmtree, root, True)
    with tarfile.open(tarball) as archive:
        archive.extractall(root)
    python_dir = os.path.join(root, "python")
    sys.path.insert(0, python_dir)
    _install_stand_ins(python_dir)
    # The order of Ray's own __init__: ray.util before the modules that use it.
    importlib.import_module("ray.util")
    for name in ("ray.autoscaler.tags", "ray.autoscaler.node_provider",
                 "ray.autoscaler.node_launch_exception", "ray.autoscaler._private.util",
                 "ray.autoscaler._private.providers", "ray.autoscaler._private.commands",
                 "ray.autoscaler._private.autoscaler", "ray.autoscaler._private.node_launcher",
                 "ray.autoscaler._private.updater", "ray.autoscaler._private.load_metrics",
                 "ray.tests.autoscaler_test_utils"):
        importlib.import_module(name)
    return root, None


SOURCE_DIR, MISSING = _load()
AVAILABLE = MISSING is None
