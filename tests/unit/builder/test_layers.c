/*
 * test_layers.c - builder/layers.c, builder/image.c and builder/cache.c
 * against a real store: a directory becomes a layer blob and a cached
 * layer directory; a layer is unpacked once with its diff ID verified;
 * layer directories of an earlier boot are dropped and unpacked again; an
 * image is written, tagged and loaded back; the cache returns what was put.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/cache.h"
#include "builder/image.h"
#include "builder/layers.h"
#include "core/fs.h"
#include "registry/blobstore.h"
#include "registry/manifest.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/blob_path.h"
#include "tests/unit/test.h"

static char *dir;
static reg_store *store;

static char *make_dir_with(const char *name, const char *file, const char *text)
{
    char *d = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_scratch_dir(store, name, &d, &err), 0);
    char *p = sw_path_join(d, file);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    sw_mkdir_p(p, 0755, NULL);
    *slash = '/';
    sw_write_file_atomic(p, text, strlen(text), 0644, NULL);
    free(p);
    return d;
}

static struct bld_layer layer_a;

static void test_commit_dir_makes_blob_and_cached_dir(void)
{
    char *d = make_dir_with("a", "etc/app.conf", "key=value\n");
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_layer_commit_dir(store, d, SW_COMPRESSION_GZIP, 1700000000, &layer_a, &err),
                 0);
    if (err)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    sw_error_clear(&err);
    CHECK(strncmp(layer_a.digest, "sha256:", 7) == 0);
    CHECK(strncmp(layer_a.diff_id, "sha256:", 7) == 0);
    CHECK(strcmp(layer_a.digest, layer_a.diff_id) != 0);
    CHECK_STR_EQ(layer_a.media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    CHECK(!sw_path_exists(d)); /* moved into the cache */
    char *blob = test_blob_path(store, layer_a.digest);
    struct stat st;
    CHECK(stat(blob, &st) == 0 && st.st_size == layer_a.size);
    free(blob);
    char *cached = bld_layer_dir(store, layer_a.diff_id);
    char *conf = sw_path_join(cached, "etc/app.conf");
    CHECK(sw_path_exists(conf));
    free(conf);
    free(cached);
    free(d);

    /* the same content again: same digests, the duplicate dir is dropped */
    struct bld_layer again;
    char *d2 = make_dir_with("a2", "etc/app.conf", "key=value\n");
    CHECK_INT_EQ(bld_layer_commit_dir(store, d2, SW_COMPRESSION_GZIP, 1700000000, &again, &err), 0);
    CHECK_STR_EQ(again.digest, layer_a.digest);
    CHECK(!sw_path_exists(d2));
    free(d2);
}

static void test_unpack_verifies_diff_id(void)
{
    char *cached = bld_layer_dir(store, layer_a.diff_id);
    sw_rm_rf(cached, NULL);
    char *out = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_layer_unpacked(store, &layer_a, &out, &err), 0);
    CHECK_STR_EQ(out, cached);
    char *conf = sw_path_join(cached, "etc/app.conf");
    char *text = NULL;
    CHECK_INT_EQ(sw_read_file(conf, 100, &text, NULL, NULL), 0);
    CHECK_STR_EQ(text, "key=value\n");
    free(text);
    free(conf);
    free(out);

    /* a layer whose config claims another diff ID is refused, nothing kept */
    struct bld_layer lying = layer_a;
    snprintf(lying.diff_id, sizeof(lying.diff_id),
             "sha256:0000000000000000000000000000000000000000000000000000000000000000");
    char *lying_dir = bld_layer_dir(store, lying.diff_id);
    out = NULL;
    CHECK(bld_layer_unpacked(store, &lying, &out, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "diff ID") != NULL);
    sw_error_clear(&err);
    CHECK(!sw_path_exists(lying_dir));
    free(lying_dir);
    free(cached);
}

