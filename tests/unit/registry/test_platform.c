/*
 * test_platform.c - registry/platform.c: the host platform, parsing and
 * normalising the way containerd does it, matching an image config, and
 * selection from an index.
 */
#include <jansson.h>
#include <string.h>

#include "registry/platform.h"
#include "tests/unit/test.h"

static void check_platform(const char *text, const char *expected)
{
    struct reg_platform p;
    char formatted[100];
    CHECK_INT_EQ(reg_platform_parse(text, &p, NULL), 0);
    reg_platform_format(&p, formatted);
    CHECK_STR_EQ(formatted, expected);
}

static void test_parse_normalises(void)
{
    check_platform("linux/amd64", "linux/amd64");
    check_platform("Linux/x86_64", "linux/amd64");
    check_platform("linux/amd64/v1", "linux/amd64");
    check_platform("linux/amd64/v3", "linux/amd64/v3");
    check_platform("linux/aarch64", "linux/arm64");
    check_platform("linux/arm64/v8", "linux/arm64");
    check_platform("linux/arm", "linux/arm/v7");
    check_platform("linux/armhf", "linux/arm/v7");
    check_platform("linux/armel", "linux/arm/v6");
    check_platform("linux/arm/6", "linux/arm/v6");
    check_platform("linux/i386", "linux/386");

    struct reg_platform host;
    CHECK_INT_EQ(reg_platform_parse(NULL, &host, NULL), 0);
    CHECK_STR_EQ(host.os, "linux");
    CHECK(host.architecture[0] != '\0');

    /* one host platform: the struct, the text and a parse of the text agree */
    struct reg_platform again, reparsed;
    char text[100];
    reg_platform_host(&again);
    reg_platform_format(&again, text);
    CHECK_STR_EQ(text, reg_platform_host_text());
    CHECK_INT_EQ(reg_platform_parse(reg_platform_host_text(), &reparsed, NULL), 0);
    CHECK_INT_EQ(reg_platform_rank(&again, &reparsed), 0);
    CHECK_INT_EQ(memcmp(&host, &again, sizeof(host)), 0);
}

static void test_of_json_and_rank(void)
{
    struct reg_platform want, have;
    json_t *config =
        json_pack("{s:s, s:s, s:s}", "os", "linux", "architecture", "aarch64", "variant", "v8");
    CHECK_INT_EQ(reg_platform_of_json(config, &have), 0);
    CHECK_STR_EQ(have.architecture, "arm64");
    CHECK_STR_EQ(have.variant, "");
    CHECK_INT_EQ(reg_platform_parse("linux/arm64/v8", &want, NULL), 0);
    CHECK_INT_EQ(reg_platform_rank(&want, &have), 0);
    json_decref(config);
    config = json_pack("{s:s, s:s}", "os", "unknown", "architecture", "unknown");
    CHECK_INT_EQ(reg_platform_of_json(config, &have), -1);
    json_decref(config);
    CHECK_INT_EQ(reg_platform_of_json(NULL, &have), -1);
    /* arm v7 runs v6 (distance 1), not v8; amd64 runs only amd64 */
    struct reg_platform v6, v8, amd64;
    reg_platform_parse("linux/arm/v7", &want, NULL);
    reg_platform_parse("linux/arm/v6", &v6, NULL);
    reg_platform_parse("linux/arm/v8", &v8, NULL);
    reg_platform_parse("linux/amd64", &amd64, NULL);
    CHECK_INT_EQ(reg_platform_rank(&want, &v6), 1);
    CHECK_INT_EQ(reg_platform_rank(&want, &v8), -1);
    CHECK_INT_EQ(reg_platform_rank(&amd64, &want), -1);
}

static void test_parse_rejects(void)
{
    static const char *const bad[] = { "linux",        "linux/",    "/amd64", "linux/amd64/v2/x",
                                       "linux/am d64", "linux//v7", NULL };
    for (int i = 0; bad[i]; i++) {
        struct reg_platform p;
        sw_error *err = NULL;
        CHECK_INT_EQ(reg_platform_parse(bad[i], &p, &err), SW_EINVAL);
        CHECK(err && strstr(sw_error_message(err), "os/arch") != NULL);
        sw_error_clear(&err);
    }
}

