/*
 * test_token.c - server/token.c: access tokens in a real database (only
 * the hash stored, verify, expiry, revoke) and signed registry tokens
 * (signature, tampering, expiry, audience, claims).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/db.h"
#include "core/fs.h"
#include "server/http.h"
#include "server/token.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

static void test_access_tokens(void)
{
    char *path = sw_path_join(dir, "tokens.db");
    sw_db *db = NULL;
    char *secret = NULL, *again = NULL;
    struct srv_token_info info;
    json_t *list = NULL;
    int64_t now = (int64_t)time(NULL);

    CHECK_INT_EQ(sw_db_open(path, 1, &db, NULL), 0);
    if (db == NULL)
        goto cleanup;
    CHECK_INT_EQ(srv_token_create(db, "alice", "ci", "repository:team/*:pull", 0, &secret, NULL),
                 0);
    CHECK(secret && strlen(secret) == 84 && srv_token_is_access_token(secret));
    CHECK_INT_EQ(srv_token_create(db, "alice", "ci", "repository:x:pull", 0, &again, NULL),
                 SW_EEXIST);

    CHECK_INT_EQ(srv_token_verify(db, secret, now, &info, NULL), 0);
    CHECK_STR_EQ(info.user, "alice");
    CHECK_STR_EQ(info.name, "ci");
    CHECK_STR_EQ(info.scopes, "repository:team/*:pull");
    srv_token_info_clear(&info);

    /* one changed character of the secret, of the id, or a cut: refused */
    char *wrong = strdup(secret);
    wrong[83] = wrong[83] == '0' ? '1' : '0';
    CHECK_INT_EQ(srv_token_verify(db, wrong, now, &info, NULL), SRV_E_UNAUTHORIZED);
    strcpy(wrong, secret);
    wrong[19] = wrong[19] == '0' ? '1' : '0';
    CHECK_INT_EQ(srv_token_verify(db, wrong, now, &info, NULL), SRV_E_UNAUTHORIZED);
    wrong[80] = '\0';
    CHECK_INT_EQ(srv_token_verify(db, wrong, now, &info, NULL), SRV_E_UNAUTHORIZED);
    CHECK_INT_EQ(srv_token_verify(db, "swp_", now, &info, NULL), SRV_E_UNAUTHORIZED);
    free(wrong);

    /* the list carries no secret */
    CHECK_INT_EQ(srv_token_list(db, "alice", &list, NULL), 0);
    CHECK_INT_EQ((int)json_array_size(list), 1);
    char *text = json_dumps(list, 0);
    CHECK(text && strstr(text, secret + 20) == NULL && strstr(text, "\"ci\"") != NULL);
    free(text);
    json_decref(list);
    list = NULL;
    CHECK_INT_EQ(srv_token_list(db, "bob", &list, NULL), 0);
    CHECK_INT_EQ((int)json_array_size(list), 0);

    /* expiry */
    CHECK_INT_EQ(srv_token_create(db, "alice", "short", "repository:x:pull", now + 5, &again, NULL),
                 0);
    CHECK_INT_EQ(srv_token_verify(db, again, now, &info, NULL), 0);
    CHECK(srv_token_alive(db, info.id, now));
    CHECK(!srv_token_alive(db, info.id, now + 5));
    srv_token_info_clear(&info);
    CHECK_INT_EQ(srv_token_verify(db, again, now + 5, &info, NULL), SRV_E_UNAUTHORIZED);

    /* revoke */
    CHECK_INT_EQ(srv_token_revoke(db, "alice", "ci", NULL), 0);
    CHECK_INT_EQ(srv_token_verify(db, secret, now, &info, NULL), SRV_E_UNAUTHORIZED);
    CHECK_INT_EQ(srv_token_revoke(db, "alice", "ci", NULL), SW_ENOTFOUND);
cleanup:
    json_decref(list);
    free(secret);
    free(again);
    sw_db_close(db);
    free(path);
}

static void test_signed_tokens(void)
{
    unsigned char key[SRV_TOKEN_KEY_LEN], other[SRV_TOKEN_KEY_LEN];
    struct srv_jwt_claims claims = { 0 }, got;
    int64_t now = (int64_t)time(NULL);

    CHECK_INT_EQ(srv_token_key_load(dir, key, NULL), 0);
    CHECK_INT_EQ(srv_token_key_load(dir, other, NULL), 0);
    CHECK(memcmp(key, other, sizeof key) == 0); /* made once, then read */
    char *key_path = sw_path_join(dir, "token.key");
    struct stat st;
    CHECK(stat(key_path, &st) == 0 && (st.st_mode & 0777) == 0600);
    free(key_path);

    claims.sub = "alice";
    claims.aud = "registry.test:5000";
    claims.expires_at = now + 300;
    claims.access_token = 7;
    reg_scopes_add(&claims.scopes, "team/app", REG_ACCESS_PULL | REG_ACCESS_PUSH, NULL);
    reg_scopes_add(&claims.scopes, "pub/app", REG_ACCESS_PULL, NULL);
    char *jwt = srv_jwt_sign(key, &claims, now);
    CHECK(jwt != NULL);
    if (jwt == NULL)
        goto cleanup;

    CHECK_INT_EQ(srv_jwt_verify(key, jwt, "registry.test:5000", now, &got, NULL), 0);
    CHECK_STR_EQ(got.sub, "alice");
    CHECK_INT_EQ((int)got.access_token, 7);
    CHECK_INT_EQ(reg_scopes_access(&got.scopes, "team/app"), REG_ACCESS_PULL | REG_ACCESS_PUSH);
    CHECK_INT_EQ(reg_scopes_access(&got.scopes, "pub/app"), REG_ACCESS_PULL);
    CHECK_INT_EQ(reg_scopes_access(&got.scopes, "team/other"), 0);
    srv_jwt_claims_clear(&got);

    CHECK_INT_EQ(srv_jwt_verify(key, jwt, "elsewhere", now, &got, NULL), SRV_E_UNAUTHORIZED);
    CHECK_INT_EQ(srv_jwt_verify(key, jwt, NULL, now + 300, &got, NULL), SRV_E_UNAUTHORIZED);
    other[0] ^= 1;
    CHECK_INT_EQ(srv_jwt_verify(other, jwt, NULL, now, &got, NULL), SRV_E_UNAUTHORIZED);

    /* a changed payload keeps the signature of the old one: refused */
    char *dot = strchr(jwt, '.');
    char *tampered = strdup(jwt);
    size_t at = (size_t)(dot - jwt) + 5;
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    CHECK_INT_EQ(srv_jwt_verify(key, tampered, NULL, now, &got, NULL), SRV_E_UNAUTHORIZED);
    free(tampered);
    static const char *const junk[] = { "", "a", "a.b", "a.b.c", "a.b.c.d", "..", NULL };
    for (size_t i = 0; junk[i]; i++)
        CHECK_INT_EQ(srv_jwt_verify(key, junk[i], NULL, now, &got, NULL), SRV_E_UNAUTHORIZED);

    /* an anonymous token has no subject */
    claims.sub = NULL;
    free(jwt);
    jwt = srv_jwt_sign(key, &claims, now);
    CHECK_INT_EQ(srv_jwt_verify(key, jwt, NULL, now, &got, NULL), 0);
    CHECK(got.sub == NULL);
    srv_jwt_claims_clear(&got);
cleanup:
    free(jwt);
    reg_scopes_clear(&claims.scopes);
}

int main(void)
{
    dir = scratch_dir("server-token");
    RUN(test_access_tokens);
    RUN(test_signed_tokens);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
