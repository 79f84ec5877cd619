#!/bin/sh
# Installs what is missing, builds Slipway and starts it with the example
# config on 127.0.0.1:8080, data under ./var. Run from the project root.
set -eu
cd "$(dirname "$0")/.."

sh scripts/install-deps.sh --run
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

# A first image to pull: busybox from Debian's busybox-static, imported offline.
if [ ! -e var/.example-imported ]; then
    tmp=$(mktemp -d)
    mkdir -p "$tmp/rootfs/bin" var
    cp /bin/busybox "$tmp/rootfs/bin/busybox"
    for app in sh ls cat echo; do ln -s busybox "$tmp/rootfs/bin/$app"; done
    tar -C "$tmp/rootfs" --numeric-owner --owner=0 --group=0 -cf "$tmp/rootfs.tar" .
    ./build/cli/slipway import --config examples/slipway.yaml --cmd '["sh"]' \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        "tar:$tmp/rootfs.tar" library/busybox:latest && touch var/.example-imported
    rm -rf "$tmp"
fi

# The example source repository the example config builds (examples/hello).
if [ ! -d var/hello-src/.git ]; then
    mkdir -p var/hello-src
    cp examples/hello/Dockerfile examples/hello/hello.sh var/hello-src/
    git -C var/hello-src init -q -b main
    git -C var/hello-src add -A
    git -C var/hello-src -c user.name=Slipway -c user.email=quickstart@localhost \
        commit -qm "The example image"
fi

cat <<'MSG'

Slipway is starting on http://127.0.0.1:8080 (data in ./var). Try, in another shell:

  curl -s http://127.0.0.1:8080/v2/_catalog
  skopeo inspect --tls-verify=false docker://127.0.0.1:8080/library/busybox:latest
  skopeo copy --src-tls-verify=false docker://127.0.0.1:8080/library/busybox:latest oci:/tmp/busybox:latest
  skopeo copy --dest-tls-verify=false oci:/tmp/busybox:latest docker://127.0.0.1:8080/demo/busybox:1

Build the example repository (var/hello-src) and watch its log, or use
"Run now" in the web UI at http://127.0.0.1:8080/ :

  ./build/cli/slipway run demo/hello --branch main --follow
  ./build/cli/slipway runs

Stop with Ctrl-C.
MSG
exec ./build/cli/slipway serve --config examples/slipway.yaml
