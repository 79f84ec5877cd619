/*
 * test_transfer.c - the parts of registry/transfer.c that need no store:
 * transport and image reference parsing, archive path safety, the image
 * config of a tar: import, and index.json selection and update. Imports and
 * exports themselves are driven with skopeo/umoci in tests/e2e/020.
 */
#include "registry/transfer.h"
#include "tests/unit/test.h"

static void test_transport_parse(void)
{
    struct reg_transport_ref ref;
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_transport_parse("oci:/tmp/out:v1", &ref, &err), 0);
    CHECK_INT_EQ(ref.transport, REG_TRANSPORT_OCI);
    CHECK_STR_EQ(ref.path, "/tmp/out");
    CHECK_STR_EQ(ref.ref, "v1");
    reg_transport_ref_release(&ref);

    CHECK_INT_EQ(reg_transport_parse("oci-archive:x.tar", &ref, &err), 0);
    CHECK_INT_EQ(ref.transport, REG_TRANSPORT_OCI_ARCHIVE);
    CHECK_STR_EQ(ref.path, "x.tar");
    CHECK(ref.ref == NULL);
    reg_transport_ref_release(&ref);

    /* docker-archive: everything after the path is one name:tag */
    CHECK_INT_EQ(reg_transport_parse("docker-archive:d.tar:test/x:1", &ref, &err), 0);
    CHECK_INT_EQ(ref.transport, REG_TRANSPORT_DOCKER_ARCHIVE);
    CHECK_STR_EQ(ref.path, "d.tar");
    CHECK_STR_EQ(ref.ref, "test/x:1");
    reg_transport_ref_release(&ref);

    /* tar: takes the rest whole, colons included */
    CHECK_INT_EQ(reg_transport_parse("tar:a:b.tar", &ref, &err), 0);
    CHECK_INT_EQ(ref.transport, REG_TRANSPORT_TAR);
    CHECK_STR_EQ(ref.path, "a:b.tar");
    reg_transport_ref_release(&ref);

    CHECK_INT_EQ(reg_transport_parse("docker://x/y", &ref, &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "unknown transport") != NULL);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_transport_parse("oci::tag", &ref, &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "no path") != NULL);
    sw_error_clear(&err);
}

static void test_archive_path_safe(void)
{
    CHECK(reg_archive_path_safe("bin/sh"));
    CHECK(reg_archive_path_safe("a/..b/c"));
    CHECK(reg_archive_path_safe("./etc"));
    CHECK(!reg_archive_path_safe("../x"));
    CHECK(!reg_archive_path_safe("a/../../x"));
    CHECK(!reg_archive_path_safe("a/.."));
    CHECK(!reg_archive_path_safe("a//../b"));
    CHECK(!reg_archive_path_safe("/etc/passwd"));
    CHECK(!reg_archive_path_safe(""));
}

static void test_command_parse(void)
{
    json_t *cmd = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_command_parse("[\"/bin/sh\", \"-c\", \"echo hi\"]", &cmd, &err), 0);
    CHECK_INT_EQ(json_array_size(cmd), 3);
    CHECK_STR_EQ(json_string_value(json_array_get(cmd, 2)), "echo hi");
    json_decref(cmd);
    CHECK_INT_EQ(reg_command_parse("echo $HOME", &cmd, &err), 0);
    CHECK_STR_EQ(json_string_value(json_array_get(cmd, 0)), "/bin/sh");
    CHECK_STR_EQ(json_string_value(json_array_get(cmd, 2)), "echo $HOME");
    json_decref(cmd);
    CHECK_INT_EQ(reg_command_parse("[1, 2]", &cmd, &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "not a string") != NULL);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_command_parse("[\"x\"", &cmd, &err), SW_EINVAL);
    sw_error_clear(&err);
}

static void test_image_config(void)
{
    json_t *config = NULL, *cmd = json_pack("[s]", "/bin/sh");
    sw_error *err = NULL;
    const char *env[] = { "A=1", "PATH=/bin", NULL };
    const char *ids[] = { "sha256:aaaa" };
    struct reg_image_settings s = {
        .cmd = cmd,
        .env = env,
        .workdir = "/work",
        .created = 86400,
    };
    CHECK_INT_EQ(reg_image_config_build(&s, ids, 1, &config, &err), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(config, "created")), "1970-01-02T00:00:00Z");
    CHECK_STR_EQ(json_string_value(json_object_get(config, "os")), "linux");
