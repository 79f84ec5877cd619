#!/usr/bin/env bash
# Tenants kept apart (docs/security.md "Tenants"): the build service with
# htpasswd users alice and bob and per-repository rules.
#  - alice's repository builds as run_as: alice: FROM and COPY --from of
#    bob's private image fail naming the image and the identity; after a
#    rule grants alice pull on it, both build;
#  - base images pulled from a "remote" registry (Distribution on 127.0.0.1,
#    the mirror of docker.io) live in a cache that pushes cannot write: bob
#    pushing docker.io/library/busybox into our registry does not change what
#    FROM docker.io/library/busybox (or FROM busybox) builds from;
#  - the build cache is per repository: the same Dockerfile in another
#    repository runs its steps again;
#  - git: a submodule with a file:// URL fails the run (allowed with
#    submodules: {allow_local: true}); a Git server that redirects to another
#    origin gets no credentials there (the server records the Authorization
#    headers it receives); no credentials over http:// without insecure: true.
source "$(dirname "$0")/svc-lib.sh"
sw_time_limit 240

work=$(sw_tmpdir)
port=$(sw_free_port)
SVC_BASE=http://127.0.0.1:$port
host=127.0.0.1:$port
A=(-u alice:alice-pw)
{
    htpasswd -nbB alice alice-pw
    htpasswd -nbB bob bob-pw
} 2> /dev/null | grep . > "$work/htpasswd"

# --- the sources -------------------------------------------------------------------
src=$work/src
mkdir -p "$src"
svc_git -C "$src" init -q
echo hello > "$src/hello.txt"
printf 'FROM alice/base:1\nCOPY hello.txt /hello.txt\n' > "$src/Dockerfile"
svc_git -C "$src" add -A
svc_git -C "$src" commit -qm base
branch() { # NAME DOCKERFILE-TEXT
    svc_git -C "$src" checkout -q -b "$1" main
    printf '%b' "$2" > "$src/Dockerfile"
    svc_git -C "$src" commit -qam "$1"
    svc_git -C "$src" checkout -q main
}
branch from-private 'FROM bob/base:1\nCOPY hello.txt /hello.txt\n'
branch copy-private 'FROM alice/base:1\nCOPY --from=bob/base:1 /bin/busybox /bb\n'
branch local-host "FROM $host/bob/base:1\\nCOPY hello.txt /hello.txt\\n"
branch remote 'FROM docker.io/library/busybox:latest\nCOPY hello.txt /hello.txt\n'
branch remote-short 'FROM busybox\nCOPY hello.txt /hello.txt\n'

# a repository with a submodule on a file:// URL
lib=$work/lib
mkdir -p "$lib"
svc_git -C "$lib" init -q
echo libcode > "$lib/lib.c"
svc_git -C "$lib" add -A
svc_git -C "$lib" commit -qm lib
subapp=$work/subapp
mkdir -p "$subapp"
svc_git -C "$subapp" init -q
printf 'FROM alice/base:1\nCOPY vendor/lib/lib.c /lib.c\n' > "$subapp/Dockerfile"
svc_git -C "$subapp" add -A
svc_git -C "$subapp" -c protocol.file.allow=always submodule -q add "file://$lib" vendor/lib
svc_git -C "$subapp" commit -qam "app with a file:// submodule"

# a private Git server (smart HTTP, token), and an origin that redirects to it
private_root=$work/private
mkdir -p "$private_root"
git clone -q --bare "$src" "$private_root/app.git"
git_port=$(sw_free_port)
svc_git_http "$git_port" "$private_root" git-tok-123
redirector() { # PORT LOG MODE: redirects everything to the Git server; MODE auth-first
    # asks for credentials first (and redirects only once it got them)
    python3 - "$1" "$git_port" "$2" "$3" > /dev/null 2>&1 <<'PY' &
import http.server, sys
port, target, log, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        auth = self.headers.get("Authorization")
        with open(log, "a") as f:
            f.write(("auth" if auth else "none") + "\n")
        if mode == "auth-first" and not auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(302)
        self.send_header("Location", f"http://127.0.0.1:{target}{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_GET = do_POST = handle_any
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
    SW_CLEANUP_CMDS+=("kill $!")
    sw_wait_http "http://127.0.0.1:$1/" 10 || true
}
redirect_port=$(sw_free_port)
redirector "$redirect_port" "$work/redirector.log" plain
redirect2_port=$(sw_free_port)
redirector "$redirect2_port" "$work/redirector2.log" auth-first
export TENANCY_GIT_TOKEN=git-tok-123

# --- the "remote" registry: Distribution on 127.0.0.1, docker.io's mirror ---------
remote_port=$(sw_free_port)
cat > "$work/remote.yml" <<YML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $work/remote-data } }
http: { addr: 127.0.0.1:$remote_port }
YML
/usr/bin/docker-registry serve "$work/remote.yml" > "$work/remote.log" 2>&1 &
SW_CLEANUP_CMDS+=("kill $!")
sw_wait_http "http://127.0.0.1:$remote_port/v2/" 20

