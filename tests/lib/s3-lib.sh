# s3-lib.sh - start and stop the S3 test server (tests/lib/s3-server.js) on
# a free 127.0.0.1 port with a temporary directory. Source it from bash.
#
#   sw_s3_start DIR   starts the server storing into DIR (created), with
#                     one bucket; sets SW_S3_PID, SW_S3_ENDPOINT,
#                     SW_S3_REGION, SW_S3_BUCKET, SW_S3_ACCESS_KEY,
#                     SW_S3_SECRET_KEY (fresh random keys every start)
#   sw_s3_stop        stops it (SIGTERM, then SIGKILL) and waits for it
#
# Set before sw_s3_start: SW_S3_HOST=ADDR listens on that address instead of
# 127.0.0.1, SW_S3_NETNS=NAME runs it in that network namespace
# (tests/lib/netns.sh's hub).
#
# The server is installed by scripts/install-deps.sh --test into
# /opt/slipway-test/s3 (SLIPWAY_S3_SERVER_DIR overrides). Missing is a
# failure, never a skip: a test that cannot reach its S3 proves nothing.

SW_S3_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SW_S3_SERVER_DIR=${SLIPWAY_S3_SERVER_DIR:-/opt/slipway-test/s3}
SW_S3_PID=
SW_S3_HOST=${SW_S3_HOST:-127.0.0.1}
SW_S3_NETNS=${SW_S3_NETNS:-}

# A free port, reserved the way tests/e2e/lib.sh's sw_free_port does (the
# same directory), so parallel tests never share one.
sw_s3_free_port() {
    local dir=${SLIPWAY_TEST_TMP:-/tmp}/ports p
    mkdir -p "$dir"
    for _ in $(seq 100); do
        p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if mkdir "$dir/$p" 2> /dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "sw_s3_free_port: no free port found" >&2
    return 1
}

sw_s3_start() { # DIR
    local dir=$1 port log
    if ! [ -f "$SW_S3_SERVER_DIR/node_modules/s3rver/package.json" ]; then
        echo "the S3 test server is not installed in $SW_S3_SERVER_DIR:" \
            "run scripts/install-deps.sh --test" >&2
        return 1
    fi
    mkdir -p "$dir/objects"
    port=$(sw_s3_free_port)
    SW_S3_REGION=us-east-1
    SW_S3_BUCKET=slipway-test
    SW_S3_ACCESS_KEY=AKID$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
    SW_S3_SECRET_KEY=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
    log=$dir/s3-server.log
    local ns=()
    [ -z "$SW_S3_NETNS" ] || ns=(nsenter --net="/run/netns/$SW_S3_NETNS")
    NODE_PATH=$SW_S3_SERVER_DIR/node_modules "${ns[@]}" node "$SW_S3_LIB_DIR/s3-server.js" \
        --address "$SW_S3_HOST" --port "$port" --dir "$dir/objects" --region "$SW_S3_REGION" \
        --access-key "$SW_S3_ACCESS_KEY" --secret-key "$SW_S3_SECRET_KEY" \
        --bucket "$SW_S3_BUCKET" > "$log" 2>&1 &
    SW_S3_PID=$!
    for _ in $(seq 200); do
        if grep -q '^ready ' "$log" 2> /dev/null; then
            SW_S3_ENDPOINT=http://$SW_S3_HOST:$port
            return 0
        fi
        kill -0 "$SW_S3_PID" 2> /dev/null || break
        sleep 0.1
    done
    echo "the S3 test server did not start; its log:" >&2
    cat "$log" >&2
    sw_s3_stop
    return 1
}

sw_s3_stop() {
    [ -n "$SW_S3_PID" ] || return 0
    kill -TERM "$SW_S3_PID" 2> /dev/null || true
    for _ in $(seq 50); do kill -0 "$SW_S3_PID" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$SW_S3_PID" 2> /dev/null || true
    wait "$SW_S3_PID" 2> /dev/null || true
    SW_S3_PID=
}
