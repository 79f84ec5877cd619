# shellcheck shell=bash
# build-lib.sh - helpers for the image builder's end-to-end tests
# (tests/e2e/1[0-4]0-build-*.sh). Sourced after, and on top of, lib.sh: the
# builder tests all need the same offline busybox base in a fresh store, a
# way to run `slipway build` and keep what it printed, and the user's view
# of the result (an OCI layout unpacked with umoci, the config as skopeo
# reads it, the image run with runc).
#
#   bt_init [EXTRA_YAML]      fresh data dir + config ($BT_CFG, $BT_DATA, $BT_PORT)
#                             with test/busybox:1 imported from busybox-static
#   bt_new_store [EXTRA_YAML] the same without the base
#   bt_use WORK               switch back to the store of an earlier $BT_WORK
#   bt_build CTX [ARGS...]    slipway build; stdout in $BT_OUT, stderr in
#                             $BT_ERR, both in $BT_LOG; returns its status
#   bt_built_digest           the digest of the last "Built sha256:..." line
#   bt_step_status TEXT       CACHED/DONE of the step whose line contains TEXT
#   bt_count STATUS           how many steps said CACHED (or DONE)
#   bt_export REF             exports REF to a new OCI layout; sets $BT_LAYOUT
#                             (use it as "$BT_LAYOUT:img")
#   bt_unpack REF DIR         exports REF and umoci-unpacks it into DIR
#   bt_config REF             the image config blob, verbatim (skopeo --raw)
#   bt_manifest REF           the image manifest, verbatim
#   bt_runc BUNDLE [ARGS...]  runs ARGS (default: the image's own) with runc
#   bt_manifest_count         rows in the manifests table of $BT_CFG's database
#   check_eq WHAT GOT WANT    ok/fail, printing got and expected on failure
#   check_build_fails WHAT REGEX CTX [ARGS...]
#                             the build exits 1 and stderr matches REGEX

if [ -f "$(dirname "${BASH_SOURCE[0]}")/lib.sh" ]; then
    # shellcheck source=lib.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
else
    # A minimal stand-in, so the builder tests run even without lib.sh.
    set -euo pipefail
    : "${SLIPWAY_BIN:?SLIPWAY_BIN must point at the slipway binary}"
    mkdir -p "${SLIPWAY_TEST_TMP:-/tmp}"
    SW_SCRATCH=$(mktemp -d "${SLIPWAY_TEST_TMP:-/tmp}/e2e-$(basename "$0" .sh).XXXXXX")
    SW_PASSED=0 SW_FAILED=0 SW_CLEANUP_CMDS=()
    sw_cleanup() { local c; for c in "${SW_CLEANUP_CMDS[@]}"; do eval "$c" || true; done; rm -rf "$SW_SCRATCH"; }
    trap sw_cleanup EXIT
    ok() { SW_PASSED=$((SW_PASSED + 1)); echo "ok - $*"; }
    fail() { SW_FAILED=$((SW_FAILED + 1)); echo "not ok - $*"; }
    check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
    sw_finish() { echo "$SW_PASSED passed, $SW_FAILED failed"; [ "$SW_FAILED" -eq 0 ]; }
    sw_tmpdir() { mktemp -d "$SW_SCRATCH/d.XXXXXX"; }
    sw_free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    }
    sw_wait_http() {
        local url=$1 limit=${2:-20}
        for _ in $(seq $((limit * 10))); do curl -s -o /dev/null "$url" && return 0; sleep 0.1; done
        return 1
    }
    sw_write_config() {
        local dir=$1 port=$2 extra=${3:-}
        mkdir -p "$dir/data"
        printf 'server:\n  listen: 127.0.0.1:%s\n  data_dir: %s/data\n%s\n' "$port" "$dir" "$extra" > "$dir/slipway.yaml"
        echo "$dir/slipway.yaml"
    }
    sw_make_busybox_rootfs() {
        local dir=$1 app
        mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root"
        cp /bin/busybox "$dir/bin/busybox"
        for app in sh ls cat echo id mkdir rm touch chmod test grep sleep wc head stat env pwd ln wget true; do
            ln -sf busybox "$dir/bin/$app"
        done
        chmod 1777 "$dir/tmp"
        printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' > "$dir/etc/passwd"
        printf 'root:x:0:\napp:x:1000:\n' > "$dir/etc/group"
    }
    sw_busybox_tar() {
        local root; root=$(sw_tmpdir); sw_make_busybox_rootfs "$root"
        tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$1" .
    }
fi

# A build interrupted mid-RUN (a timeout, ^C) can leave its overlay mounted
# inside the scratch dir: unmount before it is removed.
bt_unmount_scratch() {
    awk -v root="$SW_SCRATCH/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r mnt; do umount -l "$mnt" 2> /dev/null || true; done
}
SW_CLEANUP_CMDS+=("bt_unmount_scratch")

# skopeo and umoci want a writable HOME for their policy and caches; keep
# them out of the real one.
export HOME=$SW_SCRATCH XDG_RUNTIME_DIR=$SW_SCRATCH
mkdir -p "$HOME/.config/containers"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$HOME/.config/containers/policy.json"

