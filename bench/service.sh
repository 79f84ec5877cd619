#!/usr/bin/env bash
# The build service end to end: how fast a push becomes a pullable image.
#
#   webhook reply        a signed GitHub push delivery answered 202 with the
#                        run committed to SQLite, no workers running: 1,000
#                        deliveries at a fixed 100 per second (open loop,
#                        bench/webhook.py), p50, p95, p99 and max, and the
#                        server's own p99, with 1,000 -> 2,000 and 9,000 ->
#                        10,000 runs stored, WEBHOOK_ROUNDS (3) rounds each
#                        (p50 should stay flat as runs accumulate)
#   push to pullable     from POSTing the delivery of a new commit to the
#                        moment its sha-<commit> tag answers HEAD on /v2/
#                        (fetch into the mirror, checkout, build with the
#                        cache warm, tag); the first round is cold (empty
#                        build cache, fresh mirror)
#
# Reference, same machine, same Dockerfile and commits: what a CI runner
# does for each push — `git clone` of the commit, `buildah bud --layers`
# (isolation chroot, a warm buildah root), `buildah push` into slipway's
# registry. (The hosted services queue for tens of seconds before this
# even starts.)
#
# The load average is printed at the start and the end.
#
# usage: bench/service.sh [path/to/slipway]   (as root; a few minutes; gives
#        up after BENCH_TIMEOUT seconds, default 600)
set -euo pipefail
if [ -z "${BENCH_SERVICE_BOUNDED:-}" ]; then
    BENCH_SERVICE_BOUNDED=1 exec timeout -k 20 "${BENCH_TIMEOUT:-600}" bash "$0" "$@"
fi
bin=$(realpath "${1:-${SLIPWAY_BIN:-build/cli/slipway}}")
here=$(dirname "$(realpath "$0")")
rounds=${ROUNDS:-5}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
have_buildah=1
command -v buildah > /dev/null || { have_buildah=0; echo "(buildah not installed: no reference column)" >&2; }
work=$(mktemp -d "${SLIPWAY_TEST_TMP:-/tmp}/slipway-bench-service.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    [ "$have_buildah" = 0 ] || buildah --root "$work/bh/root" --runroot "$work/bh/run" rm --all > /dev/null 2>&1 || true
    umount -R "$work/bh/root/overlay" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work XDG_RUNTIME_DIR=$work
mkdir -p "$HOME/.config/containers"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$HOME/.config/containers/policy.json"
. "$here/lib.sh"
ms() { python3 -c "print(round(($2 - $1) * 1000))"; }
git_() { git -c user.name=Bench -c user.email=bench@localhost "$@"; }

# --- a source repository and a base image ----------------------------------------
src=$work/src
mkdir -p "$src" "$work/rootfs/bin" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh ls cat echo wc; do ln -s busybox "$work/rootfs/bin/$a"; done
chmod 1777 "$work/rootfs/tmp"
tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
git_ -C "$src" init -q -b main
cat > "$src/Dockerfile" <<'EOF'
FROM bench/busybox:1
COPY app.txt /app/app.txt
RUN wc -c /app/app.txt > /app/size.txt
CMD ["cat", "/app/app.txt"]
EOF
sed 's|^FROM bench/busybox:1|FROM localhost/bench/busybox:1|' "$src/Dockerfile" > "$src/Dockerfile.buildah"
echo 0 > "$src/app.txt"
git_ -C "$src" add -A
git_ -C "$src" commit -qm "round 0"

port=$(free_port)
base=http://127.0.0.1:$port
write_config() { # WORKERS
    cat > "$work/slipway.yaml" <<YML
server: { listen: "127.0.0.1:$port", data_dir: $work/data, max_connections_per_ip: 1024 }
workers: $1
repos:
  - name: bench/app
    git: file://$src
    secret: bench-secret
    rules:
      - { source_type: branch, source: main, tags: [latest, "sha-{commit:7}"] }
YML
}
start() {
    "$bin" serve --config "$work/slipway.yaml" > "$work/serve.log" 2>&1 & pids+=($!)
    for _ in $(seq 100); do curl -sf "$base/v2/" > /dev/null && return 0; sleep 0.1; done
    echo "bench/service.sh: the server did not start" >&2; cat "$work/serve.log" >&2; exit 1
}
stop() { kill "${pids[-1]}"; wait "${pids[-1]}" 2> /dev/null || true; }
deliver() { # SHA DELIVERY -> prints curl's time_total and status
    local body sig
    body=$(printf '{"ref":"refs/heads/main","after":"%s","repository":{"clone_url":"file://%s"},"head_commit":{"id":"%s","message":"bench"}}' "$1" "$src" "$1")
    sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac bench-secret -hex | awk '{print $NF}')
    curl -s -o /dev/null -w '%{time_total} %{http_code}\n' -X POST -H 'X-GitHub-Event: push' \
        -H "X-GitHub-Delivery: $2" -H "X-Hub-Signature-256: sha256=$sig" --data "$body" "$base/hooks/github"
}

