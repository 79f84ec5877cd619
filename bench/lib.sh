# bench/lib.sh - helpers the bench scripts share; sourced, not run.
#
# free_port          a free TCP port on 127.0.0.1
# wait_http URL [N]  0 once URL answers 2xx, within N tenths of a second
#                    (default 200)
# median VALUE...    the median (the lower one of an even count), numbers
#                    as sort -g reads them
# now                seconds since the epoch with nanoseconds

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq "${2:-200}"); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
now() { date +%s.%N; }
