#!/usr/bin/env bash
# 180-authz-tokens.sh - one authorization model and access tokens.
#
# Three users and rules: bob owns bob/*, alice owns alice/*, pub/* names
# `anonymous`. Every read of the JSON API (repositories, runs, a run, its
# log, its SSE stream, images, tags, manifests, status), the catalog and
# the web UI in Chromium (tests/browser/authz.mjs) show bob's repository to
# bob and nothing of it to alice (404, absent from lists); anonymous sees
# only pub/*.
#
# Tokens: `slipway token create|list|revoke`; a pull-scoped token pulls
# with skopeo through the Bearer token flow (GET /token), cannot push (403
# naming the scope), is refused after revoke and after expiry; a token
# never does more than its user; its secret appears nowhere (database
# file, server log, API answers). The Basic challenge stays available.
source "$(dirname "$0")/lib.sh"
sw_time_limit 300

bin=$SLIPWAY_BIN
work=$(sw_tmpdir)
api_log=$SW_SCRATCH/api-answers.log   # every API answer, grepped for secrets
: > "$api_log"

htpasswd -cbB "$work/htpasswd" alice alice-pw 2> /dev/null
htpasswd -bB "$work/htpasswd" bob bob-pw 2> /dev/null
port=$(sw_free_port)
url=http://127.0.0.1:$port
reg=127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
registry:
  auth:
    htpasswd: $work/htpasswd
    rules:
      - { repo: \"bob/*\", users: [bob], access: [pull, push] }
      - { repo: \"alice/*\", users: [alice], access: [pull, push] }
      - { repo: \"pub/*\", users: [anonymous], access: [pull] }
      - { repo: \"pub/*\", users: [alice], access: [push] }
workers: 0
repos:
  - name: bob/app
    git: file://$work/nowhere-bob
    rules: [ { source_type: branch, source: main, tags: [latest] } ]
  - name: alice/app
    git: file://$work/nowhere-alice
    rules: [ { source_type: branch, source: main, tags: [latest] } ]
  - name: pub/app
    git: file://$work/nowhere-pub
    rules: [ { source_type: branch, source: main, tags: [latest] } ]
")
for r in bob/app alice/app pub/app; do sw_import_busybox "$cfg" "$r:1" > /dev/null; done
"$bin" export --config "$cfg" pub/app:1 "oci:$work/img:1" > /dev/null
# one finished run per repository, with a log
now=$(date +%s)
i=0
runs_sql=$(for r in bob/app alice/app pub/app; do
    i=$((i + 1))
    printf "INSERT INTO runs (id, run_id, repo, trigger, source_type, source_ref, commit_sha,"
    printf " commit_message, status, attempts, queued_at, started_at, finished_at)"
    printf " VALUES (%d, 'ca%d', '%s', 'push', 'branch', 'main', '%040d', 'change of %s',"  "$i" "$i" "$r" "$i" "$r"
    printf " 'succeeded', 1, %d, %d, %d);\n" $((now - 60)) $((now - 58)) $((now - 50))
done)
sw_sql "$cfg" "$runs_sql"
mkdir -p "$work/data/logs"
echo "log line of bob/app" > "$work/data/logs/ca1.log"
echo "log line of alice/app" > "$work/data/logs/ca2.log"
echo "log line of pub/app" > "$work/data/logs/ca3.log"
sw_start_server "$cfg"

# get AS PATH: the body (appended to the API log), status in $code
get() { # USER(-: anonymous) PATH [curl args]
    local who=$1 path=$2; shift 2
    local creds=()
    case $who in
        -) ;;
        alice) creds=(-u alice:alice-pw) ;;
        bob) creds=(-u bob:bob-pw) ;;
        *) creds=(-H "Authorization: Bearer $who") ;;
    esac
    code=$(curl -s -o "$SW_SCRATCH/body" -w '%{http_code}' "${creds[@]}" "$@" "$url$path")
    cat "$SW_SCRATCH/body" >> "$api_log"
    echo >> "$api_log"
}
has() { jq -e "$1" "$SW_SCRATCH/body" > /dev/null 2>&1; }

# --- reads of the JSON API: bob sees bob/app, alice does not ------------------
get bob /api/v1/repos
check "bob's repository list holds bob/app and pub/app, not alice/app" \
    has '[.repos[].name] | sort == ["bob/app", "pub/app"]'
