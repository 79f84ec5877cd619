#!/usr/bin/env bash
# 148-service-forges.sh - every delivery GitHub, GitLab and Gitea really
# send, answered right. Payloads are written here after the forges'
# documented shapes and signed as each forge signs (GitHub: HMAC-SHA256 of
# the raw body in X-Hub-Signature-256; GitLab: the token in X-Gitlab-Token;
# Gitea: HMAC-SHA256 of the JSON in X-Gitea-Signature).
#
# Part 1, a server without workers: per forge, branch pushes, annotated and
# lightweight tags, branch and tag deletions, pings (repository,
# organization, App), other events, form-encoded and JSON bodies,
# case-different URLs, GitLab's ci.skip and checkout_sha null, pull and
# merge requests (opened, new commits, other actions, forks without
# forks: true), wrong secrets and malformed bodies; each asserts the HTTP
# status, the answer and whether a run was queued at which commit.
# Part 2, a server with workers and a real repository behind git daemon:
# annotated tags pushed through each forge's payload build the commit the
# tag points at, and skopeo sees the semver tags.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 240

work=$(sw_tmpdir)
SHA_ZERO=0000000000000000000000000000000000000000
C1=c0ffee0000000000000000000000000000000001 # a commit
C2=c0ffee0000000000000000000000000000000002 # another
T1=7a90000000000000000000000000000000000001 # an annotated tag object

# --- payloads ------------------------------------------------------------------------

# gh_repo FULL_NAME [CLONE_URL]: GitHub's (and Gitea's) `repository` object
gh_repo() {
    local fn=$1 clone=${2:-https://github.com/$1.git}
    jq -nc --arg fn "$fn" --arg clone "$clone" '{id: 1296269, name: ($fn | split("/")[1]),
        full_name: $fn, private: false, owner: {login: ($fn | split("/")[0])},
        html_url: "https://github.com/\($fn)", url: "https://api.github.com/repos/\($fn)",
        git_url: "git://github.com/\($fn).git", ssh_url: "git@github.com:\($fn).git",
        clone_url: $clone, default_branch: "main"}'
}
SENDER='{"login": "Codertocat", "id": 21031067, "type": "User"}'

# gh_push REPO_JSON REF AFTER [HEAD_COMMIT_ID] [MESSAGE]: a GitHub/Gitea push
gh_push() {
    local repo=$1 ref=$2 after=$3 head=${4:-$3} msg=${5:-a change}
    jq -nc --argjson repo "$repo" --argjson sender "$SENDER" --arg ref "$ref" --arg after "$after" \
        --arg head "$head" --arg msg "$msg" --arg zero "$SHA_ZERO" '{ref: $ref, before: $zero,
        after: $after, created: true, deleted: ($after == $zero), forced: false,
        base_ref: null, compare: "https://github.com/compare",
        commits: (if $after == $zero then [] else [{id: $head, message: $msg}] end),
        head_commit: (if $after == $zero then null else {id: $head, message: $msg} end),
        repository: $repo, pusher: {name: "Codertocat", email: "c@example.com"}, sender: $sender}'
}

# gl_push KIND REF AFTER CHECKOUT_SHA [PUSH_OPTIONS] [PATH]: a GitLab push or
# tag push (CHECKOUT_SHA "null" for none)
gl_push() {
    local kind=$1 ref=$2 after=$3 checkout=$4 options=${5:-"{}"} path=${6:-mike/diaspora}
    jq -nc --arg kind "$kind" --arg ref "$ref" --arg after "$after" --argjson checkout \
        "$( [ "$checkout" = null ] && echo null || jq -n --arg c "$checkout" '$c')" \
        --argjson options "$options" --arg path "$path" --arg zero "$SHA_ZERO" '{
        object_kind: $kind, event_name: $kind, before: $zero, after: $after, ref: $ref,
        ref_protected: false, checkout_sha: $checkout, user_id: 4, user_name: "John Smith",
        user_username: "jsmith", project_id: 15,
        project: {id: 15, name: "Diaspora", path_with_namespace: "Mike/Diaspora",
                  web_url: "http://example.com/\($path)", git_ssh_url: "git@example.com:\($path).git",
                  git_http_url: "http://example.com/\($path).git", default_branch: "master"},
        repository: {name: "Diaspora", url: "git@example.com:\($path).git",
                     homepage: "http://example.com/\($path)",
                     git_http_url: "http://example.com/\($path).git",
                     git_ssh_url: "git@example.com:\($path).git"},
        commits: (if $checkout == null then [] else [{id: $checkout, message: "a change"}] end),
        total_commits_count: 1, push_options: $options}'
}

