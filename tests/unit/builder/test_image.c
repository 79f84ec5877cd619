/*
 * test_image.c - builder/image.c: platform strings, an image from scratch,
 * Env, layers and history, a deep copy, and the round trip through the
 * store (write with tags, load by tag and by digest, an index resolved to
 * the wanted platform) with the errors for what is not there.
 */
#include <jansson.h>

#include "builder/image.h"
#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/manifest.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static void test_platform_parse(void)
{
    char os[32], arch[32], variant[32];
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_platform_parse("linux/amd64", os, arch, variant, &err), 0);
    CHECK_STR_EQ(os, "linux");
    CHECK_STR_EQ(arch, "amd64");
    CHECK_STR_EQ(variant, "");
    CHECK_INT_EQ(bld_platform_parse("linux/arm64/v8", os, arch, variant, &err), 0);
    CHECK_STR_EQ(arch, "arm64");
    CHECK_STR_EQ(variant, ""); /* normalised as containerd does (registry/platform.c) */

    const char *bad[] = { "",
                          "linux",
                          "/amd64",
                          "linux/",
                          "linux/arm64/",
                          "linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                          "oooooooooooooooooooooooooooooooooooo/amd64" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT_EQ(bld_platform_parse(bad[i], os, arch, variant, &err), SW_EINVAL);
        CHECK(err && strstr(sw_error_message(err), "expected os/arch[/variant]"));
        sw_error_clear(&err);
    }
    const char *host = bld_platform_host();
    CHECK(host != NULL && strncmp(host, "linux/", 6) == 0);
    CHECK_INT_EQ(bld_platform_parse(host, os, arch, variant, &err), 0);
}

static void test_scratch_env_layers_history(void)
{
    struct bld_image img;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_image_scratch("linux/arm64/v8", &img, &err), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(img.config, "os")), "linux");
    CHECK_STR_EQ(json_string_value(json_object_get(img.config, "architecture")), "arm64");
    CHECK_INT_EQ(img.n_layers, 0);
    CHECK_STR_EQ(img.digest, "");
    bld_image_release(&img);
    CHECK_INT_EQ(bld_image_scratch("nonsense", &img, &err), SW_EINVAL);
    sw_error_clear(&err);

    CHECK_INT_EQ(bld_image_scratch(NULL, &img, &err), 0);
    CHECK(bld_image_env_get(&img, "PATH") == NULL || strlen(bld_image_env_get(&img, "PATH")) > 0);
    CHECK_INT_EQ(bld_image_env_set(&img, "GREETING", "hello", &err), 0);
    CHECK_INT_EQ(bld_image_env_set(&img, "OTHER", "x=y", &err), 0);
    CHECK_INT_EQ(bld_image_env_set(&img, "GREETING", "bonjour", &err), 0);
    CHECK_STR_EQ(bld_image_env_get(&img, "GREETING"), "bonjour");
    CHECK_STR_EQ(bld_image_env_get(&img, "OTHER"), "x=y");
    CHECK(bld_image_env_get(&img, "GREET") == NULL); /* a prefix is not a name */
    json_t *env = json_object_get(bld_image_runconfig(&img), "Env");
    size_t greetings = 0, i;
    json_t *e;
    json_array_foreach(env, i, e)
        greetings += strncmp(json_string_value(e), "GREETING=", 9) == 0;
    CHECK_INT_EQ(greetings, 1); /* replaced, not appended */

    struct bld_layer l;
    memset(&l, 0, sizeof(l));
    sw_sha256_digest("diff", 4, l.diff_id);
    sw_sha256_digest("blob", 4, l.digest);
    l.size = 4;
    snprintf(l.media_type, sizeof(l.media_type), "application/vnd.oci.image.layer.v1.tar+gzip");
    CHECK_INT_EQ(bld_image_add_layer(&img, &l, "RUN make", 1700000000, &err), 0);
    CHECK_INT_EQ(bld_image_add_history(&img, "ENV GREETING=bonjour", 1700000001, &err), 0);
    bld_image_set_created(&img, 1700000002);
    CHECK_INT_EQ(img.n_layers, 1);
    json_t *diff_ids = json_object_get(json_object_get(img.config, "rootfs"), "diff_ids");
    CHECK_INT_EQ(json_array_size(diff_ids), 1);
    CHECK_STR_EQ(json_string_value(json_array_get(diff_ids, 0)), l.diff_id);
    json_t *history = json_object_get(img.config, "history");
    CHECK_INT_EQ(json_array_size(history), 2);
    json_t *h0 = json_array_get(history, 0), *h1 = json_array_get(history, 1);
    CHECK_STR_EQ(json_string_value(json_object_get(h0, "created_by")), "RUN make");
    CHECK(!json_is_true(json_object_get(h0, "empty_layer")));
    CHECK(json_is_true(json_object_get(h1, "empty_layer")));
    CHECK_STR_EQ(json_string_value(json_object_get(h0, "created")), "2023-11-14T22:13:20Z");
    CHECK_STR_EQ(json_string_value(json_object_get(img.config, "created")), "2023-11-14T22:13:22Z");

    /* a deep copy: changing it leaves the original alone */
    struct bld_image copy;
    CHECK_INT_EQ(bld_image_copy(&img, &copy, &err), 0);
    CHECK_INT_EQ(bld_image_env_set(&copy, "GREETING", "hola", &err), 0);
    CHECK_INT_EQ(bld_image_add_history(&copy, "LABEL x=y", 1, &err), 0);
    CHECK_STR_EQ(bld_image_env_get(&img, "GREETING"), "bonjour");
    CHECK_INT_EQ(json_array_size(json_object_get(img.config, "history")), 2);
    CHECK_INT_EQ(copy.n_layers, 1);
    CHECK(copy.layers != img.layers);
    bld_image_release(&copy);
    bld_image_release(&img);

    char when[32];
    bld_format_time(0, when);
    CHECK_STR_EQ(when, "1970-01-01T00:00:00Z");
}

