#!/usr/bin/env bash
# builder.network: egress -- what a build can reach. Slipway runs in a
# network namespace made here, whose only routes lead to test hosts in
# namespaces of their own (veth pairs): an "internet" host at 198.18.0.1
# (a file, and a redirect to the Slipway namespace's 127.0.0.1), a
# "metadata" host at 169.254.169.254 and a host in a denied range
# (10.99.0.1). No packet goes anywhere else: the Slipway namespace has no
# other route (a DNS query slirp4netns forwards to the host's resolver
# never leaves it).
#
# With the default egress: RUN downloads from the internet host but not
# from 127.0.0.1, the namespace's own address, the metadata host or the
# denied host; ADD the same, with the refusal message; RUN --network=host
# needs builder.allow: [network.host]; builder.egress.allow opens the
# denied host.
set -euo pipefail
source "$(dirname "$0")/build-lib.sh"
sw_time_limit 170

for tool in ip slirp4netns nft; do
    if ! command -v "$tool" > /dev/null; then
        echo "not ok - $tool is not installed (scripts/install-deps.sh)"
        exit 1
    fi
done

NS=sw-egress-$$
NS_SLW=$NS-slw NS_INET=$NS-inet NS_META=$NS-meta NS_DENY=$NS-deny
cleanup_net() {
    local n
    for n in "$NS_SLW" "$NS_INET" "$NS_META" "$NS_DENY"; do
        # processes left in a namespace (servers) first, then the namespace
        for pid in $(ip netns pids "$n" 2> /dev/null); do kill -KILL "$pid" 2> /dev/null || true; done
        ip netns delete "$n" 2> /dev/null || true
    done
}
SW_CLEANUP_CMDS+=("cleanup_net")
# nsenter, not `ip netns exec`: that one also remounts /sys, and runc then
# finds no cgroup mount
in_slw() { nsenter --net="/run/netns/$NS_SLW" "$@"; }

# --- the network ------------------------------------------------------------------
for n in "$NS_SLW" "$NS_INET" "$NS_META" "$NS_DENY"; do
    ip netns add "$n"
    ip -n "$n" link set lo up
done
# HOST-NS SLW-ADDR HOST-ADDR: a veth pair, point to point, no other routes
link_host() {
    local ns=$1 ours=$2 theirs=$3 tag=$4
    ip link add "eg$$$tag" netns "$NS_SLW" type veth peer name "eg$$${tag}h" netns "$ns"
    ip -n "$NS_SLW" addr add "$ours" peer "$theirs" dev "eg$$$tag"
    ip -n "$ns" addr add "$theirs" peer "$ours" dev "eg$$${tag}h"
    ip -n "$NS_SLW" link set "eg$$$tag" up
    ip -n "$ns" link set "eg$$${tag}h" up
}
link_host "$NS_INET" 198.18.1.1 198.18.0.1 i
link_host "$NS_META" 198.18.2.1 169.254.169.254 m
link_host "$NS_DENY" 198.18.3.1 10.99.0.1 d

