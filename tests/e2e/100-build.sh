#!/usr/bin/env bash
# The image builder, basics and every-instruction tour, one suite with two
# sections, each on its own store.
#
# Section "basics" (was 100-build-basics.sh):
# The image builder, basics: a small Dockerfile on the offline busybox base
# (FROM finds test/busybox:1 in our own store, no remote lookup) becomes an
# image in the store, and a user sees it as they would after pulling it:
# the progress lines, the OCI layout unpacked by umoci (content, owner,
# mode), the config as skopeo reads it, the container run by runc, and the
# same image served by `slipway serve` to skopeo. A failing RUN names its
# line and exit code and leaves no tag and no manifest behind.
# Section "every instruction, multi-stage, cache, ADD URL" (was 100-build.sh):
# The image builder, end to end: Dockerfiles exercising every instruction
# are built on an offline busybox base, then checked the way a user would:
# the image exported and unpacked with umoci, its files, owners and modes,
# its config, and the image run with runc.
set -euo pipefail
source "$(dirname "$0")/build-lib.sh"

sw_time_limit 540

# ===========================================================================
# basics (was 100-build-basics.sh)
# ===========================================================================

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
# rebuild keeps the digest is 120-build-cache's business)
bt_build "$ctx" --output "oci-archive:$BT_WORK/out.tar" > /dev/null || true
check_eq "--output oci-archive: readable by skopeo, the built digest" \
    "$(skopeo inspect "oci-archive:$BT_WORK/out.tar" 2>&1 | jq -r .Digest 2>&1)" "$(bt_built_digest)"
bt_build "$ctx" --output "oci:$BT_WORK/out-layout" > /dev/null || true
check_eq "--output oci:DIR writes a layout with the image" \
    "$(jq -r '.manifests[0].digest' "$BT_WORK/out-layout/index.json" 2>&1)" "$(bt_built_digest)"
bt_build "$ctx" --output "docker-archive:$BT_WORK/out-docker.tar" > /dev/null || true
check_eq "--output docker-archive: readable by skopeo, 4 layers" \
    "$(skopeo inspect "docker-archive:$BT_WORK/out-docker.tar" 2>&1 | jq '.Layers | length' 2>&1)" 4

# -f picks another Dockerfile; --data-dir instead of --config (the embedded
# store by definition: with PostgreSQL or S3 configured, the store is the
# config's, so -f is checked with --config there)
mkdir -p "$ctx/docker"
printf 'FROM test/busybox:1\nRUN echo other > /other.txt\n' > "$ctx/docker/Other.Dockerfile"
store_arg=(--data-dir "$BT_DATA"); store_name=--data-dir
if [ -n "${SW_PG_URL:-}${SW_S3_ENDPOINT:-}" ]; then store_arg=(--config "$BT_CFG"); store_name=--config; fi
if "$SLIPWAY_BIN" build "${store_arg[@]}" -f "$ctx/docker/Other.Dockerfile" -t demo/other:1 "$ctx" \
        > "$BT_WORK/other.log" 2>&1 && bt_unpack demo/other:1 "$BT_WORK/other"; then
    check_eq "-f FILE and $store_name: the other Dockerfile was built" "$(cat "$BT_WORK/other/rootfs/other.txt")" other
else
    fail "-f / $store_name build: $(tail -3 "$BT_WORK/other.log" | tr '\n' '|')"
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

# ===========================================================================
# every instruction, multi-stage, cache, ADD URL (was 100-build.sh)
# ===========================================================================

bin=$SLIPWAY_BIN
work=$(sw_tmpdir)
port=$(sw_free_port)
cfg=$(sw_write_config "$work" "$port" "builder: { network: none, step_timeout: 2m }")
sw_busybox_tar "$work/rootfs.tar"
"$bin" import --config "$cfg" "tar:$work/rootfs.tar" test/busybox:1 > /dev/null

# build CONTEXT [args...]: runs slipway build, output in $work/build.log
build() {
    local ctx=$1; shift
    "$bin" build --config "$cfg" "$@" "$ctx" > "$work/build.log" 2>&1
}
# unpack REPO:TAG DIR: exports the image and unpacks it with umoci into DIR
unpack() {
    local ref=$1 out=$2
    rm -rf "$out" "$work/layout"
    "$bin" export --config "$cfg" "$ref" "oci:$work/layout:img" > /dev/null
    umoci unpack --image "$work/layout:img" "$out" > /dev/null
}
config_of() { # REPO:TAG -> the image config blob as stored (skopeo's view
               # drops Docker's Shell/Healthcheck/OnBuild fields)
    rm -rf "$work/layout"
    "$bin" export --config "$cfg" "$1" "oci:$work/layout:img" > /dev/null
    local digest
    digest=$(skopeo inspect --raw "oci:$work/layout:img" | jq -r .config.digest)
    cat "$work/layout/blobs/sha256/${digest#sha256:}"
}

