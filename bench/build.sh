#!/usr/bin/env bash
# Build speed, side by side with Debian's buildah (`buildah bud --layers`) on
# the same busybox base and the same sample project, generated here: 2,000
# small context files, a RUN writing 50 MiB (from /dev/urandom, so it does
# not compress away), ENV/LABEL/WORKDIR, CMD.
#
#   cold build           empty build cache (a fresh store / a fresh buildah root,
#                        each holding only the base image)
#   no-change rebuild    the same build again
#   one-file rebuild     one context file changed (a different one each round)
#   push                 the built image copied to a CNCF Distribution registry
#                        on 127.0.0.1: for slipway, `skopeo copy` out of a
#                        running `slipway serve` (the build itself already
#                        stored the image in slipway's registry, where it is
#                        pullable at once — this row measures getting it into
#                        a *second* registry); for buildah, `buildah push`.
#
#   profile              one more one-file rebuild, no-change rebuild and
#                        cold build with SLIPWAY_PROFILE=1: slipway's
#                        per-phase tables (docs/builder.md), and the process start
#                        (`slipway --version`), which no profile row shows
#   load                 each row gives the lowest and highest 1-minute load
#                        average seen right after its timed runs
#   gzip vs zstd         (a second table) per --compression: a cold build,
#                        the push to Distribution (skopeo copy), the pull
#                        from it (skopeo copy to an OCI layout) and the
#                        unpack a client does (umoci unpack); layer size
#
#   emulated step        (a fourth table) the same CPU-bound RUN built for
#                        linux/amd64 (native) and linux/arm64 (QEMU user
#                        emulation through binfmt_misc): the slowdown of a
#                        step that runs emulated in a multi-platform build;
#                        needs qemu-aarch64 registered and Debian's arm64
#                        busybox-static (scripts/install-deps.sh --test)
#
#   RUN-heavy build      (a third table) a cold build of 10 small RUN steps
#                        with builder.network none, then egress: what a step's
#                        own network (namespace, nftables filter, slirp4netns)
#                        costs
#
# SLIPWAY_BASELINE=path/to/another/slipway adds that binary's cold,
# no-change and one-file builds to the same rounds (its own store, the same
# context, built right after slipway's each time): before/after figures of a
# change from one run, in a third column.
#
# Each row is the median of ROUNDS rounds (default 3). buildah uses the
# overlay storage driver (vfs if overlay does not work here; force one with
# BUILDAH_DRIVER=vfs) and --isolation chroot (no OCI runtime nesting needed).
#
# The load average is printed before and after: compare ratios from one run,
# and rerun when the load is high.
#
# usage: bench/build.sh [--network-only|--emulation-only] [path/to/slipway]
#        (as root; a few minutes; gives up after BENCH_TIMEOUT seconds,
#        default 300; --network-only / --emulation-only: only that table, no
#        buildah needed)
set -euo pipefail
# the bound: the whole run under timeout(1); TERM ends it through the trap
if [ -z "${BENCH_BUILD_BOUNDED:-}" ]; then
    BENCH_BUILD_BOUNDED=1 exec timeout -k 20 "${BENCH_TIMEOUT:-300}" bash "$0" "$@"
fi
network_only= emulation_only=
if [ "${1:-}" = --network-only ]; then network_only=1; shift; fi
if [ "${1:-}" = --emulation-only ]; then network_only=1 emulation_only=1; shift; fi
bin=$(realpath "${1:-${SLIPWAY_BIN:-build/cli/slipway}}")
rounds=${ROUNDS:-3}
[ -n "$network_only" ] || command -v buildah > /dev/null ||
    { echo "bench/build.sh: needs buildah (apt-get install buildah), or use --network-only" >&2; exit 1; }
