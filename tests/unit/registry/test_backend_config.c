/*
 * test_backend_config.c - the storage: keys of the config (core/config.c)
 * as the blob backend reads them (reg_backend_config_from): the default,
 * a complete s3 section with secrets from the environment, and the clear
 * errors an incomplete or wrong one gets, none of which shows a secret.
 */
#include <stdlib.h>

#include "core/config.h"
#include "core/fs.h"
#include "registry/backend.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

/* Loads text; returns the config or NULL with the message in msg. */
static struct sw_config *load(const char *text, char msg[1024])
{
    char *path = sw_path_join(dir, "c.yaml");
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    msg[0] = '\0';
    sw_write_file_atomic(path, text, strlen(text), 0644, NULL);
    if (sw_config_load(path, &cfg, &err) != 0)
        snprintf(msg, 1024, "%s", sw_error_message(err));
    sw_error_clear(&err);
    free(path);
    return cfg;
}

static void test_default_is_filesystem(void)
{
    char msg[1024];
    struct sw_config *cfg = load("server: {data_dir: /srv/sw}\n", msg);
    struct reg_backend_config bc;
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return;
    reg_backend_config_from(cfg, &bc);
    CHECK_INT_EQ(bc.driver, REG_BACKEND_FILESYSTEM);
    CHECK_STR_EQ(bc.root, "/srv/sw");
    CHECK_STR_EQ(cfg->storage_driver, "filesystem");
    CHECK_INT_EQ(bc.cached_writes, 0); /* direct_io: true by default */
    sw_config_free(cfg);
    cfg = load("storage: {direct_io: false}\n", msg);
    CHECK_STR_EQ(msg, "");
    if (cfg) {
        reg_backend_config_from(cfg, &bc);
        CHECK_INT_EQ(bc.cached_writes, 1);
    }
    sw_config_free(cfg);
}

static void test_s3_section(void)
{
    char msg[1024];
    setenv("TEST_S3_AK", "AKIDEXAMPLE", 1);
    setenv("TEST_S3_SK", "very-secret-value", 1);
    struct sw_config *cfg = load("storage:\n"
                                 "  driver: s3\n"
                                 "  endpoint: http://127.0.0.1:9000\n"
                                 "  region: eu-west-3\n"
                                 "  bucket: images\n"
                                 "  prefix: prod/slipway\n"
                                 "  access_key: env:TEST_S3_AK\n"
                                 "  secret_key: env:TEST_S3_SK\n"
                                 "  path_style: false\n"
                                 "  redirect: true\n"
                                 "  part_size: 16MiB\n",
                                 msg);
    CHECK_STR_EQ(msg, "");
    if (cfg == NULL)
        return;
    struct reg_backend_config bc;
    reg_backend_config_from(cfg, &bc);
    CHECK_INT_EQ(bc.driver, REG_BACKEND_S3);
    CHECK_STR_EQ(bc.endpoint, "http://127.0.0.1:9000");
    CHECK_STR_EQ(bc.region, "eu-west-3");
    CHECK_STR_EQ(bc.bucket, "images");
    CHECK_STR_EQ(bc.prefix, "prod/slipway");
    CHECK_STR_EQ(bc.access_key, "AKIDEXAMPLE");
    CHECK_STR_EQ(bc.secret_key, "very-secret-value");
    CHECK_INT_EQ(bc.path_style, 0);
    CHECK_INT_EQ(bc.redirect, 1);
    CHECK_INT_EQ(bc.part_size, 16 * 1024 * 1024);
    /* opening does not contact the store */
    reg_backend *b = NULL;
    CHECK_INT_EQ(reg_backend_open(&bc, &b, NULL), 0);
    CHECK_STR_EQ(b ? reg_backend_driver_name(b) : NULL, "s3");
    reg_backend_close(b);
    sw_config_free(cfg);
    /* defaults of the optional keys */
    cfg = load("storage: {driver: s3, endpoint: 'https://s3.example', bucket: b,\n"
               "          access_key: env:TEST_S3_AK, secret_key: env:TEST_S3_SK}\n",
               msg);
    CHECK_STR_EQ(msg, "");
    if (cfg) {
        CHECK_STR_EQ(cfg->storage_region, "us-east-1");
        CHECK_STR_EQ(cfg->storage_prefix, "");
        CHECK_INT_EQ(cfg->storage_path_style, 1);
        CHECK_INT_EQ(cfg->storage_redirect, 0);
    }
    sw_config_free(cfg);
}

static void test_incomplete_or_wrong_refused(void)
{
    char msg[1024];
    setenv("TEST_S3_SK", "very-secret-value", 1);
    unsetenv("TEST_S3_MISSING");
    CHECK(load("storage: {driver: s3, bucket: b, access_key: a, secret_key: s}\n", msg) == NULL);
    CHECK(strstr(msg, "storage.endpoint") != NULL);
    CHECK(load("storage: {driver: s3, endpoint: 'http://h', access_key: a, secret_key: s}\n",
               msg) == NULL);
    CHECK(strstr(msg, "storage.bucket") != NULL);
    CHECK(load("storage: {driver: s3, endpoint: 'http://h', bucket: b, access_key: a}\n", msg) ==
          NULL);
    CHECK(strstr(msg, "storage.secret_key") != NULL);
    CHECK(load("storage: {driver: s3, endpoint: 'http://h', bucket: b, access_key: a,\n"
               "          secret_key: env:TEST_S3_MISSING}\n",
               msg) == NULL);
    CHECK(strstr(msg, "storage.secret_key") != NULL && strstr(msg, "TEST_S3_MISSING") != NULL);
    CHECK(load("storage: {driver: s3, endpoint: 'ftp://h', bucket: b, access_key: a,\n"
               "          secret_key: env:TEST_S3_SK}\n",
               msg) == NULL);
    CHECK(strstr(msg, "storage.endpoint") != NULL);
    CHECK(strstr(msg, "very-secret-value") == NULL);
    CHECK(load("storage: {driver: gcs}\n", msg) == NULL);
    CHECK(strstr(msg, "expected filesystem or s3") != NULL);
    CHECK(load("storage: {part_size: 1MiB}\n", msg) == NULL);
    CHECK(strstr(msg, "storage.part_size") != NULL);
    CHECK(load("storage: {direct_io: sometimes}\n", msg) == NULL);
    CHECK(strstr(msg, "storage.direct_io") != NULL);
    CHECK(load("storage: {bukket: b}\n", msg) == NULL);
    CHECK(strstr(msg, "bukket") != NULL);
}

int main(void)
{
    dir = scratch_dir("test_backend_config");
    RUN(test_default_is_filesystem);
    RUN(test_s3_section);
    RUN(test_incomplete_or_wrong_refused);
    return TEST_EXIT();
}