get alice /api/v1/repos
check "alice's repository list holds no bob/app" has '[.repos[].name] | sort == ["alice/app", "pub/app"]'
get - /api/v1/repos
check "anonymous lists only pub/app (its rule names anonymous)" has '[.repos[].name] == ["pub/app"]'

get bob /api/v1/repos/bob/app
check "bob reads /api/v1/repos/bob/app" test "$code" = 200
get alice /api/v1/repos/bob/app
alice_code=$code; alice_msg=$(jq -r .error.message "$SW_SCRATCH/body")
get alice /api/v1/repos/bob/nothing
check "alice gets 404 for bob/app, worded as for a repository that does not exist" \
    test "$alice_code:$alice_msg" = "404:$(jq -r .error.message "$SW_SCRATCH/body" | sed 's#bob/nothing#bob/app#')"
get - /api/v1/repos/bob/app
check "anonymous gets 404 for bob/app" test "$code" = 404

get bob "/api/v1/runs"
check "bob's runs hold ca1 and ca3, not ca2" has '[.runs[].id] | sort == ["ca1", "ca3"]'
get alice "/api/v1/runs"
check "alice's runs hold no run of bob/app" has '[.runs[].id] | sort == ["ca2", "ca3"]'
get alice "/api/v1/runs?repo=bob/app"
check "alice's runs?repo=bob/app is empty, as for an unknown repository" has '.runs == [] and .next_before == null'
get bob "/api/v1/runs?limit=1"
check "a filtered page still says where the next one starts" has '(.runs | length) == 1 and .next_before != null'
get - /api/v1/runs
check "anonymous runs: only pub/app's" has '[.runs[].id] == ["ca3"]'

for sub in "" /log /events; do
    get bob "/api/v1/runs/ca1$sub" --max-time 3
    [ "$code" = 200 ] && ok "bob reads /api/v1/runs/ca1$sub" || fail "bob /api/v1/runs/ca1$sub: $code"
    get alice "/api/v1/runs/ca1$sub" --max-time 3
    a=$code; amsg=$(jq -r .error.message "$SW_SCRATCH/body" 2>/dev/null)
    get - "/api/v1/runs/ca1$sub" --max-time 3
    [ "$a" = 404 ] && [ "$code" = 404 ] && [ "$amsg" = "run ca1 does not exist" ] &&
        ok "alice and anonymous get 404 'does not exist' for /api/v1/runs/ca1$sub" ||
        fail "/api/v1/runs/ca1$sub: alice $a ($amsg), anonymous $code"
done
get bob /api/v1/runs/ca1/events --max-time 3
grep -q 'log line of bob/app' "$SW_SCRATCH/body" && ok "bob's SSE stream carries the log" ||
    fail "SSE stream of ca1: $(head -c 300 "$SW_SCRATCH/body")"
get alice /api/v1/runs/ca1/cancel -X POST -H 'Content-Type: application/json' --data '{}'
check "alice cancelling bob's run gets 404, not 403" test "$code" = 404

get bob /api/v1/images
check "bob's images hold bob/app" has '[.repositories[].name] | index("bob/app") != null'
get alice /api/v1/images
check "alice's images hold no bob/app" has '[.repositories[].name] | sort == ["alice/app", "pub/app"]'
for p in /api/v1/images/bob/app/tags /api/v1/images/bob/app/manifests/1; do
    get bob "$p"; b=$code
    get alice "$p"; a=$code
    get - "$p"
    check "$p: bob 200, alice and anonymous 404" test "$b:$a:$code" = "200:404:404"
done
get alice /api/v1/status
check "alice's status counts the repositories she may see" has '.repositories == 2'
get - /api/v1/status
check "anonymous status: one repository, anonymous reading on" has '.repositories == 1 and .anonymous_pull == true'

