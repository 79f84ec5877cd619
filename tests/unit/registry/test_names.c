/*
 * test_names.c - registry/names.c: the spec's grammars for repository
 * names, tags and digests; what a client would get NAME_INVALID,
 * TAG_INVALID or DIGEST_INVALID for.
 */
#include <string.h>

#include "registry/names.h"
#include "tests/unit/test.h"

static void test_repository_names(void)
{
    const char *valid[] = { "a",        "library/busybox", "demo/hello",       "a0/b1/c2",
                            "my.app",   "my_app",          "my__app",          "my-app",
                            "my---app", "a.b-c_d__e",      "ghcr.io/team/app", "0",
                            "x/y/z/w" };
    const char *invalid[] = { "",      "A",   "Demo/hello", "/a", "a/",   "a//b",   "a..b", "a._b",
                              "a___b", "-a",  "a-",         "_a", ".a",   "a/../b", "..",   "a/.b",
                              "a b",   "a:b", "a@b",        "ä",  "a/-b", "a_-b" };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        if (!reg_name_valid(valid[i]))
            fprintf(stderr, "  rejected valid name '%s'\n", valid[i]);
        CHECK(reg_name_valid(valid[i]));
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (reg_name_valid(invalid[i]))
            fprintf(stderr, "  accepted invalid name '%s'\n", invalid[i]);
        CHECK(!reg_name_valid(invalid[i]));
    }
    CHECK(!reg_name_valid(NULL));
}

static void test_repository_name_length_limit(void)
{
    char name[300];
    memset(name, 'a', sizeof(name));
    name[REG_NAME_MAX] = '\0';
    CHECK(reg_name_valid(name));
    name[REG_NAME_MAX] = 'a';
    name[REG_NAME_MAX + 1] = '\0';
    CHECK(!reg_name_valid(name));
}

/* The remote-image cache's names: never valid from outside, accepted by
 * the store. */
static void test_remote_cache_names(void)
{
    CHECK(!reg_name_valid("_remote/docker.io/library/alpine"));
    CHECK(reg_name_is_remote("_remote/docker.io/library/alpine"));
    CHECK(reg_name_valid_stored("_remote/docker.io/library/alpine"));
    CHECK(reg_name_valid_stored("docker.io/library/alpine"));
    CHECK(!reg_name_is_remote("docker.io/library/alpine"));
    CHECK(!reg_name_is_remote("_remote/"));
    CHECK(!reg_name_is_remote("_remote/../x"));
    CHECK(!reg_name_valid_stored("_remote/Upper"));
    CHECK(!reg_name_valid_stored("_other/x"));
    CHECK(!reg_name_is_remote(NULL));
}

static void test_tags(void)
{
    char tag[200];
    CHECK(reg_tag_valid("latest"));
    CHECK(reg_tag_valid("v1.2.3"));
    CHECK(reg_tag_valid("_private"));
    CHECK(reg_tag_valid("Release-2024_01.x"));
    CHECK(reg_tag_valid("sha-abc1234"));
    CHECK(!reg_tag_valid(""));
    CHECK(!reg_tag_valid(".hidden"));
    CHECK(!reg_tag_valid("-dash"));
    CHECK(!reg_tag_valid("a/b"));
    CHECK(!reg_tag_valid("a:b"));
    CHECK(!reg_tag_valid("a b"));
    CHECK(!reg_tag_valid(NULL));
    memset(tag, 'x', sizeof(tag));
    tag[REG_TAG_MAX] = '\0';
    CHECK(reg_tag_valid(tag));
    tag[REG_TAG_MAX] = 'x';
    tag[REG_TAG_MAX + 1] = '\0';
    CHECK(!reg_tag_valid(tag));
}

static void test_digests(void)
{
    char d[200];
    const char *hex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    snprintf(d, sizeof(d), "sha256:%s", hex64);
    CHECK(reg_digest_valid(d));
    d[10] = 'A'; /* upper-case hex */
    CHECK(!reg_digest_valid(d));
    snprintf(d, sizeof(d), "sha256:%.63s", hex64); /* short */
    CHECK(!reg_digest_valid(d));
    snprintf(d, sizeof(d), "sha256:%s0", hex64); /* long */
    CHECK(!reg_digest_valid(d));
    snprintf(d, sizeof(d), "sha512:%s%s", hex64, hex64);
    CHECK(reg_digest_valid(d));
    snprintf(d, sizeof(d), "sha512:%s", hex64); /* sha512 needs 128 */
    CHECK(!reg_digest_valid(d));
    snprintf(d, sizeof(d), "md5:%s", hex64);
    CHECK(!reg_digest_valid(d));
    snprintf(d, sizeof(d), "SHA256:%s", hex64);
    CHECK(!reg_digest_valid(d));
    CHECK(!reg_digest_valid("sha256:"));
    CHECK(!reg_digest_valid("sha256"));
    CHECK(!reg_digest_valid(""));
    CHECK(!reg_digest_valid(NULL));
}

static void test_reference_kind(void)
{
    CHECK(reg_reference_is_digest("sha256:abc"));
    CHECK(!reg_reference_is_digest("latest"));
}

int main(void)
{
    RUN(test_repository_names);
    RUN(test_repository_name_length_limit);
    RUN(test_remote_cache_names);
    RUN(test_tags);
    RUN(test_digests);
    RUN(test_reference_kind);
    return TEST_EXIT();
}
