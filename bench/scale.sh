#!/usr/bin/env bash
# Slipway scaled out (issue 15): metadata on PostgreSQL, blobs on S3, next
# to CNCF Distribution 2.8 (Debian's docker-registry) with its s3 driver on
# the same S3 server (tests/lib/s3-server.js: s3rver behind a SigV4-checking
# front), in the same run. Everything listens on 127.0.0.1.
#
#   push MB/s           SIZE_MB (64) MiB blobs: POST + one PUT ?digest=
#                       (bench/push.py), ROUNDS (3) interleaved, median
#   pull MB/s           GET of those blobs with curl; both servers proxy the
#                       bytes (Slipway storage.redirect: false, Distribution
#                       redirect.disable: true), so the figure is the path
#                       S3 -> registry -> client
#   manifest GET req/s  wrk, 2 threads, 32 connections, DURATION (5) s x 2
#   builds/minute       BUILDS (8) runs queued at once (one webhook each, on
#                       branches of their own: COPY + a RUN writing 4 MiB),
#                       built by 1, 2 and 4 `slipway worker` processes, each
#                       with a data dir of its own, after one warm-up run per
#                       worker (its layer cache filled from S3); from the
#                       first delivery to the last run's end
#   webhook -> pullable from POSTing a push delivery of a new commit to its
#                       tag answering on /v2/ with one idle worker process
#                       (fetch, checkout, build, push to S3, tag): ROUNDS
#                       rounds, the first cold, the median of the rest
#
# The load average is printed with the table: the machine is shared, so
# compare the two columns of one run, not figures of different runs.
#
# usage: bench/scale.sh [path/to/slipway]   (about 3-5 minutes; BENCH_TIMEOUT
#        bounds it, default 900 s)
set -euo pipefail
if [ -z "${BENCH_SCALE_BOUNDED:-}" ]; then
    BENCH_SCALE_BOUNDED=1 exec timeout -k 20 "${BENCH_TIMEOUT:-900}" bash "$0" "$@"
fi
bin=$(realpath "${1:-${SLIPWAY_BIN:-build/cli/slipway}}")
here=$(dirname "$(realpath "$0")")
rounds=${ROUNDS:-3}
size_mb=${SIZE_MB:-64}
duration=${DURATION:-5}
builds=${BUILDS:-8}
for tool in curl wrk jq git openssl python3 /usr/bin/docker-registry; do
    command -v "$tool" > /dev/null || { echo "bench/scale.sh: needs $tool" >&2; exit 1; }
