#!/usr/bin/env bash
# `slipway pull` (docs/pull.md) against real registries on 127.0.0.1:
#   - CNCF Distribution (Debian's docker-registry) without auth: a busybox
#     image made offline and pushed with skopeo comes back byte-identical
#     (layer digests checked with `slipway export` and skopeo), a second
#     pull downloads nothing, localhost falls back from HTTPS to HTTP;
#   - a multi-platform index (amd64 + a different arm64 image): amd64 is
#     selected by default, arm64 with --platform, an absent platform is a
#     clear error;
#   - per-host mirrors from the config: example.invalid:5000 is pulled
#     through its mirror without ever being resolved; a dead mirror falls
#     through to the next one;
#   - Distribution with htpasswd (Basic): right, wrong and missing
#     credentials;
#   - Bearer tokens: a python3 fake registry + token server (a remote
#     service that cannot exist here) demanding tokens, whose blob GETs
#     redirect to a third "storage" host that refuses Authorization headers
#     (as S3 does);
#   - a blob corrupted in the registry's storage: digest mismatch, exit 1,
#     nothing tagged.
# Self-contained on purpose: it needs the binary, docker-registry, skopeo,
# htpasswd, busybox-static, jq, sqlite3 and python3.
set -euo pipefail

bin="${SLIPWAY_BIN:?SLIPWAY_BIN must point at the slipway binary}"
root="${SLIPWAY_TEST_TMP:-/tmp}"
mkdir -p "$root"
dir=$(mktemp -d "$root/080-pull.XXXXXX")
pids=()
failures=0

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ $failures -eq 0 ]]; then
        chmod -R u+w "$dir" 2>/dev/null || true
        rm -rf "$dir"
    else
        echo "# kept $dir for inspection" >&2
    fi
}
trap cleanup EXIT
trap 'echo "not ok - unexpected failure at line $LINENO" >&2; failures=$((failures + 1))' ERR

ok() { echo "ok - $*"; }
fail() {
    echo "not ok - $*" >&2
    failures=$((failures + 1))
    exit 1
}

# Nothing may go through a proxy: every server here is on 127.0.0.1.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy='*' NO_PROXY='*'

sw() { timeout 120 "$bin" "$@"; }
sko() { timeout 120 skopeo --insecure-policy "$@"; }

# a free port, reserved the way tests/e2e/lib.sh's sw_free_port does (this
# script does not source lib.sh): other tests run in parallel
free_port() {
    local dir=${SLIPWAY_TEST_TMP:-/tmp}/ports p
    mkdir -p "$dir"
    for _ in $(seq 100); do
        p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        mkdir "$dir/$p" 2> /dev/null && { echo "$p"; return 0; }
    done
    return 1
}

# wait_http URL CODE: until URL answers with status CODE (bounded: 20 s).
wait_http() {
    local code
    for _ in $(seq 1 200); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)
        [[ "$code" == "$2" ]] && return 0
        sleep 0.1
    done
    fail "$1 did not answer $2 within 20 s (last: $code)"
}

# expect_failure NAME PATTERN CMD...: exit status 1 and PATTERN on stderr.
expect_failure() {
    local name=$1 pattern=$2 rc=0
    shift 2
    "$@" >"$dir/out" 2>"$dir/err" || rc=$?
    if [[ $rc -eq 1 ]] && grep -qF -- "$pattern" "$dir/err"; then
        ok "$name"
    else
        fail "$name: exit $rc, expected 1 and '$pattern'; stderr: $(cat "$dir/err")"
    fi
}

# tag_digest DATA_DIR REPO TAG: the digest the store's tag points to.
tag_digest() {
    sqlite3 "$1/slipway.db" "SELECT t.digest FROM tags t JOIN repositories r ON r.id = t.repo_id
                             WHERE r.name = '$2' AND t.name = '$3'"
}

digest_line() { sed -n 's/^Digest: //p' "$1"; }

cd "$dir"

# --- images, made offline as an OCI layout ---------------------------------
layout=$dir/layout
mkdir -p "$layout/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"

add_blob() {
    local hex
    hex=$(sha256sum "$1" | cut -d' ' -f1)
    cp "$1" "$layout/blobs/sha256/$hex"
    echo "sha256:$hex"
}