# gh_pr REPO_JSON ACTION NUMBER HEAD_SHA HEAD_FULL_NAME [HEAD_REPO_ID]: a GitHub
# (or Gitea) pull_request event into main; HEAD_REPO_ID (Gitea's head.repo_id)
# defaults to the base repository's id when the head repository is the base
gh_pr() {
    local repo=$1 action=$2 number=$3 sha=$4 head=$5 head_id=${6:-}
    jq -nc --argjson repo "$repo" --argjson sender "$SENDER" --arg action "$action" \
        --argjson number "$number" --arg sha "$sha" --arg head "$head" --arg head_id "$head_id" \
        '($repo.id) as $base_id | {action: $action, number: $number,
        pull_request: {id: 1000, number: $number, state: "open", title: "Fix the \u001b[31mbuild",
            user: {login: "octo"},
            head: {label: "octo:fix", ref: "fix", sha: $sha,
                   repo_id: (if $head_id == "" then $base_id else ($head_id | tonumber) end),
                   repo: {id: 9, full_name: $head}},
            base: {label: "main", ref: "main", sha: "c0ffee0000000000000000000000000000000000",
                   repo_id: $base_id, repo: $repo}},
        repository: $repo, sender: $sender}'
}

# gl_mr ACTION IID LAST_COMMIT SOURCE_PROJECT_ID [OLDREV]: a GitLab Merge
# Request Hook of project 15 (mike/diaspora) into main
gl_mr() {
    local action=$1 iid=$2 commit=$3 source=$4 oldrev=${5:-}
    gl_push push refs/heads/main "$C1" "$C1" | jq -c --arg action "$action" --argjson iid "$iid" \
        --arg commit "$commit" --argjson source "$source" --arg oldrev "$oldrev" '{
        object_kind: "merge_request", event_type: "merge_request",
        user: {id: 1, name: "Administrator", username: "root"}, project, repository,
        object_attributes: ({id: 99, iid: $iid, action: $action, state: "opened",
            title: "MS-Viewport", source_branch: "ms-viewport", target_branch: "main",
            source_project_id: $source, target_project_id: 15,
            source: {path_with_namespace: (if $source == 15 then "mike/diaspora" else "fork/diaspora" end)},
            last_commit: {id: $commit, message: "fixed readme"}}
            + (if $oldrev == "" then {} else {oldrev: $oldrev} end))}'
}

# --- delivering ----------------------------------------------------------------------

n_delivery=0
STATUS=
BODY=
# deliver FORGE URL EVENT JSON [json|form] [SECRET]: signs and POSTs as the forge does
deliver() {
    local forge=$1 url=$2 event=$3 json=$4 type=${5:-json} secret=${6:-}
    local raw=$work/raw jsonfile=$work/json headers=()
    n_delivery=$((n_delivery + 1))
    printf '%s' "$json" > "$jsonfile"
    if [ "$type" = form ]; then
        printf 'payload=%s' "$(jq -rn --arg b "$json" '$b | @uri')" > "$raw"
        headers+=(-H 'Content-Type: application/x-www-form-urlencoded')
    else
        cp "$jsonfile" "$raw"
        headers+=(-H 'Content-Type: application/json')
    fi
    case $forge in
    github)
        headers+=(-H "X-GitHub-Event: $event" -H "X-GitHub-Delivery: gh-$n_delivery-$$"
                  -H "X-Hub-Signature-256: sha256=$(svc_sign "${secret:-gh-secret}" "$raw")") ;;
    gitlab)
        headers+=(-H "X-Gitlab-Event: $event" -H "X-Gitlab-Event-UUID: gl-$n_delivery-$$"
                  -H "X-Gitlab-Token: ${secret:-gl-token}") ;;
    gitea) # Gitea signs the JSON, whatever the content type
        headers+=(-H "X-Gitea-Event: $event" -H "X-Gitea-Delivery: gt-$n_delivery-$$"
                  -H "X-Gitea-Signature: $(svc_sign "${secret:-gt-secret}" "$jsonfile")") ;;
    esac
    STATUS=$(curl -s -o "$work/reply" -w '%{http_code}' -X POST "${headers[@]}" \
        --data-binary "@$raw" "$url")
    BODY=$(cat "$work/reply")
}

