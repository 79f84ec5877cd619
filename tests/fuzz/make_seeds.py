#!/usr/bin/env python3
"""Writes the hand-written seed corpora of the fuzz targets (tests/fuzz/
corpus/<target>/seed-*), from the formats' specifications. Run from
anywhere; it only (re)writes seed-* files, never the entries fuzzing found.
Input layouts are described at the top of each fuzz_*.c."""
import gzip
import hashlib
import io
import json
import os
import struct
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))


def d(s):
    return "sha256:" + hashlib.sha256(s.encode()).hexdigest()


def put(target, name, data):
    path = os.path.join(HERE, "corpus", target)
    os.makedirs(path, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(path, "seed-" + name), "wb") as f:
        f.write(data)


# ---- manifest: byte 0 picks the Content-Type (0 none, 1 OCI manifest,
# 2 OCI index, 3 Docker manifest, 4 Docker list, ...) --------------------
def manifest_seeds():
    oci = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": d("config"), "size": 123},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
             "digest": d("layer1"), "size": 4567},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
             "digest": d("layer2"), "size": 89,
             "annotations": {"org.opencontainers.image.title": "x"}},
        ],
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    }
    put("manifest", "oci-manifest", b"\x01" + json.dumps(oci).encode())
    put("manifest", "oci-manifest-noct", b"\x00" + json.dumps(oci, indent=2).encode())
    art = dict(oci)
    art["artifactType"] = "application/vnd.example.sbom"
    art["subject"] = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "digest": d("subject"), "size": 500}
    art["layers"] = []
    put("manifest", "oci-artifact", b"\x05" + json.dumps(art).encode())
    idx = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": d("amd64"), "size": 700,
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": d("armv7"), "size": 701,
             "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": d("arm64"), "size": 702,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": d("att"), "size": 703,
             "platform": {"architecture": "unknown", "os": "unknown"}},
        ],
    }
    put("manifest", "oci-index", b"\x02" + json.dumps(idx).encode())
    dm = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": 1470, "digest": d("dconfig")},
        "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
             "size": 977, "digest": d("dlayer")},
            {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
             "size": 1000, "digest": d("foreign"),
             "urls": ["https://example.invalid/layer"]},
        ],
    }
    put("manifest", "docker-manifest", b"\x03" + json.dumps(dm).encode())
    dl = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "size": 528, "digest": d("l1"),
             "platform": {"architecture": "amd64", "os": "linux", "features": ["sse4"]}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "size": 528, "digest": d("l2"),
             "platform": {"architecture": "arm", "os": "linux", "variant": "v6"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "size": 528, "digest": d("l3"),
             "platform": {"architecture": "amd64", "os": "windows",
                          "os.version": "10.0.17763.1"}},
        ],
    }
    put("manifest", "docker-list", b"\x04" + json.dumps(dl).encode())
    put("manifest", "mismatch", b"\x03" + json.dumps(oci).encode())
    put("manifest", "schema1", b"\x00" + b'{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}')
    put("manifest", "bad-digest",
        b"\x01" + b'{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:XYZ",'
        b'"size":-1},"layers":[{}]}')


