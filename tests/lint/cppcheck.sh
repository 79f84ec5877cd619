#!/bin/sh
# cppcheck --enable=warning,portability over every C source: CI fails on
# any finding. jansson's iteration macros are described to it so it does
# not stop at them (it cannot see system headers).
set -eu
cd "${SLIPWAY_SOURCE_DIR:-$(dirname "$0")/../..}"
command -v cppcheck > /dev/null || { echo "cppcheck is not installed" >&2; exit 1; }
out=$(cppcheck --enable=warning,portability --quiet --inline-suppr --error-exitcode=1 \
    -I . -D_GNU_SOURCE --std=c11 \
    '-Djson_array_foreach(a,i,v)=for(i=0,v=0;i<1;i++)' \
    '-Djson_object_foreach(o,k,v)=for(k=0,v=0;k;)' \
    '-Djson_object_foreach_safe(o,t,k,v)=for(k=0,v=0,t=0;k;)' \
    core registry builder worker server cli 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "$out"; exit 1; }
echo "cppcheck: no findings"
