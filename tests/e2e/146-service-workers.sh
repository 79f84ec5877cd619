#!/usr/bin/env bash
# 146-service-workers.sh - the build service's durability and integrations:
# separate `slipway worker` processes, a worker killed with SIGKILL
# mid-build (its run is retried by another worker and succeeds), the server
# killed with runs queued (none is lost), cancel, commit statuses posted to
# a local server playing GitHub's API, base-image triggers (once, no loops),
# GitLab and Gitea deliveries, and auth on the API's writes.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 240

work=$(sw_tmpdir)
src=$work/app
svc_git_init "$src"
svc_slow_dockerfile "$src"
cat > "$src/Dockerfile.child" <<'EOF'
FROM demo/base:latest
RUN cat /hello.txt > /child.txt
EOF
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "more Dockerfiles"
head=$(svc_git -C "$src" rev-parse HEAD)
svc_git -C "$src" branch slow
svc_git -C "$src" branch child

# a private copy of the repository over HTTP, for token credentials
private_root=$work/private
mkdir -p "$private_root"
git clone -q --bare "$src" "$private_root/app.git"
http_port=$(sw_free_port)
svc_git_http "$http_port" "$private_root" tok-123-secret
export SVC_TEST_GIT_TOKEN=tok-123-secret SVC_TEST_BAD_TOKEN=wrong-token