# --- every instruction ----------------------------------------------------
ctx=$(sw_tmpdir)
mkdir -p "$ctx/src/lib" "$ctx/archive-src/pkg"
echo "hello from the context" > "$ctx/hello.txt"
echo "secret" > "$ctx/secret.key"
echo "kept" > "$ctx/keep.key"
echo "int main;" > "$ctx/src/lib/util.c"
echo "#!/bin/sh" > "$ctx/src/run.sh"; chmod 755 "$ctx/src/run.sh"
echo "1.2.3" > "$ctx/archive-src/pkg/VERSION"
tar -C "$ctx/archive-src" -czf "$ctx/bundle.tar.gz" pkg
rm -rf "$ctx/archive-src"
printf '*.key\n!keep.key\n' > "$ctx/.dockerignore"
cat > "$ctx/Dockerfile" <<'DF'
ARG BASE=test/busybox:1
FROM $BASE
ARG FLAVOR=plain
ENV GREETING="hello world" \
    APP_HOME=/srv/app
ENV LEGACY legacy value
LABEL org.opencontainers.image.title="demo" maintainer.team=builds
WORKDIR $APP_HOME
WORKDIR sub
COPY hello.txt ./
COPY --chown=app:app --chmod=0640 src/ /srv/src/
COPY *.key /keys/
ADD bundle.tar.gz /opt/
COPY <<EOF /etc/motd
motd for $GREETING
EOF
RUN echo "$GREETING/$FLAVOR" > /srv/app/sub/run.txt && rm /bin/wc
RUN ["/bin/sh", "-c", "echo exec > /srv/app/sub/exec.txt"]
RUN <<SCRIPT
echo heredoc > /srv/app/sub/heredoc.txt
SCRIPT
SHELL ["/bin/sh", "-ec"]
RUN test "$LEGACY" = "legacy value"
USER app
RUN id -u > /srv/app/sub/uid.txt 2>/dev/null || id -u > /tmp/uid.txt
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/bin/true"]
ONBUILD RUN echo triggered > /tmp/onbuild.txt
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /srv/app/sub/run.txt"]
DF
if build "$ctx" -t demo/all:1 --build-arg FLAVOR=spicy; then ok "a Dockerfile with every instruction builds"
else fail "build failed: $(tail -5 "$work/build.log")"; fi
grep -q '^\[1/' "$work/build.log" && grep -q 'DONE' "$work/build.log" && grep -q '^Tagged demo/all:1' "$work/build.log" \
    && ok "progress shows steps, durations and the tag" || fail "progress output: $(head -5 "$work/build.log")"

unpack demo/all:1 "$work/b1"
r=$work/b1/rootfs
check "COPY into a relative WORKDIR" test "$(cat "$r/srv/app/sub/hello.txt")" = "hello from the context"
check "RUN sees ENV and --build-arg" test "$(cat "$r/srv/app/sub/run.txt")" = "hello world/spicy"
check "exec-form RUN" test "$(cat "$r/srv/app/sub/exec.txt")" = "exec"
check "heredoc RUN" test "$(cat "$r/srv/app/sub/heredoc.txt")" = "heredoc"
check "COPY heredoc expands variables" test "$(cat "$r/etc/motd")" = "motd for hello world"
check "deleted file is absent (whiteout)" test ! -e "$r/bin/wc"
check "other files of the base remain" test -x "$r/bin/busybox"
check "ADD extracts a local tar.gz" test "$(cat "$r/opt/pkg/VERSION")" = "1.2.3"
check "--chown sets the owner by name" test "$(stat -c %u:%g "$r/srv/src/lib/util.c")" = "1000:1000"
check "--chmod sets the mode" test "$(stat -c %a "$r/srv/src/lib/util.c")" = "640"
check "a directory source copies its contents" test -e "$r/srv/src/run.sh"
check ".dockerignore excludes a file" test ! -e "$r/keys/secret.key"
check ".dockerignore ! exception re-includes" test -e "$r/keys/keep.key"
check "USER applies to RUN (uid 1000)" test "$(cat "$r/srv/app/sub/uid.txt" 2>/dev/null || cat "$r/tmp/uid.txt")" = "1000"

