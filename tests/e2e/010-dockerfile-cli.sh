#!/usr/bin/env bash
# `slipway dockerfile dump|check|expand|words`: what a user sees on the
# terminal for real Dockerfiles, and the exit statuses and error lines.
source "$(dirname "$0")/lib.sh"

dir=$(sw_tmpdir)
bin=$SLIPWAY_BIN

cat > "$dir/Dockerfile" <<'DF'
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS build
ENV A=1 B="two words"
RUN echo hello && \
    echo world
COPY --from=build --chown=app:app ["src dir", "/dst"]
COPY <<EOF /etc/motd
hello
EOF
ONBUILD RUN make
CMD ["/bin/sh"]
DF
cat > "$dir/expected" <<'EXP'
(arg "BASE=busybox")
(from "$BASE" "AS" "build")
(env "A" "1" "=" "B" "\"two words\"" "=")
(run "echo hello &&     echo world")
(copy ["--from=build" "--chown=app:app"] "src dir" "/dst")
(copy "<<EOF" "/etc/motd")
(onbuild (run "make"))
(cmd "/bin/sh")
EXP
if "$bin" dockerfile dump "$dir/Dockerfile" > "$dir/out" 2> "$dir/err"; then
    if cmp -s "$dir/out" "$dir/expected"; then ok "dump prints BuildKit's tree format"
    else fail "dump output differs: $(diff "$dir/expected" "$dir/out" | head -20)"; fi
else
    fail "dump failed: $(cat "$dir/err")"
fi

printf 'FROM a\nRUN <<EOF\nnever closed\n' > "$dir/bad"
set +e
"$bin" dockerfile dump "$dir/bad" > /dev/null 2> "$dir/err"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "^$dir/bad:2: unterminated heredoc" "$dir/err" \
    && ok "a parse error exits 1 with FILE:LINE: message" || fail "bad file: rc=$rc $(cat "$dir/err")"

printf 'FROM a\nCMD ["a", 1]\n' > "$dir/bad2"
set +e
"$bin" dockerfile dump "$dir/bad2" > /dev/null 2> "$dir/err"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "bad2:2: when using JSON array syntax, arrays must be comprised of strings only" "$dir/err" \
    && ok "non-string JSON array is an error with its line" || fail "bad2: rc=$rc $(cat "$dir/err")"

cat > "$dir/lint" <<'DF'
FROM busybox as base
MAINTAINER someone
RUNN make
CMD [ls -l]
FROM alpine AS BASE
COPY --from=nowhere /a /b
DF
set +e
"$bin" dockerfile check "$dir/lint" > "$dir/out" 2>&1; rc=$?
set -e
[[ $rc -eq 1 ]] && ok "check exits 1 when it finds problems" || fail "check rc=$rc"
for want in ":1: FromAsCasing" ":2: MaintainerDeprecated" ":3: UnknownInstruction: unknown instruction: RUNN" \
            ":4: InvalidJSONForm" ":5: DuplicateStageName" ":6: UndefinedStage"; do
    grep -q -- "$want" "$dir/out" && ok "check reports $want" || fail "check misses $want: $(cat "$dir/out")"
done
printf 'FROM busybox\nCMD ["sh"]\n' > "$dir/clean"
"$bin" dockerfile check "$dir/clean" | grep -q "no problems found" \
    && ok "check of a clean file exits 0" || fail "clean file reported problems"

out=$("$bin" dockerfile expand --env NAME=world --env EMPTY= 'hello ${NAME} ${EMPTY:-default} "$NAME" '\''$NAME'\''')
[[ "$out" == "hello world default world \$NAME" ]] && ok "expand: variables, defaults, quotes" \
    || fail "expand printed: $out"
out=$("$bin" dockerfile expand --escape '`' --env A=x 'a`$A$A')
[[ "$out" == 'a$Ax' ]] && ok "expand honours the backtick escape" || fail "backtick expand printed: $out"
set +e
"$bin" dockerfile expand 'x${UNSET?is required}' > /dev/null 2> "$dir/err"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "is required" "$dir/err" && ok "expand error exits 1 with the message" \
    || fail "expand error: rc=$rc $(cat "$dir/err")"
out=$("$bin" dockerfile words --env V='a b' 'x $V "c d"')
[[ "$out" == $'x\na\nb\nc d' ]] && ok "words splits unquoted expansions only" || fail "words printed: $out"
set +e
"$bin" dockerfile frob > /dev/null 2>&1; rc=$?
set -e
[[ $rc -eq 2 ]] && ok "unknown subcommand exits 2" || fail "unknown subcommand rc=$rc"
for sub in dump check expand words; do
    set +e
    out=$(cd "$dir" && "$bin" dockerfile "$sub" --help 2>&1); rc=$?
    set -e
    [[ $rc -eq 0 && "$out" == usage:* && ! -e "$dir/--help" ]] && ok "dockerfile $sub --help prints the usage" \
        || fail "dockerfile $sub --help: rc=$rc $out"
done
printf 'FROM busybox\nRUN << EOF\nFROM nothing\nEOF\n' > "$dir/heredoc"
out=$("$bin" dockerfile dump "$dir/heredoc")
[[ "$out" == $'(from "busybox")\n(run "<< EOF")' ]] && ok "RUN << EOF (blank after <<) is a heredoc" \
    || fail "heredoc dump: $out"
set +e
"$bin" dockerfile expand 'x${UNSET:=y}' > /dev/null 2> "$dir/err"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "unsupported modifier (:=) in substitution" "$dir/err" \
    && ok "expand rejects := as BuildKit" || fail ":= expand: rc=$rc $(cat "$dir/err")"

sw_finish
