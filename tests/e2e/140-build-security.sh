#!/usr/bin/env bash
# Build security, one suite with two sections (each on its own store).
#
# Section "sandbox probes, time limits, hostile archives" (was 140-build-security.sh):
# The image builder's isolation: what a RUN step must not see or do (host
# files, the data dir, host processes, the network with --network none,
# more than Docker's default capabilities, mounts, /proc/sys writes, time
# without end), and hostile inputs that must not write or read outside
# their place: ADD archives with '..' entries, symlink and hardlink escapes,
# context symlinks pointing out of the context, and a base image whose
# layer tries to escape. Every victim path is checked on the host.
# Section "what a RUN sees, hostile ADD and base layers" (was 110-build-security.sh):
# Build security: what a RUN step must not see or do, and hostile archives
# (in ADD and in a base image's layer) that must not write outside their
# directory.
set -euo pipefail
source "$(dirname "$0")/build-lib.sh"

sw_time_limit 480

# ===========================================================================
# sandbox probes, time limits, hostile archives (was 140-build-security.sh)
# ===========================================================================

bt_init "builder: { network: none, step_timeout: 4s }"
ctx=$(sw_tmpdir)

# a listener on the host for the network checks
web_port=$(sw_free_port)
python3 -m http.server "$web_port" --bind 127.0.0.1 --directory "$ctx" > /dev/null 2>&1 &
SW_CLEANUP_CMDS+=("kill $!")
sw_wait_http "http://127.0.0.1:$web_port/" 10

# every probe is its own RUN so a failure names the property that broke;
# --no-cache so each run really executes.
probe() { # WHAT SHELL-COMMAND [build args...]
    local what=$1 cmd=$2; shift 2
    printf 'FROM test/busybox:1\nRUN %s\n' "$cmd" > "$ctx/Dockerfile"
    if bt_build "$ctx" --no-cache "$@"; then ok "$what"
    else fail "$what: $(grep -v '^\[' "$BT_LOG" | tail -n 3 | tr '\n' '|')"; fi
}

# --- what a RUN sees ----------------------------------------------------------
probe "RUN cannot see the host's files (/etc/debian_version)" 'test ! -e /etc/debian_version'
probe "RUN cannot see the data dir ($BT_DATA)" "test ! -e '$BT_DATA' && test ! -e '$SW_SCRATCH'"
probe "RUN cannot see the host's disks in /dev" 'test ! -e /dev/vda -a ! -e /dev/sda -a ! -e /dev/nvme0n1 -a ! -e /dev/mem'
probe "RUN sees only its own processes (at most 3 PIDs in /proc)" \
    'set -- /proc/[0-9]*; echo "pids: $*"; test $# -le 3'
probe "RUN has its own PID namespace: PID 1 is not the host's init" \
    'c=$(cat /proc/1/comm); echo "pid1: $c"; test "$c" != systemd -a "$c" != init'
probe "RUN has Docker's default capability set (CapEff 00000000a80425fb)" \
    'grep CapEff /proc/self/status; grep -q "^CapEff:[[:space:]]*00000000a80425fb$" /proc/self/status'
probe "RUN has no_new_privs set" 'grep -q "^NoNewPrivs:[[:space:]]*1$" /proc/self/status'
probe "RUN cannot mount (no CAP_SYS_ADMIN)" '! busybox mount -t tmpfs none /mnt 2>/dev/null'
probe "RUN cannot write /proc/sys" '! sh -c "echo pwned > /proc/sys/kernel/hostname" 2>/dev/null'
probe "RUN cannot read the host's kernel log / kcore" '! cat /proc/kcore > /dev/null 2>&1'

# --- the network ------------------------------------------------------------------
# (not wget -T: Debian's busybox 1.35 wget segfaults with -T, which would make
# a '! wget' pass for the wrong reason; exit 1 is "could not connect")
probe "--network none: RUN cannot reach a listener on the host's 127.0.0.1" \
    "busybox timeout 10 wget -q -O /dev/null http://127.0.0.1:$web_port/; rc=\$?; echo wget-rc=\$rc; test \$rc -eq 1"
