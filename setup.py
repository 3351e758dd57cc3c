"""Builds vsray._vsray with CMake (only that target: no simulator, tests or benchmarks).

Needs cmake, a C++20 compiler, pybind11, Python's headers, setuptools' bdist_wheel (for a
wheel) and the Debian -dev packages of scripts/install-deps.sh (use Debian's /usr/bin/python3,
which has them); no network. A missing one stops the build with one line naming it.
Environment: VSRAY_JOBS (parallel compile jobs, default: CPU count), VSRAY_CMAKE_ARGS (extra
configure arguments), VSRAY_BUILD_TYPE (default Release), VSRAY_PREBUILT_MODULE (package this
already built _vsray module instead of building one; tests use it).
"""

import glob

import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent

HINT = ("install the packages of scripts/install-deps.sh and build with Debian's "
        "/usr/bin/python3 (see README.md, 'Using vsray from Ray')")


def _importable(*modules):
    for module in modules:
        try:
            __import__(module)
            return True
        except ImportError:
            pass
    return False


def _have_pybind11():
    if os.environ.get("pybind11_DIR") or _importable("pybind11"):
        return True  # pip's pybind11 knows its own CMake directory
    prefixes = {sys.prefix, sys.base_prefix, "/usr", "/usr/local"}
    return any(glob.glob(os.path.join(prefix, pattern, "pybind11Config.cmake"))
               for prefix in prefixes
               for pattern in ("lib/cmake/pybind11", "share/cmake/pybind11",
                               "lib/*/cmake/pybind11"))


def _have_compiler():
    compiler = os.environ.get("CXX", "").split()
    if compiler:
        return shutil.which(compiler[0]) is not None
    return any(shutil.which(name) for name in ("c++", "g++", "clang++"))


def missing_build_requirement(wheel):
    """The first missing build requirement (a short phrase naming it), or None."""
    if wheel and not _importable("setuptools.command.bdist_wheel", "wheel.bdist_wheel"):
        return "setuptools' bdist_wheel command (Debian: python3-wheel)"
    if not shutil.which("cmake"):
        return "cmake (Debian: cmake)"
    if not _have_compiler():
        return "a C++20 compiler (Debian: g++ or clang)"
    if not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        return f"the headers of Python {sysconfig.get_python_version()} (Debian: python3-dev)"
    if not _have_pybind11():
        return "pybind11 (Debian: pybind11-dev)"
    return None


def require_build_requirements(wheel):
    missing = missing_build_requirement(wheel)
    if missing:
        sys.exit(f"vsray setup.py: missing {missing}: {HINT}")


# Without bdist_wheel, a wheel build would end in "invalid command 'bdist_wheel'".
if "bdist_wheel" in sys.argv:
    require_build_requirements(wheel=True)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        prebuilt = os.environ.get("VSRAY_PREBUILT_MODULE")
        if prebuilt:  # a module CMake already built (tests): packaged as it is
            target = pathlib.Path(self.get_ext_fullpath(ext.name))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(prebuilt, target)
            return
        require_build_requirements(wheel=False)
        # CMake writes the module straight to where setuptools expects it.
        out_dir = pathlib.Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = pathlib.Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            f"-DCMAKE_BUILD_TYPE={os.environ.get('VSRAY_BUILD_TYPE', 'Release')}",
            "-DVSRAY_BUILD_SIM=OFF", "-DVSRAY_BUILD_TESTS=OFF", "-DVSRAY_BUILD_BENCH=OFF",
            "-DVSRAY_BUILD_PYTHON=ON", "-DVSRAY_REQUIRE_PYTHON_MODULE=ON",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DVSRAY_PYTHON_OUTPUT_DIR={out_dir}",
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        configure += shlex.split(os.environ.get("VSRAY_CMAKE_ARGS", ""))
        subprocess.check_call(configure)
        jobs = os.environ.get("VSRAY_JOBS") or str(os.cpu_count() or 1)
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "_vsray", "-j", jobs])
        if not pathlib.Path(self.get_ext_fullpath(ext.name)).exists():
            raise RuntimeError(f"CMake did not produce {self.get_ext_fullpath(ext.name)}")


setup(
    ext_modules=[CMakeExtension("vsray._vsray")],
    cmdclass={"build_ext": CMakeBuild},
    # Not build/: that is the CMake development build directory.
    options={"build": {"build_base": "build-python"}},
    zip_safe=False,
)
