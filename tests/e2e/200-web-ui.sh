#!/usr/bin/env bash
# 200-web-ui.sh - the web UI in a real browser: headless Chromium (Debian's
# chromium) driven by playwright-core (tests/browser/ui.mjs) against
# `slipway serve` with a real Git repository configured. Screenshots of
# every page at 1280x800 and 390x844 go to <build dir>/screenshots.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 300

command -v node > /dev/null || { fail "node is not installed (scripts/install-deps.sh --test)"; sw_finish; }
[ -x /usr/bin/chromium ] || { fail "chromium is not installed (scripts/install-deps.sh --test)"; sw_finish; }

# playwright-core, pinned (1.61 is the newest that still runs on Debian 12's
# Node.js 18), installed once per build tree
build_dir=$(cd "$SW_TMP_ROOT/.." && pwd)
deps=$build_dir/browser-deps/1.61.1
if [ ! -f "$deps/node_modules/playwright-core/package.json" ]; then
    mkdir -p "$deps"
    npm install --prefix "$deps" --no-save --no-audit --no-fund --loglevel=error \
        playwright-core@1.61.1 > "$SW_SCRATCH/npm.log" 2>&1 ||
        { fail "npm install playwright-core: $(tail -3 "$SW_SCRATCH/npm.log")"; sw_finish; }
fi

work=$(sw_tmpdir)
src=$work/web
svc_git_init "$src"
cat > "$src/Dockerfile" <<'EOF'
FROM test/busybox:1
ENV GREETING=hello
COPY hello.txt /hello.txt
RUN printf '\033[32mcoloured output\033[0m\n'; echo "# Run ID: ca999 was successful after 1s"; for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.6; done
CMD ["cat", "/hello.txt"]
EOF
cat > "$src/Dockerfile.broken" <<'EOF'
FROM test/busybox:1
RUN echo "about to fail"
RUN exit 3
EOF
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm "web UI test image"
svc_git -C "$src" branch broken

port=$(sw_free_port)
notify_port=$(sw_free_port)
svc_listener "$notify_port" "$SW_SCRATCH/notify.log"
dead_port=$(sw_free_port)   # nothing listens there
cfg=$(sw_write_config "$work" "$port" "
workers: 1
repos:
  - name: demo/web
    git: file://$src
    secret: s3cret
    notify: [http://127.0.0.1:$notify_port/hook, http://127.0.0.1:$dead_port/hook]
    rules:
      - { source_type: branch, source: main, tags: [latest, \"{run_id}\"] }
      - { source_type: branch, source: broken, dockerfile: Dockerfile.broken, tags: [\"{sourceref}\"] }
")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"

url=http://127.0.0.1:$port

# the same repository behind a login, and a server with no repositories
auth_work=$(sw_tmpdir)
htpasswd -cbB "$auth_work/htpasswd" alice s3cret-pw > /dev/null 2>&1
auth_port=$(sw_free_port)
auth_cfg=$(sw_write_config "$auth_work" "$auth_port" "
registry:
  auth: { htpasswd: $auth_work/htpasswd, anonymous_pull: true }
workers: 1
repos:
  - name: demo/web
    git: file://$src
    rules:
      - { source_type: branch, source: main, tags: [latest] }
")
sw_import_busybox "$auth_cfg" test/busybox:1 > /dev/null
# sixty finished runs from before, for the history's "Older runs" pages
b32() { local n=$1 s="" d=0123456789abcdefghijklmnopqrstuv
        while [ "$n" -gt 0 ]; do s=${d:$((n % 32)):1}$s; n=$((n / 32)); done; echo "$s"; }
t0=$(( $(date +%s) - 7200 ))   # recent: runs.keep (90 days) must not take them
for i in $(seq 60); do
    printf "INSERT INTO runs (id, run_id, repo, trigger, source_type, source_ref, commit_sha,"
    printf " commit_message, status, attempts, queued_at, started_at, finished_at)"
    printf " VALUES (%d, 'ca%s', 'demo/web', 'push', 'branch', 'main', '%040d', 'old change %d',"  "$i" "$(b32 "$i")" "$i" "$i"
    printf " 'succeeded', 1, %d, %d, %d);\n" $((t0 + i * 60)) $((t0 + i * 60 + 2)) $((t0 + i * 60 + 9))
done | sqlite3 "$auth_work/data/slipway.db"
# and a fork's pull request run, whose head branch name is markup (shown as text)
sqlite3 "$auth_work/data/slipway.db" "INSERT INTO runs (id, run_id, repo, trigger, source_type,
    source_ref, commit_sha, commit_message, status, attempts, queued_at, started_at, finished_at,
    pr_number, pr_head_ref, pr_head_repo, pr_fork, pr_fetch_ref) VALUES (61, 'ca1t', 'demo/web',
    'push', 'pull_request', 'main', '$(printf '%040d' 61)', 'a fork''s change', 'succeeded', 1,
    $((t0 + 3700)), $((t0 + 3702)), $((t0 + 3709)), 7, '<b>fix</b>', 'octo/web', 1,
    'refs/pull/7/head')"
sw_start_server "$auth_cfg"
empty_work=$(sw_tmpdir)
empty_port=$(sw_free_port)
# ... and behind a login even for reading (anonymous_pull: false)
htpasswd -cbB "$empty_work/htpasswd" bob b0b-pw > /dev/null 2>&1
empty_cfg=$(sw_write_config "$empty_work" "$empty_port" "
registry:
  auth: { htpasswd: $empty_work/htpasswd, anonymous_pull: false }")
sw_start_server "$empty_cfg"

headers=$(curl -s -D - -o /dev/null "$url/runs/ca1")
grep -qi "^content-security-policy: default-src 'self'; script-src 'self'; style-src 'self'" <<< "$headers" &&
    grep -qi "^x-frame-options: DENY" <<< "$headers" &&
    ok "pages are served with a strict Content-Security-Policy and no framing" ||
    fail "page headers: $headers"
grep -qi "^x-content-type-options: nosniff" <(curl -s -D - -o /dev/null "$url/api/v1/status") &&
    ok "API answers tell browsers not to sniff" || fail "no nosniff on the API"

shots=$build_dir/screenshots
rm -rf "$shots"
if SLIPWAY_URL=$url SLIPWAY_REPO=demo/web SCREENSHOTS=$shots \
   SLIPWAY_AUTH_URL=http://127.0.0.1:$auth_port SLIPWAY_AUTH_PASSWORD=s3cret-pw \
   SLIPWAY_EMPTY_URL=http://127.0.0.1:$empty_port SLIPWAY_EMPTY_USER=bob SLIPWAY_EMPTY_PASSWORD=b0b-pw \
   PLAYWRIGHT=$deps/node_modules/playwright-core \
   node "$SLIPWAY_SOURCE_DIR/tests/browser/ui.mjs" > "$SW_SCRATCH/ui.out" 2>&1; then
    ui_status=0
else
    ui_status=$?
fi
cat "$SW_SCRATCH/ui.out"
[ "$ui_status" = 0 ] && ok "the browser tests pass" || fail "the browser tests (exit $ui_status)"
n=$(find "$shots" -name '*.png' 2>/dev/null | wc -l)
[ "$n" -ge 21 ] && ok "$n screenshots in $shots" || fail "only $n screenshots in $shots"

sw_finish
