#!/bin/sh
# Installs the Debian 12 packages Slipway needs to build, run and test.
# Safe to run repeatedly: only missing packages are installed.
set -eu

BUILD_PKGS="build-essential cmake pkg-config clang clang-format \
  libgit2-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev \
  libsqlite3-dev libarchive-dev libyaml-dev libssl-dev zlib1g-dev \
  libzstd-dev libpcre2-dev libcrypt-dev libdeflate-dev libpq-dev"
RUN_PKGS="runc git ca-certificates busybox-static curl skopeo slirp4netns nftables libpq5"
TEST_PKGS="curl jq skopeo umoci busybox-static apache2-utils openssl cppcheck \
  docker-registry wrk sqlite3 procps psmisc python3 chromium \
  dropbear-bin openssh-client iproute2 e2fsprogs libclang-rt-14-dev postgresql"

want="$BUILD_PKGS $RUN_PKGS"
case "${1:-}" in
  --run) ;;
  --test) want="$want $TEST_PKGS" ;;
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
