#!/usr/bin/env bash
# 005-docs.sh - the documentation's examples work as written:
#  - every ```yaml block in docs/*.md and README.md is a whole config that
#    `slipway config check` accepts (the convention, in docs/config.md:
#    YAML that is not a complete Slipway config is shown with another
#    info string, e.g. ```text); env:NAME secrets get a value here;
#  - `slipway config check` itself: ok, errors with file and line, usage;
#  - the "send a delivery by hand" script of docs/connect-a-repository.md,
#    run as printed against a real `slipway serve` for each forge, queues
#    a run at the commit, which builds.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 180

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(sw_tmpdir)

# --- every yaml block is a config the loader accepts ---------------------------------------
n_blocks=0
for doc in "$root"/README.md "$root"/docs/*.md; do
    rel=${doc#"$root"/}
    # block N of the file -> $work/blocks/<file>.<N>.yaml, with its first line
    rm -rf "$work/blocks" && mkdir -p "$work/blocks"
    awk -v out="$work/blocks/b" '
        /^[ \t]*```/ {
            if (inside) { inside = 0; close(file); next }
            info = $0; sub(/^[ \t]*```[ \t]*/, "", info)
            if (info ~ /^yaml[ \t]*$/) { n++; inside = 1; file = out "." n ".yaml"
                                          printf "" > file; print NR > (file ".line"); next }
        }
        inside { print > file }' "$doc"
    for block in "$work"/blocks/b.*.yaml; do
        [ -e "$block" ] || continue
        n_blocks=$((n_blocks + 1))
        line=$(cat "$block.line")
        # the env: secrets a block names get a value, as the server's environment would
        envs=()
        for name in $(grep -oE 'env:[A-Za-z_][A-Za-z0-9_]*' "$block" | cut -d: -f2 | sort -u); do
            envs+=("$name=docs-test-value")
        done
        if out=$(cd "$work" && env "${envs[@]}" "$SLIPWAY_BIN" config check "$block" 2>&1); then
            ok "$rel:$line: the yaml block is a config slipway accepts"
        else
            fail "$rel:$line: the yaml block is refused: ${out//$block/block}"
        fi
    done
done
[ "$n_blocks" -ge 5 ] && ok "$n_blocks yaml blocks checked" || fail "only $n_blocks yaml blocks found"

# --- slipway config check ---------------------------------------------------------------------
printf 'repos:\n  - name: a/b\n    git: file:///x\n    rules:\n      - { source_type: branch, source: main, tags: ["r-{\\1}"] }\n' \
    > "$work/bad-escape.yaml"
refused "config check: a backslash in a double-quoted string is a YAML error with its line" \
    "bad-escape.yaml:5: found unknown escape character" "$SLIPWAY_BIN" config check "$work/bad-escape.yaml"
printf 'repos:\n  - name: a/b\n    git: file:///x\n    secret: env:SLIPWAY_DOCS_TEST_UNSET\n    rules: []\n' \
    > "$work/unset.yaml"
refused "config check: an unset env: secret is named" "unset.yaml:4: .*SLIPWAY_DOCS_TEST_UNSET is not set" \
    env -u SLIPWAY_DOCS_TEST_UNSET "$SLIPWAY_BIN" config check "$work/unset.yaml"
printf 'server:\n  listen: 127.0.0.1:1\n' > "$work/good.yaml"
out=$("$SLIPWAY_BIN" config check "$work/good.yaml" 2>&1) && [ "$out" = "$work/good.yaml: ok (0 source repositories)" ] &&
    ok "config check: a good file is ok" || fail "config check good: $out"
"$SLIPWAY_BIN" config check "$work/good.yaml" "$work/unset.yaml" > /dev/null 2>&1 && rc=0 || rc=$?
check "config check: exit 1 when any file is wrong" test "$rc" = 1
"$SLIPWAY_BIN" config > /dev/null 2>&1 && rc=0 || rc=$?
check "config without a subcommand: usage, exit 2" test "$rc" = 2
"$SLIPWAY_BIN" config check --help | grep -q "usage: slipway config check" &&
    ok "config check --help" || fail "config check --help"

# --- the by-hand delivery script, as printed ---------------------------------------------------
script=$work/send-push.sh
awk '/tests\/e2e\/005-docs.sh runs this script/ { want = 1; next }
     want && /^```sh/ { inside = 1; next }
     inside && /^```/ { exit }
     inside { print }' "$root/docs/connect-a-repository.md" > "$script"
grep -q '^#!/bin/sh' "$script" && ok "the by-hand script is found in docs/connect-a-repository.md" ||
    fail "no script extracted: $(head -3 "$script")"

src=$work/src/hello
svc_git_init "$src"
commit=$(svc_git -C "$src" rev-parse HEAD)
port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
workers: 1
repos:
  - name: docs/hello
    git: file://$src
    secret: docs-s3cret
    rules:
      - { source_type: branch, source: main, tags: [latest] }
")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
sw_start_server "$cfg"
for forge in github gitlab gitea; do
    out=$(sh "$script" "$forge" "$SVC_BASE/hooks/$forge" docs-s3cret refs/heads/main "$commit" "file://$src" 2>&1) || true
    run=$(jq -r '.runs[0].id // empty' <<< "$out" 2> /dev/null || true)
    if [ "$(jq -r .result <<< "$out" 2> /dev/null)" = queued ] && [ -n "$run" ] &&
        [ "$(svc_run_field "$run" .commit)" = "$commit" ]; then
        ok "the by-hand script ($forge) queues run $run at the commit"
    else
        fail "the by-hand script ($forge): $out"
        continue
    fi
    check "the run of the by-hand $forge delivery succeeds" test "$(svc_wait "$run")" = succeeded
done
out=$(sh "$script" github "$SVC_BASE/hooks/github" wrong-secret refs/heads/main "$commit" "file://$src" 2>&1) || true
[ "$(jq -r .error.code <<< "$out" 2> /dev/null)" = UNAUTHORIZED ] &&
    ok "the by-hand script with a wrong secret is refused" || fail "wrong secret: $out"
check "the image the by-hand delivery built is in the registry" test "$(svc_file docs/hello:latest hello.txt)" = first

sw_finish
