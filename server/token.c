/*
 * token.c - access tokens (their rows in the tokens table), the signed
 * registry tokens of the Docker Registry token flow, and the routes that
 * hand them out: GET /token and GET /api/v1/tokens. See token.h.
 */
#include "server/token.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/base64.h"
#include "core/db.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "registry/names.h"
#include "server/internal.h"

#define ID_HEX 16
#define SECRET_BYTES 32
#define TOKEN_LEN (sizeof SRV_TOKEN_PREFIX - 1 + ID_HEX + 2 * SECRET_BYTES)
#define JWT_MAX 16384
#define DEFAULT_TTL_S 300
#define LAST_USED_GRANULARITY_S 60
#define MAX_SCOPE_PARAMS 32
#define MAX_FORM_BODY (16 * 1024)

/* ---- access tokens --------------------------------------------------------- */

int srv_token_is_access_token(const char *text)
{
    return text && strncmp(text, SRV_TOKEN_PREFIX, sizeof SRV_TOKEN_PREFIX - 1) == 0;
}

void srv_token_info_clear(struct srv_token_info *info)
{
    free(info->user);
    free(info->name);
    free(info->scopes);
    memset(info, 0, sizeof *info);
}

int srv_token_create(sw_db *db, const char *user, const char *name, const char *scopes,
                     int64_t expires_at, char **secret, sw_error **err)
{
    unsigned char raw[SECRET_BYTES];
    char secret_hex[2 * SECRET_BYTES + 1];
    char hash[SW_DIGEST_MAX];
    sw_stmt *stmt = NULL;
    int rc;

    *secret = NULL;
    if ((rc = sw_random_bytes(raw, sizeof raw, err)) != 0)
        return rc;
    sw_hex_encode(raw, sizeof raw, secret_hex);
    sw_sha256_digest(secret_hex, strlen(secret_hex), hash);
    if ((rc = sw_db_prepare(db,
                            "INSERT INTO tokens (\"user\", name, secret_hash, scopes, created_at,"
                            " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                            &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_text(stmt, 1, user, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, name, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 3, hash, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 4, scopes, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 5, (int64_t)time(NULL));
    if (expires_at > 0)
        sw_stmt_bind_int64(stmt, 6, (int64_t)expires_at);
    else
        sw_stmt_bind_null(stmt, 6);
    int step = sw_stmt_step(stmt);
    sw_stmt_finalize(stmt);
    stmt = NULL;
    if (step == SW_DB_CONSTRAINT) {
        rc = sw_error_set(err, SW_EEXIST, "user %s already has a token called %s", user, name);
        goto cleanup;
    }
    if (step != SW_DB_DONE) {
        rc = sw_db_error(db, err, "creating a token");
        goto cleanup;
    }
    int64_t id = (int64_t)sw_db_last_insert_id(db);
    if (asprintf(secret, SRV_TOKEN_PREFIX "%016" PRIx64 "%s", (uint64_t)id, secret_hex) < 0) {
        *secret = NULL;
        rc = sw_error_set(err, SW_ENOMEM, "token: out of memory");
    }
cleanup:
    memset(raw, 0, sizeof raw);
    memset(secret_hex, 0, sizeof secret_hex);
    return rc;
}

static json_t *json_time_or_null(int64_t t)
{
    char buf[SW_RFC3339_MAX];
    return t > 0 ? json_string(sw_format_rfc3339(t, buf)) : json_null();
}

int srv_token_list(sw_db *db, const char *user, json_t **out, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc;
    *out = NULL;
    if ((rc =
             sw_db_prepare(db,
                           "SELECT id, \"user\", name, scopes, created_at, expires_at, last_used_at"
                           " FROM tokens WHERE ?1 IS NULL OR \"user\" = ?1 ORDER BY \"user\", name",
                           &stmt, err)) != 0)
        return rc;
    if (user)
        sw_stmt_bind_text(stmt, 1, user, -1, SW_DB_STATIC);
    else
        sw_stmt_bind_null(stmt, 1);
    json_t *list = json_array();
    int64_t now = (int64_t)time(NULL);
    int step;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        int64_t expires = sw_stmt_column_int64(stmt, 5);
        json_array_append_new(list,
                              json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:b}", "id",
                                        (json_int_t)sw_stmt_column_int64(stmt, 0), "user",
                                        (const char *)sw_stmt_column_text(stmt, 1), "name",
                                        (const char *)sw_stmt_column_text(stmt, 2), "scopes",
                                        (const char *)sw_stmt_column_text(stmt, 3), "created_at",
                                        json_time_or_null(sw_stmt_column_int64(stmt, 4)),
                                        "expires_at", json_time_or_null(expires), "last_used_at",
                                        json_time_or_null(sw_stmt_column_int64(stmt, 6)), "expired",
                                        expires > 0 && expires <= now));
    }
    if (step != SW_DB_DONE) {
        rc = sw_db_error(db, err, "listing tokens");
        json_decref(list);
    } else {
        *out = list;
    }
    sw_stmt_finalize(stmt);
    return rc;
}

