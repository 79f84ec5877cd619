/*
 * known_hosts.h - SSH host keys checked against OpenSSH known_hosts files.
 *
 * libgit2 1.5 checks only ~/.ssh/known_hosts and says no more than
 * "invalid or unknown remote ssh hostkey". The build service checks the
 * key itself: against the repository's `known_hosts` file when it has one,
 * else the service user's ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts
 * (OpenSSH's defaults), and says which host, port and file were at stake.
 *
 * The format is sshd(8)'s: `[@revoked] PATTERNS KEYTYPE BASE64KEY [comment]`,
 * PATTERNS a comma-separated list of host names or `[host]:port`, with `*`,
 * `?`, `!` negation, or one hashed name `|1|SALT|HMAC-SHA1`. Lines marked
 * @cert-authority are skipped (host certificates are not supported).
 */
#ifndef WRK_KNOWN_HOSTS_H
#define WRK_KNOWN_HOSTS_H

#include <stddef.h>

#include "core/error.h"

enum wrk_host_key {
    WRK_HOST_UNKNOWN,  /* no line names the host with a key of this type */
    WRK_HOST_MISMATCH, /* the host is known with another key of this type */
    WRK_HOST_MATCH,    /* a line names the host with this key */
    WRK_HOST_REVOKED,  /* the key is marked @revoked */
};

/* Checks key (an SSH public key blob, as the server sent it) for host and
 * port (22 or <= 0: the default) in the known_hosts file at path; a file
 * that does not exist holds no keys. *result is the strongest finding:
 * revoked, then match, then mismatch. `where` (may be NULL) gets
 * "PATH:LINE" of the line that decided it. SW_EIO when the file exists
 * but cannot be read. */
int wrk_known_hosts_check(const char *path, const char *host, int port, const unsigned char *key,
                          size_t key_len, enum wrk_host_key *result, char *where, size_t where_size,
                          sw_error **err);

#endif
