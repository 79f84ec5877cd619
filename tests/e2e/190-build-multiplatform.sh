#!/usr/bin/env bash
# 190-build-multiplatform.sh - one push builds linux/amd64 and linux/arm64
# into one OCI image index (issue 17):
#  - a multi-platform base, test/busybox:1, made with `slipway build
#    --platform linux/amd64,linux/arm64` from this machine's busybox and
#    Debian's arm64 busybox-static (fetched once by scripts/install-deps.sh
#    --test into /opt/slipway-test/busybox-arm64.deb);
#  - a rule with platforms: [linux/amd64, linux/arm64] building a Dockerfile
#    whose first stage runs natively (FROM --platform=$BUILDPLATFORM, writing
#    $TARGETARCH) and whose second RUNs `uname -m` in the arm64 busybox under
#    QEMU user emulation (binfmt_misc, F flag);
#  - skopeo inspect --raw shows an index with both platforms, skopeo
#    --override-arch arm64 pulls the arm64 image, whose files say arm64 and
#    aarch64; the log has each platform's section, the API each step's
#    platform and each platform's image; the worker list says what it runs;
#  - the web UI (tests/browser/multiplatform.mjs, when 200-web-ui installed
#    playwright-core): the image page's platforms table, the run page's step
#    platforms, the dashboard's worker list;
#  - a rebuild of the same commit gives the same index digest;
#  - a RUN failing on arm64 only fails the run with that error, stops the
#    amd64 build at once and moves no tag;
#  - a rule asking for linux/s390x (qemu-s390x not registered) fails naming
#    the platform and what to install, and moves no tag.
# Registering qemu-aarch64 (and mounting binfmt_misc) when it is not is
# undone at the end, as is unregistering qemu-s390x.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 300

deb=${SLIPWAY_BUSYBOX_ARM64_DEB:-/opt/slipway-test/busybox-arm64.deb}
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -f "$deb" ]; then
    fail "$deb is missing: run scripts/install-deps.sh --test (it downloads busybox-static:arm64 once)"
    sw_finish
    exit 1
fi

# --- emulation: qemu-aarch64 registered with F, qemu-s390x not ------------------------------
usable() { # ENTRY: enabled, with the F flag
    [ -r "$binfmt/$1" ] && grep -qx enabled "$binfmt/$1" && grep -q '^flags:.*F' "$binfmt/$1"
}
if ! usable qemu-aarch64; then
    if [ ! -e "$binfmt/register" ]; then
        mount -t binfmt_misc binfmt_misc "$binfmt" && SW_CLEANUP_CMDS+=("umount $binfmt")
    fi
    if update-binfmts --enable qemu-aarch64 > /dev/null 2>&1; then
        SW_CLEANUP_CMDS+=("update-binfmts --disable qemu-aarch64 > /dev/null 2>&1")
    fi
fi
if ! usable qemu-aarch64; then
    fail "cannot register qemu-aarch64 with binfmt_misc (needs root, qemu-user-static and binfmt-support)"
    sw_finish
    exit 1
fi
if usable qemu-s390x; then
    update-binfmts --disable qemu-s390x > /dev/null 2>&1 &&
        SW_CLEANUP_CMDS+=("update-binfmts --enable qemu-s390x > /dev/null 2>&1")
fi

work=$(sw_tmpdir)
check_eq() { [ "$2" = "$3" ] && ok "$1" || fail "$1: got '$2', want '$3'"; }

# --- the multi-platform base ---------------------------------------------------------------
base=$work/base
mkdir -p "$base/deb"
dpkg-deb -x "$deb" "$base/deb"
for arch in amd64 arm64; do
    root=$base/rootfs-$arch
    mkdir -p "$root/bin" "$root/tmp" "$root/etc"
    if [ "$arch" = amd64 ]; then cp /bin/busybox "$root/bin/busybox"; else cp "$base/deb/bin/busybox" "$root/bin/busybox"; fi
    for app in sh cat echo uname mkdir ls test; do ln -sf busybox "$root/bin/$app"; done
    chmod 1777 "$root/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
