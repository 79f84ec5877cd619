#!/usr/bin/env bash
# The slipway binary itself: help, version, config errors that name the file,
# line and key, a database from a newer slipway refused, and a graceful
# shutdown on SIGTERM and SIGINT.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin="$SLIPWAY_BIN"
dir=$(sw_tmpdir)

# --- help and version ----------------------------------------------------
out=$("$bin" --help)
[[ "$out" == *"usage: slipway <command>"* && "$out" == *"serve"* && "$out" == *"import"* ]] \
    && ok "slipway --help lists the commands" || fail "--help output: $out"
"$bin" version | grep -Eq '^slipway [0-9]+\.[0-9]+\.[0-9]+$' \
    && ok "slipway version" || fail "version output: $("$bin" version)"
set +e
"$bin" frobnicate >/dev/null 2>"$dir/err"; rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "unknown command 'frobnicate'" "$dir/err" \
    && ok "unknown command exits 2 with a message" || fail "unknown command: rc=$rc $(cat "$dir/err")"

# --- config errors name file, line and key -------------------------------
cat > "$dir/bad.yaml" <<YAML
server:
  listen: 127.0.0.1:1
registry:
  delete: maybe
YAML
set +e
"$bin" serve --config "$dir/bad.yaml" >/dev/null 2>"$dir/err"; rc=$?
set -e
[[ $rc -ne 0 ]] && grep -q "bad.yaml:4: registry.delete: expected true or false, got \"maybe\"" "$dir/err" \
    && ok "bad config value: file, line, key and expectation in the message" \
    || fail "bad config: rc=$rc $(cat "$dir/err")"

printf 'server:\n  listn: 127.0.0.1:1\n' > "$dir/typo.yaml"
set +e
"$bin" serve --config "$dir/typo.yaml" >/dev/null 2>"$dir/err"; rc=$?
set -e
[[ $rc -ne 0 ]] && grep -q "typo.yaml:2: server.listn: unknown key" "$dir/err" \
    && ok "unknown config key is an error" || fail "typo config: rc=$rc $(cat "$dir/err")"

set +e
"$bin" serve --config "$dir/missing.yaml" >/dev/null 2>"$dir/err"; rc=$?
set -e
[[ $rc -ne 0 ]] && grep -q "missing.yaml" "$dir/err" \
    && ok "missing config file is named" || fail "missing config: rc=$rc $(cat "$dir/err")"

# --- graceful shutdown, and the database it leaves -----------------------
port=$(sw_free_port)
cfg=$(sw_write_config "$dir" "$port")
for sig in TERM INT; do
    sw_start_server "$cfg"
    pid=$SW_SERVER_PID
    kill -"$sig" "$pid"
    rc=0
    wait "$pid" || rc=$?
    SW_SERVER_PID=
    [[ $rc -eq 0 ]] && ok "SIGTERM/SIGINT ($sig): exits 0" || fail "exit status after SIG$sig: $rc"
done
data_dir=$(sed -n 's/^ *data_dir: *//p' "$cfg")
[[ -f "$data_dir/slipway.db" ]] && ok "database created under data_dir" || fail "no $data_dir/slipway.db"
mode=$(sqlite3 "$data_dir/slipway.db" 'PRAGMA journal_mode')
[[ "$mode" == wal ]] && ok "database is in WAL mode" || fail "journal_mode=$mode"
applied=$(sqlite3 "$data_dir/slipway.db" 'SELECT COUNT(*) FROM schema_version')
[[ "$applied" -ge 1 ]] && ok "migrations recorded ($applied)" || fail "schema_version rows: $applied"

# --- a database from a newer slipway is refused --------------------------
sqlite3 "$data_dir/slipway.db" "INSERT INTO schema_version VALUES (9999, '9999_future.sql', 0)"
set +e
timeout 20 "$bin" serve --config "$cfg" >/dev/null 2>"$dir/err"; rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] && grep -q "schema version 9999" "$dir/err" && grep -q "newer slipway" "$dir/err" \
    && ok "newer database refused with a clear message" || fail "newer db: rc=$rc $(cat "$dir/err")"

# --- client commands say what is wrong -------------------------------------
refused "runs --status with an unknown state names the states" "expected queued, running" \
    "$bin" runs --status broken --server http://127.0.0.1:9
refused "runs -n that is not a number is refused" "expected a number from 1 to 500" \
    "$bin" runs -n 12abc --server http://127.0.0.1:9
refused "run with both --branch and --tag says to give one" "exactly one of --branch, --tag or --commit" \
    "$bin" run demo/hello --branch main --tag v1 --server http://127.0.0.1:9
refused "worker --threads that is not a number is refused" "expected a number from 1 to 64" \
    "$bin" worker --threads 2x
for c in runs logs run; do
    check "$c --help says where the server and credentials come from" \
        sh -c "'$bin' $c --help | grep -q SLIPWAY_SERVER && '$bin' $c --help | grep -q SLIPWAY_PASSWORD"
done

sw_finish
