/*
 * auth.h - who may pull and push: an htpasswd file (bcrypt) for Basic
 * auth, optional anonymous pull, and per-repository rules from the config
 * (registry.auth; see docs/config.md).
 *
 * bcrypt is slow on purpose, and a pull makes dozens of requests, so a
 * successful check is remembered for a minute under a keyed hash of user
 * and password (the password itself is never kept). The htpasswd file is
 * re-read when its mtime, size or inode changes, which drops that memory.
 */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include "core/config.h"
#include "core/error.h"

enum srv_auth_access { SRV_AUTH_PULL = 1, SRV_AUTH_PUSH = 2 };

typedef struct srv_auth srv_auth;

/* Reads cfg->htpasswd and keeps the rules (cfg must outlive the result).
 * With no htpasswd configured *out is NULL: everything is allowed. */
int srv_auth_new(const struct sw_config *cfg, srv_auth **out, sw_error **err);
void srv_auth_free(srv_auth *auth);

/* Checks an Authorization header value. No header, or Basic with an empty
 * user, is anonymous: 0 with *user NULL. Valid credentials: 0 with *user
 * malloc'd. Anything else: SRV_E_UNAUTHORIZED. */
int srv_auth_check(srv_auth *auth, const char *authorization, char **user, sw_error **err);

/* The user name of Basic credentials into out (NUL-terminated); -1 when
 * the header is not Basic, malformed, or the name does not fit. The
 * password is not kept. For the login backoff, before the check. */
int srv_auth_basic_user(const char *authorization, char *out, size_t out_size);

/* The SRV_AUTH_* bits user (NULL: anonymous) has on repo. */
unsigned srv_auth_access_for(const srv_auth *auth, const char *user, const char *repo);

/* The realm for the WWW-Authenticate challenge. */
const char *srv_auth_realm(const srv_auth *auth);

#endif
