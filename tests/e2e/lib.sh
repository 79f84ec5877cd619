# lib.sh - shared helpers for the end-to-end tests (like git's test-lib.sh).
#
# Source it from a test script; it sets `set -euo pipefail`, makes a scratch
# directory, and cleans up on exit (servers stopped, scratch removed).
#   ok "what"           records a passing check and prints "ok - what"
#   fail "what"         records a failing check ("not ok - what")
#   check "what" CMD... ok when CMD succeeds
#   refused "what" REGEX CMD...  ok when CMD fails with output matching REGEX
#                       (SW_VERBOSE=1 in the environment shows that output)
#   quiet CMD...        CMD with its output discarded
#   sk ARGS...          skopeo --insecure-policy, HOME in the scratch dir
#   sw_finish           stops the servers (a sanitizer report in a server's log
#                       is a failure), prints "N passed, N failed", and
#                       returns non-zero on failure
#   sw_time_limit SECONDS  ends the script (and all it started) as failed
#                       if it runs longer
#   sw_tmpdir           a new directory inside the scratch dir
#   sw_free_port        a free TCP port on 127.0.0.1
#   sw_write_config DIR PORT [EXTRA_YAML]  writes DIR/slipway.yaml, prints its path
#   sw_blob_file CONFIG DIGEST       the file with a blob's bytes (data dir or S3 test server)
#   sw_start_server CONFIG  starts `slipway serve`, waits for /v2/, sets SW_SERVER_PID
#   sw_stop_server      SIGTERM, then SIGKILL after 10 s; the exit status in
#                       SW_SERVER_STATUS (137 when it had to be killed)
#   sw_make_busybox_rootfs DIR  a root filesystem from Debian's busybox-static
#   sw_busybox_tar FILE     that rootfs as a tarball
#   sw_import_busybox CONFIG REPO:TAG [import args]  that tarball imported
#                       as an image with `slipway import` into CONFIG's store
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

sw_stop_all_servers() {
    # only servers that are still our unreaped children: the PID of one
    # already stopped (and waited for) may belong to someone else by now
    local pid live=() jobs_now
    jobs_now=" $(jobs -p | tr '\n' ' ') "
    for pid in "${SW_SERVER_PIDS[@]}"; do
        [[ $jobs_now == *" $pid "* ]] && live+=("$pid")
    done
    for pid in "${live[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${live[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SW_SERVER_PID=
}

sw_cleanup() {
    [ -z "${SW_WATCHDOG_PID:-}" ] || kill "$SW_WATCHDOG_PID" 2>/dev/null || true
    sw_stop_all_servers
    local cmd
    for cmd in "${SW_CLEANUP_CMDS[@]}"; do eval "$cmd" || true; done
    rm -rf "$SW_SCRATCH"
}
trap sw_cleanup EXIT

# Every process this script started, children first found, by PID.
sw_descendants() { # PID
    local child
    for child in $(pgrep -P "$1" || true); do echo "$child"; sw_descendants "$child"; done
}

# sw_time_limit SECONDS: if the script is still running after SECONDS (a
# hung server or client), end everything it started, count a failure and
# exit, so no test can hang the suite or leave a server behind. The watchdog
# waits with `read -t` on a FIFO nobody writes: no sleep process to leak.
sw_time_limit() {
    local limit=$1 main=$$ fifo=$SW_SCRATCH/watchdog.fifo
    mkfifo "$fifo"
    (
        read -r -t "$limit" _ <> "$fifo" || true
        echo "not ok - the script ran past its time limit of ${limit}s" >&2
        for pid in $(sw_descendants "$main"); do
            [ "$pid" = "$BASHPID" ] || kill -TERM "$pid" 2>/dev/null || true
        done
        kill -TERM "$main"
    ) &
    SW_WATCHDOG_PID=$!
    trap 'SW_WATCHDOG_PID=; SW_FAILED=$((SW_FAILED + 1)); echo "$SW_PASSED passed, $SW_FAILED failed"; exit 124' TERM
}

