#!/usr/bin/env bash
# RUN --mount=type=ssh (an agent socket from `slipway build --ssh`: the step
# lists the key's fingerprint with ssh-add and clones over ssh from a real
# SSH server on 127.0.0.1, while no file of the key is in the container or
# a layer, and the agent is gone after the step), cache mounts seeded with
# from=, kept under builder.cache_mounts.max_size (the least recently used
# cache id is evicted after a build and by `slipway gc`, which reports
# it), and ADD of a Git URL from a smart HTTP server on 127.0.0.1 (a ref, a
# subdirectory, --keep-git-dir, commit-time mtimes, the commit as the cache
# key, and the egress policy refusing the address unless
# builder.egress.allow opens it).
set -euo pipefail
source "$(dirname "$0")/build-lib.sh"
sw_time_limit 240

bt_init 'builder: { network: none, step_timeout: 2m, cache_mounts: { max_size: 1MiB } }'
work=$(sw_tmpdir)

# --- a base image with ssh-add, ssh and git (the host's, with their libraries) ---
sw_tools_tar "$work/tools.tar"
"$SLIPWAY_BIN" import --config "$BT_CFG" "tar:$work/tools.tar" test/tools:1 > "$work/import.log" 2>&1 ||
    { cat "$work/import.log"; exit 1; }

# --- keys, a repository and an SSH server that accepts the deploy key ------------------
ssh-keygen -q -t ed25519 -N '' -C "deploy-$$" -f "$work/deploy_key"
fpr=$(ssh-keygen -lf "$work/deploy_key.pub" | awk '{print $2}')
key_line=$(sed -n 2p "$work/deploy_key") # a line of the private key, to grep for
repo=$work/served.git
git init -q --bare "$repo"
git init -q "$work/seedrepo"
echo "cloned over ssh" > "$work/seedrepo/hello.txt"
git -C "$work/seedrepo" add hello.txt
git -C "$work/seedrepo" -c user.name=t -c user.email=t@example.invalid commit -qm one
git -C "$work/seedrepo" push -q "$repo" HEAD:refs/heads/main
mkdir -p "$work/sshroot/.ssh"
chmod 700 "$work/sshroot" "$work/sshroot/.ssh"
cp "$work/deploy_key.pub" "$work/sshroot/.ssh/authorized_keys"
chmod 600 "$work/sshroot/.ssh/authorized_keys"
dropbearkey -t ed25519 -f "$work/host_key" > /dev/null 2>&1
ssh_port=$(sw_free_port)
unshare --mount --propagation private sh -c \
    'mount --bind "$1" /root && exec dropbear -F -E -s -r "$2" -p "127.0.0.1:$3" -P "$4"' \
    sh "$work/sshroot" "$work/host_key" "$ssh_port" "$work/dropbear.pid" > "$work/dropbear.log" 2>&1 &
SW_CLEANUP_CMDS+=("kill $!")
for _ in $(seq 50); do
    (exec 3<> "/dev/tcp/127.0.0.1/$ssh_port") 2> /dev/null && break
    sleep 0.1
done

# --- RUN --mount=type=ssh -------------------------------------------------------------
ctx=$(sw_tmpdir)
cat > "$ctx/Dockerfile" << DF
FROM test/tools:1
RUN --mount=type=ssh sh -c 'echo "sock=\$SSH_AUTH_SOCK"; ssh-add -l | tee /fpr; ls -l /run/buildkit/'
RUN --mount=type=ssh,id=default,target=/tmp/agent,uid=1000,mode=0600 ls -ln /tmp/agent > /sockperm
USER app
RUN --mount=type=ssh,uid=1000 ssh-add -l > /tmp/fpr-app
USER root
RUN --mount=type=ssh GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p $ssh_port" \
    git clone -q -b main ssh://root@127.0.0.1$repo /cloned
RUN sh -c 'ls -la / /root > /listing; echo "sock=\${SSH_AUTH_SOCK:-none}" > /after'
DF
if bt_build "$ctx" -t test/ssh:1 --network host --ssh "default=$work/deploy_key"; then
    ok "a build with RUN --mount=type=ssh and --ssh default=KEY succeeds"
else
    fail "the ssh build failed: $(bt_tail 10)"
