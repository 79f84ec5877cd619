/*
 * test_access.c - registry/access.c: the per-repository rules with
 * `anonymous` and `*`, the old anonymous_pull, and token scopes (parse,
 * format, match).
 */
#include <stdlib.h>
#include <string.h>

#include "registry/access.h"
#include "tests/unit/test.h"

static char *users_a[] = { "alice", NULL };
static char *users_anon[] = { "anonymous", NULL };
static char *users_any[] = { "*", NULL };

static void test_rules_with_anonymous(void)
{
    struct sw_access_rule rules[] = {
        { "team/*", users_a, 1, 1 },
        { "pub/*", users_anon, 1, 0 },
        { "open/*", users_any, 1, 0 },
    };
    struct sw_config cfg = { 0 };
    cfg.htpasswd = "/nonexistent";
    cfg.rules = rules;
    cfg.n_rules = 3;

    CHECK_INT_EQ(reg_access_for(&cfg, "alice", "team/app"), REG_ACCESS_PULL | REG_ACCESS_PUSH);
    CHECK_INT_EQ(reg_access_for(&cfg, "bob", "team/app"), 0);
    CHECK_INT_EQ(reg_access_for(&cfg, NULL, "team/app"), 0);
    /* a rule naming anonymous applies to everyone */
    CHECK_INT_EQ(reg_access_for(&cfg, NULL, "pub/app"), REG_ACCESS_PULL);
    CHECK_INT_EQ(reg_access_for(&cfg, "bob", "pub/app"), REG_ACCESS_PULL);
    /* "*" is any logged-in user, not anonymous */
    CHECK_INT_EQ(reg_access_for(&cfg, "bob", "open/x"), REG_ACCESS_PULL);
    CHECK_INT_EQ(reg_access_for(&cfg, NULL, "open/x"), 0);
    CHECK_INT_EQ(reg_access_anonymous_reads(&cfg), 1);

    cfg.n_rules = 1;
    CHECK_INT_EQ(reg_access_anonymous_reads(&cfg), 0);
    /* the old key: anonymous may pull everything */
    cfg.anonymous_pull = 1;
    CHECK_INT_EQ(reg_access_for(&cfg, NULL, "team/app"), REG_ACCESS_PULL);
    CHECK_INT_EQ(reg_access_anonymous_reads(&cfg), 1);
    /* no rules: users may do everything, anonymous what anonymous_pull says */
    cfg.n_rules = 0;
    cfg.anonymous_pull = 0;
    CHECK_INT_EQ(reg_access_for(&cfg, "bob", "x/y"), REG_ACCESS_PULL | REG_ACCESS_PUSH);
    CHECK_INT_EQ(reg_access_for(&cfg, NULL, "x/y"), 0);
    /* no auth at all: everything */
    cfg.htpasswd = NULL;
    CHECK_INT_EQ(reg_access_for(&cfg, NULL, "x/y"), REG_ACCESS_PULL | REG_ACCESS_PUSH);
}

static void test_scopes(void)
{
    struct reg_scopes s = { 0 };
    sw_error *err = NULL;

    CHECK_INT_EQ(reg_scopes_parse("repository:team/*:pull,push", &s, NULL), 0);
    CHECK_INT_EQ(reg_scopes_parse("repository:a/b:pull repository:c:push,"
                                  "repository:d/*:*",
                                  &s, NULL),
                 0);
    CHECK_INT_EQ((int)s.n, 4);
    CHECK_INT_EQ(reg_scopes_access(&s, "team/app"), REG_ACCESS_PULL | REG_ACCESS_PUSH);
    CHECK_INT_EQ(reg_scopes_access(&s, "team/a/b"), REG_ACCESS_PULL | REG_ACCESS_PUSH);
    CHECK_INT_EQ(reg_scopes_access(&s, "a/b"), REG_ACCESS_PULL);
    CHECK_INT_EQ(reg_scopes_access(&s, "c"), REG_ACCESS_PUSH);
    CHECK_INT_EQ(reg_scopes_access(&s, "d/x"), REG_ACCESS_PULL | REG_ACCESS_PUSH);
    CHECK_INT_EQ(reg_scopes_access(&s, "other"), 0);
    char *text = reg_scopes_format(&s);
    CHECK_STR_EQ(text, "repository:team/*:pull,push repository:a/b:pull repository:c:push "
                       "repository:d/*:pull,push");
    struct reg_scopes back = { 0 };
    CHECK_INT_EQ(reg_scopes_parse(text, &back, NULL), 0);
    CHECK_INT_EQ((int)back.n, 4);
    free(text);
    reg_scopes_clear(&back);
    reg_scopes_clear(&s);

    static const char *const bad[] = { "",
                                       "registry:catalog:*",
                                       "repository:team/app",
                                       "repository::pull",
                                       "repository:Team/App:pull",
                                       "repository:a:delete",
                                       "repository:a:",
                                       "repository:a b:pull",
                                       NULL };
    for (size_t i = 0; bad[i]; i++) {
        CHECK_INT_EQ(reg_scopes_parse(bad[i], &s, &err), SW_EINVAL);
        sw_error_clear(&err);
        reg_scopes_clear(&s);
    }
    CHECK_STR_EQ(reg_access_actions(REG_ACCESS_PUSH), "push");
}

/* Found by fuzz_scopes: scopes under the input limit whose canonical form
 * ("*" written out as "pull,push") is over it parsed, but what was stored
 * or put into a token from them did not parse again. */
static void test_scopes_canonical_limit(void)
{
    struct reg_scopes s = { 0 };
    sw_error *err = NULL;
    char text[4097];
    size_t n = 0;
    while (n + 16 <= 4096) {
        memcpy(text + n, "repository:ab:*,", 16);
        n += 16;
    }
    text[n] = '\0';
    CHECK_INT_EQ(reg_scopes_parse(text, &s, &err), SW_EINVAL);
    CHECK(err != NULL && strstr(err->message, "too long") != NULL);
    sw_error_clear(&err);
    reg_scopes_clear(&s);

    /* a third of it is fine, and its canonical form parses back */
    text[n / 3 / 16 * 16] = '\0';
    CHECK_INT_EQ(reg_scopes_parse(text, &s, NULL), 0);
    char *canonical = reg_scopes_format(&s);
    struct reg_scopes back = { 0 };
    CHECK_INT_EQ(reg_scopes_parse(canonical, &back, NULL), 0);
    CHECK_INT_EQ((int)back.n, (int)s.n);
    free(canonical);
    reg_scopes_clear(&back);
    reg_scopes_clear(&s);
}

int main(void)
{
    RUN(test_rules_with_anonymous);
    RUN(test_scopes);
    RUN(test_scopes_canonical_limit);
    return TEST_EXIT();
}
