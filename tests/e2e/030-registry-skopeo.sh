#!/usr/bin/env bash
# The registry with real skopeo: copy in and back out with byte-identical
# manifests, inspect, list-tags past 100 tags (Link pagination), delete on
# and off, sync, and an image index copied with --all.
source "$(dirname "$0")/lib.sh"

bin=$SLIPWAY_BIN
work=$(sw_tmpdir)
export HOME=$work XDG_RUNTIME_DIR=$work
port=$(sw_free_port)
cfg=$(sw_write_config "$work/a" "$port" "registry: { delete: true, pagination_max: 1000 }")
reg=127.0.0.1:$port
sk() { skopeo --insecure-policy "$@"; }
quiet() { "$@" > /dev/null 2>&1; }

# an image made offline, into an OCI layout
sw_busybox_tar "$work/rootfs.tar"
seed=$(sw_write_config "$work/seed" "$(sw_free_port)")
"$bin" import --config "$seed" --cmd '["/bin/sh"]' "tar:$work/rootfs.tar" test/busybox:1 > /dev/null
"$bin" export --config "$seed" test/busybox:1 "oci:$work/src:1" > /dev/null
sw_start_server "$cfg"

# --- copy in and out ------------------------------------------------------
if sk copy --dest-tls-verify=false "oci:$work/src:1" "docker://$reg/test/busybox:1" > /dev/null 2>&1; then
    ok "skopeo copy into slipway"
else
    fail "skopeo copy into slipway"
fi
sk copy --src-tls-verify=false "docker://$reg/test/busybox:1" "oci:$work/back:1" > /dev/null
src_manifest=$(sk inspect --raw "oci:$work/src:1" | sha256sum)
remote_manifest=$(sk inspect --raw --tls-verify=false "docker://$reg/test/busybox:1" | sha256sum)
back_manifest=$(sk inspect --raw "oci:$work/back:1" | sha256sum)
check "the manifest in slipway is byte-identical" test "$src_manifest" = "$remote_manifest"
check "the manifest copied back out is byte-identical" test "$src_manifest" = "$back_manifest"
layer=$(sk inspect --raw "oci:$work/src:1" | jq -r '.layers[0].digest' | cut -d: -f2)
check "the layer copied back out is byte-identical" cmp -s "$work/src/blobs/sha256/$layer" "$work/back/blobs/sha256/$layer"

# --- inspect ----------------------------------------------------------------
info=$(sk inspect --tls-verify=false "docker://$reg/test/busybox:1")
check "skopeo inspect shows the digest" test "$(jq -r .Digest <<< "$info")" = "$(sk inspect --raw "oci:$work/src:1" | sha256sum | sed 's/^/sha256:/; s/ .*//')"
check "skopeo inspect shows the platform" test "$(jq -r '.Os + "/" + .Architecture' <<< "$info")" = linux/amd64
conf=$(sk inspect --config --tls-verify=false "docker://$reg/test/busybox:1")
check "skopeo inspect --config shows Cmd" test "$(jq -r '.config.Cmd | join(" ")' <<< "$conf")" = /bin/sh

# --- list-tags past 100 ---------------------------------------------------------
manifest=$(sk inspect --raw --tls-verify=false "docker://$reg/test/busybox:1")
mt=$(jq -r .mediaType <<< "$manifest")
printf '%s' "$manifest" > "$work/manifest.json"
# the blobs must be in test/many: mount them from test/busybox
for d in $(jq -r '.config.digest, .layers[].digest' <<< "$manifest"); do
    curl -s -o /dev/null -X POST "http://$reg/v2/test/many/blobs/uploads/?mount=$d&from=test/busybox"
done
for i in $(seq 1 130); do
    curl -s -o /dev/null -X PUT -H "Content-Type: $mt" --data-binary @"$work/manifest.json" \
        "http://$reg/v2/test/many/manifests/v$i"
done
tags=$(sk list-tags --tls-verify=false "docker://$reg/test/many" | jq -r '.Tags | length')
check "skopeo list-tags returns all 130 tags (Link pagination)" test "$tags" = 130
page=$(curl -s -D "$work/headers" "http://$reg/v2/test/many/tags/list?n=100")
check "the first page has 100 tags" test "$(jq '.tags | length' <<< "$page")" = 100
check "... and a Link to the next page" grep -qi '^Link: </v2/test/many/tags/list?.*rel="next"' "$work/headers"

