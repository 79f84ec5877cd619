#!/usr/bin/env bash
# The image builder: multi-stage builds, --target, the build cache (hits,
# invalidation by a changed context file or build arg, --no-cache, the
# memo of context file digests),
# reproducible digests with --timestamp / SOURCE_DATE_EPOCH across two
# separate stores, and zstd layers. The cache is judged by what the build
# prints (CACHED / DONE per step) and by the digests and files that result.
set -euo pipefail
source "$(dirname "$0")/build-lib.sh"

sw_time_limit 420

bt_init

ctx=$(sw_tmpdir)
echo v1 > "$ctx/input.txt"
echo s1 > "$ctx/static.txt"
cat > "$ctx/Dockerfile" <<'DF'
FROM test/busybox:1 AS builder
COPY input.txt /src/input.txt
RUN mkdir -p /out && cp /src/input.txt /out/app && echo built >> /out/app && echo builder-only > /builder-marker
FROM test/busybox:1 AS unused
RUN echo the-unused-stage-ran && exit 7
FROM test/busybox:1 AS final
COPY static.txt /static.txt
COPY --from=builder /out/app /app
RUN cat /app > /final-marker
CMD ["cat", "/app"]
DF

# --- multi-stage ---------------------------------------------------------------
if bt_build "$ctx" -t demo/multi:1; then ok "a multi-stage build succeeds"
else fail "multi-stage build: $(bt_tail 5)"; fi
digest1=$(bt_built_digest)
check_eq "a cold build runs all 5 layer steps of the needed stages" "$(bt_count DONE):$(bt_count CACHED)" 5:0
check "a stage the target does not need is not built" bash -c "! grep -q the-unused-stage-ran '$BT_OUT'"
bt_unpack demo/multi:1 "$BT_WORK/m1" || fail "unpack demo/multi:1: $(tail -2 "$BT_WORK/umoci.log")"
check_eq "COPY --from=builder brings the first stage's artifact" "$(cat "$BT_WORK/m1/rootfs/app" 2>&1)" $'v1\nbuilt'
check_eq "the final stage's RUN saw it" "$(cat "$BT_WORK/m1/rootfs/final-marker" 2>&1)" $'v1\nbuilt'
check "the final image has none of the builder stage's other files" \
    test ! -e "$BT_WORK/m1/rootfs/builder-marker" -a ! -e "$BT_WORK/m1/rootfs/src/input.txt"
check_eq "the final image has 1 base + 3 layers" "$(bt_manifest demo/multi:1 | jq '.layers | length')" 4
check_eq "runc runs the final image's CMD" "$(bt_runc "$BT_WORK/m1")" $'v1\nbuilt'

if bt_build "$ctx" -t demo/multi:builder --target builder; then ok "--target builder builds"
else fail "--target builder: $(bt_tail 4)"; fi
check "--target stops before the final stage's steps" bash -c "! grep -q 'static.txt' '$BT_OUT'"
bt_unpack demo/multi:builder "$BT_WORK/m2" || fail "unpack demo/multi:builder"
check_eq "the --target image has the builder's files" "$(cat "$BT_WORK/m2/rootfs/builder-marker" 2>&1)" builder-only
check "... and not the final stage's" test ! -e "$BT_WORK/m2/rootfs/app" -a ! -e "$BT_WORK/m2/rootfs/static.txt"
check_eq "the --target image has no CMD of the final stage" "$(bt_config demo/multi:builder | jq -c '.config.Cmd // null')" null
check_build_fails "--target naming no stage is an error" 'nosuchstage' "$ctx" --target nosuchstage

# --- the cache -----------------------------------------------------------------
sleep 1.1   # a rebuild in another second: created times must come from the cache
bt_build "$ctx" -t demo/multi:2 || fail "rebuild: $(bt_tail 3)"
check_eq "an identical rebuild takes every layer step from the cache" "$(bt_count CACHED):$(bt_count DONE)" 5:0
check "the summary counts the cached steps" grep -Eq '^Built sha256:[0-9a-f]{64} in .* \(8 steps, 5 cached\)$' "$BT_OUT"
check_eq "an identical rebuild gives the same image digest" "$(bt_built_digest)" "$digest1"

