#!/usr/bin/env bash
# Installs every Debian package that building, testing and running the vsray demo needs.
# Idempotent: when everything is present it does nothing (no apt-get update either).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates openssl
  openssh-client  # ssh-keygen reads the key pairs vsray writes (tests/config/keypair_test.cc)
  clang clang-tidy clang-format libclang-rt-14-dev
  libcurl4-openssl-dev libpugixml-dev nlohmann-json3-dev libyaml-dev libssh-dev
  libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev googletest
  pybind11-dev python3-dev python3-pytest python3-pip python3-setuptools python3-wheel python3-venv
  python3-pyvmomi python3-yaml
  # what Ray's pure-Python launcher and autoscaler import (tests/ray, from Ray's source)
  python3-jsonschema python3-psutil python3-click python3-colorama python3-filelock
  python3-msgpack python3-protobuf python3-requests
  golang-go golang-github-vmware-govmomi-dev
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