# ---- webhook: byte 0 forge (0 GitHub, 1 GitLab, 2 Gitea), byte 1 event
# (0 push, 1 ping, 2 create, 3 delete, 4 Push Hook, 5 Tag Push Hook, ...),
# the signature/token header up to '\n', then the body ------------------
def webhook_seeds():
    sha = "3f786850e387550fdab836ed7e6dc881de23001b"
    zero = "0" * 40
    repo_gh = {"full_name": "acme/hello", "clone_url": "https://github.com/acme/hello.git",
               "ssh_url": "git@github.com:acme/hello.git", "html_url": "https://github.com/acme/hello"}
    gh_push = {"ref": "refs/heads/main", "before": zero, "after": sha, "deleted": False,
               "head_commit": {"id": sha, "message": "Fix the thing [skip ci]"},
               "commits": [{"id": sha, "message": "Fix the thing [skip ci]"}],
               "repository": repo_gh, "pusher": {"name": "alice", "email": "a@example.com"}}
    put("webhook", "github-push", b"\x00\x00sha256=" + b"0" * 64 + b"\n" + json.dumps(gh_push).encode())
    tag = dict(gh_push, ref="refs/tags/v1.2.3", head_commit=None)
    put("webhook", "github-tag", b"\x00\x00\n" + json.dumps(tag).encode())
    dele = dict(gh_push, ref="refs/heads/old", after=zero, deleted=True)
    put("webhook", "github-delete", b"\x00\x00\n" + json.dumps(dele).encode())
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1, "repository": repo_gh}
    put("webhook", "github-ping", b"\x00\x01\n" + json.dumps(ping).encode())
    gl_push = {"object_kind": "push", "ref": "refs/heads/main", "before": zero, "after": sha,
               "checkout_sha": sha, "user_name": "Bob", "user_username": "bob",
               "project": {"path_with_namespace": "acme/hello",
                           "git_http_url": "https://gitlab.example/acme/hello.git",
                           "git_ssh_url": "git@gitlab.example:acme/hello.git",
                           "web_url": "https://gitlab.example/acme/hello"},
               "repository": {"url": "git@gitlab.example:acme/hello.git",
                              "homepage": "https://gitlab.example/acme/hello"},
               "commits": [{"id": sha, "message": "[skip build] docs"}]}
    put("webhook", "gitlab-push", b"\x01\x04tok3n\n" + json.dumps(gl_push).encode())
    gl_tag = dict(gl_push, object_kind="tag_push", ref="refs/tags/v2", checkout_sha=None)
    put("webhook", "gitlab-tag", b"\x01\x05\n" + json.dumps(gl_tag).encode())
    gt_push = {"ref": "refs/heads/dev", "before": zero, "after": sha,
               "commits": [{"id": sha, "message": "wip"}], "head_commit": {"id": sha, "message": "wip"},
               "repository": {"full_name": "acme/hello",
                              "clone_url": "https://gitea.example/acme/hello.git",
                              "ssh_url": "git@gitea.example:acme/hello.git"},
               "pusher": {"login": "carol", "username": "carol"}}
    put("webhook", "gitea-push", b"\x02\x00" + b"ab" * 32 + b"\n" + json.dumps(gt_push).encode())
    put("webhook", "gitea-create", b"\x02\x02\n" + json.dumps({"ref": "v3", "ref_type": "tag", "sha": sha}).encode())
    # pull and merge requests: 10 pull_request, 11 Merge Request Hook, 12 pull_request_sync
    head = "c0ffee" + "0" * 33 + "7"
    gh_pr = {"action": "synchronize", "number": 7,
             "pull_request": {"number": 7, "title": "Fix \u001b[2J",
                              "head": {"ref": "fix", "sha": head,
                                       "repo": {"id": 9, "full_name": "octo/hello"}},
                              "base": {"ref": "main", "sha": sha, "repo": repo_gh}},
             "repository": repo_gh, "sender": {"login": "octo"}}
    put("webhook", "github-pr", b"\x00\x0a\n" + json.dumps(gh_pr).encode())
    gt_pr = dict(gh_pr, action="synchronized")
    gt_pr["pull_request"] = dict(gh_pr["pull_request"],
                                 head={"ref": "fix", "sha": head, "repo_id": 9},
                                 base={"ref": "main", "sha": sha, "repo_id": 1})
    put("webhook", "gitea-pr", b"\x02\x0c\n" + json.dumps(gt_pr).encode())
    gl_mr = {"object_kind": "merge_request", "user": {"username": "bob"},
             "project": gl_push["project"],
             "object_attributes": {"iid": 12, "action": "update", "oldrev": sha,
                                   "target_branch": "main", "source_branch": "feature",
                                   "source_project_id": 5, "target_project_id": 1,
                                   "last_commit": {"id": head}}}
    put("webhook", "gitlab-mr", b"\x01\x0b\n" + json.dumps(gl_mr).encode())
    put("webhook", "not-object", b"\x00\x00\n[1,2,3]")
    put("webhook", "no-event", b"\x01\x09\n{}")