done
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d /tmp/slipway-bench-scale.XXXXXX)
export SLIPWAY_TEST_TMP=$work
# pg.sh and s3-lib.sh register their stops here
SW_CLEANUP_CMDS=()
pids=()
cleanup() {
    local p cmd
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    for cmd in "${SW_CLEANUP_CMDS[@]}"; do eval "$cmd" || true; done
    sw_s3_stop
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=../tests/lib/pg.sh
. "$here/../tests/lib/pg.sh"
# shellcheck source=../tests/lib/s3-lib.sh
. "$here/../tests/lib/s3-lib.sh"
sw_pg_start > /dev/null
sw_s3_start "$work/s3" > /dev/null
export BENCH_S3_ACCESS=$SW_S3_ACCESS_KEY BENCH_S3_SECRET=$SW_S3_SECRET_KEY

. "$here/lib.sh"
ms() { python3 -c "print(round(($2 - $1) * 1000))"; }
die() { # the servers' last errors with the message: the work dir goes on exit
    echo "bench/scale.sh: $*" >&2
    local f
    for f in "$work/d.log" "$work/serve.log"; do
        [ -s "$f" ] && { echo "--- $(basename "$f"):" >&2; tr -d '\000' < "$f" | grep -i error | tail -n 3 | cut -c1-600 >&2; }
    done
    exit 1
}
git_() { git -c user.name=Bench -c user.email=bench@localhost "$@"; }

# ---- the source repository and the base image ----
src=$work/src
mkdir -p "$src" "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/dev"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh ls cat echo wc dd head; do ln -s busybox "$work/rootfs/bin/$a"; done
chmod 1777 "$work/rootfs/tmp"
tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
git_ -C "$src" init -q -b main
cat > "$src/Dockerfile" <<'EOF'
FROM bench/busybox:1
COPY app.txt /app/app.txt
RUN head -c 4194304 /dev/urandom > /app/data && wc -c /app/app.txt /app/data
EOF
echo 0 > "$src/app.txt"
git_ -C "$src" add -A
git_ -C "$src" commit -qm "round 0"

# ---- servers: Slipway (front end, workers: 0) and Distribution, one bucket ----
sw_port=$(free_port)
base=http://127.0.0.1:$sw_port
slipway_config() { # DIR LISTEN-PORT
    mkdir -p "$1/data"
    cat > "$1/slipway.yaml" <<YML
server: { listen: "127.0.0.1:$2", data_dir: $1/data, access_log: off }
database: $SW_PG_URL
storage:
  driver: s3
  endpoint: $SW_S3_ENDPOINT
  region: $SW_S3_REGION
  bucket: $SW_S3_BUCKET
  prefix: slipway
  access_key: env:BENCH_S3_ACCESS
  secret_key: env:BENCH_S3_SECRET
  path_style: true
workers: ${3:-0}
repos:
  - name: bench/app
    git: file://$src
    secret: bench-secret
    rules:
      - { source_type: branch, source: main, tags: [latest, "sha-{commit:7}"] }
      - { source_type: branch, source: '/^b[0-9]+-[0-9]+$/', tags: ['{sourceref}'] }
YML
    echo "$1/slipway.yaml"
}
cfg=$(slipway_config "$work/front" "$sw_port")
"$bin" import --config "$cfg" "tar:$work/rootfs.tar" bench/busybox:1 > "$work/import.log" 2>&1 ||
    { cat "$work/import.log" >&2; die "slipway import failed"; }
"$bin" serve --config "$cfg" > "$work/serve.log" 2>&1 & sw_pid=$!; pids+=($sw_pid)
d_port=$(free_port)
cat > "$work/distribution.yml" <<YML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage:
  s3:
    accesskey: $SW_S3_ACCESS_KEY
    secretkey: $SW_S3_SECRET_KEY
    region: $SW_S3_REGION
    regionendpoint: $SW_S3_ENDPOINT
    bucket: $SW_S3_BUCKET
    rootdirectory: /distribution
    secure: false
    v4auth: true
    # one CopyObject to move a finished upload into place: s3rver has no
    # UploadPartCopy, which the driver uses above this size (32 MiB default)
    multipartcopythresholdsize: 5368709120
  cache: { blobdescriptor: inmemory }
  redirect: { disable: true }
http: { addr: 127.0.0.1:$d_port }
YML
# (no AWS_CA_BUNDLE: the SDK refuses its own transport with one, and the
# endpoint is plain http on 127.0.0.1)
env -u AWS_CA_BUNDLE /usr/bin/docker-registry serve "$work/distribution.yml" > "$work/d.log" 2>&1 & d_pid=$!; pids+=($d_pid)
wait_http "$base/v2/" || { cat "$work/serve.log" >&2; die "slipway did not start"; }
wait_http "http://127.0.0.1:$d_port/v2/" || { cat "$work/d.log" >&2; die "docker-registry did not start"; }
declare -A port=([slipway]=$sw_port [distribution]=$d_port)
servers=(slipway distribution)
declare -A samples result
base_of() { echo "http://127.0.0.1:${port[$1]}/v2/bench/blobs"; }
interleave() { # FUNCTION ROUND
    local s v order=("${servers[@]}")
    [ $(($2 % 2)) = 0 ] && order=("${servers[1]}" "${servers[0]}")
    for s in "${order[@]}"; do
        v=$("$1" "$s" "$2") && [ -n "$v" ] || die "$1 on $s failed (round $2)"
        samples[$s]="${samples[$s]:-} $v"
    done
}
collect() { # KEY
    local s
    for s in "${servers[@]}"; do
        # shellcheck disable=SC2086
        result[$s,$1]=$(median ${samples[$s]})
        samples[$s]=
    done
}

# ---- registry: push, pull, manifest GET ----
declare -A digest
for i in $(seq 1 "$rounds"); do
    head -c $((size_mb * 1024 * 1024)) /dev/urandom > "$work/blob$i"
    digest[$i]=sha256:$(sha256sum "$work/blob$i" | cut -d' ' -f1)
done
printf '{}' > "$work/config"
config_digest=sha256:$(sha256sum "$work/config" | cut -d' ' -f1)
image_manifest "$config_digest" "${digest[1]}" $((size_mb * 1024 * 1024)) > "$work/manifest.json"
push_one() { python3 "$here/push.py" "$(base_of "$1")" "$work/blob$2" "${digest[$2]}" || exit 1; }
pull_one() { # SERVER ROUND -> MB/s, the bytes checked
    local t
    t=$(curl -sf --max-time 300 -o "$work/pulled" -w '%{time_total}' "$(base_of "$1")/blobs/${digest[$2]}") ||
        die "$1: pull failed"
    [ "sha256:$(sha256sum "$work/pulled" | cut -d' ' -f1)" = "${digest[$2]}" ] || die "$1 served a wrong blob"
    rm -f "$work/pulled"
    python3 -c "print(f'{$size_mb / $t:.0f}')"
}
manifest_get() {
    # --timeout 10s: Distribution on the S3 test server answers in seconds
    # under load; a slow answer is still a figure, an error is not
    wrk -t2 -c32 -d"${duration}s" --timeout 10s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "$(base_of "$1")/manifests/latest" > "$work/wrk.out"
    if grep -q 'Non-2xx\|Socket errors' "$work/wrk.out"; then cat "$work/wrk.out" >&2; die "$1: errors from wrk"; fi
    awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.out"
}
for s in "${servers[@]}"; do python3 "$here/push.py" "$(base_of "$s")" "$work/config" "$config_digest" > /dev/null; done
for i in $(seq 1 "$rounds"); do interleave push_one "$i"; done
collect push
for s in "${servers[@]}"; do
    curl -sf --max-time 60 -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary @"$work/manifest.json" "$(base_of "$s")/manifests/latest" || die "$s: manifest PUT failed"
done
for i in $(seq 1 "$rounds"); do interleave pull_one "$i"; done
collect pull
for i in 1 2; do interleave manifest_get "$i"; done
collect manifest

# ---- the build service ----
deliver() { # BRANCH SHA DELIVERY -> the run's id
    local body sig
    body=$(printf '{"ref":"refs/heads/%s","after":"%s","repository":{"clone_url":"file://%s"},"head_commit":{"id":"%s","message":"bench"}}' \
        "$1" "$2" "$src" "$2")
    sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac bench-secret -hex | awk '{print $NF}')
    curl -sf -X POST -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: $3" \
        -H "X-Hub-Signature-256: sha256=$sig" --data "$body" "$base/hooks/github" | jq -r '.runs[0].id // empty'
}
wait_runs() { # RUN... : until every one has ended; fails on a run that did not succeed
    local r st
    for r in "$@"; do
        for _ in $(seq 6000); do
            st=$(curl -s "$base/api/v1/runs/$r" | jq -r .status)
            case $st in queued | running | "") sleep 0.05 ;; *) break ;; esac
        done
        [ "$st" = succeeded ] || die "run $r ended $st: $(curl -s "$base/api/v1/runs/$r/log" | tail -n 5)"
    done
}
branch_commit() { # BRANCH -> sha (a commit of its own on a new branch off main)
    git_ -C "$src" checkout -q -b "$1" main
    echo "$1" > "$src/app.txt"
    git_ -C "$src" commit -qam "$1"
    git_ -C "$src" rev-parse HEAD
    git_ -C "$src" checkout -q main
}
worker_pids=()
start_workers() { # N
    local i c
    for i in $(seq 1 "$1"); do
        c=$(slipway_config "$work/worker-$1-$i" "$(free_port)" 1)
        "$bin" worker --config "$c" --name "w$1-$i" > "$work/worker-$1-$i.log" 2>&1 &
        worker_pids+=($!)
        pids+=($!)
    done
}
stop_workers() {
    local p
    for p in "${worker_pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${worker_pids[@]}"; do wait "$p" 2> /dev/null || true; done
    worker_pids=()
}

