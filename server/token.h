/*
 * token.h - access tokens for machines, and the Docker Registry token
 * flow (docs/registry.md).
 *
 * Personal access tokens: `slipway token create` makes one for a user with
 * scopes and an expiry; its text is "swp_" + 16 hex digits of its row id +
 * 64 hex digits of random secret, printed once. The database keeps only
 * the SHA-256 of the secret, compared in constant time. A token works as
 * the password of Basic auth and as `Authorization: Bearer`.
 *
 * Registry tokens: GET /token (the realm of the Bearer challenge) takes
 * Basic credentials (password or access token) or none, and issues a
 * short-lived JWT (HS256 under a per-installation key kept in
 * <data_dir>/token.key, mode 0600) granting the requested scopes that the
 * caller is allowed. The server accepts it as `Authorization: Bearer`.
 */
#ifndef SRV_TOKEN_H
#define SRV_TOKEN_H

#include <jansson.h>
#include "core/db.h"
#include <stdint.h>

#include "core/error.h"
#include "registry/access.h"

#define SRV_TOKEN_PREFIX "swp_"
#define SRV_TOKEN_KEY_LEN 32

/* An access token as stored (without its secret). */
struct srv_token_info {
    int64_t id;
    char *user;
    char *name;
    char *scopes; /* as reg_scopes_format writes them */
    int64_t created_at;
    int64_t expires_at; /* 0: never */
    int64_t last_used_at;
};

/* Creates a token for user named name (unique per user) with the scopes
 * text and expiry (0: never). *secret gets the token text to show once
 * (malloc'd; wipe and free it). SW_EEXIST when user has one of that name. */
int srv_token_create(sw_db *db, const char *user, const char *name, const char *scopes,
                     int64_t expires_at, char **secret, sw_error **err);

/* Tokens of user (NULL: all) as a JSON array of {id, user, name, scopes,
 * created_at, expires_at, last_used_at, expired}; never the secret. */
int srv_token_list(sw_db *db, const char *user, json_t **out, sw_error **err);

/* Deletes user's token called name; SW_ENOTFOUND when there is none. */
int srv_token_revoke(sw_db *db, const char *user, const char *name, sw_error **err);

/* Checks a token's text: 0 with *info filled (free with
 * srv_token_info_clear) when it exists, its secret matches and it has not
 * expired at now; SRV_E_UNAUTHORIZED otherwise. */
int srv_token_verify(sw_db *db, const char *text, int64_t now, struct srv_token_info *info,
                     sw_error **err);

/* 1 when the token with row id still exists and has not expired. */
int srv_token_alive(sw_db *db, int64_t id, int64_t now);

/* The scopes text of the token with row id (malloc'd), NULL if none. */
char *srv_token_scopes_of(sw_db *db, int64_t id);

void srv_token_info_clear(struct srv_token_info *info);

/* 1 when text looks like an access token (its prefix). */
int srv_token_is_access_token(const char *text);

/* ---- signed registry tokens (JWT, HS256) ---------------------------------- */

/* Reads <data_dir>/token.key, creating it (0600, random) when absent. */
int srv_token_key_load(const char *data_dir, unsigned char key[SRV_TOKEN_KEY_LEN], sw_error **err);

/* The claims a registry token carries. */
struct srv_jwt_claims {
    char *sub; /* the user; NULL: anonymous */
    char *aud; /* the service */
    int64_t expires_at;
    int64_t access_token;     /* row id of the access token it came from; 0: none */
    struct reg_scopes scopes; /* exact repository names with their actions */
};

/* Signs claims issued at now; malloc'd text. */
char *srv_jwt_sign(const unsigned char key[SRV_TOKEN_KEY_LEN], const struct srv_jwt_claims *claims,
                   int64_t now);

/* Verifies a token's signature, audience (when aud is not NULL) and expiry:
 * 0 with *claims filled (free with srv_jwt_claims_clear), or
 * SRV_E_UNAUTHORIZED. */
int srv_jwt_verify(const unsigned char key[SRV_TOKEN_KEY_LEN], const char *token, const char *aud,
                   int64_t now, struct srv_jwt_claims *claims, sw_error **err);

void srv_jwt_claims_clear(struct srv_jwt_claims *claims);

#endif
