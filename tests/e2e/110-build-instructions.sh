#!/usr/bin/env bash
# The image builder, instruction by instruction: FROM (with a global ARG),
# RUN (shell, exec, heredoc), CMD, ENTRYPOINT, ENV, ARG, LABEL, EXPOSE,
# VOLUME, USER, WORKDIR, COPY (file, directory, wildcard, --chown, --chmod,
# .dockerignore), ADD (local archive, URL with --checksum), SHELL,
# STOPSIGNAL, HEALTHCHECK, ONBUILD, deleted files and the config history.
# Each is checked where a user sees it: in the image unpacked by umoci, in
# the config blob skopeo returns, in the build's output, or by running it.
set -euo pipefail
source "$(dirname "$0")/build-lib.sh"

sw_time_limit 420

# ADD <url> below fetches from a web server on 127.0.0.1, which the egress
# policy refuses unless the operator opens it (tests/e2e/150-build-egress.sh)
bt_init "builder: { network: none, step_timeout: 2m, egress: { allow: [127.0.0.1/32] } }"

# a web server on 127.0.0.1 for ADD <url>
www=$(sw_tmpdir)
echo "downloaded content" > "$www/file.txt"
sum=$(sha256sum "$www/file.txt" | cut -d' ' -f1)
web_port=$(sw_free_port)
python3 -m http.server "$web_port" --bind 127.0.0.1 --directory "$www" > /dev/null 2>&1 &
SW_CLEANUP_CMDS+=("kill $!")
sw_wait_http "http://127.0.0.1:$web_port/file.txt" 10

# --- the context -------------------------------------------------------------
ctx=$(sw_tmpdir)
mkdir -p "$ctx/files" "$ctx/dir/nested" "$ctx/keys" "$ctx/tarsrc/pkg"
echo one > "$ctx/files/one.txt"
echo owned > "$ctx/files/owned.txt"
echo moded > "$ctx/files/mode.txt"
echo both > "$ctx/files/both.txt"
echo a > "$ctx/dir/a.txt"
echo b > "$ctx/dir/nested/b.txt"
echo x > "$ctx/x.conf"
echo y > "$ctx/y.conf"
echo z > "$ctx/z.txt"
echo secret > "$ctx/keys/secret.key"
echo kept > "$ctx/keys/keep.key"
echo public > "$ctx/keys/id.pub"
echo noise > "$ctx/debug.log"
echo 1.2.3 > "$ctx/tarsrc/pkg/VERSION"
tar -C "$ctx/tarsrc" -czf "$ctx/bundle.tar.gz" pkg
tar -C "$ctx/tarsrc" -cf "$ctx/files/plain.tar" pkg
rm -rf "$ctx/tarsrc"
printf 'keys/*.key\n!keys/keep.key\n*.log\n' > "$ctx/.dockerignore"

cat > "$ctx/Dockerfile" <<DF
ARG BASE=test/busybox:1
FROM \$BASE
ARG FLAVOR=plain
ARG OTHER=default-other
ENV GREETING="hello world" APP_HOME=/srv/app
ENV LEGACY legacy value with spaces
RUN echo "\$GREETING|\$APP_HOME|\$LEGACY|\$FLAVOR|\$OTHER" > /env.txt
RUN echo "base-before=[\$BASE]" > /argscope.txt
ARG BASE
RUN echo "base-after=[\$BASE]" >> /argscope.txt
RUN ["/bin/sh", "-c", "echo exec-form > /exec.txt"]
RUN ["/bin/echo", "exec form does not expand \$GREETING"]
RUN <<EOF
echo heredoc-line-1 > /heredoc.txt
echo "heredoc \$GREETING" >> /heredoc.txt
EOF
COPY <<EOF /etc/motd
motd for \$GREETING
EOF
LABEL org.opencontainers.image.title="demo image" maintainer.team=builds
LABEL multi.a=1 multi.b="two words"
EXPOSE 80 53/udp
VOLUME /data
VOLUME ["/cache", "/logs"]
WORKDIR \$APP_HOME
WORKDIR sub
RUN pwd > /pwd.txt
COPY files/one.txt ./
COPY dir/ /copied-dir/
COPY *.conf /conf/
COPY --chown=app:app files/owned.txt /owned.txt
COPY --chmod=0640 files/mode.txt /mode.txt
COPY --chown=1000:1000 --chmod=0600 files/both.txt /both.txt
COPY keys/ /keys/
COPY . /whole-context/
ADD bundle.tar.gz /opt/
ADD files/plain.tar /plain/
ADD --checksum=sha256:$sum http://127.0.0.1:$web_port/file.txt /dl/
RUN rm /bin/wc && rm -r /copied-dir/nested
USER app
RUN id -u > /tmp/uid.txt && id -un >> /tmp/uid.txt
SHELL ["/bin/sh", "-ec"]
RUN case "\$-" in *e*) echo errexit-on ;; *) echo errexit-off ;; esac > /tmp/shell.txt
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/bin/true"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /env.txt; pwd; id -u"]
DF
if bt_build "$ctx" -t demo/all:1 --build-arg FLAVOR=spicy; then
    ok "a Dockerfile using every instruction builds"
