#!/usr/bin/env bash
# 210-migrate.sh - `slipway migrate`: an embedded installation like the
# quickstart's (images imported and pushed with skopeo, a multi-arch index,
# a build run with its log) is stopped and moved to a throwaway PostgreSQL
# cluster (tests/lib/pg.sh) and the SigV4-checking S3 test server
# (tests/lib/s3-server.js). Checked: refusals (a running server, literal
# secrets, a target that holds data), every row counted on both sides,
# every object re-read from S3 and its digest checked (--verify), the old
# data dir byte for byte as it was, a kill -9 mid-copy that leaves no rows
# and a run after it that finds the blobs copied, --force on a live store,
# the run log moved to the new data dir; then the moved installation is
# served: every tag pulls with the same digest, the run's log is served and
# a new run builds; once more for a move to PostgreSQL and a new data dir.
source "$(dirname "$0")/svc-lib.sh"
# shellcheck source=../lib/s3-lib.sh
source "$(dirname "$0")/../lib/s3-lib.sh"
# shellcheck source=../lib/pg.sh
source "$(dirname "$0")/../lib/pg.sh"
sw_time_limit 300

work=$(sw_tmpdir)
src=$work/src/hello
svc_git_init "$src"
commit=$(svc_git -C "$src" rev-parse HEAD)

installation() { # NAME PORT [MORE_YAML]: writes $work/NAME/slipway.yaml, prints its path
    mkdir -p "$work/$1"
    cat > "$work/$1/slipway.yaml" <<YAML
server:
  listen: 127.0.0.1:$2
  data_dir: $work/$1/data
workers: 1
repos:
  - name: demo/hello
    git: file://$src
    secret: s3cret
    rules:
      - { source_type: branch, source: main, tags: [latest, "{run_id}"] }
${3:-}
YAML
    echo "$work/$1/slipway.yaml"
}

# --- the embedded installation ---------------------------------------------------
port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
reg=127.0.0.1:$port
old=$(installation old "$port")
sw_import_busybox "$old" test/busybox:1 > /dev/null
sw_import_busybox "$old" library/busybox:latest --cmd '["sh"]' > /dev/null
# two images with 24 MiB of incompressible bytes, so that copying takes a
# while (a kill lands mid-copy below)
for n in 1 2; do
    mkdir -p "$work/big$n"
    head -c 25165824 /dev/urandom > "$work/big$n/data"
    tar -C "$work/big$n" -cf "$work/big$n.tar" data
    "$SLIPWAY_BIN" import --config "$old" "tar:$work/big$n.tar" "demo/big:$n" > /dev/null
done
sw_start_server "$old"

check "skopeo pushes an image (the quickstart's demo/busybox:1)" quiet sk copy \
    --src-tls-verify=false --dest-tls-verify=false \
    "docker://$reg/library/busybox:latest" "docker://$reg/demo/busybox:1"

# a multi-arch index: the busybox manifest and an arm64 twin (its config
# says arm64), in an OCI layout, pushed with skopeo copy --all
lay=$work/layout
quiet sk copy --src-tls-verify=false "docker://$reg/library/busybox:latest" "oci:$lay:amd64"
in_layout() { printf '%s/blobs/sha256/%s' "$lay" "${1#sha256:}"; }
store() { # FILE: into the layout; prints "DIGEST SIZE"
    local d
    d=sha256:$(sha256sum "$1" | cut -d' ' -f1)
    cp "$1" "$(in_layout "$d")"
    echo "$d $(stat -c %s "$1")"
}
amd=$(jq -r '.manifests[0].digest' "$lay/index.json")
amd_size=$(stat -c %s "$(in_layout "$amd")")
jq -c '.architecture = "arm64"' "$(in_layout "$(jq -r .config.digest "$(in_layout "$amd")")")" \
    > "$work/arm-config.json"
read -r cfg_digest cfg_size < <(store "$work/arm-config.json")
jq -c --arg d "$cfg_digest" --argjson s "$cfg_size" '.config.digest = $d | .config.size = $s' \
    "$(in_layout "$amd")" > "$work/arm.json"
