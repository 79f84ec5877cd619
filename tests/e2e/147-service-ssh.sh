#!/usr/bin/env bash
# 147-service-ssh.sh - building from ssh:// sources: a real SSH server
# (dropbear on 127.0.0.1, in a private mount namespace where /root is a
# scratch directory holding the test's authorized_keys, so nothing of the
# machine's own is touched) serves the repository to libgit2 with key
# authentication. Host keys are checked against the repository's
# known_hosts file or the service user's ~/.ssh/known_hosts: an unknown
# host and a changed key are refused with a message that names the host,
# the key's fingerprint and the file, and a refused client key says so.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 120

work=$(sw_tmpdir)
src=$work/app
svc_git_init "$src"
head=$(svc_git -C "$src" rev-parse HEAD)

# --- keys and the SSH server ------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C deploy -f "$work/deploy_key"
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$work/other_key"
mkdir -p "$work/sshroot/.ssh"
chmod 700 "$work/sshroot" "$work/sshroot/.ssh"
cp "$work/deploy_key.pub" "$work/sshroot/.ssh/authorized_keys"
chmod 600 "$work/sshroot/.ssh/authorized_keys"
dropbearkey -t ed25519 -f "$work/host_key" > "$work/host_key.out" 2>&1
host_pub=$(grep '^ssh-ed25519 ' "$work/host_key.out" | cut -d' ' -f1,2)
printf '%s\n' "$host_pub" > "$work/host_key.pub"
host_fpr=$(ssh-keygen -lf "$work/host_key.pub" | awk '{print $2}')
ssh_port=$(sw_free_port)
unshare --mount --propagation private sh -c \
    'mount --bind "$1" /root && exec dropbear -F -E -s -r "$2" -p "127.0.0.1:$3" -P "$4"' \
    sh "$work/sshroot" "$work/host_key" "$ssh_port" "$work/dropbear.pid" > "$work/dropbear.log" 2>&1 &
SW_CLEANUP_CMDS+=("kill $!")
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$ssh_port") 2>/dev/null && break
    sleep 0.1
done

# known_hosts files: the right key, another key for the same host, none
printf '[127.0.0.1]:%s %s\n' "$ssh_port" "$host_pub" > "$work/known_hosts"
printf '[127.0.0.1]:%s %s\n' "$ssh_port" "$(cut -d' ' -f1,2 "$work/other_key.pub")" > "$work/changed_hosts"
: > "$work/no_hosts"
# the service user's own file, for a repository that names none
mkdir -p "$work/home/.ssh"
cp "$work/known_hosts" "$work/home/.ssh/known_hosts"

url="ssh://root@127.0.0.1:$ssh_port$src"
port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
workers: 1
repos:
  - name: demo/ssh
    git: $url
    ssh_key: $work/deploy_key
    known_hosts: $work/known_hosts
    rules: [{ source_type: branch, source: main, tags: [latest] }]
  - name: demo/ssh-default
    git: $url
    ssh_key: $work/deploy_key
    rules: [{ source_type: branch, source: main, tags: [latest] }]
  - name: demo/ssh-unknown
    git: $url
    ssh_key: $work/deploy_key
    known_hosts: $work/no_hosts
    rules: [{ source_type: branch, source: main, tags: [latest] }]
  - name: demo/ssh-changed
    git: $url
    ssh_key: $work/deploy_key
    known_hosts: $work/changed_hosts
    rules: [{ source_type: branch, source: main, tags: [latest] }]
  - name: demo/ssh-stranger
    git: $url
    ssh_key: $work/other_key
    known_hosts: $work/known_hosts
    rules: [{ source_type: branch, source: main, tags: [latest] }]
")
sw_import_busybox "$cfg" test/busybox:1 > /dev/null
HOME=$work/home sw_start_server "$cfg"

manual() { "$SLIPWAY_BIN" run "$1" --branch main --server "$SVC_BASE"; }

# --- a build over SSH ---------------------------------------------------------------------
run=$(manual demo/ssh)
status=$(svc_wait "$run")
[ "$status" = succeeded ] && ok "a repository behind SSH with a deploy key builds" ||
    fail "run $run: $status: $(svc_run_field "$run" .error)"
check "it built the branch's commit" test "$(svc_run_field "$run" .commit)" = "$head"
check "the image has the commit's files" test "$(svc_file demo/ssh:latest hello.txt)" = first
grep -q "Pubkey auth succeeded for 'root'" "$work/dropbear.log" &&
    ok "the SSH server saw the deploy key" || fail "dropbear log: $(cat "$work/dropbear.log")"

run=$(manual demo/ssh-default)
status=$(svc_wait "$run")
[ "$status" = succeeded ] && ok "without known_hosts, the service user's ~/.ssh/known_hosts is used" ||
    fail "run $run: $status: $(svc_run_field "$run" .error)"

# --- host keys that do not check out ---------------------------------------------------------
run=$(manual demo/ssh-unknown)
check "an unknown host fails the run" test "$(svc_wait "$run")" = failed
error=$(svc_run_field "$run" .error)
grep -qF "[127.0.0.1]:$ssh_port" <<< "$error" && grep -qF "$host_fpr" <<< "$error" &&
    grep -qF "$work/no_hosts" <<< "$error" && grep -qF "ssh-keyscan -p $ssh_port 127.0.0.1" <<< "$error" &&
    ok "the error names the host, its key's fingerprint, the file and how to add the key" ||
    fail "error: $error"

run=$(manual demo/ssh-changed)
check "a changed host key fails the run" test "$(svc_wait "$run")" = failed
error=$(svc_run_field "$run" .error)
grep -qF "is not the one in $work/changed_hosts:1" <<< "$error" && grep -qF "$host_fpr" <<< "$error" &&
    ok "the error says the key changed and which line it was checked against" || fail "error: $error"

run=$(manual demo/ssh-stranger)
check "a key the server does not accept fails the run" test "$(svc_wait "$run")" = failed
error=$(svc_run_field "$run" .error)
grep -q "the server refused the SSH key" <<< "$error" && ok "the error says the key was refused" ||
    fail "error: $error"

# no private key material in anything a user can read
logs=$(for r in $(curl -s "$SVC_BASE/api/v1/runs" | jq -r '.runs[].id'); do
    curl -s "$SVC_BASE/api/v1/runs/$r/log"; curl -s "$SVC_BASE/api/v1/runs/$r"; done)
grep -q "PRIVATE KEY" <<< "$logs$(cat "$SW_SERVER_LOG")" && fail "private key material in logs" ||
    ok "no private key material in logs or the API"

sw_finish