else
    fail "the every-instruction build failed: $(bt_tail 6)"
fi

if bt_unpack demo/all:1 "$BT_WORK/all"; then ok "the image unpacks with umoci"
else fail "unpack demo/all:1: $(cat "$BT_WORK/export.log" "$BT_WORK/umoci.log" | tail -3)"; fi
r=$BT_WORK/all/rootfs
c=$(skopeo inspect --config --raw "oci:$BT_LAYOUT:img" 2>&1 || true)
m=$(skopeo inspect --raw "oci:$BT_LAYOUT:img" 2>&1 || true)
jqc() { jq -c "$1" <<< "$c" 2>&1; }
body() { cat "$r/$1" 2>&1; }

# FROM with ARG before it; ARG scope
check_eq "FROM \$BASE with a global ARG default used test/busybox:1" \
    "$(jq -r '.layers[0].digest' <<< "$m")" "$(bt_manifest test/busybox:1 | jq -r '.layers[0].digest')"
check_eq "a global ARG is not visible in a stage until redeclared, then has its default" \
    "$(body argscope.txt)" $'base-before=[]\nbase-after=[test/busybox:1]'

# ENV, ARG, RUN forms
check_eq "RUN sees ENV (k=v pairs and legacy form), --build-arg and ARG defaults" \
    "$(body env.txt)" "hello world|/srv/app|legacy value with spaces|spicy|default-other"
check_eq "exec-form RUN" "$(body exec.txt)" exec-form
check "exec-form RUN does no variable expansion" grep -qx 'exec form does not expand $GREETING' "$BT_OUT"
check_eq "heredoc RUN" "$(body heredoc.txt)" $'heredoc-line-1\nheredoc hello world'
check_eq "COPY heredoc" "$(body etc/motd)" "motd for hello world"
check_eq "config Env holds the ENVs" \
    "$(jqc '[.config.Env[] | select(test("^(GREETING|APP_HOME|LEGACY)="))] | sort')" \
    '["APP_HOME=/srv/app","GREETING=hello world","LEGACY=legacy value with spaces"]'
check_eq "ARGs are not in the config Env" "$(jqc '[.config.Env[] | select(test("^(FLAVOR|OTHER|BASE)="))] | length')" 0
check_eq "ARG values do not leak into the config outside the history" \
    "$(jq -c 'del(.history)' <<< "$c" | grep -c spicy)" 0

# LABEL, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK
check_eq "LABELs" "$(jqc '.config.Labels | {t: .["org.opencontainers.image.title"], m: .["maintainer.team"], a: .["multi.a"], b: .["multi.b"]}')" \
    '{"t":"demo image","m":"builds","a":"1","b":"two words"}'
check_eq "EXPOSE 80 53/udp" "$(jqc '.config.ExposedPorts | keys')" '["53/udp","80/tcp"]'
check_eq "VOLUME (string and JSON forms)" "$(jqc '.config.Volumes | keys')" '["/cache","/data","/logs"]'
check_eq "STOPSIGNAL" "$(jqc '.config.StopSignal')" '"SIGINT"'
check_eq "HEALTHCHECK: Test, Interval and Timeout in ns, Retries" \
    "$(jqc '.config.Healthcheck | [.Test, .Interval, .Timeout, .Retries]')" '[["CMD","/bin/true"],30000000000,5000000000,3]'

# WORKDIR
check_eq "WORKDIR \$APP_HOME then a relative WORKDIR joins" "$(body pwd.txt)" /srv/app/sub
check "WORKDIR created the missing directory" test -d "$r/srv/app/sub"
check_eq "config WorkingDir" "$(jqc .config.WorkingDir)" '"/srv/app/sub"'

# COPY
check_eq "COPY a file into the relative WORKDIR" "$(body srv/app/sub/one.txt)" one
check_eq "COPY dir/ copies the directory's contents" "$(body copied-dir/a.txt)" a
check "... not the directory itself" test ! -e "$r/copied-dir/dir"
check_eq "COPY wildcard picks the matching files" "$(cd "$r/conf" 2>/dev/null && ls | tr '\n' ' ')" "x.conf y.conf "
check_eq "COPY --chown=app:app gives owner 1000:1000" "$(stat -c %u:%g "$r/owned.txt" 2>&1)" 1000:1000
check_eq "COPY --chmod=0640" "$(stat -c %a:%u "$r/mode.txt" 2>&1)" 640:0
check_eq "COPY --chown=1000:1000 --chmod=0600" "$(stat -c %a:%u:%g "$r/both.txt" 2>&1)" 600:1000:1000
check ".dockerignore excludes keys/secret.key" test ! -e "$r/keys/secret.key"
check_eq ".dockerignore ! exception re-includes keys/keep.key" "$(body keys/keep.key)" kept
check_eq "files the .dockerignore does not match are copied" "$(body keys/id.pub)" public
check "COPY . honours .dockerignore too (*.log, keys/*.key)" \
    test -e "$r/whole-context/x.conf" -a ! -e "$r/whole-context/debug.log" -a ! -e "$r/whole-context/keys/secret.key"

