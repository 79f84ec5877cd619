#!/usr/bin/env bash
# Config reload without a restart: a repository added to the config and a
# SIGHUP (through `slipway reload`) make a push to it build; a run in flight
# keeps the rule it started with; a broken config is refused with its error
# while the old one stays and builds go on.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 240

work=$(sw_tmpdir)
sw_busybox_tar "$work/rootfs.tar"
src=$work/src/hello
svc_git_init "$src"
cat > "$src/Dockerfile.slow" <<'EOF'
FROM test/busybox:1
RUN sleep 4
COPY hello.txt /hello.txt
EOF
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "a slow Dockerfile"
first=$(svc_git -C "$src" rev-parse HEAD)

port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
base_yaml="server:
  listen: 127.0.0.1:$port
  data_dir: $work/data
builder: { network: none }
workers: 1"
write_cfg() { # the repos: section
    printf '%s\nrepos:\n%s\n' "$base_yaml" "$1" > "$work/slipway.yaml"
}
repo_a="  - name: demo/a
    git: file://$src
    secret: secret-a
    rules:
      - { source_type: branch, source: main, tags: [latest] }
      - { source_type: branch, source: slow, dockerfile: Dockerfile.slow, tags: [first-rule] }"
write_cfg "$repo_a"
cfg=$work/slipway.yaml
mkdir -p "$work/data"
"$SLIPWAY_BIN" import --config "$cfg" "tar:$work/rootfs.tar" test/busybox:1 > /dev/null
sw_start_server "$cfg"

svc_hook "$SVC_BASE/hooks/github/demo/b" refs/heads/main "$first" d-b-1 secret-b
check "before the reload, demo/b is unknown ($SVC_STATUS)" test "$SVC_STATUS" = 404

# --- a run in flight while the config changes -----------------------------------
svc_git -C "$src" branch -f slow "$first"
svc_hook "$SVC_BASE/hooks/github/demo/a" refs/heads/slow "$first" d-a-slow secret-a
slow=$(jq -r '.runs[0].id // .run_id // .id // empty' <<< "$SVC_BODY")
[ -n "$slow" ] || slow=$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/a&limit=1" | jq -r '.runs[0].id')
for _ in $(seq 100); do
    [ "$(svc_run_field "$slow" .status)" = running ] && break
    sleep 0.1
done
check "a slow run of demo/a is running ($slow)" test "$(svc_run_field "$slow" .status)" = running

# --- add demo/b, change demo/a's slow rule, reload ----------------------------------
write_cfg "$repo_a
  - name: demo/b
    git: file://$src
    secret: secret-b
    rules:
      - { source_type: branch, source: main, tags: [from-b] }"
sed -i 's/tags: \[first-rule\]/tags: [second-rule]/' "$cfg"
out=$("$SLIPWAY_BIN" reload --config "$cfg" 2>&1) && rc=0 || rc=$?
check "slipway reload asks the server to re-read its config ($out)" test "$rc" = 0
for _ in $(seq 50); do grep -q "config reloaded" "$SW_SERVER_LOG" && break; sleep 0.1; done
check "the server log says it reloaded, with the number of repositories" \
    grep -q "config reloaded from .*: 2 repositories" "$SW_SERVER_LOG"
check "the run in flight finishes" test "$(svc_wait "$slow")" = succeeded
check "... with the rule it started with (its tag, not the new one)" \
    test "$(svc_run_field "$slow" '.tags | join(",")')" = first-rule
svc_hook "$SVC_BASE/hooks/github/demo/b" refs/heads/main "$first" d-b-2 secret-b
check "a push to the added repository is accepted ($SVC_STATUS)" test "$SVC_STATUS" = 202
run_b=$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/b&limit=1" | jq -r '.runs[0].id')
check "... and builds ($run_b)" test "$(svc_wait "$run_b")" = succeeded
check "... with the added repository's tag" test -n "$(svc_tag_digest demo/b:from-b)"
check "the repository list shows it" \
    sh -c "curl -s '$SVC_BASE/api/v1/repos' | jq -e '.repos | map(.name) | index(\"demo/b\")' > /dev/null"

# --- a broken config is refused, the old one stays ------------------------------------
good=$(cat "$cfg")
printf '%s\n  - name: demo/c\n    gitt: file://%s\n' "$good" "$src" > "$cfg"
"$SLIPWAY_BIN" reload --config "$cfg" > "$work/reload.out" 2>&1 && rc=0 || rc=$?
check "slipway reload refuses a broken config with its error (exit $rc)" \
    sh -c "[ $rc = 1 ] && grep -q 'slipway.yaml:[0-9]*: .*gitt: unknown key' '$work/reload.out'"
kill -HUP "$SW_SERVER_PID"
for _ in $(seq 50); do grep -q "config reload refused" "$SW_SERVER_LOG" && break; sleep 0.1; done
check "a SIGHUP with the broken file is refused in the server log, naming the error" \
    grep -q "config reload refused, the running config stays: .*gitt" "$SW_SERVER_LOG"
second=$(svc_commit "$src" "second")
svc_hook "$SVC_BASE/hooks/github/demo/b" refs/heads/main "$second" d-b-3 secret-b
run_b2=$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/b&limit=1" | jq -r '.runs[0].id')
check "builds go on with the old config (demo/b still builds: $SVC_STATUS)" \
    test "$SVC_STATUS" = 202 -a "$(svc_wait "$run_b2")" = succeeded
check "the server is still up" kill -0 "$SW_SERVER_PID"

sw_finish
