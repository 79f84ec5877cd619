#!/usr/bin/env bash
# RUN --mount (cache, bind from a stage and from the context, tmpfs,
# secret), build secrets (file and env forms, masked in the log, absent
# from every blob, the database and the data directory), COPY --exclude and
# --parents, and typed flags (an unknown flag fails at parse time with its
# line and the accepted flags).
set -euo pipefail
source "$(dirname "$0")/build-lib.sh"
sw_time_limit 150

bt_init 'builder: { network: none, step_timeout: 2m }'
SECRET="s3cr3t-tok-$$-q7"
ENVSECRET="envs3cr3t-$$-z9"
printf '%s\n' "$SECRET" > "$SW_SCRATCH/tok"

ctx=$(sw_tmpdir)
mkdir -p "$ctx/ctxdir/sub" "$ctx/p/q"
echo from-context > "$ctx/ctxdir/a.txt"
echo private > "$ctx/ctxdir/id.key"
echo keep > "$ctx/ctxdir/sub/b.txt"
echo pivot > "$ctx/p/q/r.txt"
cat > "$ctx/Dockerfile" << 'DF'
FROM test/busybox:1 AS base
RUN mkdir -p /data && echo from-stage > /data/stage.txt
FROM test/busybox:1
ARG N=1
RUN --mount=type=cache,target=/cache,id=c1,sharing=locked sh -c 'echo run$N >> /cache/count; wc -l < /cache/count > /cachecount'
RUN --mount=type=cache,target=/root/.cache/go sh -c 'echo x > /root/.cache/go/built; echo go > /gocache'
RUN --mount=type=secret,id=tok sh -c 'wc -c < /run/secrets/tok > /toklen; echo "file: $(cat /run/secrets/tok)"'
RUN --mount=type=secret,id=envtok,env=TOK sh -c 'echo "env: $TOK"; echo ${#TOK} > /envlen'
RUN --mount=type=bind,from=base,source=/data,target=/mnt cat /mnt/stage.txt > /fromstage
RUN --mount=type=bind,source=ctxdir,target=/ctx sh -c 'cat /ctx/a.txt > /fromctx; if touch /ctx/w 2>/dev/null; then echo rw; else echo ro; fi > /ctxw'
RUN --mount=type=bind,source=ctxdir,target=/ctx2,rw sh -c 'echo x > /ctx2/new && echo written > /rw'
RUN --mount=type=tmpfs,target=/scratchfs,size=1m sh -c 'echo t > /scratchfs/t && grep -c " /scratchfs tmpfs" /proc/mounts > /tmpfs'
ARG VARFS=/varfs
ENV VARSIZE=1m
RUN --mount=type=tmpfs,target=${VARFS},size=$VARSIZE sh -c 'grep -c " /varfs tmpfs" /proc/mounts > /varmount'
COPY --exclude=*.key ctxdir /app/
COPY --parents ./p/./q/r.txt /par/
DF

export ENVTOK=$ENVSECRET
if bt_build "$ctx" -t test/mounts:1 --secret "id=tok,src=$SW_SCRATCH/tok" --secret id=envtok,env=ENVTOK; then
    ok "a build with cache, secret, bind and tmpfs mounts succeeds"
else
    fail "the build failed: $(bt_tail 8)"