work=$(mktemp -d "${SLIPWAY_TEST_TMP:-/tmp}/slipway-bench-build.XXXXXX")
pids=()
bh_roots=()
cleanup() {
    local p r
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
    for r in "${bh_roots[@]}"; do
        buildah --root "$r/root" --runroot "$r/run" rm --all > /dev/null 2>&1 || true
        umount -R "$r/root/overlay" 2> /dev/null || true
        umount -R "$r/root" 2> /dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "bench/build.sh: over 5 minutes, giving up" >&2; exit 124' TERM INT
export HOME=$work XDG_RUNTIME_DIR=$work
mkdir -p "$HOME/.config/containers"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$HOME/.config/containers/policy.json"
. "$(dirname "$(realpath "$0")")/lib.sh"
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; } # ms: the no-change row is ~0.03 s
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the base image, offline, for both -------------------------------------
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh ls cat echo dd mkdir rm; do ln -s busybox "$work/rootfs/bin/$a"; done
chmod 755 "$work/rootfs"; chmod 1777 "$work/rootfs/tmp"
tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
port=$(free_port)
sw_store() { # N [BINARY]: a fresh slipway store with only the base; prints its config
    local dir=$work/sw-$1
    mkdir -p "$dir"
    printf 'server: { listen: "127.0.0.1:%s", data_dir: %s/data }\n' "$port" "$dir" > "$dir/slipway.yaml"
    "${2:-$bin}" import --config "$dir/slipway.yaml" "tar:$work/rootfs.tar" bench/busybox:1 > /dev/null
    echo "$dir/slipway.yaml"
}
seed=$(sw_store seed)

