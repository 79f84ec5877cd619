#!/usr/bin/env bash
# Registry speed, side by side in one run with Debian's docker-registry
# (CNCF Distribution 2.8) and nginx serving the same bytes as static files,
# each on its own 127.0.0.1 port and data dir. Pairs are interleaved (the
# order alternates every round) and the figure is the median; min-max is
# printed next to the push figures so a bimodal one shows.
#
#   push MB/s, monolithic   256 MiB: POST, then one PUT ?digest= with the body
#   push MB/s, chunked      256 MiB: POST, PATCHes of $CHUNK_MIB MiB with
#                           Content-Range on one connection, empty PUT
#   pull MB/s, first        GET of those blobs with curl right after the
#                           pushes (nginx: the same file, which was just
#                           read to hash it). Slipway writes large blobs
#                           past the page cache (storage.direct_io), so its
#                           first pull reads the disk; Distribution wrote
#                           through the cache and reads it from there
#   pull MB/s, again        the same GETs once more: every server reads
#                           from the page cache, the serving path alone
#   2 GiB push / pull MB/s  one $BIG_MB MiB blob (default 2048) pushed
#                           monolithic to each server, the order
#                           alternating, then pulled twice (first, again);
#                           BIG_MB=0 leaves it out
#   manifest GET req/s      wrk, 2 threads, 32 connections (nginx: the same
#                           manifest bytes as a static file)
#   blob HEAD req/s         ApacheBench (ab -i -k), 32 connections (wrk sends
#                           HEAD but then waits for the body it announces)
#   tags/list 10,000 tags   wrk, 32 connections, 2 interleaved rounds: req/s
#                           and MB/s of a full tags/list after 10,000 tags
#                           were pushed, against
#                           nginx serving the same JSON bytes (the limit of
#                           its size on this machine)
#   peak RSS MiB            VmHWM of the server after the pushes
#
# Slipway runs with server.access_log: off and Distribution with its access
# log disabled. The machine's load average is printed before and after:
# compare ratios, and rerun when the load is high.
#
# A run whose requests got an HTTP error stops with a message instead of
# printing figures of error pages. nginx is installed (nginx-light) when
# missing and apt-get is available; without it the nginx column is "-".
#
# usage: bench/registry.sh [--only reads] [path/to/slipway]   (ROUNDS=3
#        CHUNK_MIB=8 DURATION=5 READ_ROUNDS=2: rounds of the wrk/ab figures;
#        about three minutes)
#   --only reads   only manifest GET, blob HEAD and tags/list (a 1 MiB blob,
#                  no push or pull figures; about two minutes, most of it
#                  pushing the 10,000 tags)
set -euo pipefail
only=
if [ "${1:-}" = --only ]; then
    only=${2:-}
    [ "$only" = reads ] || { echo "bench/registry.sh: --only takes: reads" >&2; exit 2; }
    shift 2
fi
bin=$(realpath "${1:-${SLIPWAY_BIN:-build/cli/slipway}}")
here=$(dirname "$(realpath "$0")")
rounds=${ROUNDS:-3}
chunk_mib=${CHUNK_MIB:-8}
duration=${DURATION:-5}
read_rounds=${READ_ROUNDS:-2}
size_mb=256
big_mb=${BIG_MB:-2048}
[ "$only" = reads ] && size_mb=1 && big_mb=0
tags=10000
for tool in curl wrk ab jq python3 /usr/bin/docker-registry; do
    command -v "$tool" > /dev/null || { echo "bench/registry.sh: needs $tool" >&2; exit 1; }
done
if ! command -v nginx > /dev/null && [ -x /usr/sbin/nginx ]; then PATH=$PATH:/usr/sbin; fi
if ! command -v nginx > /dev/null && command -v apt-get > /dev/null && [ "$(id -u)" = 0 ]; then
    echo "bench/registry.sh: installing nginx-light for the static-file reference" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light > /dev/null 2>&1 || true
    PATH=$PATH:/usr/sbin
fi
has_nginx=0
command -v nginx > /dev/null && has_nginx=1

work=$(mktemp -d /tmp/slipway-bench-registry.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
. "$here/lib.sh"
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}'; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# distinct blobs: a server may skip writing a blob it already has
head -c $((size_mb * 1024 * 1024)) /dev/urandom > "$work/blob-m1"
declare -A digest
for kind in m c; do
    for i in $(seq 1 "$rounds"); do
        f=$work/blob-$kind$i
        [ -e "$f" ] || { cp "$work/blob-m1" "$f"; printf 'round %s %08d' "$kind" "$i" | dd of="$f" conv=notrunc status=none; }
        digest[$kind$i]=sha256:$(sha256sum "$f" | cut -d' ' -f1)
    done