fi
root=$(sw_tmpdir)/b
bt_unpack test/mounts:1 "$root" > /dev/null
r=$root/rootfs
check_eq "the cache mount is written" "$(tr -d ' ' < "$r/cachecount")" "1"
check "the cache mount is not in the layer" test ! -e "$r/cache"
check_eq "--mount values are expanded with ARG and ENV" "$(tr -d ' ' < "$r/varmount")" "1"
check "a cache mount below an existing directory leaves no trace" test ! -e "$r/root/.cache"
# no layer but the base's has a root/ entry: /root, copied up for the mount
# point /root/.cache/go, is left out when the step did not change it
bt_export test/mounts:1
roots=0
for blob in "${BT_LAYOUT%:*}"/blobs/sha256/*; do
    n=$( { tar -tzf "$blob" 2> /dev/null || true; } | grep -cE '^(\./)?root/$' || true)
    roots=$((roots + n))
done
check_eq "no RUN --mount layer has a root/ entry" "$roots" "1"
check_eq "the secret file is there in RUN" "$(tr -d ' ' < "$r/toklen")" "$((${#SECRET} + 1))"
check_eq "the env secret is there in RUN" "$(cat "$r/envlen")" "${#ENVSECRET}"
check "the secret's mount point is not in the layer" test ! -e "$r/run/secrets"
check_eq "a bind mount from a stage" "$(cat "$r/fromstage")" "from-stage"
check_eq "a bind mount from the context" "$(cat "$r/fromctx")" "from-context"
check_eq "a bind mount is read-only by default" "$(cat "$r/ctxw")" "ro"
check_eq "an rw bind mount is writable" "$(cat "$r/rw")" "written"
check "writes to an rw bind are discarded" test ! -e "$ctx/ctxdir/new"
check_eq "a tmpfs mount" "$(cat "$r/tmpfs")" "1"
check "mount points are not in the layers" test ! -e "$r/mnt" -a ! -e "$r/ctx" -a ! -e "$r/ctx2" -a ! -e "$r/scratchfs"
check "COPY --exclude leaves the excluded file out" test ! -e "$r/app/id.key"
check "COPY --exclude copies the rest" test -f "$r/app/a.txt" -a -f "$r/app/sub/b.txt"
check_eq "COPY --parents keeps the parents from the pivot" "$(cat "$r/par/q/r.txt" 2> /dev/null)" "pivot"

# the secret: masked in the log, nowhere in the data directory
check "the log masks the file secret" grep -q "file: \*\*\*" "$BT_LOG"
check "the log masks the env secret" grep -q "env: \*\*\*" "$BT_LOG"
check "the log never shows a secret" sh -c "! grep -aqe '$SECRET' -e '$ENVSECRET' '$BT_LOG'"
found=""
while IFS= read -r -d '' blob; do
    if { gzip -dc "$blob" 2> /dev/null || zstd -dc "$blob" 2> /dev/null || cat "$blob"; } |
            grep -aqe "$SECRET" -e "$ENVSECRET"; then
        found="$found $blob"
    fi
done < <(find "$BT_DATA" -type f -print0)
check_eq "no blob, layer or file of the data dir holds a secret" "$found" ""
check "the database holds no secret" sh -c "! sqlite3 '$BT_DATA/slipway.db' .dump | grep -aqe '$SECRET' -e '$ENVSECRET'"

# a second build: the cache content persisted
if bt_build "$ctx" -t test/mounts:2 --build-arg N=2 --secret "id=tok,src=$SW_SCRATCH/tok" --secret id=envtok,env=ENVTOK; then
    root2=$(sw_tmpdir)/b
    bt_unpack test/mounts:2 "$root2" > /dev/null
    check_eq "the cache mount's content persists between builds" "$(tr -d ' ' < "$root2/rootfs/cachecount")" "2"
    # the cache key holds the mount spec, not the secret's value
    printf 'another-value' > "$SW_SCRATCH/tok2"
    bt_build "$ctx" -t test/mounts:3 --build-arg N=2 --secret "id=tok,src=$SW_SCRATCH/tok2" \
        --secret id=envtok,env=ENVTOK || true
    check_eq "another secret value does not change the cache key" "$(bt_step_status "id=tok")" "CACHED"
else
    fail "the second build failed: $(bt_tail 8)"
fi
check "cache mounts live under cache-mounts/<scope>/<id>" test -f "$(find "$BT_DATA/cache-mounts" -name count | head -1)"

# errors
bad=$(sw_tmpdir)
printf 'FROM test/busybox:1\n\nCOPY --frm=x a /b\n' > "$bad/Dockerfile"
check_build_fails "an unknown flag fails with its line and the accepted flags" \
    'Dockerfile:3: unknown flag: --frm \(COPY accepts: --from, --chown, --chmod, --link, --parents, --exclude\)' "$bad"
printf 'FROM test/busybox:1\nRUN --device=/dev/fuse true\n' > "$bad/Dockerfile"
check_build_fails "an unimplemented flag fails" 'Dockerfile:2: flag --device is not supported' "$bad"
printf 'FROM test/busybox:1\nRUN --mount=type=secret,id=nope,required true\n' > "$bad/Dockerfile"
check_build_fails "a required secret that is not given fails" 'secret nope: not provided' "$bad"
printf 'FROM test/busybox:1\nRUN --mount=type=cache,target=/c,bogus=1 true\n' > "$bad/Dockerfile"
check_build_fails "an unknown mount key fails" "unexpected key 'bogus'" "$bad"

sw_finish