ok() { SW_PASSED=$((SW_PASSED + 1)); echo "ok - $*"; }
fail() { SW_FAILED=$((SW_FAILED + 1)); echo "not ok - $*"; }
check() { # check "description" command...
    local what=$1; shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
# quiet CMD...: CMD with its output discarded (for check and if)
quiet() { "$@" > /dev/null 2>&1; }

# sk ARGS...: skopeo with no signature policy file needed, and its auth
# files and caches in the scratch dir, never in the real home
sk() { HOME=$SW_SCRATCH XDG_RUNTIME_DIR=$SW_SCRATCH skopeo --insecure-policy "$@"; }

# refused "description" REGEX command...: passes when the command fails and
# its output (stdout + stderr) matches REGEX (grep -E, any case): refused
# for the right reason, not just failing
refused() {
    local what=$1 pattern=$2 out; shift 2
    out=$(mktemp "$SW_SCRATCH/refused.XXXXXX")
    if "$@" > "$out" 2>&1; then fail "$what: the command succeeded"
    elif grep -qiE "$pattern" "$out"; then ok "$what"
    else fail "$what: failed, but not with /$pattern/: $(tail -c 400 "$out")"; fi
    [ -z "${SW_VERBOSE:-}" ] || sed 's/^/#   /' "$out"
}

# A server built with sanitizers (cmake -DCMAKE_BUILD_TYPE=Asan) reports
# memory errors, leaks and undefined behaviour in its log, mostly at exit:
# stop the servers first, then every such report is a failed check.
sw_check_server_logs() {
    local log
    sw_stop_all_servers
    for log in "$SW_SCRATCH"/serve.*.log; do
        [ -e "$log" ] || continue
        if grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$log"; then
            fail "sanitizer report in the server log $(basename "$log"): $(grep -m3 -E 'Sanitizer|runtime error:|#[0-9] ' "$log" | tr '\n' ' ' | cut -c1-600)"
        fi
    done
}

sw_finish() {
    sw_check_server_logs
    echo "$SW_PASSED passed, $SW_FAILED failed"
    [ "$SW_FAILED" -eq 0 ]
}

sw_tmpdir() { mktemp -d "$SW_SCRATCH/d.XXXXXX"; }

# A port the kernel says is free, reserved for this script: test scripts run
# in parallel (ctest -j), and two of them asking at the same moment could be
# handed the same port, so that one test's requests reach another test's
# server. A port is taken by creating $SLIPWAY_TEST_TMP/ports/PORT (mkdir is
# atomic); reservations older than an hour are forgotten.
sw_free_port() {
    local dir=${SLIPWAY_TEST_TMP:-/tmp}/ports p
    mkdir -p "$dir"
    find "$dir" -mindepth 1 -maxdepth 1 -mmin +60 -exec rmdir {} + 2> /dev/null || true
    for _ in $(seq 100); do
        p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if mkdir "$dir/$p" 2> /dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "sw_free_port: no free port found" >&2
    return 1
}

sw_write_config() { # DIR PORT [EXTRA_YAML]
    local dir=$1 port=$2 extra=${3:-} database= storage=
    mkdir -p "$dir/data"
    # SLIPWAY_TEST_DATABASE=postgres: a database of its own in this
    # script's PostgreSQL cluster (see the end of this file)
    if [ -n "${SW_PG_URL:-}" ]; then
        database="database: $(sw_pg_createdb "sw_$$_${RANDOM}_${RANDOM}")" || return 1
    fi
    # SLIPWAY_TEST_STORAGE=s3: blobs in this script's S3 test server, under
    # a prefix of their own (one store per config, as a bucket each would
    # be); the keys come from the environment, as an operator's would
    if [ -n "${SW_S3_ENDPOINT:-}" ]; then
        storage="storage:
  driver: s3
  endpoint: $SW_S3_ENDPOINT
  region: $SW_S3_REGION
  bucket: $SW_S3_BUCKET
  prefix: ${SW_S3_CONFIG_PREFIX:-sw-$$-${RANDOM}${RANDOM}}
  access_key: env:SW_S3_ACCESS_KEY
  secret_key: env:SW_S3_SECRET_KEY
  path_style: true"
    fi
    cat > "$dir/slipway.yaml" <<YAML
server:
  listen: 127.0.0.1:$port
  data_dir: $dir/data
$database
$storage
$extra
YAML
    echo "$dir/slipway.yaml"
}

sw_blob_file() { # CONFIG DIGEST: the file holding a blob's bytes, whichever
    # blob backend the config names (its data dir's blobs/, or the S3 test
    # server's own file for the object); it need not exist
    local cfg=$1 digest=$2 algo hex prefix
    algo=${digest%%:*}; hex=${digest#*:}
    if grep -q '^  driver: s3' "$cfg"; then
        prefix=$(sed -n 's/^  prefix: //p' "$cfg")
        printf '%s/s3/objects/%s/%s%sblobs/%s/%s/%s._S3rver_object' "$SW_SCRATCH" "$SW_S3_BUCKET" \
            "$prefix" "${prefix:+/}" "$algo" "${hex:0:2}" "$hex"
    else
        printf '%s/blobs/%s/%s/%s' "$(sed -n 's/^  data_dir: //p' "$cfg")" "$algo" "${hex:0:2}" "$hex"
    fi
}

sw_sql() { # CONFIG SQL: runs SQL on the config's database (SQLite file or
    # the PostgreSQL database sw_write_config made), one row per line, "|"
    # between columns, as the sqlite3 tool prints them
    local cfg=$1 sql=$2 url data
    url=$(sed -n 's/^database: *//p' "$cfg")
    if [ -n "$url" ]; then
        PGPASSWORD=$SLIPWAY_TEST_PGPASSWORD psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 \
            -p "$SW_PG_PORT" -U slipway -d "${url##*/}" -c "$sql"
    else
        data=$(sed -n 's/^  data_dir: *//p' "$cfg")
        sqlite3 "$data/slipway.db" "$sql"
    fi
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
    if ! sw_wait_http "$scheme://$listen/v2/" 20 || ! kill -0 "$SW_SERVER_PID" 2> /dev/null; then
        # (an answer from a process that is not ours is no start either)
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
    SW_SERVER_STATUS=0
    wait "$SW_SERVER_PID" 2>/dev/null || SW_SERVER_STATUS=$?
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

sw_tools_tar() { # FILE: the busybox rootfs plus the host's ssh-add, ssh and git (with their
    # libraries), for steps that talk to an SSH agent or clone (RUN --mount=type=ssh)
    local file=$1 root b lib
    root=$(sw_tmpdir)
    sw_make_busybox_rootfs "$root"
    mkdir -p "$root/usr/bin" "$root/usr/lib/git-core" "$root/home/app"
    chown 1000:1000 "$root/home/app"
    for b in ssh-add ssh git; do
        cp "/usr/bin/$b" "$root/usr/bin/$b"
        ldd "/usr/bin/$b" | awk '/=>/ && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
    done | sort -u | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
    cp /usr/bin/git "$root/usr/lib/git-core/git"
    tar -C "$root" --numeric-owner -cf "$file" .
}

sw_import_busybox() { # CONFIG REPO:TAG [extra import args, e.g. --cmd JSON]
    local cfg=$1 ref=$2; shift 2
    [ -s "$SW_SCRATCH/busybox.tar" ] || sw_busybox_tar "$SW_SCRATCH/busybox.tar"
    "$SLIPWAY_BIN" import --config "$cfg" "$@" "tar:$SW_SCRATCH/busybox.tar" "$ref"
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

# SLIPWAY_TEST_DATABASE=postgres runs the script on PostgreSQL: a throwaway
# cluster (tests/lib/pg.sh) for the whole script, stopped by sw_cleanup, and
# a database per config written by sw_write_config.
if [ "${SLIPWAY_TEST_DATABASE:-sqlite}" = postgres ]; then
    # shellcheck source=../lib/pg.sh
    . "$(dirname "${BASH_SOURCE[0]}")/../lib/pg.sh"
    sw_pg_start || exit 1
    echo "# database: PostgreSQL ($SW_PG_URL)"
fi

# SLIPWAY_TEST_STORAGE=s3 stores blobs in S3: the SigV4-verifying test
# server (tests/lib/s3-lib.sh) for the whole script, stopped by
# sw_cleanup, and a key prefix per config written by sw_write_config
# (SW_S3_CONFIG_PREFIX set: that prefix, for two front ends sharing one
# store).
if [ "${SLIPWAY_TEST_STORAGE:-filesystem}" = s3 ]; then
    # shellcheck source=../lib/s3-lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/../lib/s3-lib.sh"
    sw_s3_start "$SW_SCRATCH/s3" || exit 1
    SW_CLEANUP_CMDS+=("sw_s3_stop")
    export SW_S3_ACCESS_KEY SW_S3_SECRET_KEY
    echo "# storage: S3 ($SW_S3_ENDPOINT, bucket $SW_S3_BUCKET)"
fi