/* Entries of <dir>/tmp whose name starts with prefix. */
static int tmp_entries(const char *prefix)
{
    char *tmp = sw_path_join(dir, "tmp");
    DIR *d = opendir(tmp);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    free(tmp);
    return n;
}

/* Layer directories are never synced, so a power loss could leave one
 * torn: after a reboot (layers/.boot names another boot) they are dropped
 * at the next sweep and unpacked again from their blobs. */
static void test_layers_of_another_boot_dropped(void)
{
    char *root = sw_path_join(dir, "layers");
    char *boot_path = sw_path_join(root, ".boot");
    char *cached = bld_layer_dir(store, layer_a.diff_id);
    char *conf = sw_path_join(cached, "etc/app.conf");
    char *boot = NULL, *text = NULL, *out = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_read_file(boot_path, 256, &boot, NULL, NULL), 0);
    CHECK(boot != NULL && strncmp(boot, "boot=", 5) == 0);

    /* the same boot: kept */
    CHECK_INT_EQ(bld_scratch_sweep(store, NULL, &err), 0);
    CHECK(sw_path_exists(conf));

    /* another boot: dropped, this boot recorded, nothing left in tmp/ */
    const char *other = "boot=00000000-0000-0000-0000-000000000000\n";
    CHECK_INT_EQ(sw_write_file_atomic(boot_path, other, strlen(other), 0600, NULL), 0);
    CHECK_INT_EQ(bld_scratch_sweep(store, NULL, &err), 0);
    CHECK(!sw_path_exists(cached));
    CHECK(sw_path_exists(root));
    free(text);
    text = NULL;
    CHECK_INT_EQ(sw_read_file(boot_path, 256, &text, NULL, NULL), 0);
    CHECK_STR_EQ(text, boot);
    CHECK_INT_EQ(tmp_entries("layers-of-another-boot"), 0);
    /* and unpacked again from the blob when a build needs it */
    CHECK_INT_EQ(bld_layer_unpacked(store, &layer_a, &out, &err), 0);
    free(text);
    text = NULL;
    CHECK_INT_EQ(sw_read_file(conf, 100, &text, NULL, NULL), 0);
    CHECK_STR_EQ(text, "key=value\n");

    /* a store from before layers/.boot: its directories are kept */
    CHECK(unlink(boot_path) == 0);
    CHECK_INT_EQ(bld_scratch_sweep(store, NULL, &err), 0);
    CHECK(sw_path_exists(conf));
    CHECK(sw_path_exists(boot_path));
    sw_error_clear(&err);
    free(out);
    free(text);
    free(boot);
    free(conf);
    free(cached);
    free(boot_path);
    free(root);
}

