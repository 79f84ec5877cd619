#!/usr/bin/env bash
# Parser speed: a generated 10,000-line Dockerfile (every instruction kind,
# continuations, heredocs, JSON and shell forms), parsed and dumped by
# `slipway dockerfile dump` 20 times; prints milliseconds per parse. The
# process start-up is measured separately (`slipway version`) and
# subtracted, so the figure is the parser's.
#
# usage: bench/parser.sh [path/to/slipway]
set -euo pipefail
bin=${1:-${SLIPWAY_BIN:-build/cli/slipway}}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

python3 - "$dir/Dockerfile" <<'PY'
import sys
lines = ["# syntax=docker/dockerfile:1", "ARG BASE=busybox", "FROM $BASE AS build"]
i = 0
while len(lines) < 10000:
    i += 1
    lines += [
        f"ENV VAR_{i}=value_{i} OTHER_{i}=\"quoted value {i}\"",
        f"LABEL org.example.key{i}=\"label {i}\"",
        f"RUN echo step {i} && \\",
        f"    mkdir -p /opt/dir{i} && \\",
        f"    touch /opt/dir{i}/file",
        f"COPY --chown=app:app --chmod=0644 src/file{i}.txt /opt/dir{i}/",
        f"RUN [\"/bin/sh\", \"-c\", \"echo exec form {i}\"]",
        "RUN <<EOF",
        f"echo heredoc {i}",
        "EOF",
        f"EXPOSE {1000 + i % 60000}/tcp",
        f"WORKDIR /opt/dir{i}",
    ]
lines.append('CMD ["/bin/sh"]')
open(sys.argv[1], "w").write("\n".join(lines[:10000]) + "\n")
PY

runs=20
lines=$(wc -l < "$dir/Dockerfile")
"$bin" dockerfile dump "$dir/Dockerfile" > "$dir/dump.txt"
instructions=$(wc -l < "$dir/dump.txt")

start=$(date +%s%N)
for _ in $(seq $runs); do "$bin" version > /dev/null; done
startup_ns=$(( ($(date +%s%N) - start) / runs ))

start=$(date +%s%N)
for _ in $(seq $runs); do "$bin" dockerfile dump "$dir/Dockerfile" > /dev/null; done
total_ns=$(( ($(date +%s%N) - start) / runs ))

parse_ms=$(python3 -c "print(f'{max(0, $total_ns - $startup_ns) / 1e6:.2f}')")
printf '%-40s %s\n' "Dockerfile lines" "$lines"
printf '%-40s %s\n' "instructions" "$instructions"
printf '%-40s %.2f ms\n' "process start-up (slipway version)" "$(python3 -c "print($startup_ns/1e6)")"
printf '%-40s %.2f ms\n' "dump, whole process" "$(python3 -c "print($total_ns/1e6)")"
printf '%-40s %s ms (target: well under 50 ms)\n' "parse + dump of 10,000 lines" "$parse_ms"