done
cat > "$base/Dockerfile" <<'EOF'
FROM scratch
ARG TARGETARCH
COPY rootfs-${TARGETARCH}/ /
EOF

src=$work/src/multi
svc_git_init "$src"
cat > "$src/Dockerfile" <<'EOF'
FROM --platform=$BUILDPLATFORM test/busybox:1 AS build
ARG TARGETARCH
RUN echo "$TARGETARCH" > /arch.txt
FROM test/busybox:1
COPY --from=build /arch.txt /arch.txt
RUN uname -m > /uname.txt && echo "machine: $(uname -m)"
EOF
svc_git -C "$src" commit -qam "multi-platform Dockerfile"
sha=$(svc_git -C "$src" rev-parse HEAD)
svc_git -C "$src" checkout -qb s390
sha_s390=$(svc_git -C "$src" rev-parse HEAD)
# a RUN that fails on arm64 only, while amd64 is still sleeping
svc_git -C "$src" checkout -qb armfail
cat > "$src/Dockerfile.armfail" <<'EOF'
FROM test/busybox:1
RUN if [ "$(uname -m)" = aarch64 ]; then echo "arm64 breaks"; exit 4; fi; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do sleep 1; done
EOF
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "fails on arm64"
sha_armfail=$(svc_git -C "$src" rev-parse HEAD)

port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
host=127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
workers: 2
builder: { network: none, step_timeout: 2m }
repos:
  - name: demo/multi
    git: file://$src
    secret: s3cret
    rules:
      - { source_type: branch, source: main, tags: [latest], cache: false,
          platforms: [linux/amd64, linux/aarch64] }
      - { source_type: branch, source: s390, tags: [latest, s390],
          platforms: [linux/amd64, linux/s390x] }
      - { source_type: branch, source: armfail, dockerfile: Dockerfile.armfail,
          tags: [latest, armfail], platforms: [linux/amd64, linux/arm64] }
")

if SOURCE_DATE_EPOCH=1700000000 "$SLIPWAY_BIN" build --config "$cfg" \
        --platform linux/amd64,linux/arm64 -t test/busybox:1 "$base" > "$work/base.log" 2>&1; then
    ok "slipway build --platform linux/amd64,linux/arm64 makes the base"
else
    fail "building the base: $(tail -5 "$work/base.log")"
fi
grep -q '^Image index sha256:' "$work/base.log" && ok "... as an image index" ||
    fail "no index line: $(tail -3 "$work/base.log")"

sw_start_server "$cfg"
hooks=$SVC_BASE/hooks/github

# --- the worker says what it runs -----------------------------------------------------------
platforms=$(curl -s "$SVC_BASE/api/v1/status" | jq -r '[.worker_list[].platforms[]] | join(",")')
case ",$platforms," in
*,linux/amd64,*linux/arm64,*) ok "the worker list shows linux/amd64 and the emulated linux/arm64 ($platforms)" ;;
*) fail "worker platforms: '$platforms'" ;;
esac

# --- amd64 + arm64 from one push ------------------------------------------------------------
svc_hook "$hooks" refs/heads/main "$sha" delivery-1 s3cret "multi" "file://$src"
run1=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
status=$(svc_wait "$run1")
[ "$status" = succeeded ] && ok "the multi-platform run $run1 succeeded" ||
    fail "run $run1: $status: $(svc_run_field "$run1" .error)"

raw=$(sk inspect --raw --tls-verify=false "docker://$host/demo/multi:latest" 2> "$work/raw.err")
check_eq "latest is an OCI image index" "$(jq -r .mediaType <<< "$raw")" application/vnd.oci.image.index.v1+json
check_eq "... with linux/amd64 and linux/arm64/v8" \
    "$(jq -r '[.manifests[].platform | [.os, .architecture, .variant // empty] | join("/")] | join(" ")' <<< "$raw")" \
    "linux/amd64 linux/arm64/v8"