write_config() { # EXTRA_RULES
    sw_write_config "$work" "$port" "registry:
  local_hosts: [$host]
  mirrors: { docker.io: [\"http://127.0.0.1:$remote_port\"] }
  auth:
    htpasswd: $work/htpasswd
    anonymous_pull: false
    rules:
      - { repo: \"alice/*\", users: [alice], access: [pull, push] }
      - { repo: \"bob/*\", users: [bob], access: [pull, push] }
      - { repo: \"docker.io/*\", users: [bob], access: [pull, push] }
      - { repo: \"seed/*\", users: [bob], access: [pull, push] }
$1
builder: { network: none, step_timeout: 2m }
workers: 1
repos:
  - name: alice/app
    git: file://$src
    run_as: alice
    rules:
      - { source_type: branch, source: \"/.*/\", tags: [\"{sourceref}\"] }
  - name: alice/app2
    git: file://$src
    run_as: alice
    rules:
      - { source_type: branch, source: \"/.*/\", tags: [\"{sourceref}\"] }
  - name: alice/sub
    git: file://$subapp
    run_as: alice
    submodules: true
    rules:
      - { source_type: branch, source: main, tags: [latest] }
  - name: alice/sub-local
    git: file://$subapp
    run_as: alice
    submodules: { allow_local: true }
    rules:
      - { source_type: branch, source: main, tags: [latest] }
  - name: alice/plain
    git: http://127.0.0.1:$git_port/app.git
    token: env:TENANCY_GIT_TOKEN
    run_as: alice
    rules:
      - { source_type: branch, source: main, tags: [latest] }
  - name: alice/redirected
    git: http://127.0.0.1:$redirect_port/app.git
    token: env:TENANCY_GIT_TOKEN
    insecure: true
    run_as: alice
    rules:
      - { source_type: branch, source: main, tags: [latest] }
  - name: alice/redirected-late
    git: http://127.0.0.1:$redirect2_port/app.git
    token: env:TENANCY_GIT_TOKEN
    insecure: true
    run_as: alice
    rules:
      - { source_type: branch, source: main, tags: [latest] }
  - name: alice/direct
    git: http://127.0.0.1:$git_port/app.git
    token: env:TENANCY_GIT_TOKEN
    insecure: true
    run_as: alice
    rules:
      - { source_type: branch, source: main, tags: [latest] }
"
}
cfg=$(write_config "")

# images: alice's and bob's bases (busybox), and the two "busybox" images
sw_import_busybox "$cfg" alice/base:1 > /dev/null
sw_import_busybox "$cfg" bob/base:1 > /dev/null
seed_ctx=$(sw_tmpdir)
for origin in remote pushed; do
    echo "$origin" > "$seed_ctx/origin.txt"
    printf 'FROM alice/base:1\nCOPY origin.txt /origin.txt\n' > "$seed_ctx/Dockerfile"
    "$SLIPWAY_BIN" build --config "$cfg" -t "seed/$origin:1" "$seed_ctx" > "$work/seed.log" 2>&1 ||
        fail "seed image $origin: $(tail -3 "$work/seed.log")"
    "$SLIPWAY_BIN" export --config "$cfg" "seed/$origin:1" "oci:$work/seed-$origin:1" > /dev/null
done
sk copy -q --dest-tls-verify=false "oci:$work/seed-remote:1" \
    "docker://127.0.0.1:$remote_port/library/busybox:latest"

sw_start_server "$cfg"

check_eq() { # WHAT GOT WANT
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}
run() { # REPO BRANCH: a manual run as alice; prints its id
    curl -s "${A[@]}" -H 'Content-Type: application/json' \
        -d "{\"repo\": \"$1\", \"branch\": \"$2\"}" "$SVC_BASE/api/v1/runs" | jq -r .id
}
field() { curl -s "${A[@]}" "$SVC_BASE/api/v1/runs/$1" | jq -r "$2"; }
wait_run() { # RUN: prints its final status
    local status
    for _ in $(seq 600); do
        status=$(field "$1" .status)
        case $status in queued|running|""|null) sleep 0.1 ;; *) echo "$status"; return 0 ;; esac
    done
    echo "timeout($status)"
}
image_file() { # REPO:TAG PATH, pulled as alice
    local dir
    dir=$(mktemp -d "$SW_SCRATCH/img.XXXXXX")
    sk copy -q --src-tls-verify=false --src-creds alice:alice-pw "docker://$host/$1" \
        "oci:$dir/layout:img" > /dev/null 2>&1 &&
        umoci unpack --image "$dir/layout:img" "$dir/bundle" > /dev/null 2>&1 &&
        cat "$dir/bundle/rootfs/$2"
}
expect_failure() { # WHAT RUN REGEX
    local status error
    status=$(wait_run "$2")
    error=$(field "$2" .error)
    if [ "$status" = failed ] && grep -Eq -- "$3" <<< "$error"; then ok "$1"
    else fail "$1: $status: $error"; fi
}

# --- identity: FROM and COPY --from of bob's private image -----------------------
expect_failure "FROM bob's private image fails for alice's repository, naming image and identity" \
    "$(run alice/app from-private)" \
    'FROM bob/base:1: user alice \(run_as of alice/app\) may not pull bob/base \(registry\.auth\.rules\)'
expect_failure "COPY --from=bob's private image fails the same way" \
    "$(run alice/app copy-private)" \
    'COPY --from=bob/base:1.*user alice \(run_as of alice/app\) may not pull bob/base \(registry\.auth\.rules\)'
expect_failure "FROM $host/bob/base:1 (a registry.local_hosts name) is checked the same way" \
    "$(run alice/app local-host)" \
    "FROM $host/bob/base:1: user alice \\(run_as of alice/app\\) may not pull bob/base"
# the CLI: no check by default (the operator's tool), the same check with --as
cli_ctx=$(sw_tmpdir)
printf 'FROM bob/base:1\nCMD ["true"]\n' > "$cli_ctx/Dockerfile"
check "slipway build (no --as) reads any image of the store" \
    "$SLIPWAY_BIN" build --config "$cfg" -t seed/cli:1 "$cli_ctx" > "$work/cli.log" 2>&1
refused "slipway build --as alice refuses bob's private image" \
    'Dockerfile:1: FROM bob/base:1: user alice \(--as\) may not pull bob/base \(registry\.auth\.rules\)' \
    "$SLIPWAY_BIN" build --config "$cfg" --as alice "$cli_ctx"
refused "slipway build --as anonymous cannot read anything without anonymous_pull" \
    'anonymous \(--as\) may not pull bob/base' \
    "$SLIPWAY_BIN" build --config "$cfg" --as anonymous "$cli_ctx"
check "slipway build --as bob builds it" \
    "$SLIPWAY_BIN" build --config "$cfg" --as bob -t bob/cli:1 "$cli_ctx" > "$work/cli.log" 2>&1
check "alice cannot pull bob/base herself either (the same rule)" \
    bash -c "! skopeo inspect --tls-verify=false --creds alice:alice-pw docker://$host/bob/base:1 > /dev/null 2>&1"

# --- the remote-image cache: bob pushes docker.io/library/busybox -----------------
sk copy -q --dest-tls-verify=false --dest-creds bob:bob-pw "oci:$work/seed-pushed:1" \
    "docker://$host/docker.io/library/busybox:latest" &&
    ok "bob may push docker.io/library/busybox into our registry (an ordinary repository)" ||
    fail "push of docker.io/library/busybox"
r=$(run alice/app remote)
check "FROM docker.io/library/busybox builds" test "$(wait_run "$r")" = succeeded
check_eq "... from the remote registry's image, not the pushed one" \
    "$(image_file alice/app:remote /origin.txt 2>&1)" remote
r=$(run alice/app remote-short)
check "FROM busybox builds" test "$(wait_run "$r")" = succeeded
check_eq "... from the remote image too" "$(image_file alice/app:remote-short /origin.txt 2>&1)" remote
check_eq "the pushed repository still holds bob's image" \
    "$(sk inspect --tls-verify=false --creds bob:bob-pw --format '{{.Digest}}' \
        "docker://$host/docker.io/library/busybox:latest" 2> /dev/null)" \
    "$(sk inspect --format '{{.Digest}}' "oci:$work/seed-pushed:1" 2> /dev/null)"
catalog=$(curl -s -u bob:bob-pw "$SVC_BASE/v2/_catalog")
if grep -q docker.io/library/busybox <<< "$catalog" && ! grep -q _remote <<< "$catalog"; then
    ok "the catalog lists the pushed repository but not the remote-image cache"
else
    fail "catalog: $catalog"
fi

# --- the build cache is per repository --------------------------------------------
r=$(run alice/app remote)
check "a rebuild in the same repository succeeds" test "$(wait_run "$r")" = succeeded
check_eq "... with its COPY step from the cache" "$(field "$r" '.steps[-1].cached')" true
r=$(run alice/app2 remote)
check "the same Dockerfile in another repository succeeds" test "$(wait_run "$r")" = succeeded
check_eq "... without the first repository's cache" "$(field "$r" '.steps[-1].cached')" false

# --- git: submodules -------------------------------------------------------------
expect_failure "a submodule with a file:// URL fails the run, naming submodule and URL" \
    "$(run alice/sub main)" "submodule vendor/lib: URL file://$lib refused: .*allow_local"
r=$(run alice/sub-local main)
check "with submodules: {allow_local: true} it builds" test "$(wait_run "$r")" = succeeded
check_eq "... with the submodule's file" "$(image_file alice/sub-local:latest /lib.c 2>&1)" libcode

# --- git: credentials --------------------------------------------------------------
: > "$private_root.auth.log"
expect_failure "a token is not sent over plain http:// without insecure: true" \
    "$(run alice/plain main)" 'not sending the credentials for http://127.0.0.1:[0-9]+ over plain http://.*insecure: true'
check "... and the Git server got no credentials" bash -c "! grep -qv none '$private_root.auth.log'"
: > "$private_root.auth.log"
expect_failure "a redirect to another origin fails the fetch" \
    "$(run alice/redirected main)" "redirected to 127.0.0.1:$git_port: the credentials .* are not offered to another origin"
check "the redirect was followed (the second origin saw requests)" test -s "$private_root.auth.log"
check "... and the second origin received no credentials" bash -c "! grep -qv none '$private_root.auth.log'"
check "the first origin received none either" bash -c "! grep -q auth '$work/redirector.log'"
: > "$private_root.auth.log"
expect_failure "an origin that redirects after authenticating is not followed" \
    "$(run alice/redirected-late main)" "redirected to 127.0.0.1:$git_port after authenticating"
check "... its own origin got the token" grep -qx auth "$work/redirector2.log"
check "... and the other origin got no request at all" test ! -s "$private_root.auth.log"
r=$(run alice/direct main)
check "the same token to its own origin, insecure: true, builds" test "$(wait_run "$r")" = succeeded
check "... and that server saw the token" grep -qx ok "$private_root.auth.log"
leaks=$( (curl -s "${A[@]}" "$SVC_BASE/api/v1/runs?limit=100"; cat "$SW_SERVER_LOG") | grep -c git-tok-123 || true)
check_eq "the token appears in no API answer or log" "$leaks" 0

# --- a rule grants alice pull on bob/base -------------------------------------------
sw_stop_server
cfg=$(write_config "      - { repo: \"bob/base\", users: [alice], access: [pull] }
      - { repo: \"_remote/*\", users: [bob], access: [pull, push] }")
sw_start_server "$cfg"
# even a rule naming it does not open the remote-image cache to pushes or pulls
code=$(curl -s -o "$work/push.out" -w '%{http_code}' -u bob:bob-pw -X POST \
    "$SVC_BASE/v2/_remote/docker.io/library/busybox/blobs/uploads/")
check_eq "a push into the remote-image cache's namespace is refused (400 NAME_INVALID)" \
    "$code $(jq -r '.errors[0].code' "$work/push.out")" "400 NAME_INVALID"
code=$(curl -s -o /dev/null -w '%{http_code}' -u bob:bob-pw \
    "$SVC_BASE/v2/_remote/docker.io/library/busybox/manifests/latest")
check_eq "... and so is a pull from it (400)" "$code" 400
r=$(run alice/app from-private)
check "with a rule granting alice pull, FROM bob/base:1 builds" test "$(wait_run "$r")" = succeeded
check_eq "... and the image has the repository's file" "$(image_file alice/app:from-private /hello.txt 2>&1)" hello
r=$(run alice/app local-host)
check "... and so does FROM $host/bob/base:1" test "$(wait_run "$r")" = succeeded
r=$(run alice/app copy-private)
check "... and so does COPY --from=bob/base:1" test "$(wait_run "$r")" = succeeded
bb_size=$(image_file alice/app:copy-private /bb 2> /dev/null | wc -c)
check "... with the copied file (bob's busybox binary)" test "$bb_size" -gt 100000

sw_finish