static void test_store_round_trip(void)
{
    char *dir = scratch_dir("bld-image");
    reg_store *store = NULL;
    sw_error *err = NULL;
    if (reg_store_open(dir, NULL, &store, &err) != 0)
        abort();

    struct bld_image img, loaded;
    CHECK_INT_EQ(bld_image_scratch("linux/amd64", &img, &err), 0);
    struct bld_layer l;
    memset(&l, 0, sizeof(l));
    CHECK_INT_EQ(reg_blob_put_buffer(store, "base/tmp", "layer bytes", 11, l.digest, &err), 0);
    sw_sha256_digest("uncompressed", 12, l.diff_id);
    l.size = 11;
    snprintf(l.media_type, sizeof(l.media_type), "application/vnd.oci.image.layer.v1.tar+gzip");
    CHECK_INT_EQ(bld_image_add_layer(&img, &l, "COPY . /", 1700000000, &err), 0);
    CHECK_INT_EQ(bld_image_env_set(&img, "A", "1", &err), 0);
    const char *tags[] = { "1", "latest" };
    char digest[SW_DIGEST_MAX];
    json_t *ann = json_pack("{s:s}", "org.opencontainers.image.source", "https://example.test");
    CHECK_INT_EQ(bld_image_write(store, &img, "demo/app", tags, 2, ann, digest, &err), 0);
    if (err)
        fprintf(stderr, "write: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    json_decref(ann);

    CHECK_INT_EQ(bld_image_load(store, "demo/app", "latest", NULL, &loaded, &err), 0);
    CHECK_STR_EQ(loaded.digest, digest);
    CHECK_INT_EQ(loaded.n_layers, 1);
    if (loaded.n_layers == 1) {
        CHECK_STR_EQ(loaded.layers[0].digest, l.digest);
        CHECK_STR_EQ(loaded.layers[0].diff_id, l.diff_id);
        CHECK_INT_EQ(loaded.layers[0].size, 11);
    }
    CHECK_STR_EQ(bld_image_env_get(&loaded, "A"), "1");
    bld_image_release(&loaded);
    CHECK_INT_EQ(bld_image_load(store, "demo/app", digest, "linux/amd64", &loaded, &err), 0);
    bld_image_release(&loaded);
    /* the manifest carries the annotations */
    struct reg_manifest m = { 0 };
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "1", 1, &m, &err), 0);
    CHECK(m.body && strstr(m.body, "https://example.test") != NULL);
    reg_manifest_release(&m);

    /* what is not there */
    CHECK(bld_image_load(store, "demo/app", "2", NULL, &loaded, &err) != 0);
    CHECK(err != NULL);
    sw_error_clear(&err);
    CHECK(bld_image_load(store, "no/such", "1", NULL, &loaded, &err) != 0);
    sw_error_clear(&err);

    /* an index: resolved to the wanted platform, or a clear error */
    char body[1024], idx[SW_DIGEST_MAX];
    snprintf(body, sizeof(body),
             "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_INDEX "\",\"manifests\":[{"
             "\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
             "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
             digest);
    CHECK_INT_EQ(reg_manifest_put(store, "demo/app", "multi", REG_MT_OCI_INDEX, body, strlen(body),
                                  idx, NULL, &err),
                 0);
    sw_error_clear(&err);
    CHECK_INT_EQ(bld_image_load(store, "demo/app", "multi", "linux/amd64", &loaded, &err), 0);
    CHECK_STR_EQ(loaded.digest, digest);
    bld_image_release(&loaded);
    CHECK_INT_EQ(bld_image_load(store, "demo/app", "multi", "linux/arm64", &loaded, &err),
                 SW_ENOTFOUND);
    CHECK(err && strstr(sw_error_message(err), "demo/app:multi has no image for linux/arm64"));
    sw_error_clear(&err);
    CHECK_INT_EQ(bld_image_load(store, "demo/app", "multi", "bad", &loaded, &err), SW_EINVAL);
    sw_error_clear(&err);

    bld_image_release(&img);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
}

int main(void)
{
    RUN(test_platform_parse);
    RUN(test_scratch_env_layers_history);
    RUN(test_store_round_trip);
    return TEST_EXIT();
}
