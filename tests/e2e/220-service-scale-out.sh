#!/usr/bin/env bash
# 220-service-scale-out.sh - front ends and workers that share only a
# PostgreSQL database and an S3 bucket (issue 15): two `slipway serve` (A
# and B) and a `slipway worker` (C), each with its own data dir. A webhook sent to A is
# built by C, woken through LISTEN/NOTIFY (not by a poll); B streams the
# log live over SSE (curl -N) and `slipway logs --follow` through B prints
# it; the image pulls through A and B with the same digest. A second worker
# (D, a fourth data dir) joins; the one building the next run is killed
# with SIGKILL and the other takes it over when the lease expires, its log
# appended to the first attempt's. Then the PostgreSQL cluster restarts
# under the running processes, and a webhook sent to B afterwards still
# builds.
#
# No directory is shared: blobs are in the S3 test server (SigV4 checked),
# one bucket and prefix for all; logs, mirrors, scratch and layer caches
# stay per data dir.
#
# Always on PostgreSQL and S3: the script starts a throwaway cluster and
# the S3 test server when SLIPWAY_TEST_DATABASE=postgres and
# SLIPWAY_TEST_STORAGE=s3 did not already.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 300

if [ -z "${SW_PG_URL:-}" ]; then
    . "$(dirname "$0")/../lib/pg.sh"
    sw_pg_start || exit 1
fi
db_url=$(sw_pg_createdb "scaleout_$$") || exit 1
if [ -z "${SW_S3_ENDPOINT:-}" ]; then
    . "$(dirname "$0")/../lib/s3-lib.sh"
    sw_s3_start "$SW_SCRATCH/s3" || exit 1
    SW_CLEANUP_CMDS+=("sw_s3_stop")
    export SW_S3_ACCESS_KEY SW_S3_SECRET_KEY
fi
s3_prefix=scaleout-$$

work=$(sw_tmpdir)
src=$work/src
svc_git_init "$src"
svc_slow_dockerfile "$src"
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "a slow Dockerfile"
first=$(svc_git -C "$src" rev-parse HEAD)

port_a=$(sw_free_port)
port_b=$(sw_free_port)
port_c=$(sw_free_port) # the worker's config needs one; it serves nothing
A=http://127.0.0.1:$port_a
B=http://127.0.0.1:$port_b

config() { # NAME PORT [LEASE]
    mkdir -p "$work/$1/data"
    cat > "$work/$1/slipway.yaml" <<YAML
server:
  listen: 127.0.0.1:$2
  data_dir: $work/$1/data
database: $db_url
storage:
  driver: s3
  endpoint: $SW_S3_ENDPOINT
  region: $SW_S3_REGION
  bucket: $SW_S3_BUCKET
  prefix: $s3_prefix
  access_key: env:SW_S3_ACCESS_KEY
  secret_key: env:SW_S3_SECRET_KEY
  path_style: true
workers: 0
runs: { lease: ${3:-6s} }
repos:
  - name: demo/app
    git: file://$src
    secret: s3cret
    rules:
      - { source_type: branch, source: main, dockerfile: Dockerfile.slow, tags: [latest] }
YAML
    echo "$work/$1/slipway.yaml"
}
cfg_a=$(config a "$port_a")
cfg_b=$(config b "$port_b")
# C's lease is 20 s, so an idle C looks at the queue by itself only every
# 21 s: a run it takes at once was announced to it
cfg_c=$(config c "$port_c" 20s)
sw_import_busybox "$cfg_a" test/busybox:1 > /dev/null

sw_start_server "$cfg_a"
log_a=$SW_SERVER_LOG
sw_start_server "$cfg_b"
log_b=$SW_SERVER_LOG
"$SLIPWAY_BIN" worker --config "$cfg_c" --name wc > "$work/worker-c.log" 2>&1 &
worker_pid=$!
disown "$worker_pid" # killed on purpose below: no job report
SW_CLEANUP_CMDS+=("kill $worker_pid 2> /dev/null || true")
# (GET /api/v1/status counts workers with SUM(boolean), which PostgreSQL
# refuses: fixed on another branch; the table is read directly here)
registered() { # NAME: waits (10 s at most) for the worker's row
    for _ in $(seq 100); do
        [ "$(sw_sql "$cfg_a" "SELECT COUNT(*) FROM workers WHERE name = '$1'")" = 1 ] && return 0
        sleep 0.1
    done
    return 1
}
if registered wc; then
    ok "worker C, on its own data dir, registered in the shared database"
