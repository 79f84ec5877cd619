#!/usr/bin/env bash
# Garbage collection while the server runs: a dry run lists exactly the
# unreferenced blobs and untagged manifests of a prepared scenario, the real
# run removes them, tagged images still pull, and a push running alongside
# repeated GC runs completes and pulls.
source "$(dirname "$0")/lib.sh"

bin=$SLIPWAY_BIN
work=$(sw_tmpdir)
export HOME=$work XDG_RUNTIME_DIR=$work
sk() { skopeo --insecure-policy "$@"; }
quiet() { "$@" > /dev/null 2>&1; }
port=$(sw_free_port)
cfg=$(sw_write_config "$work/srv" "$port" "registry:
  delete: true
  gc: { untagged_manifests: delete }")
data=$work/srv/data
r=http://127.0.0.1:$port/v2
sw_start_server "$cfg"

# image A (kept, tagged) and image B (pushed, then its tag deleted)
sw_busybox_tar "$work/rootfs.tar"
seed=$(sw_write_config "$work/seed" "$(sw_free_port)")
"$bin" import --config "$seed" "tar:$work/rootfs.tar" test/a:1 > /dev/null
mkdir -p "$work/other/bin" && echo "image b" > "$work/other/bin/marker" && tar -C "$work/other" -cf "$work/other.tar" .
"$bin" import --config "$seed" "tar:$work/other.tar" test/b:1 > /dev/null
"$bin" export --config "$seed" test/a:1 "oci:$work/a:1" > /dev/null
"$bin" export --config "$seed" test/b:1 "oci:$work/b:1" > /dev/null
sk copy --dest-tls-verify=false "oci:$work/a:1" "docker://127.0.0.1:$port/test/a:1" > /dev/null
sk copy --dest-tls-verify=false "oci:$work/b:1" "docker://127.0.0.1:$port/test/b:1" > /dev/null
b_manifest=$(sk inspect --raw "oci:$work/b:1")
b_digest=sha256:$(printf '%s' "$b_manifest" | sha256sum | cut -d' ' -f1)
curl -s -o /dev/null -X DELETE "$r/test/b/manifests/1"   # the tag only: B is now untagged

# orphan blobs: uploaded, never referenced
orphans=()
for i in 1 2 3; do
    head -c $((1000 * i)) /dev/urandom > "$work/orphan$i"
    d=sha256:$(sha256sum "$work/orphan$i" | cut -d' ' -f1)
    curl -s -o /dev/null -X POST --data-binary @"$work/orphan$i" "$r/test/a/blobs/uploads/?digest=$d"
    orphans+=("$d")
done

# what should go: the orphans, B's manifest, B's config and layer
expected_blobs=$( (printf '%s\n' "${orphans[@]}"; printf '%s\n' "$b_digest";
                   jq -r '.config.digest, .layers[].digest' <<< "$b_manifest") | sort -u)

"$bin" gc --config "$cfg" --dry-run --grace 0s > "$work/dry" 2>&1
dry_blobs=$(awk '$1 == "blob" {print $2}' "$work/dry" | sort -u)
if [ "$dry_blobs" = "$expected_blobs" ]; then ok "--dry-run lists exactly the unreferenced blobs"
else fail "dry-run blobs differ: expected [$expected_blobs] got [$dry_blobs] ($(cat "$work/dry"))"; fi
grep -q "^manifest test/b@$b_digest" "$work/dry" && ok "--dry-run lists the untagged manifest" \
    || fail "untagged manifest not listed: $(cat "$work/dry")"
grep -q "test/a@" "$work/dry" && fail "the tagged manifest is listed" || ok "the tagged manifest is not listed"
for d in "${orphans[@]}"; do
    test -e "$data/blobs/sha256/${d:7:2}/${d#sha256:}" || { fail "dry run removed $d"; break; }
done
ok "a dry run removes nothing"

"$bin" gc --config "$cfg" --grace 0s > "$work/real" 2>&1
real_blobs=$(awk '$1 == "blob" {print $2}' "$work/real" | sort -u)
check "the real run removes the same blobs" test "$real_blobs" = "$expected_blobs"
gone=0
for d in $expected_blobs; do test -e "$data/blobs/sha256/${d:7:2}/${d#sha256:}" && gone=1; done
check "their files are gone from blobs/" test "$gone" = 0
check "GET of a collected blob -> 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$r/test/a/blobs/${orphans[0]}")" = 404
check "the tagged image still pulls with skopeo" quiet sk copy --src-tls-verify=false "docker://127.0.0.1:$port/test/a:1" "oci:$work/pulled:1"
second=$("$bin" gc --config "$cfg" --grace 0s 2>&1 | awk '$1 == "blob"' | wc -l)
check "a second run finds nothing more" test "$second" = 0

# a push running while GC runs again and again, with a grace period as a
# live registry uses (--grace 0 would, by design, take a just-uploaded blob
# whose manifest is not there yet: docs/gc.md)
head -c $((48 * 1024 * 1024)) /dev/urandom > "$work/bigfile"
mkdir -p "$work/bigroot" && cp "$work/bigfile" "$work/bigroot/big" && tar -C "$work/bigroot" -cf "$work/big.tar" .
"$bin" import --config "$seed" "tar:$work/big.tar" test/big:1 > /dev/null
"$bin" export --config "$seed" test/big:1 "oci:$work/big:1" > /dev/null
sk copy --dest-tls-verify=false "oci:$work/big:1" "docker://127.0.0.1:$port/test/big:1" > "$work/push.log" 2>&1 &
push=$!
runs=0
while kill -0 "$push" 2> /dev/null; do
    "$bin" gc --config "$cfg" --grace 5m > /dev/null 2>&1 || true
    runs=$((runs + 1))
done
wait "$push" && ok "a push completes while GC runs ($runs GC runs meanwhile)" || fail "the push failed: $(cat "$work/push.log")"
"$bin" gc --config "$cfg" --grace 5m > /dev/null 2>&1
check "the image pushed during GC pulls afterwards" quiet sk copy --src-tls-verify=false "docker://127.0.0.1:$port/test/big:1" "oci:$work/big-back:1"
check "... byte for byte" test "$(sk inspect --raw "oci:$work/big-back:1" | sha256sum)" = "$(sk inspect --raw "oci:$work/big:1" | sha256sum)"

sw_finish