runs_total() { curl -s "$SVC_BASE/api/v1/runs?limit=500" | jq '.runs | length'; }

# expect WHAT STATUS RESULT COMMIT [MESSAGE_REGEX]: the last delivery got
# STATUS with .result (or .error.code) RESULT, and queued one run at
# COMMIT (or none when COMMIT is "-")
expect() {
    local what=$1 status=$2 result=$3 commit=$4 pattern=${5:-}
    local got_result got_commit=- now message
    got_result=$(jq -r '.result // .error.code // empty' <<< "$BODY" 2> /dev/null || true)
    message=$(jq -r '.message // .error.message // empty' <<< "$BODY" 2> /dev/null || true)
    now=$(runs_total)
    if [ "$now" -gt "$runs_before" ]; then
        got_commit=$(svc_run_field "$(jq -r '.runs[0].id' <<< "$BODY")" .commit)
        [ "$((now - runs_before))" = 1 ] || got_commit="$((now - runs_before)) runs"
    fi
    if [ "$STATUS" = "$status" ] && [ "$got_result" = "$result" ] && [ "$got_commit" = "$commit" ] &&
        { [ -z "$pattern" ] || grep -qE -- "$pattern" <<< "$message"; }; then
        ok "$what: $status $result, run: $commit"
    else
        fail "$what: got $STATUS $got_result, run: $got_commit; expected $status $result, run: $commit${pattern:+, message /$pattern/}: $BODY"
    fi
    runs_before=$now
}

# --- part 1: the answers, on a server that only queues ------------------------------------

port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
rules='
    rules:
      - { source_type: branch, source: main, tags: [latest] }
      - { source_type: tag, source: "/^v[0-9]+/", semver: true }
      - { source_type: pull_request, source: main }'
cfg=$(sw_write_config "$work/a" "$port" "
workers: 0
repos:
  - name: gh/hello
    git: https://github.com/Codertocat/Hello-World.git
    secret: gh-secret$rules
  - name: gl/diaspora
    git: http://example.com/mike/diaspora.git
    secret: gl-token$rules
  - name: gt/webhooks
    git: http://localhost:3000/gitea/webhooks.git
    secret: gt-secret$rules
")
sw_start_server "$cfg"
log_a=$SW_SERVER_LOG
runs_before=0
GH=$SVC_BASE/hooks/github
GL=$SVC_BASE/hooks/gitlab
GT=$SVC_BASE/hooks/gitea
ghr=$(gh_repo Codertocat/Hello-World)

# GitHub
deliver github "$GH" push "$(gh_push "$ghr" refs/heads/main "$C1")"
expect "github: branch push" 202 queued "$C1"
deliver github "$GH" push "$(gh_push "$ghr" refs/tags/v1.0.0 "$T1" "$C1")"
expect "github: annotated tag (after is the tag object, peeled by the worker)" 202 queued "$T1"
deliver github "$GH" push "$(gh_push "$ghr" refs/tags/v1.0.1 "$C2")"
expect "github: lightweight tag" 202 queued "$C2"
deliver github "$GH" push "$(gh_push "$ghr" refs/heads/feature "$SHA_ZERO")"
expect "github: deleted branch" 200 deleted - "branch feature was deleted"
deliver github "$GH" push "$(gh_push "$ghr" refs/tags/v1.0.0 "$SHA_ZERO")"
expect "github: deleted tag" 200 deleted - "tag v1.0.0 was deleted"
deliver github "$GH" ping "$(jq -nc --argjson repo "$ghr" --argjson sender "$SENDER" '{zen: "Design for failure.",
    hook_id: 1, hook: {type: "Repository", id: 1, name: "web", active: true, events: ["push"],
    config: {content_type: "json", insecure_ssl: "0", url: "https://ci.example/hooks/github"}},
    repository: $repo, sender: $sender}')"
expect "github: repository ping" 200 ping - "Codertocat/Hello-World is connected to gh/hello"
deliver github "$GH" ping "$(jq -nc --argjson sender "$SENDER" '{zen: "Keep it logically awesome.",
    hook_id: 2, hook: {type: "Organization", id: 2, name: "web", active: true, events: ["*"],
    config: {content_type: "json", url: "https://ci.example/hooks/github"}},
    organization: {login: "Codertocat", id: 9}, sender: $sender}')"