write_config 0
compare=()
for c in ${COMPARE:-}; do compare+=("$(realpath "$c")"); done
"${compare[0]:-$bin}" import --config "$work/slipway.yaml" "tar:$work/rootfs.tar" bench/busybox:1 > /dev/null

# --- webhook replies -------------------------------------------------------------------
# Two stored histories, 1,000 and 9,000 runs, are filled once and saved; each
# measured round restores one, starts the server and sends 1,000 deliveries at
# 100/s (ending at 2,000 and 10,000 runs). WEBHOOK_ROUNDS rounds (default 3),
# 2k and 10k alternating; with COMPARE="<other slipway binaries>" each round runs
# each binary back to back on the same history (A/B pairs under the same load;
# the histories are filled by the first of COMPARE, the oldest schema). The server
# writes a trace per delivery (SLIPWAY_HOOK_TRACE) and webhook.py prints where
# the slowest 1% and the middle spent their time.
head0=$(git_ -C "$src" rev-parse HEAD)
# the client is the instrument: it runs at a higher priority (BENCH_CLIENT_NICE,
# default -10) so that on a loaded machine its own wake-ups stay on schedule
# and a delay shows where the server spent it
client_nice=${BENCH_CLIENT_NICE:--10}
hook() { nice -n "$client_nice" python3 "$here/webhook.py" "$base" bench-secret "file://$src" "$head0" "$@"; }
bins=("${compare[@]}" "$bin")
main_bin=$bin
bin=${bins[0]}
start
hook fill 1000 > /dev/null || exit 1
stop
mkdir -p "$work/snap-2k" "$work/snap-10k"
cp -a "$work/data/"slipway.db* "$work/snap-2k/"
start
hook fill 8000 > /dev/null || exit 1
stop
cp -a "$work/data/"slipway.db* "$work/snap-10k/"
hook_rows=()
for round in $(seq "${WEBHOOK_ROUNDS:-3}"); do
    for stored in 2k 10k; do
        for bin in "${bins[@]}"; do
            rm -f "$work/data/"slipway.db*
            cp -a "$work/snap-$stored/"slipway.db* "$work/data/"
            rm -f "$work/trace"
            SLIPWAY_HOOK_TRACE=$work/trace start
            load=$(cut -d' ' -f1 /proc/loadavg)
            label=$([ "$bin" = "$main_bin" ] && echo slipway || basename "$bin")
            echo "webhook round $round, $stored runs, $label (load $load):" >&2
            read -r p50 p95 p99 max sp99 < <(hook rate 100 1000 "$work/trace") || true
            [ -n "$max" ] || { echo "bench/service.sh: the webhook round failed; the server's log:" >&2; tail -20 "$work/serve.log" >&2; exit 1; }
            [ -z "${BENCH_TRACES:-}" ] || cp "$work/trace" "$BENCH_TRACES/$label-$stored-$round.trace"
            hook_rows+=("$(printf '%-22s %-5s %5s %8s %8s %8s %8s %10s %6s' "$label" "$stored" "$round" "$p50" "$p95" "$p99" "$max" "$sp99" "$load")")
            stop
        done
    done
done
runs_stored=$(sqlite3 "$work/data/slipway.db" 'SELECT count(*) FROM runs' 2> /dev/null || echo "?")
bin=$main_bin
if [ "${PARTS:-all}" = webhook ]; then
    echo "slipway webhook benchmark; $(nproc) cores; load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo "slipway: $bin${COMPARE:+; compared with: ${compare[*]}}"
    printf '%-22s %-5s %5s %8s %8s %8s %8s %10s %6s\n' binary runs round p50 p95 p99 max "server p99" load
    printf '%s\n' "${hook_rows[@]}"
    echo "(ms; 1,000 deliveries at 100/s per round; server p99: from the server's first sight of the request to its answer; client at nice $client_nice)"
    exit 0
