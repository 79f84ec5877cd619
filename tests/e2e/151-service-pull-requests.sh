#!/usr/bin/env bash
# 151-service-pull-requests.sh - pull request builds end to end: a real
# repository behind git daemon whose pull request heads exist only as the
# forge keeps them (refs/pull/N/head, on no branch), GitHub-signed
# pull_request deliveries, and a server with a worker.
#
#   - PR #7 (same repository) builds its head commit, runs the autotest,
#     pushes pr-7 (the rule's `tags: ["pr-{number}"]`) which skopeo pulls,
#     gets the repository's build secret, and the mock GitHub API receives
#     pending then success for the head commit; `latest` does not move.
#   - PR #8 from a fork (forks: true) builds without the build secret.
#   - A rule without tags builds and pushes nothing; a rule without
#     forks: true answers a fork's pull request 200 and queues nothing.
#   - A delivery whose head commit the ref no longer points at (a newer
#     push) ends superseded, building nothing.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 240

work=$(sw_tmpdir)
SECRET="pr-secret-$$-q7"
export SLIPWAY_TEST_PR_SECRET=$SECRET

# --- the repository ----------------------------------------------------------------------
src=$work/src/app
svc_git_init "$src"
cat > "$src/Dockerfile" <<'EOF'
FROM test/busybox:1
COPY hello.txt /hello.txt
RUN --mount=type=secret,id=tok,required=false sh -c 'if [ -s /run/secrets/tok ]; then echo present; else echo absent; fi > /secret.txt'
EOF
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "checks for the build secret"
main_sha=$(svc_git -C "$src" rev-parse HEAD)
# pull request heads: commits on no branch, only under refs/pull/N/head
pr_head() { # NUMBER TEXT: commits TEXT on top of main as refs/pull/NUMBER/head; prints the sha
    svc_git -C "$src" checkout -q -b "tmp-$1" main
    local sha
    sha=$(svc_commit "$src" "$2" "pull request $1: $2")
    svc_git -C "$src" update-ref "refs/pull/$1/head" "$sha"
    svc_git -C "$src" checkout -q main
    svc_git -C "$src" branch -q -D "tmp-$1"
    echo "$sha"
}
c7=$(pr_head 7 "pr seven")
c8=$(pr_head 8 "from a fork")
c9_old=$(pr_head 9 "nine, first push")
c9_new=$(svc_git -C "$src" commit-tree -p "$c9_old" -m "nine, second push" "$c9_old^{tree}")
svc_git -C "$src" update-ref refs/pull/9/head "$c9_new"
check "the pull request heads are on no branch" \
    test -z "$(svc_git -C "$src" branch --contains "$c7")"

gd_port=$(sw_free_port)
git daemon --reuseaddr --export-all --listen=127.0.0.1 --port="$gd_port" \
    --base-path="$work/src" "$work/src" > "$work/git-daemon.log" 2>&1 &
SW_CLEANUP_CMDS+=("kill $!")
git_url=git://127.0.0.1:$gd_port/app
for _ in $(seq 50); do git ls-remote "$git_url" > /dev/null 2>&1 && break; sleep 0.1; done
check "git daemon serves refs/pull/7/head" \
    test "$(git ls-remote "$git_url" refs/pull/7/head | cut -f1)" = "$c7"

status_port=$(sw_free_port)
svc_listener "$status_port" "$work/status.log"
port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
  public_url: http://ci.example:8080
