#!/usr/bin/env bash
# The registry with real skopeo: copy in and back out with byte-identical
# manifests, inspect, list-tags past 100 tags (Link pagination), delete on
# and off, sync, and an image index copied with --all.
source "$(dirname "$0")/lib.sh"
sw_time_limit 240

bin=$SLIPWAY_BIN
work=$(sw_tmpdir)
port=$(sw_free_port)
cfg=$(sw_write_config "$work/a" "$port" "registry: { delete: true, pagination_max: 1000 }")
reg=127.0.0.1:$port

# an image made offline, into an OCI layout
seed=$(sw_write_config "$work/seed" "$(sw_free_port)")
sw_import_busybox "$seed" test/busybox:1 --cmd '["/bin/sh"]' > /dev/null
"$bin" export --config "$seed" test/busybox:1 "oci:$work/src:1" > /dev/null
sw_start_server "$cfg"

# --- copy in and out ------------------------------------------------------
check "skopeo copy into slipway" quiet sk copy --dest-tls-verify=false "oci:$work/src:1" "docker://$reg/test/busybox:1"
check "skopeo copy back out of slipway" quiet sk copy --src-tls-verify=false "docker://$reg/test/busybox:1" "oci:$work/back:1"
src_manifest=$(sk inspect --raw "oci:$work/src:1" | sha256sum)
remote_manifest=$(sk inspect --raw --tls-verify=false "docker://$reg/test/busybox:1" | sha256sum)
back_manifest=$(sk inspect --raw "oci:$work/back:1" | sha256sum)
check "the manifest in slipway is byte-identical" test "$src_manifest" = "$remote_manifest"
check "the manifest copied back out is byte-identical" test "$src_manifest" = "$back_manifest"
same=1
for b in $(sk inspect --raw "oci:$work/src:1" | jq -r '.config.digest, .layers[].digest' | cut -d: -f2); do
    cmp -s "$work/src/blobs/sha256/$b" "$work/back/blobs/sha256/$b" || same=0
done
check "the config and layers copied back out are byte-identical" test "$same" = 1

# --- inspect ----------------------------------------------------------------
info=$(sk inspect --tls-verify=false "docker://$reg/test/busybox:1")
check "skopeo inspect shows the digest" test "$(jq -r .Digest <<< "$info")" = "$(sk inspect --raw "oci:$work/src:1" | sha256sum | sed 's/^/sha256:/; s/ .*//')"
check "skopeo inspect shows the platform" test "$(jq -r '.Os + "/" + .Architecture' <<< "$info")" = linux/amd64
check "skopeo inspect lists the layers" test "$(jq -r '.Layers | join(",")' <<< "$info")" = \
    "$(sk inspect --raw "oci:$work/src:1" | jq -r '[.layers[].digest] | join(",")')"
conf=$(sk inspect --config --tls-verify=false "docker://$reg/test/busybox:1")
check "skopeo inspect --config shows Cmd" test "$(jq -r '.config.Cmd | join(" ")' <<< "$conf")" = /bin/sh
check "... and the layer's diff ID" test "$(jq -r '.rootfs.type + " " + (.rootfs.diff_ids | length | tostring)' <<< "$conf")" = "layers 1"

# --- list-tags past 100 ---------------------------------------------------------
manifest=$(sk inspect --raw --tls-verify=false "docker://$reg/test/busybox:1")
mt=$(jq -r .mediaType <<< "$manifest")
printf '%s' "$manifest" > "$work/manifest.json"
# the blobs must be in test/many: mount them from test/busybox
for d in $(jq -r '.config.digest, .layers[].digest' <<< "$manifest"); do
    curl -s -o /dev/null -X POST "http://$reg/v2/test/many/blobs/uploads/?mount=$d&from=test/busybox"
done
put_ok=0
for i in $(seq 1 130); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $mt" --data-binary @"$work/manifest.json" \
        "http://$reg/v2/test/many/manifests/v$i")
    [ "$code" = 201 ] && put_ok=$((put_ok + 1))
done
check "130 tags PUT (201 each)" test "$put_ok" = 130
tags=$(sk list-tags --tls-verify=false "docker://$reg/test/many" | jq -r '.Tags | sort | join(",")')
check "skopeo list-tags returns all 130 tags (Link pagination)" test "$tags" = "$(seq 1 130 | sed 's/^/v/' | sort | paste -sd,)"
page=$(curl -s -D "$work/headers" "http://$reg/v2/test/many/tags/list?n=100")
check "the first page has 100 tags" test "$(jq '.tags | length' <<< "$page")" = 100
check "... and a Link to the next page" grep -qi '^Link: </v2/test/many/tags/list?.*rel="next"' "$work/headers"

# --- delete -----------------------------------------------------------------
check "push test/gone:1" quiet sk copy --dest-tls-verify=false "oci:$work/src:1" "docker://$reg/test/gone:1"
check "skopeo delete with delete enabled" quiet sk delete --tls-verify=false "docker://$reg/test/gone:1"
refused "the deleted image is gone (skopeo inspect: manifest unknown)" ': manifest unknown' \
    sk inspect --tls-verify=false "docker://$reg/test/gone:1"

port2=$(sw_free_port)
cfg2=$(sw_write_config "$work/b" "$port2" "registry: { delete: false }")
sw_start_server "$cfg2"
check "push to the server with delete off" quiet sk copy --dest-tls-verify=false "oci:$work/src:1" "docker://127.0.0.1:$port2/test/kept:1"
refused "skopeo delete is refused with delete disabled (405 UNSUPPORTED)" 'UNSUPPORTED.*405 Method Not Allowed' \
    sk delete --tls-verify=false "docker://127.0.0.1:$port2/test/kept:1"
