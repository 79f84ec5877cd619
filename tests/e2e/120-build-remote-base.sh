#!/usr/bin/env bash
# Base images from a remote registry: Debian's docker-registry (CNCF
# Distribution) on 127.0.0.1 with htpasswd auth, pulled through the registry
# client for FROM, directly and through a mirror entry; the pulled base is
# stored, so a later build needs no network.
source "$(dirname "$0")/lib.sh"

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
reg_pid=$!
SW_CLEANUP_CMDS+=("kill $reg_pid")
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
kill "$reg_pid"; wait "$reg_pid" 2>/dev/null || true
printf 'FROM 127.0.0.1:%s/base/busybox:1\nRUN echo offline > /proof\n' "$reg_port" > "$ctx/Dockerfile"
if "$bin" build --config "$cfg" -t demo/offline:1 "$ctx" > "$work/out" 2>&1; then
    ok "a later build needs no network: the base was stored"
else
    fail "offline rebuild: $(tail -3 "$work/out")"
fi
[ -n "$base_digest" ] && ok "remote base digest $base_digest" || fail "no remote digest"

sw_finish
