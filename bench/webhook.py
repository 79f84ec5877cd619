#!/usr/bin/env python3
"""Signed GitHub push deliveries against `slipway serve`, open loop.

usage: bench/webhook.py BASE SECRET CLONE_URL SHA fill N [CONCURRENCY]
       bench/webhook.py BASE SECRET CLONE_URL SHA rate RPS COUNT [TRACE]

fill: N deliveries as fast as CONCURRENCY connections allow (stores N runs);
prints the req/s. rate: COUNT deliveries started on a fixed schedule of RPS
per second, whatever the answers' latency (an open loop: a stall shows as a
tail instead of slowing the sender down), each on its own connection from
a pool of 64 threads; prints "p50 p95 p99 max" of the reply times in ms
(from the scheduled start, so time spent waiting for a free thread counts).
Every delivery must be answered 202, or the script exits 1.

TRACE: the file the server writes with SLIPWAY_HOOK_TRACE (server/hooks.c).
The rate run then prints to stderr where the time of the slowest 1% and of
the middle went, phase by phase (mean ms), the client's part (waiting for
a pool thread, connecting and sending, reading the answer) included: the
server's clock and time.monotonic() are both CLOCK_MONOTONIC.
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
    futures = []
    t0 = time.monotonic() + 0.05
    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        for i in range(count):
            at = t0 + i / rps
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(deliver, at))
        lat = sorted(f.result() for f in futures)
    if failures:
        sys.exit(f"webhook.py: {len(failures)} deliveries failed: {sorted(set(failures))}")

    def pct(p):
        return lat[min(len(lat) - 1, max(0, int(len(lat) * p / 100 + 0.5) - 1))]

    if len(sys.argv) > 8:
        server = attribute(sys.argv[8], client, pct(99))
        print(f"{pct(50):.1f} {pct(95):.1f} {pct(99):.1f} {lat[-1]:.1f} {server}")
    else:
        print(f"{pct(50):.1f} {pct(95):.1f} {pct(99):.1f} {lat[-1]:.1f}")


PHASES = ["pool wait", "connect+send", "http-in", "verify", "parse", "match", "begin wait",
          "statements", "commit", "respond", "answer back"]


def attribute(trace, client, p99):
    """Prints the mean ms per phase of the deliveries at or above p99 and
    around p50; returns the p99 of the server's own part (from its first
    sight of the request to the answer handed to the HTTP library)."""
    rows = []
    with open(trace) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 11:
                continue
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
                         [done * 1000 - end_ms]))
    if not rows:
        print("webhook.py: no trace lines matched the deliveries", file=sys.stderr)
        return "-"

    def show(name, sel):
        if not sel:
            return
        means = [sum(r[1][i] for r in sel) / len(sel) for i in range(len(PHASES))]
        print(f"  {name} ({len(sel)}, mean {sum(r[0] for r in sel) / len(sel):.1f} ms): " +
              ", ".join(f"{p} {m:.2f}" for p, m in zip(PHASES, means)), file=sys.stderr)

    show(">= p99", [r for r in rows if r[0] >= p99])
    show("p40-p60", sorted(rows)[int(len(rows) * 0.4):int(len(rows) * 0.6)])
    server = sorted(sum(r[1][2:10]) for r in rows)
    return f"{server[min(len(server) - 1, int(len(server) * 0.99 + 0.5) - 1)]:.1f}"


main()