echo s2 > "$ctx/static.txt"
bt_build "$ctx" -t demo/multi:3 || fail "rebuild after a change: $(bt_tail 3)"
check_eq "static.txt changed: the builder stage is all cached" \
    "$(bt_step_status 'COPY input.txt'),$(bt_step_status 'RUN mkdir -p /out')" CACHED,CACHED
check_eq "... and the steps from COPY static.txt on run again" \
    "$(bt_step_status 'COPY static.txt'),$(bt_step_status 'COPY --from=builder'),$(bt_step_status 'RUN cat /app')" DONE,DONE,DONE
bt_unpack demo/multi:3 "$BT_WORK/m3"
check_eq "the rebuilt image has the new file" "$(cat "$BT_WORK/m3/rootfs/static.txt" 2>&1)" s2

echo v2 > "$ctx/input.txt"
bt_build "$ctx" -t demo/multi:4 || fail "rebuild after an input change: $(bt_tail 3)"
check_eq "input.txt changed: its COPY and the RUN after it run again" \
    "$(bt_step_status 'COPY input.txt'),$(bt_step_status 'RUN mkdir -p /out')" DONE,DONE
check_eq "... the final stage's COPY before the --from is cached" "$(bt_step_status 'COPY static.txt')" CACHED
check_eq "... COPY --from of the changed artifact and what follows run again" \
    "$(bt_step_status 'COPY --from=builder'),$(bt_step_status 'RUN cat /app')" DONE,DONE
bt_unpack demo/multi:4 "$BT_WORK/m4"
check_eq "the rebuilt image has the new artifact (no stale cache)" "$(cat "$BT_WORK/m4/rootfs/app" 2>&1)" $'v2\nbuilt'

echo v1 > "$ctx/input.txt"; echo s1 > "$ctx/static.txt"
bt_build "$ctx" -t demo/multi:5 || fail "rebuild with the first inputs: $(bt_tail 3)"
check_eq "back to the first inputs: all cached again" "$(bt_count CACHED):$(bt_count DONE)" 5:0

bt_build "$ctx" -t demo/multi:6 --no-cache || fail "--no-cache: $(bt_tail 3)"
check_eq "--no-cache runs every layer step" "$(bt_count CACHED):$(bt_count DONE)" 0:5
bt_unpack demo/multi:6 "$BT_WORK/m6"
check_eq "the --no-cache image has the same files" "$(cat "$BT_WORK/m6/rootfs/app" 2>&1)" $'v1\nbuilt'

# a build arg in effect is part of the cache key
actx=$(sw_tmpdir)
printf 'FROM test/busybox:1\nARG V=1\nRUN echo "$V" > /v\n' > "$actx/Dockerfile"
bt_build "$actx" -t demo/arg:1 --build-arg V=1 || true
bt_build "$actx" -t demo/arg:2 --build-arg V=2 || true
check_eq "a different --build-arg re-runs the RUN that sees it" "$(bt_step_status 'RUN echo')" DONE
bt_unpack demo/arg:2 "$BT_WORK/a2"
check_eq "... and the image has the new value" "$(cat "$BT_WORK/a2/rootfs/v" 2>&1)" 2
bt_build "$actx" -t demo/arg:3 --build-arg V=1 || true
check_eq "the first value again is a cache hit" "$(bt_step_status 'RUN echo')" CACHED
bt_unpack demo/arg:3 "$BT_WORK/a3"
check_eq "... with the first value's file" "$(cat "$BT_WORK/a3/rootfs/v" 2>&1)" 1