workers: 1
repos:
  - name: demo/app
    git: $git_url
    secret: s3cret
    status_token: gh-token-123
    status_api: http://127.0.0.1:$status_port/api/v3
    secrets: { tok: env:SLIPWAY_TEST_PR_SECRET }
    rules:
      - { source_type: branch, source: main, tags: [latest] }
      - source_type: pull_request
        source: main
        forks: true
        tags: [\"pr-{number}\"]
        autotest: [\"sh\", \"-c\", \"grep -q . /hello.txt\"]
  - name: demo/quiet
    git: $git_url
    secret: s3cret
    rules:
      - { source_type: pull_request, source: main }
")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"

# --- deliveries ----------------------------------------------------------------------------
# pr_event ACTION NUMBER HEAD_SHA HEAD_FULL_NAME: GitHub's pull_request event
# into main of acme/app (the head branch name is text of the pull request's
# author: here with an escape sequence)
pr_event() {
    jq -nc --arg action "$1" --argjson number "$2" --arg sha "$3" --arg head "$4" \
        --arg base_sha "$main_sha" --arg url "$git_url" '
        {id: 4242, full_name: "acme/app", name: "app", owner: {login: "acme"},
         clone_url: $url, html_url: "https://github.example/acme/app"} as $repo |
        {action: $action, number: $number,
         pull_request: {id: 1, number: $number, state: "open", title: "Fix \u001b[2Jthings",
             user: {login: "octo"},
             head: {label: "octo:fix", ref: "fix\u001b[31m", sha: $sha, repo: {id: 5, full_name: $head}},
             base: {label: "acme:main", ref: "main", sha: $base_sha, repo: $repo}},
         repository: $repo, sender: {login: "octo"}}'
}
n=0
# deliver ROUTE_REPO JSON: signs with the secret as GitHub does and POSTs
deliver() {
    n=$((n + 1))
    printf '%s' "$2" > "$work/pr.json"
    SVC_STATUS=$(curl -s -o "$work/reply" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H 'X-GitHub-Event: pull_request' \
        -H "X-GitHub-Delivery: pr-$n-$$" \
        -H "X-Hub-Signature-256: sha256=$(svc_sign s3cret "$work/pr.json")" \
        --data-binary "@$work/pr.json" "$SVC_BASE/hooks/github/$1")
    SVC_BODY=$(cat "$work/reply")
}
same() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', expected '$3'"; fi; }

# --- PR #7: the repository's own branch ---------------------------------------------------
deliver demo/app "$(pr_event opened 7 "$c7" acme/app)"
run7=$(jq -r '.runs[0].id // empty' <<< "$SVC_BODY")
same "PR #7 opened: 202 queued" "$SVC_STATUS $(jq -r .result <<< "$SVC_BODY")" "202 queued"
status=$(svc_wait "$run7")
same "run $run7 (PR #7) succeeded" "$status" succeeded
[ "$status" = succeeded ] || fail "run $run7: $(svc_run_field "$run7" .error)"
same "it built the head commit" "$(svc_run_field "$run7" .commit)" "$c7"
same "the run is PR #7 into main" \
    "$(svc_run_field "$run7" '[.source_type, .source_ref, .pull_request.number, .pull_request.fork] | join(" ")')" \
    "pull_request main 7 false"
same "the head branch name is shown without its escape character" \
    "$(svc_run_field "$run7" .pull_request.head_ref)" "fix?[31m"
same "it pushed the rule's tag pr-7" "$(svc_run_field "$run7" '.tags | join(",")')" "pr-7"
log7=$(curl -s "$SVC_BASE/api/v1/runs/$run7/log")
grep -q "Fetching pull request #7 (refs/pull/7/head) into main" <<< "$log7" &&
    ok "the log says the head came from refs/pull/7/head" || fail "log: $(head -5 <<< "$log7")"
grep -q "Autotest passed" <<< "$log7" && ok "the autotest ran" || fail "log: $log7"
grep -q $'\e' <<< "$log7" && fail "an escape character reached the run log" ||
    ok "no escape character in the run log"
same "skopeo pulls pr-7 with the pull request's files" "$(svc_file demo/app:pr-7 hello.txt)" "pr seven"
same "a pull request of the repository itself gets the build secret" \
    "$(svc_file demo/app:pr-7 secret.txt)" present
same "latest did not move" "$(svc_tag_digest demo/app:latest)" ""

for _ in $(seq 100); do
    jq -e "select(.path | endswith(\"/statuses/$c7\")) | select(.body.state == \"success\")" \
        "$work/status.log" > /dev/null 2>&1 && break
    sleep 0.1
done
statuses=$(jq -r "select(.path == \"/api/v3/repos/acme/app/statuses/$c7\") | [.body.state, .body.context, .auth] | join(\" \")" \
    "$work/status.log" 2>/dev/null | tr '\n' ',')
same "the mock GitHub API got pending then success for the head commit" "$statuses" \
    "pending slipway/demo/app Bearer gh-token-123,success slipway/demo/app Bearer gh-token-123,"

# --- PR #8: from a fork, forks: true -------------------------------------------------------
deliver demo/app "$(pr_event opened 8 "$c8" octo/app)"
run8=$(jq -r '.runs[0].id // empty' <<< "$SVC_BODY")
same "a fork's PR #8 with forks: true: 202 queued" "$SVC_STATUS $(jq -r .result <<< "$SVC_BODY")" "202 queued"
same "run $run8 (fork PR #8) succeeded" "$(svc_wait "$run8")" succeeded
same "it built the fork's head commit" "$(svc_run_field "$run8" .commit)" "$c8"
same "the run records the fork" "$(svc_run_field "$run8" '[.pull_request.fork, .pull_request.head_repo] | join(" ")')" \
    "true octo/app"
same "a fork's build does not get the build secret" "$(svc_file demo/app:pr-8 secret.txt)" absent
same "and pr-8 has the fork's files" "$(svc_file demo/app:pr-8 hello.txt)" "from a fork"
curl -s "$SVC_BASE/api/v1/runs/$run8/log" | grep -q "comes from a fork: no build secrets" &&
    ok "the log says what a fork's build does not get" || fail "log: $(curl -s "$SVC_BASE/api/v1/runs/$run8/log" | head -5)"

# --- a rule without tags or forks ----------------------------------------------------------
deliver demo/quiet "$(pr_event synchronize 7 "$c7" acme/app)"
runq=$(jq -r '.runs[0].id // empty' <<< "$SVC_BODY")
same "demo/quiet: PR #7 synchronize: 202 queued" "$SVC_STATUS $(jq -r .result <<< "$SVC_BODY")" "202 queued"
same "run $runq succeeded" "$(svc_wait "$runq")" succeeded
same "a rule without tags: pushes no tag" "$(svc_run_field "$runq" '.tags | length')" 0
check "skopeo finds no tag of demo/quiet" \
    test -z "$(sk list-tags --tls-verify=false "docker://127.0.0.1:$port/demo/quiet" 2>/dev/null | jq -r '.Tags[]?')"
before=$(svc_runs_count)
deliver demo/quiet "$(pr_event opened 8 "$c8" octo/app)"
same "a fork's pull request without forks: true: 200 ignored" \
    "$SVC_STATUS $(jq -r .result <<< "$SVC_BODY")" "200 ignored"
grep -q "fork pull requests are not built (forks: false)" <<< "$SVC_BODY" &&
    ok "the answer says why" || fail "answer: $SVC_BODY"
same "and queued no run" "$(svc_runs_count)" "$before"

"$SLIPWAY_BIN" runs --server "$SVC_BASE" --repo demo/app > "$work/runs.out" 2>&1
grep -Eq "^$run7 .* PR #7 into main " "$work/runs.out" && ok "slipway runs shows PR #7 into main" ||
    fail "runs: $(cat "$work/runs.out")"

# --- a newer push supersedes ---------------------------------------------------------------
deliver demo/quiet "$(pr_event synchronize 9 "$c9_old" acme/app)"
run9=$(jq -r '.runs[0].id // empty' <<< "$SVC_BODY")
same "PR #9 at its older head: run $run9 superseded" "$(svc_wait "$run9")" superseded
svc_run_field "$run9" .error | grep -q "a newer push to the pull request supersedes this run" &&
    ok "the run says a newer push superseded it" || fail "error: $(svc_run_field "$run9" .error)"

sw_finish
