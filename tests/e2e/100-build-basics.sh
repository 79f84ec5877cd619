#!/usr/bin/env bash
# The image builder, basics: a small Dockerfile on the offline busybox base
# (FROM finds test/busybox:1 in our own store, no remote lookup) becomes an
# image in the store, and a user sees it as they would after pulling it:
# the progress lines, the OCI layout unpacked by umoci (content, owner,
# mode), the config as skopeo reads it, the container run by runc, and the
# same image served by `slipway serve` to skopeo. A failing RUN names its
# line and exit code and leaves no tag and no manifest behind.
set -euo pipefail
source "$(dirname "$0")/build-lib.sh"

bt_init

# --- a small image ---------------------------------------------------------
ctx=$(sw_tmpdir)
echo "hello from the context" > "$ctx/hello.txt"
printf '#!/bin/sh\necho tool ran\n' > "$ctx/tool.sh"
chmod 0755 "$ctx/tool.sh"
cat > "$ctx/Dockerfile" <<'DF'
FROM test/busybox:1
COPY hello.txt /app/hello.txt
COPY tool.sh /usr/local/bin/tool
RUN mkdir -p /app/data && echo "written by RUN" > /app/data/run.txt && chown 1000:1000 /app/data/run.txt && chmod 0640 /app/data/run.txt && echo run-step-output-marker
ENV GREETING=bonjour
WORKDIR /app
CMD ["/bin/sh", "-c", "cat /app/hello.txt /app/data/run.txt; echo $GREETING; pwd; tool"]
DF
if bt_build "$ctx" -t demo/basic:1 -t demo/basic:latest --digest-file "$BT_WORK/digest"; then
    ok "slipway build of a small Dockerfile succeeds"
else
    fail "slipway build failed: $(bt_tail 6)"
fi
digest=$(bt_built_digest)
check "the first progress line is [1/7] FROM test/busybox:1" grep -qx '\[1/7\] FROM test/busybox:1' "$BT_OUT"
check "a RUN step has its [N/7] progress line" grep -q '^\[4/7\] RUN mkdir -p /app/data' "$BT_OUT"
check "the RUN's own output is shown" grep -qx 'run-step-output-marker' "$BT_OUT"
check_eq "layer steps say DONE with a duration (3 of them)" "$(grep -Ec '^DONE [0-9]+\.[0-9]+s$' "$BT_OUT")" 3
check "the summary line gives digest, time, steps and cache hits" \
    grep -Eq '^Built sha256:[0-9a-f]{64} in [0-9]+\.[0-9]+s \(7 steps, 0 cached\)$' "$BT_OUT"
check "each -t prints a Tagged line" grep -qx 'Tagged demo/basic:1' "$BT_OUT"
check "... the second too" grep -qx 'Tagged demo/basic:latest' "$BT_OUT"
check_eq "--digest-file holds the built digest" "$(tr -d '\n' < "$BT_WORK/digest" 2>/dev/null)" "$digest"

# the user's view: export to an OCI layout, unpack with umoci
if bt_unpack demo/basic:1 "$BT_WORK/bundle"; then ok "export + umoci unpack of the built image"
else fail "export/unpack: $(cat "$BT_WORK/export.log" "$BT_WORK/umoci.log" 2>/dev/null | tail -3)"; fi
check_eq "the exported manifest is the built digest" \
    "$(jq -r '.manifests[0].digest' "$BT_LAYOUT/index.json")" "$digest"
r=$BT_WORK/bundle/rootfs
check_eq "COPY put the context file in the image" "$(cat "$r/app/hello.txt" 2>&1)" "hello from the context"
check_eq "COPY keeps the executable mode of a context file" "$(stat -c %a "$r/usr/local/bin/tool" 2>&1)" 755
check_eq "COPY files are owned by root" "$(stat -c %u:%g "$r/app/hello.txt" 2>&1)" 0:0
check_eq "the RUN's file is in the image" "$(cat "$r/app/data/run.txt" 2>&1)" "written by RUN"
check_eq "the RUN's chown is kept" "$(stat -c %u:%g "$r/app/data/run.txt" 2>&1)" 1000:1000
check_eq "the RUN's chmod is kept" "$(stat -c %a "$r/app/data/run.txt" 2>&1)" 640
check "the base's files are there" test -x "$r/bin/busybox" -a -L "$r/bin/sh"
check_eq "the base's /etc/passwd is there" "$(grep -c '^app:x:1000' "$r/etc/passwd" 2>&1)" 1