code=$(curl -s -o "$SW_SCRATCH/body" -w '%{http_code}' -u alice:alice-pw "$url/v2/_catalog")
check "alice's catalog has no bob/app" has '.repositories | sort == ["alice/app", "pub/app"]'
code=$(curl -s -o "$SW_SCRATCH/body" -w '%{http_code}' "$url/v2/_catalog")
check "anonymous catalog: pub/app only" test "$code:$(jq -c .repositories "$SW_SCRATCH/body")" = '200:["pub/app"]'
check "anonymous skopeo pulls pub/app (anonymous token from /token)" quiet sk inspect --tls-verify=false "docker://$reg/pub/app:1"
refused "anonymous skopeo cannot read bob/app" 'unauthorized' sk inspect --tls-verify=false "docker://$reg/bob/app:1"
refused "alice's skopeo cannot read bob/app" 'denied' sk inspect --tls-verify=false --creds alice:alice-pw "docker://$reg/bob/app:1"

# --- access tokens ---------------------------------------------------------------
token=$("$bin" token create --config "$cfg" --user bob --scope 'repository:bob/*:pull' --expires 90d --name ci 2> "$SW_SCRATCH/create.err")
check "token create prints the token alone on stdout" grep -qE '^swp_[0-9a-f]{80}$' <<< "$token"
refused "a second token of the same name is refused" 'already has a token called ci' \
    "$bin" token create --config "$cfg" --user bob --scope 'repository:bob/*:pull' --name ci
refused "a token for an unknown user is refused" 'no user mallory' \
    "$bin" token create --config "$cfg" --user mallory --scope 'repository:x:pull' --name ci
refused "a bad scope is refused with the reason" 'unknown action "delete"' \
    "$bin" token create --config "$cfg" --user bob --scope 'repository:bob/*:delete' --name bad
"$bin" token list --config "$cfg" --user bob > "$SW_SCRATCH/list.out"
check "token list shows bob/ci with its scope" grep -q 'repository:bob/\*:pull' "$SW_SCRATCH/list.out"

check "the pull token pulls bob/app with skopeo (Bearer flow)" \
    quiet sk copy --src-tls-verify=false --src-creds "bob:$token" "docker://$reg/bob/app:1" "oci:$work/pulled:1"
check "... through GET /token" grep -q 'GET /token' "$SW_SERVER_LOG"
check "skopeo login with the token works (docker login -u bob -p TOKEN)" \
    quiet sk login --tls-verify=false --authfile "$SW_SCRATCH/auth.json" -u bob -p "$token" "$reg"
refused "the pull token cannot push (denied, naming the scope)" 'needs scope repository:bob/app:push' \
    sk copy --dest-tls-verify=false --dest-creds "bob:$token" "oci:$work/img:1" "docker://$reg/bob/app:2"
get "$token" /v2/bob/app/blobs/uploads/ -X POST
check "the token as Bearer on a push: 403 DENIED with the scope in the body" \
    test "$code:$(jq -r '.errors[0].code + " " + .errors[0].detail.scope' "$SW_SCRATCH/body")" = "403:DENIED repository:bob/app:push"
get "$token" /v2/bob/app/tags/list
check "the token as Bearer pulls" test "$code" = 200
code=$(curl -s -o "$SW_SCRATCH/body" -w '%{http_code}' -u "bob:$token" \
    "$url/token?service=$reg&scope=repository:bob/app:pull,push&scope=repository:alice/app:pull")
cat "$SW_SCRATCH/body" >> "$api_log"
jwt=$(jq -r .token "$SW_SCRATCH/body")
claims=$(cut -d. -f2 <<< "$jwt" | tr '_-' '/+' | base64 -d 2> /dev/null || true)
[ -z "$claims" ] && claims=$(cut -d. -f2 <<< "$jwt" | tr '_-' '/+' | sed 's/$/==/' | base64 -d 2> /dev/null || true)
check "/token answers token, access_token, expires_in, issued_at" \
    has '(.token | length) > 20 and .access_token == .token and .expires_in > 0 and (.issued_at | test("Z$"))'
check "... granting pull only: requested ∩ the token's scopes ∩ bob's rules" \
    test "$(jq -c .access <<< "$claims" 2>/dev/null)" = '[{"type":"repository","name":"bob/app","actions":["pull"]}]'