# ADD
check_eq "ADD auto-extracts a local .tar.gz" "$(body opt/pkg/VERSION)" 1.2.3
check_eq "ADD auto-extracts a local plain .tar" "$(body plain/pkg/VERSION)" 1.2.3
check_eq "ADD URL with the right --checksum downloads the file" "$(body dl/file.txt)" "downloaded content"

# deleted files and the layers
check "a file deleted in a later layer is absent (whiteout)" test ! -e "$r/bin/wc" -a ! -L "$r/bin/wc"
check "a directory deleted in a later layer is absent" test ! -e "$r/copied-dir/nested"
check "the base's other files remain" test -x "$r/bin/busybox" -a -e "$r/bin/cat"
has_whiteout=$(for l in $(jq -r '.layers[].digest' <<< "$m"); do tar -tzf "$BT_LAYOUT/blobs/sha256/${l#sha256:}"; done 2>/dev/null | grep -c '\.wh\.wc$' || true)
check_eq "the deleting layer carries an OCI whiteout bin/.wh.wc" "$has_whiteout" 1

# USER, SHELL
check_eq "USER app: id -u in a RUN prints 1000 (and the name)" "$(body tmp/uid.txt)" $'1000\napp'
check_eq "config User" "$(jqc .config.User)" '"app"'
check_eq "SHELL [\"/bin/sh\",\"-ec\"] is used by the next RUN" "$(body tmp/shell.txt)" errexit-on
check_eq "config Shell (Docker extension)" "$(jqc .config.Shell)" '["/bin/sh","-ec"]'

# ENTRYPOINT + CMD, and running it
check_eq "config Entrypoint" "$(jqc .config.Entrypoint)" '["/bin/sh","-c"]'
check_eq "config Cmd" "$(jqc .config.Cmd)" '["cat /env.txt; pwd; id -u"]'
check_eq "runc runs ENTRYPOINT+CMD as USER in WORKDIR" "$(bt_runc "$BT_WORK/all")" \
    $'hello world|/srv/app|legacy value with spaces|spicy|default-other\n/srv/app/sub\n1000'

# history and layers
layers=$(jq '.layers | length' <<< "$m")
check_eq "rootfs.diff_ids count == layers count" "$(jqc '.rootfs.diff_ids | length')" "$layers"
check_eq "history entries with a layer == layers count" \
    "$(jqc '[.history[] | select(.empty_layer != true)] | length')" "$layers"
for kw in RUN COPY ADD ENV LABEL EXPOSE VOLUME USER SHELL STOPSIGNAL HEALTHCHECK ENTRYPOINT CMD; do
    want=$(grep -c "^$kw " "$ctx/Dockerfile" || true)
    got=$(jqc "[.history[].created_by // \"\" | sub(\"^/bin/sh -c #\\\\(nop\\\\) *\"; \"\") | select(startswith(\"$kw \"))] | length")
    check_eq "history: one entry per $kw instruction" "$got" "$want"