int srv_token_revoke(sw_db *db, const char *user, const char *name, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc;
    if ((rc = sw_db_prepare(db, "DELETE FROM tokens WHERE \"user\" = ? AND name = ?", &stmt,
                            err)) != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, user, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, name, -1, SW_DB_STATIC);
    if ((rc = sw_db_step_done(db, stmt, "revoking a token", err)) != 0)
        return rc;
    if (sw_db_changes(db) == 0)
        return sw_error_set(err, SW_ENOTFOUND, "user %s has no token called %s", user, name);
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int srv_token_verify(sw_db *db, const char *text, int64_t now, struct srv_token_info *info,
                     sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = 0;
    char hash[SW_DIGEST_MAX];

    memset(info, 0, sizeof *info);
    if (text == NULL || strlen(text) != TOKEN_LEN || !srv_token_is_access_token(text))
        return sw_error_set(err, SRV_E_UNAUTHORIZED, "invalid access token");
    const char *id_hex = text + sizeof SRV_TOKEN_PREFIX - 1;
    const char *secret_hex = id_hex + ID_HEX;
    uint64_t id = 0;
    for (size_t i = 0; i < TOKEN_LEN - (sizeof SRV_TOKEN_PREFIX - 1); i++) {
        int v = hex_value(id_hex[i]);
        if (v < 0)
            return sw_error_set(err, SRV_E_UNAUTHORIZED, "invalid access token");
        if (i < ID_HEX)
            id = id << 4 | (uint64_t)v;
    }
    sw_sha256_digest(secret_hex, 2 * SECRET_BYTES, hash);
    if (sw_db_prepare(db,
                      "SELECT \"user\", name, scopes, created_at, expires_at, last_used_at,"
                      " secret_hash FROM tokens WHERE id = ?",
                      &stmt, NULL) != 0)
        return sw_error_set(err, SRV_E_UNAUTHORIZED, "access tokens cannot be checked now");
    sw_stmt_bind_int64(stmt, 1, (int64_t)id);
    int found = sw_stmt_step(stmt) == SW_DB_ROW;
    const char *stored = found ? (const char *)sw_stmt_column_text(stmt, 6) : NULL;
    /* the comparison takes the same time whatever the stored hash is */
    int matches = stored && sw_ct_equal(stored, strlen(stored), hash, strlen(hash));
    int64_t expires = found ? sw_stmt_column_int64(stmt, 4) : 0;
    if (!matches) {
        rc = sw_error_set(err, SRV_E_UNAUTHORIZED, "invalid access token");
        goto cleanup;
    }
    if (expires > 0 && expires <= now) {
        rc = sw_error_set(err, SRV_E_UNAUTHORIZED, "the access token has expired");
        goto cleanup;
    }
    info->id = (int64_t)id;
    info->user = sw_db_column_dup(stmt, 0);
    info->name = sw_db_column_dup(stmt, 1);
    info->scopes = sw_db_column_dup(stmt, 2);
    info->created_at = sw_stmt_column_int64(stmt, 3);
    info->expires_at = expires;
    info->last_used_at = sw_stmt_column_int64(stmt, 5);
    if (info->user == NULL || info->name == NULL || info->scopes == NULL) {
        srv_token_info_clear(info);
        rc = sw_error_set(err, SW_ENOMEM, "token: out of memory");
        goto cleanup;
    }
    sw_stmt_finalize(stmt);
    stmt = NULL;
    if (info->last_used_at + LAST_USED_GRANULARITY_S <= now &&
        sw_db_prepare_raw(db, "UPDATE tokens SET last_used_at = ? WHERE id = ?", -1, &stmt, NULL) ==
            SW_DB_OK) {
        sw_stmt_bind_int64(stmt, 1, (int64_t)now);
        sw_stmt_bind_int64(stmt, 2, (int64_t)id);
        sw_stmt_step(stmt); /* best effort: a busy database must not refuse the token */
    }
cleanup:
    sw_stmt_finalize(stmt);
    return rc;
}

int srv_token_alive(sw_db *db, int64_t id, int64_t now)
{
    sw_stmt *stmt = NULL;
    int alive = 0;
    if (sw_db_prepare_raw(db, "SELECT expires_at FROM tokens WHERE id = ?", -1, &stmt, NULL) !=
        SW_DB_OK)
        return 0;
    sw_stmt_bind_int64(stmt, 1, (int64_t)id);
    if (sw_stmt_step(stmt) == SW_DB_ROW) {
        int64_t expires = sw_stmt_column_int64(stmt, 0);
        alive = expires <= 0 || expires > now;
    }
    sw_stmt_finalize(stmt);
    return alive;
}

char *srv_token_scopes_of(sw_db *db, int64_t id)
{
    sw_stmt *stmt = NULL;
    char *scopes = NULL;
    if (sw_db_prepare_raw(db, "SELECT scopes FROM tokens WHERE id = ?", -1, &stmt, NULL) !=
        SW_DB_OK)
        return NULL;
    sw_stmt_bind_int64(stmt, 1, (int64_t)id);
    if (sw_stmt_step(stmt) == SW_DB_ROW)
        scopes = sw_db_column_dup(stmt, 0);
    sw_stmt_finalize(stmt);
    return scopes;
}

/* ---- the signing key ------------------------------------------------------- */

int srv_token_key_load(const char *data_dir, unsigned char key[SRV_TOKEN_KEY_LEN], sw_error **err)
{
    char *path = sw_path_join(data_dir, "token.key");
    char *text = NULL, *tmp = NULL;
    size_t len = 0;
    int rc = 0;

    if (path == NULL)
        return sw_error_set(err, SW_ENOMEM, "token key: out of memory");
    sw_error *read_err = NULL;
    if (sw_read_file(path, 4096, &text, &len, &read_err) == 0) {
        if (len != SRV_TOKEN_KEY_LEN) {
            rc = sw_error_set(err, SW_EINVAL, "%s: expected %d bytes, found %zu", path,
                              SRV_TOKEN_KEY_LEN, len);
            goto cleanup;
        }
        memcpy(key, text, SRV_TOKEN_KEY_LEN);
        goto cleanup;
    }
    sw_error_clear(&read_err);
    /* written whole under a temporary name, then linked into place: link
     * fails when another process made the key first, and then that key is
     * the one every process uses */
    if (asprintf(&tmp, "%s.%d.tmp", path, (int)getpid()) < 0) {
        tmp = NULL;
        rc = sw_error_set(err, SW_ENOMEM, "token key: out of memory");
        goto cleanup;
    }
    if ((rc = sw_random_bytes(key, SRV_TOKEN_KEY_LEN, err)) != 0 ||
        (rc = sw_write_file_atomic(tmp, key, SRV_TOKEN_KEY_LEN, 0600, err)) != 0)
        goto cleanup;
    if (link(tmp, path) == 0) {
        sw_info("auth: created the registry token key %s", path);
        goto cleanup;
    }
    if (errno != EEXIST) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", path);
        goto cleanup;
    }
    free(text);
    text = NULL;
    if ((rc = sw_read_file(path, 4096, &text, &len, err)) != 0)
        goto cleanup;
    if (len != SRV_TOKEN_KEY_LEN) {
        rc = sw_error_set(err, SW_EINVAL, "%s: expected %d bytes, found %zu", path,
                          SRV_TOKEN_KEY_LEN, len);
        goto cleanup;
    }
    memcpy(key, text, SRV_TOKEN_KEY_LEN);
cleanup:
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    if (text) {
        memset(text, 0, len);
        free(text);
    }
    free(path);
    return rc;
}