done
printf '{}' > "$work/config"
config_digest=sha256:$(sha256sum "$work/config" | cut -d' ' -f1)
image_manifest "$config_digest" "${digest[m1]}" $((size_mb * 1024 * 1024)) > "$work/manifest.json"

# ---- servers ----
sw_port=$(free_port)
printf 'server: { listen: "127.0.0.1:%s", data_dir: %s/sw-data, access_log: off }\n' "$sw_port" "$work" > "$work/slipway.yaml"
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
declare -A port=([slipway]=$sw_port [distribution]=$d_port)
declare -A pid=([slipway]=$sw_pid [distribution]=$d_pid)
servers=(slipway distribution)

declare -A result
# $1 rounds of "CMD SERVER" for each server, the order alternating per round;
# each value is appended to samples[SERVER]
declare -A samples
interleave() { # FUNCTION ROUND
    local s order=("${servers[@]}")
    [ $(($2 % 2)) = 0 ] && order=("${servers[1]}" "${servers[0]}")
    for s in "${order[@]}"; do
        v=$("$1" "$s" "$2") && [ -n "$v" ] || { echo "bench/registry.sh: $1 on $s failed" >&2; exit 1; }
        samples[$s]="${samples[$s]:-} $v"
    done
}
collect() { # KEY [spread]
    local s
    for s in "${servers[@]}"; do
        # shellcheck disable=SC2086
        result[$s,$1]=$(median ${samples[$s]})
        # shellcheck disable=SC2086
        [ "${2:-}" = spread ] && result[$s,$1,spread]=$(spread ${samples[$s]})
        samples[$s]=
    done
}
base_of() { echo "http://127.0.0.1:${port[$1]}/v2/bench/app"; }

push_mono() { python3 "$here/push.py" "$(base_of "$1")" "$work/blob-m$2" "${digest[m$2]}" || exit 1; }
push_chunked() { python3 "$here/push.py" "$(base_of "$1")" "$work/blob-c$2" "${digest[c$2]}" "$chunk_mib" || exit 1; }
pull_one() { # SERVER ROUND [DIGEST MIB] -> MB/s
    local url t d=${3:-${digest[m$2]}} mib=${4:-$size_mb}
    if [ "$1" = nginx ]; then url=http://127.0.0.1:$ng_port/v2/bench/app/blobs/$d
    else url=$(base_of "$1")/blobs/$d; fi
    t=$(curl -sf --max-time 300 -o /dev/null -w '%{time_total}' "$url") || { echo "bench/registry.sh: $1 pull failed" >&2; exit 1; }
    python3 -c "print(f'{$mib / $t:.0f}')"
}
wrk_run() { # URL ACCEPT -> "req/s MB/s"
    wrk -t2 -c32 -d"${duration}s" -H "Accept: $2" "$1" > "$work/wrk.out"
    if grep -q 'Non-2xx\|Socket errors' "$work/wrk.out"; then
        echo "bench/registry.sh: errors from $1:" >&2; cat "$work/wrk.out" >&2; exit 1
    fi
    awk '/Requests\/sec/ {r = $2} /Transfer\/sec/ {t = $2; u = t; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+/, "", t);
         m = (u == "GB" ? 1024 : u == "MB" ? 1 : u == "KB" ? 1 / 1024 : 1 / 1048576); printf "%.0f %.0f", r, t * m}' "$work/wrk.out"
}
manifest_get() {
    local url
    if [ "$1" = nginx ]; then url=http://127.0.0.1:$ng_port/v2/bench/app/manifests/latest; else url=$(base_of "$1")/manifests/latest; fi
    wrk_run "$url" application/vnd.oci.image.manifest.v1+json | cut -d' ' -f1
}
blob_head() {
    local url
    if [ "$1" = nginx ]; then url=http://127.0.0.1:$ng_port/v2/bench/app/blobs/${digest[m1]}; else url=$(base_of "$1")/blobs/${digest[m1]}; fi
    ab -q -i -k -c 32 -t "$duration" -n 10000000 "$url" > "$work/ab.out" 2> /dev/null || true
    if grep -q '^Non-2xx' "$work/ab.out" || ! grep -q '^Failed requests: *0' "$work/ab.out"; then
        echo "bench/registry.sh: $1 answered blob HEADs with errors:" >&2; cat "$work/ab.out" >&2; exit 1
    fi
    awk '/Requests per second/ {printf "%.0f", $4}' "$work/ab.out"
}

# ---- pushes ----
for s in "${servers[@]}"; do
    python3 "$here/push.py" "$(base_of "$s")" "$work/config" "$config_digest" > /dev/null || exit 1
