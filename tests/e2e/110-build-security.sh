#!/usr/bin/env bash
# Build security: what a RUN step must not see or do, and hostile archives
# (in ADD and in a base image's layer) that must not write outside their
# directory.
source "$(dirname "$0")/lib.sh"

bin=$SLIPWAY_BIN
work=$(sw_tmpdir)
cfg=$(sw_write_config "$work" "$(sw_free_port)" "builder: { network: none, step_timeout: 1m }")
sw_busybox_tar "$work/rootfs.tar"
"$bin" import --config "$cfg" "tar:$work/rootfs.tar" test/busybox:1 > /dev/null
data_dir="$work/data"

ctx=$(sw_tmpdir)
cat > "$ctx/Dockerfile" <<DF
FROM test/busybox:1
RUN test ! -e /etc/debian_version && echo "host-fs: invisible"
RUN test ! -e "$data_dir" && echo "data-dir: invisible"
RUN echo "pid1: \$(cat /proc/1/comm)"; echo "pids: \$(ls -d /proc/[0-9]* | wc -l)"
RUN grep CapEff /proc/self/status
RUN grep NoNewPrivs /proc/self/status
RUN echo "netns: \$(readlink /proc/self/ns/net)"; echo "netdevs: \$(grep -c : /proc/net/dev)"
RUN echo x > /proc/sys/kernel/hostname 2>/dev/null && echo "proc-sys: writable" || echo "proc-sys: read-only"
DF
if "$bin" build --config "$cfg" --no-cache "$ctx" > "$work/out" 2>&1; then
    ok "the probing build runs"
else
    fail "probing build failed: $(tail -5 "$work/out")"
fi
check "RUN does not see the host's filesystem" grep -q "host-fs: invisible" "$work/out"
check "RUN does not see the data directory" grep -q "data-dir: invisible" "$work/out"
check "RUN is PID 1 of its own PID namespace" grep -q "pid1: sh" "$work/out"
check "RUN sees only its own few processes" grep -q "pids: [1-6]$" "$work/out"
check "RUN has Docker's default capabilities only" grep -q "CapEff:.*00000000a80425fb" "$work/out"
check "RUN has no_new_privs" grep -q "NoNewPrivs:.*1" "$work/out"
host_netns=$(readlink /proc/self/ns/net)
check "RUN with network none has its own network namespace" \
    grep -q "netns: net:" "$work/out"
check "... which is not the host's" bash -c "! grep -qF 'netns: $host_netns' '$work/out'"
check "... with only the loopback device" grep -q "netdevs: 1$" "$work/out"
check "/proc/sys is read-only" grep -q "proc-sys: read-only" "$work/out"

# with --network host the RUN shares the host's namespace (the check above can fail)
printf 'FROM test/busybox:1\nRUN echo "netns: $(readlink /proc/self/ns/net)"\n' > "$ctx/Dockerfile"
if "$bin" build --config "$cfg" --no-cache --network host "$ctx" > "$work/out" 2>&1 &&
   grep -qF "netns: $host_netns" "$work/out"; then
    ok "--network host shares the host's network namespace"
else
    fail "--network host: $(tail -3 "$work/out")"
fi

# a hostile archive in ADD
victim="/tmp/slipway-pwned-$$"
python3 - "$ctx/evil.tar.gz" "$victim" <<'PY'
import io, sys, tarfile
out, victim = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w:gz") as t:
    data = b"pwned\n"
    info = tarfile.TarInfo("../../../../../../.." + victim)
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
PY
printf 'FROM test/busybox:1\nADD evil.tar.gz /x/\n' > "$ctx/Dockerfile"
set +e
"$bin" build --config "$cfg" "$ctx" > "$work/out" 2>&1; rc=$?
set -e
check "a hostile ADD archive fails the build" test "$rc" -ne 0
check "nothing was written outside" test ! -e "$victim"
grep -q "'..' component" "$work/out" && ok "the error names the bad entry" || fail "ADD error: $(tail -2 "$work/out")"

# symlink escape in ADD: a link to /tmp, then a file through it
python3 - "$ctx/evil2.tar" "$victim" <<'PY'
import io, sys, tarfile
out, victim = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w") as t:
    link = tarfile.TarInfo("escape"); link.type = tarfile.SYMTYPE; link.linkname = "/tmp"
    t.addfile(link)
    data = b"pwned\n"
    info = tarfile.TarInfo("escape/" + victim.split("/")[-1]); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
PY
printf 'FROM test/busybox:1\nADD evil2.tar /x/\n' > "$ctx/Dockerfile"
set +e
"$bin" build --config "$cfg" "$ctx" > "$work/out" 2>&1; rc=$?
set -e
check "a symlink-escape ADD archive fails the build" test "$rc" -ne 0
check "nothing was written through the symlink" test ! -e "$victim"

# a base image whose layer tries to escape: made as an OCI layout by hand
layout=$(sw_tmpdir)
python3 - "$layout" "$victim" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
layout, victim = sys.argv[1], sys.argv[2]
os.makedirs(f"{layout}/blobs/sha256", exist_ok=True)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{layout}/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d, len(data)
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w") as t:
    data = b"pwned by a layer\n"
    info = tarfile.TarInfo("../../../../../../.." + victim + "-layer"); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
tar = raw.getvalue()
layer, lsize = blob(gzip.compress(tar, mtime=0))
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}).encode()
cdig, csize = blob(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": csize},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": lsize}]}).encode()
mdig, msize = blob(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": mdig, "size": msize, "annotations": {"org.opencontainers.image.ref.name": "1"}}]},
    open(f"{layout}/index.json", "w"))
open(f"{layout}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
if "$bin" import --config "$cfg" "oci:$layout:1" test/hostile:1 > "$work/out" 2>&1; then
    printf 'FROM test/hostile:1\nRUN echo never\n' > "$ctx/Dockerfile"
    set +e
    "$bin" build --config "$cfg" "$ctx" > "$work/out" 2>&1; rc=$?
    set -e
    check "building on a hostile base layer fails" test "$rc" -ne 0
else
    ok "the importer refused the hostile layout already"
fi
check "the hostile base layer wrote nothing outside" test ! -e "$victim-layer"

sw_finish