# --- reproducible builds ---------------------------------------------------------
# Two fresh data dirs with the same base (moved as an OCI layout, so both
# stores hold the very same base manifest).
base_layout=$BT_WORK/base
"$SLIPWAY_BIN" export --config "$BT_CFG" test/busybox:1 "oci:$base_layout:1" > /dev/null
used_store=$BT_WORK
fresh_store() { # a new store holding only test/busybox:1, the very same manifest
    bt_new_store
    "$SLIPWAY_BIN" import --config "$BT_CFG" "oci:$base_layout:1" test/busybox:1 > /dev/null
}
fresh_store
bt_build "$ctx" -t demo/repro:1 --timestamp 1700000000 || fail "--timestamp build: $(bt_tail 3)"
repro_a=$(bt_built_digest)
bt_export demo/repro:1
c=$(skopeo inspect --config --raw "oci:$BT_LAYOUT:img")
m=$(skopeo inspect --raw "oci:$BT_LAYOUT:img")
check_eq "--timestamp sets the config's created time" "$(jq -r .created <<< "$c")" 2023-11-14T22:13:20Z
check_eq "... and every history entry's created time of this build" \
    "$(jq -r '[.history[1:][] | .created] | unique | join(",")' <<< "$c")" 2023-11-14T22:13:20Z
newest_mtime() { # LAYOUT MANIFEST_JSON: the newest file time in the built layers
    local d
    for d in $(jq -r '.layers[1:][].digest' <<< "$2"); do
        tar -tzvf "$1/blobs/sha256/${d#sha256:}" --full-time 2>/dev/null | awk '{print $4 "T" $5}'
    done | sort | tail -1
}
newest=$(newest_mtime "$BT_LAYOUT" "$m")
check "layer file mtimes are clamped to the timestamp (newest: $newest)" \
    test -n "$newest" -a "$newest" \< "2023-11-14T22:13:21"
bt_build "$ctx" -t demo/repro:2 --timestamp 1700000000 || true
check_eq "a cached rebuild with the same --timestamp gives the same digest" "$(bt_built_digest)" "$repro_a"

fresh_store
bt_build "$ctx" -t demo/repro:1 --timestamp 1700000000 || fail "build in the second store: $(bt_tail 3)"
check_eq "--timestamp: the same digest from a second fresh data dir" "$(bt_built_digest)" "$repro_a"
if SOURCE_DATE_EPOCH=1700000000 bt_build "$ctx" -t demo/repro:2 --no-cache; then
    check_eq "SOURCE_DATE_EPOCH acts as --timestamp (same digest, no cache)" "$(bt_built_digest)" "$repro_a"
else
    fail "SOURCE_DATE_EPOCH build: $(bt_tail 3)"
fi
bt_build "$ctx" -t demo/repro:3 --no-cache --timestamp 1700000001 || true
check "a different --timestamp gives a different digest" test "$(bt_built_digest)" != "$repro_a"

# The first store has cached these steps from builds without a timestamp:
# a --timestamp build there must not reuse their unclamped layers.
bt_use "$used_store"
bt_build "$ctx" -t demo/repro:1 --timestamp 1700000000 || fail "--timestamp in the used store: $(bt_tail 3)"
check_eq "--timestamp in a store with a warm cache still gives the reproducible digest" "$(bt_built_digest)" "$repro_a"
bt_export demo/repro:1
newest=$(newest_mtime "$BT_LAYOUT" "$(skopeo inspect --raw "oci:$BT_LAYOUT:img")")
check "... its layers' mtimes are clamped too (newest: $newest)" test -n "$newest" -a "$newest" \< "2023-11-14T22:13:21"

# --- zstd layers -------------------------------------------------------------------
if bt_build "$ctx" -t demo/zstd:1 --compression zstd --no-cache; then ok "--compression zstd builds"
else fail "--compression zstd: $(bt_tail 3)"; fi
bt_export demo/zstd:1
m=$(skopeo inspect --raw "oci:$BT_LAYOUT:img")
c=$(skopeo inspect --config --raw "oci:$BT_LAYOUT:img")
check_eq "the built layers are application/vnd.oci.image.layer.v1.tar+zstd" \
    "$(jq -r '[.layers[1:][].mediaType] | unique | join(",")' <<< "$m")" application/vnd.oci.image.layer.v1.tar+zstd
