/*
 * auth.c - Basic auth against an htpasswd file of bcrypt entries, the
 * verification cache, and the per-repository access rules.
 *
 * Only bcrypt lines ($2y$, $2b$, $2a$, as `htpasswd -B` writes) are
 * accepted; other hash kinds are skipped with a warning at load, because
 * the weaker ones (MD5, SHA1, plain crypt) should not guard a registry.
 * An unknown user still costs one bcrypt run, against a dummy hash made at
 * the file's highest cost when the file is read, so the response time does
 * not tell which user names exist. The backoff after failed logins is the
 * caller's (server/backoff.c, srv_request_authenticate).
 */
#include "server/auth.h"

#include <crypt.h>
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/base64.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "registry/access.h"
#include "server/http.h"
#include "server/token.h"

#define CACHE_SLOTS 64
#define CACHE_SECONDS 60
#define HTPASSWD_MAX (4 * 1024 * 1024)
#define CREDENTIALS_MAX 1024

/* bcrypt of a random string, verified against when the user is unknown
 * until the file is loaded; then replaced by one at the file's highest
 * cost (make_dummy_hash), so an unknown user costs what a known one does. */
static const char default_dummy_hash[] =
    "$2y$10$WfhV6djAoDzZQGflV5G2qeYkXuhEzysm1hrx/fglWeFOqlEcAKabO";
#define DUMMY_HASH_MAX 128

struct htpasswd_entry {
    char *user;
    char *hash;
};

struct cache_slot {
    char key[SW_SHA256_HEX_LEN + 1];
    time_t expires;
};

struct srv_auth {
    const struct sw_config *cfg;
    pthread_mutex_t lock; /* guards entries, file identity, cache */
    struct htpasswd_entry *entries;
    size_t n_entries;
    int is_loaded;
    struct stat file_stat;       /* identity of the file last loaded */
    unsigned char cache_key[32]; /* HMAC key of the cache, random per process */
    struct cache_slot cache[CACHE_SLOTS];
    size_t cache_next;
    int has_token_key; /* token_key loaded (under lock) */
    unsigned char token_key[SRV_TOKEN_KEY_LEN];
    char dummy_hash[DUMMY_HASH_MAX]; /* at the highest cost of the file's entries */
};

static void free_entries(struct htpasswd_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(entries[i].user);
        free(entries[i].hash);
    }
    free(entries);
}