c=$(config_of demo/all:1)
jqc() { jq -r "$1" <<< "$c"; }
check "Env in the config" test "$(jqc '.config.Env | index("GREETING=hello world") != null')" = true
check "ARG is not in the config Env" test "$(jqc '[.config.Env[] | select(startswith("FLAVOR"))] | length')" = 0
check "Labels" test "$(jqc '.config.Labels["org.opencontainers.image.title"]')" = demo
check "ExposedPorts" test "$(jqc '.config.ExposedPorts | keys | join(",")')" = "53/udp,8080/tcp"
check "Volumes" test "$(jqc '.config.Volumes | keys | join(",")')" = "/data"
check "User" test "$(jqc '.config.User')" = app
check "WorkingDir" test "$(jqc '.config.WorkingDir')" = /srv/app/sub
check "StopSignal" test "$(jqc '.config.StopSignal')" = SIGINT
check "Entrypoint" test "$(jqc '.config.Entrypoint | join(" ")')" = "/bin/sh -c"
check "Cmd" test "$(jqc '.config.Cmd | join(" ")')" = "cat /srv/app/sub/run.txt"
check "Healthcheck test, interval in ns, retries" test \
    "$(jqc '[.config.Healthcheck.Test[0], .config.Healthcheck.Interval, .config.Healthcheck.Retries] | map(tostring) | join(" ")')" = "CMD 30000000000 3"
check "Shell" test "$(jqc '.config.Shell | join(" ")')" = "/bin/sh -ec"
check "OnBuild recorded" test "$(jqc '.config.OnBuild[0]')" = "RUN echo triggered > /tmp/onbuild.txt"
check "one diff_id per layer" test "$(jqc '.rootfs.diff_ids | length')" = "$(jq '.layers | length' "$work/layout/blobs/sha256/$(jq -r '.manifests[0].digest' "$work/layout/index.json" | cut -d: -f2)")"
check "history has empty_layer on metadata instructions" test \
    "$(jqc '[.history[] | select(.created_by | startswith("ENV")) | .empty_layer] | all')" = true

# run the image with runc, as a user would after pulling it
jq '.process.terminal = false | .process.args = ["/bin/sh", "-c", "cat /srv/app/sub/run.txt"]' \
    "$work/b1/config.json" > "$work/b1/config.json.new" && mv "$work/b1/config.json.new" "$work/b1/config.json"
out=$(cd "$work/b1" && timeout 30 runc run "e2e-build-$$" 2>&1 || true)
[ "$out" = "hello world/spicy" ] || echo "runc said: $out" >&2
check "the image runs with runc" test "$out" = "hello world/spicy"

# ONBUILD triggers run when the image is a base
ctx2=$(sw_tmpdir)
printf 'FROM demo/all:1\nUSER root\nRUN test -f /tmp/onbuild.txt\n' > "$ctx2/Dockerfile"
if build "$ctx2" -t demo/child:1; then ok "ONBUILD trigger ran in the child build"
else fail "ONBUILD child build: $(tail -3 "$work/build.log")"; fi

# --- a failing RUN leaves nothing behind ----------------------------------
ctx3=$(sw_tmpdir)
printf 'FROM test/busybox:1\nRUN echo before\nRUN exit 3\n' > "$ctx3/Dockerfile"
before=$(sw_sql "$cfg" 'SELECT COUNT(*) FROM manifests')
set +e
"$bin" build --config "$cfg" -t demo/fail:1 "$ctx3" > "$work/fail.log" 2> "$work/fail.err"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q 'Dockerfile:3: RUN exit 3: exited with code 3' "$work/fail.err" \
    && ok "a failing RUN fails the build naming line, step and exit code" \
    || fail "failing RUN: rc=$rc $(cat "$work/fail.err")"
after=$(sw_sql "$cfg" 'SELECT COUNT(*) FROM manifests')
check "no manifest was stored by the failed build" test "$before" = "$after"
check "no tag for the failed build" test "$(sw_sql "$cfg" "SELECT COUNT(*) FROM tags WHERE name='1' AND repo_id IN (SELECT id FROM repositories WHERE name='demo/fail')")" = 0
check "no step scratch left in tmp/" test -z "$(ls "$work/data/tmp" | grep '^step-' || true)"

# --- multi-stage, --target, cache, reproducibility --------------------------
ctx4=$(sw_tmpdir)
echo "v1" > "$ctx4/input.txt"
cat > "$ctx4/Dockerfile" <<'DF'
FROM test/busybox:1 AS builder
COPY input.txt /in.txt
RUN mkdir -p /out && cp /in.txt /out/app && echo built >> /out/app
FROM test/busybox:1
COPY --from=builder /out/app /app
RUN cat /app
CMD ["cat", "/app"]
DF
build "$ctx4" -t demo/multi:1 --timestamp 1700000000 && ok "multi-stage build" || fail "multi-stage: $(tail -3 "$work/build.log")"
unpack demo/multi:1 "$work/m1"
check "artifact copied from the first stage" test "$(cat "$work/m1/rootfs/app")" = $'v1\nbuilt'
check "the final image does not contain the builder's files" test ! -e "$work/m1/rootfs/in.txt"
build "$ctx4" -t demo/multi:builder --target builder && unpack demo/multi:builder "$work/m2"
check "--target stops at the named stage" test -e "$work/m2/rootfs/out/app" -a ! -e "$work/m2/rootfs/app"
d1=$(jq -r '.manifests[0].digest' "$work/layout/index.json")

