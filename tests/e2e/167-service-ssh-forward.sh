#!/usr/bin/env bash
# 167-service-ssh-forward.sh - the build service and RUN --mount=type=ssh:
# a repository with forward_ssh: true gets an agent holding its ssh_key
# (the step's ssh-add -l shows the key's fingerprint; no key material in
# the image, the run log or the API), one without it gets no agent (a
# required ssh mount fails the run, naming the id).
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 150

work=$(sw_tmpdir)
ssh-keygen -q -t ed25519 -N '' -C "deploy-$$" -f "$work/deploy_key"
fpr=$(ssh-keygen -lf "$work/deploy_key.pub" | awk '{print $2}')
key_line=$(sed -n 2p "$work/deploy_key")

src=$work/app
svc_git_init "$src"
cat > "$src/Dockerfile" << 'DF'
FROM test/tools:1
RUN --mount=type=ssh,required=true sh -c 'ssh-add -l > /fpr; ssh-add -l'
DF
svc_git -C "$src" commit -qam "ssh agent step"

port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
cfg=$(sw_write_config "$work" "$port" "
workers: 1
builder: { network: none, step_timeout: 2m }
repos:
  - name: demo/agent
    git: file://$src
    ssh_key: $work/deploy_key
    forward_ssh: true
    rules: [{ source_type: branch, source: main, tags: [latest] }]
  - name: demo/noagent
    git: file://$src
    ssh_key: $work/deploy_key
    rules: [{ source_type: branch, source: main, tags: [latest] }]
")
sw_tools_tar "$work/tools.tar"
"$SLIPWAY_BIN" import --config "$cfg" "tar:$work/tools.tar" test/tools:1 > /dev/null
sw_start_server "$cfg"

manual() { "$SLIPWAY_BIN" run "$1" --branch main --server "$SVC_BASE"; }

run=$(manual demo/agent)
status=$(svc_wait "$run")
[ "$status" = succeeded ] && ok "forward_ssh: true: the ssh mount step runs" ||
    fail "run $run: $status: $(svc_run_field "$run" .error)"
check "the step's agent holds the repository's ssh_key" grep -qF -- "$fpr" <<< "$(svc_file demo/agent:latest fpr)"
log=$(curl -s "$SVC_BASE/api/v1/runs/$run/log")
check "the run log shows the fingerprint" grep -qF -- "$fpr" <<< "$log"

run=$(manual demo/noagent)
check "without forward_ssh the run fails" test "$(svc_wait "$run")" = failed
error=$(svc_run_field "$run" .error)
grep -q "ssh default: not forwarded" <<< "$error" && ok "the error names the ssh id" || fail "error: $error"

all=$(for r in $(curl -s "$SVC_BASE/api/v1/runs" | jq -r '.runs[].id'); do
    curl -s "$SVC_BASE/api/v1/runs/$r/log"; curl -s "$SVC_BASE/api/v1/runs/$r"; done)
grep -qF -- "$key_line" <<< "$all$(cat "$SW_SERVER_LOG")" && fail "private key material in logs or the API" ||
    ok "no private key material in logs or the API"
if grep -raqF -- "$key_line" "$work/data" 2> /dev/null; then
    fail "the data directory holds the private key"
else
    ok "the data directory never holds the private key"
fi
sw_finish
