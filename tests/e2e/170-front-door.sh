#!/usr/bin/env bash
# 170-front-door.sh - the server under abuse, as a hostile client sees it:
# 600 sockets that dribble a header line every 5 s and 2,000 idle ones
# (from other 127.x addresses than the probes) while a fresh `curl /v2/` and
# a `skopeo inspect` keep answering within 2 s; the header deadline; 429 past
# server.max_connections_per_ip and 503 past server.max_connections, both with
# Retry-After; cross-site API writes refused (403) while same-origin JSON
# works; 429 with Retry-After after repeated failed logins; the modes of the
# data directory, the database and a blob; a build whose output imitates
# Slipway's status lines and a branch with a newline in the run log.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 300

work=$(sw_tmpdir)
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
  auth: { htpasswd: $work/htpasswd, anonymous_pull: true }")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"
pid=$SW_SERVER_PID

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
SW_CLEANUP_CMDS+=("kill $attacker 2>/dev/null")

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
