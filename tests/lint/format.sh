#!/bin/sh
# Fails when a C file differs from .clang-format, naming the places.
# Fix with: git ls-files '*.c' '*.h' | xargs clang-format -i
set -eu
cd "${SLIPWAY_SOURCE_DIR:-$(dirname "$0")/../..}"
command -v clang-format > /dev/null || { echo "clang-format is not installed" >&2; exit 1; }
files=$(git ls-files '*.c' '*.h' 2> /dev/null || find . -name '*.[ch]' -not -path './build*')
# shellcheck disable=SC2086
if ! clang-format --style=file --dry-run --Werror $files; then
    echo "C files differ from .clang-format (see above); run clang-format -i on them" >&2
    exit 1
fi
echo "all C files match .clang-format"
