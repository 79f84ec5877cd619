#!/usr/bin/env bash
# pg.sh - a throwaway PostgreSQL cluster for the tests (Debian's
# postgresql package: initdb + pg_ctl in a temporary directory owned by the
# postgres user, since PostgreSQL refuses to run as root).
#
# Sourced (from an e2e test, after lib.sh or not):
#   sw_pg_start         starts a cluster on a free 127.0.0.1 port with a
#                       database slipway_test, password (SCRAM) auth only,
#                       and sets SW_PG_URL (postgres://slipway:env:
#                       SLIPWAY_TEST_PGPASSWORD@127.0.0.1:PORT/slipway_test),
#                       exporting SLIPWAY_TEST_PGPASSWORD
#   sw_pg_createdb NAME another database in the same cluster; prints its URL
#   sw_pg_stop          stops the cluster and removes its directory (also
#                       run on exit by sw_pg_start's trap)
# Run:
#   pg.sh run CMD...    CMD with a cluster started for it (SW_PG_URL and
#                       SLIPWAY_TEST_PGPASSWORD in its environment); the
#                       cluster is stopped and removed afterwards; exits
#                       with CMD's status
#
# The cluster listens on 127.0.0.1 only and has no Unix socket. Set before
# sw_pg_start: SW_PG_HOST=ADDR listens on that address instead, and
# SW_PG_NETNS=NAME runs the cluster and createdb in that network namespace
# (tests/lib/netns.sh's hub), SW_PG_ALLOW=CIDR lets clients from there in.

SW_PG_BIN=${SW_PG_BIN:-/usr/lib/postgresql/15/bin}
SW_PG_HOST=${SW_PG_HOST:-127.0.0.1}
SW_PG_NETNS=${SW_PG_NETNS:-}
SW_PG_DIR=
SW_PG_PORT=
SW_PG_URL=

sw_pg_in_netns() {
    if [ -n "$SW_PG_NETNS" ]; then nsenter --net="/run/netns/$SW_PG_NETNS" "$@"; else "$@"; fi
}

sw_pg_as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        sw_pg_in_netns runuser -u postgres -- "$@"
    else
        sw_pg_in_netns "$@"
    fi
}

sw_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sw_pg_stop() {
    [ -n "$SW_PG_DIR" ] || return 0
    if [ -f "$SW_PG_DIR/data/postmaster.pid" ]; then
        sw_pg_as_postgres "$SW_PG_BIN/pg_ctl" -D "$SW_PG_DIR/data" -m immediate -w stop \
            > /dev/null 2>&1 || true
    fi
    # SW_PG_KEEP_LOG=FILE keeps the server's log (failed statements) there
    if [ -n "${SW_PG_KEEP_LOG:-}" ]; then cat "$SW_PG_DIR/server.log" >> "$SW_PG_KEEP_LOG" || true; fi
    rm -rf "$SW_PG_DIR"
    SW_PG_DIR=
}

sw_pg_start() {
    [ -x "$SW_PG_BIN/initdb" ] || {
        echo "pg.sh: no $SW_PG_BIN/initdb: install Debian's postgresql (scripts/install-deps.sh --test)" >&2
        return 1
    }
    # under /tmp: the postgres user must be able to reach it
    SW_PG_DIR=$(mktemp -d /tmp/slipway-pg.XXXXXX)
    chmod 700 "$SW_PG_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$SW_PG_DIR"; fi
    # lib.sh's cleanup when sourced from an e2e test, else our own trap
    if declare -p SW_CLEANUP_CMDS > /dev/null 2>&1; then
        SW_CLEANUP_CMDS+=("sw_pg_stop")
    else
        trap 'sw_pg_stop' EXIT
    fi
    SLIPWAY_TEST_PGPASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    export SLIPWAY_TEST_PGPASSWORD
    printf '%s\n' "$SLIPWAY_TEST_PGPASSWORD" > "$SW_PG_DIR/pw"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$SW_PG_DIR/pw"; fi
    chmod 600 "$SW_PG_DIR/pw"
    if ! sw_pg_as_postgres "$SW_PG_BIN/initdb" -D "$SW_PG_DIR/data" -U slipway \
        --pwfile="$SW_PG_DIR/pw" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        > "$SW_PG_DIR/initdb.log" 2>&1; then
        echo "pg.sh: initdb failed:" >&2
        cat "$SW_PG_DIR/initdb.log" >&2
        return 1
    fi
    if [ -n "${SW_PG_ALLOW:-}" ]; then
        echo "host all all $SW_PG_ALLOW scram-sha-256" >> "$SW_PG_DIR/data/pg_hba.conf"
    fi
    local try
    for try in 1 2 3 4 5; do
        SW_PG_PORT=$(sw_pg_free_port)
        if sw_pg_as_postgres "$SW_PG_BIN/pg_ctl" -D "$SW_PG_DIR/data" -w -t 30 \
            -l "$SW_PG_DIR/server.log" \
            -o "-c listen_addresses=$SW_PG_HOST -p $SW_PG_PORT -c unix_socket_directories= -c fsync=off -c max_connections=200" \
            start > /dev/null 2>&1; then
            break
        fi
        SW_PG_PORT=
    done
    if [ -z "$SW_PG_PORT" ]; then
        echo "pg.sh: the cluster did not start:" >&2
        cat "$SW_PG_DIR/server.log" >&2
        return 1
    fi
    sw_pg_createdb slipway_test > /dev/null || return 1
    SW_PG_URL="postgres://slipway:env:SLIPWAY_TEST_PGPASSWORD@$SW_PG_HOST:$SW_PG_PORT/slipway_test"
    export SW_PG_URL
}

sw_pg_createdb() { # NAME
    PGPASSWORD=$SLIPWAY_TEST_PGPASSWORD sw_pg_in_netns "$SW_PG_BIN/createdb" -h "$SW_PG_HOST" -p "$SW_PG_PORT" \
        -U slipway "$1" || {
        echo "pg.sh: createdb $1 failed" >&2
        return 1
    }
    echo "postgres://slipway:env:SLIPWAY_TEST_PGPASSWORD@$SW_PG_HOST:$SW_PG_PORT/$1"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    [ "${1:-}" = run ] && [ $# -ge 2 ] || {
        echo "usage: pg.sh run CMD..." >&2
        exit 2
    }
    shift
    sw_pg_start
    status=0
    "$@" || status=$?
    sw_pg_stop
    exit $status
fi
