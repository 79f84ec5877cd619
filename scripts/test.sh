#!/bin/sh
# Installs what is missing, builds Slipway and runs the whole test suite
# (C unit tests and end-to-end tests) through ctest. Run from anywhere.
set -eu
cd "$(dirname "$0")/.."

sh scripts/install-deps.sh --test
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j2 --timeout 900
