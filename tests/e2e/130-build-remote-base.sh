#!/usr/bin/env bash
# The image builder with base images from remote registries, one suite with
# two sections (each starts its own registry and stores).
#
# Section "remote bases: auth, anonymous, mirror, platform" (was 130-build-remote-base.sh):
# The image builder with base images from remote registries: Debian's
# docker-registry (CNCF Distribution 2.8) on 127.0.0.1, once with htpasswd
# auth and once anonymous, holding the busybox base pushed by skopeo.
# FROM pulls through the registry client: directly with configured
# credentials (and a clear 401 without or with wrong ones), anonymously,
# through a mirror entry for a host that does not resolve, and picking the
# platform from an index. Pulled bases are stored: with the registries
# stopped, builds still work.
# Section "remote base with htpasswd auth, mirror, offline rebuild" (was 120-build-remote-base.sh):
# Base images from a remote registry: Debian's docker-registry (CNCF
# Distribution) on 127.0.0.1 with htpasswd auth, pulled through the registry
# client for FROM, directly and through a mirror entry; the pulled base is
# stored, so a later build needs no network.
set -euo pipefail
source "$(dirname "$0")/build-lib.sh"

sw_time_limit 420

# ===========================================================================
# remote bases: auth, anonymous, mirror, platform (was 130-build-remote-base.sh)
# ===========================================================================

bt_init    # the seed store: makes the images we push

declare -A reg_pid
start_distribution() { # NAME PORT [AUTH_YAML]: a Distribution registry in the background
    local name=$1 port=$2 auth=${3:-}
    cat > "$SW_SCRATCH/$name.yml" <<YML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $SW_SCRATCH/$name-data } }
http: { addr: 127.0.0.1:$port }
$auth
YML
    /usr/bin/docker-registry serve "$SW_SCRATCH/$name.yml" > "$SW_SCRATCH/$name.log" 2>&1 &
    SW_CLEANUP_CMDS+=("kill $! 2>/dev/null")
    reg_pid[$name]=$!
    sw_wait_http "http://127.0.0.1:$port/v2/" 20
}

auth_port=$(sw_free_port)
htpasswd -nbB builder s3cret-pw > "$SW_SCRATCH/htpasswd" 2> /dev/null
start_distribution authreg "$auth_port" "auth: { htpasswd: { realm: test, path: $SW_SCRATCH/htpasswd } }"
anon_port=$(sw_free_port)
start_distribution anonreg "$anon_port"

# --- the bases, pushed with skopeo ----------------------------------------------
"$SLIPWAY_BIN" export --config "$BT_CFG" test/busybox:1 "oci:$SW_SCRATCH/base:1" > /dev/null
skopeo copy -q --dest-tls-verify=false --dest-creds builder:s3cret-pw \
    "oci:$SW_SCRATCH/base:1" "docker://127.0.0.1:$auth_port/base/busybox:1"
skopeo copy -q --dest-tls-verify=false "oci:$SW_SCRATCH/base:1" "docker://127.0.0.1:$anon_port/base/busybox:1"
remote_layer=$(skopeo inspect --raw --tls-verify=false --creds builder:s3cret-pw \
    "docker://127.0.0.1:$auth_port/base/busybox:1" | jq -r '.layers[0].digest')
check "the base is in the authenticated registry" test -n "$remote_layer" -a "$remote_layer" != null

# a two-platform index: amd64 and arm64 variants that say which they are
sctx=$(sw_tmpdir)
for arch in amd64 arm64; do
    printf 'FROM test/busybox:1\nRUN echo %s > /arch.txt\n' "$arch" > "$sctx/Dockerfile"
    bt_build "$sctx" -t "seed/arch:$arch" --timestamp 1700000000 || fail "seed $arch: $(bt_tail 3)"
    "$SLIPWAY_BIN" export --config "$BT_CFG" "seed/arch:$arch" "oci:$SW_SCRATCH/multi:$arch" > /dev/null
done
python3 - "$SW_SCRATCH/multi" <<'PY'
import hashlib, json, sys
layout = sys.argv[1]
def read(d): return open(f"{layout}/blobs/sha256/{d.split(':')[1]}", "rb").read()
def write(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{layout}/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d, len(data)
index = json.load(open(f"{layout}/index.json"))
entries = []
for arch in ("amd64", "arm64"):
    desc = next(m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == arch)
    manifest = json.loads(read(desc["digest"]))
    config = json.loads(read(manifest["config"]["digest"]))
    config["architecture"] = arch
    cdig, csize = write(json.dumps(config).encode())
    manifest["config"].update(digest=cdig, size=csize)
    mdig, msize = write(json.dumps(manifest).encode())
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdig,
                    "size": msize, "platform": {"architecture": arch, "os": "linux"}})
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
idig, isize = write(json.dumps(idx).encode())
index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": idig,
                           "size": isize, "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(index, open(f"{layout}/index.json", "w"))