get "$jwt" /v2/bob/app/tags/list
check "the issued token pulls bob/app" test "$code" = 200
curl -s -D "$SW_SCRATCH/h" -o /dev/null -H "Authorization: Bearer $jwt" "$url/v2/pub/app/tags/list"
check "... nothing its access token's scope does not cover (403, bob/* only)" grep -q '^HTTP/1.1 403' "$SW_SCRATCH/h"
pw_jwt=$(curl -s -u bob:bob-pw "$url/token?service=$reg&scope=repository:bob/app:pull" | jq -r .token)
curl -s -D "$SW_SCRATCH/h" -o /dev/null -H "Authorization: Bearer $pw_jwt" "$url/v2/pub/app/tags/list"
grep -qi "^WWW-Authenticate: Bearer realm=\"$url/token\",service=\"$reg\",scope=\"repository:pub/app:pull\",error=\"insufficient_scope\"" "$SW_SCRATCH/h" &&
    ok "a password's registry token for bob/app on pub/app: 401 insufficient_scope naming the scope" ||
    fail "no insufficient_scope challenge: $(tr -d '\r' < "$SW_SCRATCH/h" | grep -i -e ^HTTP -e ^www)"
curl -s -D "$SW_SCRATCH/h" -o /dev/null -H "Authorization: Bearer $jwt" -X POST "$url/v2/bob/app/blobs/uploads/"
check "... a push with it is 403 naming the scope" grep -q '^HTTP/1.1 403' "$SW_SCRATCH/h"
tampered=${jwt%?}A; [ "$tampered" = "$jwt" ] && tampered=${jwt%?}B
get "$tampered" /v2/bob/app/tags/list
check "a tampered token is refused" test "$code" = 401
# the OAuth2 form containerd and docker try first (POST, grant_type=password)
code=$(curl -s -o "$SW_SCRATCH/body" -w '%{http_code}' --data-urlencode grant_type=password \
    --data-urlencode username=bob --data-urlencode "password=$token" --data-urlencode client_id=test \
    --data-urlencode "service=$reg" --data-urlencode 'scope=repository:bob/app:pull,push repository:alice/app:pull' "$url/token")
cat "$SW_SCRATCH/body" >> "$api_log"
check "POST /token (OAuth2 password grant) with the token: pull of bob/app only" \
    test "$code:$(jq -r '.scope + " " + .token_type' "$SW_SCRATCH/body")" = "200:repository:bob/app:pull Bearer"
get "$(jq -r .access_token "$SW_SCRATCH/body")" /v2/bob/app/tags/list
check "... and its access_token pulls" test "$code" = 200
code=$(curl -s -o /dev/null -w '%{http_code}' --data 'grant_type=password&username=bob&password=nope&scope=repository%3Abob%2Fapp%3Apull' "$url/token")
check "POST /token with a wrong password: 401" test "$code" = 401
code=$(curl -s -o /dev/null -w '%{http_code}' --data 'grant_type=refresh_token&refresh_token=x' "$url/token")
check "POST /token: no refresh tokens (401, clients log in again)" test "$code" = 401
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $jwt" "$url/token?scope=repository:bob/app:pull")
check "/token does not renew a registry token with itself: 401" test "$code" = 401
code=$(curl -s -o /dev/null -w '%{http_code}' -u bob:wrong "$url/token?scope=repository:bob/app:pull")
check "/token with a wrong password: 401" test "$code" = 401

wide=$("$bin" token create --config "$cfg" --user bob --scope 'repository:*:pull,push' --name wide 2> /dev/null)
check "a token with push scope pushes bob/app:2" \
    quiet sk copy --dest-tls-verify=false --dest-creds "bob:$wide" "oci:$work/img:1" "docker://$reg/bob/app:2"
refused "... but never more than its user: no pull of alice/app" 'denied' \
    sk inspect --tls-verify=false --creds "bob:$wide" "docker://$reg/alice/app:1"
refused "a token with another user's name is refused" 'unauthorized' \
    sk inspect --tls-verify=false --creds "alice:$wide" "docker://$reg/pub/app:1"
get "$token" /api/v1/runs
check "the API reads with the token as Bearer: only runs its scope bob/* covers" has '[.runs[].id] == ["ca1"]'
get bob /api/v1/tokens
check "GET /api/v1/tokens lists bob's tokens, no secret" \
    has '[.tokens[].name] == ["ci", "wide"] and ([.tokens[] | keys[]] | index("secret") == null)'
get alice /api/v1/tokens
check "alice sees none of bob's tokens" has '.tokens == []'

