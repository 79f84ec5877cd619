#!/usr/bin/env bash
# Build speed, side by side with Debian's buildah (`buildah bud --layers`) on
# the same busybox base and the same sample project: 2,000 small context
# files, a RUN writing 50 MiB, ENV/LABEL/WORKDIR, CMD.
#
#   cold build           empty build cache (fresh store / fresh buildah root)
#   no-change rebuild    the same build again
#   one-file rebuild     one context file changed
#   push                 to a CNCF Distribution registry on 127.0.0.1
#                        (slipway: skopeo copy out of `slipway serve`;
#                        buildah: buildah push). Note that slipway's build
#                        already stores the image in its own registry, where
#                        it is pullable at once: this row is for comparison.
#
# usage: bench/build.sh [path/to/slipway]   (as root; takes about 2 minutes)
set -euo pipefail
bin=$(realpath "${1:-${SLIPWAY_BIN:-build/cli/slipway}}")
command -v buildah > /dev/null || { echo "bench/build.sh: needs buildah (apt-get install buildah)" >&2; exit 1; }
work=$(mktemp -d /tmp/slipway-bench-build.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    buildah --root "$work/bh-root" --runroot "$work/bh-run" rm --all > /dev/null 2>&1 || true
    umount -R "$work/bh-root" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work XDG_RUNTIME_DIR=$work
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# --- the base image, offline, for both -------------------------------------
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh ls cat echo dd mkdir rm; do ln -s busybox "$work/rootfs/bin/$a"; done
chmod 755 "$work/rootfs"
tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
port=$(free_port)
cat > "$work/slipway.yaml" <<YAML
server: { listen: "127.0.0.1:$port", data_dir: $work/data }
YAML
"$bin" import --config "$work/slipway.yaml" "tar:$work/rootfs.tar" bench/busybox:1 > /dev/null
"$bin" export --config "$work/slipway.yaml" bench/busybox:1 "oci-archive:$work/base.tar" > /dev/null
bh=(buildah --root "$work/bh-root" --runroot "$work/bh-run" --storage-driver overlay)
if ! "${bh[@]}" pull -q "oci-archive:$work/base.tar" > "$work/bh-id" 2> "$work/bh-err"; then
    bh=(buildah --root "$work/bh-root" --runroot "$work/bh-run" --storage-driver vfs)
    "${bh[@]}" pull -q "oci-archive:$work/base.tar" > "$work/bh-id"
fi
"${bh[@]}" tag "$(cat "$work/bh-id")" localhost/bench/busybox:1

# --- the sample project ---------------------------------------------------
ctx=$work/ctx
mkdir -p "$ctx/src"
python3 - "$ctx/src" <<'PY'
import os, sys
for i in range(2000):
    d = os.path.join(sys.argv[1], f"pkg{i % 40}")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, f"file{i}.txt"), "w").write(f"content of file {i}\n" * 8)
PY
dockerfile() { # BASE
    cat <<DF
FROM $1
ENV APP=bench MODE=release
LABEL org.opencontainers.image.title=bench
WORKDIR /app
COPY src/ /app/src/
RUN dd if=/dev/urandom of=/app/big bs=1M count=50 2> /dev/null
CMD ["/bin/sh"]
DF
}
dockerfile bench/busybox:1 > "$ctx/Dockerfile"
dockerfile localhost/bench/busybox:1 > "$ctx/Dockerfile.buildah"

sw_build() { "$bin" build --config "$work/slipway.yaml" -t bench/app:latest "$ctx" > "$work/sw.log" 2>&1; }
bh_build() { "${bh[@]}" bud --layers --isolation chroot -f "$ctx/Dockerfile.buildah" -t bench-app "$ctx" > "$work/bh.log" 2>&1; }

declare -A sw bh_t
t=$(now); sw_build; sw[cold]=$(elapsed "$t" "$(now)")
t=$(now); bh_build; bh_t[cold]=$(elapsed "$t" "$(now)")
t=$(now); sw_build; sw[nochange]=$(elapsed "$t" "$(now)")
t=$(now); bh_build; bh_t[nochange]=$(elapsed "$t" "$(now)")
echo "changed" >> "$ctx/src/pkg7/file1007.txt"
t=$(now); sw_build; sw[onefile]=$(elapsed "$t" "$(now)")
t=$(now); bh_build; bh_t[onefile]=$(elapsed "$t" "$(now)")

# --- push to a Distribution registry ---------------------------------------
reg_port=$(free_port)
cat > "$work/registry.yml" <<YML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $work/registry } }
http: { addr: 127.0.0.1:$reg_port }
YML
/usr/bin/docker-registry serve "$work/registry.yml" > /dev/null 2>&1 & pids+=($!)
"$bin" serve --config "$work/slipway.yaml" > "$work/serve.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$reg_port/v2/" > /dev/null && curl -sf "http://127.0.0.1:$port/v2/" > /dev/null && break
    sleep 0.1
done
t=$(now)
skopeo copy -q --insecure-policy --src-tls-verify=false --dest-tls-verify=false \
    "docker://127.0.0.1:$port/bench/app:latest" "docker://127.0.0.1:$reg_port/sw/app:latest"
sw[push]=$(elapsed "$t" "$(now)")
t=$(now)
"${bh[@]}" push -q --tls-verify=false bench-app "docker://127.0.0.1:$reg_port/bh/app:latest" > /dev/null 2>&1
bh_t[push]=$(elapsed "$t" "$(now)")

echo "slipway build benchmark: 2,000 context files, a 50 MiB RUN ($(nproc) cores)"
echo "buildah: $("${bh[@]}" --version | cut -d' ' -f3), storage driver ${bh[6]}, isolation chroot"
printf '%-22s %12s %12s %10s\n' "step" "slipway (s)" "buildah (s)" "ratio"
for k in cold nochange onefile push; do
    label=$k
    case $k in cold) label="cold build" ;; nochange) label="no-change rebuild" ;;
                onefile) label="one-file rebuild" ;; push) label="push" ;; esac
    ratio=$(python3 -c "print(f'{${bh_t[$k]} / max(${sw[$k]}, 0.001):.1f}x')")
    printf '%-22s %12s %12s %10s\n' "$label" "${sw[$k]}" "${bh_t[$k]}" "$ratio"
done
echo "(ratio = buildah time / slipway time; higher means slipway is faster)"