zstd_ok=0 n=0
for i in $(seq 1 $(( $(jq '.layers | length' <<< "$m") - 1 ))); do
    blob=$BT_LAYOUT/blobs/sha256/$(jq -r ".layers[$i].digest" <<< "$m" | cut -d: -f2)
    n=$((n + 1))
    if [ "$(head -c 4 "$blob" | od -An -tx1 | tr -d ' ')" = 28b52ffd ] &&
       [ "sha256:$(zstd -dc < "$blob" | sha256sum | cut -d' ' -f1)" = "$(jq -r ".rootfs.diff_ids[$i]" <<< "$c")" ] &&
       zstd -dc < "$blob" | tar -t > /dev/null; then
        zstd_ok=$((zstd_ok + 1))
    fi
done
check_eq "each zstd layer is zstd, a tar, and decompresses to its diff_id" "$zstd_ok" "$n"
if umoci unpack --image "$BT_LAYOUT:img" "$BT_WORK/z1" > "$BT_WORK/umoci-zstd.log" 2>&1; then
    check_eq "umoci unpacks the zstd image" "$(cat "$BT_WORK/z1/rootfs/app" 2>&1)" $'v1\nbuilt'
elif grep -qi 'zstd\|unsupported\|media.type\|compression' "$BT_WORK/umoci-zstd.log"; then
    # umoci 0.4.7 may not know zstd layers: unpack them by hand instead
    root=$BT_WORK/z1-manual
    mkdir -p "$root"
    for d in $(jq -r '.layers[].digest' <<< "$m"); do
        f=$BT_LAYOUT/blobs/sha256/${d#sha256:}
        if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 28b52ffd ]; then zstd -dc < "$f"; else gzip -dc < "$f"; fi |
            tar -C "$root" -x 2>/dev/null
    done
    check_eq "the zstd image's layers unpack by hand (umoci has no zstd)" "$(cat "$root/app" 2>&1)" $'v1\nbuilt'
else
    fail "umoci unpack of the zstd image: $(tail -2 "$BT_WORK/umoci-zstd.log")"
fi
check_eq "a gzip build of the same steps has gzip layers" \
    "$(bt_build "$ctx" -t demo/gz:1 > /dev/null; bt_manifest demo/gz:1 | jq -r '[.layers[].mediaType] | unique | join(",")')" \
    application/vnd.oci.image.layer.v1.tar+gzip

# --- incompressible data: stored gzip members, still reproducible ------------------
# A layer of 3 MiB of noise and a text file: the noise is stored (deflate
# stored blocks) instead of run through level 6, the text compressed. Two
# fresh stores give the same digest; the blob is about the noise's size;
# umoci (Go's compress/gzip) and gzip read it back byte for byte.
nctx=$(sw_tmpdir)
head -c 3145728 /dev/urandom > "$nctx/noise.bin"
seq 1 20000 > "$nctx/text.txt"
printf 'FROM test/busybox:1\nCOPY noise.bin text.txt /data/\n' > "$nctx/Dockerfile"
fresh_store
bt_build "$nctx" -t demo/noise:1 --timestamp 1700000000 || fail "noise build: $(bt_tail 3)"
noise_a=$(bt_built_digest)
fresh_store
bt_build "$nctx" -t demo/noise:1 --timestamp 1700000000 || fail "noise build, second store: $(bt_tail 3)"
check_eq "a layer of incompressible data: the same digest from a second fresh data dir" \
    "$(bt_built_digest)" "$noise_a"
bt_unpack demo/noise:1 "$BT_WORK/n1" || fail "unpack demo/noise:1: $(tail -2 "$BT_WORK/umoci.log")"
check_eq "umoci unpacks the noise byte for byte" "$(sha256sum < "$BT_WORK/n1/rootfs/data/noise.bin" 2>&1)" \
    "$(sha256sum < "$nctx/noise.bin")"
