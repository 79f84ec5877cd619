#!/bin/sh
# cppcheck --enable=warning,portability over every C source: CI fails on
# any finding. jansson's iteration macros are described to it so it does
# not stop at them (it cannot see system headers).
set -eu
cd "${SLIPWAY_SOURCE_DIR:-$(dirname "$0")/../..}"
command -v cppcheck > /dev/null || { echo "cppcheck is not installed" >&2; exit 1; }
out=$(cppcheck --enable=warning,portability --quiet --inline-suppr --error-exitcode=1 \
    -I . -D_GNU_SOURCE --std=c11 --include=tests/lint/cppcheck-macros.h \
    core registry builder worker server cli 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "$out"; exit 1; }
echo "cppcheck: no findings"
