# lib.sh - shared helpers for the end-to-end tests (like git's test-lib.sh).
#
# Source it from a test script; it sets `set -euo pipefail`, makes a scratch
# directory, and cleans up on exit (servers stopped, scratch removed).
#   ok "what"           records a passing check and prints "ok - what"
#   fail "what"         records a failing check ("not ok - what")
#   sw_finish           prints "N passed, N failed" and exits non-zero on failure
#   sw_tmpdir           a new directory inside the scratch dir
#   sw_free_port        a free TCP port on 127.0.0.1
#   sw_write_config DIR PORT [EXTRA_YAML]  writes DIR/slipway.yaml, prints its path
#   sw_start_server CONFIG  starts `slipway serve`, waits for /v2/, sets SW_SERVER_PID
#   sw_stop_server      SIGTERM, then SIGKILL after 10 s
#   sw_make_busybox_rootfs DIR  a root filesystem from Debian's busybox-static
#   sw_busybox_tar FILE     that rootfs as a tarball
#   expect_status METHOD URL STATUS [curl args...]
#   expect_error_code METHOD URL STATUS CODE [curl args...]
set -euo pipefail

: "${SLIPWAY_BIN:?SLIPWAY_BIN must point at the slipway binary}"
SW_TMP_ROOT=${SLIPWAY_TEST_TMP:-/tmp}
mkdir -p "$SW_TMP_ROOT"
SW_SCRATCH=$(mktemp -d "$SW_TMP_ROOT/e2e-$(basename "$0" .sh).XXXXXX")
SW_PASSED=0
SW_FAILED=0
SW_SERVER_PID=
SW_SERVER_PIDS=()
SW_CLEANUP_CMDS=()

sw_cleanup() {
    local pid
    for pid in "${SW_SERVER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${SW_SERVER_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    local cmd
    for cmd in "${SW_CLEANUP_CMDS[@]}"; do eval "$cmd" || true; done
    rm -rf "$SW_SCRATCH"
}
trap sw_cleanup EXIT

ok() { SW_PASSED=$((SW_PASSED + 1)); echo "ok - $*"; }
fail() { SW_FAILED=$((SW_FAILED + 1)); echo "not ok - $*"; }
check() { # check "description" command...
    local what=$1; shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

sw_finish() {
    echo "$SW_PASSED passed, $SW_FAILED failed"
    [ "$SW_FAILED" -eq 0 ]
}

sw_tmpdir() { mktemp -d "$SW_SCRATCH/d.XXXXXX"; }

sw_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sw_write_config() { # DIR PORT [EXTRA_YAML]
    local dir=$1 port=$2 extra=${3:-}
    mkdir -p "$dir/data"
    cat > "$dir/slipway.yaml" <<YAML
server:
  listen: 127.0.0.1:$port
  data_dir: $dir/data
$extra
YAML
    echo "$dir/slipway.yaml"
}

sw_wait_http() { # URL [seconds] [curl args]
    local url=$1 limit=${2:-20}; shift 2 || true
    local i
    for i in $(seq $((limit * 10))); do
        if curl -s -o /dev/null -k "$@" "$url"; then return 0; fi
        sleep 0.1
    done
    return 1
}

sw_start_server() { # CONFIG [extra serve args]
    local cfg=$1; shift
    local log
    log=$(mktemp "$SW_SCRATCH/serve.XXXXXX.log")
    "$SLIPWAY_BIN" serve --config "$cfg" "$@" > "$log" 2>&1 &
    SW_SERVER_PID=$!
    SW_SERVER_PIDS+=("$SW_SERVER_PID")
    SW_SERVER_LOG=$log
    local listen scheme=http
    listen=$(sed -n 's/^ *listen: *//p' "$cfg" | head -1 | tr -d '"')
    grep -q '^ *tls:' "$cfg" && scheme=https
    if ! sw_wait_http "$scheme://$listen/v2/" 20; then
        echo "slipway serve did not start; its log:" >&2
        cat "$log" >&2
        return 1
    fi
}

sw_stop_server() {
    [ -n "$SW_SERVER_PID" ] || return 0
    kill -TERM "$SW_SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SW_SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SW_SERVER_PID" 2>/dev/null || true
    wait "$SW_SERVER_PID" 2>/dev/null || true
    SW_SERVER_PID=
}

sw_make_busybox_rootfs() { # DIR
    local dir=$1 app
    mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root"
    chmod 755 "$dir" "$dir/bin" "$dir/etc"
    chmod 700 "$dir/root"
    cp /bin/busybox "$dir/bin/busybox"
    for app in sh ls cat echo id mkdir rm touch chmod chown test grep sleep wc head stat env \
               pwd ln wget true false sed tr cut sort uniq find hostname ps dd; do
        ln -sf busybox "$dir/bin/$app"
    done
    chmod 1777 "$dir/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' > "$dir/etc/passwd"
    printf 'root:x:0:\napp:x:1000:\n' > "$dir/etc/group"
}

sw_busybox_tar() { # FILE
    local file=$1 root
    root=$(sw_tmpdir)
    sw_make_busybox_rootfs "$root"
    tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$file" .
}

expect_status() { # METHOD URL STATUS [curl args]
    local method=$1 url=$2 want=$3; shift 3
    local got
    got=$(curl -s -o "$SW_SCRATCH/last-body" -w '%{http_code}' -X "$method" "$@" "$url")
    if [ "$got" = "$want" ]; then ok "$method $url -> $want"
    else fail "$method $url -> $got, expected $want: $(head -c 300 "$SW_SCRATCH/last-body")"; fi
}

expect_error_code() { # METHOD URL STATUS CODE [curl args]
    local method=$1 url=$2 want=$3 code=$4; shift 4
    local got body_code
    got=$(curl -s -o "$SW_SCRATCH/last-body" -w '%{http_code}' -X "$method" "$@" "$url")
    body_code=$(jq -r '.errors[0].code // empty' "$SW_SCRATCH/last-body" 2>/dev/null || true)
    if [ "$got" = "$want" ] && [ "$body_code" = "$code" ]; then ok "$method $url -> $want $code"
    else fail "$method $url -> $got $body_code, expected $want $code"; fi
}