# --- RUN-heavy: builder.network none vs egress, user namespace on vs off ------
network_figure() {
    local nctx=$work/ctx-run mode round t cfg
    mkdir -p "$nctx"
    { echo "FROM bench/busybox:1"; for i in $(seq 10); do echo "RUN echo step $i > /step$i"; done; } > "$nctx/Dockerfile"
    # the same store without the user namespace (builder.userns: false)
    local plain=${seed%.yaml}-nouserns.yaml
    { cat "$seed"; echo "builder: { userns: false }"; } > "$plain"
    local -a t_none=() t_egress=() t_plain=()
    for round in $(seq "$rounds"); do
        for mode in none egress plain; do
            cfg=$seed
            net=$mode
            if [ "$mode" = plain ]; then cfg=$plain; net=none; fi
            t=$(now)
            "$bin" build --config "$cfg" --no-cache --network "$net" "$nctx" > "$work/net.log" 2>&1 ||
                { echo "bench/build.sh: the $mode build failed:" >&2; tail -5 "$work/net.log" >&2; exit 1; }
            case $mode in
            none) t_none+=("$(elapsed "$t" "$(now)")") ;;
            egress) t_egress+=("$(elapsed "$t" "$(now)")") ;;
            plain) t_plain+=("$(elapsed "$t" "$(now)")") ;;
            esac
        done
    done
    local mn me mp
    mn=$(median "${t_none[@]}"); me=$(median "${t_egress[@]}"); mp=$(median "${t_plain[@]}")
    echo
    echo "RUN-heavy build: 10 RUN steps, --no-cache; median of $rounds rounds"
    printf '%-34s %12s\n' "sandbox" "build (s)"
    printf '%-34s %12s\n' "network none, no user namespace" "$mp" "network none (user namespace)" "$mn" \
        "network egress (user namespace)" "$me"
    echo "the user namespace costs $(python3 -c "print(f'{($mn - $mp) / 10 * 1000:.0f}')") ms per RUN step;" \
        "egress $(python3 -c "print(f'{($me - $mn) / 10 * 1000:.0f}')") ms more"
}
# --- emulated vs native: one CPU-bound RUN for linux/amd64 and linux/arm64 ---
emulation_figure() {
    local deb=${SLIPWAY_BUSYBOX_ARM64_DEB:-/opt/slipway-test/busybox-arm64.deb}
    local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
    echo
    if [ ! -f "$deb" ] || ! grep -qx enabled "$entry" 2> /dev/null || ! grep -q '^flags:.*F' "$entry"; then
        echo "emulated step: skipped (needs $deb and qemu-aarch64 registered with F:" \
            "scripts/install-deps.sh --test)"
        return 0
    fi
    local ectx=$work/ctx-emu base=$work/ctx-emu-base arch round t
    mkdir -p "$ectx" "$base/deb"
    dpkg-deb -x "$deb" "$base/deb"
    for arch in amd64 arm64; do
        mkdir -p "$base/rootfs-$arch/bin" "$base/rootfs-$arch/tmp"
        if [ "$arch" = amd64 ]; then cp /bin/busybox "$base/rootfs-$arch/bin/"; else cp "$base/deb/bin/busybox" "$base/rootfs-$arch/bin/"; fi
        ln -s busybox "$base/rootfs-$arch/bin/sh"
    done
    printf 'FROM scratch\nARG TARGETARCH\nCOPY rootfs-${TARGETARCH}/ /\n' > "$base/Dockerfile"
    "$bin" build --config "$seed" --platform linux/amd64,linux/arm64 -t bench/multibase:1 "$base" \
        > "$work/emu.log" 2>&1 || { echo "bench/build.sh: the multi-platform base failed:" >&2; tail -5 "$work/emu.log" >&2; exit 1; }
    printf 'FROM bench/multibase:1\nRUN i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done; echo $i\n' > "$ectx/Dockerfile"
    local -a t_native=() t_emulated=()
    for round in $(seq "$rounds"); do
        for arch in amd64 arm64; do
            t=$(now)
            "$bin" build --config "$seed" --no-cache --network none --platform "linux/$arch" "$ectx" > "$work/emu.log" 2>&1 ||
                { echo "bench/build.sh: the $arch build failed:" >&2; tail -5 "$work/emu.log" >&2; exit 1; }
            if [ "$arch" = amd64 ]; then t_native+=("$(elapsed "$t" "$(now)")"); else t_emulated+=("$(elapsed "$t" "$(now)")"); fi
        done
    done
    local mn me
    mn=$(median "${t_native[@]}"); me=$(median "${t_emulated[@]}")
    echo "emulated step: one RUN counting to 300,000 in busybox sh, --no-cache; median of $rounds rounds"
    printf '%-34s %12s\n' "platform" "build (s)" "linux/amd64 (native)" "$mn" "linux/arm64 (qemu-aarch64)" "$me"
    echo "the emulated build takes $(python3 -c "print(f'{$me / max($mn, 0.001):.1f}')")x the native one"
}
if [ -n "$emulation_only" ]; then
    emulation_figure
    exit 0
fi
if [ -n "$network_only" ]; then
    network_figure
    exit 0
fi

"$bin" export --config "$seed" bench/busybox:1 "oci-archive:$work/base.tar" > /dev/null
driver=${BUILDAH_DRIVER:-overlay}
bh_root() { # N: a fresh buildah root with only the base; sets bh=(buildah ...)
    local r=$work/bh-$1
    bh_roots+=("$r")
    bh=(buildah --root "$r/root" --runroot "$r/run" --storage-driver "$driver")
    if ! "${bh[@]}" pull -q "oci-archive:$work/base.tar" > "$r.id" 2> "$r.err"; then
        [ "$driver" = vfs ] && { cat "$r.err" >&2; exit 1; }
        driver=vfs
        bh=(buildah --root "$r/root" --runroot "$r/run" --storage-driver "$driver")
        "${bh[@]}" pull -q "oci-archive:$work/base.tar" > "$r.id"
    fi
    "${bh[@]}" tag "$(cat "$r.id")" localhost/bench/busybox:1
}

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

