#!/usr/bin/env bash
# Installs everything gapd needs to build and test, from Debian's apt only (run as root, or with sudo).
#   bash scripts/install_deps.sh [EXTRA_PACKAGE ...]   (extras: e.g. the DFT codes, scripts/active_learning/resume_dft.sh)
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libeigen3-dev libboost-dev libboost-math-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev doctest-dev
  zlib1g-dev
  python3-numpy python3-scipy python3-ase python3-matplotlib
  pybind11-dev python3-dev  # the Python module gapd (python/, docs/python.md)
  clang libclang-rt-dev  # the sanitizer + fuzz smoke tests (docs/reliability.md, "In CI"); ~55 MB download
  "$@"
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install_deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
