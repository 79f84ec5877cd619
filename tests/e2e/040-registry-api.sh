#!/usr/bin/env bash
# The Distribution API with curl: uploads (monolithic, POST+PUT, chunked,
# resumed, out of order, canceled), cross-repository mounts, ranges,
# manifests of all four media types, referrers, pagination, and the error
# code of every failure a client can cause.
source "$(dirname "$0")/lib.sh"
sw_time_limit 240

work=$(sw_tmpdir)
port=$(sw_free_port)
cfg=$(sw_write_config "$work" "$port" "registry: { delete: true, pagination_max: 50 }")
sw_start_server "$cfg"
r=http://127.0.0.1:$port/v2

sha() { printf 'sha256:%s' "$(sha256sum "$1" | cut -d' ' -f1)"; }
hdr() { grep -i -m1 "^$1:" "$work/h" | cut -d' ' -f2- | tr -d '\r'; }
abs() { local u; u=$(hdr Location); [[ -z $u || $u == http* ]] && echo "$u" || echo "http://127.0.0.1:$port$u"; }
# an upload URL (which may carry its own query) with ?digest= or &digest=
with_digest() { [[ $1 == *\?* ]] && echo "$1&digest=$2" || echo "$1?digest=$2"; }
# the digest of what GET of the Location header of the last response serves
location_digest() { local u; u=$(abs); [ -n "$u" ] && printf 'sha256:%s' "$(curl -s "$u" | sha256sum | cut -d' ' -f1)"; }
req() { curl -s -D "$work/h" -o "$work/b" -w '%{http_code}' "$@"; }

head -c 100000 /dev/urandom > "$work/blob"
d=$(sha "$work/blob")

# --- ping ----------------------------------------------------------------
code=$(req "$r/")
check "GET /v2/ -> 200 with the API version header" test "$code:$(hdr Docker-Distribution-API-Version)" = "200:registry/2.0"