done
check_eq "metadata-only instructions have empty_layer: true" \
    "$(jqc '[.history[] | select((.created_by // "") | test("^(/bin/sh -c #\\(nop\\) *)?(ENV|LABEL|EXPOSE|VOLUME|USER|SHELL|STOPSIGNAL|HEALTHCHECK|ENTRYPOINT|CMD) ")) | .empty_layer == true] | all')" true
check_eq "RUN/COPY/ADD history entries have a layer" \
    "$(jqc '[.history[] | select((.created_by // "") | test("^(RUN|COPY|ADD) ")) | .empty_layer != true] | all')" true

# --- ADD URL with a wrong checksum ---------------------------------------
ctx2=$(sw_tmpdir)
printf 'FROM test/busybox:1\nADD --checksum=sha256:%064d http://127.0.0.1:%s/file.txt /dl/\n' 0 "$web_port" > "$ctx2/Dockerfile"
check_build_fails "ADD URL with a wrong --checksum fails at its line" 'Dockerfile:2: ADD.*checksum' "$ctx2" -t demo/badsum:1
bt_export demo/badsum:1 && fail "a tag exists after the wrong checksum" || ok "no image tagged after the wrong checksum"

# --- an exec-form argument with \u0000 is refused at load, with its line ---
printf 'FROM test/busybox:1\nRUN echo fine\nCMD ["echo", "a\\u0000b"]\n' > "$ctx2/Dockerfile"
check_build_fails "a JSON argument holding \\u0000 is refused at its line" \
    'Dockerfile:3: CMD .*: an argument holds a NUL character' "$ctx2"

# --- SHELL really changes the shell: -e makes 'false; echo' fail ----------
printf 'FROM test/busybox:1\nRUN false; echo default-shell-continues\n' > "$ctx2/Dockerfile"
if bt_build "$ctx2"; then check "without SHELL, 'false; echo' succeeds (sh -c)" grep -qx default-shell-continues "$BT_OUT"
else fail "default shell RUN: $(bt_tail 3)"; fi
printf 'FROM test/busybox:1\nSHELL ["/bin/sh", "-ec"]\nRUN false; echo never\n' > "$ctx2/Dockerfile"
check_build_fails "with SHELL [\"/bin/sh\",\"-ec\"], 'false; echo' fails" 'Dockerfile:3: RUN.*exited with code 1' "$ctx2"

# --- ENTRYPOINT shell form resets a base's CMD; CMD shell form uses SHELL ----
printf 'FROM test/busybox:1\nCMD ["echo", "base-cmd"]\n' > "$ctx2/Dockerfile"
bt_build "$ctx2" -t demo/cmdbase:1 || fail "cmdbase build: $(bt_tail 3)"
printf 'FROM demo/cmdbase:1\nENTRYPOINT echo entry-shell-form\n' > "$ctx2/Dockerfile"
if bt_build "$ctx2" -t demo/entry:1; then
    c2=$(bt_config demo/entry:1)
    check_eq "ENTRYPOINT shell form is wrapped in /bin/sh -c" "$(jq -c .config.Entrypoint <<< "$c2")" '["/bin/sh","-c","echo entry-shell-form"]'
    check_eq "ENTRYPOINT resets the base image's CMD" "$(jq -c '.config.Cmd // null' <<< "$c2")" null
    bt_unpack demo/entry:1 "$BT_WORK/entry"
    check_eq "runc runs the shell-form ENTRYPOINT" "$(bt_runc "$BT_WORK/entry")" entry-shell-form
else
    fail "ENTRYPOINT build: $(bt_tail 3)"
fi
check_eq "the base's CMD is in its own config" "$(bt_config demo/cmdbase:1 | jq -c .config.Cmd)" '["echo","base-cmd"]'
printf 'FROM test/busybox:1\nSHELL ["/bin/sh", "-ec"]\nCMD echo shell-form-cmd\n' > "$ctx2/Dockerfile"
bt_build "$ctx2" -t demo/cmdshell:1 || fail "cmd shell build: $(bt_tail 3)"
check_eq "CMD shell form uses the SHELL" "$(bt_config demo/cmdshell:1 | jq -c .config.Cmd)" '["/bin/sh","-ec","echo shell-form-cmd"]'

# --- ONBUILD ------------------------------------------------------------------
printf 'FROM test/busybox:1\nONBUILD RUN echo triggered > /onbuild.txt\nONBUILD ENV FROM_ONBUILD=yes\n' > "$ctx2/Dockerfile"
bt_build "$ctx2" -t demo/onbuild:1 || fail "ONBUILD base build: $(bt_tail 3)"
check_eq "the ONBUILD image's config has OnBuild" "$(bt_config demo/onbuild:1 | jq -c .config.OnBuild)" \
    '["RUN echo triggered > /onbuild.txt","ENV FROM_ONBUILD=yes"]'
bt_unpack demo/onbuild:1 "$BT_WORK/onb-a"
check "the trigger does not run in the ONBUILD image itself" test ! -e "$BT_WORK/onb-a/rootfs/onbuild.txt"
printf 'FROM demo/onbuild:1\nRUN echo "child sees $FROM_ONBUILD" > /child.txt\n' > "$ctx2/Dockerfile"
if bt_build "$ctx2" -t demo/onbuild-child:1 && bt_unpack demo/onbuild-child:1 "$BT_WORK/onb-b"; then
    check_eq "FROM an ONBUILD image runs its RUN trigger" "$(cat "$BT_WORK/onb-b/rootfs/onbuild.txt" 2>&1)" triggered
    check_eq "... and its ENV trigger before the child's own steps" "$(cat "$BT_WORK/onb-b/rootfs/child.txt" 2>&1)" "child sees yes"
    check_eq "the child's config has no OnBuild (triggers are not inherited)" \
        "$(bt_config demo/onbuild-child:1 | jq -c '.config.OnBuild // [] | length')" 0
else
    fail "ONBUILD child build: $(bt_tail 4)"
fi

sw_finish
