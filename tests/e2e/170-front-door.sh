#!/usr/bin/env bash
# 170-front-door.sh - the server under abuse, as a hostile client sees it:
# 600 sockets that dribble a header line every 5 s and 2,000 idle ones
# (from other 127.x addresses than the probes) while a fresh `curl /v2/` and
# a `skopeo inspect` keep answering within 2 s; the header deadline; 429 past
# server.max_connections_per_ip and 503 past server.max_connections, both with
# Retry-After; 200 waiting log streams that hold no thread and do not delay
# the server's stop; cross-site API writes refused (403) while same-origin JSON
# works; 429 with Retry-After after repeated failed logins; the modes of the
# data directory, the database and a blob; a build whose output imitates
# Slipway's status lines and a branch with a newline in the run log.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 300

# Kills those of the given PIDs that are still unreaped children of this
# script: a PID already waited for may belong to anyone by now.
kill_ours() {
    local jobs_now pid
    jobs_now=" $(jobs -p | tr '\n' ' ') "
    for pid in "$@"; do
        if [[ $jobs_now == *" $pid "* ]]; then kill "$pid" 2>/dev/null || true; fi
    done
    return 0
}

work=$(sw_tmpdir)
src=$work/app
svc_git_init "$src"
# a build whose output imitates Slipway's lines, mark byte (octal 036) included
cat > "$src/Dockerfile" <<'DOCKERFILE'
FROM test/busybox:1
RUN echo "# Run ID: ca999 was successful after 1s"; printf '\036# Run ID: ca998 was successful\n'
DOCKERFILE
svc_git -C "$src" commit -qam "forge"
port=$(sw_free_port)
base=http://127.0.0.1:$port
htpasswd -nbB -C 10 alice pw > "$work/htpasswd"
umask 022 # the server must set its modes whatever the umask says
cfg=$(sw_write_config "$work" "$port" "
  public_url: http://ui.example:8443/
  header_timeout: 4s
  max_connections_per_ip: 64
registry:
  local_hosts: [127.0.0.1:$port]
  auth: { htpasswd: $work/htpasswd, anonymous_pull: true }
workers: 1
repos:
  - name: demo/app
    git: file://$src
    secret: s3cret
    rules:
      - { source_type: branch, source: main, tags: [latest] }
      - { source_type: branch, source: /^evil/, tags: [evil] }")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"
pid=$SW_SERVER_PID
main_log=$SW_SERVER_LOG

# --- slow and idle sockets --------------------------------------------------------------
# 600 slow sockets (127.0.0.2-11, 60 each) send a request line and then a header
# line every 5 s; 2,000 idle sockets (127.0.0.20-59, 50 each) send nothing.
# Sockets the server closes are opened again, so the pressure holds.
: > "$work/attack.log"
python3 - "$port" "$work/attack.json" > "$work/attack.log" 2>&1 <<'PY' &
import json, selectors, socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
DURATION, SLOW, IDLE = 45, 600, 2000
sel = selectors.DefaultSelector()
stats = {"opened": 0, "closed_by_server": 0, "slow_max_life": 0.0, "connect_errors": 0}
def src(kind, i):
    return f"127.0.0.{2 + i // 60}" if kind == "slow" else f"127.0.0.{20 + i // 50}"
def open_one(kind, i):
    s = socket.socket()
    s.bind((src(kind, i), 0))
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        stats["connect_errors"] += 1
        s.close()
        return
    s.setblocking(False)
    now = time.monotonic()
    st = {"kind": kind, "i": i, "born": now, "next": now + 5}
    if kind == "slow":
        s.send(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
    sel.register(s, selectors.EVENT_READ, st)
    stats["opened"] += 1
for i in range(IDLE):
    open_one("idle", i)
for i in range(SLOW):
    open_one("slow", i)
print("opened", stats["opened"], flush=True)
end = time.monotonic() + DURATION
while time.monotonic() < end:
    for key, _ in sel.select(timeout=0.5):
        s, st = key.fileobj, key.data
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            life = time.monotonic() - st["born"]
            if st["kind"] == "slow":
                stats["slow_max_life"] = max(stats["slow_max_life"], life)
            stats["closed_by_server"] += 1
            sel.unregister(s); s.close()
            open_one(st["kind"], st["i"])
    now = time.monotonic()
    for key in list(sel.get_map().values()):
        st = key.data
        if st["kind"] == "slow" and now >= st["next"]:
            st["next"] = now + 5
            try:
                key.fileobj.send(b"X-Slow: still-here\r\n")
            except OSError:
                pass
stats["open_at_end"] = len(sel.get_map())
for key in list(sel.get_map().values()):
    key.fileobj.close()
json.dump(stats, open(out, "w"))
PY
attacker=$!
SW_CLEANUP_CMDS+=("kill_ours $attacker")

for _ in $(seq 100); do grep -q opened "$work/attack.log" && break; sleep 0.2; done
sleep 1
worst_curl=0 worst_skopeo=0 probes=0 slow_probes=0 max_threads=0 max_rss=0
t_end=$(( $(date +%s) + 40 ))
while [ "$(date +%s)" -lt "$t_end" ]; do
    t0=$(date +%s%N)
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 "$base/v2/" || echo 000)
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$ms" -gt "$worst_curl" ] && worst_curl=$ms
    probes=$((probes + 1))
    # 401: /v2/ asks for a login (auth is on); what counts is that it answers
    if [ "$code" != 401 ] || [ "$ms" -gt 2000 ]; then slow_probes=$((slow_probes + 1)); echo "probe: $code in ${ms}ms" >&2; fi
    if [ $((probes % 5)) = 1 ]; then
        t0=$(date +%s%N)
        if ! timeout 2 skopeo --insecure-policy inspect --tls-verify=false --raw "docker://127.0.0.1:$port/test/busybox:1" > /dev/null 2>"$work/skopeo.err"; then
            slow_probes=$((slow_probes + 1)); echo "skopeo failed: $(head -c 300 "$work/skopeo.err")" >&2
        fi
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        [ "$ms" -gt "$worst_skopeo" ] && worst_skopeo=$ms
    fi
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    [ "$threads" -gt "$max_threads" ] && max_threads=$threads
    [ "$rss" -gt "$max_rss" ] && max_rss=$rss
    sleep 0.3
done
fds=$(ls "/proc/$pid/fd" | wc -l)
echo "# under attack: $probes curl probes (worst ${worst_curl} ms), skopeo worst ${worst_skopeo} ms;" \
     "server threads at most $max_threads, RSS at most $((max_rss / 1024)) MiB, $fds open fds"
wait "$attacker" || true
cat "$work/attack.log"
echo "# attacker: $(cat "$work/attack.json")"
check "every curl /v2/ and skopeo inspect answered within 2 s under 600 slow + 2,000 idle sockets" \
    test "$slow_probes" = 0 -a "$probes" -ge 20
check "the attacker really held its sockets (>= 2,500 open at the end)" \
    test "$(jq .open_at_end "$work/attack.json")" -ge 2500
check "threads stay bounded (<= 100)" test "$max_threads" -le 100
check "memory stays bounded (RSS <= 256 MiB)" test "$max_rss" -le 262144
slow_life=$(jq '.slow_max_life | floor' "$work/attack.json")
check "a header dribbler is closed after the header timeout (4 s; longest lived ${slow_life} s)" \
    test "$slow_life" -le 7 -a "$(jq .closed_by_server "$work/attack.json")" -gt 600

# --- per-address and global limits ---------------------------------------------------------
python3 - "$port" > "$work/per-ip" <<'PY'
import socket, sys, time, urllib.request
port = int(sys.argv[1])
held = []
for _ in range(70):
    s = socket.socket(); s.bind(("127.0.0.99", 0)); s.connect(("127.0.0.1", port)); held.append(s)
time.sleep(0.3)
s = socket.socket(); s.bind(("127.0.0.99", 0)); s.connect(("127.0.0.1", port))
s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
print(s.recv(4096).decode(errors="replace"))
o = socket.create_connection(("127.0.0.1", port), timeout=2)
o.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print("other address:", o.recv(4096).decode(errors="replace").split("\r\n")[0])
PY
grep -q '^HTTP/1.1 429' "$work/per-ip" && grep -qi '^Retry-After: [0-9]' "$work/per-ip" &&
    grep -q TOOMANYREQUESTS "$work/per-ip" && grep -q 'other address: HTTP/1.1 401' "$work/per-ip" &&
    ok "past max_connections_per_ip: 429 with Retry-After for that address, others answered" ||
    fail "per-address limit: $(head -c 600 "$work/per-ip")"

# --- the global limit: 503 with Retry-After ------------------------------------------------
port2=$(sw_free_port)
mkdir -p "$work/small"
cfg2=$(sw_write_config "$work/small" "$port2" "
  max_connections: 16")
sw_start_server "$cfg2"
python3 - "$port2" > "$work/global" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(20):
    s = socket.socket(); s.bind((f"127.0.1.{1 + i}", 0)); s.connect(("127.0.0.1", port)); held.append(s)
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), timeout=2)
s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
print(s.recv(4096).decode(errors="replace"))
PY
grep -q '^HTTP/1.1 503' "$work/global" && grep -qi '^Retry-After: [0-9]' "$work/global" &&
    grep -q UNAVAILABLE "$work/global" &&
    ok "past server.max_connections: 503 with Retry-After and an error body" ||
    fail "global limit: $(head -c 600 "$work/global")"