/* ---- JWT -------------------------------------------------------------------- */

/* base64url without padding, malloc'd. */
static char *b64url_encode(const void *data, size_t n)
{
    char *s = sw_base64_encode(data, n);
    if (s == NULL)
        return NULL;
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == '=')
        s[--len] = '\0';
    for (char *p = s; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return s;
}

/* Decodes len characters of base64url into a NUL-terminated malloc'd
 * buffer; NULL when malformed. */
static char *b64url_decode(const char *in, size_t len, size_t *out_len)
{
    char *copy = strndup(in, len);
    char *out = malloc(len + 1);
    char *result = NULL;
    if (copy == NULL || out == NULL)
        goto cleanup;
    for (char *p = copy; *p; p++) {
        if (*p == '+' || *p == '/' || *p == '=')
            goto cleanup;
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    }
    size_t n = 0;
    if (sw_base64_decode(copy, len, (unsigned char *)out, len, &n) != 0)
        goto cleanup;
    out[n] = '\0';
    *out_len = n;
    result = out;
    out = NULL;
cleanup:
    free(copy);
    free(out);
    return result;
}

/* HMAC-SHA256 of data as base64url. */
static char *jwt_signature(const unsigned char key[SRV_TOKEN_KEY_LEN], const char *data, size_t len)
{
    char hex[SW_SHA256_HEX_LEN + 1];
    unsigned char raw[32];
    sw_hmac_sha256_hex(key, SRV_TOKEN_KEY_LEN, data, len, hex);
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    return b64url_encode(raw, sizeof raw);
}

