#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz) in a separate clang tree and runs
# them. See docs/fuzzing.md.
#
#   scripts/fuzz.sh [--merge] TARGET SECONDS [libFuzzer flags...]
#       runs fuzz_TARGET on tests/fuzz/corpus/TARGET for SECONDS; new inputs
#       go to a scratch dir (BUILD/fuzz-work/TARGET/new), never into the
#       committed corpus. With --merge, the scratch inputs that add coverage
#       are then merged into the committed corpus (libFuzzer -merge=1).
#   scripts/fuzz.sh --smoke SECONDS
#       every target for SECONDS each (CI); exits 77 when no clang with
#       libFuzzer is available.
#   scripts/fuzz.sh --list
#
# The tree is $SLIPWAY_FUZZ_BUILD (default: build-fuzz in the source dir),
# configured with CC=clang -DSLIPWAY_FUZZ=ON on first use. A crash, leak,
# timeout or sanitizer report makes the exit status non-zero and leaves the
# input in BUILD/fuzz-work/TARGET/ (crash-*, leak-*, timeout-*).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${SLIPWAY_FUZZ_BUILD:-$src/build-fuzz}
CLANG=${CLANG:-clang}

usage() {
    echo "usage: fuzz.sh [--merge] TARGET SECONDS [libFuzzer flags]" >&2
    echo "       fuzz.sh --smoke SECONDS | --list" >&2
    exit 2
}

targets() {
    for f in "$src"/tests/fuzz/fuzz_*.c; do
        t=$(basename "$f" .c)
        echo "${t#fuzz_}"
    done
}

# 0 when clang can build and link a libFuzzer target.
have_libfuzzer() {
    command -v "$CLANG" >/dev/null 2>&1 || return 1
    tmp=$(mktemp -d)
    printf '%s\n' '#include <stdint.h>' '#include <stddef.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$tmp/t.c"
    ok=0
    "$CLANG" -fsanitize=fuzzer,address,undefined "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1 || ok=1
    rm -rf "$tmp"
    return $ok
}

configure() {
    if [ ! -f "$build/CMakeCache.txt" ]; then
        CC=$CLANG cmake -S "$src" -B "$build" -DSLIPWAY_FUZZ=ON \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
}

build_targets() {
    configure
    names=""
    for t in "$@"; do names="$names fuzz_$t"; done
    # shellcheck disable=SC2086
    cmake --build "$build" -j"$(nproc)" --target $names >/dev/null
}

# run TARGET SECONDS [flags]
run() {
    t=$1 secs=$2
    shift 2
    bin=$build/tests/fuzz/fuzz_$t
    corpus=$src/tests/fuzz/corpus/$t
    work=$build/fuzz-work/$t
    mkdir -p "$work/new" "$corpus"
    # tests/fuzz/TARGET.dict: keywords of the format, for JSON/YAML/headers.
    dict=$src/tests/fuzz/$t.dict
    if [ -f "$dict" ]; then
        set -- -dict="$dict" "$@"
    fi
    # The ASan/UBSan options make every finding fatal and reproducible.
    ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    TMPDIR=$work \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$work/" "$@" "$work/new" "$corpus"
}

merge() {
    t=$1
    bin=$build/tests/fuzz/fuzz_$t
    corpus=$src/tests/fuzz/corpus/$t
    work=$build/fuzz-work/$t
    before=$(ls "$corpus" | wc -l)
    TMPDIR=$work "$bin" -merge=1 -timeout=10 -rss_limit_mb=2048 "$corpus" "$work/new" \
        >"$work/merge.log" 2>&1 || { tail -20 "$work/merge.log" >&2; return 1; }
    after=$(ls "$corpus" | wc -l)
    echo "fuzz.sh: $t corpus $before -> $after files ($(du -sb --apparent-size "$corpus" | cut -f1) bytes)"
}

case "${1:-}" in
--list)
    targets
    ;;
--smoke)
    [ $# -eq 2 ] || usage
    if ! have_libfuzzer; then
        echo "fuzz.sh: no clang with libFuzzer ($CLANG); skipping" >&2
        exit 77
    fi
    all=$(targets)
    # shellcheck disable=SC2086
    build_targets $all
    failed=""
    for t in $all; do
        log=$build/fuzz-work/$t.smoke.log
        # Start from the committed corpus only, so smoke runs stay short.
        rm -rf "$build/fuzz-work/$t/new"
        mkdir -p "$build/fuzz-work"
        if run "$t" "$2" >"$log" 2>&1; then
            echo "fuzz.sh: $t: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs, ok"
        else
            echo "fuzz.sh: $t: FAILED" >&2
            tail -40 "$log" >&2
            failed="$failed $t"
        fi
    done
    [ -z "$failed" ] || { echo "fuzz.sh: findings in:$failed" >&2; exit 1; }
    ;;
--merge | [a-z]*)
    domerge=0
    if [ "$1" = --merge ]; then
        domerge=1
        shift
    fi
    [ $# -ge 2 ] || usage
    t=$1 secs=$2
    shift 2
    [ -f "$src/tests/fuzz/fuzz_$t.c" ] || { echo "fuzz.sh: no target $t (see --list)" >&2; exit 2; }
    build_targets "$t"
    rc=0
    run "$t" "$secs" "$@" || rc=$?
    if [ $domerge -eq 1 ]; then
        merge "$t"
    fi
    exit $rc
    ;;
*)
    usage
    ;;
esac