check_eq "... and the text next to it" "$(cat "$BT_WORK/n1/rootfs/data/text.txt" 2>&1 | tail -1)" 20000
m=$(skopeo inspect --raw "oci:$BT_LAYOUT:img")
nblob=$BT_LAYOUT/blobs/sha256/$(jq -r '.layers[-1].digest' <<< "$m" | cut -d: -f2)
nsize=$(stat -c %s "$nblob")
check "the layer is stored, not inflated: $nsize bytes for 3 MiB of noise and 108 KiB of text" \
    test "$nsize" -gt 3145728 -a "$nsize" -lt 3200000
check_eq "gzip -t accepts the multi-member stream" "$(gzip -t < "$nblob" 2>&1 && echo ok)" ok

# --- a COPY after a one-file change: unchanged files are reused ------------------
# The layer of the rebuild is the one a fresh store makes (same digest with
# --timestamp); its unchanged files are hard links to the previous layer's,
# the changed one is new, and a file changed without changing its size or
# mtime is still copied (its bytes are compared).
rctx=$(sw_tmpdir)
mkdir -p "$rctx/src/a" "$rctx/src/b"
for i in $(seq 1 30); do echo "file $i" > "$rctx/src/a/f$i.txt"; echo "other $i" > "$rctx/src/b/g$i.txt"; done
printf 'FROM test/busybox:1\nWORKDIR /app\nCOPY src/ /app/src/\nRUN cat /app/src/a/f1.txt /app/src/b/g2.txt > /app/out\n' > "$rctx/Dockerfile"
fresh_store
reuse_store=$BT_WORK
bt_build "$rctx" -t demo/reuse:1 --timestamp 1700000000 || fail "reuse build 1: $(bt_tail 3)"
echo "changed" >> "$rctx/src/a/f3.txt"
stamp=$(stat -c %y "$rctx/src/b/g2.txt")
echo "OTHER 2" > "$rctx/src/b/g2.txt"          # same size ...
touch -d "$stamp" "$rctx/src/b/g2.txt"          # ... and the same mtime
bt_build "$rctx" -t demo/reuse:2 --timestamp 1700000000 || fail "reuse build 2: $(bt_tail 3)"
check_eq "a one-file change runs the COPY again" "$(bt_step_status 'COPY src/')" DONE
reuse_digest=$(bt_built_digest)
links=$(find "$reuse_store/data/layers" -path '*/app/src/*' -type f -links 2 | sed 's|.*/app/src/||' | sort -u | tr '\n' ' ')
check "the unchanged files of the new COPY layer are links to the previous layer's" \
    bash -c "[[ '$links' == *'a/f1.txt'* && '$links' == *'b/g30.txt'* ]]"
check "... the changed file is not" bash -c "[[ '$links' != *'a/f3.txt'* ]]"
check "... nor the file changed with the same size and mtime" bash -c "[[ '$links' != *'b/g2.txt'* ]]"
bt_unpack demo/reuse:2 "$BT_WORK/r2" || fail "unpack demo/reuse:2: $(tail -2 "$BT_WORK/umoci.log")"
check_eq "the image has the new bytes of both changed files" \
    "$(cat "$BT_WORK/r2/rootfs/app/src/a/f3.txt" "$BT_WORK/r2/rootfs/app/out" 2>&1)" $'file 3\nchanged\nfile 1\nOTHER 2'
fresh_store
bt_build "$rctx" -t demo/reuse:2 --timestamp 1700000000 || fail "reuse build in a fresh store: $(bt_tail 3)"
check_eq "the rebuild with reused files has the digest of a fresh store's build" "$(bt_built_digest)" "$reuse_digest"

# --- the context digest memo: a changed file is always seen ----------------------
# `slipway build` remembers the digest of each context file that is older
# than 2 s, under its device, inode, size, mtime and ctime (data/build-memo/),
# so a rebuild stats the files instead of reading them. A file rewritten
# with the same size and mtime (a new ctime) and a file replaced by another
# of the same size and mtime (a new inode) both change the COPY's key.
mctx=$(sw_tmpdir)
mkdir -p "$mctx/src"
for i in $(seq 1 20); do echo "memo $i" > "$mctx/src/m$i.txt"; done
printf 'FROM test/busybox:1\nCOPY src/ /src/\n' > "$mctx/Dockerfile"
sleep 3 # the files are older than the memo's 2 s of settling
bt_build "$mctx" -t demo/memo:1 || fail "memo build 1: $(bt_tail 3)"
check "the build kept a memo of the context's file digests" \
    bash -c "ls '$BT_DATA/build-memo/' | grep -Eq '^[0-9a-f]{64}\$'"