# webhook -> pullable, one idle worker process
start_workers 1
latency=()
for round in $(seq 1 $((rounds + 1))); do
    echo "main $round" > "$src/app.txt"
    git_ -C "$src" commit -qam "main $round"
    sha=$(git_ -C "$src" rev-parse HEAD)
    sleep 1 # the worker idle, waiting for work
    t0=$(now)
    run=$(deliver main "$sha" "main-$round") && [ -n "$run" ] || die "delivery main-$round failed"
    for _ in $(seq 6000); do
        curl -sf -o /dev/null -I "$base/v2/bench/app/manifests/sha-${sha:0:7}" && break
        sleep 0.01
    done
    curl -sf -o /dev/null -I "$base/v2/bench/app/manifests/sha-${sha:0:7}" ||
        die "round $round never became pullable: $(curl -s "$base/api/v1/runs/$run/log" | tail -n 5)"
    latency+=("$(ms "$t0" "$(now)")")
done
stop_workers

declare -A bpm
for n in 1 2 4; do
    start_workers "$n"
    warm=()
    for i in $(seq 1 "$n"); do
        sha=$(branch_commit "b$n-$((1000 + i))")
        warm+=("$(deliver "b$n-$((1000 + i))" "$sha" "warm-$n-$i")")
    done
    wait_runs "${warm[@]}"
    shas=()
    for i in $(seq 1 "$builds"); do shas+=("$(branch_commit "b$n-$i")"); done
    ids=()
    t0=$(now)
    for i in $(seq 1 "$builds"); do ids+=("$(deliver "b$n-$i" "${shas[$((i - 1))]}" "b-$n-$i")"); done
    wait_runs "${ids[@]}"
    bpm[$n]=$(python3 -c "print(f'{$builds * 60 / ($(now) - $t0):.1f}')")
    stop_workers