#if defined(__x86_64__)
    CHECK_STR_EQ(json_string_value(json_object_get(config, "architecture")), "amd64");
#endif
    json_t *inner = json_object_get(config, "config");
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(inner, "Cmd"), 0)), "/bin/sh");
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(inner, "Env"), 1)), "PATH=/bin");
    CHECK_STR_EQ(json_string_value(json_object_get(inner, "WorkingDir")), "/work");
    json_t *rootfs = json_object_get(config, "rootfs");
    CHECK_STR_EQ(json_string_value(json_object_get(rootfs, "type")), "layers");
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(rootfs, "diff_ids"), 0)),
                 "sha256:aaaa");
    json_t *history = json_array_get(json_object_get(config, "history"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(history, "created_by")), "slipway import");
    json_decref(config);

    /* SOURCE_DATE_EPOCH wins over the clock */
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    struct reg_image_settings dflt = { .created = -1 };
    CHECK_INT_EQ(reg_image_config_build(&dflt, ids, 1, &config, &err), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(config, "created")), "2023-11-14T22:13:20Z");
    CHECK(json_object_get(json_object_get(config, "config"), "Cmd") == NULL);
    json_decref(config);
    unsetenv("SOURCE_DATE_EPOCH");

    const char *bad_env[] = { "NOEQUALS", NULL };
    struct reg_image_settings bad = { .env = bad_env, .created = 0 };
    CHECK_INT_EQ(reg_image_config_build(&bad, ids, 1, &config, &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "NOEQUALS") != NULL);
    sw_error_clear(&err);
    json_decref(cmd);
}

static void test_index_select_and_add(void)
{
    sw_error *err = NULL;
    json_t *desc = NULL;
    json_t *index = json_loads(
        "{\"schemaVersion\":2,\"manifests\":["
        "{\"digest\":\"sha256:1\",\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}},"
        "{\"digest\":\"sha256:2\",\"annotations\":{\"org.opencontainers.image.ref.name\":\"v2\"}}]"
        "}",
        0, NULL);
    CHECK_INT_EQ(reg_oci_index_select(index, "v2", "oci:/x: index.json", &desc, &err), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(desc, "digest")), "sha256:2");
    CHECK_INT_EQ(reg_oci_index_select(index, "v3", "oci:/x: index.json", &desc, &err),
                 SW_ENOTFOUND);
    CHECK_STR_EQ(sw_error_message(err), "oci:/x: index.json: no manifest with ref.name 'v3'");
    sw_error_clear(&err);
    /* without a tag only an unambiguous layout will do */
    CHECK_INT_EQ(reg_oci_index_select(index, NULL, "index.json", &desc, &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "2 manifests") != NULL);
    sw_error_clear(&err);

    /* adding v1 again replaces the old v1 entry */
    CHECK_INT_EQ(reg_oci_index_add(index, json_pack("{ss}", "digest", "sha256:3"), "v1", &err), 0);
    json_t *manifests = json_object_get(index, "manifests");
    CHECK_INT_EQ(json_array_size(manifests), 2);
    CHECK_INT_EQ(reg_oci_index_select(index, "v1", "index.json", &desc, &err), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(desc, "digest")), "sha256:3");
    json_decref(index);

    json_t *empty = json_object();
    CHECK_INT_EQ(reg_oci_index_add(empty, json_pack("{ss}", "digest", "sha256:4"), NULL, &err), 0);
    CHECK_INT_EQ(reg_oci_index_select(empty, NULL, "index.json", &desc, &err), 0);
    CHECK(json_object_get(desc, "annotations") == NULL);
    json_decref(empty);
}

int main(void)
{
    RUN(test_transport_parse);
    RUN(test_archive_path_safe);
    RUN(test_command_parse);
    RUN(test_image_config);
    RUN(test_index_select_and_add);
    return TEST_EXIT();
}
