/*
 * test_auth.c - server/auth.c: htpasswd files as `htpasswd -nbB` writes
 * them, Basic credentials, reloading on change, and the access rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "server/auth.h"
#include "server/http.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

/* One htpasswd line made by the real tool. */
static char *htpasswd_line(const char *user, const char *password)
{
    char cmd[256], line[512] = "";
    snprintf(cmd, sizeof cmd, "htpasswd -nbB -C 5 '%s' '%s'", user, password);
    FILE *p = popen(cmd, "r");
    if (p == NULL || fgets(line, sizeof line, p) == NULL) {
        if (p)
            pclose(p);
        return NULL;
    }
    pclose(p);
    line[strcspn(line, "\n")] = '\0';
    return strdup(line);
}

static char *basic(const char *user_colon_password)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = (const unsigned char *)user_colon_password;
    size_t n = strlen(user_colon_password);
    char *out = malloc(6 + 4 * (n / 3 + 1) + 1), *o;
    strcpy(out, "Basic ");
    o = out + 6;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        *o++ = tbl[v >> 18 & 63];
        *o++ = tbl[v >> 12 & 63];
        *o++ = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tbl[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static int check(srv_auth *auth, const char *creds, char **user)
{
    char *header = creds ? basic(creds) : NULL;
    int rc = srv_auth_check(auth, header, user, NULL);
    free(header);
    return rc;
}

static struct sw_config *config_with(const char *htpasswd_path)
{
    struct sw_config *cfg = calloc(1, sizeof *cfg);
    cfg->htpasswd = strdup(htpasswd_path);
    cfg->auth_realm = strdup("test-realm");
    return cfg;
}

static void free_config(struct sw_config *cfg)
{
    for (size_t i = 0; i < cfg->n_rules; i++)
        free(cfg->rules[i].repo_pattern);
    free(cfg->rules);
    free(cfg->htpasswd);
    free(cfg->auth_realm);
    free(cfg);
}

static void test_bcrypt_from_htpasswd(void)
{
    char *alice = htpasswd_line("alice", "s3cret pass");
    char *path = sw_path_join(dir, "htpasswd");
    char *text = NULL, *user = NULL;
    CHECK(alice != NULL && strncmp(alice, "alice:$2y$", 10) == 0);
    if (alice == NULL)
        return;
    CHECK(asprintf(&text, "# users\n%s\nbob:{SHA}fEqNCco3Yq9h5ZUglD3CZJT4lBs=\n\n", alice) > 0);
    CHECK_INT_EQ(sw_write_file_atomic(path, text, strlen(text), 0600, NULL), 0);
    struct sw_config *cfg = config_with(path);
    srv_auth *auth = NULL;
    CHECK_INT_EQ(srv_auth_new(cfg, &auth, NULL), 0);
    CHECK(auth != NULL);
    CHECK_STR_EQ(srv_auth_realm(auth), "test-realm");

    CHECK_INT_EQ(check(auth, "alice:s3cret pass", &user), 0);
    CHECK_STR_EQ(user, "alice");
    free(user);
    user = NULL;
    /* the second time comes from the cache, with the same answer */
    CHECK_INT_EQ(check(auth, "alice:s3cret pass", &user), 0);
    CHECK_STR_EQ(user, "alice");
    free(user);
    user = NULL;
    CHECK_INT_EQ(check(auth, "alice:wrong", &user), SRV_E_UNAUTHORIZED);
    CHECK(user == NULL);
    CHECK_INT_EQ(check(auth, "alice:s3cret pas", &user), SRV_E_UNAUTHORIZED);
    CHECK_INT_EQ(check(auth, "mallory:s3cret pass", &user), SRV_E_UNAUTHORIZED);
    /* non-bcrypt lines are ignored, not trusted */
    CHECK_INT_EQ(check(auth, "bob:password", &user), SRV_E_UNAUTHORIZED);
    /* no header and an empty user are anonymous */
    CHECK_INT_EQ(check(auth, NULL, &user), 0);
    CHECK(user == NULL);
    CHECK_INT_EQ(check(auth, ":", &user), 0);
    CHECK(user == NULL);
    /* malformed */
    CHECK_INT_EQ(srv_auth_check(auth, "Basic !!!", &user, NULL), SRV_E_UNAUTHORIZED);
    CHECK_INT_EQ(srv_auth_check(auth, "Bearer abc", &user, NULL), SRV_E_UNAUTHORIZED);
    CHECK_INT_EQ(check(auth, "nocolon", &user), SRV_E_UNAUTHORIZED);

    srv_auth_free(auth);
    free_config(cfg);
    free(text);
    free(path);
    free(alice);
}

static void test_reload_on_change(void)
{
    char *carol = htpasswd_line("carol", "one");
    char *carol2 = htpasswd_line("carol", "two");
    char *path = sw_path_join(dir, "htpasswd-reload");
    char *user = NULL;
    if (carol == NULL || carol2 == NULL)
        return;
    sw_write_file_atomic(path, carol, strlen(carol), 0600, NULL);
    struct sw_config *cfg = config_with(path);
    srv_auth *auth = NULL;
    CHECK_INT_EQ(srv_auth_new(cfg, &auth, NULL), 0);
    CHECK_INT_EQ(check(auth, "carol:one", &user), 0);
    free(user);
    user = NULL;
    sw_write_file_atomic(path, carol2, strlen(carol2), 0600, NULL);
    CHECK_INT_EQ(check(auth, "carol:one", &user), SRV_E_UNAUTHORIZED);
    CHECK_INT_EQ(check(auth, "carol:two", &user), 0);
    free(user);
    srv_auth_free(auth);
    free_config(cfg);
    free(path);
    free(carol);
    free(carol2);
}

static void test_missing_file_is_an_error(void)
{
    struct sw_config *cfg = config_with("/nonexistent/htpasswd");
    srv_auth *auth = NULL;
    sw_error *err = NULL;
    CHECK(srv_auth_new(cfg, &auth, &err) != 0);
    CHECK(auth == NULL);
    CHECK(strstr(sw_error_message(err), "/nonexistent/htpasswd") != NULL);
    sw_error_clear(&err);
    free_config(cfg);
}

static void test_rules(void)
{
    char *line = htpasswd_line("alice", "x");
    char *path = sw_path_join(dir, "htpasswd-rules");
    if (line == NULL)
        return;
    sw_write_file_atomic(path, line, strlen(line), 0600, NULL);
    struct sw_config *cfg = config_with(path);
    srv_auth *auth = NULL;
    CHECK_INT_EQ(srv_auth_new(cfg, &auth, NULL), 0);

    /* no rules: any authenticated user pulls and pushes; anonymous nothing */
    CHECK_INT_EQ(srv_auth_access_for(auth, "alice", "any/repo"), SRV_AUTH_PULL | SRV_AUTH_PUSH);
    CHECK_INT_EQ(srv_auth_access_for(auth, NULL, "any/repo"), 0);
    cfg->anonymous_pull = 1;
    CHECK_INT_EQ(srv_auth_access_for(auth, NULL, "any/repo"), SRV_AUTH_PULL);

    static char *alice_only[] = { "alice", NULL };
    static char *everyone[] = { "*", NULL };
    cfg->anonymous_pull = 0;
    cfg->rules = calloc(2, sizeof *cfg->rules);
    cfg->n_rules = 2;
    cfg->rules[0].repo_pattern = strdup("team/*");
    cfg->rules[0].users = alice_only;
    cfg->rules[0].can_push = 1;
    cfg->rules[1].repo_pattern = strdup("*");
    cfg->rules[1].users = everyone;
    cfg->rules[1].can_pull = 1;
    /* union of matching rules */
    CHECK_INT_EQ(srv_auth_access_for(auth, "alice", "team/app"), SRV_AUTH_PULL | SRV_AUTH_PUSH);
    CHECK_INT_EQ(srv_auth_access_for(auth, "alice", "team/app/web"), SRV_AUTH_PULL | SRV_AUTH_PUSH);
    CHECK_INT_EQ(srv_auth_access_for(auth, "alice", "other/app"), SRV_AUTH_PULL);
    CHECK_INT_EQ(srv_auth_access_for(auth, "bob", "team/app"), SRV_AUTH_PULL);
    CHECK_INT_EQ(srv_auth_access_for(auth, NULL, "team/app"), 0);
    CHECK_INT_EQ(srv_auth_access_for(NULL, NULL, "team/app"), SRV_AUTH_PULL | SRV_AUTH_PUSH);

    srv_auth_free(auth);
    free_config(cfg);
    free(path);
    free(line);
}

static void test_no_htpasswd_means_open(void)
{
    struct sw_config cfg = { 0 };
    srv_auth *auth = (srv_auth *)1;
    CHECK_INT_EQ(srv_auth_new(&cfg, &auth, NULL), 0);
    CHECK(auth == NULL);
}

int main(void)
{
    dir = scratch_dir("server-auth");
    RUN(test_bcrypt_from_htpasswd);
    RUN(test_reload_on_change);
    RUN(test_missing_file_is_an_error);
    RUN(test_rules);
    RUN(test_no_htpasswd_means_open);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