index1=$(svc_tag_digest demo/multi:latest)
check_eq "the run's digest is the index's" "$(svc_run_field "$run1" .digest)" "$index1"

pull() { # ARCH DIR: skopeo --override-arch ARCH, unpacked with umoci
    mkdir -p "$2"
    sk --override-arch "$1" copy -q --src-tls-verify=false "docker://$host/demo/multi:latest" \
        "oci:$2/layout:img" > /dev/null 2>&1 &&
        umoci unpack --image "$2/layout:img" "$2/bundle" > /dev/null 2>&1
}
if pull arm64 "$work/arm64"; then
    check_eq "the arm64 image's native stage wrote TARGETARCH=arm64" "$(cat "$work/arm64/bundle/rootfs/arch.txt")" arm64
    check_eq "its RUN ran under emulation: uname -m says aarch64" "$(cat "$work/arm64/bundle/rootfs/uname.txt")" aarch64
    check_eq "its busybox is an aarch64 binary" \
        "$(od -An -tx1 -j18 -N2 "$work/arm64/bundle/rootfs/bin/busybox" | tr -d ' ')" b700
else
    fail "skopeo --override-arch arm64 could not pull demo/multi:latest"
fi
if pull amd64 "$work/amd64"; then
    check_eq "the amd64 image says amd64 and x86_64" \
        "$(cat "$work/amd64/bundle/rootfs/arch.txt") $(cat "$work/amd64/bundle/rootfs/uname.txt")" "amd64 x86_64"
else
    fail "skopeo --override-arch amd64 could not pull demo/multi:latest"
fi

log=$(curl -s "$SVC_BASE/api/v1/runs/$run1/log" | tr -d '\036')
grep -q '== linux/arm64: building' <<< "$log" && grep -q '== linux/amd64: built sha256:' <<< "$log" &&
    ok "the log has a section per platform" || fail "log sections: $(head -c 2000 <<< "$log")"
grep -q '^\[linux/arm64\] machine: aarch64' <<< "$log" && ok "the arm64 RUN's output, prefixed, says aarch64" ||
    fail "arm64 output not in the log: $(grep -n machine <<< "$log")"
grep -q '^\[linux/amd64\] machine: x86_64' <<< "$log" && ok "the amd64 RUN's output says x86_64" ||
    fail "amd64 output not in the log"
grep -q 'Building 2 platforms (linux/amd64, linux/arm64), 2 at a time' <<< "$log" &&
    ok "both platforms were built at once (2 worker threads free)" ||
    fail "parallel line: $(grep -n 'Building 2' <<< "$log")"

steps=$(curl -s "$SVC_BASE/api/v1/runs/$run1" | jq -r '[.steps[] | "\(.platform) \(.index)/\(.total)"] | sort | join(",")')
check_eq "the API lists each platform's steps" "$steps" \
    "linux/amd64 1/6,linux/amd64 2/6,linux/amd64 3/6,linux/amd64 4/6,linux/amd64 5/6,linux/amd64 6/6,linux/arm64 1/6,linux/arm64 2/6,linux/arm64 3/6,linux/arm64 4/6,linux/arm64 5/6,linux/arm64 6/6"

img=$(curl -s "$SVC_BASE/api/v1/images/demo/multi/manifests/latest")
check_eq "the image API shows the index's platforms with size and layers" \
    "$(jq -r '[.manifests[] | "\(.platform.architecture) \(.layers) \(.image_size > 0)"] | join(",")' <<< "$img")" \
    "amd64 3 true,arm64 3 true"
arm_digest=$(jq -r '.manifests[1].digest' <<< "$img")
check_eq "... and each platform's own image page data" \
    "$(curl -s "$SVC_BASE/api/v1/images/demo/multi/manifests/$arm_digest" | jq -r '.platform.architecture + " " + (.layers | length | tostring)')" \
    "arm64 3"

