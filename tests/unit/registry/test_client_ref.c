/*
 * test_client_ref.c - image references as Docker normalises them
 * (registry/client.c: reg_ref_parse, reg_ref_format, reg_ref_endpoint_host).
 */
#include <stdlib.h>

#include "registry/client.h"
#include "tests/unit/test.h"

#define DIGEST "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void check_ref(const char *text, const char *domain, const char *path, const char *tag,
                      const char *digest)
{
    struct reg_ref ref;
    sw_error *err = NULL;
    int rc = reg_ref_parse(text, &ref, &err);
    CHECK_INT_EQ(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "  %s: %s\n", text, sw_error_message(err));
        sw_error_clear(&err);
        return;
    }
    CHECK_STR_EQ(ref.domain, domain);
    CHECK_STR_EQ(ref.path, path);
    CHECK_STR_EQ(ref.tag, tag);
    CHECK_STR_EQ(ref.digest, digest);
    reg_ref_release(&ref);
}

static void check_bad(const char *text, const char *message_part)
{
    struct reg_ref ref;
    sw_error *err = NULL;
    int rc = reg_ref_parse(text, &ref, &err);
    CHECK_INT_EQ(rc, SW_EINVAL);
    CHECK(err != NULL && strstr(sw_error_message(err), message_part) != NULL);
    if (err && strstr(sw_error_message(err), message_part) == NULL)
        fprintf(stderr, "  '%s' gave: %s\n", text, sw_error_message(err));
    CHECK(ref.domain == NULL && ref.path == NULL);
    sw_error_clear(&err);
}

static void test_docker_hub_short_names(void)
{
    check_ref("busybox", "docker.io", "library/busybox", "latest", NULL);
    check_ref("busybox:1.36", "docker.io", "library/busybox", "1.36", NULL);
    check_ref("library/busybox", "docker.io", "library/busybox", "latest", NULL);
    check_ref("user/app:v1", "docker.io", "user/app", "v1", NULL);
    check_ref("docker.io/busybox", "docker.io", "library/busybox", "latest", NULL);
    check_ref("index.docker.io/busybox:1", "docker.io", "library/busybox", "1", NULL);
    check_ref("docker.io/user/app", "docker.io", "user/app", "latest", NULL);
}

static void test_other_registries(void)
{
    check_ref("ghcr.io/o/r:tag", "ghcr.io", "o/r", "tag", NULL);
    check_ref("localhost/x", "localhost", "x", "latest", NULL);
    check_ref("localhost:5000/x:2", "localhost:5000", "x", "2", NULL);
    check_ref("host:5000/a/b@" DIGEST, "host:5000", "a/b", NULL, DIGEST);
    check_ref("host:5000/a/b:t@" DIGEST, "host:5000", "a/b", "t", DIGEST);
    check_ref("127.0.0.1:5000/test/busybox:1", "127.0.0.1:5000", "test/busybox", "1", NULL);
    check_ref("[::1]:5000/a", "[::1]:5000", "a", "latest", NULL);
    check_ref("quay.io/a/b/c/d", "quay.io", "a/b/c/d", "latest", NULL);
    /* an upper-case first component is a host, as in newer Docker */
    check_ref("Registry/app", "Registry", "app", "latest", NULL);
    /* no '/': "localhost:5000" is the image localhost with tag 5000 */
    check_ref("localhost:5000", "docker.io", "library/localhost", "5000", NULL);
}

static void test_format_and_endpoint(void)
{
    struct reg_ref ref;
    CHECK_INT_EQ(reg_ref_parse("busybox", &ref, NULL), 0);
    char *text = reg_ref_format(&ref);
    CHECK_STR_EQ(text, "docker.io/library/busybox:latest");
    CHECK_STR_EQ(reg_ref_endpoint_host(ref.domain), "registry-1.docker.io");
    free(text);
    reg_ref_release(&ref);

    CHECK_INT_EQ(reg_ref_parse("h:1/a@" DIGEST, &ref, NULL), 0);
    text = reg_ref_format(&ref);
    CHECK_STR_EQ(text, "h:1/a@" DIGEST);
    CHECK_STR_EQ(reg_ref_endpoint_host(ref.domain), "h:1");
    free(text);
    reg_ref_release(&ref);
}

static void test_bad_references(void)
{
    check_bad("", "empty");
    check_bad("Busybox", "lower-case");
    check_bad("ghcr.io/Owner/app", "lower-case");
    check_bad("busybox:", "bad tag");
    check_bad("busybox:-x", "bad tag");
    check_bad("busybox@sha256:abc", "bad digest");
    check_bad("busybox@" DIGEST "x", "bad digest");
    check_bad("/busybox", "bad repository name");
    check_bad("busybox/", "bad repository name");
    check_bad("a//b", "bad repository name");
    check_bad("ghcr.io/", "bad repository name");
    check_bad("bad_host.io:x/a", "bad registry host");
    check_bad("-host.io/a", "bad registry host");
    check_bad("busy box", "space");
    check_bad("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "64-character");
    char long_name[400];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    check_bad(long_name, "longer than");
}

int main(void)
{
    RUN(test_docker_hub_short_names);
    RUN(test_other_registries);
    RUN(test_format_and_endpoint);
    RUN(test_bad_references);
    return TEST_EXIT();
}
