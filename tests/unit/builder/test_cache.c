/*
 * test_cache.c - builder/cache.c on a real store: a miss is SW_ENOTFOUND
 * without an error message, a stored layer comes back field by field with
 * its creation time, a key is re-pointed by a second put, and an entry
 * whose blob has left the store (garbage collection) is a miss.
 */
#include <time.h>
#include <unistd.h>

#include "builder/cache.h"
#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/blob_path.h"
#include "tests/unit/test.h"

static reg_store *open_store(const char *dir)
{
    reg_store *store = NULL;
    sw_error *err = NULL;
    if (reg_store_open(dir, NULL, &store, &err) != 0) {
        fprintf(stderr, "open store: %s\n", sw_error_message(err));
        abort();
    }
    return store;
}

static struct bld_layer layer_for(reg_store *store, const char *content)
{
    struct bld_layer l;
    sw_error *err = NULL;
    memset(&l, 0, sizeof(l));
    if (reg_blob_put_buffer(store, "demo/app", content, strlen(content), l.digest, &err) != 0)
        abort();
    sw_sha256_digest("uncompressed", 12, l.diff_id);
    l.size = (int64_t)strlen(content);
    snprintf(l.media_type, sizeof(l.media_type), "application/vnd.oci.image.layer.v1.tar+gzip");
    return l;
}

static void test_miss_hit_update(void)
{
    char *dir = scratch_dir("bld-cache");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    struct bld_layer got;
    int64_t created = -1;
    CHECK_INT_EQ(bld_cache_get(store, "step-key-1", &got, &created, &err), SW_ENOTFOUND);
    CHECK(err == NULL); /* a miss is not an error worth a message */

    struct bld_layer a = layer_for(store, "layer A bytes");
    int64_t before = (int64_t)time(NULL);
    CHECK_INT_EQ(bld_cache_put(store, "step-key-1", &a, &err), 0);
    CHECK_INT_EQ(bld_cache_get(store, "step-key-1", &got, &created, &err), 0);
    CHECK_STR_EQ(got.digest, a.digest);
    CHECK_STR_EQ(got.diff_id, a.diff_id);
    CHECK_INT_EQ(got.size, a.size);
    CHECK_STR_EQ(got.media_type, a.media_type);
    CHECK(created >= before && created <= (int64_t)time(NULL));
    CHECK_INT_EQ(bld_cache_get(store, "step-key-1", &got, NULL, &err), 0); /* NULL created_at */
    CHECK_INT_EQ(bld_cache_get(store, "step-key-2", &got, NULL, &err), SW_ENOTFOUND);

    /* the same key again points at the new layer */
    struct bld_layer b = layer_for(store, "layer B, other bytes");
    CHECK_INT_EQ(bld_cache_put(store, "step-key-1", &b, &err), 0);
    CHECK_INT_EQ(bld_cache_get(store, "step-key-1", &got, NULL, &err), 0);
    CHECK_STR_EQ(got.digest, b.digest);
    CHECK_INT_EQ(got.size, b.size);
    CHECK(err == NULL);

    /* the entry survives a reopen (it is in the database) */
    reg_store_close(store);
    store = open_store(dir);
    CHECK_INT_EQ(bld_cache_get(store, "step-key-1", &got, NULL, &err), 0);
    CHECK_STR_EQ(got.digest, b.digest);

    /* its blob gone from the store: a miss, so the step runs again */
    char *path = test_blob_path(store, b.digest);
    CHECK(path != NULL && unlink(path) == 0);
    free(path);
    CHECK_INT_EQ(bld_cache_get(store, "step-key-1", &got, NULL, &err), SW_ENOTFOUND);
    CHECK(err == NULL);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
}

int main(void)
{
    RUN(test_miss_hit_update);
    return TEST_EXIT();
}