probe "--network none: only the loopback device" 'test "$(grep -c : /proc/net/dev)" -eq 1'
probe "--network host: the same wget reaches it (so the check above means something)" \
    "busybox timeout 10 wget -q -O /dev/null http://127.0.0.1:$web_port/" --network host

# --- the step timeout ---------------------------------------------------------------
nap=$((86400 + $$))   # a sleep length no other process on this machine uses
printf 'FROM test/busybox:1\nRUN sleep %s\n' "$nap" > "$ctx/Dockerfile"
start=$(date +%s)
check_build_fails "a RUN longer than builder.step_timeout (4s) fails naming the step" \
    "Dockerfile:2: RUN sleep $nap:.*(longer than 4s|time)" "$ctx" --no-cache
took=$(( $(date +%s) - start ))
check "... and it was stopped in time (${took}s)" test "$took" -lt 30
lingering() { ps -eo args | grep -qx "sleep $nap"; }
for _ in $(seq 20); do lingering || break; sleep 0.25; done
check "... leaving no process of it running" bash -c "! { ps -eo args | grep -qx 'sleep $nap'; }"

# an interrupted build (^C, a canceled job: SIGINT/SIGTERM) stops its step
# and unmounts its overlay. In a store with a long step timeout, so the
# timeout cannot do the work; SIGINT reset to default (bash ignores it in
# background jobs).
timeout_store=$BT_WORK
bt_init "builder: { network: none, step_timeout: 10m }"
for sig in INT TERM; do
    nap=$((90000 + $$ + ${#sig}))
    printf 'FROM test/busybox:1\nRUN sleep %s\n' "$nap" > "$ctx/Dockerfile"
    python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
        "$SLIPWAY_BIN" build --config "$BT_CFG" --no-cache "$ctx" > "$BT_WORK/sig.log" 2>&1 &
    build_pid=$!
    for _ in $(seq 100); do ps -eo args | grep -qx "sleep $nap" && break; sleep 0.1; done
    kill -"$sig" "$build_pid"
    for _ in $(seq 100); do kill -0 "$build_pid" 2> /dev/null || break; sleep 0.1; done
    if kill -0 "$build_pid" 2> /dev/null; then
        fail "SIG$sig: slipway build still runs 10s later"
        kill -KILL "$build_pid"
    fi
    rc=0; wait "$build_pid" || rc=$?
    for _ in $(seq 20); do ps -eo args | grep -qx "sleep $nap" || break; sleep 0.25; done
    left=$(ps -eo pid,args | awk -v a="sleep $nap" '{p=$1; $1=""; sub(/^ /, "")} $0 == a {print p}')
    check_eq "SIG$sig to slipway build stops the running step (build exit $rc)" "$left" ""
    # shellcheck disable=SC2086
    [ -z "$left" ] || kill -KILL $left 2> /dev/null || true   # our own leftover
    check_eq "... and leaves no mount in the data dir" "$(awk -v d="$BT_DATA/" 'index($2, d) == 1' /proc/mounts | wc -l)" 0
    check "... and exits non-zero" test "$rc" -ne 0
    bt_unmount_scratch   # so the next round's count is its own
done
bt_use "$timeout_store"

# --- hostile ADD archives -------------------------------------------------------------
victim=/tmp/slipway-pwned-$$-$RANDOM
hl_target=/tmp/slipway-hltarget-$$-$RANDOM
echo "host file, must stay intact" > "$hl_target"
SW_CLEANUP_CMDS+=("rm -rf '$victim'* '$hl_target' /tmp/slipway-pwned2-$$ /tmp/slipway-pwned3-$$")
python3 - "$ctx" "$victim" "$hl_target" "$$" <<'PY'
import io, sys, tarfile
ctx, victim, hl_target, pid = sys.argv[1:]
up = "../" * 24
def add(t, name, data=b"pwned\n", **kw):
    info = tarfile.TarInfo(name)
    for k, v in kw.items(): setattr(info, k, v)
    if info.type == tarfile.REGTYPE:
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    else:
        t.addfile(info)
with tarfile.open(f"{ctx}/dotdot.tar.gz", "w:gz") as t:
    add(t, "ok.txt", b"fine\n")
    add(t, up + victim.lstrip("/"))
with tarfile.open(f"{ctx}/abs.tar", "w") as t:
    add(t, victim + "-abs")
with tarfile.open(f"{ctx}/symlink.tar", "w") as t:
    add(t, "link", type=tarfile.SYMTYPE, linkname="/tmp")
    add(t, f"link/slipway-pwned2-{pid}")
with tarfile.open(f"{ctx}/relsymlink.tar", "w") as t:
    add(t, "rlink", type=tarfile.SYMTYPE, linkname=up + "tmp")
    add(t, f"rlink/slipway-pwned3-{pid}")
with tarfile.open(f"{ctx}/hardlink.tar", "w") as t:
    add(t, "hl", type=tarfile.LNKTYPE, linkname=up + hl_target.lstrip("/"))
PY
hostile_add() { # WHAT ARCHIVE VICTIM...
    local what=$1 archive=$2 rc=0 v leaked=""; shift 2
    printf 'FROM test/busybox:1\nADD %s /x/\nRUN echo appended >> /x/hl 2>/dev/null || true\n' "$archive" > "$ctx/Dockerfile"
    bt_build "$ctx" -t demo/hostile:1 || rc=$?
    for v in "$@"; do [ -e "$v" ] && leaked="$leaked $v"; done
    check_eq "$what: nothing written outside (build exit $rc)" "$leaked" ""
}
hostile_add "ADD of a tar.gz with a ../../ entry" dotdot.tar.gz "$victim"
hostile_add "ADD of a tar with an absolute /tmp path" abs.tar "$victim-abs"
hostile_add "ADD of a tar with link -> /tmp then link/file" symlink.tar "/tmp/slipway-pwned2-$$"
hostile_add "ADD of a tar with rlink -> ../../tmp then rlink/file" relsymlink.tar "/tmp/slipway-pwned3-$$"
hostile_add "ADD of a tar with a hardlink to a host file" hardlink.tar
check_eq "the hardlinked host file is untouched (content)" "$(cat "$hl_target")" "host file, must stay intact"
check_eq "... and has no new links" "$(stat -c %h "$hl_target")" 1

# where the build did succeed, the archive's escaping entries stayed inside
printf 'FROM test/busybox:1\nADD symlink.tar /x/\n' > "$ctx/Dockerfile"
if bt_build "$ctx" -t demo/hostile:sym && bt_unpack demo/hostile:sym "$BT_WORK/hs"; then
    r=$BT_WORK/hs/rootfs
    check "a symlink-escape archive that was accepted kept its file inside the image" \
        test -e "$r/tmp/slipway-pwned2-$$" -o -e "$r/x/link/slipway-pwned2-$$" -o ! -e "$r/x/link"
else
    ok "the symlink-escape archive was refused: $(tail -n 1 "$BT_ERR")"
fi

# --- the context cannot be escaped through symlinks ---------------------------------------
secret_dir=$(sw_tmpdir)
echo "host secret" > "$secret_dir/hostsecret"
mkdir -p "$ctx/sub"
ln -sfn "$secret_dir" "$ctx/hostdir"
ln -sfn "$secret_dir/hostsecret" "$ctx/sub/leak"
ln -sfn ../../../../../../../../.. "$ctx/up"
printf 'FROM test/busybox:1\nCOPY hostdir/hostsecret /stolen\n' > "$ctx/Dockerfile"
rc=0; bt_build "$ctx" -t demo/steal:1 || rc=$?
if [ "$rc" -eq 0 ] && bt_unpack demo/steal:1 "$BT_WORK/st1" && grep -q "host secret" "$BT_WORK/st1/rootfs/stolen" 2>/dev/null; then
    fail "COPY through a context symlink to a host dir read the host file"
else
    ok "COPY through a context symlink to a host dir does not read the host file (exit $rc)"
fi
printf 'FROM test/busybox:1\nCOPY sub/ /copied/\n' > "$ctx/Dockerfile"
if bt_build "$ctx" -t demo/steal:2 && bt_unpack demo/steal:2 "$BT_WORK/st2"; then
    check_eq "COPY of a context symlink copies the link, not the host file" \
        "$(readlink "$BT_WORK/st2/rootfs/copied/leak" 2>&1)" "$secret_dir/hostsecret"
    check "... no host content in the image" bash -c "! grep -rqs 'host secret' '$BT_WORK/st2/rootfs/copied'"
else
    fail "COPY of a dir with a symlink: $(bt_tail 3)"
fi
printf 'FROM test/busybox:1\nCOPY up/etc/debian_version /stolen\n' > "$ctx/Dockerfile"
rc=0; bt_build "$ctx" -t demo/steal:3 || rc=$?
if [ "$rc" -eq 0 ] && bt_unpack demo/steal:3 "$BT_WORK/st3" && [ -s "$BT_WORK/st3/rootfs/stolen" ]; then
    fail "COPY through a ../../.. context symlink read the host's /etc/debian_version"
else
    ok "COPY through a ../../.. context symlink stays in the context (exit $rc)"
fi
rm -f "$ctx/hostdir" "$ctx/sub/leak" "$ctx/up"

# --- a base image with a hostile layer -------------------------------------------------------
layer_victim=/tmp/slipway-pwned-layer-$$-$RANDOM
SW_CLEANUP_CMDS+=("rm -rf '$layer_victim'*")
python3 - "$SW_SCRATCH/hostile-rootfs.tar" "$layer_victim" "$SW_SCRATCH/busybox-rootfs.tar" <<'PY'
import io, sys, tarfile
out, victim, base = sys.argv[1:]
with tarfile.open(base) as src, tarfile.open(out, "w") as t:
    for m in src.getmembers():   # a working rootfs, so RUN could start
        t.addfile(m, src.extractfile(m) if m.isfile() else None)
    data = b"pwned by a layer\n"
    info = tarfile.TarInfo("../" * 24 + victim.lstrip("/") + "-dotdot"); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
    link = tarfile.TarInfo("esc"); link.type = tarfile.SYMTYPE; link.linkname = "/tmp"
    t.addfile(link)
    info = tarfile.TarInfo("esc/" + victim.split("/")[-1] + "-symlink"); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
PY
printf 'FROM test/hostile:1\nRUN echo on-hostile-base > /proof\nCOPY Dockerfile /copied\n' > "$ctx/Dockerfile"
build_on_hostile() { # HOW
    local rc=0
    bt_build "$ctx" -t demo/on-hostile:1 --no-cache || rc=$?
    check_eq "building FROM a hostile base ($1) writes nothing outside (build exit $rc)" \
        "$(ls -d "$layer_victim"* 2>/dev/null)" ""
}
if "$SLIPWAY_BIN" import --config "$BT_CFG" "tar:$SW_SCRATCH/hostile-rootfs.tar" test/hostile:1 > "$BT_WORK/imp.log" 2>&1; then
    check_eq "importing the hostile rootfs tar wrote nothing outside" "$(ls -d "$layer_victim"* 2>/dev/null)" ""
    build_on_hostile "tar import"
else
    ok "slipway import tar: refuses a rootfs with escaping entries: $(tail -n 1 "$BT_WORK/imp.log")"
fi

# the same layer, stored verbatim: an OCI layout made by hand
layout=$SW_SCRATCH/hostile-layout
python3 - "$layout" "$SW_SCRATCH/hostile-rootfs.tar" <<'PY'
import gzip, hashlib, json, os, sys
layout, tar_path = sys.argv[1:]
os.makedirs(f"{layout}/blobs/sha256", exist_ok=True)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{layout}/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d, len(data)
tar = open(tar_path, "rb").read()
layer, lsize = blob(gzip.compress(tar, mtime=0))
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
                     "history": [{"created_by": "hostile"}]}).encode()
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
if "$SLIPWAY_BIN" import --config "$BT_CFG" "oci:$layout:1" test/hostile:1 > "$BT_WORK/imp.log" 2>&1; then
    check_eq "importing the hand-made hostile layout wrote nothing outside" "$(ls -d "$layer_victim"* 2>/dev/null)" ""
    build_on_hostile "OCI layout import"
    check "nothing escaped into the data dir's parent either" \
        test ! -e "$(dirname "$BT_DATA")/$(basename "$layer_victim")-dotdot"
else
    ok "slipway import oci: refuses the hostile layer: $(tail -n 1 "$BT_WORK/imp.log")"
fi

# ===========================================================================
# what a RUN sees, hostile ADD and base layers (was 110-build-security.sh)
# ===========================================================================

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