def auth_seeds():
    for name, s in [
        ("bearer", 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:library/busybox:pull"'),
        ("basic", 'Basic realm="Registry Realm"'),
        ("both", 'Basic realm="r", Bearer realm="https://a/t",service="s"'),
        ("escaped", 'Bearer realm="https://a/t?x=\\"y\\"", error="invalid_token"'),
        ("token68", "Negotiate abc==, Bearer realm=https://a/t"),
        ("ws", '  bearer   realm = "x" ,, service="y"  '),
        ("empty", ""),
        ("unterminated", 'Bearer realm="https://a'),
    ]:
        put("auth_challenge", name, s)


def reference_seeds():
    for name, s in [
        ("short", "busybox"), ("tag", "alpine:3.20"), ("hub-user", "acme/app:1.0"),
        ("ghcr", "ghcr.io/acme/app:latest"),
        ("port-digest", "localhost:5000/a/b@" + d("x")),
        ("tag-digest", "registry.example:443/ns/img:v1@" + d("y")),
        ("ipv6", "[::1]:5000/x/y:z"), ("index", "index.docker.io/library/debian"),
        ("upper", "Docker.io/Library/X"), ("platform", "linux/arm/v7"),
        ("platform2", "windows/amd64"), ("digest", d("z")), ("empty", ""), ("colon", "a:"),
    ]:
        put("reference", name, s)


def range_seeds():
    for name, s in [
        ("bytes", "bytes=0-99"), ("open", "bytes=100-"), ("suffix", "bytes=-500"),
        ("multi", "bytes=0-1,5-6"), ("chunk", "0-1023"), ("chunk-bytes", "bytes 0-1023/4096"),
        ("chunk-star", "bytes 0-1023/*"), ("big", "bytes=9223372036854775806-9223372036854775807"),
        ("overflow", "bytes=99999999999999999999-"), ("neg", "-5--3"), ("empty", ""),
        ("ws", " bytes = 1 - 2 "),
    ]:
        put("range", name, s)


def dockerignore_seeds():
    put("dockerignore", "basic", "# comment\n.git\nnode_modules\n*.o\n!keep.o\n\n")
    put("dockerignore", "globs", "**/*.log\ndocs/**\n!docs/README.md\nsrc/[a-c]?.c\nbuild/\n"
        "\x00x/y/z/w/v/u.log\ndocs/README.md\nsrc/b1.c\nbuild")
    put("dockerignore", "escapes", "a\\*b\n[!a-z]\n[\\]]\n./x/../y\n/abs\n  spaced  \n\x00a*b\ny")
    put("dockerignore", "exceptions", "*\n!Dockerfile\n!src\nsrc/**/test\n!src/**/test/keep\n"
        "\x00src/a/test/keep\nsrc/a/test/x")
    put("dockerignore", "bad", "[\n[a-\n\\")
    put("dockerignore", "stars", "*/*/*/*/*/*/*/*/*\n**/**/**/**/a\n\x00" + "/".join("a" * 20))


def config_seeds():
    put("config", "full", """server:
  listen: "127.0.0.1:8080"
  public_url: https://builds.example/
  data_dir: /var/lib/slipway
registry:
  delete: true
  local_hosts: [builds.example, "localhost:8080"]
  pagination_max: 100
  max_manifest_size: 4MiB
  auth:
    htpasswd: /etc/slipway/htpasswd
    anonymous_pull: false
    realm: slipway
    rules:
      - {repo: "team/*", users: [alice, bob], access: [pull, push]}
      - {repo: "*", users: "*", access: [pull]}
  mirrors:
    docker.io: ["https://mirror.example"]
  insecure: ["localhost:5000"]
  credentials:
    - {host: ghcr.io, username: u, password: env:HOME}
  gc:
    untagged_manifests: delete
builder:
  runtime: runc
  network: none
  compression: zstd
  step_timeout: 1h30m
workers: 2
runs:
  id_prefix: ca
  keep: 90d
""")
    put("config", "tls", "server:\n  listen: '[::1]:8443'\n  tls:\n    cert: c.pem\n    key: k.pem\n")
    put("config", "json", '{"server": {"listen": "0.0.0.0:80"}, "workers": 0}')
    put("config", "anchors", "a: &x {delete: maybe}\nregistry: *x\n")
    put("config", "typo", "server:\n  lsten: 1\n")
    put("config", "dup", "workers: 1\nworkers: 2\n")
    put("config", "multi", "---\nworkers: 1\n---\nworkers: 2\n")
    put("config", "empty", "")


# ---- unpack: tar streams, plain and compressed -------------------------
def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def ti(name, kind=tarfile.REGTYPE, size=0, link="", mode=0o644, pax=None):
    i = tarfile.TarInfo(name)
    i.type = kind
    i.size = size
    i.linkname = link
    i.mode = mode
    i.mtime = 1700000000
    if pax:
        i.pax_headers = pax
    return i


def unpack_seeds():
    files = tar_bytes([
        (ti("etc/", tarfile.DIRTYPE, mode=0o755), None),
        (ti("etc/hosts", size=10), b"127.0.0.1\n"),
        (ti("bin/", tarfile.DIRTYPE, mode=0o755), None),
        (ti("bin/sh", size=4, mode=0o4755), b"\x7fELF"),
        (ti("bin/ash", tarfile.SYMTYPE, link="sh"), None),
        (ti("bin/busybox", tarfile.LNKTYPE, link="bin/sh"), None),
        (ti("dev/null", tarfile.CHRTYPE), None),
        (ti("run/fifo", tarfile.FIFOTYPE), None),
    ])
    put("unpack", "plain", files)
    put("unpack", "gzip", gzip.compress(files, mtime=0))
    put("unpack", "whiteouts", tar_bytes([
        (ti("a/", tarfile.DIRTYPE), None),
        (ti("a/.wh.removed"), None),
        (ti("b/.wh..wh..opq"), None),
        (ti(".wh.top"), None),
    ]))
    put("unpack", "xattrs", tar_bytes([
        # vfs_cap_data revision 2, effective, CAP_NET_BIND_SERVICE permitted
        (ti("cap", size=1, pax={"SCHILY.xattr.security.capability":
                                struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0).decode(),
                                "SCHILY.xattr.user.x": "y",
                                "SCHILY.xattr.trusted.overlay.opaque": "y"}), b"x"),
    ]))
    put("unpack", "escape-dotdot", tar_bytes([(ti("../escaped", size=1), b"x")]))
    put("unpack", "escape-abs", tar_bytes([(ti("/tmp/escaped-abs", size=1), b"x")]))
    put("unpack", "escape-symlink", tar_bytes([
        (ti("up", tarfile.SYMTYPE, link=".."), None),
        (ti("up/sentinel", size=3), b"bad"),
    ]))
    put("unpack", "escape-abs-symlink", tar_bytes([
        (ti("abs", tarfile.SYMTYPE, link="/"), None),
        (ti("abs/tmp/x", size=1), b"x"),
    ]))
    put("unpack", "escape-hardlink", tar_bytes([
        (ti("h", tarfile.LNKTYPE, link="../sentinel"), None),
        (ti("h", size=3), b"bad"),
    ]))
    put("unpack", "replace", tar_bytes([
        (ti("d", tarfile.DIRTYPE), None),
        (ti("d/f", size=1), b"1"),
        (ti("d", size=1), b"2"),
        (ti("d", tarfile.SYMTYPE, link="."), None),
    ]))
    put("unpack", "gnu-longname", tar_bytes([
        (ti("x" * 120 + "/" + "y" * 120, size=1), b"z"),
        (ti("l", tarfile.SYMTYPE, link="t" * 200), None),
    ], fmt=tarfile.GNU_FORMAT))
    put("unpack", "ustar", tar_bytes([(ti("p/q/r", size=5), b"hello")], fmt=tarfile.USTAR_FORMAT))
    put("unpack", "truncated", files[:700])


if __name__ == "__main__":
    manifest_seeds()
    webhook_seeds()
    auth_seeds()
    reference_seeds()
    range_seeds()
    dockerignore_seeds()
    config_seeds()
    unpack_seeds()
