#!/usr/bin/env bash
# Crash safety and concurrency: kill -9 during a large upload leaves nothing
# half visible and the server serves again after a restart; concurrent
# pushes of the same blob and concurrent tag updates are safe.
source "$(dirname "$0")/lib.sh"

work=$(sw_tmpdir)
port=$(sw_free_port)
cfg=$(sw_write_config "$work/srv" "$port")
data=$work/srv/data
r=http://127.0.0.1:$port/v2
sw_start_server "$cfg"

head -c $((200 * 1024 * 1024)) /dev/urandom > "$work/big"
d=sha256:$(sha256sum "$work/big" | cut -d' ' -f1)

# stream the blob slowly and kill the server in the middle of it
loc=$(curl -s -D - -o /dev/null -X POST "$r/crash/test/blobs/uploads/" | grep -i '^Location:' | cut -d' ' -f2 | tr -d '\r')
[[ $loc == http* ]] || loc=http://127.0.0.1:$port$loc
curl -s -o /dev/null --limit-rate 20M -X PATCH -H 'Content-Type: application/octet-stream' \
    --data-binary @"$work/big" "$loc" &
upload=$!
sleep 2
kill -9 "$SW_SERVER_PID"
wait "$upload" 2> /dev/null || true
wait "$SW_SERVER_PID" 2> /dev/null || true
ok "killed the server with SIGKILL during a 200 MiB upload"

sw_start_server "$cfg"
ok "the server starts again on the same data dir"
check "the half-uploaded blob is not visible" test "$(curl -s -o /dev/null -w '%{http_code}' -I "$r/crash/test/blobs/$d")" = 404
check "no partial file under blobs/" test ! -e "$data/blobs/sha256/${d:7:2}/${d#sha256:}"
check "the database is intact" test "$(sqlite3 "$data/slipway.db" 'PRAGMA integrity_check')" = ok
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary @"$work/big" "$r/crash/test/blobs/uploads/?digest=$d")
check "a fresh push of the same blob succeeds" test "$code" = 201
check "... and reads back with the right digest" test \
    "sha256:$(curl -s "$r/crash/test/blobs/$d" | sha256sum | cut -d' ' -f1)" = "$d"

# five concurrent pushes of one blob
head -c $((8 * 1024 * 1024)) /dev/urandom > "$work/same"
ds=sha256:$(sha256sum "$work/same" | cut -d' ' -f1)
jobs_=()
for i in 1 2 3 4 5; do
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary @"$work/same" "$r/conc/r$i/blobs/uploads/?digest=$ds" > "$work/code$i" &
    jobs_+=($!)
done
wait "${jobs_[@]}"
check "five concurrent pushes of the same blob all succeed" test "$(cat "$work"/code* | sort -u)" = 201
check "one file holds it, with the right content" test \
    "sha256:$(sha256sum "$data/blobs/sha256/${ds:7:2}/${ds#sha256:}" | cut -d' ' -f1)" = "$ds"

# ten concurrent manifest PUTs to one tag
printf '{}' > "$work/config"; dc=sha256:$(sha256sum "$work/config" | cut -d' ' -f1)
curl -s -o /dev/null -X POST --data-binary @"$work/config" "$r/conc/tags/blobs/uploads/?digest=$dc"
digests=()
for i in $(seq 1 10); do
    jq -cn --arg c "$dc" --arg i "$i" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: 2}, layers: [],
        annotations: {n: $i}}' > "$work/m$i.json"
    digests+=("sha256:$(sha256sum "$work/m$i.json" | cut -d' ' -f1)")
done
jobs_=()
for i in $(seq 1 10); do
    curl -s -o /dev/null -w '%{http_code}\n' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary @"$work/m$i.json" "$r/conc/tags/manifests/latest" > "$work/put$i" &
    jobs_+=($!)
done
wait "${jobs_[@]}"
check "ten concurrent PUTs to one tag all succeed" test "$(cat "$work"/put* | sort -u)" = 201
final=$(curl -s -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$r/conc/tags/manifests/latest" | grep -i '^Docker-Content-Digest' | cut -d' ' -f2 | tr -d '\r')
found=0
for x in "${digests[@]}"; do [ "$x" = "$final" ] && found=1; done
check "the tag points at one of the pushed manifests" test "$found" = 1

sw_finish
