#!/usr/bin/env bash
# 300-multi-machine.sh - Slipway scaled out over several "machines" that
# share only PostgreSQL and S3 (issue 15): each machine is a network
# namespace with its own data dir (tests/lib/netns.sh), reaching the hub
# (PostgreSQL, the SigV4-checking S3 test server and a git daemon playing the
# forge) over a veth link on 10.231.0.0/24, and nothing else.
#
#   m1  front end A   slipway serve, workers: 0
#   m2  front end B   slipway serve, workers: 0
#   m3  worker w1     slipway worker
#   m4  worker w2     slipway worker
#   m5  client        curl, skopeo, the webhook sender
#
# Checked, as a user sees it:
#   - A and B start at the same moment on an empty database;
#   - a webhook sent to A builds on a worker; the log streams live from B's
#     SSE endpoint (a tick of the RUN arrives while the run is running); the
#     image pulls through A and through B with skopeo, the same digest;
#   - a chunked upload whose requests alternate (POST on A, PATCH on B, PATCH
#     on A, PUT on B) completes, and the blob reads back through both;
#   - kill -9 of the worker running a build: the run is retried on the other
#     worker and succeeds;
#   - kill -9 of front end A in the middle of an upload: the blob, manifest
#     and chunk it acknowledged before are there through B, and the upload
#     goes on through B from the offset B reports.
#
# It rests on run logs in the database, NOTIFY and workers with data dirs of
# their own (branch h-live) and on S3 as the store of every blob access,
# upload sessions included (branch h-backend). About a minute.
source "$(dirname "$0")/../e2e/svc-lib.sh"
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
sw_time_limit 300

for tool in ip nsenter git skopeo umoci jq; do
    command -v "$tool" > /dev/null || {
        echo "not ok - $tool is not installed (scripts/install-deps.sh --test)"
        exit 1
    }
done

A=1 B=2 W1=3 W2=4 CLIENT=5
PORT=5000
sw_net_up 5
sw_net_pg_start
sw_net_s3_start
ADDR_A=$(sw_net_addr $A) ADDR_B=$(sw_net_addr $B)
URL_A=http://$ADDR_A:$PORT URL_B=http://$ADDR_B:$PORT