bt_use() { # WORK: makes the store in WORK (from bt_new_store) the current one
    BT_WORK=$1 BT_CFG=$1/slipway.yaml BT_DATA=$1/data
    BT_PORT=$(sed -n 's/^ *listen: *127\.0\.0\.1://p' "$BT_CFG" | head -1)
    BT_OUT=$1/build.out BT_ERR=$1/build.err BT_LOG=$1/build.log
}

bt_new_store() { # [EXTRA_YAML]: a fresh, empty store, made current
    local work
    work=$(sw_tmpdir)
    sw_write_config "$work" "$(sw_free_port)" "${1:-}" > /dev/null
    bt_use "$work"
}

bt_init() { # [EXTRA_YAML]: a fresh store holding test/busybox:1, made current
    local default_yaml='builder: { network: none, step_timeout: 2m }'
    bt_new_store "${1:-$default_yaml}"
    [ -f "$SW_SCRATCH/busybox-rootfs.tar" ] || sw_busybox_tar "$SW_SCRATCH/busybox-rootfs.tar"
    if ! "$SLIPWAY_BIN" import --config "$BT_CFG" "tar:$SW_SCRATCH/busybox-rootfs.tar" test/busybox:1 \
            > "$BT_WORK/import.log" 2>&1; then
        echo "bt_init: slipway import of the busybox base failed:" >&2
        cat "$BT_WORK/import.log" >&2
        return 1
    fi
}

bt_build() { # CTX [ARGS...]
    local ctx=$1 rc=0; shift
    "$SLIPWAY_BIN" build --config "$BT_CFG" "$@" "$ctx" > "$BT_OUT" 2> "$BT_ERR" || rc=$?
    cat "$BT_OUT" "$BT_ERR" > "$BT_LOG"
    return "$rc"
}

# CACHED or DONE for the first step whose "[i/n] ..." line contains TEXT
# (empty when the step printed neither: a metadata step, or not run)
bt_step_status() { # TEXT
    awk -v want="$1" '
        /^\[[0-9]+\/[0-9]+\] / { cur = index($0, want) > 0; next }
        cur && /^(CACHED|DONE) [0-9.]+s$/ { print $1; exit }' "$BT_OUT"
}

# how many steps said STATUS (CACHED or DONE)
bt_count() { grep -Ec "^$1 [0-9]+\.[0-9]+s\$" "$BT_OUT" || true; }

bt_built_digest() {
    sed -n 's/^Built \(sha256:[0-9a-f]\{64\}\) in .*/\1/p' "$BT_OUT" | tail -1
}

# the last lines of the build's output, for failure messages
bt_tail() { tail -n "${1:-4}" "$BT_LOG" | tr '\n' '|'; }

bt_export() { # REF   (not in a $(...) if you then use $BT_LAYOUT)
    BT_LAYOUT=$(mktemp -u "$BT_WORK/layout.XXXXXX")
    "$SLIPWAY_BIN" export --config "$BT_CFG" "$1" "oci:$BT_LAYOUT:img" > "$BT_WORK/export.log" 2>&1
}

bt_unpack() { # REF DIR
    rm -rf "$2"
    bt_export "$1" && umoci unpack --image "$BT_LAYOUT:img" "$2" > "$BT_WORK/umoci.log" 2>&1
}

bt_config() { # REF
    bt_export "$1" && skopeo inspect --config --raw "oci:$BT_LAYOUT:img"
}

bt_manifest() { # REF
    bt_export "$1" && skopeo inspect --raw "oci:$BT_LAYOUT:img"
}

bt_runc() { # BUNDLE [ARGS...]   (no ARGS: the image's ENTRYPOINT + CMD)
    local bundle=$1; shift
    local args=null id="bt-$$-$RANDOM"
    [ $# -eq 0 ] || args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
    jq --argjson a "$args" '.process.terminal = false | if $a then .process.args = $a else . end' \
        "$bundle/config.json" > "$bundle/config.json.new"
    mv "$bundle/config.json.new" "$bundle/config.json"
    timeout 60 runc run --bundle "$bundle" "$id" < /dev/null 2>&1 || true
    runc delete -f "$id" > /dev/null 2>&1 || true
}

bt_manifest_count() { # (the config's database: SQLite or PostgreSQL)
    sw_sql "$BT_CFG" 'SELECT COUNT(*) FROM manifests'
}

check_eq() { # WHAT GOT WANT
    if [ "$2" = "$3" ]; then ok "$1"
    else fail "$1: got '$(head -c 400 <<< "$2")', expected '$3'"; fi
}

check_build_fails() { # WHAT REGEX CTX [ARGS...]
    local what=$1 regex=$2 rc=0; shift 2
    bt_build "$@" || rc=$?
    if [ "$rc" -eq 1 ] && grep -Eq "$regex" "$BT_ERR"; then ok "$what"
    else fail "$what: exit $rc, stderr: $(tail -n 3 "$BT_ERR" | tr '\n' '|')"; fi
}

# BT_KEEP=1 keeps the scratch directory for a post-mortem (servers are
# still stopped).
if [ -n "${BT_KEEP:-}" ]; then
    bt_kept=$SW_SCRATCH
    trap 'SW_SCRATCH=$bt_kept/.gone; sw_cleanup; echo "kept $bt_kept" >&2' EXIT
fi
