# shellcheck shell=bash
# svc-lib.sh - helpers for the build service's end-to-end tests
# (tests/e2e/15x-service-*.sh), on top of lib.sh: a real Git repository,
# GitHub-shaped push deliveries signed with the secret, and waiting for runs.
#
#   svc_git_init DIR            a repository on branch main with a Dockerfile
#                               on test/busybox:1 and hello.txt; prints nothing
#   svc_slow_dockerfile DIR     DIR/Dockerfile.slow: COPY hello.txt, then a
#                               RUN printing "tick 1".."tick 8" every 0.5 s
#   svc_commit DIR TEXT [MSG]   writes TEXT to hello.txt and commits; prints the sha
#   svc_hook URL REF SHA DELIVERY [SECRET] [MSG] [CLONE_URL]
#                               POSTs a signed GitHub push; sets SVC_STATUS and
#                               SVC_BODY (a SECRET of "-" sends no signature)
#   svc_post_raw URL EVENT BODY [SIG_HEADER]  POSTs BODY as is
#   svc_wait RUN                waits (60 s at most) until the run has ended;
#                               prints its status
#   svc_run_field RUN JQ        a field of GET /api/v1/runs/RUN
#   svc_runs_count              how many runs the server has
#   svc_tag_digest REPO:TAG     the digest skopeo sees for the tag ("" if none)
#   svc_file REPO:TAG PATH      a file's content in the image, through skopeo
#                               and umoci
#   svc_listener PORT LOGFILE [FAIL_FIRST]  a python3 HTTP server on 127.0.0.1
#                               that logs each POST (path, headers, body) as a
#                               JSON line; answers 500 to the first FAIL_FIRST
#   svc_git_http PORT ROOT TOKEN  a private Git server (smart HTTP) for the
#                               repositories below ROOT, token auth

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SVC_BASE=      # http://127.0.0.1:PORT, set by the test
SVC_STATUS=
SVC_BODY=

svc_git() { git -c user.name=Tester -c user.email=tester@example.com -c init.defaultBranch=main "$@"; }

svc_git_init() { # DIR
    local dir=$1
    mkdir -p "$dir"
    svc_git -C "$dir" init -q
    cat > "$dir/Dockerfile" <<'EOF'
FROM test/busybox:1
ARG SOURCE_COMMIT
ARG SOURCE_BRANCH
ARG DOCKER_TAG
COPY hello.txt /hello.txt
RUN echo "$SOURCE_COMMIT $SOURCE_BRANCH $DOCKER_TAG" > /build-vars.txt
EOF
    echo "first" > "$dir/hello.txt"
    svc_git -C "$dir" add -A
    svc_git -C "$dir" commit -qm "first commit"
}

svc_slow_dockerfile() { # DIR
    cat > "$1/Dockerfile.slow" <<'EOF'
FROM test/busybox:1
COPY hello.txt /hello.txt
RUN for i in 1 2 3 4 5 6 7 8; do echo "tick $i"; sleep 0.5; done
EOF
}

svc_commit() { # DIR TEXT [MSG]
    local dir=$1 text=$2 msg=${3:-"change to $2"}
    echo "$text" > "$dir/hello.txt"
    svc_git -C "$dir" commit -qam "$msg"
    svc_git -C "$dir" rev-parse HEAD
}

svc_sign() { # SECRET BODY-FILE
    openssl dgst -sha256 -hmac "$1" -hex < "$2" | awk '{print $NF}'
}