done
if [ "$only" = reads ]; then
    # the manifest's layer only
    for s in "${servers[@]}"; do
        python3 "$here/push.py" "$(base_of "$s")" "$work/blob-m1" "${digest[m1]}" > /dev/null || exit 1
        python3 "$here/push.py" "$(base_of "$s")" "$work/blob-c1" "${digest[c1]}" > /dev/null || exit 1
    done
else
    for i in $(seq 1 "$rounds"); do interleave push_mono "$i"; done
    collect push spread
    for i in $(seq 1 "$rounds"); do interleave push_chunked "$i"; done
    collect chunked spread
fi
# ---- one big blob: push, pull right after, pull again ----
if [ "$big_mb" -gt 0 ]; then
    for i in $(seq 1 $((big_mb / size_mb))); do cat "$work/blob-m1"; done > "$work/blob-big"
    printf 'big %08d' "$big_mb" | dd of="$work/blob-big" conv=notrunc status=none
    big_digest=sha256:$(sha256sum "$work/blob-big" | cut -d' ' -f1)
    big_mib=$(($(stat -c %s "$work/blob-big") / 1048576))
    push_big() { python3 "$here/push.py" "$(base_of "$1")" "$work/blob-big" "$big_digest" || exit 1; }
    pull_big() { pull_one "$1" "$2" "$big_digest" "$big_mib"; }
    interleave push_big 1
    collect big_push
    interleave pull_big 1
    collect big_pull
    interleave pull_big 2
    collect big_pull_again
fi
for s in "${servers[@]}"; do result[$s,rss]=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/${pid[$s]}/status"); done
for s in "${servers[@]}"; do
    # a push that is fast but wrong is no figure (checked outside the timing)
    [ "sha256:$(curl -sf --max-time 120 "$(base_of "$s")/blobs/${digest[c1]}" | sha256sum | cut -d' ' -f1)" = "${digest[c1]}" ] ||
        { echo "bench/registry.sh: $s served a wrong blob" >&2; exit 1; }
    curl -sf --max-time 60 -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary @"$work/manifest.json" "$(base_of "$s")/manifests/latest" || { echo "bench/registry.sh: $s manifest PUT failed" >&2; exit 1; }
done

# ---- nginx: the same manifest bytes and blob file, static ----
if [ "$has_nginx" = 1 ]; then
    ng_port=$(free_port)
    mkdir -p "$work/www/v2/bench/app/manifests" "$work/www/v2/bench/app/blobs" "$work/www/v2/bench/app/tags" "$work/ng"
    cp "$work/manifest.json" "$work/www/v2/bench/app/manifests/latest"
    ln "$work/blob-m1" "$work/www/v2/bench/app/blobs/${digest[m1]}"
    for i in $(seq 2 "$rounds"); do ln "$work/blob-m$i" "$work/www/v2/bench/app/blobs/${digest[m$i]}"; done
    cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
user $(id -un) $(id -gn);
pid $work/ng/nginx.pid;
error_log $work/ng/error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $work/ng/body;
    proxy_temp_path $work/ng/proxy;
    fastcgi_temp_path $work/ng/fastcgi;
    uwsgi_temp_path $work/ng/uwsgi;
    scgi_temp_path $work/ng/scgi;
    types { }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$ng_port;
        root $work/www;
        location /v2/bench/app/manifests/ { default_type application/vnd.oci.image.manifest.v1+json; }
        location /v2/bench/app/tags/ { default_type application/json; }
    }
}
NGINX
    nginx -p "$work/ng" -c "$work/nginx.conf" > "$work/ng/out.log" 2>&1 & ng_pid=$!; pids+=($ng_pid)
    wait_http "http://127.0.0.1:$ng_port/v2/bench/app/manifests/latest" || { echo "bench/registry.sh: nginx did not start:" >&2; tail -3 "$work/ng/"*.log >&2; exit 1; }
    port[nginx]=$ng_port
    servers=(slipway distribution nginx)
fi

