# shellcheck shell=bash
# netns.sh - several "machines" on one host for the scale-out tests: each
# machine is a network namespace of its own, joined by a veth pair to a
# bridge in a hub namespace, which plays the shared infrastructure
# (PostgreSQL, the S3 test server, a Git server). Addresses are private,
# 10.231.0.0/24 (the hub is .1, machine I is .(10+I)); no namespace has a
# route anywhere else, so no packet leaves these links (each machine also has
# its own 127.0.0.1). Filesystems are not separated: each machine gets its
# own data dir, and nothing but the hub's services is shared.
#
# Source it (as root) after tests/e2e/lib.sh; the namespaces, and every
# process still running in them, are removed by lib.sh's cleanup (on exit,
# on failure and when sw_time_limit ends the script).
#
#   sw_net_up N         the hub and machines 1..N; sets SW_NET_HUB_ADDR
#   sw_net_addr I       machine I's address (hub: I=0)
#   sw_net_in I CMD...  CMD in machine I's network namespace (hub: I=0);
#                       nsenter --net only (`ip netns exec` remounts /sys,
#                       and runc then finds no cgroup mount)
#   sw_net_start NAME I CMD...  CMD in the background in machine I, output
#                       in $SW_SCRATCH/serve.NAME.log (lib.sh's sanitizer
#                       check reads it); sets SW_NET_PID[NAME]; stopped by
#                       lib.sh's cleanup like a server
#   sw_net_wait_http I URL [SECONDS]  until URL answers from machine I
#   sw_net_pg_start     a throwaway PostgreSQL cluster (tests/lib/pg.sh) in
#                       the hub, listening on SW_NET_HUB_ADDR; SW_PG_URL
#   sw_net_s3_start     the S3 test server (tests/lib/s3-lib.sh) in the hub,
#                       listening on SW_NET_HUB_ADDR; SW_S3_ENDPOINT, ...
#   sw_net_storage_yaml the `storage:` section for that S3 server (keys as
#                       env:SW_NET_S3_ACCESS/env:SW_NET_S3_SECRET, exported)
#   sw_net_down         stops everything in the namespaces and removes them

SW_NET_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SW_NET_PREFIX=swn$$
SW_NET_SUBNET=10.231.0
SW_NET_HUB_ADDR=$SW_NET_SUBNET.1
SW_NET_N=0
declare -A SW_NET_PID=()

sw_net_ns() { # I -> the namespace's name
    if [ "$1" = 0 ]; then echo "$SW_NET_PREFIX-hub"; else echo "$SW_NET_PREFIX-m$1"; fi
}

sw_net_addr() { # I
    if [ "$1" = 0 ]; then echo "$SW_NET_HUB_ADDR"; else echo "$SW_NET_SUBNET.$((10 + $1))"; fi
}

sw_net_in() { # I CMD...
    local ns
    ns=$(sw_net_ns "$1")
    shift
    nsenter --net="/run/netns/$ns" "$@"
}