fi
root=$(sw_tmpdir)/ssh
bt_unpack test/ssh:1 "$root" > /dev/null
r=$root/rootfs
check "ssh-add -l in the step shows the key's fingerprint" grep -q -- "$fpr" "$r/fpr"
check "the log shows SSH_AUTH_SOCK at BuildKit's default path" grep -q "sock=/run/buildkit/ssh_agent.0" "$BT_LOG"
check "the step sees a socket, not a key file" grep -q "^s.*ssh_agent.0" "$BT_LOG"
check_eq "uid= and mode= give the socket's owner and mode" "$(awk '{print $1, $3}' "$r/sockperm")" "srw------- 1000"
check "a USER step reaches the agent through a socket it owns (uid=1000)" grep -q -- "$fpr" "$r/tmp/fpr-app"
check_eq "git clone over ssh through the agent" "$(cat "$r/cloned/hello.txt" 2> /dev/null)" "cloned over ssh"
check_eq "a step without the mount has no SSH_AUTH_SOCK" "$(cat "$r/after")" "sock=none"
check "the socket's mount point is not in the layer" test ! -e "$r/run/buildkit"
bt_export test/ssh:1
found=""
for blob in "${BT_LAYOUT%:*}"/blobs/sha256/*; do
    if { gzip -dc "$blob" 2> /dev/null || cat "$blob"; } | grep -aqF -- "$key_line"; then
        found="$found $blob"
    fi
done
check_eq "no blob holds the private key" "$found" ""
check "the log never shows the private key" sh -c "! grep -aqF -- '$key_line' '$BT_LOG'"
if grep -raqF -- "$key_line" "$BT_DATA" 2> /dev/null; then
    fail "the data directory holds the private key"
else
    ok "the data directory never holds the private key"
fi
if pgrep -f '[s]sh-agent -D -a /tmp/slipway-ssh-' > /dev/null || compgen -G '/tmp/slipway-ssh-*' > /dev/null; then
    fail "the agent or its socket outlived the step"
else
    ok "the agent and its sockets ended with the step"
fi

# an unknown key file and a missing required agent
rc=0
bt_build "$ctx" --ssh "default=$work/nope" || rc=$?
if [ "$rc" -eq 2 ] && grep -q -- "--ssh: .*/nope" "$BT_ERR"; then
    ok "--ssh with a missing key file is a usage error naming it"
else
    fail "--ssh with a missing key file: exit $rc, stderr: $(bt_tail 3)"
fi
ctx2=$(sw_tmpdir)
cat > "$ctx2/Dockerfile" << 'DF'
FROM test/tools:1
RUN --mount=type=ssh,id=gh,required=true true
DF
check_build_fails "a required ssh id that was not forwarded fails with its line" \
    "Dockerfile:2: .*ssh gh: not forwarded" "$ctx2"
ctx3=$(sw_tmpdir)
cat > "$ctx3/Dockerfile" << 'DF'
FROM test/tools:1
RUN --mount=type=ssh sh -c 'echo "sock=${SSH_AUTH_SOCK:-none}" > /s; test ! -e /run/buildkit/ssh_agent.0'
DF
if bt_build "$ctx3" -t test/ssh:2; then
    ok "an optional ssh mount without --ssh: the step runs without an agent"
else
    fail "the optional ssh mount build failed: $(bt_tail 6)"
fi
# a passphrase-protected key is refused cleanly (no prompt)
ssh-keygen -q -t ed25519 -N 'pass-phrase' -f "$work/locked_key"
check_build_fails "a key with a passphrase fails, naming the id" "ssh id default: loading its key" \
    "$ctx" --network host --ssh "default=$work/locked_key" --no-cache

# --- cache mounts: from= seeds, the bound evicts the least recently used -----------------
ctx4=$(sw_tmpdir)
cache_df() { # ID: the Dockerfile with the big cache's id (written out: a mount's id is not expanded)
    cat > "$ctx4/Dockerfile" << DF
FROM test/busybox:1 AS base
RUN mkdir -p /data && echo seeded-from-stage > /data/seed.txt
FROM test/busybox:1
ARG N=1
RUN --mount=type=cache,id=seeded,target=/c,from=base,source=/data sh -c 'cat /c/seed.txt > /seeded; echo \$N >> /c/seed.txt'
RUN --mount=type=cache,id=$1,target=/big sh -c 'ls /big > /before; dd if=/dev/urandom of=/big/blob bs=1024 count=700 2> /dev/null; echo \$N > /n'
DF
}
cache_df first
if bt_build "$ctx4" -t test/cache:1; then
    ok "a build with a cache seeded from a stage"
