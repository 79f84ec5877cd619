# bench/lib.sh - helpers the bench scripts share; sourced, not run.
#
# free_port          a free TCP port on 127.0.0.1
# wait_http URL [N]  0 once URL answers 2xx, within N tenths of a second
#                    (default 200)
# median VALUE...    the median (the lower one of an even count), numbers
#                    as sort -g reads them
# now                seconds since the epoch with nanoseconds
# image_manifest CONFIG_DIGEST LAYER_DIGEST LAYER_SIZE
#                    an OCI image manifest of one gzip layer and a 2-byte
#                    config ({}), on stdout

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq "${2:-200}"); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
now() { date +%s.%N; }
image_manifest() {
    jq -cn --arg c "$1" --arg l "$2" --argjson s "$3" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: 2},
          layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $s}]}'
}
