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

#include <stddef.h>

#include "core/config.h"
#include "core/error.h"
#include "registry/access.h"
#include "registry/store.h"

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

/* Checks an Authorization header value of any kind the server accepts:
 * Basic with a password (srv_auth_check) or with an access token as the
 * password, Bearer with an access token, Bearer with a registry token from
 * GET /token. 0 with *user malloc'd (NULL: anonymous) and *scopes NULL
 * for a password (all the user may do) or malloc'd for a token (what the
 * token may do; free with srv_auth_scopes_free). SRV_E_UNAUTHORIZED for
 * anything invalid. store (may be NULL) holds the access tokens. */
int srv_auth_identify(srv_auth *auth, reg_store *store, const char *authorization, char **user,
                      struct reg_scopes **scopes, sw_error **err);
void srv_auth_scopes_free(struct reg_scopes *scopes);

/* The installation's key for registry tokens (server/token.h), loaded or
 * made on first use. */
int srv_auth_token_key(srv_auth *auth, unsigned char key[32], sw_error **err);

/* 1 when user is in the htpasswd file (re-read when it changed). */
int srv_auth_user_exists(srv_auth *auth, const char *user);

/* The registry's service name: the host[:port] of server.public_url. */
void srv_auth_service(const struct sw_config *cfg, char *out, size_t size);

#endif