sw_build() { "$bin" build --config "$cfg" -t bench/app:latest "$ctx" > "$work/sw.log" 2>&1; }
base_bin=${SLIPWAY_BASELINE:+$(realpath "$SLIPWAY_BASELINE")}
base_build() { "$base_bin" build --config "$bcfg" -t bench/app:latest "$ctx" > "$work/sw.log" 2>&1; }
bh_build() {
    "${bh[@]}" bud --layers --isolation chroot -f "$ctx/Dockerfile.buildah" -t bench-app "$ctx" > "$work/bh.log" 2>&1
}
declare -A loads # VAR-ARRAY -> the 1-minute load average after each of its runs
timed() { # VAR-ARRAY COMMAND...: appends the seconds COMMAND took
    local -n into=$1
    local t name=$1; shift
    t=$(now)
    "$@" || { echo "bench/build.sh: '$*' failed:" >&2; tail -5 "$work/sw.log" "$work/bh.log" >&2; exit 1; }
    into+=("$(elapsed "$t" "$(now)")")
    loads[$name]+=" $(cut -d' ' -f1 /proc/loadavg)"
}
sw_cold=() sw_same=() sw_one=() bh_cold=() bh_same=() bh_one=() base_cold=() base_same=() base_one=()
for round in $(seq "$rounds"); do
    cfg=$(sw_store "$round")
    [ -z "$base_bin" ] || bcfg=$(sw_store "base-$round" "$base_bin")
    bh_root "$round"
    timed sw_cold sw_build
    [ -z "$base_bin" ] || timed base_cold base_build
    timed bh_cold bh_build
    [ -z "$base_bin" ] || timed base_same base_build
    timed sw_same sw_build
    ! grep -q '^DONE' "$work/sw.log" ||
        echo "warning: slipway's no-change rebuild was not fully cached: $(grep '^Built' "$work/sw.log")" >&2
    timed bh_same bh_build
    echo "changed in round $round" >> "$ctx/src/pkg7/file$((7 + 40 * round)).txt"
    timed sw_one sw_build
    [ -z "$base_bin" ] || timed base_one base_build
    timed bh_one bh_build
done

# --- push to a Distribution registry ---------------------------------------
# A new, empty registry each round: a blob it already holds would be
# mounted instead of uploaded and measure nothing.
"$bin" serve --config "$cfg" > "$work/serve.log" 2>&1 & pids+=($!)
wait_v2() { # PORT
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/v2/" > /dev/null && return 0; sleep 0.1; done
    echo "bench/build.sh: nothing answers on 127.0.0.1:$1" >&2; exit 1
}
wait_v2 "$port"
sw_push=() bh_push=()
for round in $(seq "$rounds"); do
    reg_port=$(free_port)
    cat > "$work/registry-$round.yml" <<YML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $work/registry-$round } }
http: { addr: 127.0.0.1:$reg_port }
YML
    /usr/bin/docker-registry serve "$work/registry-$round.yml" > /dev/null 2>&1 &
    reg_pid=$!; pids+=($reg_pid)
    wait_v2 "$reg_port"
    timed sw_push skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
        "docker://127.0.0.1:$port/bench/app:latest" "docker://127.0.0.1:$reg_port/sw/app:latest"
    timed bh_push "${bh[@]}" push -q --tls-verify=false bench-app "docker://127.0.0.1:$reg_port/bh/app:latest"
    kill "$reg_pid"; wait "$reg_pid" 2> /dev/null || true
done

# --- where slipway's one-file and no-change rebuilds spend their time --------
echo "profiled in round $rounds" >> "$ctx/src/pkg9/file9.txt"
SLIPWAY_PROFILE=1 "$bin" build --config "$cfg" -t bench/app:latest "$ctx" > "$work/profile.log" 2>&1 ||
    { echo "bench/build.sh: the profiled build failed:" >&2; tail -5 "$work/profile.log" >&2; exit 1; }