read -r arm arm_size < <(store "$work/arm.json")
jq -cn --arg a "$amd" --argjson asz "$amd_size" --arg b "$arm" --argjson bsz "$arm_size" '
    {schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
      {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asz,
       platform: {os: "linux", architecture: "amd64"}},
      {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $bsz,
       platform: {os: "linux", architecture: "arm64"}}]}' > "$work/index.json"
read -r idx idx_size < <(store "$work/index.json")
jq -cn --arg d "$idx" --argjson s "$idx_size" '{schemaVersion: 2, manifests: [
    {mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
     annotations: {"org.opencontainers.image.ref.name": "multi"}}]}' > "$lay/index.json"
check "skopeo copy --all pushes a multi-arch index" quiet sk copy --all \
    --dest-tls-verify=false "oci:$lay:multi" "docker://$reg/demo/multi:1"

# a build run, from a signed push, with its log
svc_hook "$SVC_BASE/hooks/github/demo/hello" refs/heads/main "$commit" delivery-1 s3cret
run=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
status=$(svc_wait "$run")
[ "$status" = succeeded ] && ok "run $run built demo/hello" ||
    fail "run $run: $status: $(svc_run_field "$run" .error)"
curl -s "$SVC_BASE/api/v1/runs/$run/log" > "$work/run.log"
check "the run has a log" grep -q 'COPY hello.txt' "$work/run.log"

# every tag and the digest a client sees for it
tags_seen() { # REGISTRY: "repo:tag digest" lines, sorted
    local r=$1 repo tag
    for repo in $(curl -s "http://$r/v2/_catalog" | jq -r '.repositories[]'); do
        for tag in $(curl -s "http://$r/v2/$repo/tags/list" | jq -r '.tags[]'); do
            echo "$repo:$tag $(sk inspect --raw --tls-verify=false "docker://$r/$repo:$tag" |
                sha256sum | cut -d' ' -f1)"
        done
    done | sort
}
tags_seen "$reg" > "$work/tags-before"
check "every tag was listed (6 repositories, 8 tags)" test "$(wc -l < "$work/tags-before")" = 8
check "the index is among them" grep -q "^demo/multi:1 ${idx#sha256:}\$" "$work/tags-before"