else
    fail "the cache build failed: $(bt_tail 8)"
fi
root=$(sw_tmpdir)/c1
bt_unpack test/cache:1 "$root" > /dev/null
check_eq "from= seeds the empty cache from the stage's path" "$(cat "$root/rootfs/seeded")" "seeded-from-stage"
check "the cache content is not in the layer" test ! -e "$root/rootfs/c" -a ! -e "$root/rootfs/big"
# a second build: the seeded cache is not seeded again (it holds the line the first added)
cache_df second
bt_build "$ctx4" -t test/cache:2 --build-arg N=2 || fail "second cache build: $(bt_tail 6)"
root=$(sw_tmpdir)/c2
bt_unpack test/cache:2 "$root" > /dev/null
check_eq "a cache with content is not seeded again" "$(tr '\n' ' ' < "$root/rootfs/seeded")" "seeded-from-stage 1 "
# two 700KiB caches over a 1MiB bound: the older one went after the build
"$SLIPWAY_BIN" gc --config "$BT_CFG" --grace 0 > "$work/gc1.out" 2>&1 || fail "gc: $(cat "$work/gc1.out")"
check "gc lists the newer cache, kept" grep -qE "^cache-mount \(no repository\) id=second size=716800 last_use=[0-9T:-]+Z kept" "$work/gc1.out"
check "the older cache was evicted after the build (gc no longer lists it)" sh -c "! grep -q 'id=first ' '$work/gc1.out'"
# the third build runs under a larger bound, so that it evicts nothing
sed 's/max_size: 1MiB/max_size: 10MiB/' "$BT_CFG" > "$work/big.yaml"
small_cfg=$BT_CFG
BT_CFG=$work/big.yaml
cache_df first
bt_build "$ctx4" -t test/cache:3 --build-arg N=3 --no-cache || fail "third cache build: $(bt_tail 6)"
BT_CFG=$small_cfg
root=$(sw_tmpdir)/c3
bt_unpack test/cache:3 "$root" > /dev/null
check_eq "the evicted cache id starts empty" "$(cat "$root/rootfs/before")" ""
# gc under the 1MiB bound: reports what it evicts
cp "$BT_CFG" "$work/small.yaml"
"$SLIPWAY_BIN" gc --config "$work/small.yaml" --grace 0 --dry-run > "$work/gc2.out" 2>&1 || fail "gc --dry-run: $(cat "$work/gc2.out")"
check "gc --dry-run reports the least recently used cache" grep -qE "id=second size=716800 .* would evict" "$work/gc2.out"
"$SLIPWAY_BIN" gc --config "$work/small.yaml" --grace 0 > "$work/gc3.out" 2>&1 || fail "gc: $(cat "$work/gc3.out")"
check "gc evicts the least recently used cache and says so" grep -qE "^cache-mount \(no repository\) id=second size=716800 .* evicted$" "$work/gc3.out"
check "gc keeps the newest one" grep -qE "id=first size=716800 .* kept$" "$work/gc3.out"
check "gc prints a cache summary" grep -qE "^gc: evicted 1 of 3 cache mounts, 716800 bytes" "$work/gc3.out"

# --- ADD of a Git URL ----------------------------------------------------------------------
gitroot=$work/gitroot
mkdir -p "$gitroot"
git init -q --bare -b main "$gitroot/app.git"
git init -q -b main "$work/appsrc"
mkdir -p "$work/appsrc/sub"
echo v1 > "$work/appsrc/version"
echo in-sub > "$work/appsrc/sub/inner.txt"
git -C "$work/appsrc" add -A
GIT_COMMITTER_DATE='2001-02-03T04:05:06Z' GIT_AUTHOR_DATE='2001-02-03T04:05:06Z' \
    git -C "$work/appsrc" -c user.name=t -c user.email=t@example.invalid commit -qm v1