static int is_bcrypt(const char *hash)
{
    return strncmp(hash, "$2y$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0 ||
           strncmp(hash, "$2a$", 4) == 0;
}

/* Parses htpasswd text into entries: "user:hash" per line, blank lines and
 * '#' comments ignored. */
static int parse_htpasswd(const char *path, char *text, struct htpasswd_entry **out, size_t *count,
                          sw_error **err)
{
    struct htpasswd_entry *entries = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, line_no = 0;
    char *save = NULL;

    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char *colon = strchr(line, ':');
        if (colon == NULL || colon == line) {
            rc = sw_error_set(err, SW_EINVAL, "%s:%d: expected user:hash", path, line_no);
            goto cleanup;
        }
        *colon = '\0';
        const char *hash = colon + 1;
        if (!is_bcrypt(hash)) {
            sw_warn("auth: %s:%d: user %s: not a bcrypt hash (use htpasswd -B); ignored", path,
                    line_no, line);
            continue;
        }
        if (n == cap) {
            size_t new_cap = cap ? cap * 2 : 16;
            struct htpasswd_entry *grown = realloc(entries, new_cap * sizeof *grown);
            if (grown == NULL) {
                rc = sw_error_set(err, SW_ENOMEM, "reading %s: out of memory", path);
                goto cleanup;
            }
            entries = grown;
            cap = new_cap;
        }
        entries[n].user = strdup(line);
        entries[n].hash = strdup(hash);
        n++;
        if (entries[n - 1].user == NULL || entries[n - 1].hash == NULL) {
            rc = sw_error_set(err, SW_ENOMEM, "reading %s: out of memory", path);
            goto cleanup;
        }
    }
    *out = entries;
    *count = n;
    entries = NULL;
    n = 0;
cleanup:
    free_entries(entries, n);
    return rc;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The bcrypt cost of a hash ("$2y$12$..." is 12); 0 when unreadable. */
static int bcrypt_cost(const char *hash)
{
    if (strlen(hash) < 7 || hash[6] != '$' || hash[4] < '0' || hash[4] > '9' || hash[5] < '0' ||
        hash[5] > '9')
        return 0;
    return (hash[4] - '0') * 10 + (hash[5] - '0');
}

/* A bcrypt hash of random bytes at the highest cost among entries (at
 * least the default's), so verifying an unknown user takes as long as a
 * known user with a wrong password. Keeps the old value on failure. */
static void make_dummy_hash(const struct htpasswd_entry *entries, size_t n,
                            char out[DUMMY_HASH_MAX])
{
    int cost = bcrypt_cost(default_dummy_hash);
    unsigned char random[32];
    char password[2 * sizeof random + 1], salt[DUMMY_HASH_MAX];
    struct crypt_data *data = NULL;

    for (size_t i = 0; i < n; i++) {
        int c = bcrypt_cost(entries[i].hash);
        if (c > cost && c <= 31)
            cost = c;
    }
    if (out[0] && bcrypt_cost(out) == cost)
        return;
    if (sw_random_bytes(random, sizeof random, NULL) != 0 ||
        (data = calloc(1, sizeof *data)) == NULL)
        goto cleanup;
    for (size_t i = 0; i < sizeof random; i++)
        snprintf(password + 2 * i, 3, "%02x", random[i]);
    if (crypt_gensalt_rn("$2b$", (unsigned long)cost, (const char *)random, sizeof random, salt,
                         sizeof salt) == NULL)
        goto cleanup;
    const char *hash = crypt_r(password, salt, data);
    if (hash && hash[0] == '$' && strlen(hash) < DUMMY_HASH_MAX)
        snprintf(out, DUMMY_HASH_MAX, "%s", hash);
cleanup:
    if (data) {
        memset(data, 0, sizeof *data);
        free(data);
    }
    memset(password, 0, sizeof password);
}

/* Loads the file if it changed since the last load. Called with the lock
 * held. A file that became unreadable keeps the last good entries. */
static int reload_if_changed(srv_auth *auth, sw_error **err)
{
    const char *path = auth->cfg->htpasswd;
    struct stat st;
    char *text = NULL;
    struct htpasswd_entry *entries = NULL;
    size_t n = 0, len = 0;
    int rc = 0;

    if (stat(path, &st) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "htpasswd file %s", path);
        goto cleanup;
    }
    if (auth->is_loaded && same_file(&st, &auth->file_stat))
        goto cleanup;
    if ((rc = sw_read_file(path, HTPASSWD_MAX, &text, &len, err)) != 0 ||
        (rc = parse_htpasswd(path, text, &entries, &n, err)) != 0)
        goto cleanup;
    make_dummy_hash(entries, n, auth->dummy_hash);
    free_entries(auth->entries, auth->n_entries);
    auth->entries = entries;
    auth->n_entries = n;
    auth->file_stat = st;
    auth->is_loaded = 1;
    memset(auth->cache, 0, sizeof auth->cache);
    if (n == 0)
        sw_warn("auth: %s has no bcrypt users: nobody can log in", path);
    else
        sw_info("auth: loaded %zu user%s from %s", n, n == 1 ? "" : "s", path);
cleanup:
    if (text) {
        memset(text, 0, len);
        free(text);
    }
    return rc;
}

int srv_auth_new(const struct sw_config *cfg, srv_auth **out, sw_error **err)
{
    srv_auth *auth = NULL;
    int rc = 0;

    *out = NULL;
    if (cfg->htpasswd == NULL)
        return 0;
    auth = calloc(1, sizeof *auth);
    if (auth == NULL)
        return sw_error_set(err, SW_ENOMEM, "auth: out of memory");
    auth->cfg = cfg;
    pthread_mutex_init(&auth->lock, NULL);
    if ((rc = sw_random_bytes(auth->cache_key, sizeof auth->cache_key, err)) != 0 ||
        (rc = reload_if_changed(auth, err)) != 0)
        goto cleanup;
    *out = auth;
    auth = NULL;
cleanup:
    srv_auth_free(auth);
    return rc;
}

void srv_auth_free(srv_auth *auth)
{
    if (auth == NULL)
        return;
    free_entries(auth->entries, auth->n_entries);
    pthread_mutex_destroy(&auth->lock);
    memset(auth->token_key, 0, sizeof auth->token_key);
    memset(auth, 0, sizeof *auth);
    free(auth);
}

const char *srv_auth_realm(const srv_auth *auth)
{
    return auth && auth->cfg->auth_realm ? auth->cfg->auth_realm : "slipway";
}