# make_image ARCH ROOTFS: one-layer image; sets MANIFEST_DIGEST,
# MANIFEST_SIZE, LAYER_DIGEST, CONFIG_DIGEST.
make_image() {
    local arch=$1 rootfs=$2 diff_id layer_size config_size
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf layer.tar .
    diff_id="sha256:$(sha256sum layer.tar | cut -d' ' -f1)"
    gzip -n -c layer.tar > layer.tar.gz
    LAYER_DIGEST=$(add_blob layer.tar.gz)
    layer_size=$(stat -c %s layer.tar.gz)
    jq -n -c --arg arch "$arch" --arg diff "$diff_id" \
        '{architecture: $arch, os: "linux", config: {Cmd: ["/bin/sh"]},
          rootfs: {type: "layers", diff_ids: [$diff]}}' > config.json
    CONFIG_DIGEST=$(add_blob config.json)
    config_size=$(stat -c %s config.json)
    jq -n -c --arg cd "$CONFIG_DIGEST" --argjson cs "$config_size" \
        --arg ld "$LAYER_DIGEST" --argjson ls "$layer_size" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
          layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
                    digest: $ld, size: $ls}]}' > manifest.json
    MANIFEST_DIGEST=$(add_blob manifest.json)
    MANIFEST_SIZE=$(stat -c %s manifest.json)
}

mkdir -p rootfs-amd64/bin rootfs-amd64/etc rootfs-arm64
cp /bin/busybox rootfs-amd64/bin/busybox
for applet in sh ls cat echo; do ln -s busybox "rootfs-amd64/bin/$applet"; done
echo amd64 > rootfs-amd64/etc/arch
echo arm64 > rootfs-arm64/arch

make_image amd64 rootfs-amd64
amd64_manifest=$MANIFEST_DIGEST amd64_size=$MANIFEST_SIZE
amd64_layer=$LAYER_DIGEST amd64_config=$CONFIG_DIGEST
make_image arm64 rootfs-arm64
arm64_manifest=$MANIFEST_DIGEST arm64_size=$MANIFEST_SIZE arm64_layer=$LAYER_DIGEST

# the index lists arm64 first: selection must not just take the first entry
jq -n -c --arg a "$arm64_manifest" --argjson asize "$arm64_size" \
    --arg b "$amd64_manifest" --argjson bs "$amd64_size" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
       {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asize,
        platform: {os: "linux", architecture: "arm64", variant: "v8"}},
       {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $bs,
        platform: {os: "linux", architecture: "amd64"}}]}' > index-blob.json
index_digest=$(add_blob index-blob.json)
index_size=$(stat -c %s index-blob.json)
jq -n -c --arg b "$amd64_manifest" --argjson bs "$amd64_size" \
    --arg i "$index_digest" --argjson is "$index_size" \
    '{schemaVersion: 2, manifests: [
       {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $bs,
        annotations: {"org.opencontainers.image.ref.name": "1"}},
       {mediaType: "application/vnd.oci.image.index.v1+json", digest: $i, size: $is,
        annotations: {"org.opencontainers.image.ref.name": "multi"}}]}' > "$layout/index.json"
ok "busybox image (amd64) and a tiny arm64 image built as an OCI layout"

