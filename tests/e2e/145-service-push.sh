#!/usr/bin/env bash
# 145-service-push.sh - the build service from a Git push to tagged images:
# a real repository served by `git daemon` (git://) and from disk (file://),
# GitHub-shaped deliveries signed with the secret, and the result checked
# with skopeo and umoci: branch, regex-with-captures and semver tag rules,
# {run_id} and {commit:7} tags, latest moving on a second push, refused
# deliveries, redeliveries, a failing build and a failing autotest that move
# no tag, a notify listener, the same digest for a rebuilt commit, and
# `slipway logs --follow` on a running build.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 240

work=$(sw_tmpdir)
src=$work/src/hello
svc_git_init "$src"
first=$(svc_git -C "$src" rev-parse HEAD)
cat > "$src/Dockerfile.slow" <<'EOF'
FROM test/busybox:1
RUN for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.5; done
EOF
cat > "$src/Dockerfile.broken" <<'EOF'
FROM test/busybox:1
RUN echo "about to fail"
RUN exit 3
EOF
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "slow and broken Dockerfiles"
first=$(svc_git -C "$src" rev-parse HEAD)

# git daemon on 127.0.0.1 serves the repository as git://
gd_port=$(sw_free_port)
git daemon --reuseaddr --export-all --listen=127.0.0.1 --port="$gd_port" \
    --base-path="$work/src" "$work/src" > "$work/git-daemon.log" 2>&1 &
SW_CLEANUP_CMDS+=("kill $!")
notify_port=$(sw_free_port)
svc_listener "$notify_port" "$work/notify.log" 1
dead_port=$(sw_free_port)   # nothing listens there