/* Decodes base64 credentials into out (NUL-terminated); -1 on malformed
 * input, one that does not fit, or one with a NUL inside. */
static int base64_decode(const char *in, char *out, size_t out_size)
{
    size_t n = 0;
    if (out_size == 0 ||
        sw_base64_decode(in, strlen(in), (unsigned char *)out, out_size - 1, &n) != 0)
        return -1;
    out[n] = '\0';
    return memchr(out, '\0', n) ? -1 : 0;
}

int srv_auth_basic_user(const char *authorization, char *out, size_t out_size)
{
    char decoded[CREDENTIALS_MAX];
    int rc = -1;

    if (out_size == 0)
        return -1;
    out[0] = '\0';
    if (authorization == NULL || strncasecmp(authorization, "Basic ", 6) != 0)
        return -1;
    const char *b64 = authorization + 6;
    while (*b64 == ' ')
        b64++;
    if (base64_decode(b64, decoded, sizeof decoded) != 0)
        return -1;
    char *colon = strchr(decoded, ':');
    if (colon && (size_t)(colon - decoded) < out_size) {
        memcpy(out, decoded, (size_t)(colon - decoded));
        out[colon - decoded] = '\0';
        rc = 0;
    }
    memset(decoded, 0, sizeof decoded);
    return rc;
}

static void cache_key_for(const srv_auth *auth, const char *user, const char *password,
                          const char *hash, char out[SW_SHA256_HEX_LEN + 1])
{
    /* The stored hash is part of the key, so a changed password is never
     * answered from the cache even before the file reload notices. */
    size_t ulen = strlen(user), plen = strlen(password), hlen = strlen(hash);
    size_t len = ulen + 1 + plen + 1 + hlen;
    char *data = malloc(len);
    if (data == NULL) {
        memset(out, 0, SW_SHA256_HEX_LEN + 1);
        return;
    }
    memcpy(data, user, ulen);
    data[ulen] = '\0';
    memcpy(data + ulen + 1, password, plen);
    data[ulen + 1 + plen] = '\0';
    memcpy(data + ulen + 1 + plen + 1, hash, hlen);
    sw_hmac_sha256_hex(auth->cache_key, sizeof auth->cache_key, data, len, out);
    memset(data, 0, len);
    free(data);
}

static int bcrypt_verify(const char *password, const char *hash)
{
    struct crypt_data *data = calloc(1, sizeof *data);
    int ok = 0;

    if (data == NULL)
        return 0;
    const char *result = crypt_r(password, hash, data);
    if (result != NULL && result[0] != '*')
        ok = sw_ct_equal(result, strlen(result), hash, strlen(hash));
    memset(data, 0, sizeof *data);
    free(data);
    return ok;
}

