/*
 * test_tags.c - worker/tags.c: template checking (every placeholder, the
 * errors a repository's config gets), rendering into valid OCI tags, the
 * semver expansion with its immutable version tag, and semver parsing.
 */
#include "worker/tags.h"
#include "tests/unit/test.h"

#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static void expect_template_error(const char *tmpl, int max_group, const char *want)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_tags_check_template(tmpl, max_group, &err), SW_EINVAL);
    CHECK(err != NULL && strstr(sw_error_message(err), want) != NULL);
    if (err && strstr(sw_error_message(err), want) == NULL)
        fprintf(stderr, "  %s -> %s\n", tmpl, sw_error_message(err));
    sw_error_clear(&err);
}

static void test_check_template(void)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_tags_check_template("latest", 0, &err), 0);
    CHECK_INT_EQ(wrk_tags_check_template("", 0, &err), 0);
    CHECK_INT_EQ(
        wrk_tags_check_template("{sourceref}-{run_id}-{commit}-{commit:7}-{date}", 0, &err), 0);
    CHECK_INT_EQ(wrk_tags_check_template("v{\\1}.{\\2}", 2, &err), 0);
    CHECK_INT_EQ(wrk_tags_check_template("{commit:1}{commit:40}", 0, &err), 0);
    CHECK(err == NULL);

    expect_template_error("a}b", 0, "'}' without '{'");
    expect_template_error("{branch}", 0, "unknown placeholder {branch}");
    expect_template_error("{sourceref", 0, "unknown placeholder");
    expect_template_error("{commit:0}", 0, "unknown placeholder");
    expect_template_error("{commit:41}", 0, "unknown placeholder");
    expect_template_error("{commit:7x}", 0, "unknown placeholder");
    expect_template_error("{\\0}", 9, "unknown placeholder");
    expect_template_error("{\\1}", 0, "needs a /regex/ source with capture groups");
    expect_template_error("{\\3}", 2, "is beyond the regex's groups");
}

static struct wrk_rule rule_with(char **tags, size_t n, int semver)
{
    struct wrk_rule r;
    memset(&r, 0, sizeof(r));
    r.tags = tags;
    r.n_tags = n;
    r.semver = semver;
    return r;
}

static void test_render(void)
{
    char *templates[] = { "latest", "{sourceref}", "sha-{commit:7}", "{run_id}",
                          "{date}", "latest",      "c-{commit}" };
    struct wrk_rule rule = rule_with(templates, 7, 0);
    struct wrk_tag_context ctx = {
        .source_ref = "feature/login",
        .run_id = "ca7",
        .commit = COMMIT,
        .commit_time = 1700000000 /* 2023-11-14 UTC */
    };
    struct wrk_tag *tags = NULL;
    size_t n = 0;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_tags_render(&rule, &ctx, &tags, &n, &err), 0);
    CHECK_INT_EQ(n, 6); /* the second "latest" is folded */
    if (n == 6) {
        CHECK_STR_EQ(tags[0].name, "latest");
        CHECK_STR_EQ(tags[1].name, "feature-login"); /* '/' is not allowed in a tag */
        CHECK_STR_EQ(tags[2].name, "sha-0123456");
        CHECK_STR_EQ(tags[3].name, "ca7");
        CHECK_STR_EQ(tags[4].name, "20231114");
        CHECK_STR_EQ(tags[5].name, "c-" COMMIT);
        for (size_t i = 0; i < n; i++)
            CHECK_INT_EQ(tags[i].immutable, 0);
    }
    wrk_tags_free(tags, n);
}

static void test_render_groups_and_sanitizing(void)
{
    char *templates[] = { "v{\\1}-{\\2}", "{\\3}x", "{sourceref}" };
    struct wrk_rule rule = rule_with(templates, 3, 0);
    struct wrk_match match;
    memset(&match, 0, sizeof(match));
    match.groups[0] = "release/1.2";
    match.groups[1] = "1";
    match.groups[2] = "2";
    match.n_groups = 3;
    struct wrk_tag_context ctx = { .source_ref = ".hidden name",
                                   .commit = COMMIT,
                                   .match = &match };
    struct wrk_tag *tags = NULL;
    size_t n = 0;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_tags_render(&rule, &ctx, &tags, &n, &err), 0);
    CHECK_INT_EQ(n, 3);
    if (n == 3) {
        CHECK_STR_EQ(tags[0].name, "v1-2");
        CHECK_STR_EQ(tags[1].name, "x"); /* an unset group is empty */
        CHECK_STR_EQ(tags[2].name, "_hidden-name");
    }
    wrk_tags_free(tags, n);

    /* a leading '-' becomes '_', and a long tag is cut at 128 */
    char long_ref[300];
    long_ref[0] = '-';
    memset(long_ref + 1, 'a', 250);
    long_ref[251] = '\0';
    char *one[] = { "{sourceref}" };
    rule = rule_with(one, 1, 0);
    ctx.source_ref = long_ref;
    CHECK_INT_EQ(wrk_tags_render(&rule, &ctx, &tags, &n, &err), 0);
    CHECK_INT_EQ(n, 1);
    if (n == 1) {
        CHECK_INT_EQ(strlen(tags[0].name), 128);
        CHECK(tags[0].name[0] == '_');
    }
    wrk_tags_free(tags, n);
}

