"""Builds vsray._vsray with CMake (only that target: no simulator, tests or benchmarks).

Needs cmake, a C++20 compiler and the Debian -dev packages of scripts/install-deps.sh; no
network. Environment: VSRAY_JOBS (parallel compile jobs, default: CPU count),
VSRAY_CMAKE_ARGS (extra configure arguments), VSRAY_BUILD_TYPE (default Release).
"""

import os
import pathlib
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        # CMake writes the module straight to where setuptools expects it.
        out_dir = pathlib.Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = pathlib.Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            f"-DCMAKE_BUILD_TYPE={os.environ.get('VSRAY_BUILD_TYPE', 'Release')}",
            "-DVSRAY_BUILD_SIM=OFF", "-DVSRAY_BUILD_TESTS=OFF", "-DVSRAY_BUILD_BENCH=OFF",
            "-DVSRAY_BUILD_PYTHON=ON",
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
