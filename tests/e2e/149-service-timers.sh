#!/usr/bin/env bash
# 149-service-timers.sh - timer triggers (repos[].timers) with real time:
# a `* * * * *` timer, two `slipway worker` processes and a `slipway serve`
# with workers: 0. Over three minute slots, one worker stopped after the
# first and started again after the second, the runs table shows exactly one
# timer run per slot, each building the branch's head; a timer slot that
# passed before any worker saw the timer queues nothing.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 360

work=$(sw_tmpdir)
src=$work/app
svc_git_init "$src"
head=$(svc_git -C "$src" rev-parse HEAD)

port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
workers: 0
runs: { lease: 5s }
repos:
  - name: demo/timed
    git: file://$src
    rules:
      - { source_type: branch, source: main, tags: [latest] }
    timers:
      - { schedule: \"* * * * *\", branch: main }
")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"

start_worker() { # NAME
    "$SLIPWAY_BIN" worker --config "$cfg" --name "$1" >> "$work/$1.log" 2>&1 &
    eval "pid_$1=$!"
    SW_CLEANUP_CMDS+=("kill -9 $! 2>/dev/null")
}
stop_worker() { # NAME
    local pid
    eval "pid=\$pid_$1"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
}

# the timer runs as JSON lines [run id, minute slot of queued_at, status]
timer_runs() {
    curl -s "$SVC_BASE/api/v1/runs?repo=demo/timed&limit=100" |
        jq -c '.runs[] | select(.trigger == "timer") |
               [.id, ((.queued_at | fromdateiso8601) / 60 | floor), .status]'
}
timer_count() { timer_runs | wc -l; }
wait_timer_runs() { # N: waits up to 90 s for N timer runs
    for _ in $(seq 900); do
        [ "$(timer_count)" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# --- an invalid schedule is refused at startup with the line ------------------------------
sed 's/"\* \* \* \* \*"/"* * * * 9"/' "$cfg" > "$work/bad.yaml"
refused "a bad schedule is refused with its line and field" \
    'bad\.yaml:[0-9]+: repos\[demo/timed\]\.timers\[1\]\.schedule: day-of-week: "9" is out of range' \
    "$SLIPWAY_BIN" worker --config "$work/bad.yaml" --name bad

# --- two workers; slot 1 ---------------------------------------------------------------
start_worker w1
start_worker w2
t_start=$(date +%s)
if wait_timer_runs 1; then ok "the first minute slot queued a timer run"; else fail "no timer run after 90 s"; fi
first=$(timer_runs | head -1 | jq -r '.[0]')
slot1=$(timer_runs | head -1 | jq -r '.[1]')
# the slot is a minute boundary after the workers started: nothing for the past
check "the first slot is after the workers first saw the timer" test "$((slot1 * 60))" -gt "$((t_start - 5))"
check "the timer run succeeds" test "$(svc_wait "$first")" = succeeded
check "it built the branch's head" test "$(svc_run_field "$first" .commit)" = "$head"
check "it is a run of branch main" test "$(svc_run_field "$first" '.source_type + " " + .source_ref')" = "branch main"

# --- slot 2 with w1 stopped ---------------------------------------------------------------
stop_worker w1
if wait_timer_runs 2; then ok "w2 alone queued the second slot"; else fail "no second timer run"; fi
# --- slot 3 with w1 back (a restart: both see the slot) -------------------------------------
start_worker w1
if wait_timer_runs 3; then ok "the third slot queued a run with both workers up"; else fail "no third timer run"; fi
sleep 5 # a second claim of the same slot would show by now
timer_runs > "$work/runs"
check "exactly three timer runs" test "$(wc -l < "$work/runs")" = 3
check "one per minute slot" test "$(jq -r '.[1]' "$work/runs" | sort -u | wc -l)" = 3
slots=$(jq -r '.[1]' "$work/runs" | sort -n | tr '\n' ' ')
read -r s1 s2 s3 <<< "$slots"
check "in consecutive minutes ($slots)" test "$((s2 - s1)):$((s3 - s2))" = "1:1"
# the claims in the database: each run names its slot (delivery id
# timer:REPO:SCHEDULE|BRANCH|OFFSET@SLOT#RULE), queued within seconds of it
sqlite3 -separator ' ' "$work/data/slipway.db" \
    "SELECT substr(delivery_id, instr(delivery_id, '@') + 1,
                   instr(delivery_id, '#') - instr(delivery_id, '@') - 1), queued_at
     FROM runs WHERE trigger = 'timer' ORDER BY id" > "$work/claims"
sed 's/^/#   slot, queued_at: /' "$work/claims"
read -r c1 _ <<< "$(sed -n 1p "$work/claims")"
read -r c3 _ <<< "$(sed -n 3p "$work/claims")"
check "the claimed slots are three distinct minutes in a row" \
    test "$(cut -d' ' -f1 "$work/claims" | sort -u | wc -l):$((c3 - c1))" = "3:120"
check "each run was queued within 30 s of its slot" \
    test "$(awk '$2 < $1 || $2 - $1 > 30' "$work/claims" | wc -l)" = 0
last_run=$(timer_runs | head -1 | jq -r '.[0]')
check "timer_fires holds the last slot and its run" \
    test "$(sqlite3 "$work/data/slipway.db" "SELECT last_fire || ' ' || run_id FROM timer_fires")" = "$c3 $last_run"
queued=$(cat "$work/w1.log" "$work/w2.log" | grep -c 'timer "\* \* \* \* \*" of demo/timed: queued run' || true)
check "the workers' logs name three queued runs in all" test "$queued" = 3
grep -h 'queued run' "$work/w1.log" "$work/w2.log" | sed 's/^/#   /'
for _ in $(seq 300); do
    [ "$(timer_runs | jq -r '.[2]' | grep -cE 'queued|running')" = 0 ] && break
    sleep 0.1
done
check "no timer run failed" test "$(timer_runs | jq -r '.[2]' | grep -cE 'failed|canceled')" = 0

stop_worker w1
stop_worker w2
sw_finish