else
    fail "worker C did not register; its log: $(cat "$work/worker-c.log")"
fi

# --- a webhook to A, built by C, streamed live from B ------------------------
sleep 2 # the worker is idle: only a notification (or its 30 s fallback) wakes it
svc_hook "$A/hooks/github/demo/app" refs/heads/main "$first" delivery-1
check "A accepts the delivery" test "$SVC_STATUS" = 202
run=$(jq -r '.runs[0].id // .run_id // .id // empty' <<< "$SVC_BODY")
check "A queued a run ($run)" test -n "$run"
# the events as they arrive, each line with its arrival time
( curl -sN --max-time 120 "$B/api/v1/runs/$run/events" |
    while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done ) \
    > "$work/events.txt" 2>&1 &
events_pid=$!
SVC_BASE=$B
status=$(svc_wait "$run")
check "the run succeeded (seen through B)" test "$status" = succeeded
wait "$events_pid" || true
queued_s=$(svc_run_field "$run" .queue_seconds)
awk -v q="$queued_s" 'BEGIN { exit !(q != "" && q != "null" && q <= 2) }' &&
    ok "the idle worker took the run $queued_s s after it was queued (woken by NOTIFY)" ||
    fail "the run waited $queued_s s in the queue: the worker was not woken"
grep -q "attempt 1, worker wc/1" "$work/events.txt" &&
    ok "B's SSE stream carries the log of the run built by worker C" ||
    fail "B's stream has no log lines from worker C: $(head -c 2000 "$work/events.txt")"
grep -q '^[0-9.]* event: end' "$work/events.txt" && grep -A1 'event: end' "$work/events.txt" | grep -q succeeded &&
    ok "B's SSE stream ends with the run's status" || fail "no end event: $(tail -5 "$work/events.txt")"
tick1=$(awk '/data: tick 1$/ { print $1; exit }' "$work/events.txt")
end=$(awk '/event: end/ { print $1; exit }' "$work/events.txt")
[ -n "$tick1" ] && [ -n "$end" ] && awk -v a="$tick1" -v b="$end" 'BEGIN { exit !(b - a >= 2) }' &&
    ok "the log streamed live: tick 1 came $(awk -v a="$tick1" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s before the end" ||
    fail "the log did not stream live (tick 1 at '$tick1', end at '$end')"
grep -q "data: tick 8" "$work/events.txt" && grep -q "was successful" "$work/events.txt" &&
    ok "B's stream has the whole log" || fail "B's stream misses lines"
# the whole log, from both front ends, the same bytes
curl -s "$A/api/v1/runs/$run/log" > "$work/log-a.txt"
curl -s "$B/api/v1/runs/$run/log" > "$work/log-b.txt"
check "GET log on A and on B give the same bytes" cmp -s "$work/log-a.txt" "$work/log-b.txt"
check "the worker keeps no copy once the database has it" test ! -e "$work/c/data/logs/$run.log"
check "no log file on the front ends' data dirs" test ! -e "$work/a/data/logs/$run.log" -a ! -e "$work/b/data/logs/$run.log"
check "no blob on any data dir (all in S3)" test -z "$(find "$work"/[abc]/data/blobs -type f 2> /dev/null)"
out=$("$SLIPWAY_BIN" logs "$run" --follow --server "$B" 2>&1) && rc=0 || rc=$?
check "slipway logs --follow through B exits 0" test "$rc" = 0
grep -q "Run ID: $run was successful" <<< "$out" && ok "slipway logs --follow prints the end" ||
    fail "slipway logs --follow: $out"
SVC_BASE=$A; digest_a=$(svc_tag_digest demo/app:latest)
SVC_BASE=$B; digest_b=$(svc_tag_digest demo/app:latest)
check "the image pulls through A and B with one digest" test -n "$digest_a" -a "$digest_a" = "$digest_b"