fi
rm -rf "$work/data/slipway.db"*  # the queued runs are not to be built
"$bin" import --config "$work/slipway.yaml" "tar:$work/rootfs.tar" bench/busybox:1 > /dev/null

# --- push to pullable ------------------------------------------------------------------
write_config 2
start
sw=()
for round in $(seq "$rounds"); do
    echo "$round" > "$src/app.txt"
    git_ -C "$src" commit -qam "round $round"
    sha=$(git_ -C "$src" rev-parse HEAD)
    t0=$(now)
    read -r _ code < <(deliver "$sha" "push-$round")
    [ "$code" = 202 ] || { echo "bench/service.sh: push $round answered $code" >&2; exit 1; }
    for _ in $(seq 3000); do
        curl -sf -o /dev/null -I "$base/v2/bench/app/manifests/sha-${sha:0:7}" && break
        sleep 0.01
    done
    curl -sf -o /dev/null -I "$base/v2/bench/app/manifests/sha-${sha:0:7}" ||
        { echo "bench/service.sh: round $round never became pullable" >&2; tail -20 "$work/serve.log" >&2; exit 1; }
    sw+=("$(ms "$t0" "$(now)")")
done

# --- the reference: clone, buildah bud, buildah push --------------------------------------
bh=()
if [ "$have_buildah" = 1 ]; then
    b=(buildah --root "$work/bh/root" --runroot "$work/bh/run" --storage-driver "${BUILDAH_DRIVER:-overlay}")
    "$bin" export --config "$work/slipway.yaml" bench/busybox:1 "oci-archive:$work/base.tar" > /dev/null
    if ! "${b[@]}" pull -q "oci-archive:$work/base.tar" > "$work/base.id" 2> /dev/null; then
        b=(buildah --root "$work/bh/root" --runroot "$work/bh/run" --storage-driver vfs)
        "${b[@]}" pull -q "oci-archive:$work/base.tar" > "$work/base.id"
    fi
    "${b[@]}" tag "$(cat "$work/base.id")" localhost/bench/busybox:1
    for round in $(seq "$rounds"); do
        echo "ref $round" > "$src/app.txt"
        git_ -C "$src" commit -qam "reference round $round"
        sha=$(git_ -C "$src" rev-parse HEAD)
        t0=$(now)
        rm -rf "$work/clone"
        git clone -q "file://$src" "$work/clone"
        git -C "$work/clone" checkout -q "$sha"
        "${b[@]}" bud -q --layers --isolation chroot -f "$work/clone/Dockerfile.buildah" \
            -t "bh-app:$round" "$work/clone" > /dev/null 2>&1
        "${b[@]}" push -q --tls-verify=false "bh-app:$round" "docker://127.0.0.1:$port/ref/app:sha-${sha:0:7}"
        bh+=("$(ms "$t0" "$(now)")")
    done
fi

echo "slipway build service benchmark; $(nproc) cores; load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "slipway: $bin"
printf '%-34s %10s %10s\n' "metric" "slipway" "reference"
printf '%-34s %10s %10s\n' "push to pullable, cold (ms)" "${sw[0]}" "${bh[0]:--}"
printf '%-34s %10s %10s\n' "push to pullable, warm median (ms)" "$(median "${sw[@]:1}")" \
    "$([ ${#bh[@]} -gt 1 ] && median "${bh[@]:1}" || echo -)"
echo "(reference = git clone + buildah bud --layers + buildah push of the same commit)"
echo "webhook at 100/s, 1,000 deliveries per round, ms (2k: 1,000 -> 2,000 runs stored; 10k: 9,000 -> $runs_stored):"
printf '%-22s %-5s %5s %8s %8s %8s %8s %10s %6s\n' binary runs round p50 p95 p99 max "server p99" load
printf '%s\n' "${hook_rows[@]}"
echo "(server p99: from the server's first sight of the request to its answer; client at nice $client_nice)"