# FROM used our store: the first layer is test/busybox:1's only layer
base_layer=$(bt_manifest test/busybox:1 | jq -r '.layers[0].digest')
m=$(bt_manifest demo/basic:1)
check_eq "the image's first layer is the local base's layer" "$(jq -r '.layers[0].digest' <<< "$m")" "$base_layer"
check_eq "one base layer + 3 layer steps = 4 layers" "$(jq '.layers | length' <<< "$m")" 4
check_eq "layers are gzip OCI layers" "$(jq -r '[.layers[].mediaType] | unique | join(",")' <<< "$m")" \
    "application/vnd.oci.image.layer.v1.tar+gzip"

# the config as skopeo reads it
c=$(skopeo inspect --config "oci:$BT_LAYOUT:img" 2>&1 || true)
check_eq "config Cmd" "$(jq -c '.config.Cmd' <<< "$c" 2>&1)" \
    '["/bin/sh","-c","cat /app/hello.txt /app/data/run.txt; echo $GREETING; pwd; tool"]'
check_eq "config Env has the ENV" "$(jq -r '.config.Env | index("GREETING=bonjour") != null' <<< "$c" 2>&1)" true
check_eq "config WorkingDir" "$(jq -r '.config.WorkingDir' <<< "$c" 2>&1)" /app
check_eq "config os/architecture" "$(jq -r '.os + "/" + .architecture' <<< "$c" 2>&1)" linux/amd64
check_eq "rootfs.diff_ids count == layers count" "$(jq '.rootfs.diff_ids | length' <<< "$c" 2>&1)" 4
check_eq "history: one entry per instruction after the base's" \
    "$(jq '[.history[] | select(.created_by != null)] | length' <<< "$c" 2>&1)" \
    "$(( $(bt_config test/busybox:1 | jq '.history // [] | length') + 6 ))"

# run it as a user would (as uid 1000: runc's default capabilities have no
# CAP_DAC_OVERRIDE, so root could not read the 0640 file owned by 1000)
jq '.process.user = {"uid": 1000, "gid": 1000}' "$BT_WORK/bundle/config.json" > "$BT_WORK/cfg.json"
mv "$BT_WORK/cfg.json" "$BT_WORK/bundle/config.json"
out=$(bt_runc "$BT_WORK/bundle" /bin/sh -c 'cat /app/hello.txt /app/data/run.txt; echo $GREETING; pwd; tool')
check_eq "runc runs the image: files, ENV, WORKDIR and the COPYed script" "$out" \
    $'hello from the context\nwritten by RUN\nbonjour\n/app\ntool ran'

# --output writes the image out as well, in every format
# (each compared with the digest that build printed: whether a cached
# rebuild keeps the digest is 120-build-multistage-cache's business)
bt_build "$ctx" --output "oci-archive:$BT_WORK/out.tar" > /dev/null || true
check_eq "--output oci-archive: readable by skopeo, the built digest" \
    "$(skopeo inspect "oci-archive:$BT_WORK/out.tar" 2>&1 | jq -r .Digest 2>&1)" "$(bt_built_digest)"
bt_build "$ctx" --output "oci:$BT_WORK/out-layout" > /dev/null || true
check_eq "--output oci:DIR writes a layout with the image" \
    "$(jq -r '.manifests[0].digest' "$BT_WORK/out-layout/index.json" 2>&1)" "$(bt_built_digest)"
bt_build "$ctx" --output "docker-archive:$BT_WORK/out-docker.tar" > /dev/null || true
check_eq "--output docker-archive: readable by skopeo, 4 layers" \
    "$(skopeo inspect "docker-archive:$BT_WORK/out-docker.tar" 2>&1 | jq '.Layers | length' 2>&1)" 4

# -f picks another Dockerfile; --data-dir instead of --config
mkdir -p "$ctx/docker"
printf 'FROM test/busybox:1\nRUN echo other > /other.txt\n' > "$ctx/docker/Other.Dockerfile"
if "$SLIPWAY_BIN" build --data-dir "$BT_DATA" -f "$ctx/docker/Other.Dockerfile" -t demo/other:1 "$ctx" \
        > "$BT_WORK/other.log" 2>&1 && bt_unpack demo/other:1 "$BT_WORK/other"; then
    check_eq "-f FILE and --data-dir: the other Dockerfile was built" "$(cat "$BT_WORK/other/rootfs/other.txt")" other
