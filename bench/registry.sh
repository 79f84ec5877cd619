#!/usr/bin/env bash
# Registry speed and memory, side by side with Debian's docker-registry
# (CNCF Distribution 2.8), each on its own 127.0.0.1 port and data dir:
#
#   push MB/s          a 256 MiB blob: POST for an upload, one PUT with the
#                      data; median of three rounds, a different blob each
#   pull MB/s          those blobs, GET with curl; median of three
#   manifest GET req/s wrk, 4 connections, 10 s
#   blob HEAD req/s    ApacheBench (ab -i -k), 4 connections, 10 s (wrk sends
#                      HEAD but then waits for the body Content-Length
#                      announces, and counts nothing)
#   peak RSS MiB       VmHWM of the server process right after the push
#                      (the high-water mark since start: start-up + push)
#
# A run whose requests got an HTTP error stops with a message instead of
# printing figures of error pages.
#
# usage: bench/registry.sh [path/to/slipway]   (about one minute)
set -euo pipefail
bin=$(realpath "${1:-${SLIPWAY_BIN:-build/cli/slipway}}")
for tool in curl wrk ab /usr/bin/docker-registry; do
    command -v "$tool" > /dev/null || { echo "bench/registry.sh: needs $tool" >&2; exit 1; }
done
work=$(mktemp -d /tmp/slipway-bench-registry.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }

size_mb=256
rounds=3
# one distinct blob per round (a server may skip writing a blob it has)
head -c $((size_mb * 1024 * 1024)) /dev/urandom > "$work/blob1"
digests=()
for i in $(seq 1 $rounds); do
    [ "$i" = 1 ] || { cp "$work/blob1" "$work/blob$i"; printf 'round %08d' "$i" | dd of="$work/blob$i" conv=notrunc status=none; }
    digests+=("sha256:$(sha256sum "$work/blob$i" | cut -d' ' -f1)")
done
digest=${digests[0]}
printf '{}' > "$work/config"
config_digest=sha256:$(sha256sum "$work/config" | cut -d' ' -f1)
jq -cn --arg c "$config_digest" --arg l "${digests[0]}" --argjson s $((size_mb * 1024 * 1024)) \
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
wait_http "http://127.0.0.1:$sw_port/v2/" || { echo "bench/registry.sh: slipway did not start:" >&2; cat "$work/sw.log" >&2; exit 1; }
wait_http "http://127.0.0.1:$d_port/v2/" || { echo "bench/registry.sh: docker-registry did not start:" >&2; cat "$work/d.log" >&2; exit 1; }

declare -A result
# POST + PUT, the spec's monolithic upload every client uses (Distribution
# 2.8 has no one-request POST ?digest=); the file is streamed from disk
# (--upload-file, no Expect: 100-continue pause); prints nothing, fails on
# an HTTP error
upload() { # BASE FILE DIGEST
    local loc sep
    loc=$(curl -sf --max-time 60 -D - -o /dev/null -X POST "$1/blobs/uploads/" | awk 'tolower($1) == "location:" {print $2}' | tr -d '\r')
    [[ $loc == http* ]] || loc=${1%%/v2/*}$loc
    sep='?'; [[ $loc == *\?* ]] && sep='&'
    curl -sf --max-time 120 -o /dev/null -H 'Expect:' -H 'Content-Type: application/octet-stream' \
        --upload-file "$2" "$loc${sep}digest=$3"
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
mbps() { python3 -c "print(f'{$size_mb / ($2 - $1):.0f}')"; } # T0 T1
measure() { # NAME PORT PID
    local name=$1 port=$2 pid=$3 base=http://127.0.0.1:$2/v2/bench/app t0 t1 i push=() pull=()
    upload "$base" "$work/config" "$config_digest"
    for i in $(seq 1 $rounds); do
        t0=$(date +%s.%N)
        upload "$base" "$work/blob$i" "${digests[$((i - 1))]}"
        t1=$(date +%s.%N)
        push+=("$(mbps "$t0" "$t1")")
    done
    result[$name,push]=$(median "${push[@]}")
    result[$name,rss]=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
    for i in $(seq 1 $rounds); do
        t0=$(date +%s.%N)
        curl -sf --max-time 120 -o /dev/null "$base/blobs/${digests[$((i - 1))]}"
        t1=$(date +%s.%N)
        pull+=("$(mbps "$t0" "$t1")")
    done
    result[$name,pull]=$(median "${pull[@]}")
    # a pull that is fast but wrong is no figure (checked outside the timing)
    [ "sha256:$(curl -sf --max-time 120 "$base/blobs/$digest" | sha256sum | cut -d' ' -f1)" = "$digest" ] ||
        { echo "bench/registry.sh: $name served a wrong blob" >&2; exit 1; }
    curl -sf --max-time 60 -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary @"$work/manifest.json" "$base/manifests/latest"
    wrk -t2 -c4 -d10s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$base/manifests/latest" > "$work/wrk.out"
    if grep -q 'Non-2xx' "$work/wrk.out"; then
        echo "bench/registry.sh: $name answered manifest GETs with errors:" >&2; cat "$work/wrk.out" >&2; exit 1
    fi
    result[$name,manifest]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.out")
    ab -q -i -k -c 4 -t 10 -n 10000000 "$base/blobs/$digest" > "$work/ab.out" 2> /dev/null
    if grep -q '^Non-2xx' "$work/ab.out" || ! grep -q '^Failed requests: *0' "$work/ab.out"; then
        echo "bench/registry.sh: $name answered blob HEADs with errors:" >&2; cat "$work/ab.out" >&2; exit 1
    fi
    result[$name,head]=$(awk '/Requests per second/ {printf "%.0f", $4}' "$work/ab.out")
}
measure slipway "$sw_port" "$sw_pid"
measure distribution "$d_port" "$d_pid"

echo "registry benchmark: ${size_mb} MiB blobs (median of $rounds), $(nproc) cores, both servers on 127.0.0.1, $(/usr/bin/docker-registry --version 2> /dev/null | awk '{print $2, $3}')"
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
