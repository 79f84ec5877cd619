#!/bin/sh
# Fails when a C file differs from .clang-format; prints the difference.
# Fix with: git ls-files '*.c' '*.h' | xargs clang-format -i
set -eu
cd "${SLIPWAY_SOURCE_DIR:-$(dirname "$0")/../..}"
command -v clang-format >/dev/null || { echo "clang-format is not installed" >&2; exit 1; }
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*'); do
    if ! clang-format --style=file "$f" | cmp -s "$f" -; then
        echo "not formatted: $f"
        clang-format --style=file "$f" | diff -u "$f" - | head -20 || true
        bad=$((bad + 1))
    fi
done
if [ "$bad" -ne 0 ]; then
    echo "$bad file(s) differ from .clang-format" >&2
    exit 1
fi
echo "all C files match .clang-format"
