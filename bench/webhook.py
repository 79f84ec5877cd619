#!/usr/bin/env python3
"""Signed GitHub push deliveries against `slipway serve`, open loop.

usage: bench/webhook.py BASE SECRET CLONE_URL SHA fill N [CONCURRENCY]
       bench/webhook.py BASE SECRET CLONE_URL SHA rate RPS COUNT [TRACE]

fill: N deliveries as fast as CONCURRENCY connections allow (stores N runs);
prints the req/s. rate: COUNT deliveries started on a fixed schedule of RPS
per second, whatever the answers' latency (an open loop: a stall shows as a
tail instead of slowing the sender down), each on its own connection from
64 threads, each sending every 64th; prints "p50 p95 p99 max" of the reply
times in ms (from the scheduled start, so a late sender counts).
Every delivery must be answered 202, or the script exits 1.

TRACE: the file the server writes with SLIPWAY_HOOK_TRACE (server/hooks.c).
The rate run then prints to stderr where the time of the slowest 1% and of
the middle went, phase by phase (mean ms), the client's part (waiting for
a pool thread, connecting and sending, reading the answer) included: the
server's clock and time.monotonic() are both CLOCK_MONOTONIC. Also how many
of them lost their core (involuntary context switch) or slept (the lock,
the disk) inside the run queue's transaction, the first 10 deliveries after
the server started (what is cold shows there) and the 3 slowest, numbered
in the order they were sent.
"""
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid


def main():
    base, secret, clone_url, sha, mode = sys.argv[1:6]
    u = urllib.parse.urlsplit(base)
    failures = []

    client = {}  # delivery id -> (scheduled, thread start, done), seconds

    def deliver(scheduled):
        started = time.monotonic()
        delivery = str(uuid.uuid4())
        body = json.dumps({"ref": "refs/heads/main", "after": sha,
                           "repository": {"clone_url": clone_url},
                           "head_commit": {"id": sha, "message": "bench"}}).encode()
        sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        conn.request("POST", "/hooks/github", body, {
            "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": "sha256=" + sig, "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        conn.close()
        done = time.monotonic()
        if r.status != 202:
            failures.append(r.status)
        client[delivery] = (scheduled, started, done)
        return (done - scheduled) * 1000

    if mode == "fill":
        n = int(sys.argv[6])
        conc = int(sys.argv[7]) if len(sys.argv) > 7 else 8
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(conc) as pool:
            list(pool.map(lambda _: deliver(time.monotonic()), range(n)))
        if failures:
            sys.exit(f"webhook.py: {len(failures)} deliveries failed: {sorted(set(failures))}")
        print(f"{n / (time.monotonic() - t0):.0f}")
        return
    rps, count = float(sys.argv[6]), int(sys.argv[7])
    # Each of the 64 threads sends every 64th delivery, sleeping until its
    # time itself: one wake-up per delivery, not a scheduler's and then a
    # pool thread's (each a chance to be late on a busy machine); a thread
    # whose previous delivery is still unanswered sends late, and that
    # delay counts. A short GIL switch interval (0.5 ms, not 5) keeps a
    # thread that woke on time from waiting for another to let go.
    sys.setswitchinterval(0.0005)
    threads = 64
    t0 = time.monotonic() + 0.05
    lat = [0.0] * count

    def sender(first):
        for i in range(first, count, threads):
            at = t0 + i / rps
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            lat[i] = deliver(at)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(sender, k) for k in range(threads)]:
            f.result()
    lat.sort()
    if failures:
        sys.exit(f"webhook.py: {len(failures)} deliveries failed: {sorted(set(failures))}")

    def pct(p):
        return lat[min(len(lat) - 1, max(0, int(len(lat) * p / 100 + 0.5) - 1))]

    if len(sys.argv) > 8:
        server = attribute(sys.argv[8], client, pct(99))
        print(f"{pct(50):.1f} {pct(95):.1f} {pct(99):.1f} {lat[-1]:.1f} {server}")
    else:
        print(f"{pct(50):.1f} {pct(95):.1f} {pct(99):.1f} {lat[-1]:.1f}")


PHASES = ["late start", "connect+send", "http-in", "verify", "parse", "match", "begin wait",
          "statements", "commit", "respond", "answer back"]


def attribute(trace, client, p99):
    """Prints the mean ms per phase of the deliveries at or above p99 and
    around p50; returns the p99 of the server's own part (from its first
    sight of the request to the answer handed to the HTTP library)."""
    rows = []
    with open(trace) as f:
        for line in f:
            parts = line.split()
            if len(parts) not in (11, 13):  # 11: a server without the switch counts
                continue
            switches = [int(x) for x in parts[11:13]] or [-1, -1]
            did = parts[0]
            if did not in client:
                continue
            sched, started, done = client[did]
            v = [int(x) / 1000 for x in parts[1:]]
            start_ms, server = v[0], v[1:9]
            total = v[9]
            end_ms = start_ms + total
            rows.append(((done - sched) * 1000,
                         [(started - sched) * 1000, start_ms - started * 1000] + server +
                         [done * 1000 - end_ms], sched, *switches))
    if not rows:
        print("webhook.py: no trace lines matched the deliveries", file=sys.stderr)
        return "-"

    def show(name, sel):
        if not sel:
            return
        means = [sum(r[1][i] for r in sel) / len(sel) for i in range(len(PHASES))]
        print(f"  {name} ({len(sel)}, mean {sum(r[0] for r in sel) / len(sel):.1f} ms): " +
              ", ".join(f"{p} {m:.2f}" for p, m in zip(PHASES, means)) +
              (f"; in the transaction {sum(r[3] > 0 for r in sel)} lost the core,"
               f" {sum(r[4] > 0 for r in sel)} slept" if sel[0][3] >= 0 else ""), file=sys.stderr)

    show(">= p99", [r for r in rows if r[0] >= p99])
    show("p40-p60", sorted(rows)[int(len(rows) * 0.4):int(len(rows) * 0.6)])
    # the first deliveries after the server started, on their own: what is
    # cold (connections, statements, pages) shows here
    by_schedule = sorted(rows, key=lambda r: r[2])
    show("first 10", by_schedule[:10])
    slowest = sorted(range(len(by_schedule)), key=lambda i: -by_schedule[i][0])[:3]
    print("  slowest: " + ", ".join(f"#{i + 1} {by_schedule[i][0]:.1f} ms" for i in slowest),
          file=sys.stderr)
    server = sorted(sum(r[1][2:10]) for r in rows)
    return f"{server[min(len(server) - 1, int(len(server) * 0.99 + 0.5) - 1)]:.1f}"


main()