done

# ---- table ----
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo "scale-out benchmark: $(nproc) cores, load average $load_start at start, $load_end at end;"
echo "  PostgreSQL $("$SW_PG_BIN/postgres" --version | awk '{print $3}') and the S3 test server (s3rver + SigV4 front) on 127.0.0.1;"
echo "  ${size_mb} MiB blobs, $rounds interleaved rounds (median), wrk ${duration} s x 2 at 32 connections;"
echo "  $(/usr/bin/docker-registry --version | awk '{print $2, $3}') with its s3 driver on the same server"
printf '%-34s %12s %14s %9s\n' metric slipway distribution ratio
row() { # LABEL KEY
    local a=${result[slipway,$2]} b=${result[distribution,$2]}
    printf '%-34s %12s %14s %9s\n' "$1" "$a" "$b" "$(python3 -c "print(f'{$a / max($b, 1):.2f}x')")"
}
row "push MB/s" push
row "pull MB/s" pull
row "manifest GET req/s" manifest
printf '%-34s %12s\n' "builds/minute, 1 worker process" "${bpm[1]}" \
    "builds/minute, 2 worker processes" "${bpm[2]}" "builds/minute, 4 worker processes" "${bpm[4]}"
printf '%-34s %12s\n' "webhook -> pullable, cold (ms)" "${latency[0]}" \
    "webhook -> pullable, median (ms)" "$(median "${latency[@]:1}")"
echo "(builds: $builds queued at once, COPY + a RUN writing 4 MiB, each worker process with its own data dir)"
