#!/usr/bin/env bash
# 155-build-limits.sh - a build is bounded and leaves nothing behind, and its
# root is not the host's: RUN steps that fork thousands of processes,
# allocate past the memory limit, write past the disk limit (dd, several
# files, fallocate) fail with a message naming the limit and its config key;
# a log past runs.max_log_size is cut once and the build goes on; after
# `kill -9` of `slipway build` or of a `slipway worker` in the middle of a
# RUN, no process, mount, runtime entry or cgroup of that container is left
# (the next build's or another worker's sweep removed it), and the run is
# retried and succeeds; inside RUN, root is an unprivileged host id, and a
# file root creates is owned by 0:0 in the image.
source "$(dirname "$0")/build-lib.sh"
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 300

limits_yaml='builder:
  network: none
  step_timeout: 2m
  limits: { memory: 64MiB, pids: 128, disk: 64MiB, cpus: 1.5 }
  userns: { uid: 100000, gid: 100000, size: 65536 }'
bt_init "$limits_yaml"

ctx=$(sw_tmpdir)
dockerfile() { cat > "$ctx/Dockerfile"; }

# --- root in the container is an unprivileged host id; layers keep root ------------------
dockerfile <<'EOF'
FROM test/busybox:1
RUN cat /proc/self/uid_map > /uid_map.txt && touch /made-by-root && mkdir /rootdir && chown 1000:1000 /rootdir
EOF
if bt_build "$ctx" -t test/userns:1; then
    ok "a RUN in a user namespace builds"
    bt_export test/userns:1
    for blob in "$BT_LAYOUT"/blobs/sha256/*; do
        tar -tzvf "$blob" --numeric-owner 2> /dev/null || true
    done > "$BT_WORK/layers.txt"
    grep -E ' 0/0 .* (\./)?made-by-root$' "$BT_WORK/layers.txt" > /dev/null &&
        ok "a file created by root in RUN is owned by 0:0 in the image" ||
        fail "made-by-root: $(grep made-by-root "$BT_WORK/layers.txt")"
    grep -E ' 1000/1000 .* (\./)?rootdir/?$' "$BT_WORK/layers.txt" > /dev/null &&
        ok "a chown to 1000:1000 in RUN is 1000:1000 in the image" ||
        fail "rootdir: $(grep rootdir "$BT_WORK/layers.txt")"
    map=$(for blob in "$BT_LAYOUT"/blobs/sha256/*; do
        tar -xzOf "$blob" uid_map.txt 2> /dev/null || tar -xzOf "$blob" ./uid_map.txt 2> /dev/null || true
    done)
    read -r inside outside count <<< "$map"
    [ "$inside" = 0 ] && [ "$outside" = 100000 ] && [ "$count" = 65536 ] &&
        ok "/proc/self/uid_map in RUN maps root to host id 100000 (65536 ids)" || fail "uid_map: '$map'"
else
    fail "a RUN in a user namespace: $(bt_tail 6)"
fi

# --- limits: each step fails naming the limit and its key ------------------------------
limit_case() { # WHAT REGEX RUN-COMMAND
    local what=$1 regex=$2
    printf 'FROM test/busybox:1\nRUN %s\n' "$3" > "$ctx/Dockerfile"
    local started=$SECONDS
    if bt_build "$ctx" --no-cache; then
        fail "$what: the build succeeded: $(bt_tail 4)"
    elif grep -Eq "$regex" "$BT_ERR"; then
        ok "$what fails: $(grep -Eo "$regex" "$BT_ERR" | head -1) ($((SECONDS - started))s)"
    else
        fail "$what: $(bt_tail 6)"
    fi
}
limit_case "a fork of 10,000 processes" \
    'process limit 128 reached, a fork was refused \(builder\.limits\.pids\)' \
    'i=0; while [ $i -lt 10000 ]; do sleep 3 & i=$((i+1)); done; echo started'
limit_case "allocating 256MiB" \
    'the step was killed: memory limit 64MiB reached \(builder\.limits\.memory\)' \
    'dd if=/dev/zero of=/dev/null bs=256M count=1'
limit_case "one 100MiB file (dd)" \
    'disk limit 64MiB.*\(builder\.limits\.disk\)' \
    'dd if=/dev/zero of=/big bs=1M count=100'
limit_case "three 40MiB files" \
    'the step was killed: disk limit 64MiB reached \(builder\.limits\.disk\)' \
    'for i in 1 2 3; do dd if=/dev/zero of=/f$i bs=1M count=40 2>/dev/null; done; sleep 5'
limit_case "fallocate of 8GiB" \
    'a file would have passed the disk limit 64MiB \(builder\.limits\.disk\)' \
    'busybox fallocate -l 8G /huge'

dockerfile <<'EOF'
FROM test/busybox:1
RUN i=0; while [ $i -lt 50 ]; do sleep 1 & i=$((i+1)); done; wait; dd if=/dev/zero of=/ok bs=1M count=20 2>/dev/null; echo fine
EOF
bt_build "$ctx" -t test/after:1 && ok "the next build (50 processes, a 20MiB file) succeeds" ||
    fail "the next build: $(bt_tail 6)"

# --- kill -9 of `slipway build` mid-RUN: the next build sweeps the container ------------
# ids of the runtime's containers whose owner annotation names pid $1 (runc
# list fails when another process deletes a container while it lists)
owned_ids() { # OWNER-PID
    local out=
    for _ in 1 2 3 4 5; do out=$(runc list -f json 2> /dev/null) && break; out=; sleep 0.2; done
    jq -r --arg o "$1" \
        '.[]? | select((.annotations["org.slipway.owner"] // "") | startswith($o + " ")) | .id' \
        <<< "${out:-[]}" 2> /dev/null || true
}

# what is left of the container of the build with pid $1: processes, runtime
# entries, mounts, cgroups
leftovers() { # OWNER-PID DATA-DIR IDS-FILE
    local owner=$1 ids id
    ids=$(owned_ids "$owner")
    for id in $ids; do echo "runc:$id"; done
    for f in /run/slipway/slipway-*/owner; do
        if [ -f "$f" ] && grep -q "^$owner " "$f"; then echo "bundle:$(dirname "$f")"; fi
    done
    for id in $ids $(cat "$3" 2> /dev/null); do
        ls -d /sys/fs/cgroup/*/slipway/"$id" /sys/fs/cgroup/slipway/"$id" 2> /dev/null | sed 's/^/cgroup:/' || true
        findmnt -rn -o TARGET | grep -F "/run/slipway/$id" | sed 's/^/mount:/' || true
    done
    pgrep -f '^sleep 617$' | sed 's/^/process:/' || true
    findmnt -rn -o TARGET | grep -F "$2" | sed 's/^/mount:/' || true
    findmnt -rn -o TARGET,OPTIONS -t overlay | grep -F "$2" | sed 's/^/overlay:/'
    return 0
}

dockerfile <<'EOF'
FROM test/busybox:1
RUN echo sleeping; sleep 617
EOF
"$SLIPWAY_BIN" build --config "$BT_CFG" --no-cache "$ctx" > "$BT_WORK/killed.out" 2>&1 &
build_pid=$!
SW_CLEANUP_CMDS+=("kill -9 $build_pid 2>/dev/null")
for _ in $(seq 150); do grep -q '^sleeping' "$BT_WORK/killed.out" 2> /dev/null && break; sleep 0.1; done
if pgrep -f '^sleep 617$' > /dev/null; then
    ok "the RUN sleep runs"
else
    fail "the RUN sleep did not start: $(tail -5 "$BT_WORK/killed.out")"
fi
owned_ids "$build_pid" > "$BT_WORK/ids"
id=$(head -1 "$BT_WORK/ids")
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then # cgroup v2
    got="$(cat "/sys/fs/cgroup/slipway/$id/memory.max" "/sys/fs/cgroup/slipway/$id/pids.max" \
        "/sys/fs/cgroup/slipway/$id/cpu.max" 2> /dev/null | tr '\n' ' ')"
    want="67108864 128 150000 100000 "
else
    got="$(cat "/sys/fs/cgroup/memory/slipway/$id/memory.limit_in_bytes" \
        "/sys/fs/cgroup/memory/slipway/$id/memory.memsw.limit_in_bytes" \
        "/sys/fs/cgroup/pids/slipway/$id/pids.max" "/sys/fs/cgroup/cpu/slipway/$id/cpu.cfs_quota_us" \
        2> /dev/null | tr '\n' ' ')"
    want="67108864 67108864 128 150000 "
fi
check "its container runs in a cgroup of its own with the limits (memory, no swap, pids, 1.5 CPUs)" \
    test "$got" = "$want"
[ "$got" = "$want" ] || echo "# cgroup of $id: '$got', want '$want'"
kill -9 "$build_pid"; wait "$build_pid" 2> /dev/null || true
sleep 0.5
left=$(leftovers "$build_pid" "$BT_DATA" "$BT_WORK/ids")
[ -n "$left" ] && ok "after kill -9 the container outlives slipway build (until a sweep)" ||
    ok "after kill -9 nothing of the container was left even before a sweep"
printf 'FROM test/busybox:1\nRUN true\n' > "$ctx/Dockerfile"
bt_build "$ctx" --no-cache && ok "the next slipway build succeeds" || fail "next build: $(bt_tail 4)"
left=$(leftovers "$build_pid" "$BT_DATA" "$BT_WORK/ids")
check "...and its sweep left no process, mount, bundle or runc entry of it" test -z "$left"
[ -z "$left" ] || echo "# left: $left"
check "...nor its scratch directory" test -z "$(ls "$BT_DATA/tmp" 2>/dev/null | grep "pid$build_pid\\." || true)"

# --- the service: log cap, and kill -9 of a worker mid-RUN ------------------------------
work=$(sw_tmpdir)
src=$work/app
svc_git_init "$src"
gate_port=$(sw_free_port)
# a gate on loopback: "sleep" until the test creates $work/go, then "go"
cat > "$work/gate.py" <<EOF
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"go\n" if os.path.exists("$work/go") else b"sleep\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", $gate_port), H).serve_forever()
EOF
python3 "$work/gate.py" &
SW_CLEANUP_CMDS+=("kill $! 2>/dev/null")
cat > "$src/Dockerfile.noisy" <<'EOF'
FROM test/busybox:1
RUN head -c 3000000 /dev/zero | tr '\0' x; echo; echo still-running > /after.txt
RUN echo second step
EOF
cat > "$src/Dockerfile.sleepy" <<EOF
FROM test/busybox:1
RUN echo sleeping; if wget -q -O- http://127.0.0.1:$gate_port/ | grep -q sleep; then sleep 617; fi; echo awake > /awake.txt
EOF
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "noisy and sleepy"
svc_git -C "$src" branch noisy
svc_git -C "$src" branch sleepy
port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
registry:
  local_hosts: [127.0.0.1:$port]
builder:
  network: host
  limits: { memory: 64MiB, pids: 128, disk: 64MiB }
workers: 0
runs: { lease: 6s, max_attempts: 3, max_log_size: 1MiB }
repos:
  - name: demo/limits
    git: file://$src
    rules:
      - { source_type: branch, source: noisy, dockerfile: Dockerfile.noisy, tags: [noisy] }
      - { source_type: branch, source: sleepy, dockerfile: Dockerfile.sleepy, tags: [sleepy] }
")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"
start_worker() { # NAME
    "$SLIPWAY_BIN" worker --config "$cfg" --name "$1" > "$work/$1.log" 2>&1 &
    eval "pid_$1=$!"
    SW_CLEANUP_CMDS+=("kill -9 $! 2>/dev/null")
}
start_worker w1

run=$("$SLIPWAY_BIN" run demo/limits --branch noisy --server "$SVC_BASE")
check "a run printing 3MB succeeds" test "$(svc_wait "$run")" = succeeded
curl -s "$SVC_BASE/api/v1/runs/$run/log" > "$work/noisy.log"
size=$(stat -c %s "$work/data/logs/$run.log")
[ "$size" -le $((1024 * 1024 + 64 * 1024)) ] && [ "$size" -ge $((1024 * 1024)) ] &&
    ok "its log stopped at about 1MiB ($size bytes)" || fail "log size $size"
check "the log says once that it was truncated, naming runs.max_log_size" \
    test "$(grep -c 'log truncated: it reached 1MiB (runs.max_log_size)' "$work/noisy.log")" = 1
grep -q "second step" "$work/noisy.log" && ok "the step lines after the cut are kept" ||
    fail "no second step line: $(tail -c 600 "$work/noisy.log")"
check "the image has what the noisy step wrote after its output" \
    test "$(svc_file demo/limits:noisy /after.txt)" = still-running

run=$("$SLIPWAY_BIN" run demo/limits --branch sleepy --server "$SVC_BASE")
for _ in $(seq 200); do
    curl -s "$SVC_BASE/api/v1/runs/$run/log" | grep -q "^sleeping" && pgrep -f '^sleep 617$' > /dev/null && break
    sleep 0.1
done
pgrep -f '^sleep 617$' > /dev/null && ok "run $run sleeps in RUN on worker w1" ||
    fail "run $run: $(svc_run_field "$run" .status) $(curl -s "$SVC_BASE/api/v1/runs/$run/log" | tail -3)"
owned_ids "$pid_w1" > "$work/ids"
check "w1's container is known to runc" test -s "$work/ids"
kill -9 "$pid_w1"; wait "$pid_w1" 2> /dev/null || true
killed_at=$SECONDS
start_worker w2
clean=
while [ $((SECONDS - killed_at)) -le 6 ]; do
    left=$(leftovers "$pid_w1" "$work/data" "$work/ids")
    [ -z "$left" ] && { clean=1; break; }
    sleep 0.2
done
[ -n "$clean" ] && ok "within the lease (6s) no process, mount, bundle or runc entry of w1's container is left" ||
    fail "left after $((SECONDS - killed_at))s: $left"
# (any slipway process on the host may have swept it first: tests run in parallel)
grep -q "removed 1 build container" "$work/w2.log" && echo "# w2's sweep removed it" ||
    echo "# another process's sweep removed it"
touch "$work/go"
check "the run is retried and succeeds" test "$(svc_wait "$run")" = succeeded
check "on its second attempt" test "$(svc_run_field "$run" .attempts)" = 2
check "the image has the retried step's file" test "$(svc_file demo/limits:sleepy /awake.txt)" = awake
check "no scratch directory of w1 is left" test -z "$(ls "$work/data/tmp" | grep "pid$pid_w1\\." || true)"
kill "$pid_w2"; wait "$pid_w2" 2> /dev/null || true

sw_finish