# --- the web UI in Chromium (tests/browser/multiplatform.mjs) ------------------------------
build_dir=$(cd "$SW_TMP_ROOT/.." && pwd)
deps=$build_dir/browser-deps/1.61.1 # installed by 200-web-ui.sh, which ctest runs first
if [ -x /usr/bin/chromium ] && command -v node > /dev/null && [ -f "$deps/node_modules/playwright-core/package.json" ]; then
    ui_status=0
    SLIPWAY_URL=$SVC_BASE PLAYWRIGHT=$deps/node_modules/playwright-core \
        node "$SLIPWAY_SOURCE_DIR/tests/browser/multiplatform.mjs" > "$work/ui.out" 2>&1 || ui_status=$?
    sed 's/^/# /' "$work/ui.out"
    [ "$ui_status" = 0 ] && ok "the web UI shows the index, each platform's image and the workers' platforms" ||
        fail "the browser checks (exit $ui_status)"
else
    echo "# skipped the browser part: no chromium, node or playwright-core (run 200-web-ui first)"
fi

# --- the same commit again: the same index --------------------------------------------------
again=$("$SLIPWAY_BIN" rerun "$run1" --server "$SVC_BASE")
status=$(svc_wait "$again")
[ "$status" = succeeded ] && ok "a rebuild of the commit ($again, cache off) succeeded" ||
    fail "rebuild $again: $status: $(svc_run_field "$again" .error)"
check_eq "... and gives the same index digest" "$(svc_run_field "$again" .digest)" "$index1"
check_eq "... with no cached step" "$(curl -s "$SVC_BASE/api/v1/runs/$again" | jq '[.steps[] | select(.cached)] | length')" 0

# --- a platform this worker cannot run ------------------------------------------------------
svc_hook "$hooks" refs/heads/s390 "$sha_s390" delivery-2 s3cret "s390" "file://$src"
run2=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
check_eq "a rule asking for linux/s390x fails" "$(svc_wait "$run2")" failed
error=$(svc_run_field "$run2" .error)
check_eq "... naming the platform and what to install" "$error" \
    "linux/s390x: no binfmt_misc handler; install qemu-user-static and run update-binfmts --enable qemu-s390x"
check_eq "... and pushes no tag" "$(svc_tag_digest demo/multi:s390)" ""
check_eq "... latest stays on the index" "$(svc_tag_digest demo/multi:latest)" "$index1"

# --- one platform fails: the run fails, the other stops, no tag moves ------------------------
svc_hook "$hooks" refs/heads/armfail "$sha_armfail" delivery-3 s3cret "armfail" "file://$src"
run3=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
check_eq "a run whose arm64 RUN fails fails (not canceled)" "$(svc_wait "$run3")" failed
error=$(svc_run_field "$run3" .error)
case $error in
"linux/arm64: Dockerfile.armfail:2: RUN "*"exited with code 4") ok "... with the arm64 step's error, prefixed by the platform" ;;
*) fail "armfail error: $error" ;;
esac
log=$(curl -s "$SVC_BASE/api/v1/runs/$run3/log" | tr -d '\036')
grep -q '^\[linux/arm64\] arm64 breaks' <<< "$log" && grep -q '== linux/amd64: stopped' <<< "$log" &&
    ok "... the amd64 build was stopped" || fail "armfail log: $(tail -12 <<< "$log")"
secs=$(curl -s "$SVC_BASE/api/v1/runs/$run3" | jq '.duration_seconds // 0 | floor')
[ "${secs:-99}" -lt 12 ] && ok "... at once, not after its 15 s step (${secs}s)" || fail "armfail took ${secs}s"
check_eq "... and no tag moved" "$(svc_tag_digest demo/multi:armfail)" ""
check_eq "... latest stays on the index" "$(svc_tag_digest demo/multi:latest)" "$index1"

sw_stop_server
sw_finish