# --- a worker killed mid-build: the other one takes the run over ------------
cfg_d=$(config d "$(sw_free_port)")
"$SLIPWAY_BIN" worker --config "$cfg_d" --name wd > "$work/worker-d.log" 2>&1 &
worker_d=$!
disown "$worker_d"
SW_CLEANUP_CMDS+=("kill $worker_d 2> /dev/null || true")
check "worker D registered" registered wd
sleep 2
third=$(svc_commit "$src" "third")
svc_hook "$A/hooks/github/demo/app" refs/heads/main "$third" delivery-3
run3=$(jq -r '.runs[0].id // empty' <<< "$SVC_BODY")
for _ in $(seq 300); do
    curl -s "$B/api/v1/runs/$run3/log" | grep -q "tick 2" && break
    sleep 0.1
done
first_worker=$(curl -s "$B/api/v1/runs/$run3/log" | sed -n 's/.*attempt 1, worker \(w[cd]\)\/1.*/\1/p')
case $first_worker in
    wc) victim=$worker_pid; survivor=wd; lease=20 ;;
    wd) victim=$worker_d; survivor=wc; lease=6 ;;
    *) victim=; survivor=; lease=0 ;;
esac
check "run $run3 is building on one of the two workers ($first_worker)" test -n "$victim"
kill -KILL "$victim" 2> /dev/null || true
killed_at=$(date +%s)
taken=
for _ in $(seq 400); do
    if curl -s "$B/api/v1/runs/$run3/log" | grep -q "attempt 2, worker $survivor/1"; then
        taken=$(($(date +%s) - killed_at))
        break
    fi
    sleep 0.1
done
# the survivor looked again when the victim's lease expired (it saw the
# run running, with that expiry), not at a poll of its own
[ -n "$taken" ] && [ "$taken" -le $((lease + 5)) ] &&
    ok "worker $survivor took the run over ${taken} s after the kill (lease $lease s)" ||
    fail "worker $survivor did not take the run over in time (${taken:-never})"
SVC_BASE=$B
check "the run taken over succeeded" test "$(svc_wait "$run3")" = succeeded
curl -s "$A/api/v1/runs/$run3/log" > "$work/log3.txt"
awk '/attempt 1, worker/ { a = NR } /tick 1$/ && a && !t { t = NR } /attempt 2, worker/ { b = NR }
     END { exit !(a && t && b && a < t && t < b) }' "$work/log3.txt" &&
    ok "its log has attempt 1's output, then attempt 2 (from two machines, one log)" ||
    fail "the log of $run3: $(cat "$work/log3.txt")"
if [ "$first_worker" = wc ]; then worker_pid=$worker_d; fi

# --- the database restarts under A, B and the remaining worker ---------------
if sw_pg_as_postgres "$SW_PG_BIN/pg_ctl" -D "$SW_PG_DIR/data" -m fast -w restart \
    > "$work/pg-restart.log" 2>&1; then
    ok "the PostgreSQL cluster restarted"
else
    fail "pg_ctl restart: $(cat "$work/pg-restart.log")"
fi
second=$(svc_commit "$src" "second")
# B's connections all broke; each is re-opened on its next use, before a
# statement is sent on it: the first delivery is accepted
svc_hook "$B/hooks/github/demo/app" refs/heads/main "$second" delivery-2
check "B accepts the first delivery after the restart" test "$SVC_STATUS" = 202
run2=$(jq -r '.runs[0].id // .run_id // .id // empty' <<< "$SVC_BODY")
SVC_BASE=$A
status=$(svc_wait "$run2")
check "the run queued after the restart succeeded on the worker" test "$status" = succeeded
queued_s=$(svc_run_field "$run2" .queue_seconds)
awk -v q="$queued_s" 'BEGIN { exit !(q != "" && q != "null" && q < 5) }' &&
    ok "after the restart the worker is woken again ($queued_s s in the queue: LISTEN renewed)" ||
    fail "after the restart the run waited $queued_s s in the queue"
curl -s "$A/api/v1/runs/$run2/log" | grep -q "worker w[cd]/1" &&
    ok "A serves its log (from the database)" || fail "A has no log of $run2"
kill -TERM "$worker_pid" 2> /dev/null || true
for _ in $(seq 100); do kill -0 "$worker_pid" 2> /dev/null || break; sleep 0.1; done
if grep -E "AddressSanitizer|runtime error" "$work"/worker-*.log > /dev/null; then
    fail "a worker's log has a sanitizer report"
fi
sw_finish