# three-way interleaving: rotate the order every round
interleave3() { # FUNCTION ROUND
    local n=${#servers[@]} k s
    for ((k = 0; k < n; k++)); do
        s=${servers[$(((k + $2) % n))]}
        v=$("$1" "$s" "$2") && [ -n "$v" ] || { echo "bench/registry.sh: $1 on $s failed" >&2; exit 1; }
        samples[$s]="${samples[$s]:-} $v"
    done
}
if [ "$only" != reads ]; then
    for i in $(seq 1 "$rounds"); do interleave3 pull_one "$i"; done
    collect pull
    for i in $(seq 1 "$rounds"); do interleave3 pull_one "$i"; done
    collect pull_again
fi
for i in $(seq 1 "$read_rounds"); do interleave3 manifest_get "$i"; done
collect manifest
for i in $(seq 1 "$read_rounds"); do interleave3 blob_head "$i"; done
collect head

# ---- tags/list of 10,000 tags (slipway; nginx serves the same JSON) ----
python3 - "$(base_of slipway)" "$work/manifest.json" "$tags" <<'PY' || exit 1
import http.client, sys, urllib.parse
base, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = open(path, "rb").read()
u = urllib.parse.urlsplit(base)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
for i in range(n):
    c.request("PUT", f"{u.path}/manifests/t{i:05d}", body,
              {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    r = c.getresponse(); r.read()
    if r.status != 201:
        sys.exit(f"tag PUT {i}: HTTP {r.status}")
PY
curl -sf "$(base_of slipway)/tags/list" > "$work/tags.json"
[ "$(jq '.tags | length' "$work/tags.json")" -ge "$tags" ] || { echo "bench/registry.sh: tags/list is short" >&2; exit 1; }
tags_bytes=$(stat -c %s "$work/tags.json")
tag_servers=(slipway)
if [ "$has_nginx" = 1 ]; then
    cp "$work/tags.json" "$work/www/v2/bench/app/tags/list"
    tag_servers=(slipway nginx)
fi
declare -A tag_rps tag_mbs
for i in $(seq 1 "$read_rounds"); do # interleaved, the order alternating
    order=("${tag_servers[@]}")
    [ $((i % 2)) = 0 ] && [ ${#order[@]} = 2 ] && order=(nginx slipway)
    for s in "${order[@]}"; do
        if [ "$s" = nginx ]; then url=http://127.0.0.1:$ng_port/v2/bench/app/tags/list; else url=$(base_of slipway)/tags/list; fi
        read -r r m <<< "$(wrk_run "$url" application/json)"
        tag_rps[$s]="${tag_rps[$s]:-} $r"
        tag_mbs[$s]="${tag_mbs[$s]:-} $m"
    done
done
for s in "${tag_servers[@]}"; do
    # shellcheck disable=SC2086
    result[$s,tags]=$(median ${tag_rps[$s]})
    # shellcheck disable=SC2086
    result[$s,tags_mb]=$(median ${tag_mbs[$s]})
done

# ---- table ----
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo "registry benchmark: $(nproc) cores, load average $load_start at start, $load_end at end;"
if [ "$only" = reads ]; then echo "  --only reads: a ${size_mb} MiB blob, no push or pull figures,"
else echo "  ${size_mb} MiB blobs, $rounds interleaved rounds (median; min-max for pushes), chunks of $chunk_mib MiB,"; fi
echo "  wrk/ab ${duration} s x $read_rounds rounds at 32 connections; $(/usr/bin/docker-registry --version 2> /dev/null | awk '{print $2, $3}')$([ "$has_nginx" = 1 ] && echo ", $(nginx -v 2>&1 | sed 's/.*: //')")"
printf '%-28s %14s %14s %9s %10s %9s\n' metric slipway distribution "vs dist" nginx "vs nginx"
ratio() { # A B HIGHER_IS_BETTER
    [ -n "$1" ] && [ -n "$2" ] || { echo -; return; }
    if [ "$3" = 1 ]; then python3 -c "print(f'{$1 / max($2, 1):.2f}x')"; else python3 -c "print(f'{$2 / max($1, 1):.2f}x')"; fi
}
row() { # LABEL KEY HIGHER_IS_BETTER
    local a=${result[slipway,$2]:-} b=${result[distribution,$2]:-} n=${result[nginx,$2]:-}
    local sa=${result[slipway,$2,spread]:-} sb=${result[distribution,$2,spread]:-}
    printf '%-28s %14s %14s %9s %10s %9s\n' "$1" "$a${sa:+ ($sa)}" "${b:--}${sb:+ ($sb)}" "$(ratio "$a" "$b" "$3")" "${n:--}" "$(ratio "$a" "$n" "$3")"
}
if [ "$only" != reads ]; then
    row "push monolithic MB/s" push 1
    row "push chunked MB/s" chunked 1
    row "pull MB/s, first" pull 1
    row "pull MB/s, again" pull_again 1
    if [ "$big_mb" -gt 0 ]; then
        row "$big_mib MiB push MB/s" big_push 1
        row "$big_mib MiB pull MB/s, first" big_pull 1
        row "$big_mib MiB pull MB/s, again" big_pull_again 1
    fi
fi
row "manifest GET req/s" manifest 1
row "blob HEAD req/s" head 1
row "tags/list 10k tags req/s" tags 1
row "tags/list 10k tags MB/s" tags_mb 1
row "peak RSS MiB" rss 0
echo "(ratio > 1 means slipway is better: faster, or less memory; tags/list is $tags_bytes bytes)"
