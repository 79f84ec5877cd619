#!/usr/bin/env bash
# Auth and TLS: an htpasswd file with bcrypt entries, anonymous pull,
# per-repository rules, the 401 challenge (Bearer, pointing at the token
# endpoint, by default: clients then use the token flow, see
# 180-authz-tokens.sh, which also tests `challenge: basic`); HTTPS with a self-signed
# certificate that skopeo trusts through --cert-dir.
source "$(dirname "$0")/lib.sh"
sw_time_limit 240

bin=$SLIPWAY_BIN
work=$(sw_tmpdir)

seed=$(sw_write_config "$work/seed" "$(sw_free_port)")
sw_import_busybox "$seed" test/busybox:1 > /dev/null
"$bin" export --config "$seed" test/busybox:1 "oci:$work/img:1" > /dev/null

htpasswd -cbB "$work/htpasswd" alice secret 2> /dev/null
htpasswd -bB "$work/htpasswd" bob builder 2> /dev/null
port=$(sw_free_port)
cfg=$(sw_write_config "$work/srv-a" "$port" "registry:
  auth:
    htpasswd: $work/htpasswd
    realm: slipway-test
    rules:
      - { repo: \"team/*\", users: [alice], access: [pull, push] }
      - { repo: \"team/*\", users: [bob], access: [pull] }
      - { repo: \"open/*\", users: \"*\", access: [pull, push] }")
sw_start_server "$cfg"
reg=127.0.0.1:$port

code=$(curl -s -D "$work/h" -o "$work/b" -w '%{http_code}' "http://$reg/v2/")
check "/v2/ without credentials -> 401" test "$code" = 401
check "htpasswd wrote bcrypt entries" test "$(cut -d: -f2 "$work/htpasswd" | cut -c1-4 | sort -u)" = '$2y$'
check "... with a Bearer challenge naming the token realm and service" \
    grep -qi "^WWW-Authenticate: Bearer realm=\"http://$reg/token\",service=\"$reg\"" "$work/h"
check "... and the UNAUTHORIZED code" test "$(jq -r '.errors[0].code' "$work/b")" = UNAUTHORIZED
check "alice pushes to team/app with --creds" quiet sk copy --dest-tls-verify=false --dest-creds alice:secret "oci:$work/img:1" "docker://$reg/team/app:1"
refused "skopeo inspect without credentials is refused (unauthorized)" 'unauthorized' \
    sk inspect --tls-verify=false "docker://$reg/team/app:1"
check "pull with --creds works" quiet sk inspect --tls-verify=false --creds alice:secret "docker://$reg/team/app:1"
refused "a wrong password is refused" ': unauthorized' \
    sk inspect --tls-verify=false --creds alice:wrong "docker://$reg/team/app:1"
check "bob may pull team/*" quiet sk inspect --tls-verify=false --creds bob:builder "docker://$reg/team/app:1"
refused "bob may not push to team/* (denied, naming the scope)" 'denied: requested access to the resource is denied \(needs scope repository:team/bob:push\)' \
    sk copy --dest-tls-verify=false --dest-creds bob:builder "oci:$work/img:1" "docker://$reg/team/bob:1"
code=$(curl -s -o "$work/b" -w '%{http_code}' -u bob:builder -X POST "http://$reg/v2/team/bob/blobs/uploads/")
check "... the API answers 403 DENIED" test "$code:$(jq -r '.errors[0].code' "$work/b")" = "403:DENIED"
check "any user may push to open/*" quiet sk copy --dest-tls-verify=false --dest-creds bob:builder "oci:$work/img:1" "docker://$reg/open/bob:1"
grep -q "secret\|builder:" "$SW_SERVER_LOG" && fail "a password appears in the server log" || ok "no password in the server log"
sw_stop_server

# anonymous pull
port2=$(sw_free_port)
cfg2=$(sw_write_config "$work/srv-b" "$port2" "registry:
  auth: { htpasswd: $work/htpasswd, anonymous_pull: true }")
sw_start_server "$cfg2"
check "push with credentials" quiet sk copy --dest-tls-verify=false --dest-creds alice:secret "oci:$work/img:1" "docker://127.0.0.1:$port2/pub/app:1"
check "anonymous pull works" quiet sk copy --src-tls-verify=false "docker://127.0.0.1:$port2/pub/app:1" "oci:$work/anon:1"
refused "anonymous push is refused (unauthorized)" 'unauthorized' \
    sk copy --dest-tls-verify=false "oci:$work/img:1" "docker://127.0.0.1:$port2/pub/anon:1"
expect_error_code POST "http://127.0.0.1:$port2/v2/pub/anon/blobs/uploads/" 401 UNAUTHORIZED
expect_status GET "http://127.0.0.1:$port2/v2/pub/app/tags/list" 200
sw_stop_server

# TLS with a self-signed certificate
mkdir -p "$work/certs"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/server.key" -out "$work/server.crt" 2> /dev/null
cp "$work/server.crt" "$work/certs/ca.crt"
port3=$(sw_free_port)
cfg3=$(sw_write_config "$work/srv-c" "$port3" "  tls: { cert: $work/server.crt, key: $work/server.key }")
sw_start_server "$cfg3"
check "skopeo over TLS with --cert-dir" quiet sk copy --dest-cert-dir "$work/certs" "oci:$work/img:1" "docker://127.0.0.1:$port3/tls/app:1"
check "skopeo inspect over TLS with --cert-dir" quiet sk inspect --cert-dir "$work/certs" "docker://127.0.0.1:$port3/tls/app:1"
refused "without the CA skopeo refuses the certificate" 'x509: certificate' \
    sk inspect "docker://127.0.0.1:$port3/tls/app:1"
check "curl with the CA gets the ping" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/server.crt" "https://127.0.0.1:$port3/v2/")" = 200

sw_finish