char *srv_jwt_sign(const unsigned char key[SRV_TOKEN_KEY_LEN], const struct srv_jwt_claims *claims,
                   int64_t now)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    unsigned char jti_raw[12];
    char jti[2 * sizeof jti_raw + 1];
    char *h = NULL, *p = NULL, *payload = NULL, *sig = NULL, *out = NULL, *signing = NULL;

    if (sw_random_bytes(jti_raw, sizeof jti_raw, NULL) != 0)
        return NULL;
    sw_hex_encode(jti_raw, sizeof jti_raw, jti);
    json_t *access = json_array();
    for (size_t i = 0; i < claims->scopes.n; i++) {
        json_t *actions = json_array();
        if (claims->scopes.items[i].access & REG_ACCESS_PULL)
            json_array_append_new(actions, json_string("pull"));
        if (claims->scopes.items[i].access & REG_ACCESS_PUSH)
            json_array_append_new(actions, json_string("push"));
        json_array_append_new(access,
                              json_pack("{s:s, s:s, s:o}", "type", "repository", "name",
                                        claims->scopes.items[i].pattern, "actions", actions));
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o}", "iss", "slipway", "sub",
                            claims->sub ? claims->sub : "", "aud", claims->aud ? claims->aud : "",
                            "exp", (json_int_t)claims->expires_at, "nbf", (json_int_t)(now - 1),
                            "iat", (json_int_t)now, "jti", jti, "access", access);
    if (doc == NULL)
        return NULL;
    if (claims->access_token > 0)
        json_object_set_new(doc, "swp", json_integer((json_int_t)claims->access_token));
    payload = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (payload == NULL || (h = b64url_encode(header, strlen(header))) == NULL ||
        (p = b64url_encode(payload, strlen(payload))) == NULL ||
        asprintf(&signing, "%s.%s", h, p) < 0 ||
        (sig = jwt_signature(key, signing, strlen(signing))) == NULL ||
        asprintf(&out, "%s.%s", signing, sig) < 0)
        out = NULL;
    free(h);
    free(p);
    free(payload);
    free(signing);
    free(sig);
    return out;
}

void srv_jwt_claims_clear(struct srv_jwt_claims *claims)
{
    free(claims->sub);
    free(claims->aud);
    reg_scopes_clear(&claims->scopes);
    memset(claims, 0, sizeof *claims);
}

int srv_jwt_verify(const unsigned char key[SRV_TOKEN_KEY_LEN], const char *token, const char *aud,
                   int64_t now, struct srv_jwt_claims *claims, sw_error **err)
{
    char *sig = NULL, *header = NULL, *payload = NULL;
    json_t *hdoc = NULL, *doc = NULL;
    size_t len = 0;
    int rc = SRV_E_UNAUTHORIZED;

    memset(claims, 0, sizeof *claims);
    size_t total = token ? strlen(token) : 0;
    const char *dot1 = total && total < JWT_MAX ? strchr(token, '.') : NULL;
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
        sw_error_set(err, rc, "malformed bearer token");
        goto cleanup;
    }
    sig = jwt_signature(key, token, (size_t)(dot2 - token));
    if (sig == NULL || !sw_ct_equal(sig, strlen(sig), dot2 + 1, strlen(dot2 + 1))) {
        sw_error_set(err, rc, "invalid bearer token");
        goto cleanup;
    }
    if ((header = b64url_decode(token, (size_t)(dot1 - token), &len)) == NULL ||
        (hdoc = json_loadb(header, len, 0, NULL)) == NULL ||
        !json_is_string(json_object_get(hdoc, "alg")) ||
        strcmp(json_string_value(json_object_get(hdoc, "alg")), "HS256") != 0 ||
        (payload = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len)) == NULL ||
        (doc = json_loadb(payload, len, 0, NULL)) == NULL) {
        sw_error_set(err, rc, "malformed bearer token");
        goto cleanup;
    }
    int64_t exp = json_integer_value(json_object_get(doc, "exp"));
    int64_t nbf = json_integer_value(json_object_get(doc, "nbf"));
    const char *token_aud = json_string_value(json_object_get(doc, "aud"));
    if (exp <= now || nbf > now + 60) {
        sw_error_set(err, rc, "the bearer token has expired");
        goto cleanup;
    }
    if (aud && (token_aud == NULL || strcmp(aud, token_aud) != 0)) {
        sw_error_set(err, rc, "the bearer token is for another service");
        goto cleanup;
    }
    const char *sub = json_string_value(json_object_get(doc, "sub"));
    if (sub && *sub && (claims->sub = strdup(sub)) == NULL)
        goto oom;
    if (token_aud && (claims->aud = strdup(token_aud)) == NULL)
        goto oom;
    claims->expires_at = exp;
    claims->access_token = json_integer_value(json_object_get(doc, "swp"));
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(doc, "access"), i, entry) {
        const char *type = json_string_value(json_object_get(entry, "type"));
        const char *name = json_string_value(json_object_get(entry, "name"));
        if (type == NULL || strcmp(type, "repository") != 0 || name == NULL)
            continue;
        unsigned access = 0;
        size_t j;
        json_t *action;
        json_array_foreach(json_object_get(entry, "actions"), j, action) {
            const char *a = json_string_value(action);
            if (a && strcmp(a, "pull") == 0)
                access |= REG_ACCESS_PULL;
            else if (a && strcmp(a, "push") == 0)
                access |= REG_ACCESS_PUSH;
        }
        if (reg_scopes_add(&claims->scopes, name, access, NULL) != 0)
            goto oom;
    }
    rc = 0;
    goto cleanup;
