"""The wheel as a user gets it: built by setup.py (around the _vsray module that CMake already
built, $VSRAY_MODULE, to keep this cheap), installed offline into a fresh venv, then the `vsray`
console script and the provider run from that venv alone. The installed module needs nothing
at run time but libcurl, OpenSSL, the C/C++ runtime and what libcurl itself loads; setup.py
names a missing build requirement in one line."""

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

SOURCE = pathlib.Path(os.environ.get("VSRAY_SOURCE_DIR", pathlib.Path(__file__).parents[2]))
MODULE = os.environ.get("VSRAY_MODULE", "")
VERSION = "0.1.0"

# What the module may load itself: libcurl and OpenSSL, and the C and C++ runtimes. Plus, found
# at test time, what that libcurl loads: libssh.a is linked in and needs GSSAPI and zlib, which
# Debian's libcurl loads anyway (so the module adds no package to libcurl4's).
ALLOWED_NEEDED = {
    "libcurl.so.4", "libssl.so.3", "libcrypto.so.3",
    "libstdc++.so.6", "libgcc_s.so.1", "libm.so.6", "libc.so.6", "ld-linux-x86-64.so.2",
}


def clean_env(**extra):
    """The environment without the build tree on PYTHONPATH (the venv must stand alone)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def run(args, cwd, env=None, check=True):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env or clean_env(),
                            capture_output=True, text=True, timeout=240, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def copy_sources(into):
    """What a source checkout holds for setup.py: setup.py, pyproject.toml, python/."""
    into.mkdir()
    for name in ("setup.py", "pyproject.toml"):
        shutil.copy(SOURCE / name, into / name)
    shutil.copytree(SOURCE / "python", into / "python",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return into


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv (no system site-packages) with the wheel installed by pip, offline."""
    if not MODULE or not pathlib.Path(MODULE).is_file():
        pytest.fail("VSRAY_MODULE must name the built _vsray module (ctest sets it)")
    root = tmp_path_factory.mktemp("wheel")
    source = copy_sources(root / "source")
    # Without its debug information (most of a RelWithDebInfo module), as setup.py's Release
    # build would be: zipping and unzipping it would dominate the test's time.
    module = root / pathlib.Path(MODULE).name
    run(["objcopy", "--strip-debug", MODULE, module], cwd=root)
    dist = root / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-index", "--no-build-isolation", "--no-deps",
         "-w", dist, source], cwd=root, env=clean_env(VSRAY_PREBUILT_MODULE=str(module)))
    wheels = list(dist.glob("vsray-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = root / "venv"
    run([sys.executable, "-m", "venv", env_dir], cwd=root)
    run([env_dir / "bin" / "pip", "install", "--no-index", "--no-build-isolation", wheels[0]],
        cwd=root)
    return env_dir


BAD_CONFIG = """\
cluster_name: wheel
provider:
  type: external
  module: vsray.ray_provider.VsphereNodeProvider
  vsphere_config:
    credentials: {server: 127.0.0.1, user: someone, password: not-a-secret}
    frozen_vmm: {name: frozen-vm}
"""


def test_console_script_runs_the_command_line(venv, tmp_path):
    vsray = venv / "bin" / "vsray"
    version = run([vsray, "--version"], cwd=tmp_path)
    assert version.stdout.strip() == f"vsray {VERSION}"
    # The same C++ command line: its usage errors and config errors, with its exit codes.
    bogus = run([vsray, "bogus"], cwd=tmp_path, check=False)
    assert bogus.returncode == 2, bogus
    assert "bogus" in bogus.stderr, bogus
    config = tmp_path / "bad.yaml"
    config.write_text(BAD_CONFIG)
    bad = run([vsray, "nodes", config], cwd=tmp_path, check=False)
    assert bad.returncode == 2, bad
    error = bad.stdout + bad.stderr
    assert "bad.yaml:7" in error and "frozen_vmm" in error, error
    assert "not-a-secret" not in error
    module = run([venv / "bin" / "python", "-m", "vsray", "--version"], cwd=tmp_path)
    assert module.stdout.strip() == f"vsray {VERSION}"


def sim_config_for(tmp_path, server, extra=""):
    """The simulator example aimed at SERVER (without a CA file: nothing gets that far), with
    EXTRA lines in its vsphere_config."""
    lines = []
    for line in (SOURCE / "examples" / "ray-sim-minimal.yaml").read_text().splitlines():
        if "tls:" not in line and "ca_file:" not in line:
            lines.append(line.replace("127.0.0.1:18443", server))
        if line.strip() == "vsphere_config:" and extra:
            lines.append(extra)
    text = "\n".join(lines)
    config = tmp_path / "sim.yaml"
    config.write_text(text + "\n")
    return config


def test_ctrl_c_cancels_a_watching_command(venv, tmp_path):
    """status --watch watches for SIGINT (as in the binary): it ends its round and exits 130."""
    config = sim_config_for(tmp_path, "127.0.0.1:1")  # nothing listens: every round fails fast
    proc = subprocess.Popen([venv / "bin" / "vsray", "status", config, "--json", "--watch", "1"],
                            cwd=tmp_path, env=clean_env(VSPHERE_PASSWORD="pw"), text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        for _ in range(2):  # one JSON object per round
            line = proc.stdout.readline()
            assert line.startswith("{"), f"status --watch ended early: {proc.stderr.read()}"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert "interrupted" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ctrl_c_kills_a_command_that_does_not_watch(venv, tmp_path):
    """Elsewhere SIGINT kills the process, as it kills the binary, instead of waiting for
    vCenter (here, a server that accepts the connection and never answers) to time out."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(60)
        # Without the kill, vsray would wait an hour for the server, far past the deadline below.
        config = sim_config_for(tmp_path, f"127.0.0.1:{server.getsockname()[1]}",
                                "    timeouts: {call_s: 3600, connect_s: 3600}")
        proc = subprocess.Popen([venv / "bin" / "vsray", "nodes", config], cwd=tmp_path,
                                env=clean_env(VSPHERE_PASSWORD="pw"), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            connection, _ = server.accept()  # vsray is now waiting for the TLS handshake
            with connection:
                proc.send_signal(signal.SIGINT)
                assert proc.wait(timeout=30) == -signal.SIGINT, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_provider_imports_from_the_venv(venv, tmp_path):
    out = run([venv / "bin" / "python", "-c",
               "from vsray.ray_provider import VsphereNodeProvider; import vsray._vsray as m; "
               "print(VsphereNodeProvider.__name__); print(m.__file__)"], cwd=tmp_path)
    name, module_file = out.stdout.split()
    assert name == "VsphereNodeProvider"
    assert pathlib.Path(module_file).resolve().is_relative_to(venv.resolve())


def needed_libraries(path):
    dynamic = run(["readelf", "-d", path], cwd=path.parent).stdout
    return {re.search(r"\[(.*)\]", line).group(1)
            for line in dynamic.splitlines() if "(NEEDED)" in line}


def loaded_libraries(path):
    """ldd's view of a shared object: {soname: resolved path or None}."""
    libraries = {}
    for line in run(["ldd", path], cwd=path.parent).stdout.splitlines():
        match = re.match(r"\s*(\S+)(?: => (\S+))?", line)
        if match and not match.group(1).startswith("linux-vdso"):
            libraries[pathlib.Path(match.group(1)).name] = match.group(2)
    return libraries


def test_installed_module_needs_only_libcurl_and_openssl(venv):
    modules = list(venv.glob("lib/python3*/site-packages/vsray/_vsray*.so"))
    assert len(modules) == 1, modules
    needed = needed_libraries(modules[0])
    print(f"NEEDED of {modules[0].name}: {sorted(needed)}")
    assert "libcurl.so.4" in needed  # the check reads the real list
    libcurl = loaded_libraries(modules[0])["libcurl.so.4"]
    assert libcurl, "ldd does not resolve libcurl.so.4"
    curls_own = set(loaded_libraries(pathlib.Path(libcurl)))
    print(f"{libcurl} loads: {sorted(curls_own)}")
    assert {"libssl.so.3", "libcrypto.so.3"} <= curls_own  # it is the OpenSSL flavour
    allowed = ALLOWED_NEEDED | curls_own
    assert needed <= allowed, (
        f"{modules[0].name} needs libraries beyond libcurl, OpenSSL and the C/C++ runtime: "
        f"{', '.join(sorted(needed - allowed))}")


@pytest.mark.parametrize("tools,missing", [
    ((), "cmake"),
    (("cmake",), "a C++20 compiler"),
])
def test_setup_py_names_a_missing_tool(tmp_path, tools, missing):
    source = copy_sources(tmp_path / "source")
    bin_dir = tmp_path / "bin"  # a PATH with python3, the given tools and nothing else
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    for tool in tools:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = clean_env(PATH=str(bin_dir))
    env.pop("CXX", None)
    result = run([sys.executable, "setup.py", "build_ext"], cwd=source, env=env, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"vsray setup.py: missing {missing}"), result.stderr
    assert "/usr/bin/python3" in last


def test_setup_py_names_a_missing_bdist_wheel(tmp_path):
    source = copy_sources(tmp_path / "source")
    hide = tmp_path / "hide"  # makes `wheel` (and setuptools' own bdist_wheel) unimportable
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'wheel' or name == 'setuptools.command.bdist_wheel':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Hide())\n")
    result = run([sys.executable, "setup.py", "bdist_wheel"], cwd=source,
                 env=clean_env(PYTHONPATH=str(hide)), check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("vsray setup.py: missing setuptools' bdist_wheel"), result.stderr
    assert "invalid command" not in result.stderr