expect "github: organization ping (no repository)" 200 ping - "organization Codertocat"
deliver github "$GH" ping '{"zen":"Speak like a human.","hook_id":3,"hook":{"type":"App","id":3,"name":"web","active":true,"events":[],"app_id":4242,"config":{"content_type":"json"}}}'
expect "github: App ping (no repository, no organization)" 200 ping - "GitHub App 4242"
deliver github "$GH" create "$(jq -nc --argjson repo "$ghr" '{ref: "v1.0.0", ref_type: "tag",
    master_branch: "main", description: null, pusher_type: "user", repository: $repo}')"
expect "github: create" 200 ignored - '"create" is not built'
deliver github "$GH" delete "$(jq -nc --argjson repo "$ghr" '{ref: "feature", ref_type: "branch",
    pusher_type: "user", repository: $repo}')"
expect "github: delete" 200 deleted - "branch feature was deleted"
deliver github "$GH" release "$(jq -nc --argjson repo "$ghr" '{action: "published",
    release: {id: 1, tag_name: "v1.0.0", draft: false, prerelease: false}, repository: $repo}')"
expect "github: release" 200 ignored - '"release" \(published\) is not built'
deliver github "$GH" pull_request "$(gh_pr "$ghr" opened 2 "$C2" Codertocat/Hello-World)"
expect "github: pull request opened" 202 queued "$C2"
pr_run=$(jq -r '.runs[0].id' <<< "$BODY")
check "github: the run is PR #2 into main at its head" test \
    "$(curl -s "$SVC_BASE/api/v1/runs/$pr_run" | jq -c '[.source_type, .source_ref, .pull_request]')" = \
    '["pull_request","main",{"number":2,"head_ref":"fix","head_repo":"Codertocat/Hello-World","fork":false}]'
deliver github "$GH" pull_request "$(gh_pr "$ghr" synchronize 2 "$C1" Codertocat/Hello-World)"
expect "github: pull request synchronize (new commits)" 202 queued "$C1"
check "github: the newer push supersedes the queued run of the pull request" \
    test "$(svc_run_field "$pr_run" .status)" = superseded
deliver github "$GH" pull_request "$(gh_pr "$ghr" reopened 2 "$C1" Codertocat/Hello-World)"
expect "github: pull request reopened" 202 queued "$C1"
deliver github "$GH" pull_request "$(gh_pr "$ghr" closed 2 "$C1" Codertocat/Hello-World)"
expect "github: pull request closed" 200 ignored - "ignored: action closed"
deliver github "$GH" pull_request "$(gh_pr "$ghr" edited 2 "$C1" Codertocat/Hello-World)"
expect "github: pull request edited" 200 ignored - "ignored: action edited"
deliver github "$GH" pull_request "$(gh_pr "$ghr" opened 3 "$C2" octo/Hello-World)"
expect "github: a fork's pull request (forks: false)" 200 ignored - \
    "fork pull requests are not built \(forks: false\)"
deliver github "$GH" push "$(gh_push "$ghr" refs/heads/main "$C2")" form
expect "github: form-encoded push (signature over the form body)" 202 queued "$C2"
deliver github "$GH" ping "$(jq -nc --argjson repo "$ghr" '{zen: "x", hook_id: 1,
    hook: {type: "Repository"}, repository: $repo}')" form