port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
workers: 2
repos:
  - name: demo/hello
    git: git://127.0.0.1:$gd_port/hello
    secret: s3cret
    notify: [http://127.0.0.1:$notify_port/hook, http://127.0.0.1:$dead_port/secret-path]
    rules:
      - { source_type: branch, source: main, tags: [latest, \"{run_id}\", \"sha-{commit:7}\"] }
      - { source_type: tag, source: \"/^v([0-9]+)\\\\.([0-9]+)-beta\$/\", tags: [\"beta-{\\\\1}-{\\\\2}\"] }
      - { source_type: tag, source: \"/^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+/\", semver: true }
      - { source_type: branch, source: slow, dockerfile: Dockerfile.slow, tags: [slow] }
      - { source_type: branch, source: broken, dockerfile: Dockerfile.broken, tags: [latest] }
  - name: demo/tested
    git: file://$src
    secret: other-secret
    autotest: [\"sh\", \"-c\", \"grep -q good /hello.txt\"]
    rules:
      - { source_type: branch, source: main, tags: [latest] }
")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"
hooks=$SVC_BASE/hooks/github

# --- a branch push --------------------------------------------------------------
svc_hook "$hooks" refs/heads/main "$first" delivery-1 s3cret "first commit" \
    "git://127.0.0.1:$gd_port/hello.git"
[ "$SVC_STATUS" = 202 ] && ok "a signed push is accepted (202)" ||
    fail "signed push: $SVC_STATUS $SVC_BODY"
run1=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
[ "$run1" = ca1 ] && ok "the first run is ca1" || fail "first run id: $run1"
status=$(svc_wait "$run1")
[ "$status" = succeeded ] && ok "run $run1 succeeded" ||
    fail "run $run1: $status: $(svc_run_field "$run1" .error)"
latest1=$(svc_tag_digest demo/hello:latest)
[ -n "$latest1" ] && [ "$latest1" = "$(svc_run_field "$run1" .digest)" ] &&
    ok "skopeo sees latest at the run's digest" || fail "latest: '$latest1'"
check "the {run_id} tag exists" test "$(svc_tag_digest demo/hello:ca1)" = "$latest1"
check "the sha-{commit:7} tag exists" test "$(svc_tag_digest "demo/hello:sha-${first:0:7}")" = "$latest1"
check "the image has the pushed commit's files" test "$(svc_file demo/hello:latest hello.txt)" = first
vars=$(svc_file demo/hello:latest build-vars.txt)
[ "$vars" = "$first main latest" ] && ok "SOURCE_COMMIT, SOURCE_BRANCH and DOCKER_TAG reach the build" ||
    fail "build vars: '$vars'"
labels=$(sk inspect --tls-verify=false "docker://127.0.0.1:$port/demo/hello:latest" | jq -c .Labels)
[ "$(jq -r '."org.opencontainers.image.revision"' <<< "$labels")" = "$first" ] &&
    [ "$(jq -r '."org.opencontainers.image.source"' <<< "$labels")" = "git://127.0.0.1:$gd_port/hello" ] &&
    ok "OCI source and revision labels" || fail "labels: $labels"
log=$(curl -s "$SVC_BASE/api/v1/runs/$run1/log")
grep -q $'^\x1e# Step 1/' <<< "$log" && grep -q "Run ID: ca1 was successful after" <<< "$log" &&
    grep -q $'^\x1e'"# Tags: latest, ca1, sha-${first:0:7}" <<< "$log" && ok "the log has steps, tags and the verdict" ||
    fail "log: $log"

# --- refused and ignored deliveries create no run ---------------------------------
before=$(svc_runs_count)
svc_hook "$hooks/demo/hello" refs/heads/main "$first" delivery-1 s3cret
[ "$SVC_STATUS" = 200 ] && ok "a redelivery is answered 200" || fail "redelivery: $SVC_STATUS $SVC_BODY"
svc_hook "$hooks/demo/hello" refs/heads/main "$first" delivery-2 wrong-secret
[ "$SVC_STATUS" = 401 ] && [ "$(jq -r .error.code <<< "$SVC_BODY")" = UNAUTHORIZED ] &&
    ok "a bad signature is refused with 401" || fail "bad signature: $SVC_STATUS $SVC_BODY"
svc_hook "$hooks/demo/hello" refs/heads/main "$first" delivery-3 -
[ "$SVC_STATUS" = 401 ] && grep -q "missing X-Hub-Signature-256" <<< "$SVC_BODY" &&
    ok "a missing signature is refused with 401" || fail "no signature: $SVC_STATUS $SVC_BODY"
malformed='{"ref": "refs/heads/main", '
svc_post_raw "$hooks/demo/hello" push "$malformed" \
    -H "X-Hub-Signature-256: sha256=$(printf '%s' "$malformed" | openssl dgst -sha256 -hmac s3cret -hex | awk '{print $NF}')"
[ "$SVC_STATUS" = 400 ] && [ "$(jq -r .error.code <<< "$SVC_BODY")" = INVALID ] &&
    ok "a malformed body is refused with 400" || fail "malformed: $SVC_STATUS $SVC_BODY"
svc_hook "$hooks/demo/hello" refs/heads/feature-x "$first" delivery-4 s3cret
[ "$SVC_STATUS" = 200 ] && grep -q "no build rule" <<< "$SVC_BODY" &&
    ok "a push to an unmatched branch is answered 200 with the reason" || fail "unmatched: $SVC_STATUS $SVC_BODY"
svc_hook "$hooks" refs/heads/main "$first" delivery-5 s3cret "x" https://example.invalid/unknown.git
[ "$SVC_STATUS" = 404 ] && ok "an unknown repository URL is 404" || fail "unknown repo: $SVC_STATUS $SVC_BODY"
svc_hook "$hooks/demo/hello" refs/heads/main "$first" delivery-6 s3cret "docs [skip ci]"
[ "$SVC_STATUS" = 200 ] && grep -q "skip" <<< "$SVC_BODY" && ok "[skip ci] queues nothing" ||
    fail "skip ci: $SVC_STATUS $SVC_BODY"
big=$work/big.json
head -c $((26 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$big"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-GitHub-Event: push' \
       --data-binary "@$big" "$hooks/demo/hello")
[ "$code" = 413 ] && ok "a body over 25 MB is refused with 413" || fail "big body: $code"
after=$(svc_runs_count)
[ "$before" = "$after" ] && ok "none of them created a run ($after runs)" ||
    fail "runs went from $before to $after"

# --- a second push moves latest -----------------------------------------------------
second=$(svc_commit "$src" second)
svc_hook "$hooks" refs/heads/main "$second" delivery-7 s3cret "second" "https://127.0.0.1:$gd_port/hello"
run2=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
check "the second push succeeds" test "$(svc_wait "$run2")" = succeeded
latest2=$(svc_tag_digest demo/hello:latest)
[ -n "$latest2" ] && [ "$latest2" != "$latest1" ] && ok "latest moved to the new image" ||
    fail "latest: $latest1 -> $latest2"
check "the new image has the second commit's files" test "$(svc_file demo/hello:latest hello.txt)" = second
check "the first run's tag still points at the first image" test "$(svc_tag_digest demo/hello:ca1)" = "$latest1"

# --- tags: regex with captures, semver, pre-release, an immutable patch tag -------------
svc_git -C "$src" tag v3.4-beta "$first"
svc_hook "$hooks/demo/hello" refs/tags/v3.4-beta "$first" delivery-8
run=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
check "the regex tag rule's run succeeds" test "$(svc_wait "$run")" = succeeded
check "the capture groups make the tag beta-3-4" test "$(svc_tag_digest demo/hello:beta-3-4)" = "$(svc_run_field "$run" .digest)"
check "the tag build has the tagged commit's files" test "$(svc_file demo/hello:beta-3-4 hello.txt)" = first

svc_git -C "$src" tag v2.1.5 "$second"
svc_hook "$hooks/demo/hello" refs/tags/v2.1.5 "$second" delivery-9
run=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
check "the semver run succeeds" test "$(svc_wait "$run")" = succeeded
tags=$(svc_run_field "$run" '.tags | join(",")')
[ "$tags" = "2.1.5,2.1,2,latest" ] && ok "v2.1.5 is tagged 2.1.5, 2.1, 2 and latest" || fail "semver tags: $tags"
check "skopeo sees 2.1" test "$(svc_tag_digest demo/hello:2.1)" = "$(svc_run_field "$run" .digest)"
svc_git -C "$src" tag v2.2.0-rc.1 "$second"
svc_hook "$hooks/demo/hello" refs/tags/v2.2.0-rc.1 "$second" delivery-10
run=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
svc_wait "$run" > /dev/null
check "a pre-release gets only its own tag" test "$(svc_run_field "$run" '.tags | join(",")')" = 2.2.0-rc.1
third=$(svc_commit "$src" third)
svc_git -C "$src" tag -f v2.1.5 "$third" > /dev/null
patch_before=$(svc_tag_digest demo/hello:2.1.5)
latest_before=$(svc_tag_digest demo/hello:latest)
svc_hook "$hooks/demo/hello" refs/tags/v2.1.5 "$third" delivery-11
run=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
check "moving a release tag fails the run" test "$(svc_wait "$run")" = failed
svc_run_field "$run" .error | grep -q "2.1.5 already exists" && ok "the error says the patch tag exists" ||
    fail "error: $(svc_run_field "$run" .error)"
[ "$(svc_tag_digest demo/hello:2.1.5)" = "$patch_before" ] && [ "$(svc_tag_digest demo/hello:latest)" = "$latest_before" ] &&
    ok "neither 2.1.5 nor latest moved" || fail "tags moved"

# --- a failing Dockerfile ------------------------------------------------------------------
svc_git -C "$src" branch -f broken "$third"
latest_before=$(svc_tag_digest demo/hello:latest)
svc_hook "$hooks/demo/hello" refs/heads/broken "$third" delivery-12
run=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
check "the broken build fails" test "$(svc_wait "$run")" = failed
log=$(curl -s "$SVC_BASE/api/v1/runs/$run/log")
grep -q $'^\x1e'"# Step 3/3 failed: .*exited with code 3" <<< "$log" && grep -q "about to fail" <<< "$log" &&
    ok "its log shows the failing step and the exit code" || fail "log: $log"
check "the failing step is marked in the run's steps" \
    test "$(svc_run_field "$run" '.steps[] | select(.status == "failed") | "\(.index) \(.exit_code)"')" = "3 3"
check "no tag moved" test "$(svc_tag_digest demo/hello:latest)" = "$latest_before"

# --- autotest ----------------------------------------------------------------------------
tested_hooks=$SVC_BASE/hooks/github/demo/tested
svc_hook "$tested_hooks" refs/heads/main "$third" delivery-13 other-secret
run=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
check "a failing autotest fails the run" test "$(svc_wait "$run")" = failed
svc_run_field "$run" .error | grep -q "autotest failed" && ok "the error names the autotest" ||
    fail "error: $(svc_run_field "$run" .error)"
check "and tags nothing" test -z "$(svc_tag_digest demo/tested:latest)"
good=$(svc_commit "$src" good)
svc_hook "$tested_hooks" refs/heads/main "$good" delivery-14 other-secret
run=$(jq -r '.runs[0].id' <<< "$SVC_BODY")
check "a passing autotest tags the image" test "$(svc_wait "$run")" = succeeded
check "demo/tested:latest exists" test -n "$(svc_tag_digest demo/tested:latest)"

# --- notify ---------------------------------------------------------------------------
ca1_notes() { jq -c "select(.body.run_id == \"ca1\") | [.status, .body]" "$work/notify.log" 2>/dev/null; }
for _ in $(seq 150); do ca1_notes | grep -q '^\[201,' && break; sleep 0.1; done
payload=$(ca1_notes | grep '^\[201,' | head -1 | jq -c '.[1]')
[ "$(jq -r .repository.repo_name <<< "$payload")" = "127.0.0.1:$port/demo/hello" ] &&
    [ "$(jq -r .push_data.pusher <<< "$payload")" = alice ] &&
    [ "$(jq -r .push_data.tag <<< "$payload")" = latest ] &&
    [ "$(jq -r .repository.namespace <<< "$payload")" = demo ] &&
    [ "$(jq -r .repository.name <<< "$payload")" = hello ] &&
    [ "$(jq -r .run_id <<< "$payload")" = ca1 ] &&
    [ "$(jq -r .digest <<< "$payload")" = "$latest1" ] &&
    [ "$(jq -r '.tags | join(",")' <<< "$payload")" = "latest,ca1,sha-${first:0:7}" ] &&
    ok "the notify URL got Docker Hub's push payload with run, digest and tags" ||
    fail "notify payload: $payload"
[ "$(ca1_notes | head -1 | jq -r '.[0]')" = 500 ] && ok "a failed notify is retried" ||
    fail "notify log: $(cat "$work/notify.log")"
deliveries=$(svc_run_field "$run1" '.deliveries')
[ "$(jq -r --arg t "http://127.0.0.1:$notify_port/…" '.[] | select(.target == $t) | "\(.state) \(.attempts)"' <<< "$deliveries")" = "delivered 2" ] &&
    ok "the run lists the notification as delivered on the second try" || fail "deliveries: $deliveries"
[ "$(jq -r --arg t "http://127.0.0.1:$dead_port/…" '.[] | select(.target == $t) | .state' <<< "$deliveries")" = pending ] &&
    [ "$(svc_run_field "$run1" .status)" = succeeded ] &&
    ok "a notify URL that does not answer is still retried, and the run did not wait for it" ||
    fail "deliveries: $deliveries"
jq -r '.[].error // empty' <<< "$deliveries" | grep -q "onnect" &&
    ok "the delivery says why it failed" || fail "deliveries: $deliveries"
grep -q secret-path <<< "$deliveries$(curl -s "$SVC_BASE/api/v1/runs/$run1/log")" &&
    fail "a notify URL's path shows in the API or the log" ||
    ok "notify URLs show as their origin only (the path may be a secret)"
grep -aq secret-path "$work"/data/slipway.db* &&
    fail "a notify URL's path is stored in the database" ||
    ok "notify URLs are not copied into the database (read from the config when sent)"

# --- the same commit again: the same digest ----------------------------------------------
again=$("$SLIPWAY_BIN" run demo/hello --commit "$first" --server "$SVC_BASE")
check "a manual run of the first commit succeeds" test "$(svc_wait "$again")" = succeeded
[ "$(svc_run_field "$again" .digest)" = "$latest1" ] && ok "rebuilding a commit gives the same digest" ||
    fail "digest $(svc_run_field "$again" .digest) != $latest1"

# --- rebuild and cancel ---------------------------------------------------------------------
rebuilt=$("$SLIPWAY_BIN" rerun "$again" --server "$SVC_BASE")
check "slipway rerun queues a new run ($rebuilt) of a finished one" test -n "$rebuilt" -a "$rebuilt" != "$again"
check "... which succeeds" test "$(svc_wait "$rebuilt")" = succeeded
check "... at the same commit with the same rule and ref" test \
    "$(svc_run_field "$rebuilt" .commit) $(svc_run_field "$rebuilt" .source_ref) $(svc_run_field "$rebuilt" .trigger)" = \
    "$(svc_run_field "$again" .commit) $(svc_run_field "$again" .source_ref) manual"
check "... and gives the same digest" test "$(svc_run_field "$rebuilt" .digest)" = "$latest1"
refused "slipway rerun of an unknown run says so" "ca999|not|exist" "$SLIPWAY_BIN" rerun ca999 --server "$SVC_BASE"
svc_git -C "$src" branch -f slow "$good"
to_cancel=$("$SLIPWAY_BIN" run demo/hello --branch slow --server "$SVC_BASE")
code=$(curl -s -o "$work/rerun.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' \
    "$SVC_BASE/api/v1/runs/$to_cancel/rerun")
check "POST /api/v1/runs/ID/rerun of an unfinished run is 409 with a reason ($code)" \
    sh -c "[ $code = 409 ] && grep -q 'once it has finished' '$work/rerun.json'"
check "slipway cancel stops a queued or running run" quiet "$SLIPWAY_BIN" cancel "$to_cancel" --server "$SVC_BASE"
check "... and the run ends canceled" test "$(svc_wait "$to_cancel")" = canceled

# --- logs --follow on a running build -------------------------------------------------------
svc_git -C "$src" branch -f slow "$good"
slow=$("$SLIPWAY_BIN" run demo/hello --branch slow --server "$SVC_BASE")
"$SLIPWAY_BIN" logs "$slow" --follow --server "$SVC_BASE" 2>&1 |
    while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done > "$work/follow.out"
follow_status=${PIPESTATUS[0]}
end=$(date +%s.%N)
check "logs --follow exits 0 for a successful run" test "$follow_status" = 0
first_tick=$(awk '/tick 1$/ {print $1; exit}' "$work/follow.out")
last_line=$(tail -1 "$work/follow.out")
[ -n "$first_tick" ] && awk -v a="$first_tick" -v b="$end" 'BEGIN { exit !(b - a > 1.5) }' &&
    ok "logs --follow printed the build's output while it ran" || fail "follow: $(cat "$work/follow.out")"
grep -q "was successful" <<< "$last_line" && ok "and stopped when the run ended" || fail "last line: $last_line"
broken_run=$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/hello&status=failed" | jq -r '.runs[-1].id')
"$SLIPWAY_BIN" logs "$broken_run" --follow --server "$SVC_BASE" > /dev/null 2>&1 && rc=0 || rc=$?
check "logs --follow exits 1 for a failed run" test "$rc" = 1
"$SLIPWAY_BIN" runs --server "$SVC_BASE" --repo demo/hello > "$work/runs.out"
grep -q "^ca1 .*demo/hello .*succeeded .*push .*branch main" "$work/runs.out" &&
    ok "slipway runs lists the runs" || fail "runs: $(cat "$work/runs.out")"

# --- the runs list in pages ------------------------------------------------------------------
all=$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/hello&limit=500" | jq -r '[.runs[].id] | join(" ")')
page1=$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/hello&limit=3")
next=$(jq -r .next_before <<< "$page1")
page2=$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/hello&limit=3&before=$next")
paged="$(jq -r '[.runs[].id] | join(" ")' <<< "$page1") $(jq -r '[.runs[].id] | join(" ")' <<< "$page2")"
[ "$next" = "$(jq -r '.runs[2].id' <<< "$page1")" ] && [ "$paged" = "$(cut -d' ' -f1-6 <<< "$all")" ] &&
    ok "runs come in pages: before=<the last id> continues where a page ended" ||
    fail "pages: '$paged' vs '$all' (next $next)"
check "the last page says there is no next one" \
    test "$(curl -s "$SVC_BASE/api/v1/runs?repo=demo/hello&limit=500" | jq -r .next_before)" = null
for q in "limit=abc" "limit=0" "limit=501" "status=broken"; do
    code=$(curl -s -o "$work/bad" -w '%{http_code}' "$SVC_BASE/api/v1/runs?$q")
    [ "$code" = 400 ] && [ "$(jq -r .error.code "$work/bad")" = INVALID ] &&
        grep -q "${q%%=*}: expected" "$work/bad" &&
        ok "runs?$q is 400 INVALID naming the parameter" || fail "runs?$q: $code $(cat "$work/bad")"
done
code=$(curl -s -o "$work/bad" -w '%{http_code}' "$SVC_BASE/api/v1/runs?before=zz%21")
[ "$code" = 400 ] && [ "$(jq -r .error.code "$work/bad")" = INVALID ] &&
    ok "a before that is not a run id is 400" || fail "bad before: $code $(cat "$work/bad")"

# --- the status badge ------------------------------------------------------------------------
badge() { curl -s -D "$work/badge.h" -o "$work/badge.svg" -w '%{http_code}' "$SVC_BASE/badge/$1"; }
code=$(badge demo/hello.svg?branch=main)
check "the badge of a branch whose last run passed says passing ($code)" \
    sh -c "[ $code = 200 ] && grep -q '>passing<' '$work/badge.svg' && grep -qi '^content-type: image/svg+xml' '$work/badge.h'"
check "... and is not cached" grep -qi '^cache-control: no-cache' "$work/badge.h"
code=$(badge demo/hello.svg?branch=broken)
check "the badge of a branch whose last run failed says failing ($code)" \
    sh -c "[ $code = 200 ] && grep -q '>failing<' '$work/badge.svg'"
code=$(badge demo/hello.svg?branch=never-built)
check "a branch never built is unknown ($code)" sh -c "[ $code = 200 ] && grep -q '>unknown<' '$work/badge.svg'"
code=$(badge no/such.svg)
check "an unknown repository is 404 with an unknown badge ($code)" \
    sh -c "[ $code = 404 ] && grep -q '>unknown<' '$work/badge.svg'"

sw_finish
