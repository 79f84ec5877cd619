#!/usr/bin/env bash
# The image builder, end to end: Dockerfiles exercising every instruction
# are built on an offline busybox base, then checked the way a user would:
# the image exported and unpacked with umoci, its files, owners and modes,
# its config, and the image run with runc.
source "$(dirname "$0")/lib.sh"

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
before=$(sqlite3 "$work/data/slipway.db" 'SELECT COUNT(*) FROM manifests')
set +e
"$bin" build --config "$cfg" -t demo/fail:1 "$ctx3" > "$work/fail.log" 2> "$work/fail.err"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q 'Dockerfile:3: RUN exit 3: exited with code 3' "$work/fail.err" \
    && ok "a failing RUN fails the build naming line, step and exit code" \
    || fail "failing RUN: rc=$rc $(cat "$work/fail.err")"
after=$(sqlite3 "$work/data/slipway.db" 'SELECT COUNT(*) FROM manifests')
check "no manifest was stored by the failed build" test "$before" = "$after"
check "no tag for the failed build" test "$(sqlite3 "$work/data/slipway.db" "SELECT COUNT(*) FROM tags WHERE name='1' AND repo_id IN (SELECT id FROM repositories WHERE name='demo/fail')")" = 0
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
