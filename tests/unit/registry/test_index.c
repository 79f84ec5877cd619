/*
 * test_index.c - registry/index.c: an image index from per-platform image
 * manifests of a repository, as a client reads it back; the same entries
 * give the same digest; bad entries are refused naming them; platform
 * normalisation.
 */
#include <jansson.h>
#include <string.h>

#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/platform.h"
#include "registry/index.h"
#include "registry/manifest.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static reg_store *store;

/* Stores an image manifest (its config says arch) in repo; digest out. */
static void put_image(const char *repo, const char *arch, char digest[SW_DIGEST_MAX])
{
    char config[200], config_digest[SW_DIGEST_MAX], layer_digest[SW_DIGEST_MAX];
    char manifest[1024], got[SW_DIGEST_MAX];
    sw_error *err = NULL;
    snprintf(config, sizeof(config), "{\"architecture\":\"%s\",\"os\":\"linux\"}", arch);
    if (reg_blob_put_buffer(store, repo, config, strlen(config), config_digest, &err) != 0 ||
        reg_blob_put_buffer(store, repo, arch, strlen(arch), layer_digest, &err) != 0)
        abort();
    snprintf(manifest, sizeof(manifest),
             "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_MANIFEST "\","
             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
             "\"digest\":\"%s\",\"size\":%zu},"
             "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
             "\"digest\":\"%s\",\"size\":%zu}]}",
             config_digest, strlen(config), layer_digest, strlen(arch));
    sw_sha256_digest(manifest, strlen(manifest), digest);
    if (reg_manifest_put(store, repo, digest, REG_MT_OCI_MANIFEST, manifest, strlen(manifest), got,
                         NULL, &err) != 0) {
        fprintf(stderr, "put manifest: %s\n", sw_error_message(err));
        abort();
    }
}

static void test_index_put(void)
{
    char amd[SW_DIGEST_MAX], arm[SW_DIGEST_MAX], index[SW_DIGEST_MAX], again[SW_DIGEST_MAX];
    sw_error *err = NULL;
    put_image("demo/multi", "amd64", amd);
    put_image("demo/multi", "arm64", arm);
    struct reg_index_entry entries[] = { { "linux/amd64", amd }, { "linux/aarch64", arm } };
    CHECK_INT_EQ(reg_index_put(store, "demo/multi", entries, 2, index, &err), 0);
    CHECK(err == NULL);

    struct reg_manifest m = { 0 };
    CHECK_INT_EQ(reg_manifest_get(store, "demo/multi", index, 1, &m, NULL), 0);
    CHECK_STR_EQ(m.media_type, REG_MT_OCI_INDEX);
    json_t *doc = json_loadb(m.body, m.size, 0, NULL);
    json_t *list = json_object_get(doc, "manifests");
    CHECK_INT_EQ(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0), *second = json_array_get(list, 1);
    CHECK_STR_EQ(json_string_value(json_object_get(first, "digest")), amd);
    CHECK_STR_EQ(json_string_value(json_object_get(first, "mediaType")), REG_MT_OCI_MANIFEST);
    CHECK_STR_EQ(
        json_string_value(json_object_get(json_object_get(first, "platform"), "architecture")),
        "amd64");
    CHECK(json_object_get(json_object_get(first, "platform"), "variant") == NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(second, "digest")), arm);
    /* arm64 is written with variant v8, as the image-index spec lists it */
    CHECK_STR_EQ(
        json_string_value(json_object_get(json_object_get(second, "platform"), "architecture")),
        "arm64");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(second, "platform"), "variant")),
                 "v8");
    CHECK(json_integer_value(json_object_get(second, "size")) > 0);
    json_decref(doc);
    reg_manifest_release(&m);

    /* the same entries: the same bytes, the same digest */
    CHECK_INT_EQ(reg_index_put(store, "demo/multi", entries, 2, again, NULL), 0);
    CHECK_STR_EQ(again, index);
    /* another order is another index */
    struct reg_index_entry swapped[] = { { "linux/arm64", arm }, { "linux/amd64", amd } };
    CHECK_INT_EQ(reg_index_put(store, "demo/multi", swapped, 2, again, NULL), 0);
    CHECK(strcmp(again, index) != 0);
}

static void test_index_refused(void)
{
    char amd[SW_DIGEST_MAX], index[SW_DIGEST_MAX], other[SW_DIGEST_MAX];
    sw_error *err = NULL;
    put_image("demo/refused", "amd64", amd);
    put_image("demo/elsewhere", "arm64", other);

    struct reg_index_entry twice[] = { { "linux/amd64", amd }, { "linux/x86_64", amd } };
    CHECK_INT_EQ(reg_index_put(store, "demo/refused", twice, 2, index, &err), SW_EINVAL);
    CHECK(err && strstr(sw_error_message(err), "linux/x86_64 is listed twice"));
    sw_error_clear(&err);

    /* a child must be in the repository itself */
    struct reg_index_entry foreign[] = { { "linux/amd64", amd }, { "linux/arm64", other } };
    CHECK(reg_index_put(store, "demo/refused", foreign, 2, index, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "the linux/arm64 image of demo/refused"));
    sw_error_clear(&err);

    struct reg_index_entry bad[] = { { "linux", amd } };
    CHECK_INT_EQ(reg_index_put(store, "demo/refused", bad, 1, index, &err), SW_EINVAL);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_index_put(store, "demo/refused", bad, 0, index, &err), SW_EINVAL);
    sw_error_clear(&err);

    /* an index is not an image: it cannot be a child */
    struct reg_index_entry one[] = { { "linux/amd64", amd } };
    CHECK_INT_EQ(reg_index_put(store, "demo/refused", one, 1, index, NULL), 0);
    struct reg_index_entry nested[] = { { "linux/amd64", index } };
    CHECK_INT_EQ(reg_index_put(store, "demo/refused", nested, 1, other, &err), SW_EINVAL);
    CHECK(err && strstr(sw_error_message(err), "not an image manifest"));
    sw_error_clear(&err);
}

static void test_platform_normalize(void)
{
    char out[100];
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_platform_normalize_text("linux/x86_64", out, NULL), 0);
    CHECK_STR_EQ(out, "linux/amd64");
    CHECK_INT_EQ(reg_platform_normalize_text("linux/aarch64", out, NULL), 0);
    CHECK_STR_EQ(out, "linux/arm64");
    CHECK_INT_EQ(reg_platform_normalize_text("linux/arm64/v8", out, NULL), 0);
    CHECK_STR_EQ(out, "linux/arm64");
    CHECK_INT_EQ(reg_platform_normalize_text("linux/armhf", out, NULL), 0);
    CHECK_STR_EQ(out, "linux/arm/v7");
    CHECK_INT_EQ(reg_platform_normalize_text("linux/arm", out, NULL), 0);
    CHECK_STR_EQ(out, "linux/arm/v7");
    CHECK_INT_EQ(reg_platform_normalize_text(NULL, out, NULL), 0);
    CHECK(strncmp(out, "linux/", 6) == 0);
    CHECK_INT_EQ(reg_platform_normalize_text("", out, &err), SW_EINVAL);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_platform_normalize_text("amd64", out, &err), SW_EINVAL);
    CHECK(err && strstr(sw_error_message(err), "amd64"));
    sw_error_clear(&err);
}

int main(void)
{
    char *dir = scratch_dir("test_index");
    struct reg_options opts = { 0 };
    if (reg_store_open(dir, &opts, &store, NULL) != 0)
        abort();
    RUN(test_index_put);
    RUN(test_index_refused);
    RUN(test_platform_normalize);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