expect "github: form-encoded ping" 200 ping -
deliver github "$GH" push "$(gh_push "$(gh_repo codertocat/hello-world)" refs/heads/main "$C1")"
expect "github: owner/name in another case" 202 queued "$C1"
deliver github "$GH/GH/Hello" push "$(gh_push "$ghr" refs/heads/main "$C2")"
expect "github: /hooks/github/<name> in another case" 202 queued "$C2"
deliver github "$GH/gh/hello" push "$(gh_push "$ghr" refs/tags/v1.0.0 "$SHA_ZERO")"
expect "github: a deleted tag on the per-repository route" 200 deleted -
deliver github "$GH" push "$(gh_push "$(gh_repo someone/else)" refs/heads/main "$C1")"
expect "github: a push for an unconfigured repository" 404 NOT_FOUND - "no configured repository has the URL of someone/else"
deliver github "$GH" push "$(gh_push "$ghr" refs/heads/main "$C1")" json not-the-secret
expect "github: a wrong secret" 401 UNAUTHORIZED - "X-Hub-Signature-256 does not match for gh/hello .*repos\[gh/hello\]\.secret"
sent_sig=$(svc_sign not-the-secret "$work/raw")
deliver github "$GH/gh/hello" push "$(gh_push "$ghr" refs/heads/main "$C1")" json not-the-secret
expect "github: a wrong secret on the per-repository route" 401 UNAUTHORIZED - "for gh/hello \(matched by the URL path\)"
for _ in $(seq 20); do grep -q "refused a delivery for gh/hello" "$log_a" && break; sleep 0.1; done
grep -q "refused a delivery for gh/hello (matched by the payload's repository URL): X-Hub-Signature-256 does not match" "$log_a" &&
    ok "the server log names the repository of a refused delivery" || fail "log: $(grep -i refused "$log_a")"
grep -qE "gh-secret|not-the-secret|$sent_sig" "$log_a" && fail "a secret or signature is in the server log" ||
    ok "no secret or signature in the server log"
code=$(curl -s -o "$work/reply" -w '%{http_code}' -X POST -H 'X-GitHub-Event: push' \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Hub-Signature-256: sha256=$(printf 'ref=main' | openssl dgst -sha256 -hmac gh-secret -hex | awk '{print $NF}')" \
    --data-binary 'ref=main' "$GH/gh/hello")
[ "$code" = 400 ] && grep -q "set the webhook's content type to application/json" "$work/reply" &&
    ok "github: a form without payload= is 400 saying what to change" || fail "form: $code $(cat "$work/reply")"
printf '<xml/>' > "$work/xml"
code=$(curl -s -o "$work/reply" -w '%{http_code}' -X POST -H 'X-GitHub-Event: push' -H 'Content-Type: text/xml' \
    -H "X-Hub-Signature-256: sha256=$(svc_sign gh-secret "$work/xml")" --data-binary "@$work/xml" "$GH/gh/hello")
[ "$code" = 400 ] && grep -q "is not JSON.*application/json" "$work/reply" &&
    ok "github: a body that is not JSON is 400 saying what to change" || fail "xml: $code $(cat "$work/reply")"
runs_before=$(runs_total)

# GitLab
deliver gitlab "$GL" "Push Hook" "$(gl_push push refs/heads/main "$C1" "$C1")"
expect "gitlab: branch push" 202 queued "$C1"
deliver gitlab "$GL" "Tag Push Hook" "$(gl_push tag_push refs/tags/v2.0.0 "$T1" "$C1")"
expect "gitlab: annotated tag (checkout_sha is the commit)" 202 queued "$C1"
check "gitlab: the queued run records the tag object" \
    test "$(svc_run_field "$(jq -r '.runs[0].id' <<< "$BODY")" .tag_object)" = "$T1"
deliver gitlab "$GL" "Tag Push Hook" "$(gl_push tag_push refs/tags/v2.0.1 "$C2" "$C2")"
expect "gitlab: lightweight tag" 202 queued "$C2"
deliver gitlab "$GL" "Push Hook" "$(gl_push push refs/heads/feature "$SHA_ZERO" null)"
expect "gitlab: deleted branch" 200 deleted - "branch feature was deleted"
deliver gitlab "$GL" "Tag Push Hook" "$(gl_push tag_push refs/tags/v2.0.0 "$SHA_ZERO" null)"
expect "gitlab: deleted tag (checkout_sha null)" 200 deleted - "tag v2.0.0 was deleted"
deliver gitlab "$GL" "Tag Push Hook" "$(gl_push tag_push refs/tags/v2.0.2 "$T1" null)"
expect "gitlab: a tag push with checkout_sha null never builds" 200 ignored - "checkout_sha is null"
deliver gitlab "$GL" "Push Hook" "$(gl_push push refs/heads/main "$C2" "$C2" '{"ci": {"skip": true}}')"
expect "gitlab: git push -o ci.skip" 200 skipped - "ci.skip"
deliver gitlab "$GL" "Issue Hook" "$(gl_push push refs/heads/main "$C1" "$C1" | jq -c '{object_kind: "issue",
    event_type: "issue", user: {username: "root"}, project, repository,
    object_attributes: {id: 301, title: "New API", action: "open"}}')"
