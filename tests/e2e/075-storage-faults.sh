#!/usr/bin/env bash
# Storage faults: pushes beside a loop of `gc --dry-run` and `import` (each
# opens the store and runs crash recovery) never get a 5xx; a kill between
# an upload's session and its row leaves a session that gc removes; on a full
# small filesystem DELETE and gc free space without outside help; fsck
# finds a flipped byte and a deleted blob file.
source "$(dirname "$0")/lib.sh"
sw_time_limit 240

work=$(sw_tmpdir)
port=$(sw_free_port)
cfg=$(sw_write_config "$work/srv" "$port" "registry: { delete: true, gc: { untagged_manifests: delete } }")
data=$work/srv/data
r=http://127.0.0.1:$port/v2
sw_start_server "$cfg"
sw_busybox_tar "$work/rootfs.tar"

# push_image REPO TAG SIZE_KIB: a random layer, a config and a manifest
# through the API; prints every HTTP status it got, one per line
push_image() {
    local repo=$1 tag=$2 kib=$3 dir
    dir=$(mktemp -d "$work/push.XXXXXX")
    head -c $((kib * 1024)) /dev/urandom > "$dir/layer"
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"%s"}' "$RANDOM$RANDOM" > "$dir/config"
    local ld cd ls cs
    ld=sha256:$(sha256sum "$dir/layer" | cut -d' ' -f1); ls=$(stat -c %s "$dir/layer")
    cd=sha256:$(sha256sum "$dir/config" | cut -d' ' -f1); cs=$(stat -c %s "$dir/config")
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary @"$dir/layer" "$r/$repo/blobs/uploads/?digest=$ld"
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary @"$dir/config" "$r/$repo/blobs/uploads/?digest=$cd"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
        "$cd" "$cs" "$ld" "$ls" > "$dir/manifest"
    curl -s -o /dev/null -w '%{http_code}\n' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary @"$dir/manifest" "$r/$repo/manifests/$tag"
    rm -rf "$dir"
}

# ---- 30 s of pushes beside store openers ------------------------------------
end=$((SECONDS + 30))
(
    while [ $SECONDS -lt $end ]; do
        "$SLIPWAY_BIN" gc --config "$cfg" --dry-run > /dev/null 2>&1 || echo "gc failed" >> "$work/openers.err"
    done
) &
gc_loop=$!
(
    i=0
    while [ $SECONDS -lt $end ]; do
        i=$((i + 1))
        "$SLIPWAY_BIN" import --config "$cfg" "tar:$work/rootfs.tar" "side/import:$i" > /dev/null 2>&1 ||
            echo "import $i failed" >> "$work/openers.err"
    done
) &
import_loop=$!
pushes=0
: > "$work/statuses"
while [ $SECONDS -lt $end ]; do
    push_image "load/app" "t$pushes" 64 >> "$work/statuses"
    pushes=$((pushes + 1))
done
wait "$gc_loop" "$import_loop"
total=$(wc -l < "$work/statuses")
bad=$(grep -c '^5' "$work/statuses" || true)
check "$pushes image pushes ($total requests) beside gc --dry-run and import loops: no 5xx" test "$bad" = 0
check "... and every push request succeeded (201)" test "$(grep -vc '^201$' "$work/statuses" || true)" = 0
check "... and the openers themselves never failed" test ! -s "$work/openers.err"

# ---- an upload session without its row -----------------------------------------
# a session whose POST made the backend's session but died before its row:
# here a real POST whose row is then removed behind the server's back
start_session() {
    curl -s -o /dev/null -D - -X POST "$r/orphans/blobs/uploads/" | tr -d '\r' |
        sed -n 's|^Location: .*/blobs/uploads/\([0-9a-f-]*\).*|\1|Ip'
}
orphan=$(start_session)
young=$(start_session)
sw_sql "$cfg" "DELETE FROM uploads WHERE uuid IN ('$orphan', '$young')" > /dev/null
# the filesystem backend keeps a session's state in uploads/<uuid>.state
touch -d '2 hours ago' "$data/uploads/$orphan" "$data/uploads/$orphan.state"
"$SLIPWAY_BIN" gc --config "$cfg" --dry-run > "$work/dry"
check "gc --dry-run lists the upload session left without a row" grep -q "^upload $orphan" "$work/dry"
check "... and leaves it in place" test -e "$data/uploads/$orphan.state"
"$SLIPWAY_BIN" gc --config "$cfg" > /dev/null
check "gc removes the upload session left without a row" test ! -e "$data/uploads/$orphan.state" -a ! -e "$data/uploads/$orphan"
check "... but not one younger than the grace period (a POST in flight)" test -e "$data/uploads/$young.state"