# --- refusals before anything is copied ------------------------------------------
mkdir -p "$work/s3"
sw_s3_start "$work/s3"
SW_CLEANUP_CMDS+=("sw_s3_stop")
sw_pg_start
export MIGRATE_S3_ACCESS=$SW_S3_ACCESS_KEY MIGRATE_S3_SECRET=$SW_S3_SECRET_KEY
new_port=$(sw_free_port)
new=$(installation new "$new_port" "database: $SW_PG_URL
storage:
  driver: s3
  endpoint: $SW_S3_ENDPOINT
  region: $SW_S3_REGION
  bucket: $SW_S3_BUCKET
  prefix: moved
  access_key: env:MIGRATE_S3_ACCESS
  secret_key: env:MIGRATE_S3_SECRET")
refused "migrate refuses while slipway serve has the database open" \
    "slipway serve.*open: stop it" "$SLIPWAY_BIN" migrate --config "$old" --to-config "$new"
forced=$(installation forced "$(sw_free_port)" "database: $(sw_pg_createdb forced)")
if "$SLIPWAY_BIN" migrate --config "$old" --to-config "$forced" --force \
    > "$work/forced.out" 2> "$work/forced.err"; then
    ok "--force copies a snapshot of the live store"
else
    fail "--force: $(cat "$work/forced.err")"
fi
check "... saying so" grep -q "slipway serve.*open; copying a snapshot (--force)" "$work/forced.err"
check "... with every tag" test "$(sw_sql "$forced" "SELECT COUNT(*) FROM tags")" = \
    "$(wc -l < "$work/tags-before")"
sw_stop_server

( cd "$work/old/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum ) > "$work/old-files"
refused "a literal S3 secret on the command line is refused" "env:VAR, not the secret" \
    "$SLIPWAY_BIN" migrate --config "$old" --to "$SW_PG_URL" --storage-to "s3://$SW_S3_BUCKET" \
    --s3-endpoint "$SW_S3_ENDPOINT" --s3-access-key env:MIGRATE_S3_ACCESS \
    --s3-secret-key "$SW_S3_SECRET_KEY"
refused "a literal database password on the command line is refused" "password in the URL must be env:NAME" \
    "$SLIPWAY_BIN" migrate --config "$old" --to "postgres://slipway:hunter2@127.0.0.1:1/x" \
    --storage-to "s3://$SW_S3_BUCKET"
MIGRATE_S3_SECRET=wrong-secret refused "a wrong S3 secret stops the copy before any row" \
    "s3 (HEAD|PUT) .*: 403" "$SLIPWAY_BIN" migrate --config "$old" --to-config "$new"
check "... and leaves the target database without rows" \
    test "$(sw_sql "$new" "SELECT COUNT(*) FROM tags")" = 0

# --- a kill mid-copy --------------------------------------------------------------
killed_db=$(sw_pg_createdb killed)
killed=$(installation killed "$(sw_free_port)" "database: $killed_db
storage:
  driver: s3
  endpoint: $SW_S3_ENDPOINT
  bucket: $SW_S3_BUCKET
  prefix: killed
  access_key: env:MIGRATE_S3_ACCESS
  secret_key: env:MIGRATE_S3_SECRET")
"$SLIPWAY_BIN" migrate --config "$old" --to-config "$killed" > /dev/null 2> "$work/killed.err" &
migrate_pid=$!
for _ in $(seq 400); do grep -q '^blob 1/' "$work/killed.err" && break; sleep 0.05; done
kill -KILL "$migrate_pid" 2> /dev/null || true
wait "$migrate_pid" 2> /dev/null || true
check "kill -9 after the first blob: the target database has no rows" \
    test "$(sw_sql "$killed" "SELECT COUNT(*) FROM blobs")" = 0
# the same target named on the command line instead of by a config
if "$SLIPWAY_BIN" migrate --config "$old" --to "$killed_db" --storage-to "s3://$SW_S3_BUCKET/killed" \
    --s3-endpoint "$SW_S3_ENDPOINT" --s3-region "$SW_S3_REGION" \
    --s3-access-key env:MIGRATE_S3_ACCESS --s3-secret-key env:MIGRATE_S3_SECRET \
    > "$work/resumed.out" 2>&1; then
    ok "migrate runs again after the kill (the target given by --to and --storage-to)"
else
    fail "migrate after the kill: $(cat "$work/resumed.out")"
fi
check "... finding the blobs copied before it there" \
    grep -qE "blobs: [0-9]+ copied .*, [1-9][0-9]* already there" "$work/resumed.out"

# --- the migration ------------------------------------------------------------------
if "$SLIPWAY_BIN" migrate --config "$old" --to-config "$new" --verify \
    > "$work/migrate.out" 2> "$work/migrate.err"; then
    ok "slipway migrate --verify succeeds"
else
    fail "slipway migrate: $(cat "$work/migrate.err")"
fi
blobs_total=$(sqlite3 "$work/old/data/slipway.db" "SELECT COUNT(*) FROM blobs")
check "the summary counts every blob copied and re-read" \
    grep -q "blobs: $blobs_total copied (.*), 0 already there, $blobs_total verified" "$work/migrate.out"
check "progress went to stderr, one line per blob" \
    test "$(grep -c '^blob [0-9]*/[0-9]* sha256:.* copied' "$work/migrate.err")" = "$blobs_total"
same=0
for table in blobs repositories repo_blobs manifests manifest_refs tags runs run_steps tag_runs \
    run_bases deliveries build_cache tokens timer_fires; do
    a=$(sqlite3 "$work/old/data/slipway.db" "SELECT COUNT(*) FROM $table")
    b=$(sw_sql "$new" "SELECT COUNT(*) FROM $table")
    [ "$a" = "$b" ] && same=$((same + 1)) || echo "# $table: $a rows in SQLite, $b in PostgreSQL"
done
check "every table has as many rows in PostgreSQL as in SQLite" test "$same" = 14
check "tags point at the same digests" test \
    "$(sw_sql "$new" "SELECT r.name || ':' || t.name || ' ' || t.digest FROM tags t JOIN repositories r ON r.id = t.repo_id ORDER BY 1")" = \
    "$(sqlite3 "$work/old/data/slipway.db" "SELECT r.name || ':' || t.name || ' ' || t.digest FROM tags t JOIN repositories r ON r.id = t.repo_id ORDER BY 1")"
check "runs keep their ids and statuses" test \
    "$(sw_sql "$new" "SELECT id, status FROM runs ORDER BY id")" = \
    "$(sqlite3 "$work/old/data/slipway.db" "SELECT id, status FROM runs ORDER BY id")"
max_run=$(sw_sql "$new" "SELECT MAX(id) FROM runs")
check "the runs' id sequence continues after the largest id copied" \
    test "$(sw_sql "$new" "SELECT nextval(pg_get_serial_sequence('runs', 'id'))")" -gt "$max_run"
check "the run log was copied byte for byte" \
    cmp "$work/old/data/logs/$run.log" "$work/new/data/logs/$run.log"
check "the old data dir is byte for byte as it was" cmp -s "$work/old-files" \
    <(cd "$work/old/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum)

# --- running it again ------------------------------------------------------------
refused "a second migrate refuses a target that holds data" "already holds data" \
    "$SLIPWAY_BIN" migrate --config "$old" --to-config "$new"
sw_sql "$new" "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public" > /dev/null
if "$SLIPWAY_BIN" migrate --config "$old" --to-config "$new" > "$work/again.out" 2>&1; then
    ok "into an emptied database it runs again"
else
    fail "second migrate: $(cat "$work/again.out")"
fi
check "... finding every blob there already" \
    grep -q "blobs: 0 copied (0.0 MiB), $blobs_total already there" "$work/again.out"

serve_moved() { # CONFIG PORT WHAT: serves a moved installation; every tag pulls as
    # before, the moved run's log is served, and a new run builds
    local cfg=$1 p=$2 what=$3 run2 st
    sw_start_server "$cfg"
    SVC_BASE=http://127.0.0.1:$p
    tags_seen "127.0.0.1:$p" > "$work/tags-after"
    check "$what: every tag pulls with the same manifest digest" \
        diff "$work/tags-before" "$work/tags-after"
    rm -rf "$work/pulled"
    check "$what: skopeo copy --all pulls the index and both platforms" quiet sk copy --all \
        --src-tls-verify=false "docker://127.0.0.1:$p/demo/multi:1" "oci:$work/pulled:multi"
    check "$what: ... byte for byte" \
        test "$(sk inspect --raw "oci:$work/pulled:multi" | sha256sum)" = \
        "$(sha256sum < "$work/index.json")"
    check "$what: the moved run's log is served as before" cmp -s "$work/run.log" \
        <(curl -s "$SVC_BASE/api/v1/runs/$run/log")
    svc_hook "$SVC_BASE/hooks/github/demo/hello" refs/heads/main "$commit" "delivery-$p" s3cret
    run2=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
    if [ -n "$run2" ] && [ "$run2" != null ] && [ "$run2" != "$run" ]; then
        ok "$what: a new run gets a new id ($run2) after the copied ones"
    else
        fail "$what: new run: $SVC_STATUS $SVC_BODY"
    fi
    st=$(svc_wait "$run2")
    [ "$st" = succeeded ] && ok "$what: a new run builds" ||
        fail "$what: run $run2: $st: $(svc_run_field "$run2" .error)"
    sw_stop_server
}

# --- serving it: PostgreSQL and S3 -------------------------------------------------
serve_moved "$new" "$new_port" "PostgreSQL and S3"
check "... with no blob in its data dir: the bytes came from S3" \
    test -z "$(find "$work/new/data" -path '*blobs*' -type f 2> /dev/null)"

# --- and PostgreSQL with a new data dir (blobs through the filesystem driver) --------
fs_port=$(sw_free_port)
fs=$(installation fs "$fs_port" "database: $(sw_pg_createdb moved_fs)")
if "$SLIPWAY_BIN" migrate --config "$old" --to-config "$fs" > "$work/fs.out" 2>&1; then
    ok "slipway migrate to PostgreSQL and a new data dir succeeds"
else
    fail "migrate to a new data dir: $(cat "$work/fs.out")"
fi
serve_moved "$fs" "$fs_port" "PostgreSQL and a new data dir"

sw_finish
