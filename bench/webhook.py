#!/usr/bin/env python3
"""Signed GitHub push deliveries against `slipway serve`, open loop.

usage: bench/webhook.py BASE SECRET CLONE_URL SHA fill N [CONCURRENCY]
       bench/webhook.py BASE SECRET CLONE_URL SHA rate RPS COUNT

fill: N deliveries as fast as CONCURRENCY connections allow (stores N runs);
prints the req/s. rate: COUNT deliveries started on a fixed schedule of RPS
per second, whatever the answers' latency (an open loop: a stall shows as a
tail instead of slowing the sender down), each on its own connection from
a pool of 64 threads; prints "p50 p95 p99 max" of the reply times in ms
(from the scheduled start, so time spent waiting for a free thread counts).
Every delivery must be answered 202, or the script exits 1.
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

    def deliver(scheduled):
        body = json.dumps({"ref": "refs/heads/main", "after": sha,
                           "repository": {"clone_url": clone_url},
                           "head_commit": {"id": sha, "message": "bench"}}).encode()
        sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        conn.request("POST", "/hooks/github", body, {
            "X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + sig, "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        conn.close()
        done = time.monotonic()
        if r.status != 202:
            failures.append(r.status)
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

    print(f"{pct(50):.1f} {pct(95):.1f} {pct(99):.1f} {lat[-1]:.1f}")


main()