# Namespaces left by a run that was killed with SIGKILL (no cleanup ran):
# their script's pid is gone.
sw_net_sweep_stale() {
    local ns pid
    for ns in $(ip netns list 2> /dev/null | awk '{print $1}' | grep -E '^swn[0-9]+-' || true); do
        pid=${ns#swn}
        pid=${pid%%-*}
        kill -0 "$pid" 2> /dev/null && continue
        for p in $(ip netns pids "$ns" 2> /dev/null); do kill -KILL "$p" 2> /dev/null || true; done
        ip netns delete "$ns" 2> /dev/null || true
    done
}

sw_net_down() {
    local i ns p
    [ "$SW_NET_N" -gt 0 ] || return 0
    # the hub's services the way their libraries stop them, then every
    # process left in a namespace (servers, builds' slirp and runc
    # children), then the namespaces
    if declare -F sw_pg_stop > /dev/null; then sw_pg_stop; fi
    if declare -F sw_s3_stop > /dev/null; then sw_s3_stop; fi
    for i in $(seq 0 "$SW_NET_N"); do
        ns=$(sw_net_ns "$i")
        for p in $(ip netns pids "$ns" 2> /dev/null); do kill -KILL "$p" 2> /dev/null || true; done
    done
    for i in $(seq 0 "$SW_NET_N"); do
        ip netns delete "$(sw_net_ns "$i")" 2> /dev/null || true
    done
    SW_NET_N=0
}

sw_net_up() { # N
    local n=$1 i ns hub
    if ! command -v ip > /dev/null || ! command -v nsenter > /dev/null; then
        echo "netns.sh: needs ip (iproute2) and nsenter (util-linux)" >&2
        return 1
    fi
    [ "$(id -u)" = 0 ] || {
        echo "netns.sh: network namespaces need root" >&2
        return 1
    }
    sw_net_sweep_stale
    if declare -p SW_CLEANUP_CMDS > /dev/null 2>&1; then
        SW_CLEANUP_CMDS+=("sw_net_down")
    else
        trap 'sw_net_down' EXIT
    fi
    SW_NET_N=$n
    hub=$(sw_net_ns 0)
    for i in $(seq 0 "$n"); do
        ns=$(sw_net_ns "$i")
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    ip -n "$hub" link add br0 type bridge
    ip -n "$hub" addr add "$SW_NET_HUB_ADDR/24" dev br0
    ip -n "$hub" link set br0 up
    for i in $(seq 1 "$n"); do
        # created in the hub, its peer moved straight into the machine: no
        # interface ever appears in the host's namespace
        ip -n "$hub" link add "v$i" type veth peer name eth0 netns "$(sw_net_ns "$i")"
        ip -n "$hub" link set "v$i" master br0
        ip -n "$hub" link set "v$i" up
        ip -n "$(sw_net_ns "$i")" addr add "$(sw_net_addr "$i")/24" dev eth0
        ip -n "$(sw_net_ns "$i")" link set eth0 up
    done
}

sw_net_start() { # NAME I CMD...
    local name=$1 i=$2 log
    shift 2
    log=$SW_SCRATCH/serve.$name.log
    # nsenter itself, not through a function: $! is then the process (nsenter
    # execs CMD), so a test can kill -9 exactly it
    nsenter --net="/run/netns/$(sw_net_ns "$i")" "$@" >> "$log" 2>&1 &
    SW_NET_PID[$name]=$!
    SW_SERVER_PIDS+=("$!")
}

sw_net_wait_http() { # I URL [SECONDS]
    local i=$1 url=$2 limit=${3:-20}
    for _ in $(seq $((limit * 10))); do
        sw_net_in "$i" curl -s -o /dev/null "$url" && return 0
        sleep 0.1
    done
    return 1
}

sw_net_pg_start() {
    # shellcheck source=pg.sh
    . "$SW_NET_LIB_DIR/pg.sh"
    SW_PG_HOST=$SW_NET_HUB_ADDR SW_PG_NETNS=$(sw_net_ns 0) SW_PG_ALLOW=$SW_NET_SUBNET.0/24
    sw_pg_start
}

sw_net_s3_start() {
    # shellcheck source=s3-lib.sh
    . "$SW_NET_LIB_DIR/s3-lib.sh"
    SW_S3_HOST=$SW_NET_HUB_ADDR SW_S3_NETNS=$(sw_net_ns 0)
    sw_s3_start "$(mktemp -d "${SW_SCRATCH:-/tmp}/s3.XXXXXX")"
    SW_NET_S3_ACCESS=$SW_S3_ACCESS_KEY SW_NET_S3_SECRET=$SW_S3_SECRET_KEY
    export SW_NET_S3_ACCESS SW_NET_S3_SECRET
}

sw_net_storage_yaml() {
    cat << YAML
storage:
  driver: s3
  endpoint: $SW_S3_ENDPOINT
  region: $SW_S3_REGION
  bucket: $SW_S3_BUCKET
  access_key: env:SW_NET_S3_ACCESS
  secret_key: env:SW_NET_S3_SECRET
  path_style: true
YAML
}