/* The digest of the entry reg_index_select picks for `want`, or NULL. */
static const char *select_digest(json_t *index, const char *want, sw_error **err)
{
    struct reg_platform p;
    json_t *desc = NULL;
    if (reg_platform_parse(want, &p, NULL) != 0 || reg_index_select(index, &p, &desc, err) != 0)
        return NULL;
    return json_string_value(json_object_get(desc, "digest"));
}

static const char *index_text =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"manifests\":["
    "{\"digest\":\"att\",\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
    "{\"digest\":\"noplat\"},"
    "{\"digest\":\"arm64\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":"
    "\"v8\"}},"
    "{\"digest\":\"amd64\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"digest\":\"amd64v3\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\",\"variant\":"
    "\"v3\"}},"
    "{\"digest\":\"armv6\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":"
    "\"v6\"}},"
    "{\"digest\":\"armv5\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":"
    "\"v5\"}},"
    "{\"digest\":\"win\",\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}}"
    "]}";

static void test_select(void)
{
    json_t *index = json_loads(index_text, 0, NULL);
    CHECK(index != NULL);
    CHECK_STR_EQ(select_digest(index, "linux/amd64", NULL), "amd64");
    CHECK_STR_EQ(select_digest(index, "linux/amd64/v3", NULL), "amd64v3");
    /* v4 runs v3 best (nearest lower variant) */
    CHECK_STR_EQ(select_digest(index, "linux/amd64/v4", NULL), "amd64v3");
    CHECK_STR_EQ(select_digest(index, "linux/amd64/v2", NULL), "amd64");
    /* the index says arm64/v8, the request says arm64: the same */
    CHECK_STR_EQ(select_digest(index, "linux/arm64", NULL), "arm64");
    /* arm/v7 has no exact entry: v6 is the nearest it runs, not v5 */
    CHECK_STR_EQ(select_digest(index, "linux/arm/v7", NULL), "armv6");
    CHECK_STR_EQ(select_digest(index, "linux/arm/v5", NULL), "armv5");
    CHECK_STR_EQ(select_digest(index, "windows/amd64", NULL), "win");

    sw_error *err = NULL;
    CHECK(select_digest(index, "linux/s390x", &err) == NULL);
    CHECK_INT_EQ(sw_error_code(err), SW_ENOTFOUND);
    CHECK(err && strstr(sw_error_message(err), "linux/s390x") != NULL);
    CHECK(err && strstr(sw_error_message(err), "linux/arm64, linux/amd64") != NULL);
    CHECK(err && strstr(sw_error_message(err), "unknown") == NULL);
    sw_error_clear(&err);
    json_decref(index);
}

static void test_select_malformed(void)
{
    static const char *const docs[] = {
        "{}",
        "{\"manifests\":{}}",
        "{\"manifests\":[1,\"x\",null]}",
        "{\"manifests\":[{\"platform\":\"linux/amd64\"}]}",
        "{\"manifests\":[{\"platform\":{\"os\":1,\"architecture\":[]}}]}",
        NULL,
    };
    struct reg_platform want;
    CHECK_INT_EQ(reg_platform_parse("linux/amd64", &want, NULL), 0);
    for (int i = 0; docs[i]; i++) {
        json_t *index = json_loads(docs[i], 0, NULL), *desc = NULL;
        sw_error *err = NULL;
        CHECK(reg_index_select(index, &want, &desc, &err) < 0);
        CHECK(desc == NULL && err != NULL);
        sw_error_clear(&err);
        json_decref(index);
    }
}

int main(void)
{
    RUN(test_parse_normalises);
    RUN(test_parse_rejects);
    RUN(test_of_json_and_rank);
    RUN(test_select);
    RUN(test_select_malformed);
    return TEST_EXIT();
}