expect "gitlab: issue hook" 200 ignored - '"Issue Hook" is not built'
deliver gitlab "$GL" "Merge Request Hook" "$(gl_mr open 4 "$C1" 15)"
expect "gitlab: merge request open" 202 queued "$C1"
check "gitlab: the run is MR !4 into main" test \
    "$(svc_run_field "$(jq -r '.runs[0].id' <<< "$BODY")" '[.source_type, .pull_request.number, .pull_request.fork] | join(" ")')" = \
    "pull_request 4 false"
deliver gitlab "$GL" "Merge Request Hook" "$(gl_mr update 4 "$C2" 15 "$C1")"
expect "gitlab: merge request update with new commits (oldrev)" 202 queued "$C2"
deliver gitlab "$GL" "Merge Request Hook" "$(gl_mr update 4 "$C2" 15)"
expect "gitlab: merge request update without new commits" 200 ignored - "no new commits"
deliver gitlab "$GL" "Merge Request Hook" "$(gl_mr reopen 4 "$C2" 15)"
expect "gitlab: merge request reopen" 202 queued "$C2"
deliver gitlab "$GL" "Merge Request Hook" "$(gl_mr merge 4 "$C2" 15)"
expect "gitlab: merge request merged" 200 ignored - "ignored: action merge"
deliver gitlab "$GL" "Merge Request Hook" "$(gl_mr close 4 "$C2" 15)"
expect "gitlab: merge request closed" 200 ignored - "ignored: action close"
deliver gitlab "$GL" "Merge Request Hook" "$(gl_mr open 5 "$C1" 77)"
expect "gitlab: a fork's merge request (forks: false)" 200 ignored - \
    "fork pull requests are not built \(forks: false\)"
deliver gitlab "$GL" "Note Hook" "$(gl_push push refs/heads/main "$C1" "$C1" | jq -c '{object_kind: "note", project, repository}')"
expect "gitlab: note hook" 200 ignored -
deliver gitlab "$GL" "System Hook" '{"event_name":"project_create","created_at":"2026-12-01T10:00:00Z","name":"StoreCloud","path":"storecloud","path_with_namespace":"jsmith/storecloud","project_id":74,"owner_name":"John Smith","project_visibility":"private"}'
expect "gitlab: system hook" 200 ignored - "system hook \(project_create\)"
deliver gitlab "$GL" "System Hook" "$(gl_push push refs/heads/main "$C1" "$C1" '{}' other/project)"
expect "gitlab: a system hook's push of an unconfigured project" 200 ignored -
deliver gitlab "$GL" "Push Hook" "$(gl_push push refs/heads/main "$C2" "$C2" '{}' Mike/Diaspora)"
expect "gitlab: project path in another case" 202 queued "$C2"
deliver gitlab "$GL" "Push Hook" "$(gl_push push refs/heads/main "$C1" "$C1")" json wrong-token
expect "gitlab: a wrong token" 401 UNAUTHORIZED - "X-Gitlab-Token does not match for gl/diaspora"

# Gitea
gtr=$(gh_repo gitea/webhooks http://localhost:3000/gitea/webhooks.git)
deliver gitea "$GT" push "$(gh_push "$gtr" refs/heads/main "$C1")"
expect "gitea: branch push" 202 queued "$C1"
deliver gitea "$GT" push "$(gh_push "$gtr" refs/tags/v3.0.0 "$T1" "$C1")"
expect "gitea: annotated tag (after is the tag object)" 202 queued "$T1"
deliver gitea "$GT" push "$(gh_push "$gtr" refs/tags/v3.0.1 "$C2")"
expect "gitea: lightweight tag" 202 queued "$C2"
deliver gitea "$GT" delete "$(jq -nc --argjson repo "$gtr" '{ref: "feature", ref_type: "branch",
    pusher_type: "user", repository: $repo}')"
expect "gitea: deleted branch" 200 deleted - "branch feature was deleted"
deliver gitea "$GT" delete "$(jq -nc --argjson repo "$gtr" '{ref: "v3.0.0", ref_type: "tag",
    pusher_type: "user", repository: $repo}')"