# Every client command runs on the client machine: the host itself has no
# route to 10.231.0.0/24. (svc-lib's helpers call curl and sk.)
curl() { sw_net_in "$CLIENT" curl "$@"; }
sk() { HOME=$SW_SCRATCH XDG_RUNTIME_DIR=$SW_SCRATCH sw_net_in "$CLIENT" skopeo --insecure-policy "$@"; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# --- the forge: a Git repository served by git daemon on the hub -------------------
work=$(sw_tmpdir)
src=$work/forge/app
svc_git_init "$src"
svc_slow_dockerfile "$src"
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "a slow Dockerfile"
svc_git -C "$src" branch slow
head=$(svc_git -C "$src" rev-parse HEAD)
sw_net_start git-daemon 0 git daemon --reuseaddr --export-all --listen="$SW_NET_HUB_ADDR" \
    --port=9418 --base-path="$work/forge" "$work/forge"

# --- one config per machine: its own data dir, the shared database and bucket ------
machine_config() { # I NAME WORKERS
    local dir=$work/$2
    mkdir -p "$dir/data"
    cat > "$dir/slipway.yaml" <<YAML
server:
  listen: $(sw_net_addr "$1"):$PORT
  data_dir: $dir/data
database: $SW_PG_URL
$(sw_net_storage_yaml)
workers: $3
runs: { lease: 3s, max_attempts: 3 }
registry:
  local_hosts: [$ADDR_A:$PORT, $ADDR_B:$PORT]
repos:
  - name: demo/app
    git: git://$SW_NET_HUB_ADDR/app
    secret: s3cret
    rules:
      - { source_type: branch, source: main, tags: [latest] }
      - { source_type: branch, source: slow, dockerfile: Dockerfile.slow, tags: [slow] }
YAML
    echo "$dir/slipway.yaml"
}
cfg_a=$(machine_config $A front-a 0)
cfg_b=$(machine_config $B front-b 0)
cfg_w1=$(machine_config $W1 w1 1)
cfg_w2=$(machine_config $W2 w2 1)

# both front ends at the same moment, on an empty database and bucket
sw_net_start front-a $A "$SLIPWAY_BIN" serve --config "$cfg_a"
sw_net_start front-b $B "$SLIPWAY_BIN" serve --config "$cfg_b"
check "front end A answers on /v2/ from the client machine" sw_net_wait_http $CLIENT "$URL_A/v2/" 30
check "front end B, started at the same moment on the empty database, too" \
    sw_net_wait_http $CLIENT "$URL_B/v2/" 30
for name in front-a front-b; do
    kill -0 "${SW_NET_PID[$name]}" 2> /dev/null ||
        fail "$name exited: $(tail -n 5 "$SW_SCRATCH/serve.$name.log" | tr '\n' '|')"
done
for i in $A $B $W1 $W2 $CLIENT; do
    routes=$(sw_net_in "$i" ip -4 route | tr '\n' '|')
    check "machine $i's only route is the shared link ($routes)" \
        test "$routes" = "10.231.0.0/24 dev eth0 proto kernel scope link src $(sw_net_addr "$i") |"
done

# the base image, imported on machine A into the shared store
[ -s "$SW_SCRATCH/busybox.tar" ] || sw_busybox_tar "$SW_SCRATCH/busybox.tar"
if sw_net_in $A "$SLIPWAY_BIN" import --config "$cfg_a" "tar:$SW_SCRATCH/busybox.tar" test/busybox:1 \
    > "$work/import.log" 2>&1; then
    ok "slipway import on machine A stores test/busybox:1"
else
    fail "import: $(tail -n 3 "$work/import.log" | tr '\n' '|')"
fi
SVC_BASE=$URL_B
check "B serves the image A imported (shared database and bucket)" \
    test -n "$(svc_tag_digest test/busybox:1)"

sw_net_start w1 $W1 "$SLIPWAY_BIN" worker --config "$cfg_w1" --name w1
sw_net_start w2 $W2 "$SLIPWAY_BIN" worker --config "$cfg_w2" --name w2
worker_processes() { curl -s "$URL_B/api/v1/status" | jq -r '.worker_processes // 0' 2> /dev/null || echo 0; }
for _ in $(seq 100); do
    [ "$(worker_processes)" -ge 2 ] && break
    sleep 0.1
done
check "B's status counts both worker processes" test "$(worker_processes)" -ge 2

# --- a webhook to A; the log live from B; the image through both -------------------
svc_hook "$URL_A/hooks/github/demo/app" refs/heads/slow "$head" delivery-1 s3cret
run=$(jq -r '.runs[0].id // empty' <<< "$SVC_BODY" 2> /dev/null || true)
[ "$SVC_STATUS" = 202 ] && [ -n "$run" ] && ok "A accepts the signed push and queues run $run" ||
    fail "webhook to A: $SVC_STATUS $SVC_BODY"
curl -sN --max-time 60 "$URL_B/api/v1/runs/$run/events" > "$work/sse-b.txt" 2>&1 &
sse_pid=$!
live=
for _ in $(seq 300); do
    if grep -q "^data: tick 2" "$work/sse-b.txt" 2> /dev/null; then
        live=$(curl -s "$URL_A/api/v1/runs/$run" | jq -r .status 2> /dev/null || true)
        break
    fi
    sleep 0.1
done
check "B's SSE stream shows the RUN's output while the run is running (live: $live)" test "$live" = running
SVC_BASE=$URL_A
check "the run succeeds" test "$(svc_wait "$run")" = succeeded
wait "$sse_pid" 2> /dev/null || true
grep -q '^event: end' "$work/sse-b.txt" && grep -A1 '^event: end' "$work/sse-b.txt" | grep -q 'succeeded' &&
    ok "B's stream ends with the run's end: succeeded" || fail "SSE from B: $(tail -c 400 "$work/sse-b.txt")"
grep -q "^data: tick 8" "$work/sse-b.txt" && ok "B's stream has the whole log" ||
    fail "SSE from B is missing the last tick: $(grep -c '^data: tick' "$work/sse-b.txt") ticks"
builder=$(curl -s "$URL_B/api/v1/runs/$run/log" | sed -n 's/.*attempt 1, worker \(w[12]\).*/\1/p' | head -1)
check "a worker machine built it (the log names $builder)" test -n "$builder"
SVC_BASE=$URL_A
digest_a=$(svc_tag_digest demo/app:slow)
SVC_BASE=$URL_B
digest_b=$(svc_tag_digest demo/app:slow)
[ -n "$digest_a" ] && [ "$digest_a" = "$digest_b" ] && ok "skopeo sees demo/app:slow through A and B: $digest_a" ||
    fail "digests: A '$digest_a' B '$digest_b'"
check "the image pulled through B has the commit's file" test "$(svc_file demo/app:slow hello.txt)" = first
SVC_BASE=$URL_A
check "and through A too" test "$(svc_file demo/app:slow hello.txt)" = first

# --- a chunked upload across both front ends ----------------------------------------
upload_start() { # BASE REPO -> the upload's path
    curl -s -D - -o /dev/null -X POST -H 'Content-Length: 0' "$1/v2/$2/blobs/uploads/" |
        tr -d '\r' | sed -n 's/^[Ll]ocation: //p'
}
patch_chunk() { # BASE LOCATION FILE OFFSET -> "STATUS RANGE"
    local size end
    size=$(stat -c %s "$3")
    end=$(($4 + size - 1))
    curl -s -D - -o /dev/null -X PATCH -H 'Content-Type: application/octet-stream' \
        -H "Content-Range: $4-$end" --data-binary "@$3" "$1$2" |
        tr -d '\r' | awk '/^HTTP/ {s = $2} tolower($1) == "range:" {r = $2} END {print s, r}'
}
put_last() { # BASE LOCATION FILE DIGEST -> status
    local sep='?'
    [[ $2 == *\?* ]] && sep='&'
    curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
        --data-binary "@$3" "$1$2${sep}digest=$4"
}
blob_sha() { # BASE REPO DIGEST
    curl -sf "$1/v2/$2/blobs/$3" | sha256sum | cut -d' ' -f1
}
mib=$((1024 * 1024))
head -c $((12 * mib)) /dev/urandom > "$work/big"
dd if="$work/big" of="$work/c1" bs=1M count=6 status=none
dd if="$work/big" of="$work/c2" bs=1M skip=6 count=4 status=none
dd if="$work/big" of="$work/c3" bs=1M skip=10 status=none
big=sha256:$(sha_of "$work/big")
loc=$(upload_start "$URL_A" demo/chunked)
[ -n "$loc" ] && ok "POST on A opens an upload ($loc)" || fail "POST on A: no Location"
got=$(patch_chunk "$URL_B" "$loc" "$work/c1" 0)
check "PATCH of 6 MiB on B continues A's upload: $got" test "$got" = "202 0-$((6 * mib - 1))"
got=$(patch_chunk "$URL_A" "$loc" "$work/c2" $((6 * mib)))
check "PATCH of 4 MiB on A continues it: $got" test "$got" = "202 0-$((10 * mib - 1))"
check "PUT with the last 2 MiB on B completes it" test "$(put_last "$URL_B" "$loc" "$work/c3" "$big")" = 201
check "the 12 MiB blob reads back through A" test "$(blob_sha "$URL_A" demo/chunked "$big")" = "${big#sha256:}"
check "and through B" test "$(blob_sha "$URL_B" demo/chunked "$big")" = "${big#sha256:}"

# --- kill -9 of the worker running a build --------------------------------------------
sha=$(svc_commit "$src" "second")
svc_git -C "$src" branch -f slow "$sha"
svc_hook "$URL_B/hooks/github/demo/app" refs/heads/slow "$sha" delivery-2 s3cret
run=$(jq -r '.runs[0].id // empty' <<< "$SVC_BODY" 2> /dev/null || true)
[ "$SVC_STATUS" = 202 ] && [ -n "$run" ] && ok "B accepts a second push: run $run" ||
    fail "webhook to B: $SVC_STATUS $SVC_BODY"
victim=
for _ in $(seq 300); do
    log=$(curl -s "$URL_A/api/v1/runs/$run/log")
    if grep -q "tick 2" <<< "$log"; then
        victim=$(sed -n 's/.*attempt 1, worker \(w[12]\).*/\1/p' <<< "$log" | head -1)
        break
    fi
    sleep 0.1
done
if [ -n "$victim" ] && [ "$(svc_run_field "$run" .status)" = running ]; then
    ok "run $run is building on $victim"
    kill -9 "${SW_NET_PID[$victim]}"
    wait "${SW_NET_PID[$victim]}" 2> /dev/null || true
    check "$victim is gone" bash -c "! kill -0 ${SW_NET_PID[$victim]} 2> /dev/null"
    other=w1
    [ "$victim" = w1 ] && other=w2
    check "after kill -9 of $victim the run succeeds" test "$(svc_wait "$run")" = succeeded
    check "in two attempts" test "$(svc_run_field "$run" .attempts)" = 2
    grep -q "attempt 2, worker $other" <(curl -s "$URL_B/api/v1/runs/$run/log") &&
        ok "the second attempt ran on $other" || fail "log: $(curl -s "$URL_B/api/v1/runs/$run/log" | tail -n 5)"
    check "demo/app:slow now has the second commit's file" test "$(svc_file demo/app:slow hello.txt)" = second
    # the killed machine comes back (its own data dir, as it was left)
    cfg_victim=$cfg_w1
    [ "$victim" = w2 ] && cfg_victim=$cfg_w2
    sw_net_start "$victim" "$([ "$victim" = w1 ] && echo $W1 || echo $W2)" \
        "$SLIPWAY_BIN" worker --config "$cfg_victim" --name "$victim"
else
    fail "run $run did not start building (status $(svc_run_field "$run" .status), worker '$victim')"
fi

# --- kill -9 of a front end in the middle of an upload --------------------------------
# what A acknowledges first: a layer, a config and a manifest tagged "acked",
# and the first 6 MiB of a chunked upload
mkdir -p "$work/layer"
head -c $((mib)) /dev/urandom > "$work/layer/payload"
tar -C "$work/layer" --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$work/layer.tar" payload
gzip -n -c "$work/layer.tar" > "$work/layer.tgz"
layer=sha256:$(sha_of "$work/layer.tgz")
jq -cn --arg d "sha256:$(sha_of "$work/layer.tar")" \
    '{architecture: "amd64", os: "linux", config: {}, rootfs: {type: "layers", diff_ids: [$d]}}' > "$work/config.json"
config=sha256:$(sha_of "$work/config.json")
jq -cn --arg c "$config" --argjson cs "$(stat -c %s "$work/config.json")" \
    --arg l "$layer" --argjson ls "$(stat -c %s "$work/layer.tgz")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' > "$work/manifest.json"
manifest=sha256:$(sha_of "$work/manifest.json")
push_blob() { # BASE FILE DIGEST -> status
    curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary "@$2" "$1/v2/demo/acked/blobs/uploads/?digest=$3"
}
check "A acknowledges the layer (201)" test "$(push_blob "$URL_A" "$work/layer.tgz" "$layer")" = 201
check "A acknowledges the config (201)" test "$(push_blob "$URL_A" "$work/config.json" "$config")" = 201
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$work/manifest.json" "$URL_A/v2/demo/acked/manifests/acked")
check "A acknowledges the manifest tagged acked (201)" test "$code" = 201
head -c $((40 * mib)) /dev/urandom > "$work/big2"
dd if="$work/big2" of="$work/d1" bs=1M count=6 status=none
dd if="$work/big2" of="$work/d2" bs=1M skip=6 status=none
big2=sha256:$(sha_of "$work/big2")
loc=$(upload_start "$URL_A" demo/acked)
got=$(patch_chunk "$URL_A" "$loc" "$work/d1" 0)
check "A acknowledges the first 6 MiB of a chunked upload: $got" test "$got" = "202 0-$((6 * mib - 1))"
# the next 34 MiB, slowly, and A killed while they flow
curl -s -o /dev/null --limit-rate 4M -X PATCH -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: $((6 * mib))-$((40 * mib - 1))" --data-binary "@$work/d2" "$URL_A$loc" &
slow_pid=$!
sleep 2
kill -9 "${SW_NET_PID[front-a]}"
wait "${SW_NET_PID[front-a]}" 2> /dev/null || true
slow_status=0
wait "$slow_pid" 2> /dev/null || slow_status=$?
check "A is gone, and the PATCH in flight got no answer (curl exit $slow_status)" \
    bash -c "! kill -0 ${SW_NET_PID[front-a]} 2> /dev/null && [ $slow_status != 0 ]"
check "after kill -9 of A, B serves the layer A acknowledged" \
    test "$(blob_sha "$URL_B" demo/acked "$layer")" = "${layer#sha256:}"
got=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$URL_B/v2/demo/acked/manifests/acked" | sha256sum | cut -d' ' -f1)
check "and the manifest tagged acked, byte for byte" test "sha256:$got" = "$manifest"
SVC_BASE=$URL_B
check "skopeo pulls demo/acked:acked through B" test "$(svc_file demo/acked:acked payload | sha256sum)" = \
    "$(sha256sum < "$work/layer/payload")"
range=$(curl -s -D - -o /dev/null "$URL_B$loc" | tr -d '\r' | sed -n 's/^[Rr]ange: 0-//p')
if [ -n "$range" ] && [ "$range" -ge $((6 * mib - 1)) ] && [ "$range" -lt $((40 * mib)) ]; then
    ok "B reports the upload A was killed in at offset $((range + 1)) (at least the acknowledged 6 MiB)"
    dd if="$work/big2" of="$work/rest" bs=$((range + 1)) skip=1 status=none
    code=$(put_last "$URL_B" "$loc" "$work/rest" "$big2")
    check "B completes it from there (201)" test "$code" = 201
    check "the 40 MiB blob reads back through B" test "$(blob_sha "$URL_B" demo/acked "$big2")" = "${big2#sha256:}"
else
    fail "the upload's state on B: Range '0-$range' ($(curl -s -o /dev/null -w '%{http_code}' "$URL_B$loc"))"
fi

# A comes back with nothing lost either
sw_net_start front-a $A "$SLIPWAY_BIN" serve --config "$cfg_a"
check "A restarts" sw_net_wait_http $CLIENT "$URL_A/v2/" 30
check "A serves the blob B completed" test "$(blob_sha "$URL_A" demo/acked "$big2")" = "${big2#sha256:}"

sw_finish