# --- the web UI in Chromium (bob has tokens now) ---------------------------------
build_dir=$(cd "$SW_TMP_ROOT/.." && pwd)
deps=$build_dir/browser-deps/1.61.1   # pinned as in 200-web-ui.sh (ctest runs that first)
if [ -x /usr/bin/chromium ] && command -v npm > /dev/null && [ ! -f "$deps/node_modules/playwright-core/package.json" ]; then
    mkdir -p "$deps"
    npm install --prefix "$deps" --no-save --no-audit --no-fund --loglevel=error \
        playwright-core@1.61.1 > "$SW_SCRATCH/npm.log" 2>&1 || fail "npm install playwright-core: $(tail -3 "$SW_SCRATCH/npm.log")"
fi
if [ -x /usr/bin/chromium ] && command -v node > /dev/null && [ -f "$deps/node_modules/playwright-core/package.json" ]; then
    if SLIPWAY_URL=$url PLAYWRIGHT=$deps/node_modules/playwright-core \
       node "$SLIPWAY_SOURCE_DIR/tests/browser/authz.mjs" > "$SW_SCRATCH/ui.out" 2>&1; then
        ui_status=0
    else
        ui_status=$?
    fi
    cat "$SW_SCRATCH/ui.out"
    [ "$ui_status" = 0 ] && ok "the browser checks pass" || fail "the browser checks (exit $ui_status)"
else
    # 200-web-ui.sh installs playwright-core into the build tree
    echo "# skipped the browser part: no chromium, node or playwright-core (run 200-web-ui first)"
fi


"$bin" token revoke --config "$cfg" --user bob --name ci 2> /dev/null
refused "after revoke the token is refused" 'unauthorized' \
    sk inspect --tls-verify=false --creds "bob:$token" "docker://$reg/bob/app:1"
get "$jwt" /v2/bob/app/tags/list
check "... and so is the registry token issued from it" test "$code" = 401
refused "revoking it again says there is none" 'has no token called ci' \
    "$bin" token revoke --config "$cfg" --user bob --name ci

short=$("$bin" token create --config "$cfg" --user bob --scope 'repository:bob/*:pull' --expires 2s --name short 2> /dev/null)
get "$short" /v2/bob/app/tags/list
check "a 2 s token works at first" test "$code" = 200
sleep 3
get "$short" /v2/bob/app/tags/list
check "... and is refused once expired" test "$code" = 401
refused "... also through skopeo" 'unauthorized' \
    sk inspect --tls-verify=false --creds "bob:$short" "docker://$reg/bob/app:1"
"$bin" token list --config "$cfg" > "$SW_SCRATCH/list.out"
check "token list marks it expired" grep -q 'bob/short (expired)' "$SW_SCRATCH/list.out"

# the secrets appear nowhere
sw_stop_server
for t in "$token" "$wide" "$short"; do
    secret=${t#swp_}; secret=${secret:16}
    hits=$(grep -rlaF -e "$secret" "$work/data" "$SW_SERVER_LOG" "$api_log" "$SW_SCRATCH/list.out" 2> /dev/null || true)
    [ -z "$hits" ] && ok "secret ${t:0:12}... is in no database file, log or API answer" || fail "secret found in: $hits"
done
check "the token key is 0600" test "$(stat -c %a "$work/data/token.key")" = 600

# --- registry.auth.challenge: basic --------------------------------------------
port2=$(sw_free_port)
cfg2=$(sw_write_config "$work/basic" "$port2" "registry:
  auth: { htpasswd: $work/htpasswd, challenge: basic, realm: slipway-basic }")
tok2=$("$bin" token create --config "$cfg2" --user alice --scope 'repository:*:pull,push' --name ci 2> /dev/null)
sw_start_server "$cfg2"
curl -s -D "$SW_SCRATCH/h" -o /dev/null "http://127.0.0.1:$port2/v2/"
check "challenge: basic answers a Basic challenge" grep -qi '^WWW-Authenticate: Basic realm="slipway-basic"' "$SW_SCRATCH/h"
check "... and a token as the Basic password pushes" \
    quiet sk copy --dest-tls-verify=false --dest-creds "alice:$tok2" "oci:$work/img:1" "docker://127.0.0.1:$port2/team/app:1"
check "... and pulls" quiet sk inspect --tls-verify=false --creds "alice:$tok2" "docker://127.0.0.1:$port2/team/app:1"

sw_finish