SLIPWAY_PROFILE=1 "$bin" build --config "$cfg" -t bench/app:latest "$ctx" > "$work/profile-same.log" 2>&1 ||
    { echo "bench/build.sh: the profiled build failed:" >&2; tail -5 "$work/profile-same.log" >&2; exit 1; }
SLIPWAY_PROFILE=1 "$bin" build --config "$(sw_store profile)" -t bench/app:latest "$ctx" > "$work/profile-cold.log" 2>&1 ||
    { echo "bench/build.sh: the profiled build failed:" >&2; tail -5 "$work/profile-cold.log" >&2; exit 1; }
# what no profile row shows: starting the process (loading its libraries)
starts=()
for _ in $(seq 10); do
    t=$(now); "$bin" --version > /dev/null; starts+=("$(elapsed "$t" "$(now)")")
done

# --- gzip vs zstd: build, push, pull, unpack ---------------------------------
compression_figure() {
    local algo c_port c_cfg dir reg_port reg_pid t size
    declare -A cf
    for algo in gzip zstd; do
        for round in $(seq "$rounds"); do
            dir=$work/c-$algo-$round
            mkdir -p "$dir"
            c_port=$(free_port)
            printf 'server: { listen: "127.0.0.1:%s", data_dir: %s/data }\n' "$c_port" "$dir" > "$dir/slipway.yaml"
            "$bin" import --config "$dir/slipway.yaml" "tar:$work/rootfs.tar" bench/busybox:1 > /dev/null
            c_cfg=$dir/slipway.yaml
            t=$(now)
            "$bin" build --config "$c_cfg" --compression "$algo" -t bench/app:latest "$ctx" > "$dir/build.log" 2>&1 ||
                { echo "bench/build.sh: the $algo build failed:" >&2; tail -5 "$dir/build.log" >&2; exit 1; }
            cf[$algo,build]+=" $(elapsed "$t" "$(now)")"
            "$bin" serve --config "$c_cfg" > "$dir/serve.log" 2>&1 & pids+=($!)
            wait_v2 "$c_port"
            reg_port=$(free_port)
            printf 'version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: %s/reg } }\nhttp: { addr: 127.0.0.1:%s }\n' "$dir" "$reg_port" > "$dir/reg.yml"
            /usr/bin/docker-registry serve "$dir/reg.yml" > /dev/null 2>&1 & reg_pid=$!; pids+=($reg_pid)
            wait_v2 "$reg_port"
            t=$(now)
            skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
                "docker://127.0.0.1:$c_port/bench/app:latest" "docker://127.0.0.1:$reg_port/c/app:latest"
            cf[$algo,push]+=" $(elapsed "$t" "$(now)")"
            t=$(now)
            skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$reg_port/c/app:latest" "oci:$dir/oci:app"
            cf[$algo,pull]+=" $(elapsed "$t" "$(now)")"
            t=$(now)
            # a client that cannot read the layers is a result, not an error
            if umoci unpack --image "$dir/oci:app" "$dir/bundle" > "$dir/unpack.log" 2>&1; then
                cf[$algo,unpack]+=" $(elapsed "$t" "$(now)")"
            else
                cf[$algo,unpack_error]=$(grep -o 'not correct mediatype[^"]*' "$dir/unpack.log" | head -1)
                cf[$algo,unpack_error]=${cf[$algo,unpack_error]:-$(tail -1 "$dir/unpack.log")}
            fi
            size=$(du -sb "$dir/oci/blobs" | cut -f1)
            cf[$algo,size]=$(python3 -c "print(f'{$size / 1048576:.1f}')")
            kill "$reg_pid" 2> /dev/null; wait "$reg_pid" 2> /dev/null || true
            rm -rf "$dir/bundle" "$dir/reg"
        done
    done
    echo
    echo "compression: the same project built cold with --compression gzip and zstd, pushed"
    echo "to Distribution and pulled back with skopeo, unpacked with umoci; median of $rounds rounds"
    printf '%-22s %10s %10s %10s\n' "step" "gzip (s)" "zstd (s)" "gzip/zstd"
    local k g z
    for k in build push pull unpack; do
        # shellcheck disable=SC2086
        g=$(median ${cf[gzip,$k]:-}); z=$(median ${cf[zstd,$k]:-})
        if [ -n "$g" ] && [ -n "$z" ]; then
            printf '%-22s %10s %10s %10s\n' "$k" "$g" "$z" "$(python3 -c "print(f'{$g / max($z, 0.001):.2f}x')")"
        else
            printf '%-22s %10s %10s %10s\n' "$k" "${g:-fails}" "${z:-fails}" -
        fi
    done
    printf '%-22s %10s %10s\n' "image blobs (MiB)" "${cf[gzip,size]}" "${cf[zstd,size]}"
    local a
    for a in gzip zstd; do
        [ -z "${cf[$a,unpack_error]:-}" ] || echo "umoci $(umoci --version | awk '{print $NF}') cannot unpack the $a image: ${cf[$a,unpack_error]}"
    done
    echo "(the RUN layer is 50 MiB from /dev/urandom: it does not compress; the 2,000 files do)"
}