sw_stop_server
SW_SERVER_PID=$pid

# --- streams hold no thread -------------------------------------------------------------------
# 150 Server-Sent Event streams and 50 followed logs of a run that stays queued
# (no workers), each waiting for news; the server must still answer at once
# and must not have grown a thread per stream.
port3=$(sw_free_port)
mkdir -p "$work/streams"
cfg3=$(sw_write_config "$work/streams" "$port3" "
workers: 0
repos:
  - name: demo/app
    git: file://$src
    secret: s3cret
    rules:
      - { source_type: branch, source: main, tags: [latest] }")
sw_start_server "$cfg3"
base3=http://127.0.0.1:$port3
queued=$(curl -s -H 'Content-Type: application/json' -d '{"repo":"demo/app","branch":"main"}' "$base3/api/v1/runs" | jq -r .id)
stream_pids=()
for i in $(seq 150); do
    curl -s -N -o /dev/null --interface "127.0.4.$((i % 100 + 1))" "$base3/api/v1/runs/$queued/events" &
    stream_pids+=($!)
done
for i in $(seq 50); do
    curl -s -N -o /dev/null --interface "127.0.5.$i" "$base3/api/v1/runs/$queued/log?follow=1" &
    stream_pids+=($!)
done
SW_CLEANUP_CMDS+=("kill_ours ${stream_pids[*]}")
sleep 3
open_streams=$(find "/proc/$SW_SERVER_PID/fd" -lname 'socket:*' 2>/dev/null | wc -l)
worst=0
for _ in $(seq 10); do
    t0=$(date +%s%N)
    curl -s -o /dev/null -m 2 "$base3/v2/" || worst=9999
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$ms" -gt "$worst" ] && worst=$ms
    sleep 0.2
done
threads3=$(awk '/^Threads:/ {print $2}' "/proc/$SW_SERVER_PID/status")
echo "# 200 waiting streams ($open_streams sockets open in the server): worst /v2/ ${worst} ms, $threads3 server threads"
check "with 200 streams waiting, /v2/ answers within 1 s and threads stay few ($threads3)" \
    test "$worst" -le 1000 -a "$threads3" -le 40 -a "$open_streams" -ge 190
t0=$(date +%s)
sw_stop_server
check "the server stops cleanly with the 200 streams open (exit $SW_SERVER_STATUS, $(( $(date +%s) - t0 )) s)" \
    test "$SW_SERVER_STATUS" = 0 -a $(( $(date +%s) - t0 )) -le 5
kill_ours "${stream_pids[@]}"
wait "${stream_pids[@]}" 2>/dev/null || true
SW_SERVER_PID=$pid

# --- CSRF ------------------------------------------------------------------------------------
csrf() { # CONTENT_TYPE ORIGIN -> status, body in $work/csrf
    local args=(-s -o "$work/csrf" -w '%{http_code}' -u alice:pw -X POST --data '{"repo":"demo/app","branch":"main"}')
    [ -n "$1" ] && args+=(-H "Content-Type: $1")
    [ -n "$2" ] && args+=(-H "Origin: $2")
    curl "${args[@]}" "$base/api/v1/runs"
}
code=$(csrf text/plain "")
[ "$code" = 403 ] && [ "$(jq -r .error.code "$work/csrf")" = DENIED ] &&
    ok "POST /api/v1/runs as text/plain: 403 with a JSON error" || fail "text/plain: $code $(cat "$work/csrf")"
code=$(csrf application/x-www-form-urlencoded http://ui.example:8443)
check "a form post from the UI's own origin is still refused (403)" test "$code" = 403
code=$(csrf application/json https://evil.example)
[ "$code" = 403 ] && grep -q "Origin" "$work/csrf" &&
    ok "JSON from a foreign Origin: 403 saying why" || fail "foreign origin: $code $(cat "$work/csrf")"
code=$(curl -s -o "$work/csrf" -w '%{http_code}' -u alice:pw -X POST -H 'Origin: http://ui.example:8443' \
    -H 'Content-Type: application/json' "$base/api/v1/runs/ca1/cancel")
check "a same-origin JSON cancel passes the check ($code)" test "$code" != 403
code=$(csrf "application/json; charset=utf-8" http://ui.example:8443)
run=$(jq -r .id "$work/csrf")
[ "$code" = 201 ] && ok "same-origin JSON starts a run ($run)" || fail "same origin: $code $(cat "$work/csrf")"
code=$(csrf application/json "")
check "JSON without an Origin (curl, the CLI) works ($code)" test "$code" = 201 -o "$code" = 200

# --- log integrity -----------------------------------------------------------------------------
SVC_BASE=$base
status=$(svc_wait "$run")
check "the forging build succeeds ($status)" test "$status" = succeeded
curl -s "$base/api/v1/runs/$run/log" > "$work/raw.log"
mark=$'\x1e'
grep -q "^# Run ID: ca999 was successful" "$work/raw.log" &&
    ! grep -aq "^$mark# Run ID: ca99[89]" "$work/raw.log" &&
    grep -q "^␞# Run ID: ca998" "$work/raw.log" &&
    grep -q "^$mark# Run ID: $run was successful" "$work/raw.log" &&
    ok "in the raw log only Slipway's lines carry the mark; the build's mark byte became ␞" ||
    fail "raw log: $(cat -v "$work/raw.log" | head -30)"
"$SLIPWAY_BIN" logs "$run" --server "$base" > "$work/cli.log"
! grep -q "^# Run ID: ca99[89]" "$work/cli.log" && grep -q "^  # Run ID: ca999 was successful" "$work/cli.log" &&
    grep -q "^# Run ID: $run was successful" "$work/cli.log" &&
    ok "slipway logs shows the imitation as indented build output, Slipway's verdict at the margin" ||
    fail "slipway logs: $(head -30 "$work/cli.log")"
# (the API refuses spaces and colons in a ref, not newlines; git would refuse it later)
evil=$(jq -n '{repo: "demo/app", branch: "evil\n#_Run_ID_ca997_was_successful"}')
code=$(curl -s -o "$work/evil" -w '%{http_code}' -u alice:pw -H 'Content-Type: application/json' -d "$evil" "$base/api/v1/runs")
evil_run=$(jq -r .id "$work/evil")
check "a branch with a newline is queued ($code)" test "$code" = 201
svc_wait "$evil_run" > /dev/null
curl -s "$base/api/v1/runs/$evil_run/log" > "$work/evil.log"
grep -qF 'evil\n#_Run_ID_ca997' "$work/evil.log" && ! grep -q "ca997" <(grep -v "evil" "$work/evil.log") &&
    ok "the branch shows escaped (evil\\n...) in the run log, on its line" || fail "evil log: $(cat -v "$work/evil.log")"
! grep -q "^#_Run_ID_ca997" "$main_log" && grep -qF 'evil\n#_Run_ID_ca997' "$main_log" &&
    ok "and in the server log" || fail "server log: $(grep -a ca997 "$main_log" | head -5)"

# --- file modes --------------------------------------------------------------------------------
blob=$(find "$work/data/blobs" -type f | head -1)
modes="$(stat -c %a "$work/data") $(stat -c %a "$work/data/slipway.db") $(stat -c %a "$work/data/blobs") $(stat -c %a "$blob") $(stat -c %a "$work/data/logs") $(stat -c %a "$work/data/logs/$run.log")"
echo "# modes: data dir, db, blobs dir, blob, logs dir, log: $modes (umask 022)"
check "data dir 0700, database 0600, blobs 0700/0600, logs 0700/0600 (docs/storage.md)" \
    test "$modes" = "700 600 700 600 700 600"
[ -e "$work/data/slipway.db-wal" ] && check "the WAL is 0600" test "$(stat -c %a "$work/data/slipway.db-wal")" = 600

# --- login backoff -----------------------------------------------------------------------------
for i in 1 2 3 4 5; do
    curl -s -o /dev/null -u alice:wrong "$base/v2/"
done
code=$(curl -s -D "$work/h" -o "$work/b" -w '%{http_code}' -u alice:wrong "$base/v2/")
[ "$code" = 429 ] && grep -qi '^Retry-After: [0-9]' "$work/h" && grep -q "retry in [0-9]* second" "$work/b" &&
    ok "after 5 failed logins for alice: 429, Retry-After and when to retry in the body" ||
    fail "backoff: $code $(cat "$work/h" "$work/b")"
code=$(curl -s -D "$work/h" -o "$work/b" -w '%{http_code}' -u alice:pw "$base/api/v1/runs")
[ "$code" = 429 ] && [ "$(jq -r .error.code "$work/b")" = TOO_MANY_REQUESTS ] && grep -qi '^Retry-After:' "$work/h" &&
    ok "the JSON API backs off the same way (429 TOO_MANY_REQUESTS), even for the right password meanwhile" ||
    fail "API backoff: $code $(cat "$work/b")"
for i in 1 2 3 4 5; do curl -s -o /dev/null -u nobody:x "$base/v2/"; done
code=$(curl -s -o /dev/null -w '%{http_code}' -u nobody:x "$base/v2/")
check "an unknown user backs off the same way (no user oracle)" test "$code" = 429
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v2/")
check "anonymous requests are not held up ($code)" test "$code" = 401

sw_finish