expect "gitea: deleted tag" 200 deleted - "tag v3.0.0 was deleted"
deliver gitea "$GT" push "$(gh_push "$gtr" refs/tags/v3.0.0 "$SHA_ZERO")"
expect "gitea: a push that deletes a tag" 200 deleted -
deliver gitea "$GT" create "$(jq -nc --argjson repo "$gtr" '{ref: "v3.0.0", ref_type: "tag", sha: "x", repository: $repo}')"
expect "gitea: create" 200 ignored -
deliver gitea "$GT" release "$(jq -nc --argjson repo "$gtr" '{action: "published", release: {tag_name: "v3.0.0"}, repository: $repo}')"
expect "gitea: release" 200 ignored -
deliver gitea "$GT" pull_request "$(gh_pr "$gtr" opened 1 "$C1" gitea/webhooks)"
expect "gitea: pull request opened" 202 queued "$C1"
deliver gitea "$GT" pull_request "$(gh_pr "$gtr" synchronized 1 "$C2" gitea/webhooks)"
expect "gitea: pull request synchronized (new commits)" 202 queued "$C2"
deliver gitea "$GT" pull_request_sync "$(gh_pr "$gtr" synchronized 1 "$C1" gitea/webhooks)"
expect "gitea: pull_request_sync event" 202 queued "$C1"
deliver gitea "$GT" pull_request "$(gh_pr "$gtr" reopened 1 "$C1" gitea/webhooks)"
expect "gitea: pull request reopened" 202 queued "$C1"
deliver gitea "$GT" pull_request "$(gh_pr "$gtr" closed 1 "$C1" gitea/webhooks)"
expect "gitea: pull request closed" 200 ignored - "ignored: action closed"
deliver gitea "$GT" pull_request "$(gh_pr "$gtr" opened 2 "$C2" someone/webhooks 4242)"
expect "gitea: a fork's pull request (forks: false)" 200 ignored - \
    "fork pull requests are not built \(forks: false\)"