status_port=$(sw_free_port)
svc_listener "$status_port" "$work/status.log"
port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
printf 'alice:%s\n' "$(htpasswd -nbB alice pw | cut -d: -f2)" > "$work/htpasswd"
cfg=$(sw_write_config "$work" "$port" "
  public_url: http://ci.example:8080
registry:
  local_hosts: [127.0.0.1:$port]
  auth: { htpasswd: $work/htpasswd, anonymous_pull: true }
workers: 0
runs: { lease: 3s, max_attempts: 3 }
repos:
  - name: demo/app
    git: file://$src
    secret: s3cret
    status_token: gh-token-123
    status_api: http://127.0.0.1:$status_port/api/v3
    rules:
      - { source_type: branch, source: main, tags: [latest] }
      - { source_type: branch, source: slow, dockerfile: Dockerfile.slow, tags: [slow] }
  - name: demo/base
    git: file://$src
    secret: base-secret
    rules:
      - { source_type: branch, source: main, tags: [latest] }
      - { source_type: branch, source: slow, dockerfile: Dockerfile.slow, tags: [latest] }
  - name: demo/child
    git: file://$src
    secret: gl-token
    rules:
      - { source_type: branch, source: child, dockerfile: Dockerfile.child, tags: [latest] }
  - name: demo/private
    git: http://127.0.0.1:$http_port/app.git
    token: env:SVC_TEST_GIT_TOKEN
    insecure: true   # the test server speaks plain http
    rules:
      - { source_type: branch, source: main, tags: [latest] }
  - name: demo/private-bad
    git: http://127.0.0.1:$http_port/app.git
    token: env:SVC_TEST_BAD_TOKEN
    insecure: true   # the test server speaks plain http
    rules:
      - { source_type: branch, source: main, tags: [latest] }
  - name: demo/gitea
    git: file://$src/
    secret: gitea-secret
    rules:
      - { source_type: branch, source: main, tags: [latest] }
")
# sw_write_config put public_url after data_dir under server:
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"
auth=(-u alice:pw)

start_worker() { # NAME
    "$SLIPWAY_BIN" worker --config "$cfg" --name "$1" > "$work/$1.log" 2>&1 &
    eval "pid_$1=$!"
    SW_CLEANUP_CMDS+=("kill -9 $! 2>/dev/null")
}

# --- API writes need a login when auth is configured ----------------------------------
code=$(curl -s -o "$work/r" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"repo":"demo/app","branch":"main"}' "$SVC_BASE/api/v1/runs")
[ "$code" = 401 ] && [ "$(jq -r .error.code "$work/r")" = UNAUTHORIZED ] &&
    ! grep -qi '^www-authenticate' <(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' -d '{}' "$SVC_BASE/api/v1/runs") &&
    ok "a manual run without login is 401 (no Basic challenge)" || fail "no login: $code $(cat "$work/r")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$SVC_BASE/api/v1/runs")
check "reading runs is open with anonymous pull" test "$code" = 200

# --- a worker killed with SIGKILL mid-build --------------------------------------------
start_worker w1
run=$(SLIPWAY_USER=alice SLIPWAY_PASSWORD=pw "$SLIPWAY_BIN" run demo/app --branch slow --server "$SVC_BASE")
for _ in $(seq 100); do
    curl -s "$SVC_BASE/api/v1/runs/$run/log" | grep -q "tick 2" && break
    sleep 0.1
done
[ "$(svc_run_field "$run" .status)" = running ] && ok "run $run is running on worker w1" ||
    fail "run $run: $(svc_run_field "$run" .status)"
kill -9 "$pid_w1"
wait "$pid_w1" 2>/dev/null || true
sleep 0.3
start_worker w2
check "another worker finishes the run" test "$(svc_wait "$run")" = succeeded
# the sweep of the new worker removed the dead one's container (bundles in
# /run/slipway/<id>/ name their owner's pid; tests/e2e/155 checks the rest)
left=$(grep -l "^$pid_w1 " /run/slipway/*/owner 2> /dev/null || true)
check "the killed worker's container is gone (swept)" test -z "$left"
check "it took two attempts" test "$(svc_run_field "$run" .attempts)" = 2
grep -q "attempt 2, worker w2" <(curl -s "$SVC_BASE/api/v1/runs/$run/log") &&
    ok "the log shows the second attempt on w2" || fail "log: $(curl -s "$SVC_BASE/api/v1/runs/$run/log")"
grep -Eq "removed [0-9]+ scratch director" "$work/w2.log" && ok "w2 swept the dead worker's scratch directory" ||
    fail "w2 log: $(cat "$work/w2.log")"
grep -c "$work/data/tmp" /proc/mounts > "$work/mounts" || true
check "no mount is left behind" test "$(cat "$work/mounts")" = 0
# --- commit statuses ------------------------------------------------------------------
# the courier of a worker sends them after the run; wait before stopping w2
for _ in $(seq 150); do
    grep -q '"state": "success"' "$work/status.log" 2>/dev/null && break
    sleep 0.1
done
kill "$pid_w2"; wait "$pid_w2" 2>/dev/null || true
statuses=$(jq -c "select(.path == \"/api/v3/repos/acme/hello/statuses/$head\" or (.path | endswith(\"/statuses/$head\"))) | [.body.state, .body.context, .auth, .body.target_url]" "$work/status.log")
grep -q "\"pending\",\"slipway/demo/app\",\"Bearer gh-token-123\",\"http://ci.example:8080/runs/$run\"" <<< "$statuses" &&
    grep -q "\"success\",\"slipway/demo/app\"" <<< "$statuses" &&
    ok "GitHub's API got pending then success for the commit" || fail "statuses: $(cat "$work/status.log")"
order=$(jq -r "select(.body.target_url == \"http://ci.example:8080/runs/$run\") | .body.state" "$work/status.log" | tr '\n' ' ')
[[ "$order" =~ ^pending\ (pending\ )?success\ $ ]] && ok "in that order (a retried run says pending again)" ||
    fail "order of statuses: $order"
check "the run lists its delivered statuses" \
    test "$(svc_run_field "$run" '[.deliveries[] | select(.kind == "status") | .state] | unique | join(",")')" = delivered
jq -r .path "$work/status.log" | grep -qx "/api/v3/repos$(dirname "$src" | sed 's|.*/||;s|^|/|')/app/statuses/$head" &&
    ok "owner/repo come from the git URL when no webhook named them" || fail "paths: $(jq -r .path "$work/status.log")"

# --- the server killed with runs queued loses none ----------------------------------------
ids=()
for b in main slow main; do
    ids+=("$(SLIPWAY_USER=alice SLIPWAY_PASSWORD=pw "$SLIPWAY_BIN" run demo/base --branch "$b" --server "$SVC_BASE")")
done
kill -9 "$SW_SERVER_PID"; wait "$SW_SERVER_PID" 2>/dev/null || true
sw_start_server "$cfg"
queued=$(curl -s "$SVC_BASE/api/v1/runs?status=queued" | jq -r '[.runs[].id] | sort | join(" ")')
superseded=$(svc_run_field "${ids[0]}" .status)
[ "$superseded" = superseded ] && ok "a newer run of the same branch superseded the queued one" ||
    fail "first run: $superseded"
[ "$queued" = "$(printf '%s\n' "${ids[1]}" "${ids[2]}" | sort | tr '\n' ' ' | sed 's/ $//')" ] &&
    ok "after the restart the queued runs are still there" || fail "queued after restart: $queued (${ids[*]})"
start_worker w3
for _ in $(seq 50); do
    [ "$(curl -s "$SVC_BASE/api/v1/status" | jq -c '[.worker_processes, .workers]')" = "[1,1]" ] && break
    sleep 0.1
done
check "the status counts the separate worker process" \
    test "$(curl -s "$SVC_BASE/api/v1/status" | jq -c '[.worker_processes, .workers]')" = "[1,1]"
check "the first of them succeeds" test "$(svc_wait "${ids[1]}")" = succeeded
check "the second too" test "$(svc_wait "${ids[2]}")" = succeeded

# --- base-image triggers --------------------------------------------------------------------
child=$(SLIPWAY_USER=alice SLIPWAY_PASSWORD=pw "$SLIPWAY_BIN" run demo/child --branch child --server "$SVC_BASE")
check "demo/child builds FROM demo/base:latest" test "$(svc_wait "$child")" = succeeded
before=$(svc_runs_count)
# the same digest again: nothing to rebuild
sk copy -q --src-tls-verify=false --dest-tls-verify=false --dest-creds alice:pw \
    "docker://127.0.0.1:$port/demo/base:latest" "docker://127.0.0.1:$port/demo/base:latest" > /dev/null
sleep 1
check "pushing the same base digest queues nothing" test "$(svc_runs_count)" = "$before"
# a new base image: demo/child is rebuilt once
new_base=$(svc_commit "$src" "new base")
run=$(SLIPWAY_USER=alice SLIPWAY_PASSWORD=pw "$SLIPWAY_BIN" run demo/base --branch main --server "$SVC_BASE")
svc_wait "$run" > /dev/null
rebuild=
for _ in $(seq 100); do
    rebuild=$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/child" | jq -r '[.runs[] | select(.trigger == "base-image")][0].id // empty')
    [ -n "$rebuild" ] && break
    sleep 0.1
done
[ -n "$rebuild" ] && ok "a new demo/base:latest queued a rebuild of demo/child ($rebuild)" ||
    fail "no base-image run: $(curl -s "$SVC_BASE/api/v1/runs?repo=demo/child" | jq -c '[.runs[] | {id, trigger}]')"
check "the rebuild succeeds" test "$(svc_wait "$rebuild")" = succeeded
check "the rebuilt child has the new base's file" test "$(svc_file demo/child:latest child.txt)" = "new base"
sleep 1
n=$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/child" | jq '[.runs[] | select(.trigger == "base-image")] | length')
check "exactly one rebuild, no loop" test "$n" = 1

# --- cancel ------------------------------------------------------------------------------------
svc_git -C "$src" branch -f slow "$(svc_commit "$src" "not cached")"
run=$(SLIPWAY_USER=alice SLIPWAY_PASSWORD=pw "$SLIPWAY_BIN" run demo/app --branch slow --server "$SVC_BASE")
for _ in $(seq 100); do
    curl -s "$SVC_BASE/api/v1/runs/$run/log" | grep -q "tick 1" && break
    sleep 0.1
done
code=$(curl -s -o "$work/r" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "${auth[@]}" "$SVC_BASE/api/v1/runs/$run/cancel")
check "cancel answers 202" test "$code" = 202
t0=$(date +%s)
check "the run ends as canceled" test "$(svc_wait "$run")" = canceled
check "within seconds" test $(( $(date +%s) - t0 )) -le 5
curl -s "$SVC_BASE/api/v1/runs/$run/log" | grep -q "tick 8" && fail "the build ran to its end" ||
    ok "the build's container was stopped"
code=$(curl -s -o "$work/r" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "${auth[@]}" "$SVC_BASE/api/v1/runs/$run/cancel")
[ "$code" = 409 ] && [ "$(jq -r .error.code "$work/r")" = CONFLICT ] && ok "canceling a finished run is 409" ||
    fail "second cancel: $code $(cat "$work/r")"

# --- GitLab and Gitea ---------------------------------------------------------------------
gl_sha=$(svc_commit "$src" "from gitlab")
svc_git -C "$src" branch -f child "$gl_sha"
gl_body=$(jq -nc --arg sha "$gl_sha" --arg url "file://$src" '{object_kind: "push", ref: "refs/heads/child",
    after: $sha, checkout_sha: $sha, user_username: "bob",
    project: {path_with_namespace: "team/app", git_http_url: $url},
    commits: [{id: $sha, message: "from gitlab"}]}')
code=$(curl -s -o "$work/r" -w '%{http_code}' -X POST -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: wrong' \
       --data "$gl_body" "$SVC_BASE/hooks/gitlab/demo/child")
check "a wrong GitLab token is 401" test "$code" = 401
code=$(curl -s -o "$work/r" -w '%{http_code}' -X POST -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: gl-token' \
       -H 'X-Gitlab-Event-UUID: gl-1' --data "$gl_body" "$SVC_BASE/hooks/gitlab/demo/child")
run=$(jq -r '.runs[0].id // empty' "$work/r")
[ "$code" = 202 ] && [ -n "$run" ] && ok "a GitLab push with its token queues a run" || fail "gitlab: $code $(cat "$work/r")"
check "the GitLab run succeeds" test "$(svc_wait "$run")" = succeeded
check "it built the pushed commit" test "$(svc_run_field "$run" .commit)" = "$gl_sha"

gt_body=$(jq -nc --arg sha "$gl_sha" --arg url "file://$src.git" '{ref: "refs/heads/main", after: $sha,
    commits: [{id: $sha, message: "from gitea"}],
    repository: {full_name: "me/app", clone_url: $url}, pusher: {login: "me"}}')
gt_sig=$(printf '%s' "$gt_body" | openssl dgst -sha256 -hmac gitea-secret -hex | awk '{print $NF}')
code=$(curl -s -o "$work/r" -w '%{http_code}' -X POST -H 'X-Gitea-Event: push' -H "X-Gitea-Signature: $gt_sig" \
       -H 'X-Gitea-Delivery: gt-1' --data "$gt_body" "$SVC_BASE/hooks/gitea")
[ "$code" = 202 ] && [ "$(jq -r '.runs[0].repo' "$work/r")" = demo/gitea ] &&
    ok "a signed Gitea push is matched to its repository by URL" || fail "gitea: $code $(cat "$work/r")"
check "the Gitea run succeeds" test "$(svc_wait "$(jq -r '.runs[0].id' "$work/r")")" = succeeded
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Gitea-Event: push' -H "X-Gitea-Signature: ${gt_sig/a/b}" \
       --data "$gt_body" "$SVC_BASE/hooks/gitea")
check "a bad Gitea signature is 401" test "$code" = 401

# --- a private repository: the token is used, and never shown -------------------------------
run=$(SLIPWAY_USER=alice SLIPWAY_PASSWORD=pw "$SLIPWAY_BIN" run demo/private --branch main --server "$SVC_BASE")
check "a private repository builds with its token" test "$(svc_wait "$run")" = succeeded
grep -qx ok "$private_root.auth.log" && ok "the Git server saw the token" || fail "auth log: $(cat "$private_root.auth.log")"
bad=$(SLIPWAY_USER=alice SLIPWAY_PASSWORD=pw "$SLIPWAY_BIN" run demo/private-bad --branch main --server "$SVC_BASE")
check "a wrong token fails the run" test "$(svc_wait "$bad")" = failed
svc_run_field "$bad" .error | grep -qi "auth" && ok "the error says authentication failed" ||
    fail "error: $(svc_run_field "$bad" .error)"
leaks=$( (curl -s "$SVC_BASE/api/v1/runs/$run/log"; curl -s "$SVC_BASE/api/v1/runs/$bad/log";
          curl -s "$SVC_BASE/api/v1/runs?limit=500"; curl -s "$SVC_BASE/api/v1/repos";
          cat "$SW_SERVER_LOG" "$work"/w*.log) | grep -c -e tok-123-secret -e wrong-token || true)
check "no token appears in logs or API answers" test "$leaks" = 0

kill "$pid_w3"; wait "$pid_w3" 2>/dev/null || true
sw_finish
