#!/usr/bin/env bash
# 152-service-webhook-durable.sh - an acknowledged webhook delivery survives
# the server being killed (SIGKILL) right after its reply: 40 signed GitHub
# pushes sent at once, each answered 202 with its run id, then kill -9
# before any clean shutdown; after a restart every acknowledged run is
# there, queued, the database passes its integrity check, and a
# redelivery of one of them creates nothing. Commits are not fsynced one by
# one (docs/architecture.md, "Durability"): this is the guarantee that
# remains. The concurrent burst has threads wait for the write lock, and the
# first server writes the per-delivery phase trace that bench/service.sh
# reads (SLIPWAY_HOOK_TRACE).
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 120

work=$(sw_tmpdir)
src=$work/src/hello
svc_git_init "$src"
head=$(svc_git -C "$src" rev-parse HEAD)
port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
workers: 0
repos:
  - name: demo/hello
    git: file://$src
    secret: s3cret
    rules:
      - { source_type: branch, source: \"/^b[0-9]+\$/\", tags: [latest] }
")
SLIPWAY_HOOK_TRACE=$work/trace sw_start_server "$cfg" || exit 1

# --- 40 deliveries at once, each to its own branch (none supersedes another) ---------------
deliver() { # N
    local body=$work/body-$1.json
    jq -n --arg ref "refs/heads/b$1" --arg sha "$head" --arg clone "file://$src" \
        '{ref: $ref, after: $sha, repository: {clone_url: $clone}, head_commit: {id: $sha, message: "m"}}' \
        > "$body"
    curl -s -o "$work/reply-$1.json" -w '%{http_code}' -X POST -H 'X-GitHub-Event: push' \
        -H "X-GitHub-Delivery: durable-$1" -H 'Content-Type: application/json' \
        -H "X-Hub-Signature-256: sha256=$(svc_sign s3cret "$body")" \
        --data-binary "@$body" "$SVC_BASE/hooks/github" > "$work/status-$1"
}
pids=()
for i in $(seq 40); do
    deliver "$i" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
kill -9 "$SW_SERVER_PID"
wait "$SW_SERVER_PID" 2> /dev/null || true
SW_SERVER_PID=

statuses=$(for f in "$work"/status-*; do cat "$f"; echo; done | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
[ "$statuses" = "202x40 " ] && ok "all 40 deliveries were acknowledged 202" || fail "statuses: $statuses"
acked=$(for i in $(seq 40); do jq -r '.runs[0].id // empty' "$work/reply-$i.json"; done | sort)
check "each reply names its run" test "$(wc -w <<< "$acked")" = 40
traced=$(awk 'NF == 13 && $1 ~ /^durable-[0-9]+$/ && $11 >= $9 {print $1}' "$work/trace" | sort -u | wc -l)
check "the trace has one line of phases per delivery" test "$traced" = 40

# --- after the kill ---------------------------------------------------------------------------
sw_start_server "$cfg" || exit 1
queued=$(curl -s "$SVC_BASE/api/v1/runs?status=queued&limit=100" | jq -r '[.runs[].id] | sort | .[]')
[ "$queued" = "$acked" ] && ok "after kill -9 and a restart every acknowledged run is there, queued" ||
    fail "acknowledged: $(tr '\n' ' ' <<< "$acked"); queued after the restart: $(tr '\n' ' ' <<< "$queued")"
check "the database passes its integrity check" test "$(sw_sql "$cfg" 'PRAGMA integrity_check')" = ok
deliver 7
check "a redelivery of an acknowledged delivery is known: 200, nothing new" \
    test "$(cat "$work/status-7") $(jq -r .result "$work/reply-7.json")" = "200 redelivery"
check "and creates no run" test "$(svc_runs_count)" = 40

sw_finish
