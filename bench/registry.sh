#!/usr/bin/env bash
# Registry speed and memory, side by side with Debian's docker-registry
# (CNCF Distribution 2.8), each on its own 127.0.0.1 port and data dir:
#
#   push MB/s          a 256 MiB blob: POST for an upload, one PUT with the data
#   pull MB/s          the same blob, GET with curl
#   manifest GET req/s wrk, 4 connections, 5 s
#   blob HEAD req/s    ApacheBench (ab -i), 4 connections, 5 s
#   peak RSS MiB       VmHWM of the server process after the push and pull
#
# usage: bench/registry.sh [path/to/slipway]   (about one minute)
set -euo pipefail
bin=$(realpath "${1:-${SLIPWAY_BIN:-build/cli/slipway}}")
for tool in curl wrk ab /usr/bin/docker-registry; do
    command -v "$tool" > /dev/null || { echo "bench/registry.sh: needs $tool" >&2; exit 1; }
done
work=$(mktemp -d /tmp/slipway-bench-registry.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }

size_mb=256
head -c $((size_mb * 1024 * 1024)) /dev/urandom > "$work/blob"
digest=sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)
printf '{}' > "$work/config"
config_digest=sha256:$(sha256sum "$work/config" | cut -d' ' -f1)
jq -cn --arg c "$config_digest" --arg l "$digest" --argjson s $((size_mb * 1024 * 1024)) \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: 2},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $s}]}' > "$work/manifest.json"

sw_port=$(free_port)
printf 'server: { listen: "127.0.0.1:%s", data_dir: %s/sw-data }\n' "$sw_port" "$work" > "$work/slipway.yaml"
"$bin" serve --config "$work/slipway.yaml" > "$work/sw.log" 2>&1 & sw_pid=$!; pids+=($sw_pid)
d_port=$(free_port)
cat > "$work/distribution.yml" <<YML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $work/d-data } }
http: { addr: 127.0.0.1:$d_port }
YML
/usr/bin/docker-registry serve "$work/distribution.yml" > "$work/d.log" 2>&1 & d_pid=$!; pids+=($d_pid)
wait_http "http://127.0.0.1:$sw_port/v2/"
wait_http "http://127.0.0.1:$d_port/v2/"

declare -A result
# POST + PUT, the flow every client uses (Distribution 2.8 has no one-request
# monolithic upload); prints nothing, fails on an HTTP error
upload() { # BASE FILE DIGEST
    local loc sep
    loc=$(curl -sf -D - -o /dev/null -X POST "$1/blobs/uploads/" | awk 'tolower($1) == "location:" {print $2}' | tr -d '\r')
    [[ $loc == http* ]] || loc=${1%%/v2/*}$loc
    sep='?'; [[ $loc == *\?* ]] && sep='&'
    curl -sf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$2" "$loc${sep}digest=$3"
}
measure() { # NAME PORT PID
    local name=$1 port=$2 pid=$3 base=http://127.0.0.1:$2/v2/bench/app t0 t1
    upload "$base" "$work/config" "$config_digest"
    t0=$(date +%s.%N)
    upload "$base" "$work/blob" "$digest"
    t1=$(date +%s.%N)
    result[$name,push]=$(python3 -c "print(f'{$size_mb / ($t1 - $t0):.0f}')")
    t0=$(date +%s.%N)
    curl -sf -o /dev/null "$base/blobs/$digest"
    t1=$(date +%s.%N)
    result[$name,pull]=$(python3 -c "print(f'{$size_mb / ($t1 - $t0):.0f}')")
    curl -sf -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary @"$work/manifest.json" "$base/manifests/latest"
    result[$name,rss]=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
    result[$name,manifest]=$(wrk -t2 -c4 -d5s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "$base/manifests/latest" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    # wrk waits for the body a HEAD announces; ApacheBench's -i does HEAD right
    result[$name,head]=$(ab -q -i -k -c 4 -t 5 -n 1000000 "$base/blobs/$digest" 2> /dev/null |
        awk '/Requests per second/ {printf "%.0f", $4}')
}
measure slipway "$sw_port" "$sw_pid"
measure distribution "$d_port" "$d_pid"

echo "registry benchmark: ${size_mb} MiB blob, $(nproc) cores, both servers on 127.0.0.1"
printf '%-20s %12s %14s %8s\n' metric slipway distribution ratio
row() { # LABEL KEY HIGHER_IS_BETTER
    local a=${result[slipway,$2]} b=${result[distribution,$2]}
    local ratio
    if [ "$3" = 1 ]; then ratio=$(python3 -c "print(f'{$a / max($b, 1):.2f}x')")
    else ratio=$(python3 -c "print(f'{$b / max($a, 1):.2f}x')"); fi
    printf '%-20s %12s %14s %8s\n' "$1" "$a" "$b" "$ratio"
}
row "push MB/s" push 1
row "pull MB/s" pull 1
row "manifest GET req/s" manifest 1
row "blob HEAD req/s" head 1
row "peak RSS MiB" rss 0
echo "(ratio > 1 means slipway is better: faster, or less memory)"