git -C "$work/appsrc" tag v1
git -C "$work/appsrc" push -q "$gitroot/app.git" main v1
git_port=$(sw_free_port)
python3 - "$git_port" "$gitroot" > /dev/null 2>&1 << 'PY' &
import http.server, os, subprocess, sys
port, root = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        with open(root + "/requests.log", "a") as f:
            f.write(self.command + " " + path + "\n")
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1",
                   PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=self.command,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)))
        out = subprocess.run(["/usr/lib/git-core/git-http-backend"], input=body, env=env,
                             capture_output=True).stdout
        head, _, data = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            k, _, v = line.partition(": ")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = handle_any
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
SW_CLEANUP_CMDS+=("kill $!")
sw_wait_http "http://127.0.0.1:$git_port/" 10 || fail "the git http server did not start"
giturl="http://127.0.0.1:$git_port/app.git"

default_cfg=$BT_CFG
sed 's/cache_mounts: { max_size: 1MiB }/cache_mounts: { max_size: 1MiB }, egress: { allow: [127.0.0.1\/32] }/' \
    "$default_cfg" > "$work/git.yaml"
BT_CFG=$work/git.yaml
ctx5=$(sw_tmpdir)
cat > "$ctx5/Dockerfile" << DF
FROM test/busybox:1
ADD $giturl#v1:sub /subonly/
ADD --keep-git-dir=true $giturl#v1 /kept/
ADD $giturl /src/
DF
if bt_build "$ctx5" -t test/addgit:1; then
    ok "ADD of Git URLs from 127.0.0.1 with builder.egress.allow: [127.0.0.1/32]"
else
    fail "the ADD git build failed: $(bt_tail 6)"
fi
root=$(sw_tmpdir)/g1
bt_unpack test/addgit:1 "$root" > /dev/null
g=$root/rootfs
check_eq "the default branch is checked out" "$(cat "$g/src/version" 2> /dev/null)" "v1"
check "without --keep-git-dir there is no .git" test ! -e "$g/src/.git"
check_eq "#REF:SUBDIR takes only the subdirectory" "$(ls -A "$g/subonly" 2> /dev/null | tr '\n' ' ')" "inner.txt "
check "--keep-git-dir keeps .git" test -d "$g/kept/.git"
check_eq "the kept .git is a repository at the commit" \
    "$(git -C "$g/kept" rev-parse HEAD 2> /dev/null)" "$(git -C "$work/appsrc" rev-parse v1)"
check_eq "files get the commit's time as mtime" "$(stat -c %Y "$g/src/version")" \
    "$(date -d 2001-02-03T04:05:06Z +%s)"
# the cache key is the commit: the same commits are cached; a new commit on main is fetched
bt_build "$ctx5" -t test/addgit:2 || fail "the second ADD git build failed: $(bt_tail 4)"
check_eq "an unchanged repository: every ADD is cached" "$(bt_count CACHED)" "3"
echo v2 > "$work/appsrc/version"
git -C "$work/appsrc" -c user.name=t -c user.email=t@example.invalid commit -qam v2
git -C "$work/appsrc" push -q "$gitroot/app.git" main
bt_build "$ctx5" -t test/addgit:3 || fail "the third ADD git build failed: $(bt_tail 4)"
check_eq "a new commit on the branch: that ADD runs again" "$(bt_step_status "$giturl /src/")" "DONE"
check_eq "the tag's ADDs before it are still cached" "$(bt_count CACHED)" "2"
root=$(sw_tmpdir)/g3
bt_unpack test/addgit:3 "$root" > /dev/null
check_eq "the new commit's files" "$(cat "$root/rootfs/src/version" 2> /dev/null)" "v2"
printf 'FROM test/busybox:1\nADD %s#nosuch /x/\n' "$giturl" > "$ctx5/Dockerfile"
check_build_fails "an unknown ref fails with its name" "Dockerfile:2: .*no branch or tag 'nosuch'" "$ctx5"
printf 'FROM test/busybox:1\nADD git@127.0.0.1:app.git /x/\n' > "$ctx5/Dockerfile"
check_build_fails "a git@ source is refused with a clear message" \
    "Dockerfile:2: .*ssh:// and git:// is not supported" "$ctx5"
# the default policy: 127.0.0.1 is refused before any connection is made
BT_CFG=$default_cfg
: > "$gitroot/requests.log"
printf 'FROM test/busybox:1\nADD %s /src/\n' "$giturl" > "$ctx5/Dockerfile"
check_build_fails "ADD of a Git URL on a refused address fails naming it" \
    "Dockerfile:2: .*refused: 127\.0\.0\.1 is not reachable from builds \(builder\.egress\)" "$ctx5"
check_eq "the refused server never got a request" "$(cat "$gitroot/requests.log")" ""
sw_finish