# --- monolithic and POST + PUT ---------------------------------------------
code=$(req -X POST -H 'Content-Type: application/octet-stream' --data-binary @"$work/blob" "$r/t/mono/blobs/uploads/?digest=$d")
check "monolithic POST ?digest= -> 201 with its digest" test "$code:$(hdr Docker-Content-Digest)" = "201:$d"
check "... and a Location that serves the blob" test "$(location_digest)" = "$d"
code=$(req -I "$r/t/mono/blobs/$d")
check "HEAD of the blob -> 200 with its length" test "$code:$(hdr Content-Length)" = "200:100000"
code=$(req -X POST "$r/t/twostep/blobs/uploads/")
loc=$(abs)
check "POST starts an upload: 202 + Location + Docker-Upload-UUID" test "$code" = 202 -a -n "$loc" -a -n "$(hdr Docker-Upload-UUID)"
code=$(req -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$work/blob" "$(with_digest "$loc" "$d")")
check "PUT completes it -> 201" test "$code" = 201
check "... and a Location that serves the blob" test "$(location_digest)" = "$d"
code=$(req -X POST "$r/t/streamed/blobs/uploads/"); loc=$(abs)
code=$(req -X PATCH -H 'Content-Type: application/octet-stream' --data-binary @"$work/blob" "$loc")
check "a streamed PATCH (no Content-Range, as skopeo sends) -> 202, Range 0-99999" test "$code:$(hdr Range)" = "202:0-99999"
loc=$(abs)
code=$(req -X PUT "$(with_digest "$loc" "$d")")
check "... an empty PUT completes it -> 201" test "$code:$(location_digest)" = "201:$d"

# --- chunked, status, resume, out of order, cancel ----------------------------
# (slices through files, not pipes: with pipefail a head that stops early
# would fail the pipe)
head -c 40000 "$work/blob" > "$work/c1"; tail -c +40001 "$work/blob" > "$work/rest"
head -c 30000 "$work/rest" > "$work/c2"
code=$(req -X POST "$r/t/chunked/blobs/uploads/"); loc=$(abs)
code=$(req -X PATCH -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-39999' --data-binary @"$work/c1" "$loc")
check "PATCH chunk 1 -> 202, Range 0-39999" test "$code:$(hdr Range)" = "202:0-39999"
loc=$(abs)
code=$(req "$loc")
check "GET upload status -> 204, Range 0-39999 (where to resume)" test "$code:$(hdr Range)" = "204:0-39999"
code=$(req -X PATCH -H 'Content-Type: application/octet-stream' -H 'Content-Range: 50000-79999' --data-binary @"$work/c2" "$loc")
check "an out-of-order chunk -> 416" test "$code" = 416
code=$(req -X PATCH -H 'Content-Type: application/octet-stream' -H 'Content-Range: 40000-69999' --data-binary @"$work/c2" "$loc")
check "the next chunk in order -> 202, Range 0-69999" test "$code:$(hdr Range)" = "202:0-69999"
# a client that lost track (e.g. after a dropped connection) asks where the
# upload stands and sends the rest from that offset
code=$(req "$(abs)")
offset=$(( $(hdr Range | cut -d- -f2) + 1 ))
check "GET upload status after two chunks -> 204, Range 0-69999" test "$code:$offset" = "204:70000"
loc=$(abs)
tail -c +$((offset + 1)) "$work/blob" > "$work/c3"
code=$(req -X PUT -H 'Content-Type: application/octet-stream' -H "Content-Range: $offset-99999" \
    --data-binary @"$work/c3" "$(with_digest "$loc" "$d")")
check "resuming from the reported offset, the last chunk with PUT -> 201" test "$code" = 201
curl -s "$r/t/chunked/blobs/$d" -o "$work/got"
check "the chunked blob reads back byte for byte" cmp -s "$work/got" "$work/blob"
# --- one upload through two front ends, as a load balancer spreads it ---------
# B shares A's store: the data dir when blobs or the database are local,
# only the database and the bucket on PostgreSQL + S3
port_b=$(sw_free_port)
mkdir -p "$work/front-b/data"
b_data=(-e "s|^  data_dir: .*|  data_dir: $work/front-b/data|")
[ -n "${SW_PG_URL:-}" ] && [ -n "${SW_S3_ENDPOINT:-}" ] || b_data=()
sed -e "s|listen: 127.0.0.1:$port|listen: 127.0.0.1:$port_b|" "${b_data[@]}" "$cfg" > "$work/front-b/slipway.yaml"
sw_start_server "$work/front-b/slipway.yaml"
rb=http://127.0.0.1:$port_b/v2
path_of() { local u; u=$(hdr Location); u=${u#http://127.0.0.1:*/v2}; echo "${u#/v2}"; }
head -c 30000 "$work/blob" > "$work/p1"; tail -c +30001 "$work/blob" > "$work/p23"
head -c 30000 "$work/p23" > "$work/p2"
tail -c +60001 "$work/blob" > "$work/p3"
code=$(req -X POST "$r/t/balanced/blobs/uploads/"); up=$(path_of)
check "two front ends: POST on A -> 202" test "$code" = 202 -a -n "$up"
code=$(req -X PATCH -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-29999' --data-binary @"$work/p1" "$rb$up")
check "... PATCH on B -> 202, Range 0-29999" test "$code:$(hdr Range)" = "202:0-29999"
up=$(path_of)
code=$(req -X PATCH -H 'Content-Type: application/octet-stream' -H 'Content-Range: 30000-59999' --data-binary @"$work/p2" "$r$up")
check "... PATCH on A -> 202, Range 0-59999" test "$code:$(hdr Range)" = "202:0-59999"
up=$(path_of)
code=$(req -X PUT -H 'Content-Type: application/octet-stream' -H 'Content-Range: 60000-99999' --data-binary @"$work/p3" "$(with_digest "$rb$up" "$d")")
check "... PUT on B -> 201" test "$code:$(hdr Docker-Content-Digest)" = "201:$d"
check "... and the blob reads back byte for byte from A and from B" test \
    "$(curl -s "$r/t/balanced/blobs/$d" | sha256sum | cut -d' ' -f1):$(curl -s "$rb/t/balanced/blobs/$d" | sha256sum | cut -d' ' -f1)" = "${d#sha256:}:${d#sha256:}"

# --- storage.redirect: pulls fetch the bytes from S3 directly -----------------
if [ -n "${SW_S3_ENDPOINT:-}" ]; then
    port_c=$(sw_free_port)
    mkdir -p "$work/front-c/data"
    c_data=(-e "s|^  data_dir: .*|  data_dir: $work/front-c/data|")
    [ -n "${SW_PG_URL:-}" ] || c_data=() # SQLite: the database is in the data dir
    sed -e "s|listen: 127.0.0.1:$port|listen: 127.0.0.1:$port_c|" "${c_data[@]}" \
        -e "s|^  path_style: true|  path_style: true\n  redirect: true|" "$cfg" > "$work/front-c/slipway.yaml"
    sw_start_server "$work/front-c/slipway.yaml"
    code=$(req "http://127.0.0.1:$port_c/v2/t/balanced/blobs/$d")
    check "storage.redirect: a blob GET -> 307 to the S3 endpoint" test \
        "$code:$(hdr Location | cut -d/ -f1-3)" = "307:$SW_S3_ENDPOINT"
    check "... whose presigned URL serves the blob's bytes" test \
        "$(curl -s "$(hdr Location)" | sha256sum | cut -d' ' -f1)" = "${d#sha256:}"
    code=$(req -I "http://127.0.0.1:$port_c/v2/t/balanced/blobs/$d")
    check "... while HEAD answers itself (200 with the length)" test "$code:$(hdr Content-Length)" = "200:100000"
    expect_error_code GET "http://127.0.0.1:$port_c/v2/t/other/blobs/$d" 404 BLOB_UNKNOWN
fi

code=$(req -X POST "$r/t/cancel/blobs/uploads/"); loc=$(abs)
code=$(req -X DELETE "$loc")
check "DELETE of an upload -> 204" test "$code" = 204
expect_error_code GET "$loc" 404 BLOB_UPLOAD_UNKNOWN

# --- mount --------------------------------------------------------------------
code=$(req -X POST "$r/t/mounted/blobs/uploads/?mount=$d&from=t/mono")
check "cross-repository mount -> 201" test "$code" = 201
check "the mounted blob reads in the new repository" test "$(curl -s "$r/t/mounted/blobs/$d" | sha256sum | cut -d' ' -f1)" = "${d#sha256:}"
absent=sha256:$(printf nothing | sha256sum | cut -d' ' -f1)
code=$(req -X POST "$r/t/mounted/blobs/uploads/?mount=$absent&from=t/mono")
check "mount of an absent blob falls back to an upload session (202 + Location)" test "$code" = 202 -a -n "$(hdr Location)"

# --- ranges ---------------------------------------------------------------------
code=$(req -H 'Range: bytes=10-19' "$r/t/mono/blobs/$d")
check "Range -> 206 with Content-Range" test "$code:$(hdr Content-Range)" = "206:bytes 10-19/100000"
check "... and exactly those bytes" cmp -s "$work/b" <(tail -c +11 "$work/blob" | head -c 10)
code=$(req -H 'Range: bytes=200000-' "$r/t/mono/blobs/$d")
check "an unsatisfiable Range -> 416" test "$code" = 416

# --- manifests: four media types -----------------------------------------------
printf '{}' > "$work/config"; cd_=$(sha "$work/config")
curl -s -o /dev/null -X POST --data-binary @"$work/config" "$r/t/m/blobs/uploads/?digest=$cd_"
curl -s -o /dev/null -X POST "$r/t/m/blobs/uploads/?mount=$d&from=t/mono"
put_manifest() { # FILE MEDIATYPE REF
    req -X PUT -H "Content-Type: $2" --data-binary @"$1" "$r/t/m/manifests/$3"
}
for kind in oci docker; do
    if [ $kind = oci ]; then mt=application/vnd.oci.image.manifest.v1+json; cmt=application/vnd.oci.image.config.v1+json; lmt=application/vnd.oci.image.layer.v1.tar+gzip
    else mt=application/vnd.docker.distribution.manifest.v2+json; cmt=application/vnd.docker.container.image.v1+json; lmt=application/vnd.docker.image.rootfs.diff.tar.gzip; fi
    jq -cn --arg mt "$mt" --arg c "$cd_" --arg cmt "$cmt" --arg l "$d" --arg lmt "$lmt" \
        '{schemaVersion: 2, mediaType: $mt, config: {mediaType: $cmt, digest: $c, size: 2}, layers: [{mediaType: $lmt, digest: $l, size: 100000}]}' > "$work/$kind.json"
    md=$(sha "$work/$kind.json")
    code=$(put_manifest "$work/$kind.json" "$mt" "$kind")
    check "PUT $kind manifest -> 201 with its digest" test "$code:$(hdr Docker-Content-Digest)" = "201:$md"
    check "... and a Location that serves it" test "$(curl -s -H "Accept: $mt" "$(abs)" | sha256sum | cut -d' ' -f1)" = "${md#sha256:}"
    code=$(req -H "Accept: $mt" "$r/t/m/manifests/$kind")
    check "GET $kind by tag: its media type and bytes" test "$code:$(hdr Content-Type):$(sha "$work/b")" = "200:$mt:$md"
    check "... and Docker-Content-Digest is the sha256 of those bytes" test "$(hdr Docker-Content-Digest)" = "$md"
    code=$(req -H "Accept: $mt" "$r/t/m/manifests/$md")
    check "GET $kind by digest: the same bytes" test "$code:$(hdr Content-Type):$(sha "$work/b")" = "200:$mt:$md"
    code=$(req -I "$r/t/m/manifests/$md")
    check "HEAD $kind by digest" test "$code:$(hdr Docker-Content-Digest):$(hdr Content-Length)" = "200:$md:$(wc -c < "$work/$kind.json")"
    eval "${kind}_digest=$md; ${kind}_size=$(wc -c < "$work/$kind.json")"
done
for kind in ocindex dlist; do
    if [ $kind = ocindex ]; then mt=application/vnd.oci.image.index.v1+json; child=application/vnd.oci.image.manifest.v1+json; cd2=$oci_digest; cs=$oci_size
    else mt=application/vnd.docker.distribution.manifest.list.v2+json; child=application/vnd.docker.distribution.manifest.v2+json; cd2=$docker_digest; cs=$docker_size; fi
    jq -cn --arg mt "$mt" --arg c "$child" --arg d "$cd2" --argjson s "$cs" \
        '{schemaVersion: 2, mediaType: $mt, manifests: [{mediaType: $c, digest: $d, size: $s, platform: {os: "linux", architecture: "amd64"}}]}' > "$work/$kind.json"
    code=$(put_manifest "$work/$kind.json" "$mt" "$kind")
    check "PUT $kind -> 201" test "$code" = 201
    code=$(req "$r/t/m/manifests/$kind")
    check "GET $kind returns its media type" test "$code:$(hdr Content-Type)" = "200:$mt"
done

# --- referrers ----------------------------------------------------------------------
for at in application/vnd.example.sbom application/vnd.example.sig; do
    jq -cn --arg c "$cd_" --arg s "$oci_digest" --argjson n "$oci_size" --arg at "$at" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", artifactType: $at,
          config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $c, size: 2},
          layers: [{mediaType: "application/vnd.oci.empty.v1+json", digest: $c, size: 2}],
          subject: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $s, size: $n}}' > "$work/ref.json"
    code=$(req -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$work/ref.json" "$r/t/m/manifests/$(sha "$work/ref.json")")
    check "PUT a manifest with a subject -> 201 + OCI-Subject" test "$code:$(hdr OCI-Subject)" = "201:$oci_digest"
done
code=$(req "$r/t/m/referrers/$oci_digest")
check "referrers lists both" test "$code:$(jq '.manifests | length' "$work/b"):$(hdr Content-Type)" = "200:2:application/vnd.oci.image.index.v1+json"
code=$(req "$r/t/m/referrers/$oci_digest?artifactType=application/vnd.example.sbom")
check "referrers filtered by artifactType" test "$code:$(jq -r '.manifests | map(.artifactType) | join(",")' "$work/b"):$(hdr OCI-Filters-Applied)" = "200:application/vnd.example.sbom:artifactType"
code=$(req "$r/t/m/referrers/$docker_digest")
check "referrers of a manifest without any: 200 and an empty index" test "$code:$(jq -c '[.schemaVersion, .mediaType, .manifests]' "$work/b")" = '200:[2,"application/vnd.oci.image.index.v1+json",[]]'
expect_error_code GET "$r/t/m/referrers/sha256:xyz" 400 DIGEST_INVALID

# --- pagination ---------------------------------------------------------------------
for i in 1 2 3 4 5; do curl -s -o /dev/null -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" --data-binary @"$work/oci.json" "$r/t/m/manifests/p$i"; done
code=$(req "$r/t/m/tags/list?n=2")
check "tags/list n=2: two tags and a Link" test "$code:$(jq '.tags | length' "$work/b")" = "200:2" -a -n "$(hdr Link)"
first_two=$(jq -r '.tags | join(",")' "$work/b")
code=$(req "$r/t/m/tags/list?n=2&last=$(jq -r '.tags[1]' "$work/b")")
check "tags/list with last continues after it" test "$(jq -r '.tags[0]' "$work/b")" \> "${first_two##*,}"
code=$(req "$r/t/m/tags/list?n=0")
check "tags/list n=0 is an empty list" test "$code:$(jq '.tags | length' "$work/b")" = "200:0"
expect_error_code GET "$r/t/m/tags/list?n=51" 400 PAGINATION_NUMBER_INVALID
code=$(req "$r/_catalog?n=2")
check "_catalog n=2 with a Link" test "$code:$(jq '.repositories | length' "$work/b")" = "200:2" -a -n "$(hdr Link)"
code=$(req "$r/_catalog")
check "_catalog lists the repositories" test "$(jq -r '.repositories | index("t/m") != null' "$work/b")" = true
# following the Link headers page by page gives the whole list, in order, once
walk_pages() { # PATH JQ-FIELD: prints every item of every page, one a line
    local url=$r/${1#/v2/} link pages=0
    while [ -n "$url" ] && [ "$pages" -lt 50 ]; do
        [ "$(req "$url")" = 200 ] || { echo "HTTP error on $url"; return; }
        jq -r ".$2[]" "$work/b"
        link=$(hdr Link | sed -n 's/^<\([^>]*\)>; *rel="next"$/\1/p')
        url=$link
        [[ -z $url || $url == http* ]] || url=http://127.0.0.1:$port$url
        pages=$((pages + 1))
    done
}
all_tags=$(curl -s "$r/t/m/tags/list" | jq -r '.tags[]')
check "tags/list n=2 pages followed by Link: every tag once, in order" test \
    "$(walk_pages "/v2/t/m/tags/list?n=2" tags)" = "$all_tags"
all_repos=$(curl -s "$r/_catalog" | jq -r '.repositories[]')
check "_catalog n=2 pages followed by Link: every repository once, in order" test \
    "$(walk_pages "/v2/_catalog?n=2" repositories)" = "$all_repos"
check "... (and there are more than two pages of them)" test "$(wc -l <<< "$all_repos")" -gt 4

# --- every error a client can cause ---------------------------------------------------
expect_error_code GET "$r/t/m/blobs/$absent" 404 BLOB_UNKNOWN
req -X POST "$r/t/m/blobs/uploads/" > /dev/null; upload=$(abs)
# as Distribution does, a malformed or mismatched Content-Range is a 416
expect_error_code PATCH "$upload" 416 BLOB_UPLOAD_INVALID -H 'Content-Range: bytes=garbage' --data-binary 'abc'
expect_error_code PATCH "$upload" 416 BLOB_UPLOAD_INVALID -H 'Content-Range: 0-9' --data-binary 'abc'
expect_error_code PUT "$r/t/m/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=$d" 404 BLOB_UPLOAD_UNKNOWN
expect_error_code POST "$r/t/m/blobs/uploads/?digest=$absent" 400 DIGEST_INVALID --data-binary 'not what the digest says'
expect_error_code POST "$r/t/m/blobs/uploads/?digest=sha256:nothex" 400 DIGEST_INVALID --data-binary 'x'
req -X POST "$r/t/m/blobs/uploads/" > /dev/null; loc=$(abs)
expect_error_code PUT "$(with_digest "$loc" "$absent")" 400 DIGEST_INVALID -H 'Content-Type: application/octet-stream' --data-binary 'not what the digest says'
expect_error_code PUT "$r/t/m/manifests/$absent" 400 DIGEST_INVALID -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$work/oci.json"
expect_error_code PUT "$r/t/m/manifests/bad%20tag" 400 TAG_INVALID -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$work/oci.json"
jq -cn --arg c "$cd_" --arg l "$absent" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: 2}, layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: 7}]}' > "$work/missing.json"
expect_error_code PUT "$r/t/m/manifests/missing" 400 MANIFEST_BLOB_UNKNOWN -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$work/missing.json"
expect_error_code PUT "$r/t/m/manifests/bad" 400 MANIFEST_INVALID -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary '{not json'
expect_error_code GET "$r/t/m/manifests/nosuchtag" 404 MANIFEST_UNKNOWN
expect_error_code GET "$r/UPPER/case/tags/list" 400 NAME_INVALID
expect_error_code GET "$r/t/../etc/tags/list" 400 NAME_INVALID --path-as-is
expect_error_code GET "$r/t/%2e%2e/etc/tags/list" 400 NAME_INVALID
expect_error_code GET "$r/t/a..b/tags/list" 400 NAME_INVALID
expect_error_code GET "$r/no/such/repo/tags/list" 404 NAME_UNKNOWN
head -c $((4 * 1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' > "$work/huge.json"
expect_error_code PUT "$r/t/m/manifests/huge" 413 SIZE_INVALID -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$work/huge.json"
code=$(req -X DELETE "$r/t/mono/blobs/$d")
check "blob DELETE -> 202" test "$code" = 202
expect_error_code GET "$r/t/mono/blobs/$d" 404 BLOB_UNKNOWN
code=$(req -X DELETE "$r/t/m/manifests/p1")
check "manifest DELETE by tag -> 202" test "$code" = 202
expect_error_code GET "$r/t/m/manifests/p1" 404 MANIFEST_UNKNOWN
check "... the manifest itself stays (another tag still reads)" test "$(curl -s -o /dev/null -w '%{http_code}' "$r/t/m/manifests/p2")" = 200
dlist_digest=$(sha "$work/dlist.json")
code=$(req -X DELETE "$r/t/m/manifests/$dlist_digest")
check "manifest DELETE by digest -> 202" test "$code" = 202
expect_error_code GET "$r/t/m/manifests/$dlist_digest" 404 MANIFEST_UNKNOWN
expect_error_code GET "$r/t/m/manifests/dlist" 404 MANIFEST_UNKNOWN

# TOOMANYREQUESTS: beyond server.max_connections_per_ip (64) open connections
# from one address the server answers 429 (the limits in all are in 170-front-door)
python3 - "$port" <<'PY' > "$work/429"
import socket, sys, time, urllib.request, urllib.error
port = int(sys.argv[1])
held = []
for _ in range(70):
    s = socket.create_connection(("127.0.0.1", port)); held.append(s)
time.sleep(0.5)
try:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=5); print("200")
except urllib.error.HTTPError as e:
    print(e.code, "Retry-After:", e.headers.get("Retry-After"), e.read().decode())
except Exception as e:
    print("error", e)
for s in held: s.close()
PY
check "429 TOOMANYREQUESTS with Retry-After above the per-address connection limit" grep -q '^429 Retry-After: [0-9].*TOOMANYREQUESTS' "$work/429"
sleep 1
code=$(req "$r/")
check "... and 200 again once they are closed" test "$code" = 200

sw_finish