static void test_image_write_and_load(void)
{
    struct bld_image img;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_image_scratch("linux/amd64", &img, &err), 0);
    CHECK_INT_EQ(bld_image_env_set(&img, "PATH", "/bin", &err), 0);
    CHECK_INT_EQ(bld_image_env_set(&img, "PATH", "/usr/bin:/bin", &err), 0);
    CHECK_STR_EQ(bld_image_env_get(&img, "PATH"), "/usr/bin:/bin");
    CHECK_INT_EQ(bld_image_add_layer(&img, &layer_a, "COPY app.conf /etc/", 1700000000, &err), 0);
    CHECK_INT_EQ(bld_image_add_history(&img, "ENV PATH=/usr/bin:/bin", 1700000000, &err), 0);
    bld_image_set_created(&img, 1700000000);
    const char *tags[] = { "v1", "latest" };
    char digest[SW_DIGEST_MAX], digest2[SW_DIGEST_MAX];
    CHECK_INT_EQ(bld_image_write(store, &img, "test/app", tags, 2, NULL, digest, &err), 0);
    if (err)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    sw_error_clear(&err);
    /* the same image again gives the same digest (deterministic JSON) */
    CHECK_INT_EQ(bld_image_write(store, &img, "test/app", NULL, 0, NULL, digest2, &err), 0);
    CHECK_STR_EQ(digest2, digest);

    struct bld_image loaded;
    CHECK_INT_EQ(bld_image_load(store, "test/app", "latest", NULL, &loaded, &err), 0);
    CHECK_STR_EQ(loaded.digest, digest);
    CHECK_INT_EQ(loaded.n_layers, 1);
    if (loaded.n_layers == 1) {
        CHECK_STR_EQ(loaded.layers[0].digest, layer_a.digest);
        CHECK_STR_EQ(loaded.layers[0].diff_id, layer_a.diff_id);
    }
    CHECK_STR_EQ(bld_image_env_get(&loaded, "PATH"), "/usr/bin:/bin");
    json_t *history = json_object_get(loaded.config, "history");
    CHECK_INT_EQ(json_array_size(history), 2);
    CHECK(json_is_true(json_object_get(json_array_get(history, 1), "empty_layer")));
    CHECK_STR_EQ(json_string_value(json_object_get(loaded.config, "created")),
                 "2023-11-14T22:13:20Z");
    bld_image_release(&loaded);
    CHECK(bld_image_load(store, "test/app", "nope", NULL, &loaded, &err) != 0);
    sw_error_clear(&err);
    bld_image_release(&img);
}

static void test_platforms(void)
{
    char os[32], arch[32], variant[32];
    CHECK_INT_EQ(bld_platform_parse("linux/arm64/v8", os, arch, variant, NULL), 0);
    CHECK_STR_EQ(os, "linux");
    CHECK_STR_EQ(arch, "arm64");
    CHECK_STR_EQ(variant, ""); /* normalised as containerd does (registry/platform.c) */
    CHECK_INT_EQ(bld_platform_parse("linux/amd64", os, arch, variant, NULL), 0);
    CHECK_STR_EQ(variant, "");
    sw_error *err = NULL;
    CHECK(bld_platform_parse("linux", os, arch, variant, &err) != 0);
    CHECK(strstr(sw_error_message(err), "expected os/arch") != NULL);
    sw_error_clear(&err);
    CHECK(bld_platform_parse("linux//", os, arch, variant, NULL) != 0);
}

static void test_cache(void)
{
    struct bld_layer got;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_cache_get(store, "sha256:key1", &got, NULL, &err), SW_ENOTFOUND);
    CHECK_INT_EQ(bld_cache_put(store, "sha256:key1", &layer_a, &err), 0);
    CHECK_INT_EQ(bld_cache_get(store, "sha256:key1", &got, NULL, &err), 0);
    CHECK_STR_EQ(got.digest, layer_a.digest);
    CHECK_STR_EQ(got.diff_id, layer_a.diff_id);
    CHECK_INT_EQ(got.size, layer_a.size);
    /* an entry whose blob has gone (GC) is a miss */
    struct bld_layer ghost = layer_a;
    snprintf(ghost.digest, sizeof(ghost.digest),
             "sha256:1111111111111111111111111111111111111111111111111111111111111111");
    CHECK_INT_EQ(bld_cache_put(store, "sha256:key2", &ghost, &err), 0);
    CHECK_INT_EQ(bld_cache_get(store, "sha256:key2", &got, NULL, &err), SW_ENOTFOUND);
    sw_error_clear(&err);
}

int main(void)
{
    dir = scratch_dir("test_layers");
    sw_error *err = NULL;
    struct reg_options opts = { .delete_enabled = 1 };
    if (reg_store_open(dir, &opts, &store, &err) != 0) {
        fprintf(stderr, "%s\n", sw_error_message(err));
        return 1;
    }
    RUN(test_commit_dir_makes_blob_and_cached_dir);
    RUN(test_unpack_verifies_diff_id);
    RUN(test_layers_of_another_boot_dropped);
    RUN(test_image_write_and_load);
    RUN(test_platforms);
    RUN(test_cache);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