static void test_render_errors(void)
{
    struct wrk_tag *tags = (struct wrk_tag *)1;
    size_t n = 99;
    sw_error *err = NULL;
    char *empty[] = { "latest", "{\\1}" };
    struct wrk_rule rule = rule_with(empty, 2, 0);
    struct wrk_tag_context ctx = { .source_ref = "main", .commit = COMMIT };
    CHECK_INT_EQ(wrk_tags_render(&rule, &ctx, &tags, &n, &err), SW_EINVAL);
    CHECK(err && strstr(sw_error_message(err), "gives an empty tag for main"));
    CHECK(tags == NULL);
    CHECK_INT_EQ(n, 0);
    sw_error_clear(&err);

    char *bad[] = { "{nope}" };
    rule = rule_with(bad, 1, 0);
    CHECK_INT_EQ(wrk_tags_render(&rule, &ctx, &tags, &n, &err), SW_EINVAL);
    CHECK(err && strstr(sw_error_message(err), "bad placeholder"));
    sw_error_clear(&err);

    rule = rule_with(NULL, 0, 1);
    ctx.source_ref = "release-7";
    CHECK_INT_EQ(wrk_tags_render(&rule, &ctx, &tags, &n, &err), SW_EINVAL);
    CHECK(err && strstr(sw_error_message(err), "tag release-7 is not a semantic version"));
    sw_error_clear(&err);
}

static void test_semver_tags(void)
{
    char *extra[] = { "latest", "stable" };
    struct wrk_rule rule = rule_with(extra, 2, 1);
    struct wrk_tag_context ctx = { .source_ref = "v2.1.5+build.7", .commit = COMMIT };
    struct wrk_tag *tags = NULL;
    size_t n = 0;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_tags_render(&rule, &ctx, &tags, &n, &err), 0);
    CHECK_INT_EQ(n, 5);
    if (n == 5) {
        CHECK_STR_EQ(tags[0].name, "2.1.5");
        CHECK_INT_EQ(tags[0].immutable, 1);
        CHECK_STR_EQ(tags[1].name, "2.1");
        CHECK_INT_EQ(tags[1].immutable, 0);
        CHECK_STR_EQ(tags[2].name, "2");
        CHECK_STR_EQ(tags[3].name, "latest"); /* once, though the rule names it too */
        CHECK_STR_EQ(tags[4].name, "stable");
    }
    wrk_tags_free(tags, n);

    /* a pre-release gives only itself */
    rule = rule_with(NULL, 0, 1);
    ctx.source_ref = "v2.2.0-rc.1";
    CHECK_INT_EQ(wrk_tags_render(&rule, &ctx, &tags, &n, &err), 0);
    CHECK_INT_EQ(n, 1);
    if (n == 1) {
        CHECK_STR_EQ(tags[0].name, "2.2.0-rc.1");
        CHECK_INT_EQ(tags[0].immutable, 1);
    }
    wrk_tags_free(tags, n);
}

static void test_semver_parse(void)
{
    struct wrk_semver v;
    CHECK(wrk_semver_parse("1.2.3", &v));
    CHECK_INT_EQ(v.major, 1);
    CHECK_INT_EQ(v.minor, 2);
    CHECK_INT_EQ(v.patch, 3);
    CHECK_STR_EQ(v.prerelease, "");
    CHECK(wrk_semver_parse("V0.0.0", &v));
    CHECK(wrk_semver_parse("v10.20.30-alpha.1-x+sha.abc", &v));
    CHECK_STR_EQ(v.prerelease, "alpha.1-x");
    CHECK_INT_EQ(v.major, 10);

    const char *bad[] = { "",         "v",        "1",      "1.2",        "1.2.3.4",
                          "01.2.3",   "1.02.3",   "1.2.03", "1.2.3-",     "1.2.3-a..b",
                          "1.2.3-.a", "1.2.3-a.", "1.2.3+", "1.2.3-a_b",  "1.2.3+a_b",
                          "x1.2.3",   "1.2.3 ",   "-1.2.3", "1.2.3-a.+b", "vv1.2.3" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int ok = wrk_semver_parse(bad[i], &v);
        if (ok)
            fprintf(stderr, "  \"%s\" parsed as a semver\n", bad[i]);
        CHECK(!ok);
    }
    /* a pre-release that does not fit its buffer is refused, not cut */
    char big[200] = "1.0.0-";
    memset(big + 6, 'a', 150);
    big[156] = '\0';
    CHECK(!wrk_semver_parse(big, &v));
}

int main(void)
{
    RUN(test_check_template);
    RUN(test_render);
    RUN(test_render_groups_and_sanitizing);
    RUN(test_render_errors);
    RUN(test_semver_tags);
    RUN(test_semver_parse);
    return TEST_EXIT();
}
