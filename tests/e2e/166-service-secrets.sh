#!/usr/bin/env bash
# Build secrets in the build service: repos[].secrets gives a repository's
# builds its secrets (env: and file: forms); RUN sees them, the run log
# shows them masked, and neither the API, the database, the image nor any
# file of the data directory holds them. Another repository's build does
# not get them.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 120

work=$(sw_tmpdir)
SECRET_ENV="svc-env-secret-$$-k2"
SECRET_FILE="svc-file-secret-$$-m5"
printf '%s' "$SECRET_FILE" > "$work/npmrc"
export SLIPWAY_TEST_SVC_SECRET=$SECRET_ENV

src=$work/src
mkdir -p "$src"
svc_git -C "$src" init -q
cat > "$src/Dockerfile" << 'DOCKERFILE'
FROM test/busybox:1
RUN --mount=type=secret,id=tok,required true
RUN --mount=type=secret,id=tok,env=TOK --mount=type=secret,id=npmrc,target=/root/.npmrc sh -c 'echo "tok=$TOK npmrc=$(cat /root/.npmrc)"; echo ${#TOK} > /toklen; wc -c < /root/.npmrc > /npmrclen'
DOCKERFILE
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "uses secrets"
sha=$(svc_git -C "$src" rev-parse HEAD)

port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
builder: { network: none }
repos:
  - name: demo/secrets
    git: file://$src
    secret: hook-secret
    secrets:
      tok: env:SLIPWAY_TEST_SVC_SECRET
      npmrc: file:$work/npmrc
    rules:
      - { source_type: branch, source: main, tags: [latest] }
  - name: demo/other
    git: file://$src
    secret: hook-secret
    rules:
      - { source_type: branch, source: main, tags: [latest] }
")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"

svc_hook "$SVC_BASE/hooks/github/demo/secrets" refs/heads/main "$sha" d-1 hook-secret
run=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
status=$(svc_wait "$run")
[ "$status" = succeeded ] && ok "a build with repos[].secrets succeeds" ||
    fail "run $run: $status: $(svc_run_field "$run" .error)"
same() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', expected '$3'"; fi; }
same "RUN sees the env secret" "$(svc_file demo/secrets:latest toklen)" "${#SECRET_ENV}"
same "RUN sees the file secret" "$(svc_file demo/secrets:latest npmrclen | tr -d ' ')" "${#SECRET_FILE}"
log=$(curl -s "$SVC_BASE/api/v1/runs/$run/log")
grep -q 'tok=\*\*\* npmrc=\*\*\*' <<< "$log" && ok "the run log masks both secrets" ||
    fail "log: $(grep 'tok=' <<< "$log")"
api=$(curl -s "$SVC_BASE/api/v1/runs/$run")
if grep -aqe "$SECRET_ENV" -e "$SECRET_FILE" <<< "$log$api"; then
    fail "the API shows a secret"
else
    ok "neither the run nor its log in the API shows a secret"
fi
found=""
while IFS= read -r -d '' f; do
    if { gzip -dc "$f" 2> /dev/null || zstd -dc "$f" 2> /dev/null || cat "$f"; } |
            grep -aqe "$SECRET_ENV" -e "$SECRET_FILE"; then
        found="$found $f"
    fi
done < <(find "$work/data" -type f -print0)
same "no blob, log or file of the data dir holds a secret" "$found" ""
if sqlite3 "$work/data/slipway.db" .dump | grep -aqe "$SECRET_ENV" -e "$SECRET_FILE"; then
    fail "the database holds a secret"
else
    ok "the database holds no secret"
fi

# another repository: no secrets, so the required one fails its build
svc_hook "$SVC_BASE/hooks/github/demo/other" refs/heads/main "$sha" d-2 hook-secret
run2=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
status=$(svc_wait "$run2")
err=$(svc_run_field "$run2" .error)
[ "$status" = failed ] && grep -q "secret tok: not provided" <<< "$err" &&
    ok "another repository's build does not get the secrets" || fail "run $run2: $status: $err"

# a literal value in the config is refused, naming the key
bad=$(sw_tmpdir)
printf 'server:\n  data_dir: %s/data\nrepos:\n  - name: demo/x\n    git: file:///srv/x\n    secret: s\n    secrets: { tok: plain-value }\n    rules:\n      - { source_type: branch, source: main }\n' \
    "$bad" > "$bad/slipway.yaml"
if out=$(timeout 10 "$SLIPWAY_BIN" serve --config "$bad/slipway.yaml" 2>&1); then
    fail "a literal secret value was accepted"
else
    grep -q "secrets" <<< "$out" && grep -q "expected env:NAME or file:PATH" <<< "$out" &&
        ok "a literal secret value is refused naming the key" || fail "literal: $out"
fi

sw_finish