oom:
    rc = sw_error_set(err, SW_ENOMEM, "bearer token: out of memory");
    srv_jwt_claims_clear(claims);
cleanup:
    free(sig);
    free(header);
    free(payload);
    json_decref(hdoc);
    json_decref(doc);
    return rc;
}

/* ---- auth answers ----------------------------------------------------------- */

/* 1 for a Host header value that is safe to put into a challenge:
 * host[:port] or [v6]:port, nothing else. */
static int is_plain_host(const char *host)
{
    size_t len = strlen(host);
    if (len == 0 || len > 255)
        return 0;
    for (const char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']'))
            return 0;
    return 1;
}

/* Where the token endpoint is, as the client can reach it: under
 * server.public_url when the client came by its host (also through a
 * proxy), else on the host the client used (e.g. 127.0.0.1:PORT of a
 * server whose public name does not resolve here). */
static void token_realm(srv_request *req, char *out, size_t size)
{
    const struct sw_config *cfg = req->srv->cfg;
    char public_host[256];
    const char *host = srv_request_header(req, "Host");
    srv_auth_service(cfg, public_host, sizeof public_host);
    if (host && is_plain_host(host) && strcasecmp(host, public_host) != 0)
        snprintf(out, size, "%s://%s/token", cfg->tls_cert ? "https" : "http", host);
    else
        snprintf(out, size, "%s/token", cfg->public_url ? cfg->public_url : "");
}

void srv_auth_challenge(srv_request *req)
{
    srv_server *srv = req->srv;
    const struct sw_config *cfg = srv->cfg;
    char service[256], scope[600] = "";

    /* the token endpoint itself, and everything outside the registry API,
     * asks for Basic credentials */
    if (cfg->auth_challenge_basic || strncmp(req->path, "/v2", 3) != 0) {
        srv_header(req, "WWW-Authenticate", "Basic realm=\"%s\"", srv_auth_realm(srv->auth));
        return;
    }
    srv_auth_service(cfg, service, sizeof service);
    const char *repo = req->route ? srv_request_param(req, "name") : NULL;
    if (req->route && req->route->access == SRV_ACCESS_REPO && repo && reg_name_valid(repo)) {
        int is_read = strcmp(req->method, "GET") == 0 || req->is_head;
        snprintf(scope, sizeof scope, ",scope=\"repository:%s:%s\"", repo,
                 is_read ? "pull" : "pull,push");
    } else if (req->route && req->route->access == SRV_ACCESS_ANY_PULL) {
        snprintf(scope, sizeof scope, ",scope=\"registry:catalog:*\"");
    }
    char realm[600];
    token_realm(req, realm, sizeof realm);
    srv_header(req, "WWW-Authenticate", "Bearer realm=\"%s\",service=\"%s\"%s%s", realm, service,
               scope, req->scopes && scope[0] ? ",error=\"insufficient_scope\"" : "");
}

/* 1 when the request carries a registry token from GET /token whose
 * credentials could get access to repo: asking /token again (for this
 * scope) would help, so the answer is 401 insufficient_scope, not 403. */