# --- Distribution registries ------------------------------------------------
# start_registry NAME PORT [htpasswd FILE]
start_registry() {
    local name=$1 port=$2 auth=""
    mkdir -p "$dir/$name-storage"
    if [[ $# -ge 4 ]]; then
        auth="auth:
  htpasswd:
    realm: test
    path: $4"
    fi
    cat > "$dir/$name.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/$name-storage
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: test-secret-$name
$auth
YAML
    /usr/bin/docker-registry serve "$dir/$name.yml" >"$dir/$name.log" 2>&1 &
    pids+=($!)
}

plain_port=$(free_port)
start_registry plain "$plain_port"
wait_http "http://127.0.0.1:$plain_port/v2/" 200
plain=127.0.0.1:$plain_port

sko copy --dest-tls-verify=false "oci:$layout:1" "docker://$plain/test/busybox:1" >/dev/null
sko copy --all --dest-tls-verify=false "oci:$layout:multi" "docker://$plain/test/multi:1" >/dev/null
remote_digest="sha256:$(sko inspect --raw --tls-verify=false "docker://$plain/test/busybox:1" | sha256sum | cut -d' ' -f1)"
[[ "$remote_digest" == "$amd64_manifest" ]] \
    && ok "skopeo pushed the images to Distribution unchanged" \
    || fail "pushed manifest digest $remote_digest, built $amd64_manifest"

# --- a plain pull --------------------------------------------------------------
data=$dir/data
sw pull --data-dir "$data" --insecure "$plain" "$plain/test/busybox:1" >out 2>err \
    || fail "pull from Distribution: $(cat err)"
[[ "$(digest_line out)" == "$amd64_manifest" ]] && grep -q "^Stored: test/busybox:1$" out \
    && ok "pull prints the manifest digest and the local name" \
    || fail "pull output: $(cat out)"
grep -q "^${amd64_layer:0:19}.* MB done$" out && grep -q "^${amd64_config:0:19}.* B done$" out \
    && ok "progress line per blob with its size" || fail "progress: $(cat out)"
[[ "$(tag_digest "$data" test/busybox 1)" == "$amd64_manifest" ]] \
    && ok "tag test/busybox:1 in the store points at the pulled manifest" \
    || fail "tag in the store: '$(tag_digest "$data" test/busybox 1)'"

sw export --data-dir "$data" test/busybox:1 "oci:$dir/exported:1" >/dev/null 2>err \
    || fail "export of the pulled image: $(cat err)"
exported_layers=$(sko inspect "oci:$dir/exported:1" | jq -r '.Layers | join(",")')
remote_layers=$(sko inspect --tls-verify=false "docker://$plain/test/busybox:1" | jq -r '.Layers | join(",")')
[[ "$exported_layers" == "$remote_layers" && "$exported_layers" == "$amd64_layer" ]] \
    && ok "exported layer digests are identical to the remote's" \
    || fail "layers: exported $exported_layers, remote $remote_layers"
(cd "$dir/exported/blobs/sha256" && for f in *; do echo "$f  $f"; done | sha256sum -c --quiet) \
    && ok "every exported blob hashes to its name" || fail "exported blob content differs"
tar -tzf "$dir/exported/blobs/sha256/${amd64_layer#sha256:}" > "$dir/layer-list"
grep -qx './bin/busybox' "$dir/layer-list" \
    && ok "the pulled layer holds bin/busybox" || fail "layer content"

sw pull --data-dir "$data" --insecure "$plain" "$plain/test/busybox:1" >out 2>err \
    || fail "second pull: $(cat err)"
[[ $(grep -c 'already present$' out) -eq 2 ]] && grep -q '^Downloaded: 0 B in 2 blobs$' out \
    && ok "a second pull downloads nothing (blobs already present)" || fail "second pull: $(cat out)"

sw pull --data-dir "$data" --insecure "$plain" "$plain/test/busybox:1" local/copy:v2 >out 2>err \
    || fail "pull under a local name: $(cat err)"
[[ "$(tag_digest "$data" local/copy v2)" == "$amd64_manifest" ]] \
    && ok "pull under a given local name (local/copy:v2)" || fail "local/copy:v2 not tagged"

sw pull --data-dir "$data" -q --insecure "$plain" "$plain/test/busybox@$amd64_manifest" >out 2>err \
    || fail "pull by digest: $(cat err)"
[[ "$(cat out)" == "$amd64_manifest" ]] \
    && ok "pull by digest, -q prints only the digest" || fail "pull by digest: $(cat out)"

# localhost is not listed insecure: HTTPS is tried first, then HTTP (as Docker)
sw pull --data-dir "$dir/data-localhost" "localhost:$plain_port/test/busybox:1" >out 2>err \
    || fail "localhost pull: $(cat err)"
[[ "$(digest_line out)" == "$amd64_manifest" ]] \
    && ok "localhost registry: HTTPS fails, HTTP fallback works" || fail "localhost: $(cat out)"

expect_failure "unknown tag: 404 MANIFEST_UNKNOWN named with the URL" \
    "pulling $plain/test/busybox:nope: GET http://$plain/v2/test/busybox/manifests/nope: 404 MANIFEST_UNKNOWN" \
    sw pull --data-dir "$dir/data-x" --insecure "$plain" "$plain/test/busybox:nope"
expect_failure "bad reference is refused before any request" \
    "repository name must be lower-case" \
    sw pull --data-dir "$dir/data-x" "$plain/Test/busybox:1"
expect_failure "connection refused names the URL and curl's reason" \
    "Couldn't connect to server" \
    sw pull --data-dir "$dir/data-x" --insecure "127.0.0.1:1" "127.0.0.1:1/test/busybox:1"

# --- multi-platform index ---------------------------------------------------------
sw pull --data-dir "$data" --insecure "$plain" "$plain/test/multi:1" >out 2>err \
    || fail "pull of an index: $(cat err)"
[[ "$(digest_line out)" == "$amd64_manifest" && "$(tag_digest "$data" test/multi 1)" == "$amd64_manifest" ]] \
    && grep -q "^Platform: linux/amd64 (from index $index_digest)$" out \
    && ok "index: linux/amd64 selected by default and tagged" || fail "index pull: $(cat out)"
sw pull --data-dir "$data" --insecure "$plain" --platform linux/arm64 "$plain/test/multi:1" multi/arm:1 >out 2>err \
    || fail "pull of arm64: $(cat err)"
[[ "$(digest_line out)" == "$arm64_manifest" ]] && grep -q "^${arm64_layer:0:19}.* done$" out \
    && ok "index: --platform linux/arm64 selects the arm64 image" || fail "arm64 pull: $(cat out)"
expect_failure "index: an absent platform names what the index offers" \
    "no image for platform linux/s390x in the index (it offers: linux/arm64, linux/amd64)" \
    sw pull --data-dir "$data" --insecure "$plain" --platform linux/s390x "$plain/test/multi:1"

# --- mirrors from the config ----------------------------------------------------------
dead_port=$(free_port)
cat > mirror.yaml <<YAML
server:
  data_dir: $dir/data-mirror
registry:
  mirrors:
    "example.invalid:5000": ["http://127.0.0.1:$plain_port"]
    "$plain": ["http://127.0.0.1:$dead_port", "http://127.0.0.1:$plain_port/"]
YAML
sw pull --config mirror.yaml example.invalid:5000/test/busybox:1 >out 2>err \
    || fail "pull through a mirror: $(cat err)"
[[ "$(digest_line out)" == "$amd64_manifest" ]] && ! grep -q "example.invalid" err \
    && [[ "$(tag_digest "$dir/data-mirror" test/busybox 1)" == "$amd64_manifest" ]] \
    && ok "example.invalid:5000 pulled through its mirror, never resolved" \
    || fail "mirror pull: $(cat out) $(cat err)"
# $plain itself is not listed insecure: only the mirrors can serve it over HTTP
sw pull --config mirror.yaml --data-dir "$dir/data-mirror2" "$plain/test/busybox:1" >out 2>err \
    || fail "pull with a dead first mirror: $(cat err)"
[[ "$(digest_line out)" == "$amd64_manifest" ]] && grep -q "mirror http://127.0.0.1:$dead_port: .*trying the next endpoint" err \
    && [[ $(grep -c "mirror http://127.0.0.1:$dead_port" err) -eq 1 ]] \
    && [[ "$(tag_digest "$dir/data-mirror2" test/busybox 1)" == "$amd64_manifest" ]] \
    && ok "a dead mirror is tried once (not per blob), the next mirror serves the pull" \
    || fail "dead mirror: $(cat out) $(cat err)"

# --- Distribution with htpasswd (Basic) ---------------------------------------------
htpasswd -nbB bob 'pa:ss w0rd' > "$dir/htpasswd"
auth_port=$(free_port)
start_registry auth "$auth_port" htpasswd "$dir/htpasswd"
wait_http "http://127.0.0.1:$auth_port/v2/" 401
authreg=127.0.0.1:$auth_port
sko copy --dest-tls-verify=false --dest-creds 'bob:pa:ss w0rd' "oci:$layout:1" "docker://$authreg/test/busybox:1" >/dev/null

sw pull --data-dir "$dir/data-auth" --insecure "$authreg" --creds 'bob:pa:ss w0rd' "$authreg/test/busybox:1" >out 2>err \
    || fail "pull with Basic credentials: $(cat err)"
[[ "$(digest_line out)" == "$amd64_manifest" ]] && ok "Basic auth: right credentials pull" \
    || fail "basic pull: $(cat out)"
printf 'pa:ss w0rd\n' | sw pull --data-dir "$dir/data-auth2" --insecure "$authreg" --username bob --password-stdin \
    "$authreg/test/busybox:1" >out 2>err || fail "pull with --password-stdin: $(cat err)"
[[ "$(digest_line out)" == "$amd64_manifest" ]] && ok "Basic auth: --username with --password-stdin" \
    || fail "password-stdin pull: $(cat out)"
expect_failure "Basic auth: wrong password is a clear 401" \
    "pulling $authreg/test/busybox:1: GET http://$authreg/v2/test/busybox/manifests/1: 401 UNAUTHORIZED: authentication required (the credentials for $authreg were refused)" \
    sw pull --data-dir "$dir/data-auth3" --insecure "$authreg" --creds 'bob:wrong-secret' "$authreg/test/busybox:1"
! grep -q "wrong-secret" "$dir/err" && ok "the password does not appear in the error" || fail "secret leaked: $(cat "$dir/err")"
[[ -z "$(tag_digest "$dir/data-auth3" test/busybox 1 2>/dev/null)" ]] && ok "nothing tagged after a 401" \
    || fail "tagged despite 401"
expect_failure "Basic auth: no credentials says so" \
    "401 UNAUTHORIZED: authentication required (no credentials given for $authreg)" \
    sw pull --data-dir "$dir/data-auth3" --insecure "$authreg" "$authreg/test/busybox:1"

# --- Bearer tokens: fake registry + token server + storage host ---------------------
cat > fake_registry.py <<'PY'
# A registry that demands Bearer tokens from a token server and redirects
# blob GETs to a storage host that rejects Authorization headers (as S3
# does). Serves one repository, test/busybox, from an OCI layout.
import base64, http.server, json, os, re, sys, threading, urllib.parse

layout, reg_port, token_port, blob_port, log_path = sys.argv[1:6]
USER, PASSWORD = "alice", "t0ken-pass"
TOKEN = "tok-" + os.urandom(12).hex()
lock = threading.Lock()

def log(line):
    with lock, open(log_path, "a") as f:
        f.write(line + "\n")

def blob_file(digest):
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hexd):
        return None
    path = os.path.join(layout, "blobs", "sha256", hexd)
    return path if os.path.exists(path) else None

def error_body(code, message):
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()

class Base(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

class TokenServer(Base):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        auth = self.headers.get("Authorization", "")
        log("token service=%s scope=%s basic=%s" % (",".join(query.get("service", [])),
            ",".join(query.get("scope", [])), auth.startswith("Basic ")))
        expected = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
        if auth != expected:
            return self.reply(401, error_body("UNAUTHORIZED", "incorrect username or password"),
                              {"Content-Type": "application/json"})
        if query.get("service") != ["fake-registry"] or query.get("scope") != ["repository:test/busybox:pull"]:
            return self.reply(403, error_body("DENIED", "bad service or scope"),
                              {"Content-Type": "application/json"})
        self.reply(200, json.dumps({"access_token": TOKEN, "expires_in": 300}).encode(),
                   {"Content-Type": "application/json"})

class Registry(Base):
    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        log("registry %s auth=%s" % (self.path, auth.split(" ")[0] if auth else "none"))
        if auth != "Bearer " + TOKEN:
            challenge = ('Bearer realm="http://127.0.0.1:%s/token",service="fake-registry",'
                         'scope="repository:test/busybox:pull"' % token_port)
            return self.reply(401, error_body("UNAUTHORIZED", "authentication required"),
                              {"Content-Type": "application/json", "WWW-Authenticate": challenge})
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", self.path)
        if not m or m.group(1) != "test/busybox":
            return self.reply(404, error_body("NAME_UNKNOWN", "repository name not known to registry"),
                              {"Content-Type": "application/json"})
        kind, ref = m.group(2), m.group(3)
        if kind == "manifests":
            digest = ref
            if ":" not in ref:
                with open(os.path.join(layout, "index.json")) as f:
                    index = json.load(f)
                found = [d["digest"] for d in index["manifests"]
                         if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
                digest = found[0] if found else ""
            path = blob_file(digest)
            if path is None:
                return self.reply(404, error_body("MANIFEST_UNKNOWN", "manifest unknown"),
                                  {"Content-Type": "application/json"})
            with open(path, "rb") as f:
                body = f.read()
            media_type = json.loads(body).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
            return self.reply(200, body, {"Content-Type": media_type, "Docker-Content-Digest": digest})
        if blob_file(ref) is None:
            return self.reply(404, error_body("BLOB_UNKNOWN", "blob unknown to registry"),
                              {"Content-Type": "application/json"})
        self.reply(307, b"", {"Location": "http://127.0.0.1:%s/storage/%s?signature=x" % (blob_port, ref)})

class Storage(Base):
    def do_GET(self):
        has_auth = "Authorization" in self.headers
        log("storage %s auth=%s" % (self.path, has_auth))
        if has_auth:
            return self.reply(400, b"Only one auth mechanism allowed", {"Content-Type": "text/plain"})
        digest = urllib.parse.urlparse(self.path).path.rsplit("/", 1)[-1]
        path = blob_file(digest)
        if path is None:
            return self.reply(404, b"NoSuchKey", {"Content-Type": "text/plain"})
        with open(path, "rb") as f:
            body = f.read()
        self.reply(200, body, {"Content-Type": "application/octet-stream"})

servers = [http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
           for port, handler in ((reg_port, Registry), (token_port, TokenServer), (blob_port, Storage))]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
PY
fake_port=$(free_port) token_port=$(free_port) storage_port=$(free_port)
python3 fake_registry.py "$layout" "$fake_port" "$token_port" "$storage_port" "$dir/fake.log" >"$dir/fake.out" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$fake_port/v2/" 401
wait_http "http://127.0.0.1:$storage_port/storage/x" 404
fake=127.0.0.1:$fake_port

sw pull --data-dir "$dir/data-bearer" --insecure "$fake" --creds 'alice:t0ken-pass' "$fake/test/busybox:1" >out 2>err \
    || fail "pull with Bearer tokens: $(cat err) $(cat "$dir/fake.log")"
[[ "$(digest_line out)" == "$amd64_manifest" && "$(tag_digest "$dir/data-bearer" test/busybox 1)" == "$amd64_manifest" ]] \
    && ok "Bearer: token from the realm with Basic credentials, manifest and blobs pulled" \
    || fail "bearer pull: $(cat out)"
grep -q "^token service=fake-registry scope=repository:test/busybox:pull basic=True$" "$dir/fake.log" \
    && [[ $(grep -c '^token ' "$dir/fake.log") -eq 1 ]] \
    && ok "Bearer: one token request with service and scope from the challenge" \
    || fail "token requests: $(grep '^token' "$dir/fake.log")"
[[ $(grep -c '^storage /storage/sha256:.* auth=False$' "$dir/fake.log") -eq 2 && $(grep -c '^storage .* auth=True$' "$dir/fake.log") -eq 0 ]] \
    && ok "Bearer: blob redirects followed, no Authorization sent to the storage host" \
    || fail "storage requests: $(grep '^storage' "$dir/fake.log")"
expect_failure "Bearer: wrong credentials fail at the token server, clearly" \
    "getting a token for $fake: GET http://127.0.0.1:$token_port/token?service=fake-registry&scope=repository%3Atest%2Fbusybox%3Apull: 401 UNAUTHORIZED: incorrect username or password" \
    sw pull --data-dir "$dir/data-bearer2" --insecure "$fake" --creds 'alice:nope' "$fake/test/busybox:1"

# --- a corrupted blob on the remote ---------------------------------------------------------
blob_data="$dir/plain-storage/docker/registry/v2/blobs/sha256/${amd64_layer:7:2}/${amd64_layer#sha256:}/data"
[[ -f "$blob_data" ]] || fail "no blob data file at $blob_data"
printf 'CORRUPT' | dd of="$blob_data" bs=1 seek=100 conv=notrunc status=none
expect_failure "corrupted layer: digest mismatch, exit 1" "$amd64_layer" \
    sw pull --data-dir "$dir/data-corrupt" --insecure "$plain" "$plain/test/busybox:1"
grep -qi "digest" "$dir/err" && grep -qF "pulling $plain/test/busybox:1" "$dir/err" \
    && ok "the error says digest and names the image" || fail "corrupt message: $(cat "$dir/err")"
[[ -z "$(tag_digest "$dir/data-corrupt" test/busybox 1 2>/dev/null)" ]] \
    && [[ ! -e "$dir/data-corrupt/blobs/sha256/${amd64_layer:7:2}/${amd64_layer#sha256:}" ]] \
    && ok "nothing tagged and no corrupt blob in the store" || fail "corrupt pull left state behind"

echo "# all pull tests passed"