# ---- fsck -------------------------------------------------------------------------
check "fsck of the busy store finds no damage" "$SLIPWAY_BIN" fsck --config "$cfg"
push_image fsck/a v1 32 > /dev/null
push_image fsck/b v1 32 > /dev/null
layer_a=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$r/fsck/a/manifests/v1" | jq -r '.layers[0].digest')
layer_b=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$r/fsck/b/manifests/v1" | jq -r '.layers[0].digest')
file_a=$data/blobs/sha256/${layer_a:7:2}/${layer_a#sha256:}
file_b=$data/blobs/sha256/${layer_b:7:2}/${layer_b#sha256:}
# flip one byte in the middle of a's layer, delete b's layer file
byte=$(od -An -tu1 -j 1000 -N 1 "$file_a" | tr -d ' ')
printf "$(printf '\\%03o' $(((byte + 1) % 256)))" | dd of="$file_a" bs=1 seek=1000 conv=notrunc status=none
rm -f "$file_b"
if "$SLIPWAY_BIN" fsck --config "$cfg" > "$work/fsck" 2>&1; then fsck_rc=0; else fsck_rc=$?; fi
check "fsck exits 1 on a damaged store" test "$fsck_rc" = 1
check "... and names the blob whose content changed" grep -q "damage: blob $layer_a: content hashes to" "$work/fsck"
check "... and the blob whose file is gone" grep -q "damage: blob $layer_b: its object is missing" "$work/fsck"
check "... and prints a summary" grep -q '^fsck: .* 2 damaged' "$work/fsck"
"$SLIPWAY_BIN" fsck --config "$cfg" --repair > "$work/repair" 2>&1 || true
check "fsck --repair moves the damaged file to lost+found" test -n "$(ls "$data/lost+found" 2> /dev/null)"
check "... and says so" grep -q "repaired: blob $layer_a: damaged object copied to $data/lost+found/" "$work/repair"
code=$(curl -s -o /dev/null -w '%{http_code}' -I "$r/fsck/a/blobs/$layer_a")
check "after the repair the damaged blob is unknown (404, so clients push it again), not served wrong ($code)" test "$code" = 404
if "$SLIPWAY_BIN" fsck --config "$cfg" > "$work/fsck2" 2>&1; then rc2=0; else rc2=$?; fi
check "fsck still reports the manifests whose layers are gone until they are pushed again" \
    grep -q "manifest fsck/a@.*: blob $layer_a is missing" "$work/fsck2"
curl -s -X DELETE -o /dev/null "$r/fsck/a/manifests/$(curl -s -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$r/fsck/a/manifests/v1" | grep -i docker-content-digest | cut -d' ' -f2 | tr -d '\r')"
curl -s -X DELETE -o /dev/null "$r/fsck/b/manifests/$(curl -s -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$r/fsck/b/manifests/v1" | grep -i docker-content-digest | cut -d' ' -f2 | tr -d '\r')"
check "with those manifests deleted, fsck is clean again" "$SLIPWAY_BIN" fsck --config "$cfg"
sw_stop_server

# ---- a full filesystem --------------------------------------------------------------
small=$work/small
mkdir -p "$small/mnt"
truncate -s 96M "$small/fs.img"
mkfs.ext4 -q -F -m 0 "$small/fs.img"
if mount -o loop "$small/fs.img" "$small/mnt"; then
    trap 'umount -l "$small/mnt" 2> /dev/null || true; sw_cleanup' EXIT
    port2=$(sw_free_port)
    cfg2=$(sw_write_config "$small/mnt/srv" "$port2" "registry: { delete: true, gc: { untagged_manifests: delete } }
storage: { reserve: 24MiB }")
    r=http://127.0.0.1:$port2/v2
    sw_start_server "$cfg2"
    full=
    for i in $(seq 1 20); do
        statuses=$(push_image full/app "f$i" 8192 | tr '\n' ' ')
        if [[ $statuses == *507* ]]; then full=$i; break; fi
    done
    check "pushes into a small filesystem stop with 507 before the disk is full (after $full images)" test -n "$full"
    body=$(curl -s -X POST -H 'Content-Type: application/octet-stream' --data-binary 'x' \
        "$r/full/app/blobs/uploads/?digest=sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
    check "... with an error body that says what to do" grep -q 'storage is full.*slipway gc' <<< "$body"
    free_before=$(df --output=avail -B1 "$small/mnt" | tail -1)
    deleted=0
    for i in $(seq 1 $((full - 1))); do
        d=$(curl -s -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$r/full/app/manifests/f$i" | grep -i docker-content-digest | cut -d' ' -f2 | tr -d '\r')
        code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$r/full/app/manifests/$d")
        [ "$code" = 202 ] && deleted=$((deleted + 1))
    done
    check "every manifest DELETE on the full disk works ($deleted of $((full - 1)))" test "$deleted" = $((full - 1))
    check "gc on the full disk works" quiet "$SLIPWAY_BIN" gc --config "$cfg2" --grace 0
    free_after=$(df --output=avail -B1 "$small/mnt" | tail -1)
    check "... and frees space ($((free_before / 1048576)) -> $((free_after / 1048576)) MiB free)" \
        test "$free_after" -gt $((free_before + 16 * 1048576))
    statuses=$(push_image full/app again 8192 | tr '\n' ' ')
    check "a push works again afterwards ($statuses)" test "$statuses" = "201 201 201 "
    sw_stop_server
    umount "$small/mnt"
    trap sw_cleanup EXIT
else
    fail "could not loop-mount a small filesystem (needs root and a loop device)"
fi

sw_finish
