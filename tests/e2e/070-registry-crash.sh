#!/usr/bin/env bash
# Crash safety and concurrency: kill -9 during a large upload leaves nothing
# half visible and the server serves again after a restart; concurrent
# pushes of the same blob and concurrent tag updates are safe.
source "$(dirname "$0")/lib.sh"
sw_time_limit 240

work=$(sw_tmpdir)
port=$(sw_free_port)
cfg=$(sw_write_config "$work/srv" "$port" "registry: { delete: true }")
data=$work/srv/data
r=http://127.0.0.1:$port/v2
sw_start_server "$cfg"

head -c $((200 * 1024 * 1024)) /dev/urandom > "$work/big"
d=sha256:$(sha256sum "$work/big" | cut -d' ' -f1)

# stream the blob slowly and kill the server in the middle of it
loc=$(curl -s -D - -o /dev/null -X POST "$r/crash/test/blobs/uploads/" | grep -i '^Location:' | cut -d' ' -f2 | tr -d '\r')
[[ $loc == http* ]] || loc=http://127.0.0.1:$port$loc
curl -s -o /dev/null -w '%{size_upload}' --limit-rate 20M -X PATCH -H 'Content-Type: application/octet-stream' \
    --data-binary @"$work/big" "$loc" > "$work/sent" &
upload=$!
# kill once the server has written some of it (on a loaded machine curl may
# take seconds to get going; the server writes in 1 MiB steps)
uuid=${loc##*/}; uuid=${uuid%%\?*}
for _ in $(seq 300); do
    [ "$(stat -c %s "$data/uploads/$uuid" 2> /dev/null || echo 0)" -ge $((2 * 1024 * 1024)) ] && break
    sleep 0.1
done
kill -9 "$SW_SERVER_PID"
wait "$upload" 2> /dev/null || true
wait "$SW_SERVER_PID" 2> /dev/null || true
sent=$(cat "$work/sent")
check "killed the server with SIGKILL in the middle of a 200 MiB upload ($((${sent:-0} / 1048576)) MiB sent)" \
    test "${sent:-0}" -gt 0 -a "${sent:-0}" -lt $((200 * 1024 * 1024))

if sw_start_server "$cfg"; then ok "the server starts again on the same data dir"
else fail "the server does not start again after SIGKILL"; sw_finish; exit 1; fi
check "the half-uploaded blob is not visible" test "$(curl -s -o /dev/null -w '%{http_code}' -I "$r/crash/test/blobs/$d")" = 404
check "no partial file under blobs/" test ! -e "$data/blobs/sha256/${d:7:2}/${d#sha256:}"
wrong=
for f in $(find "$data/blobs" -type f); do
    [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || wrong="$wrong $f"
done
check "every file under blobs/ hashes to its name" test -z "$wrong"
check "the database is intact" test "$(sqlite3 "$data/slipway.db" 'PRAGMA integrity_check')" = ok
# the interrupted session either survived (then it reports none of the
# PATCH that never finished: a chunk counts once it has fully arrived, on
# every blob backend; and it resumes from there) or is gone; either way
# never a 5xx
code=$(curl -s -D "$work/h" -o "$work/b" -w '%{http_code}' "$loc")
range=$(grep -i '^Range:' "$work/h" | cut -d' ' -f2 | tr -d '\r')
if [ "$code" = 204 ]; then
    have=0
    check "the interrupted session reports none of the unfinished PATCH (Range $range)" test "$range" = 0-0
    tail -c +$((have + 1)) "$work/big" > "$work/rest"
    sep='?'; [[ $loc == *\?* ]] && sep='&'
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
        -H "Content-Range: $have-$((200 * 1024 * 1024 - 1))" --data-binary @"$work/rest" "$loc${sep}digest=$d")
    check "... and resumes to a complete blob (201)" test "$code" = 201
    check "... whose bytes have the right digest" test \
        "sha256:$(curl -s "$r/crash/test/blobs/$d" | sha256sum | cut -d' ' -f1)" = "$d"
    # unlink and collect it, so the fresh push below writes the bytes anew
    curl -s -o /dev/null -X DELETE "$r/crash/test/blobs/$d"
    "$SLIPWAY_BIN" gc --config "$cfg" --grace 0s > /dev/null
    check "... (collected again before the fresh push)" test ! -e "$data/blobs/sha256/${d:7:2}/${d#sha256:}"
    rm -f "$work/rest"
else
    check "the interrupted session is gone: 404 BLOB_UPLOAD_UNKNOWN" test "$code:$(jq -r '.errors[0].code' "$work/b")" = "404:BLOB_UPLOAD_UNKNOWN"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary @"$work/big" "$r/crash2/test/blobs/uploads/?digest=$d")
check "the server serves again: a fresh push of the same blob succeeds" test "$code" = 201
check "... and reads back with the right digest" test \
    "sha256:$(curl -s "$r/crash2/test/blobs/$d" | sha256sum | cut -d' ' -f1)" = "$d"

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
readable=0
for i in 1 2 3 4 5; do [ "$(curl -s -o /dev/null -w '%{http_code}' -I "$r/conc/r$i/blobs/$ds")" = 200 ] && readable=$((readable + 1)); done
check "... and each of the five repositories has it" test "$readable" = 5
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
check "... and GET by tag serves that manifest's bytes" test \
    "sha256:$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$r/conc/tags/manifests/latest" | sha256sum | cut -d' ' -f1)" = "$final"

sw_finish