PY
skopeo copy -q --all --dest-tls-verify=false "oci:$SW_SCRATCH/multi:multi" "docker://127.0.0.1:$anon_port/base/multi:1"
check_eq "the anonymous registry holds a two-platform index" \
    "$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$anon_port/base/multi:1" | jq -r '[.manifests[].platform.architecture] | join(",")')" \
    amd64,arm64

# --- the builder's stores ----------------------------------------------------------
export E2E_REG_PASSWORD=s3cret-pw
with_creds="registry:
  insecure: [\"127.0.0.1:$auth_port\", \"127.0.0.1:$anon_port\"]
  credentials:
    - { host: \"127.0.0.1:$auth_port\", username: builder, password: env:E2E_REG_PASSWORD }
builder: { network: none, step_timeout: 2m }"
no_creds="registry:
  insecure: [\"127.0.0.1:$auth_port\", \"127.0.0.1:$anon_port\"]
builder: { network: none, step_timeout: 2m }"
ctx=$(sw_tmpdir)

# without credentials: a clear 401
bt_new_store "$no_creds"
printf 'FROM 127.0.0.1:%s/base/busybox:1\nRUN echo built-on-remote-base > /proof\n' "$auth_port" > "$ctx/Dockerfile"
check_build_fails "FROM an authenticated registry without credentials fails: line 1, 401" \
    'Dockerfile:1: FROM.*(401|[Uu]nauthori[sz]ed|authentication)' "$ctx"

# wrong password: also 401, and the password is not printed
bt_new_store "${with_creds/env:E2E_REG_PASSWORD/wrong-pw-value}"
check_build_fails "FROM with a wrong password fails with 401" 'Dockerfile:1: FROM.*(401|[Uu]nauthori[sz]ed|authentication)' "$ctx"
check "the wrong password is not printed" bash -c "! grep -q wrong-pw-value '$BT_LOG'"

# with credentials from the config (password from the environment)
bt_new_store "$with_creds"
creds_store=$BT_WORK
if bt_build "$ctx" -t demo/remote:1; then ok "FROM 127.0.0.1:PORT/base/busybox:1 with configured credentials builds"
else fail "remote FROM with credentials: $(bt_tail 5)"; fi
check "the password is not printed" bash -c "! grep -q s3cret-pw '$BT_LOG'"
check_eq "the password is stored nowhere in the data dir" "$(grep -rl s3cret-pw "$BT_DATA" 2>/dev/null | wc -l)" 0
bt_unpack demo/remote:1 "$BT_WORK/r1" || fail "unpack demo/remote:1"
check_eq "the image built on the remote base has the RUN's file" "$(cat "$BT_WORK/r1/rootfs/proof" 2>&1)" built-on-remote-base
check "... and the remote base's files" test -x "$BT_WORK/r1/rootfs/bin/busybox"
check_eq "its first layer is the remote base's layer" "$(bt_manifest demo/remote:1 | jq -r '.layers[0].digest')" "$remote_layer"

# anonymous registry, directly
bt_new_store "$no_creds"
printf 'FROM 127.0.0.1:%s/base/busybox:1\nRUN echo anonymous > /proof\n' "$anon_port" > "$ctx/Dockerfile"
if bt_build "$ctx" -t demo/anon:1 && bt_unpack demo/anon:1 "$BT_WORK/a1"; then
    check_eq "FROM an anonymous registry builds" "$(cat "$BT_WORK/a1/rootfs/proof" 2>&1)" anonymous
else
    fail "anonymous FROM: $(bt_tail 4)"
fi

# platform selection from an index
printf 'FROM 127.0.0.1:%s/base/multi:1\nRUN cat /arch.txt > /seen.txt\n' "$anon_port" > "$ctx/Dockerfile"
if bt_build "$ctx" -t demo/multi:amd64 && bt_unpack demo/multi:amd64 "$BT_WORK/p1"; then
    check_eq "FROM an index picks this machine's platform (amd64)" "$(cat "$BT_WORK/p1/rootfs/seen.txt" 2>&1)" amd64
else
    fail "FROM an index: $(bt_tail 4)"
fi
if bt_build "$ctx" -t demo/multi:arm64 --platform linux/arm64 && bt_unpack demo/multi:arm64 "$BT_WORK/p2"; then
    check_eq "--platform linux/arm64 picks the arm64 entry (store already holds the amd64 one)" \
        "$(cat "$BT_WORK/p2/rootfs/seen.txt" 2>&1)" arm64
    check_eq "... and the image says arm64" "$(bt_config demo/multi:arm64 | jq -r .architecture)" arm64
else
    fail "--platform linux/arm64 from an index: $(bt_tail 4)"
fi
bt_new_store "$no_creds"
if bt_build "$ctx" -t demo/multi:arm64 --platform linux/arm64 && bt_unpack demo/multi:arm64 "$BT_WORK/p3"; then
    check_eq "--platform linux/arm64 in a fresh store picks the arm64 entry" "$(cat "$BT_WORK/p3/rootfs/seen.txt" 2>&1)" arm64
else
    fail "--platform linux/arm64 in a fresh store: $(bt_tail 4)"
fi

# through a mirror: mirror.invalid never resolves, its mirror entry serves it
# (the first endpoint is dead: endpoints are tried in order)
dead_port=$(sw_free_port)
bt_new_store "registry:
  mirrors: { \"mirror.invalid\": [\"http://127.0.0.1:$dead_port\", \"http://127.0.0.1:$anon_port\"] }
builder: { network: none, step_timeout: 2m }"
mirror_store=$BT_WORK
printf 'FROM mirror.invalid/base/busybox:1\nRUN echo via-mirror > /proof\n' > "$ctx/Dockerfile"
if bt_build "$ctx" -t demo/mirrored:1 && bt_unpack demo/mirrored:1 "$BT_WORK/mi"; then
    check_eq "FROM mirror.invalid/... is served by its mirror entry" "$(cat "$BT_WORK/mi/rootfs/proof" 2>&1)" via-mirror
else
    fail "FROM through a mirror: $(bt_tail 5)"
fi
printf 'FROM nomirror.invalid/other/image:1\nRUN true\n' > "$ctx/Dockerfile"
check_build_fails "a host with no mirror that does not resolve fails clearly at FROM" 'Dockerfile:1: FROM' "$ctx"
# This store now holds base/busybox:1 pulled for mirror.invalid; a reference
# naming another (not local) registry host must not be served that image.
printf 'FROM other-host.invalid/base/busybox:1\nRUN true\n' > "$ctx/Dockerfile"
check_build_fails "a base pulled from one host does not satisfy FROM another-host/same/path" 'Dockerfile:1: FROM' "$ctx"

# registry.local_hosts: FROM <our own host>/repo:tag is our store, no network
bt_new_store "registry: { local_hosts: [\"registry.local.invalid:5000\"] }"
"$SLIPWAY_BIN" import --config "$BT_CFG" "oci:$SW_SCRATCH/base:1" team/base:1 > /dev/null
printf 'FROM registry.local.invalid:5000/team/base:1\nRUN echo local-host > /proof\n' > "$ctx/Dockerfile"
if bt_build "$ctx" -t demo/localhost:1 && bt_unpack demo/localhost:1 "$BT_WORK/lh"; then
    check_eq "FROM a host in registry.local_hosts resolves to our store" "$(cat "$BT_WORK/lh/rootfs/proof" 2>&1)" local-host
else
    fail "FROM a local_hosts host: $(bt_tail 4)"
fi

# --- the registries stop; the bases are stored -------------------------------------
kill "${reg_pid[authreg]}" "${reg_pid[anonreg]}"
wait "${reg_pid[authreg]}" "${reg_pid[anonreg]}" 2> /dev/null || true
check "the registries are down" bash -c "! curl -s -o /dev/null http://127.0.0.1:$auth_port/v2/ && ! curl -s -o /dev/null http://127.0.0.1:$anon_port/v2/"

bt_use "$creds_store"
printf 'FROM 127.0.0.1:%s/base/busybox:1\nRUN echo offline > /proof\n' "$auth_port" > "$ctx/Dockerfile"
if bt_build "$ctx" -t demo/offline:1 && bt_unpack demo/offline:1 "$BT_WORK/o1"; then
    check_eq "a second build with the registry stopped uses the stored base" "$(cat "$BT_WORK/o1/rootfs/proof" 2>&1)" offline
else
    fail "offline rebuild: $(bt_tail 4)"
fi

bt_use "$mirror_store"
printf 'FROM mirror.invalid/base/busybox:1\nRUN echo offline-mirror > /proof\n' > "$ctx/Dockerfile"
if bt_build "$ctx" -t demo/offline:2 && bt_unpack demo/offline:2 "$BT_WORK/o2"; then
    check_eq "... and so does one whose base came through the mirror" "$(cat "$BT_WORK/o2/rootfs/proof" 2>&1)" offline-mirror
else
    fail "offline rebuild (mirror): $(bt_tail 4)"
fi

# ===========================================================================
# remote base with htpasswd auth, mirror, offline rebuild (was 120-build-remote-base.sh)
# ===========================================================================

bin=$SLIPWAY_BIN
work=$(sw_tmpdir)
export HOME=$work XDG_RUNTIME_DIR=$work
reg_port=$(sw_free_port)
htpasswd -cbB "$work/htpasswd" builder s3cret 2> /dev/null
cat > "$work/registry.yml" <<YML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $work/registry-data }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$reg_port }
auth: { htpasswd: { realm: test, path: $work/htpasswd } }
YML
/usr/bin/docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
dist_pid=$!
SW_CLEANUP_CMDS+=("kill $dist_pid")
sw_wait_http "http://127.0.0.1:$reg_port/v2/" 20

# the base image, made offline and pushed with skopeo
sw_busybox_tar "$work/rootfs.tar"
seed=$(sw_write_config "$work/seed" "$(sw_free_port)")
"$bin" import --config "$seed" --cmd /bin/sh "tar:$work/rootfs.tar" base/busybox:1 > /dev/null
"$bin" export --config "$seed" base/busybox:1 "oci:$work/base:1" > /dev/null
skopeo copy --insecure-policy --dest-tls-verify=false --dest-creds builder:s3cret \
    "oci:$work/base:1" "docker://127.0.0.1:$reg_port/base/busybox:1" > /dev/null
base_digest=$(skopeo inspect --tls-verify=false --creds builder:s3cret \
    "docker://127.0.0.1:$reg_port/base/busybox:1" | jq -r .Digest)

extra="registry:
  insecure: [\"127.0.0.1:$reg_port\"]
  mirrors: { \"mirror.invalid\": [\"http://127.0.0.1:$reg_port\"] }
  credentials:
    - { host: \"127.0.0.1:$reg_port\", username: builder, password: env:E2E_REG_PASSWORD }"
cfg=$(sw_write_config "$work/builds" "$(sw_free_port)" "$extra")
export E2E_REG_PASSWORD=s3cret

ctx=$(sw_tmpdir)
printf 'FROM 127.0.0.1:%s/base/busybox:1\nRUN echo built-on-remote-base > /proof\n' "$reg_port" > "$ctx/Dockerfile"
if "$bin" build --config "$cfg" -t demo/remote:1 "$ctx" > "$work/out" 2>&1; then
    ok "FROM an authenticated remote registry builds"
else
    fail "remote FROM failed: $(tail -5 "$work/out")"
fi
grep -q "pulling" "$work/out" && ok "the build says it pulled the base" || fail "no pull in: $(head -3 "$work/out")"
grep -q "s3cret" "$work/out" && fail "the password appears in the output" || ok "the password is not printed"
"$bin" export --config "$cfg" demo/remote:1 "oci:$work/out-layout:1" > /dev/null
first_layer=$(skopeo inspect --raw "oci:$work/out-layout:1" | jq -r '.layers[0].digest')
remote_layer=$(skopeo inspect --raw --tls-verify=false --creds builder:s3cret \
    "docker://127.0.0.1:$reg_port/base/busybox:1" | jq -r '.layers[0].digest')
check "the image's first layer is the remote base's layer" test "$first_layer" = "$remote_layer"

# wrong credentials: a clear 401
cfg_bad=$(sw_write_config "$work/bad" "$(sw_free_port)" "${extra/env:E2E_REG_PASSWORD/wrong}")
set +e
"$bin" build --config "$cfg_bad" "$ctx" > "$work/out" 2>&1; rc=$?
set -e
[[ $rc -ne 0 ]] && grep -qi "401\|unauthorized" "$work/out" \
    && ok "wrong credentials fail with 401" || fail "wrong credentials: rc=$rc $(tail -2 "$work/out")"

# through the mirror: mirror.invalid never resolves; the mirror entry serves it
printf 'FROM mirror.invalid/base/busybox:1\nRUN echo via-mirror > /proof\n' > "$ctx/Dockerfile"
cfg_m=$(sw_write_config "$work/mirror" "$(sw_free_port)" "$extra")
if "$bin" build --config "$cfg_m" -t demo/mirrored:1 "$ctx" > "$work/out" 2>&1; then
    ok "FROM a registry reached through its mirror entry"
else
    fail "mirror FROM failed: $(tail -5 "$work/out")"
fi

# the pulled base is stored: with the registry gone the build still works
kill "$dist_pid"; wait "$dist_pid" 2>/dev/null || true
printf 'FROM 127.0.0.1:%s/base/busybox:1\nRUN echo offline > /proof\n' "$reg_port" > "$ctx/Dockerfile"
if "$bin" build --config "$cfg" -t demo/offline:1 "$ctx" > "$work/out" 2>&1; then
    ok "a later build needs no network: the base was stored"
else
    fail "offline rebuild: $(tail -3 "$work/out")"
fi
[ -n "$base_digest" ] && ok "remote base digest $base_digest" || fail "no remote digest"

sw_finish