echo "slipway build benchmark: 2,000 context files, a 50 MiB RUN; $(nproc) cores; median of $rounds rounds"
echo "load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) now"
echo "slipway: $bin"
echo "buildah: $("${bh[@]}" --version | cut -d' ' -f3), storage driver $driver, isolation chroot, --layers"
[ -z "$base_bin" ] || echo "baseline: $base_bin"
printf '%-22s %12s %12s %10s %10s' "step" "slipway (s)" "buildah (s)" "ratio" "load"
[ -z "$base_bin" ] && echo || printf ' %12s %10s\n' "baseline (s)" "ratio"
row() { # LABEL SW-ARRAY BH-ARRAY [BASELINE-ARRAY]
    local -n s=$2 b=$3
    local ms mb mbase load
    ms=$(median "${s[@]}"); mb=$(median "${b[@]}")
    # the 1-minute load average after each timed run of the row, lowest-highest
    # shellcheck disable=SC2086
    load=$(printf '%s\n' ${loads[$2]} ${loads[$3]} | sort -n | sed -n '1p;$p' | paste -sd-)
    printf '%-22s %12s %12s %10s %10s' "$1" "$ms" "$mb" "$(python3 -c "print(f'{$mb / max($ms, 0.001):.1f}x')")" "$load"
    if [ -n "$base_bin" ] && [ -n "${4:-}" ]; then
        local -n o=$4
        mbase=$(median "${o[@]}")
        printf ' %12s %10s\n' "$mbase" "$(python3 -c "print(f'{$mbase / max($ms, 0.001):.1f}x')")"
    else
        echo
    fi
}
row "cold build" sw_cold bh_cold base_cold
row "no-change rebuild" sw_same bh_same base_same
row "one-file rebuild" sw_one bh_one base_one
row "push (to Distribution)" sw_push bh_push
echo "(ratio = buildah or baseline time / slipway time; higher means slipway is faster)"
echo "process start (slipway --version, median of 10): $(python3 -c "print(f'{$(median "${starts[@]}") * 1000:.1f}')") ms"
echo
echo "slipway one-file rebuild, SLIPWAY_PROFILE=1 (nested rows: busy time, threads overlap):"
sed -n 's/^profile (SLIPWAY_PROFILE): //p' "$work/profile.log"
echo
echo "slipway no-change rebuild, SLIPWAY_PROFILE=1:"
sed -n 's/^profile (SLIPWAY_PROFILE): //p' "$work/profile-same.log"
echo
echo "slipway cold build (a fresh store), SLIPWAY_PROFILE=1:"
sed -n 's/^profile (SLIPWAY_PROFILE): //p' "$work/profile-cold.log"
compression_figure
network_figure
emulation_figure
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