build "$ctx4" -t demo/multi:2 --timestamp 1700000000
check "a no-change rebuild takes every layer step from the cache" test "$(grep -c '^CACHED' "$work/build.log")" = 4
digest_a=$(grep -o 'Built sha256:[0-9a-f]*' "$work/build.log" | cut -d' ' -f2)
echo "v2" > "$ctx4/input.txt"
build "$ctx4" -t demo/multi:3 --timestamp 1700000000
check "changing one file re-runs the steps from its COPY on" test "$(grep -c '^CACHED' "$work/build.log")" = 0
build "$ctx4" -t demo/multi:4 --no-cache --timestamp 1700000000
check "--no-cache runs every step" test "$(grep -c '^CACHED' "$work/build.log")" = 0
echo "v1" > "$ctx4/input.txt"

# reproducible: a second, fresh data dir gives the same digest
work2=$(sw_tmpdir)
cfg2=$(sw_write_config "$work2" "$(sw_free_port)")
"$bin" export --config "$cfg" test/busybox:1 "oci:$work/base:1" > /dev/null
"$bin" import --config "$cfg2" "oci:$work/base:1" test/busybox:1 > /dev/null
SOURCE_DATE_EPOCH=1700000000 "$bin" build --config "$cfg2" -t demo/multi:1 "$ctx4" > "$work/repro.log" 2>&1
digest_b=$(grep -o 'Built sha256:[0-9a-f]*' "$work/repro.log" | cut -d' ' -f2)
check "the same inputs with SOURCE_DATE_EPOCH give the same digest in another store" \
    test -n "$digest_a" -a "$digest_a" = "$digest_b"

# zstd layers
build "$ctx4" -t demo/zstd:1 --compression zstd
config_of demo/zstd:1 > /dev/null
c=$(skopeo inspect --raw "oci:$work/layout:img")
check "--compression zstd writes zstd layers" test \
    "$(jq -r '.layers[-1].mediaType' <<< "$c")" = "application/vnd.oci.image.layer.v1.tar+zstd"

# ADD from a URL (a web server on 127.0.0.1), with --checksum
www=$(sw_tmpdir)
echo "downloaded content" > "$www/file.txt"
sum=$(sha256sum "$www/file.txt" | cut -d' ' -f1)
web_port=$(sw_free_port)
python3 -m http.server "$web_port" --bind 127.0.0.1 --directory "$www" > /dev/null 2>&1 &
SW_CLEANUP_CMDS+=("kill $!")
sw_wait_http "http://127.0.0.1:$web_port/file.txt" 10
ctx5=$(sw_tmpdir)
printf 'FROM test/busybox:1\nADD --checksum=sha256:%s http://127.0.0.1:%s/file.txt /dl/\nADD http://127.0.0.1:%s/file.txt /renamed.txt\n' \
    "$sum" "$web_port" "$web_port" > "$ctx5/Dockerfile"
if build "$ctx5" -t demo/url:1 --network host; then
    unpack demo/url:1 "$work/u1"
    check "ADD downloads a URL into a directory" test "$(cat "$work/u1/rootfs/dl/file.txt")" = "downloaded content"
    check "ADD of a URL to a file name" test "$(cat "$work/u1/rootfs/renamed.txt")" = "downloaded content"
    check "a downloaded file gets mode 0600" test "$(stat -c %a "$work/u1/rootfs/dl/file.txt")" = 600
else
    fail "ADD URL build: $(tail -3 "$work/build.log")"
fi
printf 'FROM test/busybox:1\nADD --checksum=sha256:%064d http://127.0.0.1:%s/file.txt /dl/\n' 0 "$web_port" > "$ctx5/Dockerfile"
set +e
build "$ctx5" -t demo/url:2 --network host; rc=$?
set -e
[[ $rc -ne 0 ]] && grep -q "checksum mismatch" "$work/build.log" \
    && ok "ADD --checksum with a wrong sum fails the build" || fail "wrong checksum: rc=$rc $(tail -2 "$work/build.log")"

# FROM --platform picks that platform of the base (an image for another
# platform is not in the store, and the error says so)
printf 'FROM --platform=linux/amd64 test/busybox:1\nRUN true\n' > "$ctx5/Dockerfile"
build "$ctx5" && ok "FROM --platform=linux/amd64 uses the amd64 base" || fail "FROM --platform: $(tail -2 "$work/build.log")"

# --output oci-archive
build "$ctx4" --output "oci-archive:$work/out.tar"
check "--output oci-archive: is readable by skopeo" skopeo inspect "oci-archive:$work/out.tar"

sw_finish