# a tiny HTTP server: /file, /redirect (302 to argv[3]), anything else
# answers with the host's name
cat > "$SW_SCRATCH/httpd.py" <<'PY'
import http.server, sys
name, addr, target = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = (("internet-file\n" if self.path == "/file" else "secret-of-" + name + "\n")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        sys.stderr.write("%s %s\n" % (name, self.requestline))
http.server.HTTPServer((addr, int(sys.argv[4])), H).serve_forever()
PY
# a tiny DNS server: internet.test is 198.18.0.1, other names do not exist
cat > "$SW_SCRATCH/dns.py" <<'PY'
import socket, struct, sys
addr, name, answer = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 17:
        continue
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
        i += 1 + q[i]
    if i + 5 > len(q):
        continue
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    found = ".".join(labels).lower() == name
    hit = found and qtype == 1
    sys.stderr.write("dns %s type %d\n" % (".".join(labels), qtype))
    hdr = q[:2] + struct.pack(">HHHHH", 0x8180 if found else 0x8183, 1, 1 if hit else 0, 0, 0)
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(answer) if hit else b""
    s.sendto(hdr + q[12:i + 5] + rr, peer)
PY
start_httpd() { # NS NAME ADDR PORT [REDIRECT]
    nsenter --net="/run/netns/$1" python3 "$SW_SCRATCH/httpd.py" "$2" "$3" "${5:-/}" "$4" \
        >> "$SW_SCRATCH/httpd.log" 2>&1 &
    SW_CLEANUP_CMDS+=("kill $! 2>/dev/null")
}

bt_init "builder: { network: egress, step_timeout: 1m }"
cfg_default=$BT_CFG
# Slipway's own server in its namespace (a second data dir: only a listener)
sw_port=$(sw_free_port)
serve_dir=$(sw_tmpdir)
serve_cfg=$(sw_write_config "$serve_dir" "$sw_port")
in_slw "$SLIPWAY_BIN" serve --config "$serve_cfg" > "$SW_SCRATCH/serve.slw.log" 2>&1 &
SW_SERVER_PIDS+=("$!")
# a listener on every address of Slipway's namespace (its veth address too)
any_port=$(sw_free_port)
start_httpd "$NS_SLW" slipway-host 0.0.0.0 "$any_port"
start_httpd "$NS_INET" internet 198.18.0.1 80 "http://127.0.0.1:$sw_port/v2/"
start_httpd "$NS_META" metadata 169.254.169.254 80
start_httpd "$NS_DENY" denied 10.99.0.1 80
nsenter --net="/run/netns/$NS_INET" python3 "$SW_SCRATCH/dns.py" 198.18.0.1 internet.test 198.18.0.1 \
    >> "$SW_SCRATCH/dns.log" 2>&1 &
SW_CLEANUP_CMDS+=("kill $! 2>/dev/null")

wait_in_slw() { # URL
    for _ in $(seq 100); do in_slw curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    return 1
}
for url in "http://127.0.0.1:$sw_port/v2/" "http://198.18.1.1:$any_port/" http://198.18.0.1/file \
    http://169.254.169.254/ http://10.99.0.1/; do
    # each target answers Slipway's namespace itself: what a build cannot
    # reach below is refused by the build network, not missing
    check "the test network: $url answers in Slipway's namespace" wait_in_slw "$url"
done

cfg_with() { # YAML for the builder section: a config on the same store
    local f
    f=$(mktemp "$SW_SCRATCH/cfg.XXXXXX.yaml")
    sed "s|^builder:.*|builder: $1|" "$cfg_default" > "$f"
    echo "$f"
}
cfg_host=$(cfg_with "{ network: egress, step_timeout: 1m, allow: [network.host] }")
cfg_open=$(cfg_with "{ network: egress, step_timeout: 1m, egress: { allow: [10.99.0.0/16] } }")

ctx=$(sw_tmpdir)
nbuild() { # CONFIG: builds $ctx inside Slipway's namespace
    local cfg=$1 rc=0
    in_slw "$SLIPWAY_BIN" build --config "$cfg" --no-cache "$ctx" > "$BT_LOG" 2>&1 || rc=$?
    return "$rc"
}
nrefused() { # WHAT REGEX CONFIG: the build fails, its output matching REGEX
    if nbuild "$3"; then fail "$1: the build succeeded"
    elif grep -qE "$2" "$BT_LOG"; then ok "$1"
    else fail "$1: failed, but not with /$2/: $(tail -n 2 "$BT_LOG" | tr '\n' '|')"; fi
}
reaches() { # WHAT URL EXPECT [CONFIG]
    printf 'FROM test/busybox:1\nRUN busybox timeout 10 wget -q -O /tmp/got %s && cat /tmp/got && grep -q %s /tmp/got\n' \
        "$2" "$3" > "$ctx/Dockerfile"
    if nbuild "${4:-$cfg_default}"; then ok "$1"; else fail "$1: $(tail -n 4 "$BT_LOG" | tr '\n' '|')"; fi
}
blocked() { # WHAT URL [CONFIG]: the RUN's wget fails and gets nothing
    printf 'FROM test/busybox:1\nRUN if busybox timeout 10 wget -q -O /tmp/got %s; then echo "GO""T: $(cat /tmp/got)"; exit 1; fi; echo refused\n' \
        "$2" > "$ctx/Dockerfile"
    if nbuild "${3:-$cfg_default}" && ! grep -q "GOT:" "$BT_LOG"; then ok "$1"
    else fail "$1: $(grep -v '^\[' "$BT_LOG" | tail -n 3 | tr '\n' '|')"; fi
}

# --- RUN with egress ----------------------------------------------------------------
reaches "egress: RUN downloads from the internet host (198.18.0.1)" http://198.18.0.1/file internet-file
printf 'FROM test/busybox:1\nRUN grep -x "nameserver 10.0.2.3" /etc/resolv.conf && grep -q tap0 /proc/net/dev\n' > "$ctx/Dockerfile"
check "egress: RUN has slirp4netns's tap0 and its DNS (10.0.2.3) in resolv.conf" nbuild "$cfg_default"
# DNS: slirp4netns forwards 10.0.2.3 to the resolver in the host's
# resolv.conf; Slipway runs here with a private /etc/resolv.conf naming the
# internet host's DNS server
echo "nameserver 198.18.0.1" > "$SW_SCRATCH/resolv.conf"
printf 'FROM test/busybox:1\nRUN busybox nslookup internet.test && busybox timeout 10 wget -q -O - http://internet.test/file | grep -x internet-file\n' > "$ctx/Dockerfile"
if in_slw unshare --mount --propagation private sh -c \
    'mount --bind "$1" /etc/resolv.conf && exec "$2" build --config "$3" --no-cache "$4"' \
    sh "$SW_SCRATCH/resolv.conf" "$SLIPWAY_BIN" "$cfg_default" "$ctx" > "$BT_LOG" 2>&1; then
    ok "egress: RUN resolves a name through 10.0.2.3 and downloads from it"
else
    fail "egress: DNS through 10.0.2.3: $(grep -v '^\[' "$BT_LOG" | tail -n 4 | tr '\n' '|')"
fi
blocked "egress: RUN cannot reach 127.0.0.1:<slipway port>" "http://127.0.0.1:$sw_port/v2/"
blocked "egress: RUN cannot reach slirp's gateway to the host loopback (10.0.2.2)" "http://10.0.2.2:$sw_port/v2/"
blocked "egress: RUN cannot reach the Slipway namespace's own address (198.18.1.1)" \
    "http://198.18.1.1:$any_port/"
blocked "egress: RUN cannot reach the metadata host (169.254.169.254)" http://169.254.169.254/
blocked "egress: RUN cannot reach the host in a denied range (10.99.0.1)" http://10.99.0.1/
printf 'FROM test/busybox:1\nRUN grep -q "^CapEff:[[:space:]]*00000000a80405fb$" /proc/self/status\n' > "$ctx/Dockerfile"
check "egress: RUN has no CAP_NET_RAW (no packet socket past the filter)" nbuild "$cfg_default"
printf 'FROM test/busybox:1\nRUN --network=none test "$(grep -c : /proc/net/dev)" -eq 1\n' > "$ctx/Dockerfile"
check "RUN --network=none works under egress (only a loopback)" nbuild "$cfg_default"
# networks made ahead (from the first step that misses the cache, and the
# next one while a RUN runs): each RUN still has a namespace of its own,
# with slirp4netns and the filter
echo data > "$ctx/data.txt"
printf 'FROM test/busybox:1\nCOPY data.txt /data.txt\nRUN busybox readlink /proc/self/ns/net > /n1 && grep -q tap0 /proc/net/dev\nRUN busybox readlink /proc/self/ns/net > /n2 && grep -q tap0 /proc/net/dev\nRUN busybox readlink /proc/self/ns/net > /n3 && if busybox timeout 5 wget -q -O /tmp/got http://127.0.0.1:%s/v2/; then exit 1; fi\nRUN test "$(cat /n1 /n2 /n3 | sort -u | wc -l)" -eq 3\n' \
    "$sw_port" > "$ctx/Dockerfile"
check "egress RUN steps after a COPY: a namespace each, with tap0 and the filter" nbuild "$cfg_default"
reaches "builder.egress.allow: [10.99.0.0/16] opens the denied host" http://10.99.0.1/ secret-of-denied "$cfg_open"
blocked "builder.egress.allow does not open the metadata host" http://169.254.169.254/ "$cfg_open"

# --- entitlements -------------------------------------------------------------------
printf 'FROM test/busybox:1\nRUN --network=host busybox timeout 10 wget -q -O - http://127.0.0.1:%s/v2/\n' \
    "$sw_port" > "$ctx/Dockerfile"
nrefused "RUN --network=host fails without builder.allow: [network.host], naming it" \
    'Dockerfile:2: RUN --network=host .*builder\.allow.*network\.host' "$cfg_default"
check "RUN --network=host works with builder.allow: [network.host]" nbuild "$cfg_host"
printf 'FROM test/busybox:1\nRUN --security=insecure true\n' > "$ctx/Dockerfile"
nrefused "RUN --security=insecure is refused, naming builder.allow" \
    'Dockerfile:2: .*security=insecure is not supported.*builder\.allow' "$cfg_host"

# the effective network mode is part of the RUN's cache key
printf 'FROM test/busybox:1\nRUN echo cache-key-%s > /k\n' "$$" > "$ctx/Dockerfile"
in_slw "$SLIPWAY_BIN" build --config "$cfg_default" --network none "$ctx" > "$BT_OUT" 2>&1 || true
in_slw "$SLIPWAY_BIN" build --config "$cfg_default" --network none "$ctx" > "$BT_OUT" 2>&1 || true
check "the same RUN with the same network is taken from the cache" test "$(bt_count CACHED)" = 1
in_slw "$SLIPWAY_BIN" build --config "$cfg_default" "$ctx" > "$BT_OUT" 2>&1 || true
check "the same RUN with another network (egress) is not" test "$(bt_count DONE)" = 1

# --- ADD <url> ------------------------------------------------------------------------
printf 'FROM test/busybox:1\nADD http://198.18.0.1/file /got\nRUN grep -x internet-file /got\n' > "$ctx/Dockerfile"
check "ADD http://198.18.0.1/file works" nbuild "$cfg_default"
add_refused() { # WHAT URL ADDRESS
    printf 'FROM test/busybox:1\nADD %s /got\n' "$2" > "$ctx/Dockerfile"
    local want="download of $2 refused: $3 is not reachable from builds \\(builder\\.egress\\)"
    # the whole message is the line's end: nothing about what answered
    if nbuild "$cfg_default"; then fail "$1: the build succeeded"
    elif grep -qE "Dockerfile:2: ADD .*: $want\$" "$BT_LOG" &&
        ! grep -q "secret-of" "$BT_LOG"; then ok "$1"
    else fail "$1: $(tail -n 2 "$BT_LOG" | tr '\n' '|')"; fi
}
add_refused "ADD http://127.0.0.1:<slipway port>/ is refused with the message" \
    "http://127.0.0.1:$sw_port/v2/" 127.0.0.1
add_refused "ADD following a redirect from 198.18.0.1 to 127.0.0.1 is refused" \
    http://198.18.0.1/redirect 127.0.0.1
add_refused "ADD http://169.254.169.254/ is refused" http://169.254.169.254/latest 169.254.169.254
add_refused "ADD of the Slipway namespace's own address is refused" \
    "http://198.18.1.1:$any_port/x" 198.18.1.1
printf 'FROM test/busybox:1\nADD http://10.99.0.1/x /got\nRUN grep -q secret-of-denied /got\n' > "$ctx/Dockerfile"
check "ADD from the denied host works with builder.egress.allow" nbuild "$cfg_open"
cfg_small=$(cfg_with "{ network: egress, step_timeout: 1m, add_max_size: 4 }")
printf 'FROM test/busybox:1\nADD http://198.18.0.1/file /got\n' > "$ctx/Dockerfile"
nrefused "ADD larger than builder.add_max_size is refused, naming the key" \
    'larger than builder\.add_max_size' "$cfg_small"

# --- nothing left behind ---------------------------------------------------------------
cfg_short=$(cfg_with "{ network: egress, step_timeout: 3s }")
printf 'FROM test/busybox:1\nRUN sleep 60\n' > "$ctx/Dockerfile"
nrefused "an egress RUN past builder.step_timeout fails" 'longer than 3s' "$cfg_short"
# slirp4netns runs in Slipway's namespace: only serve and the listener remain
check "no slirp4netns left running after the builds" \
    bash -c 'test "$(ip netns pids "$0" | wc -l)" -eq 2' "$NS_SLW"

sw_finish