int srv_auth_check(srv_auth *auth, const char *authorization, char **user, sw_error **err)
{
    char decoded[CREDENTIALS_MAX];
    char *hash = NULL, *name = NULL;
    char key[SW_SHA256_HEX_LEN + 1] = "";
    int rc = 0, cached = 0;

    *user = NULL;
    if (auth == NULL || authorization == NULL)
        return 0;
    if (strncasecmp(authorization, "Basic ", 6) != 0)
        return sw_error_set(err, SRV_E_UNAUTHORIZED, "only Basic authentication is supported");
    const char *b64 = authorization + 6;
    while (*b64 == ' ')
        b64++;
    if (base64_decode(b64, decoded, sizeof decoded) != 0)
        return sw_error_set(err, SRV_E_UNAUTHORIZED, "malformed Basic credentials");
    char *colon = strchr(decoded, ':');
    if (colon == NULL) {
        rc = sw_error_set(err, SRV_E_UNAUTHORIZED, "malformed Basic credentials");
        goto cleanup;
    }
    *colon = '\0';
    const char *password = colon + 1;
    if (decoded[0] == '\0')
        goto cleanup; /* clients send ":" when they have no credentials */

    pthread_mutex_lock(&auth->lock);
    sw_error *reload_err = NULL;
    if (reload_if_changed(auth, &reload_err) != 0) {
        sw_warn("auth: %s (keeping the users loaded before)", sw_error_message(reload_err));
        sw_error_clear(&reload_err);
    }
    for (size_t i = 0; i < auth->n_entries; i++) {
        if (strcmp(auth->entries[i].user, decoded) == 0) {
            hash = strdup(auth->entries[i].hash);
            break;
        }
    }
    if (hash) {
        cache_key_for(auth, decoded, password, hash, key);
        time_t now = time(NULL);
        for (size_t i = 0; i < CACHE_SLOTS && key[0]; i++) {
            if (auth->cache[i].expires > now &&
                sw_ct_equal(auth->cache[i].key, SW_SHA256_HEX_LEN, key, SW_SHA256_HEX_LEN)) {
                cached = 1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&auth->lock);

    if (!cached) {
        /* bcrypt runs outside the lock: it takes tens of milliseconds. */
        char dummy[DUMMY_HASH_MAX];
        if (hash == NULL) {
            pthread_mutex_lock(&auth->lock);
            snprintf(dummy, sizeof dummy, "%s",
                     auth->dummy_hash[0] ? auth->dummy_hash : default_dummy_hash);
            pthread_mutex_unlock(&auth->lock);
        }
        int ok = bcrypt_verify(password, hash ? hash : dummy);
        if (!ok || hash == NULL) {
            rc = sw_error_set(err, SRV_E_UNAUTHORIZED, "invalid user name or password");
            goto cleanup;
        }
        if (key[0]) {
            pthread_mutex_lock(&auth->lock);
            struct cache_slot *slot = &auth->cache[auth->cache_next++ % CACHE_SLOTS];
            memcpy(slot->key, key, sizeof slot->key);
            slot->expires = time(NULL) + CACHE_SECONDS;
            pthread_mutex_unlock(&auth->lock);
        }
    }
    name = strdup(decoded);
    if (name == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "auth: out of memory");
        goto cleanup;
    }
    *user = name;
cleanup:
    memset(decoded, 0, sizeof decoded);
    free(hash);
    return rc;
}

unsigned srv_auth_access_for(const srv_auth *auth, const char *user, const char *repo)
{
    if (auth == NULL)
        return SRV_AUTH_PULL | SRV_AUTH_PUSH;
    unsigned a = reg_access_for(auth->cfg, user, repo);
    return ((a & REG_ACCESS_PULL) ? SRV_AUTH_PULL : 0) |
           ((a & REG_ACCESS_PUSH) ? SRV_AUTH_PUSH : 0);
}

/* ---- tokens ------------------------------------------------------------- */

int srv_auth_token_key(srv_auth *auth, unsigned char key[SRV_TOKEN_KEY_LEN], sw_error **err)
{
    int rc = 0;
    pthread_mutex_lock(&auth->lock);
    if (!auth->has_token_key) {
        if (auth->cfg->data_dir == NULL)
            rc = sw_error_set(err, SW_EINVAL, "auth: no data directory for the token key");
        else if ((rc = srv_token_key_load(auth->cfg->data_dir, auth->token_key, err)) == 0)
            auth->has_token_key = 1;
    }
    if (rc == 0)
        memcpy(key, auth->token_key, SRV_TOKEN_KEY_LEN);
    pthread_mutex_unlock(&auth->lock);
    return rc;
}

void srv_auth_service(const struct sw_config *cfg, char *out, size_t size)
{
    const char *url = cfg && cfg->public_url ? cfg->public_url : "localhost";
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    snprintf(out, size, "%.*s", (int)strcspn(host, "/"), host);
}

/* 1 when user is in the htpasswd file now: a token of a removed user
 * stops working with the user. */
static int user_known(srv_auth *auth, const char *user)
{
    int found = 0;
    pthread_mutex_lock(&auth->lock);
    sw_error *reload_err = NULL;
    if (reload_if_changed(auth, &reload_err) != 0)
        sw_error_clear(&reload_err);
    for (size_t i = 0; i < auth->n_entries && !found; i++)
        found = strcmp(auth->entries[i].user, user) == 0;
    pthread_mutex_unlock(&auth->lock);
    return found;
}

int srv_auth_user_exists(srv_auth *auth, const char *user)
{
    return auth && user && user_known(auth, user);
}

static int scopes_copy(const struct reg_scopes *from, struct reg_scopes **out, sw_error **err)
{
    struct reg_scopes *copy = calloc(1, sizeof *copy);
    if (copy == NULL)
        return sw_error_set(err, SW_ENOMEM, "auth: out of memory");
    for (size_t i = 0; from && i < from->n; i++) {
        if (reg_scopes_add(copy, from->items[i].pattern, from->items[i].access, err) != 0) {
            srv_auth_scopes_free(copy);
            return SW_ENOMEM;
        }
    }
    *out = copy;
    return 0;
}

void srv_auth_scopes_free(struct reg_scopes *scopes)
{
    if (scopes == NULL)
        return;
    reg_scopes_clear(scopes);
    free(scopes);
}

/* An access token (as Basic password of basic_user, or as Bearer when
 * basic_user is NULL). */
static int identify_access_token(srv_auth *auth, reg_store *store, const char *basic_user,
                                 const char *text, char **user, struct reg_scopes **scopes,
                                 sw_error **err)
{
    struct srv_token_info info = { 0 };
    struct reg_scopes parsed = { 0 };
    sw_db *db = NULL;
    int rc;

    if (store == NULL || reg_store_db(store, &db, NULL) != 0)
        return sw_error_set(err, SRV_E_UNAUTHORIZED, "access tokens cannot be checked now");
    if ((rc = srv_token_verify(db, text, (int64_t)time(NULL), &info, err)) != 0)
        return rc;
    if ((basic_user && *basic_user && strcmp(basic_user, info.user) != 0) ||
        !user_known(auth, info.user)) {
        rc = sw_error_set(err, SRV_E_UNAUTHORIZED, "invalid user name or access token");
        goto cleanup;
    }
    if (reg_scopes_parse(info.scopes, &parsed, NULL) != 0) {
        rc = sw_error_set(err, SRV_E_UNAUTHORIZED, "the access token's scopes are unreadable");
        goto cleanup;
    }
    if ((rc = scopes_copy(&parsed, scopes, err)) != 0)
        goto cleanup;
    *user = info.user;
    info.user = NULL;
cleanup:
    reg_scopes_clear(&parsed);
    srv_token_info_clear(&info);
    return rc;
}

/* A registry token issued by GET /token. */
static int identify_jwt(srv_auth *auth, reg_store *store, const char *text, char **user,
                        struct reg_scopes **scopes, sw_error **err)
{
    unsigned char key[SRV_TOKEN_KEY_LEN];
    char service[256];
    struct srv_jwt_claims claims = { 0 };
    int rc;

    srv_auth_service(auth->cfg, service, sizeof service);
    if ((rc = srv_auth_token_key(auth, key, err)) != 0)
        return rc;
    int64_t now = (int64_t)time(NULL);
    if ((rc = srv_jwt_verify(key, text, service, now, &claims, err)) != 0)
        goto cleanup;
    if (claims.access_token > 0) {
        sw_db *db = NULL;
        if (store == NULL || reg_store_db(store, &db, NULL) != 0 ||
            !srv_token_alive(db, claims.access_token, now)) {
            rc = sw_error_set(err, SRV_E_UNAUTHORIZED,
                              "the access token behind this bearer token was revoked or expired");
            goto cleanup;
        }
    }
    if (claims.sub && !user_known(auth, claims.sub)) {
        rc = sw_error_set(err, SRV_E_UNAUTHORIZED, "invalid bearer token");
        goto cleanup;
    }
    if ((rc = scopes_copy(&claims.scopes, scopes, err)) != 0)
        goto cleanup;
    *user = claims.sub;
    claims.sub = NULL;
cleanup:
    memset(key, 0, sizeof key);
    srv_jwt_claims_clear(&claims);
    return rc;
}

int srv_auth_identify(srv_auth *auth, reg_store *store, const char *authorization, char **user,
                      struct reg_scopes **scopes, sw_error **err)
{
    *user = NULL;
    *scopes = NULL;
    if (auth == NULL || authorization == NULL)
        return 0;
    if (strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *text = authorization + 7;
        while (*text == ' ')
            text++;
        if (srv_token_is_access_token(text))
            return identify_access_token(auth, store, NULL, text, user, scopes, err);
        return identify_jwt(auth, store, text, user, scopes, err);
    }
    if (strncasecmp(authorization, "Basic ", 6) == 0) {
        char decoded[CREDENTIALS_MAX];
        const char *b64 = authorization + 6;
        while (*b64 == ' ')
            b64++;
        if (base64_decode(b64, decoded, sizeof decoded) == 0) {
            char *colon = strchr(decoded, ':');
            if (colon && srv_token_is_access_token(colon + 1)) {
                *colon = '\0';
                int rc = identify_access_token(auth, store, decoded, colon + 1, user, scopes, err);
                memset(decoded, 0, sizeof decoded);
                return rc;
            }
        }
        memset(decoded, 0, sizeof decoded);
    }
    return srv_auth_check(auth, authorization, user, err);
}
