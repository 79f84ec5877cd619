#!/usr/bin/env bash
# Offline import and export (docs/import-export.md), checked with the real
# tools: a busybox rootfs tarball becomes an image (tar:), goes out as an OCI
# layout, an OCI archive and a docker save tarball that skopeo and umoci
# read back, and comes in again from layouts skopeo wrote (oci:,
# oci-archive:, docker-archive:). Bad inputs fail with exit 1 and a message
# naming the input. Last, an import next to a running `slipway serve` is
# visible to skopeo over HTTP at once.
#
# Self-contained on purpose (no lib.sh): it needs only the binary, skopeo,
# umoci, busybox-static and python3.
set -euo pipefail

bin="${SLIPWAY_BIN:?SLIPWAY_BIN must point at the slipway binary}"
root="${SLIPWAY_TEST_TMP:-/tmp}"
mkdir -p "$root"
dir=$(mktemp -d "$root/020-import-export.XXXXXX")
server_pid=
failures=0

cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $failures -eq 0 ]]; then
        chmod -R u+w "$dir" 2>/dev/null || true
        rm -rf "$dir"
    else
        echo "# kept $dir for inspection" >&2
    fi
}
trap cleanup EXIT
# a command failing outside a check is a failure too, and says where
trap 'echo "not ok - unexpected failure at line $LINENO" >&2; failures=$((failures + 1))' ERR

ok() { echo "ok - $*"; }
fail() {
    echo "not ok - $*" >&2
    failures=$((failures + 1))
    exit 1
}

# Commands are bounded in time: a hang is a failure, not a stuck suite.
sw() { timeout 120 "$bin" "$@"; }
sko() { timeout 120 skopeo --insecure-policy "$@"; }

# expect_failure NAME PATTERN CMD...: exit status 1 and PATTERN on stderr.
expect_failure() {
    local name=$1 pattern=$2 rc=0
    shift 2
    "$@" >"$dir/out" 2>"$dir/err" || rc=$?
    if [[ $rc -eq 1 ]] && grep -qF -- "$pattern" "$dir/err"; then
        ok "$name"
    else
        fail "$name: exit $rc, stderr: $(cat "$dir/err")"
    fi
}

cd "$dir"
data="$dir/data"
cat >"$dir/slipway.yaml" <<YAML
server:
  listen: 127.0.0.1:1
  data_dir: $data
YAML
cfg="$dir/slipway.yaml"

# --- a rootfs tarball from Debian's busybox-static ------------------------
mkdir -p rootfs/bin
cp /bin/busybox rootfs/bin/busybox
for tool in sh ls cat echo; do ln -s busybox "rootfs/bin/$tool"; done
tar -C rootfs -cf rootfs.tar .

out=$(sw import --config "$cfg" --cmd '["/bin/sh"]' --env GREETING=hello \
    tar:rootfs.tar test/busybox:1)
[[ "$out" == "imported test/busybox:1 sha256:"* ]] \
    && ok "import tar: -> test/busybox:1" || fail "import tar: printed: $out"

# --- export oci: read back by skopeo and umoci ----------------------------
sw export --config "$cfg" test/busybox:1 oci:OUT:1 >/dev/null
sko inspect oci:OUT:1 >inspect.json
jq -e '.Architecture == "amd64" and .Os == "linux" and (.Layers | length) == 1' inspect.json \
    >/dev/null && ok "skopeo inspect oci:OUT:1 sees a linux/amd64 one-layer image" \
    || fail "skopeo inspect: $(cat inspect.json)"
sko inspect --config oci:OUT:1 >config.json
diff_id="sha256:$(sha256sum rootfs.tar | cut -d' ' -f1)"
jq -e --arg d "$diff_id" '.rootfs.diff_ids == [$d] and .config.Cmd == ["/bin/sh"]
        and .config.Env == ["GREETING=hello"] and .history[0].created_by == "slipway import"' \
    config.json >/dev/null \
    && ok "image config: diff_id is the tarball's sha256, Cmd, Env and history set" \
    || fail "config: $(cat config.json)"
timeout 120 umoci unpack --rootless --image OUT:1 bundle >/dev/null
cmp bundle/rootfs/bin/busybox /bin/busybox \
    && [[ "$(readlink bundle/rootfs/bin/sh)" == busybox ]] \
    && ok "umoci unpack: bin/busybox byte-identical, bin/sh a symlink to it" \
    || fail "unpacked rootfs differs"
layer_digest=$(jq -r '.Layers[0]' inspect.json)

# the same tarball compressed every way gives the same layer
for comp in "gzip -k" "xz -k" "bzip2 -k" "zstd -q"; do
    $comp -f rootfs.tar
