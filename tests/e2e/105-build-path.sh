#!/usr/bin/env bash
# BuildKit's default PATH: an image built on a base whose config has no PATH
# (test/busybox:1 is imported from a bare tarball) gets the default PATH in
# its config, so an exec-form CMD naming a bare program runs under runc; a
# base that sets PATH keeps its own. HEALTHCHECK durations from untrusted
# Dockerfiles are parsed as Go does, refusing what Go refuses.
source "$(dirname "$0")/build-lib.sh"
sw_time_limit 180

bt_init
ctx=$(sw_tmpdir)
echo "hello from the file" > "$ctx/file"
cat > "$ctx/Dockerfile" <<'DF'
FROM test/busybox:1
COPY file /file
CMD ["cat", "/file"]
DF
check "an image on a base without PATH builds" bt_build "$ctx" -t test/path:1
env=$(bt_config test/path:1 | jq -r '.config.Env | join(" ")')
check_eq "its config has the default PATH" "$env" \
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
bundle=$(sw_tmpdir)/bundle
bt_unpack test/path:1 "$bundle"
out=$(bt_runc "$bundle")
check_eq "CMD [\"cat\", \"/file\"] runs under runc" "$out" "hello from the file"

ctx2=$(sw_tmpdir)
cat > "$ctx2/Dockerfile" <<'DF'
FROM test/busybox:1
ENV PATH=/opt/bin:/bin
DF
check "a base with its own PATH builds" bt_build "$ctx2" -t test/path:2
env=$(bt_config test/path:2 | jq -r '.config.Env | join(" ")')
check_eq "... and keeps its PATH" "$env" "PATH=/opt/bin:/bin"

for bad in 1e30s inf nans 0x10s 1.2.3s 9223372037s; do
    hc=$(sw_tmpdir)
    printf 'FROM test/busybox:1\nHEALTHCHECK --interval=%s CMD true\n' "$bad" > "$hc/Dockerfile"
    check_build_fails "HEALTHCHECK --interval=$bad is refused with its line" \
        "Dockerfile:2: .*invalid --interval=$bad" "$hc"
done
hc=$(sw_tmpdir)
printf 'FROM test/busybox:1\nHEALTHCHECK --interval=1m30.5s --timeout=500ms CMD true\n' > "$hc/Dockerfile"
check "HEALTHCHECK --interval=1m30.5s --timeout=500ms builds" bt_build "$hc" -t test/hc:1
check_eq "... as nanoseconds in the config" \
    "$(bt_config test/hc:1 | jq -c '[.config.Healthcheck.Interval, .config.Healthcheck.Timeout]')" \
    "[90500000000,500000000]"

sw_finish
