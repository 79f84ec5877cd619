#!/bin/sh
# Installs the Debian 12 packages Slipway needs to build, run and test.
# Safe to run repeatedly: only missing packages are installed.
set -eu

BUILD_PKGS="build-essential cmake pkg-config clang clang-format \
  libgit2-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev \
  libsqlite3-dev libarchive-dev libyaml-dev libssl-dev zlib1g-dev \
  libzstd-dev libpcre2-dev libcrypt-dev libdeflate-dev libpq-dev"
RUN_PKGS="runc git ca-certificates busybox-static curl skopeo slirp4netns nftables \
  openssh-client libpq5"
TEST_PKGS="curl jq skopeo umoci busybox-static apache2-utils openssl cppcheck \
  docker-registry wrk sqlite3 procps psmisc python3 chromium \
  dropbear-bin openssh-client iproute2 e2fsprogs libclang-rt-14-dev postgresql"

# QEMU user emulation for multi-platform builds (rules[].platforms):
# RUN steps of foreign platforms run through binfmt_misc handlers with the
# F flag, registered below.
EMU_PKGS="qemu-user-static binfmt-support"

want="$BUILD_PKGS $RUN_PKGS"
case "${1:-}" in
  --run) want="$want $EMU_PKGS" ;;
  --test) want="$want $TEST_PKGS $EMU_PKGS" ;;
  "") ;;
  *) echo "usage: install-deps.sh [--run|--test]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $p"
  fi
done
# The browser tests drive chromium with playwright-core from npm: Node.js
# and npm from Debian unless some other node (e.g. NodeSource's, which
# bundles npm) is there already.
if [ "${1:-}" = "--test" ]; then
  command -v node >/dev/null 2>&1 || missing="$missing nodejs"
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi

if [ -n "$missing" ]; then
  echo "slipway: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Emulation: binfmt_misc mounted and the QEMU handlers enabled (Debian's
# qemu-user-static registers them with the F flag, so the interpreter works
# inside containers). Needs root; a worker reports what it can run at start.
if [ "${1:-}" = "--run" ] || [ "${1:-}" = "--test" ]; then
  if [ "$(id -u)" = 0 ]; then
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
      mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || \
        echo "slipway: cannot mount binfmt_misc: no emulated platforms" >&2
    fi
    for entry in qemu-aarch64 qemu-arm; do
      if [ -e /proc/sys/fs/binfmt_misc/register ] && \
         ! grep -qx enabled "/proc/sys/fs/binfmt_misc/$entry" 2>/dev/null; then
        update-binfmts --enable "$entry" || echo "slipway: update-binfmts --enable $entry failed" >&2
      fi
    done
  else
    echo "slipway: not root: binfmt_misc handlers for emulated platforms not registered" >&2
  fi
fi

# The multi-platform test (tests/e2e/190) needs Debian's arm64 busybox-static:
# downloaded once, with a private package list (no dpkg --add-architecture).
BUSYBOX_ARM64=/opt/slipway-test/busybox-arm64.deb
if [ "${1:-}" = "--test" ] && [ ! -s "$BUSYBOX_ARM64" ]; then
  lists=$(mktemp -d)
  mkdir -p "$lists/partial" "$(dirname "$BUSYBOX_ARM64")"
  apt_arm64="-o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Dir::State::Lists=$lists"
  # shellcheck disable=SC2086
  if apt-get update -qq $apt_arm64 && \
     (cd "$lists" && apt-get download -qq $apt_arm64 busybox-static:arm64); then
    mv "$lists"/busybox-static_*_arm64.deb "$BUSYBOX_ARM64"
    echo "slipway: downloaded busybox-static:arm64 to $BUSYBOX_ARM64"
  else
    echo "slipway: could not download busybox-static:arm64 (tests/e2e/190 will fail)" >&2
  fi
  rm -rf "$lists"
fi

# The S3 test server (tests/lib/s3-server.js): s3rver for the S3 API behind
# a front that verifies SigV4 with AWS's own signer. Pinned versions, into a
# fixed directory the tests find (SLIPWAY_S3_SERVER_DIR overrides it).
S3_SERVER_DIR=${SLIPWAY_S3_SERVER_DIR:-/opt/slipway-test/s3}
S3_SERVER_PKGS="s3rver@3.7.1 @smithy/signature-v4@5.3.5"
if [ "${1:-}" = "--test" ]; then
  if ! [ -f "$S3_SERVER_DIR/node_modules/s3rver/package.json" ] ||
     ! [ -f "$S3_SERVER_DIR/node_modules/@smithy/signature-v4/package.json" ]; then
    echo "slipway: installing the S3 test server into $S3_SERVER_DIR"
    mkdir -p "$S3_SERVER_DIR"
    [ -f "$S3_SERVER_DIR/package.json" ] ||
      echo '{"name":"slipway-test-s3","private":true}' > "$S3_SERVER_DIR/package.json"
    # shellcheck disable=SC2086
    (cd "$S3_SERVER_DIR" && npm install --no-audit --no-fund --save-exact --loglevel=error $S3_SERVER_PKGS)
  fi
fi