done
for f in rootfs.tar.gz rootfs.tar.xz rootfs.tar.bz2 rootfs.tar.zst; do
    sw import --config "$cfg" --cmd '["/bin/sh"]' --env GREETING=hello "tar:$f" test/comp:1 \
        >/dev/null
    sw export --config "$cfg" test/comp:1 "oci:COMP:${f##*.}" >/dev/null
    [[ "$(sko inspect "oci:COMP:${f##*.}" | jq -r '.Layers[0]')" == "$layer_digest" ]] \
        || fail "tar:$f gave a different layer"
done
ok "tar: .gz, .xz, .bz2, .zst give the same (deterministic) layer digest"

# --- oci-archive: and docker-archive: exports ----------------------------
sw export --config "$cfg" test/busybox:1 oci-archive:X.tar >/dev/null
sko copy oci-archive:X.tar oci:Y:1 >/dev/null
[[ "$(sko inspect oci:Y:1 | jq -r '.Layers[0]')" == "$layer_digest" ]] \
    && ok "skopeo copy oci-archive:X.tar oci:Y:1" || fail "oci-archive read back differs"

sw export --config "$cfg" test/busybox:1 docker-archive:D.tar >/dev/null
tar -xOf D.tar manifest.json >dmanifest.json
jq -e '.[0].RepoTags == ["test/busybox:1"] and (.[0].Layers[0] | endswith("/layer.tar"))' \
    dmanifest.json >/dev/null && ok "docker-archive manifest.json: RepoTags and <id>/layer.tar" \
    || fail "docker-archive manifest.json: $(cat dmanifest.json)"
tar -xOf D.tar "$(jq -r '.[0].Layers[0]' dmanifest.json)" | cmp - rootfs.tar \
    && ok "docker-archive layer.tar is the uncompressed tarball" || fail "layer.tar differs"
sko copy docker-archive:D.tar oci:Z:1 >/dev/null
sko copy docker-archive:D.tar:test/busybox:1 oci:Z:tagged >/dev/null \
    && ok "skopeo copy docker-archive:D.tar (also selected by its tag test/busybox:1)" \
    || fail "skopeo cannot select the docker-archive image by tag"
timeout 120 umoci unpack --rootless --image Z:1 zbundle >/dev/null
cmp zbundle/rootfs/bin/busybox /bin/busybox && ok "docker-archive round trip: busybox intact" \
    || fail "docker-archive round trip changed busybox"

# --- imports from what skopeo wrote ----------------------------------------
sko copy oci:OUT:1 oci:SKO:1 >/dev/null
sw import --config "$cfg" oci:SKO:1 test/rt:1 >/dev/null
sw export --config "$cfg" test/rt:1 oci:RT:1 >/dev/null
[[ "$(sko inspect oci:RT:1 | jq -r .Digest)" == "$(sko inspect oci:SKO:1 | jq -r .Digest)" ]] \
    && ok "oci: import of a skopeo layout, re-exported: same manifest digest" \
    || fail "oci: round trip changed the manifest"

sko copy oci:OUT:1 docker-archive:dk.tar:test/x:1 >/dev/null
sw import --config "$cfg" docker-archive:dk.tar test/dk:1 >/dev/null
sw export --config "$cfg" test/dk:1 oci:DK:1 >/dev/null
[[ "$(sko inspect oci:DK:1 | jq -r '.Layers[0]')" == "$layer_digest" ]] \
    && ok "docker-archive: import (skopeo-written, symlinked layers) keeps the layer digest" \
    || fail "docker-archive import changed the layer"
timeout 120 umoci unpack --rootless --image DK:1 dkbundle >/dev/null
cmp dkbundle/rootfs/bin/busybox /bin/busybox && ok "docker-archive import: busybox intact" \
    || fail "docker-archive import changed busybox"
sw import --config "$cfg" docker-archive:dk.tar:test/x:1 test/dk:2 >/dev/null \
    && ok "docker-archive:FILE:NAME:TAG selects by RepoTags" || fail "select by RepoTags"

sko copy oci:OUT:1 oci-archive:sko.tar:1 >/dev/null
sw import --config "$cfg" oci-archive:sko.tar:1 test/oa:1 >/dev/null
sw export --config "$cfg" test/oa:1 oci:OA:1 >/dev/null
[[ "$(sko inspect oci:OA:1 | jq -r '.Layers[0]')" == "$layer_digest" ]] \
    && ok "oci-archive: import of a skopeo archive" || fail "oci-archive import"

# --- bad inputs: exit 1, the input named -----------------------------------
expect_failure "missing file" "tar:nope.tar: cannot open: No such file" \
    sw import --config "$cfg" tar:nope.tar test/bad:1
head -c 20000 /dev/urandom >junk.tar
expect_failure "not a tar" "tar:junk.tar: tarball: not a tar archive" \
    sw import --config "$cfg" tar:junk.tar test/bad:1
head -c 700000 rootfs.tar >trunc.tar
expect_failure "truncated tar" "tar:trunc.tar: tarball: corrupt tar" \
    sw import --config "$cfg" tar:trunc.tar test/bad:1
head -c 300000 rootfs.tar.gz >trunc.tar.gz
expect_failure "truncated gzip" "gzip stream: truncated" \
    sw import --config "$cfg" tar:trunc.tar.gz test/bad:1
expect_failure "wrong tag in an OCI layout" "oci:OUT:v2: index.json: no manifest with ref.name 'v2'" \
    sw import --config "$cfg" oci:OUT:v2 test/bad:1
expect_failure "wrong tag in an OCI archive" "no manifest with ref.name 'v9'" \
    sw import --config "$cfg" oci-archive:X.tar:v9 test/bad:1
python3 - <<'PY'
import io, tarfile
def add(t, name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
with tarfile.open("hostile-rootfs.tar", "w") as t:
    add(t, "bin/ok")
    add(t, "../x")
with tarfile.open("hostile-oci.tar", "w") as t:
    add(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add(t, "blobs/../../evil")
with tarfile.open("hostile-docker.tar", "w") as t:
    add(t, "../../manifest.json", b"[]")
PY
expect_failure "hostile ../x in a rootfs tarball" "entry '../x': path leaves the image root" \
    sw import --config "$cfg" tar:hostile-rootfs.tar test/bad:1
expect_failure "hostile path in an oci-archive" "entry 'blobs/../../evil': path leaves the archive" \
    sw import --config "$cfg" oci-archive:hostile-oci.tar test/bad:1
expect_failure "hostile path in a docker-archive" "path leaves the archive" \
    sw import --config "$cfg" docker-archive:hostile-docker.tar test/bad:1
[[ ! -e "$dir/../evil" && ! -e "$dir/x" ]] && ok "nothing written outside" || fail "escaped"
cp -r OUT CORRUPT
blob=$(find CORRUPT/blobs/sha256 -type f -size +100k | head -n1)
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(5000); b = f.read(1); f.seek(5000); f.write(bytes([b[0] ^ 0xff]))' "$blob"
# a fresh store: blobs the store already has are linked, not copied again
expect_failure "corrupt blob in an OCI layout" "content does not match its digest" \
    sw import --data-dir "$dir/fresh" oci:CORRUPT:1 test/bad2:1
expect_failure "unknown image on export" "test/none:1" \
    sw export --config "$cfg" test/none:1 oci:NONE:1
rc=0
sw import --config "$cfg" bogus:thing test/bad:1 >/dev/null 2>err || rc=$?
[[ $rc -eq 1 ]] && grep -q "unknown transport" err && ok "unknown transport named" \
    || fail "unknown transport: rc=$rc $(cat err)"
rc=0
sw import tar:rootfs.tar test/bad:1 >/dev/null 2>err || rc=$?
[[ $rc -eq 2 ]] && grep -q "use --config FILE or --data-dir DIR" err \
    && ok "no store given: exit 2 with usage" || fail "no store: rc=$rc $(cat err)"
sw import --help | grep -q "oci-archive:FILE" && sw export --help | grep -q "docker-archive:FILE" \
    && sw gc --help | grep -q -- "--dry-run" && ok "--help for import, export and gc" \
    || fail "--help"

# --- gc offline: dry run reports, then removes what nothing references ----
sw gc --config "$cfg" --dry-run --grace 0 >gc.out
tail -n1 gc.out | grep -q "would remove" && ok "gc --dry-run prints a summary" \
    || fail "gc dry run: $(cat gc.out)"

# --- import while `slipway serve` runs on the same data dir ---------------
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
sed -i "s/127.0.0.1:1/127.0.0.1:$port/" "$cfg"
"$bin" serve --config "$cfg" >serve.log 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; then break; fi
    kill -0 "$server_pid" 2>/dev/null || fail "slipway serve exited: $(cat serve.log)"
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" || fail "server did not answer /v2/ in 10s"
sw import --config "$cfg" tar:rootfs.tar.zst test/live:1 >/dev/null
sko inspect --tls-verify=false "docker://127.0.0.1:$port/test/live:1" >live.json
[[ "$(jq -r '.Layers[0]' live.json)" == "$layer_digest" ]] \
    && ok "import while serve runs: skopeo inspect over HTTP sees test/live:1" \
    || fail "live import: $(cat live.json)"
sko inspect --tls-verify=false "docker://127.0.0.1:$port/test/busybox:1" >/dev/null \
    && ok "skopeo inspect docker://127.0.0.1:$port/test/busybox:1" || fail "busybox over HTTP"
sw export --config "$cfg" test/live:1 oci:LIVE:1 >/dev/null \
    && ok "export while serve runs" || fail "export while serving"

echo "# all passed"