check "the image is still there" quiet sk inspect --tls-verify=false "docker://127.0.0.1:$port2/test/kept:1"
code=$(curl -s -o "$work/body" -w '%{http_code}' -X DELETE \
    "http://127.0.0.1:$port2/v2/test/kept/manifests/$(jq -r .Digest <<< "$info")")
check "DELETE with delete disabled: 405 UNSUPPORTED" test "$code:$(jq -r '.errors[0].code' "$work/body")" = "405:UNSUPPORTED"

# --- sync ---------------------------------------------------------------------
for t in a b c; do sk copy --dest-tls-verify=false "oci:$work/src:1" "docker://$reg/sync/src:$t" > /dev/null; done
check "skopeo sync docker -> docker (another slipway)" quiet sk sync --src docker --dest docker \
    --src-tls-verify=false --dest-tls-verify=false "$reg/sync/src" "127.0.0.1:$port2/mirror"
synced=$(sk list-tags --tls-verify=false "docker://127.0.0.1:$port2/mirror/src" | jq -r '.Tags | sort | join(",")')
check "... copies every tag of the repository" test "$synced" = "a,b,c"
check "... with the same manifest bytes" test \
    "$(sk inspect --raw --tls-verify=false "docker://127.0.0.1:$port2/mirror/src:b" | sha256sum)" = "$src_manifest"
mkdir "$work/sync-dir"
check "skopeo sync docker -> dir" quiet sk sync --src docker --dest dir --src-tls-verify=false "$reg/sync/src" "$work/sync-dir"
same=0
for t in a b c; do
    [ "$(sha256sum < "$work/sync-dir/src:$t/manifest.json" 2> /dev/null)" = "$src_manifest" ] && same=$((same + 1))
done
check "... every tag arrives as a directory with the same manifest" test "$same" = 3

# --- an image index, with --all ---------------------------------------------------
# two distinct platform manifests (amd64 and an arm64 twin whose config says
# so) and an index over them, hand-made in an OCI layout
idx=$(sw_tmpdir)
cp -r "$work/src/." "$idx/"
blob_path() { printf '%s/blobs/sha256/%s' "$idx" "${1#sha256:}"; }
add_blob() { # FILE -> prints its digest, after storing it in the layout
    local dg
    dg=sha256:$(sha256sum "$1" | cut -d' ' -f1)
    cp "$1" "$(blob_path "$dg")"
    printf '%s' "$dg"
}
m1=$(jq -r '.manifests[0].digest' "$idx/index.json")
jq -c '.architecture = "arm64"' "$(blob_path "$(jq -r .config.digest "$(blob_path "$m1")")")" > "$work/config-arm64.json"
c2=$(add_blob "$work/config-arm64.json")
jq -c --arg c "$c2" --argjson s "$(wc -c < "$work/config-arm64.json")" '.config.digest = $c | .config.size = $s' \
    "$(blob_path "$m1")" > "$work/manifest-arm64.json"
m2=$(add_blob "$work/manifest-arm64.json")
jq -cn --arg d1 "$m1" --argjson s1 "$(wc -c < "$(blob_path "$m1")")" --arg d2 "$m2" --argjson s2 "$(wc -c < "$work/manifest-arm64.json")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d1, size: $s1, platform: {os: "linux", architecture: "amd64"}},
                  {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d2, size: $s2, platform: {os: "linux", architecture: "arm64"}}]}' \
    > "$work/index.json"
idx_digest=$(add_blob "$work/index.json")
jq -n --arg d "$idx_digest" --argjson s "$(wc -c < "$work/index.json")" \
    '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": "multi"}}]}' > "$idx/index.json"
check "an OCI index of two manifests is pushed with skopeo copy --all" \
    quiet sk copy --all --dest-tls-verify=false "oci:$idx:multi" "docker://$reg/test/multi:1"
check "GET of the index returns the index media type and digest" test \
    "$(curl -s -o /dev/null -w '%{content_type} %header{docker-content-digest}' -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$reg/v2/test/multi/manifests/1")" \
    = "application/vnd.oci.image.index.v1+json $idx_digest"
check "both child manifests are in the repository" test \
    "$(curl -s -o /dev/null -w '%{http_code}' -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/test/multi/manifests/$m1"):$(curl -s -o /dev/null -w '%{http_code}' -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$reg/v2/test/multi/manifests/$m2")" = 200:200
check "skopeo inspect --raw of the index is byte-identical" test \
    "$(sk inspect --raw --tls-verify=false "docker://$reg/test/multi:1" | sha256sum)" = "$(sha256sum < "$work/index.json")"
# (skopeo's Digest is the index's; the architecture comes from the child's config)
check "skopeo resolves the arm64 child with --override-arch" test \
    "$(sk inspect --override-arch arm64 --tls-verify=false "docker://$reg/test/multi:1" | jq -r '.Digest + " " + .Architecture')" = "$idx_digest arm64"
check "skopeo copy --all pulls the index back" quiet sk copy --all --src-tls-verify=false "docker://$reg/test/multi:1" "oci:$work/multi-back:1"
check "the index pulled back is byte-identical" test \
    "$(sk inspect --raw "oci:$work/multi-back:1" | sha256sum)" = "$(sha256sum < "$work/index.json")"
same=1
for dg in "$m1" "$m2" "$c2"; do cmp -s "$(blob_path "$dg")" "$work/multi-back/blobs/sha256/${dg#sha256:}" || same=0; done
check "... with both manifests and the arm64 config byte-identical" test "$same" = 1

sw_stop_server
check "on SIGTERM the server stops and exits 0" test "$SW_SERVER_STATUS" = 0

sw_finish
