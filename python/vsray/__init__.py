"""vsray: Ray clusters on VMware vSphere.

The node provider for Ray's cluster launcher and autoscaler is
``vsray.ray_provider.VsphereNodeProvider``; use it in a cluster YAML as::

    provider:
      type: external
      module: vsray.ray_provider.VsphereNodeProvider
      vsphere_config: {...}

The work is done by the C++ extension ``vsray._vsray``; errors it reports are
``VsphereError`` (with ``.code``, ``.fault`` and ``.message``) or, for an invalid
config, ``ConfigError`` (also a ``ValueError``), whose message names the YAML path.
"""

from vsray._vsray import ConfigError, VsphereError, set_log_level

__all__ = ["ConfigError", "VsphereError", "set_log_level", "__version__"]
__version__ = "0.1.0"