else
    fail "-f / --data-dir build: $(tail -3 "$BT_WORK/other.log" | tr '\n' '|')"
fi

# the built image is served by the registry: skopeo pulls it over HTTP
sw_start_server "$BT_CFG"
rm -rf "$BT_WORK/pulled"
if skopeo copy --src-tls-verify=false "docker://127.0.0.1:$BT_PORT/demo/basic:1" \
        "oci:$BT_WORK/pulled:x" > "$BT_WORK/skopeo.log" 2>&1 &&
   umoci unpack --image "$BT_WORK/pulled:x" "$BT_WORK/pulled-bundle" > /dev/null 2>&1; then
    check_eq "skopeo pulls the built image from slipway serve" \
        "$(cat "$BT_WORK/pulled-bundle/rootfs/app/data/run.txt")" "written by RUN"
else
    fail "skopeo copy from slipway serve: $(tail -3 "$BT_WORK/skopeo.log" | tr '\n' '|')"
fi
check_eq "the registry's digest for the tag is the built digest" \
    "$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$BT_PORT/demo/basic:latest" 2>&1 | jq -r .Digest 2>&1)" "$digest"
sw_stop_server

# --- a failing RUN ---------------------------------------------------------
bad=$(sw_tmpdir)
cat > "$bad/Dockerfile" <<'DF'
FROM test/busybox:1
RUN echo before-the-failure
# a comment, so line numbers are not step numbers
RUN exit 3
RUN echo never-reached
DF
before=$(bt_manifest_count)
check_build_fails "a failing RUN: exit 1 and 'Dockerfile:4: RUN exit 3: exited with code 3'" \
    '(^|[ /])Dockerfile:4: RUN exit 3: exited with code 3$' "$bad" -t demo/fail:1
check "the steps before the failure ran and showed their output" grep -qx 'before-the-failure' "$BT_OUT"
check "the step after the failure did not run" bash -c "! grep -q never-reached '$BT_OUT'"
check "no Built/Tagged line after a failure" bash -c "! grep -Eq '^(Built|Tagged)' '$BT_OUT'"
check_eq "no manifest was stored by the failed build" "$(bt_manifest_count)" "$before"
if bt_export demo/fail:1; then fail "demo/fail:1 exists after the failed build"
else ok "the tag of the failed build does not exist (export fails)"; fi

# a failure does not move an existing tag
printf 'FROM test/busybox:1\nRUN echo good > /good\n' > "$bad/Dockerfile"
bt_build "$bad" -t demo/fail:2 > /dev/null || true
good=$(bt_built_digest)
printf 'FROM test/busybox:1\nRUN echo good > /good\nRUN false\n' > "$bad/Dockerfile"
check_build_fails "RUN false fails with exited with code 1" 'Dockerfile:3: RUN false: exited with code 1$' "$bad" -t demo/fail:2
check_eq "the existing tag still names the earlier good image" \
    "$(bt_manifest demo/fail:2 > /dev/null && jq -r '.manifests[0].digest' "$BT_LAYOUT/index.json")" "$good"

# other clear errors
printf 'FROM test/busybox:1\nFROBNICATE all\n' > "$bad/Dockerfile"
check_build_fails "an unknown instruction names its line" 'Dockerfile:2:.*(FROBNICATE|frobnicate|unknown instruction)' "$bad"
rm -f "$bad/Dockerfile"
check_build_fails "a missing Dockerfile is a clear error" 'Dockerfile' "$bad"
printf 'FROM test/busybox:1\nCOPY missing.txt /x\n' > "$bad/Dockerfile"
check_build_fails "COPY of a missing file names line and file" 'Dockerfile:2: COPY.*missing\.txt' "$bad"
# a registry that does not answer: a clear error, no hang
printf 'FROM 127.0.0.1:1/no/such:1\nRUN true\n' > "$bad/Dockerfile"
check_build_fails "FROM an unreachable registry fails at line 1" 'Dockerfile:1: FROM' "$bad"

sw_finish