static int token_could_widen(srv_request *req, const char *repo, unsigned access)
{
    const char *authorization = srv_request_header(req, "Authorization");
    unsigned char key[SRV_TOKEN_KEY_LEN];
    char service[256];
    struct srv_jwt_claims claims = { 0 };
    struct reg_scopes ceiling = { 0 };
    int could = 0;

    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0 ||
        srv_token_is_access_token(authorization + 7 + strspn(authorization + 7, " ")) ||
        srv_auth_token_key(req->srv->auth, key, NULL) != 0)
        return 0;
    srv_auth_service(req->srv->cfg, service, sizeof service);
    if (srv_jwt_verify(key, authorization + 7 + strspn(authorization + 7, " "), service,
                       (int64_t)time(NULL), &claims, NULL) == 0) {
        unsigned allowed = reg_access_for(req->srv->cfg, claims.sub, repo);
        if (claims.access_token > 0) {
            sw_db *db = NULL;
            char *text = reg_store_db(req->srv->store, &db, NULL) == 0
                             ? srv_token_scopes_of(db, claims.access_token)
                             : NULL;
            if (text == NULL || reg_scopes_parse(text, &ceiling, NULL) != 0)
                allowed = 0;
            else
                allowed &= reg_scopes_access(&ceiling, repo);
            free(text);
        }
        could = (allowed & access) == access;
    }
    memset(key, 0, sizeof key);
    reg_scopes_clear(&ceiling);
    srv_jwt_claims_clear(&claims);
    return could;
}

void srv_auth_deny(srv_request *req, const char *repo, unsigned access)
{
    char scope[512], message[700];
    if (req->user == NULL || token_could_widen(req, repo, access)) {
        srv_respond_error(req, SRV_E_UNAUTHORIZED,
                          req->scopes ? "insufficient scope" : "authentication required");
        return;
    }
    snprintf(scope, sizeof scope, "repository:%s:%s", repo ? repo : "", reg_access_actions(access));
    snprintf(message, sizeof message, "requested access to the resource is denied (needs scope %s)",
             scope);
    json_t *detail = json_pack("{s:s}", "scope", scope);
    char *body = srv_error_body("DENIED", message, detail);
    json_decref(detail);
    if (body == NULL) {
        srv_respond_error(req, SRV_E_DENIED, message);
        return;
    }
    srv_respond(req, 403, "application/json", body, strlen(body));
    free(body);
}

/* ---- GET /token ----------------------------------------------------------- */

struct scope_params {
    const char *values[MAX_SCOPE_PARAMS];
    size_t n;
};

static enum MHD_Result collect_scope(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct scope_params *params = cls;
    (void)kind;
    if (key && strcmp(key, "scope") == 0 && value && params->n < MAX_SCOPE_PARAMS)
        params->values[params->n++] = value;
    return MHD_YES;
}

/* The access token in an Authorization header (Bearer, or the password of
 * Basic), malloc'd; NULL when there is none. */
static char *access_token_in(const char *authorization)
{
    if (authorization == NULL)
        return NULL;
    if (strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *text = authorization + 7 + strspn(authorization + 7, " ");
        return srv_token_is_access_token(text) ? strdup(text) : NULL;
    }
    if (strncasecmp(authorization, "Basic ", 6) != 0)
        return NULL;
    const char *b64 = authorization + 6 + strspn(authorization + 6, " ");
    unsigned char decoded[1024];
    size_t n = 0;
    char *token = NULL;
    if (sw_base64_decode(b64, strlen(b64), decoded, sizeof decoded - 1, &n) == 0) {
        decoded[n] = '\0';
        char *colon = strchr((char *)decoded, ':');
        if (colon && srv_token_is_access_token(colon + 1))
            token = strdup(colon + 1);
    }
    memset(decoded, 0, sizeof decoded);
    return token;
}

/* Grants what the requested scopes (one or more, space-separated) ask for
 * and the caller may do. */
static void grant(srv_request *req, const char *requested, struct reg_scopes *granted)
{
    const struct sw_config *cfg = req->srv->cfg;
    const char *p = requested;
    while (*p) {
        p += strspn(p, " ");
        size_t len = strcspn(p, " ");
        if (len == 0)
            break;
        char *one = strndup(p, len);
        struct reg_scopes wanted = { 0 };
        /* a scope of another kind (registry:catalog:*) or a bad one is
         * left out, as Distribution does, rather than failing the request */
        if (one && reg_scopes_parse(one, &wanted, NULL) == 0) {
            for (size_t i = 0; i < wanted.n; i++) {
                const char *name = wanted.items[i].pattern;
                if (!reg_name_valid(name))
                    continue; /* an exact name only: no globs in a registry token */
                unsigned access = wanted.items[i].access & reg_access_for(cfg, req->user, name);
                if (req->scopes)
                    access &= reg_scopes_access(req->scopes, name);
                if (access)
                    reg_scopes_add(granted, name, access, NULL);
            }
        }
        reg_scopes_clear(&wanted);
        free(one);
        p += len;
    }
}