deliver gitea "$GT" push "$(gh_push "$gtr" refs/heads/main "$C2")" form
expect "gitea: form-encoded push (Gitea signs the JSON)" 202 queued "$C2"
deliver gitea "$GT" push "$(gh_push "$(gh_repo GITEA/WebHooks http://LocalHost:3000/Gitea/WebHooks.git)" refs/heads/main "$C1")"
expect "gitea: owner/name in another case" 202 queued "$C1"
deliver gitea "$GT" push "$(gh_push "$gtr" refs/heads/main "$C1")" json wrong
expect "gitea: a wrong secret" 401 UNAUTHORIZED - "X-Gitea-Signature does not match for gt/webhooks"
sw_stop_server

# --- part 2: annotated tags build the commit they point to, end to end ----------------------------

src=$work/src/app
svc_git_init "$src"
c_a=$(svc_commit "$src" "release one")
svc_git -C "$src" tag -a v1.2.3 -m "release 1.2.3"
c_b=$(svc_commit "$src" "release two")
svc_git -C "$src" tag v1.3.0 # lightweight
c_c=$(svc_commit "$src" "release three")
svc_git -C "$src" tag -a v1.4.0 -m "release 1.4.0"
c_d=$(svc_commit "$src" "release four")
svc_git -C "$src" tag -a v1.5.0 -m "release 1.5.0"
tag_123=$(svc_git -C "$src" rev-parse v1.2.3)
tag_140=$(svc_git -C "$src" rev-parse v1.4.0)
tag_150=$(svc_git -C "$src" rev-parse v1.5.0)
[ "$tag_123" != "$c_a" ] && ok "v1.2.3 is an annotated tag (its own object)" || fail "v1.2.3 is not annotated"

gd_port=$(sw_free_port)
git daemon --reuseaddr --export-all --listen=127.0.0.1 --port="$gd_port" \
    --base-path="$work/src" "$work/src" > "$work/git-daemon.log" 2>&1 &
SW_CLEANUP_CMDS+=("kill $!")
git_url=git://127.0.0.1:$gd_port/app
port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work/b" "$port" "
workers: 1
repos:
  - name: demo/app
    git: $git_url
    secret: s3cret
    rules:
      - { source_type: tag, source: \"/^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+\$/\", semver: true }
")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"
for _ in $(seq 50); do git ls-remote "$git_url" > /dev/null 2>&1 && break; sleep 0.1; done
appr=$(gh_repo acme/app "$git_url")

# build_tag FORGE EVENT JSON TAG COMMIT WHAT: the push builds COMMIT
build_tag() {
    local forge=$1 event=$2 json=$3 tag=$4 commit=$5 what=$6 run status
    deliver "$forge" "$SVC_BASE/hooks/$forge" "$event" "$json" json s3cret
    run=$(jq -r '.runs[0].id // empty' <<< "$BODY")
    if [ "$STATUS" != 202 ] || [ -z "$run" ]; then
        fail "$what: $STATUS $BODY"
        return
    fi
    status=$(svc_wait "$run")
    [ "$status" = succeeded ] && [ "$(svc_run_field "$run" .commit)" = "$commit" ] &&
        ok "$what: run $run built commit ${commit:0:7}" ||
        fail "$what: run $run $status at $(svc_run_field "$run" .commit): $(svc_run_field "$run" .error)"
    [ "$(svc_file "demo/app:$tag" hello.txt)" = "$(svc_git -C "$src" show "$commit:hello.txt")" ] &&
        ok "$what: the image $tag has the tagged commit's files" || fail "$what: wrong files in $tag"
}

build_tag github push "$(gh_push "$appr" refs/tags/v1.2.3 "$tag_123" "$c_a")" 1.2.3 "$c_a" \
    "github annotated tag v1.2.3 (after = tag object ${tag_123:0:7})"
run=$(curl -s "$SVC_BASE/api/v1/runs?limit=1" | jq -r '.runs[0].id')
curl -s "$SVC_BASE/api/v1/runs/$run/log" | grep -q "Tag object ${tag_123:0:12} points at commit ${c_a:0:12}" &&
    ok "the run's log records the tag object and the commit" || fail "log: $(curl -s "$SVC_BASE/api/v1/runs/$run/log" | head -5)"
[ "$(svc_run_field "$run" .tag_object)" = "$tag_123" ] && [ "$(svc_run_field "$run" .commit)" = "$c_a" ] &&
    ok "the run records both ids: tag_object and commit" || fail "run: $(curl -s "$SVC_BASE/api/v1/runs/$run" | jq -c '{commit, tag_object}')"
build_tag github push "$(gh_push "$appr" refs/tags/v1.3.0 "$c_b")" 1.3.0 "$c_b" "github lightweight tag v1.3.0"
check "a lightweight tag's run has no tag_object" \
    test "$(curl -s "$SVC_BASE/api/v1/runs?limit=1" | jq -r '.runs[0].tag_object')" = null
build_tag gitea push "$(gh_push "$appr" refs/tags/v1.4.0 "$tag_140")" 1.4.0 "$c_c" \
    "gitea annotated tag v1.4.0 (after = tag object)"
build_tag gitlab "Tag Push Hook" "$(gl_push tag_push refs/tags/v1.5.0 "$tag_150" "$c_d" | jq -c --arg u "$git_url" \
    '.project.git_http_url = $u')" 1.5.0 "$c_d" "gitlab annotated tag v1.5.0 (checkout_sha = commit)"
host=127.0.0.1:$port
tags=$(sk list-tags --tls-verify=false "docker://$host/demo/app" | jq -r '.Tags | sort | join(" ")')
[ "$tags" = "1 1.2 1.2.3 1.3 1.3.0 1.4 1.4.0 1.5 1.5.0 latest" ] &&
    ok "skopeo lists the semver tags of every release" || fail "tags: $tags"
[ "$(svc_tag_digest demo/app:1.2)" = "$(svc_tag_digest demo/app:1.2.3)" ] &&
    [ "$(svc_tag_digest demo/app:latest)" = "$(svc_tag_digest demo/app:1.5.0)" ] &&
    [ "$(svc_tag_digest demo/app:1)" = "$(svc_tag_digest demo/app:1.5.0)" ] &&
    ok "1.2 is 1.2.3; 1 and latest are 1.5.0" || fail "tag digests differ"
check "the image of 1.2 has the commit v1.2.3 points at" test "$(svc_file demo/app:1.2 hello.txt)" = "release one"
deliver github "$SVC_BASE/hooks/github" push "$(gh_push "$appr" refs/tags/v1.2.3 "$SHA_ZERO")" json s3cret
[ "$STATUS" = 200 ] && [ "$(jq -r .result <<< "$BODY")" = deleted ] &&
    check "deleting the tag on the forge removes no image" test -n "$(svc_tag_digest demo/app:1.2.3)" ||
    fail "tag deletion: $STATUS $BODY"

sw_finish