bt_build "$mctx" -t demo/memo:1 || fail "memo build 2: $(bt_tail 3)"
check_eq "an unchanged context: the COPY is a cache hit" "$(bt_step_status 'COPY src/')" CACHED
stamp=$(stat -c %y "$mctx/src/m3.txt")
echo "MEMO 3" > "$mctx/src/m3.txt" # the same size ...
touch -d "$stamp" "$mctx/src/m3.txt" # ... and the same mtime
sleep 3 # and old enough to be remembered: only its ctime tells
bt_build "$mctx" -t demo/memo:2 || fail "memo build 3: $(bt_tail 3)"
check_eq "a file rewritten with the same size and mtime: the COPY runs again" \
    "$(bt_step_status 'COPY src/')" DONE
bt_build "$mctx" -t demo/memo:2 || fail "memo build 4: $(bt_tail 3)"
check_eq "... and the build after it is a cache hit" "$(bt_step_status 'COPY src/')" CACHED
printf 'mEmO 7\n' > "$mctx/m7.new"
touch -r "$mctx/src/m7.txt" "$mctx/m7.new"
mv "$mctx/m7.new" "$mctx/src/m7.txt" # another file, same size and mtime
bt_build "$mctx" -t demo/memo:3 || fail "memo build 5: $(bt_tail 3)"
check_eq "a file replaced by another of the same size and mtime: the COPY runs again" \
    "$(bt_step_status 'COPY src/')" DONE
bt_unpack demo/memo:3 "$BT_WORK/memo3" || fail "unpack demo/memo:3: $(tail -2 "$BT_WORK/umoci.log")"
check_eq "the image has the new bytes of both files" \
    "$(cat "$BT_WORK/memo3/rootfs/src/m3.txt" "$BT_WORK/memo3/rootfs/src/m7.txt" 2>&1)" $'MEMO 3\nmEmO 7'

# --- COPY --link: a new base re-uses the layer without re-running the step -----
# The layer is made of the sources alone, onto an empty tree: changing the
# base (FROM) leaves its cache key alone, so the rebuild takes it from the
# cache (CACHED, the same layer digest) while a plain COPY runs again.
bt_init
bctx=$(sw_tmpdir)
lctx=$(sw_tmpdir)
mkdir -p "$lctx/app"
echo linked-a > "$lctx/app/a.txt"
echo linked-b > "$lctx/app/b.txt"
printf 'FROM test/busybox:1\nRUN echo base-one > /base.txt && mkdir -p /srv && chmod 0700 /srv && ln -s /tmp /opt\n' > "$bctx/Dockerfile"
bt_build "$bctx" -t demo/linkbase:1 || fail "link base v1: $(bt_tail 3)"
cat > "$lctx/Dockerfile" <<'DF'
FROM demo/linkbase:1
WORKDIR /srv
COPY --link --chown=1234:5678 app/ app/
COPY --link app/a.txt /opt/single.txt
COPY app/b.txt /plain.txt
DF
layer_list() { # DIGEST: "mode uid/gid path" of each entry of a layer of $BT_LAYOUT
    local f=$BT_LAYOUT/blobs/sha256/${1#sha256:}
    if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 28b52ffd ]; then zstd -dc < "$f"; else gzip -dc < "$f"; fi |
        tar -tv --numeric-owner | awk '{print $1, $2, $NF}' | sort -k3
}
if bt_build "$lctx" -t demo/linked:1; then ok "a build with COPY --link succeeds"
else fail "COPY --link build: $(bt_tail 4)"; fi
check_eq "a cold build runs the --link steps" \
    "$(bt_step_status 'COPY --link --chown'):$(bt_step_status 'COPY --link app/a.txt')" DONE:DONE