svc_hook() { # URL REF SHA DELIVERY [SECRET] [MSG] [CLONE_URL]
    local url=$1 ref=$2 sha=$3 delivery=$4 secret=${5:-s3cret} msg=${6:-"a commit"}
    local clone=${7:-https://example.invalid/none.git}
    local body=$SW_SCRATCH/hook-body.json
    jq -n --arg ref "$ref" --arg sha "$sha" --arg msg "$msg" --arg clone "$clone" '{
        ref: $ref, before: "0000000000000000000000000000000000000001", after: $sha,
        created: false, deleted: false,
        repository: {full_name: "acme/hello", clone_url: $clone,
                     html_url: "https://example.invalid/acme/hello"},
        pusher: {name: "alice"},
        head_commit: {id: $sha, message: $msg}}' > "$body"
    local sig=()
    [ "$secret" = "-" ] || sig=(-H "X-Hub-Signature-256: sha256=$(svc_sign "$secret" "$body")")
    SVC_STATUS=$(curl -s -o "$SW_SCRATCH/hook-reply" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
        -H "X-GitHub-Delivery: $delivery" "${sig[@]}" --data-binary "@$body" "$url")
    SVC_BODY=$(cat "$SW_SCRATCH/hook-reply")
}

svc_post_raw() { # URL EVENT BODY [HEADER]
    local url=$1 event=$2 body=$3; shift 3
    SVC_STATUS=$(curl -s -o "$SW_SCRATCH/hook-reply" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H "X-GitHub-Event: $event" "$@" \
        --data-binary "$body" "$url")
    SVC_BODY=$(cat "$SW_SCRATCH/hook-reply")
}

svc_run_field() { # RUN JQ
    curl -s "$SVC_BASE/api/v1/runs/$1" | jq -r "$2"
}

svc_wait() { # RUN
    local status
    for _ in $(seq 600); do
        status=$(svc_run_field "$1" .status)
        case $status in queued|running|"") sleep 0.1 ;; *) echo "$status"; return 0 ;; esac
    done
    echo "timeout($status)"
}

svc_runs_count() {
    curl -s "$SVC_BASE/api/v1/runs?limit=500" | jq '.runs | length'
}

svc_tag_digest() { # REPO:TAG
    local host=${SVC_BASE#http://}
    sk inspect --tls-verify=false --format '{{.Digest}}' "docker://$host/$1" 2>/dev/null || true
}

svc_file() { # REPO:TAG PATH
    local host=${SVC_BASE#http://} dir
    dir=$(mktemp -d "$SW_SCRATCH/img.XXXXXX")
    sk copy -q --src-tls-verify=false "docker://$host/$1" "oci:$dir/layout:img" > /dev/null 2>&1 &&
        umoci unpack --image "$dir/layout:img" "$dir/bundle" > /dev/null 2>&1 &&
        cat "$dir/bundle/rootfs/$2"
}

svc_listener() { # PORT LOGFILE [FAIL_FIRST]
    local port=$1 log=$2 fail_first=${3:-0}
    python3 - "$port" "$log" "$fail_first" > /dev/null 2>&1 <<'PY' &
import http.server, json, sys
port, log, fail_first = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
seen = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        seen[0] += 1
        status = 500 if seen[0] <= fail_first else 201
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "status": status,
                                "auth": self.headers.get("Authorization"),
                                "body": json.loads(body or b"null")}) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
    local pid=$!
    SW_CLEANUP_CMDS+=("kill $pid")
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
}

# svc_git_http PORT ROOT TOKEN: serves the repositories below ROOT over
# smart HTTP (git http-backend) on 127.0.0.1:PORT, only to requests with
# Basic credentials x-access-token:TOKEN (401 otherwise, as GitHub does
# for a private repository); each request's user goes to ROOT.auth.log.
svc_git_http() {
    local port=$1 root=$2 token=$3
    python3 - "$port" "$root" "$token" > /dev/null 2>&1 <<'PY' &
import base64, http.server, os, subprocess, sys
port, root, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
want = "Basic " + base64.b64encode(("x-access-token:" + token).encode()).decode()
class H(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        auth = self.headers.get("Authorization")
        with open(root + ".auth.log", "a") as f:
            f.write(("ok" if auth == want else "refused" if auth else "none") + "\n")
        if auth != want:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1",
                   PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=self.command,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(len(body)), REMOTE_USER="x-access-token")
        out = subprocess.run(["/usr/lib/git-core/git-http-backend"], input=body, env=env,
                             capture_output=True).stdout
        head, _, data = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
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
    local pid=$!
    SW_CLEANUP_CMDS+=("kill $pid")
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
}