/* Issues a registry token for the credentials in authorization (NULL:
 * anonymous) and the requested scopes; answers the request. is_oauth: the
 * OAuth2 form of POST /token, whose errors and answer differ a little. */
static void issue_token(srv_request *req, const char *authorization, const char *const *scopes,
                        size_t n_scopes, int is_oauth)
{
    srv_server *srv = req->srv;
    struct reg_scopes granted = { 0 };
    struct srv_jwt_claims claims = { 0 };
    struct srv_token_info info = { 0 };
    unsigned char key[SRV_TOKEN_KEY_LEN];
    char service[256];
    char *jwt = NULL, *access_token = NULL, *scope_text = NULL;
    sw_error *err = NULL;

    if (srv->auth == NULL) {
        srv_respond_error(req, SRV_E_NOT_FOUND,
                          "this registry needs no login (no auth configured)");
        return;
    }
    free(req->user);
    req->user = NULL;
    srv_auth_scopes_free(req->scopes);
    req->scopes = NULL;
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0 &&
        !srv_token_is_access_token(authorization + 7 + strspn(authorization + 7, " "))) {
        /* a registry token renewed by itself would never expire */
        srv_respond_error(req, SRV_E_UNAUTHORIZED,
                          "a registry token cannot be exchanged for another: send Basic "
                          "credentials (a password or an access token)");
        goto cleanup;
    }
    /* the same login path as every request: the backoff applies here too */
    if (srv_request_login_with(req, authorization, &err) != 0) {
        srv_respond_sw_error(req, err);
        goto cleanup;
    }
    int64_t now = (int64_t)time(NULL);
    int64_t ttl = srv->cfg->token_ttl_s > 0 ? srv->cfg->token_ttl_s : DEFAULT_TTL_S;
    claims.expires_at = now + ttl;
    if ((access_token = access_token_in(authorization)) != NULL) {
        sw_db *db = NULL;
        if (reg_store_db(srv->store, &db, &err) != 0 ||
            srv_token_verify(db, access_token, now, &info, &err) != 0) {
            srv_respond_sw_error(req, err);
            goto cleanup;
        }
        claims.access_token = info.id;
        if (info.expires_at > 0 && info.expires_at < claims.expires_at)
            claims.expires_at = info.expires_at;
    }
    for (size_t i = 0; i < n_scopes; i++)
        grant(req, scopes[i], &granted);
    if (srv_auth_token_key(srv->auth, key, &err) != 0) {
        srv_respond_sw_error(req, err);
        goto cleanup;
    }
    srv_auth_service(srv->cfg, service, sizeof service);
    claims.sub = req->user;
    claims.aud = service;
    claims.scopes = granted;
    jwt = srv_jwt_sign(key, &claims, now);
    memset(key, 0, sizeof key);
    if (jwt == NULL || (scope_text = reg_scopes_format(&granted)) == NULL) {
        srv_respond_error(req, SW_ENOMEM, "signing the token failed");
        goto cleanup;
    }
    char issued[SW_RFC3339_MAX];
    sw_format_rfc3339(now, issued);
    json_t *doc = json_pack("{s:s, s:s, s:I, s:s}", "token", jwt, "access_token", jwt, "expires_in",
                            (json_int_t)(claims.expires_at - now), "issued_at", issued);
    if (is_oauth) /* RFC 6749: the granted scope, and the token type */
        json_object_set_new(doc, "scope", json_string(scope_text));
    if (is_oauth)
        json_object_set_new(doc, "token_type", json_string("Bearer"));
    srv_header(req, "Cache-Control", "no-store");
    srv_respond_json(req, 200, NULL, doc);
    json_decref(doc);
cleanup:
    reg_scopes_clear(&granted);
    srv_token_info_clear(&info);
    if (access_token) {
        memset(access_token, 0, strlen(access_token));
        free(access_token);
    }
    free(scope_text);
    free(jwt);
    sw_error_clear(&err);
}