# --- delete -----------------------------------------------------------------
sk copy --dest-tls-verify=false "oci:$work/src:1" "docker://$reg/test/gone:1" > /dev/null
if sk delete --tls-verify=false "docker://$reg/test/gone:1" > /dev/null 2>&1; then ok "skopeo delete with delete enabled"
else fail "skopeo delete failed"; fi
if sk inspect --tls-verify=false "docker://$reg/test/gone:1" > /dev/null 2>&1; then fail "deleted image still inspects"
else ok "the deleted image is gone"; fi

port2=$(sw_free_port)
cfg2=$(sw_write_config "$work/b" "$port2" "registry: { delete: false }")
sw_start_server "$cfg2"
sk copy --dest-tls-verify=false "oci:$work/src:1" "docker://127.0.0.1:$port2/test/kept:1" > /dev/null
if sk delete --tls-verify=false "docker://127.0.0.1:$port2/test/kept:1" > "$work/del.out" 2>&1; then
    fail "skopeo delete succeeded with delete disabled"
else
    ok "skopeo delete is refused with delete disabled"
fi
check "the image is still there" quiet sk inspect --tls-verify=false "docker://127.0.0.1:$port2/test/kept:1"
code=$(curl -s -o "$work/body" -w '%{http_code}' -X DELETE \
    "http://127.0.0.1:$port2/v2/test/kept/manifests/$(jq -r .Digest <<< "$info")")
check "DELETE with delete disabled: 405 UNSUPPORTED" test "$code:$(jq -r '.errors[0].code' "$work/body")" = "405:UNSUPPORTED"

# --- sync ---------------------------------------------------------------------
for t in a b c; do sk copy --dest-tls-verify=false "oci:$work/src:1" "docker://$reg/sync/src:$t" > /dev/null; done
sk sync --src docker --dest docker --src-tls-verify=false --dest-tls-verify=false \
    "$reg/sync/src" "127.0.0.1:$port2/mirror" > /dev/null 2>&1
synced=$(sk list-tags --tls-verify=false "docker://127.0.0.1:$port2/mirror/src" | jq -r '.Tags | sort | join(",")')
check "skopeo sync copies every tag of a repository" test "$synced" = "a,b,c"

# --- an image index, with --all ---------------------------------------------------
idx=$(sw_tmpdir)
cp -r "$work/src/." "$idx/"
m1=$(jq -r '.manifests[0].digest' "$idx/index.json")
size1=$(jq -r '.manifests[0].size' "$idx/index.json")
index=$(jq -n --arg d "$m1" --argjson s "$size1" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s, platform: {os: "linux", architecture: "amd64"}},
                {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s, platform: {os: "linux", architecture: "arm64"}}]}')
idx_digest=sha256:$(printf '%s' "$index" | sha256sum | cut -d' ' -f1)
printf '%s' "$index" > "$idx/blobs/sha256/${idx_digest#sha256:}"
jq -n --arg d "$idx_digest" --argjson s "$(printf '%s' "$index" | wc -c)" \
    '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": "multi"}}]}' > "$idx/index.json"
if sk copy --all --dest-tls-verify=false "oci:$idx:multi" "docker://$reg/test/multi:1" > /dev/null 2>&1; then
    ok "an OCI index is pushed with skopeo copy --all"
else
    fail "pushing the index"
fi
check "GET of the index returns the index media type" test \
    "$(curl -s -o /dev/null -w '%{content_type}' -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$reg/v2/test/multi/manifests/1")" \
    = application/vnd.oci.image.index.v1+json
sk copy --all --src-tls-verify=false "docker://$reg/test/multi:1" "oci:$work/multi-back:1" > /dev/null 2>&1 \
    && ok "skopeo copy --all pulls the index back" || fail "pulling the index back"
check "the index pulled back is byte-identical" test \
    "$(sk inspect --raw "oci:$work/multi-back:1" | sha256sum)" = "$(printf '%s' "$index" | sha256sum)"

sw_finish
