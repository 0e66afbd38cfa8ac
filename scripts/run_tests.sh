#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every test through ctest
# (doctest unit tests + Python end-to-end tests). This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
cd build
# One test per core: the sanitized build (~8 min, one test) is the longest path; the others run beside it.
ctest --output-on-failure --timeout 900 -j "$(nproc)"
