#!/usr/bin/env python3
"""Pushes one blob to a registry and prints the MB/s (MiB counted as 2^20 B).

usage: bench/push.py BASE FILE DIGEST [CHUNK_MIB]

BASE is http://host:port/v2/<name>. Without CHUNK_MIB: POST for a session,
then one PUT ?digest= with the whole body (a monolithic push, what docker
and skopeo send for a layer). With CHUNK_MIB: POST, then PATCHes of that
many MiB with Content-Range on one keep-alive connection, then an empty
PUT ?digest= (a chunked push). The file is read into memory before the
clock starts, so the client costs one copy into the socket. Exits 1 on any
HTTP error.
"""
import http.client
import sys
import time
import urllib.parse


def main():
    base, path, digest = sys.argv[1], sys.argv[2], sys.argv[3]
    chunk = int(sys.argv[4]) * 1024 * 1024 if len(sys.argv) > 4 else 0
    data = memoryview(open(path, "rb").read())
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)

    def request(method, target, body=None, headers=None):
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status >= 300:
            sys.exit(f"push.py: {method} {target} {headers}: HTTP {resp.status} {resp.getheader('Range')} {body}")
        return resp

    t0 = time.monotonic()
    resp = request("POST", url.path + "/blobs/uploads/", b"")
    loc = urllib.parse.urlsplit(resp.getheader("Location"))
    target = loc.path + ("?" + loc.query if loc.query else "")
    sep = "&" if loc.query else "?"
    octet = {"Content-Type": "application/octet-stream"}
    if chunk == 0:
        request("PUT", target + sep + "digest=" + digest, data, octet)
    else:
        for start in range(0, len(data), chunk):
            piece = data[start : start + chunk]
            headers = dict(octet)
            headers["Content-Range"] = f"{start}-{start + len(piece) - 1}"
            resp = request("PATCH", target, piece, headers)
            loc = urllib.parse.urlsplit(resp.getheader("Location"))
            target = loc.path + ("?" + loc.query if loc.query else "")
            sep = "&" if loc.query else "?"
        request("PUT", target + sep + "digest=" + digest, b"", octet)
    t1 = time.monotonic()
    pass; print(f"{len(data) / (1 << 20) / (t1 - t0):.0f}")


main()
