/*
 * test_client_auth.c - WWW-Authenticate challenges as Docker Hub, GHCR and
 * Distribution send them (registry/client.c: reg_auth_challenge_parse).
 */
#include "registry/client.h"
#include "tests/unit/test.h"

static void test_docker_hub_bearer(void)
{
    struct reg_auth_challenge c;
    int rc = reg_auth_challenge_parse(
        "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
        "scope=\"repository:library/busybox:pull\"",
        &c, NULL);
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(c.scheme, "bearer");
    CHECK_STR_EQ(c.realm, "https://auth.docker.io/token");
    CHECK_STR_EQ(c.service, "registry.docker.io");
    CHECK_STR_EQ(c.scope, "repository:library/busybox:pull");
    reg_auth_challenge_release(&c);
}

static void test_spacing_case_and_escapes(void)
{
    struct reg_auth_challenge c;
    int rc =
        reg_auth_challenge_parse("  bearer   Realm = \"https://ghcr.io/token\" , SERVICE=ghcr.io ,"
                                 "scope=\"repository:o/\\\"r\\\":pull\"",
                                 &c, NULL);
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(c.scheme, "bearer");
    CHECK_STR_EQ(c.realm, "https://ghcr.io/token");
    CHECK_STR_EQ(c.service, "ghcr.io");
    CHECK_STR_EQ(c.scope, "repository:o/\"r\":pull");
    reg_auth_challenge_release(&c);

    /* no scope (a /v2/ ping) is fine: the client then asks for its own */
    rc = reg_auth_challenge_parse("Bearer realm=\"http://127.0.0.1:1/t\"", &c, NULL);
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(c.realm, "http://127.0.0.1:1/t");
    CHECK(c.service == NULL && c.scope == NULL);
    reg_auth_challenge_release(&c);
}

static void test_basic(void)
{
    struct reg_auth_challenge c;
    CHECK_INT_EQ(reg_auth_challenge_parse("Basic realm=\"test\"", &c, NULL), 0);
    CHECK_STR_EQ(c.scheme, "basic");
    CHECK_STR_EQ(c.realm, "test");
    reg_auth_challenge_release(&c);

    CHECK_INT_EQ(reg_auth_challenge_parse("Basic", &c, NULL), 0);
    CHECK_STR_EQ(c.scheme, "basic");
    CHECK(c.realm == NULL);
    reg_auth_challenge_release(&c);
}

static void test_several_challenges_prefer_bearer(void)
{
    struct reg_auth_challenge c;
    /* several WWW-Authenticate headers are joined with ", " by the client */
    int rc = reg_auth_challenge_parse(
        "Basic realm=\"r1\", Negotiate abc==, Bearer realm=\"https://a/t\",service=\"s\"", &c,
        NULL);
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(c.scheme, "bearer");
    CHECK_STR_EQ(c.realm, "https://a/t");
    CHECK_STR_EQ(c.service, "s");
    reg_auth_challenge_release(&c);

    /* a Bearer challenge without a realm is useless: Basic is used */
    rc = reg_auth_challenge_parse("Bearer service=\"s\", Basic realm=\"x\"", &c, NULL);
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(c.scheme, "basic");
    CHECK_STR_EQ(c.realm, "x");
    reg_auth_challenge_release(&c);
}

static void test_unusable(void)
{
    static const char *const bad[] = {
        "",
        "Negotiate",
        "Digest realm=\"x\", nonce=\"y\"",
        "Bearer",
        "Bearer realm=\"\"",
        "=\"\",,,",
        "Bearer realm=\"unterminated",
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        struct reg_auth_challenge c;
        sw_error *err = NULL;
        int rc = reg_auth_challenge_parse(bad[i], &c, &err);
        if (i == 6) {
            /* an unterminated quote still yields the realm read so far */
            CHECK_INT_EQ(rc, 0);
            CHECK_STR_EQ(c.realm, "unterminated");
            reg_auth_challenge_release(&c);
            continue;
        }
        CHECK_INT_EQ(rc, SW_EINVAL);
        CHECK(err && strstr(sw_error_message(err), "WWW-Authenticate") != NULL);
        CHECK(c.scheme == NULL);
        sw_error_clear(&err);
    }
    struct reg_auth_challenge c;
    CHECK_INT_EQ(reg_auth_challenge_parse(NULL, &c, NULL), SW_EINVAL);
}

int main(void)
{
    RUN(test_docker_hub_bearer);
    RUN(test_spacing_case_and_escapes);
    RUN(test_basic);
    RUN(test_several_challenges_prefer_bearer);
    RUN(test_unusable);
    return TEST_EXIT();
}