bt_manifest demo/linked:1 > "$BT_WORK/linked1.json"
link_layers1=$(jq -r '.layers[-3].digest, .layers[-2].digest' "$BT_WORK/linked1.json")
bt_export demo/linked:1
check_eq "the --link layer holds the sources and their directories only; the directory above the destination stays root's" \
    "$(layer_list "$(sed -n 1p <<< "$link_layers1")")" \
    "$(printf '%s\n' 'drwxr-xr-x 0/0 srv/' 'drwxr-xr-x 1234/5678 srv/app/' \
        '-rw-r--r-- 1234/5678 srv/app/a.txt' '-rw-r--r-- 1234/5678 srv/app/b.txt')"
bt_unpack demo/linked:1 "$BT_WORK/l1" || fail "unpack demo/linked:1: $(tail -2 "$BT_WORK/umoci.log")"
check "WORKDIR applies to a relative --link destination" test -f "$BT_WORK/l1/rootfs/srv/app/a.txt"
check "--link does not follow the base's symlink /opt: it becomes a directory" \
    test -d "$BT_WORK/l1/rootfs/opt" -a ! -L "$BT_WORK/l1/rootfs/opt" -a -f "$BT_WORK/l1/rootfs/opt/single.txt"
check "... and nothing was written through it" test ! -e "$BT_WORK/l1/rootfs/tmp/single.txt"

printf 'FROM test/busybox:1\nRUN echo base-two > /base.txt && echo new > /base-new.txt\n' > "$bctx/Dockerfile"
bt_build "$bctx" -t demo/linkbase:1 || fail "link base v2: $(bt_tail 3)"
if bt_build "$lctx" -t demo/linked:2; then ok "the rebuild on the new base succeeds"
else fail "rebuild on the new base: $(bt_tail 4)"; fi
check_eq "after the base changed, both COPY --link steps are cache hits and the plain COPY runs again" \
    "$(bt_step_status 'COPY --link --chown'):$(bt_step_status 'COPY --link app/a.txt'):$(bt_step_status 'COPY app/b.txt')" \
    CACHED:CACHED:DONE
bt_manifest demo/linked:2 > "$BT_WORK/linked2.json"
check_eq "... and their layers have the same digests" \
    "$(jq -r '.layers[-3].digest, .layers[-2].digest' "$BT_WORK/linked2.json")" "$link_layers1"
check "the base layers did change" \
    test "$(jq -r '.layers[1].digest' "$BT_WORK/linked1.json")" != "$(jq -r '.layers[1].digest' "$BT_WORK/linked2.json")"
bt_unpack demo/linked:2 "$BT_WORK/l2" || fail "unpack demo/linked:2: $(tail -2 "$BT_WORK/umoci.log")"
check_eq "the rebased image has the new base's files and the copied files" \
    "$(cat "$BT_WORK/l2/rootfs/base.txt" "$BT_WORK/l2/rootfs/base-new.txt" "$BT_WORK/l2/rootfs/srv/app/a.txt" \
        "$BT_WORK/l2/rootfs/srv/app/b.txt" "$BT_WORK/l2/rootfs/opt/single.txt" "$BT_WORK/l2/rootfs/plain.txt" 2>&1)" \
    "$(printf '%s\n' base-two new linked-a linked-b linked-a linked-b)"
echo linked-a2 > "$lctx/app/a.txt"
bt_build "$lctx" -t demo/linked:3 || fail "rebuild with a changed source: $(bt_tail 3)"
check_eq "a changed source re-runs the --link steps that copy it" \
    "$(bt_step_status 'COPY --link --chown'):$(bt_step_status 'COPY --link app/a.txt')" DONE:DONE
printf 'FROM test/busybox:1\nCOPY --link --chown=app a /b\n' > "$bctx/Dockerfile"
check_build_fails "--link with --chown by name is refused at its line" \
    'Dockerfile:2: COPY --link --chown=app a /b: --chown=app with --link: use numeric ids' "$bctx"

sw_finish