/* GET /token?service=S&scope=A&scope=B with Basic credentials or none. */
static void token_end(srv_request *req)
{
    struct scope_params params = { 0 };
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_scope, &params);
    issue_token(req, srv_request_header(req, "Authorization"), params.values, params.n, 0);
}

static int token_post_headers(srv_request *req)
{
    srv_request_buffer_body(req, MAX_FORM_BODY);
    return 0;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes one application/x-www-form-urlencoded value in place; -1 when
 * malformed or when it holds a NUL. */
static int form_decode(char *s)
{
    char *out = s;
    for (char *in = s; *in; in++) {
        if (*in == '+') {
            *out++ = ' ';
        } else if (*in == '%') {
            int hi = hex_digit(in[1]), lo = hi < 0 ? -1 : hex_digit(in[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            *out++ = (char)(hi << 4 | lo);
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return 0;
}

/* POST /token, the OAuth2 form containerd and docker try first when they
 * have credentials: grant_type=password with username, password, scope
 * (space-separated), service and client_id. Refresh tokens are not issued,
 * so grant_type=refresh_token is refused and clients log in again. */
static void token_post_end(srv_request *req)
{
    size_t len = 0;
    const char *body = srv_request_body(req, &len);
    char *form = strndup(body, len);
    const char *grant_type = NULL, *username = NULL, *password = NULL;
    const char *scopes[MAX_SCOPE_PARAMS];
    size_t n_scopes = 0;
    char *credentials = NULL, *encoded = NULL, *authorization = NULL;

    if (form == NULL) {
        srv_respond_error(req, SW_ENOMEM, "out of memory");
        return;
    }
    char *save = NULL;
    for (char *pair = strtok_r(form, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        char *value = eq + 1;
        if (form_decode(pair) != 0 || form_decode(value) != 0) {
            srv_respond_error(req, SW_EINVAL, "malformed form body");
            goto cleanup;
        }
        if (strcmp(pair, "grant_type") == 0)
            grant_type = value;
        else if (strcmp(pair, "username") == 0)
            username = value;
        else if (strcmp(pair, "password") == 0)
            password = value;
        else if (strcmp(pair, "scope") == 0 && n_scopes < MAX_SCOPE_PARAMS)
            scopes[n_scopes++] = value;
    }
    if (grant_type == NULL || strcmp(grant_type, "password") != 0 || username == NULL ||
        password == NULL) {
        srv_respond_error(req, SRV_E_UNAUTHORIZED,
                          "only grant_type=password with username and password is supported");
        goto cleanup;
    }
    if (asprintf(&credentials, "%s:%s", username, password) < 0) {
        credentials = NULL;
        srv_respond_error(req, SW_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((encoded = sw_base64_encode(credentials, strlen(credentials))) == NULL ||
        asprintf(&authorization, "Basic %s", encoded) < 0) {
        authorization = NULL;
        srv_respond_error(req, SW_ENOMEM, "out of memory");
        goto cleanup;
    }
    issue_token(req, authorization, scopes, n_scopes, 1);
cleanup:
    if (credentials) {
        memset(credentials, 0, strlen(credentials));
        free(credentials);
    }
    if (encoded) {
        memset(encoded, 0, strlen(encoded));
        free(encoded);
    }
    if (authorization) {
        memset(authorization, 0, strlen(authorization));
        free(authorization);
    }
    memset(form, 0, len);
    free(form);
}

/* ---- GET /api/v1/tokens ----------------------------------------------------- */

static void tokens_list_end(srv_request *req)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    if (req->srv->auth == NULL || req->user == NULL) {
        srv_api_error(req, SRV_E_UNAUTHORIZED, "log in to see your tokens");
        return;
    }
    sw_db *db = NULL;
    json_t *list = NULL;
    sw_error *err = NULL;
    if (reg_store_db(req->srv->store, &db, &err) != 0 ||
        srv_token_list(db, req->user, &list, &err) != 0) {
        srv_api_sw_error(req, err);
        sw_error_clear(&err);
        return;
    }
    json_t *doc = json_pack("{s:s, s:o}", "user", req->user, "tokens", list);
    srv_respond_json(req, 200, NULL, doc);
    json_decref(doc);
}

const struct srv_route srv_token_routes[] = {
    { "GET", "/token", SRV_ACCESS_NONE, NULL, NULL, token_end, NULL },
    { "POST", "/token", SRV_ACCESS_NONE, token_post_headers, NULL, token_post_end, NULL },
    { "GET", "/api/v1/tokens", SRV_ACCESS_NONE, NULL, NULL, tokens_list_end, NULL },
    { NULL, NULL, 0, NULL, NULL, NULL, NULL },
};
