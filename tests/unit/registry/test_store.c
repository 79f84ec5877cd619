/*
 * test_store.c - registry/store.c: opening a data dir makes its layout with
 * private uploads/ and tmp/, options get their defaults, the database is
 * reachable per thread, storage.reserve is enforced, and the recovery at
 * open removes the unlocked leftovers of dead writers (tmp/blob-*) while
 * leaving a file still locked by a live writer and unrelated files alone;
 * a trash entry with a bad name or whose blob is already back is dropped.
 * (Putting trashed blobs back is in test_gc.c.)
 */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/meta.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static reg_store *open_ok(const char *dir, const struct reg_options *opts)
{
    reg_store *store = NULL;
    sw_error *err = NULL;
    if (reg_store_open(dir, opts, &store, &err) != 0) {
        fprintf(stderr, "open store: %s\n", sw_error_message(err));
        abort();
    }
    return store;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    fputs(text, f);
    fclose(f);
}

static int exists_in(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return sw_path_exists(path);
}

static int mode_of(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void test_layout_and_defaults(void)
{
    char *root = scratch_dir("reg-store-layout");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/nested/data", root); /* made on open */
    reg_store *store = open_ok(dir, NULL);
    CHECK_STR_EQ(reg_store_data_dir(store), dir);
    CHECK(exists_in(dir, "slipway.db"));
    CHECK(exists_in(dir, "blobs"));
    CHECK_INT_EQ(mode_of(dir, "uploads"), 0700);
    CHECK_INT_EQ(mode_of(dir, "tmp"), 0700);
    CHECK_INT_EQ(reg_store_options(store)->max_manifest_size, 4 * 1024 * 1024);
    CHECK_INT_EQ(reg_store_options(store)->delete_enabled, 0);

    sw_db *db = NULL, *again = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_store_db(store, &db, &err), 0);
    CHECK(db != NULL);
    CHECK_INT_EQ(reg_store_db(store, &again, &err), 0);
    CHECK(db == again); /* one connection per thread */
    reg_store_close(store);
    reg_store_close(NULL); /* harmless */

    struct reg_options opts = { .delete_enabled = 1, .max_manifest_size = 1234 };
    store = open_ok(dir, &opts);
    CHECK_INT_EQ(reg_store_options(store)->max_manifest_size, 1234);
    CHECK_INT_EQ(reg_store_options(store)->delete_enabled, 1);
    reg_store_close(store);
    sw_rm_rf(root, NULL);
    free(root);
}

static void test_open_errors(void)
{
    char *root = scratch_dir("reg-store-bad");
    char file[4096];
    snprintf(file, sizeof(file), "%s/plain-file", root);
    write_file(root, "plain-file", "not a directory");
    reg_store *store = NULL;
    sw_error *err = NULL;
    CHECK(reg_store_open(file, NULL, &store, &err) != 0);
    CHECK(store == NULL);
    CHECK(err != NULL && strstr(sw_error_message(err), "opening store") != NULL);
    CHECK(err != NULL && strstr(sw_error_message(err), file) != NULL);
    sw_error_clear(&err);

    /* a database file that is not SQLite */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/garbage", root);
    CHECK_INT_EQ(sw_mkdir_p(dir, 0755, &err), 0);
    write_file(dir, "slipway.db", "this is not a database, just text long enough to matter.....");
    CHECK(reg_store_open(dir, NULL, &store, &err) != 0);
    CHECK(store == NULL);
    CHECK(err != NULL);
    sw_error_clear(&err);

    /* an S3 store without its endpoint: refused, not quietly replaced by
     * the data dir */
    struct reg_options s3 = { .storage_driver = "s3", .backend = { .driver = REG_BACKEND_S3 } };
    CHECK_INT_EQ(reg_store_open(root, &s3, &store, &err), SW_EINVAL);
    CHECK(store == NULL);
    if (err)
        fprintf(stderr, "  (%s)\n", sw_error_message(err));
    CHECK(err != NULL && strstr(sw_error_message(err), "endpoint") != NULL);
    sw_error_clear(&err);
    sw_rm_rf(root, NULL);
    free(root);
}

static void test_reserve(void)
{
    char *dir = scratch_dir("reg-store-reserve");
    struct reg_options opts = { .reserve_bytes = 0 };
    reg_store *store = open_ok(dir, &opts);
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_store_check_space(store, &err), 0);
    reg_store_close(store);

    opts.reserve_bytes = INT64_MAX / 2; /* more than any disk has */
    store = open_ok(dir, &opts);
    CHECK_INT_EQ(reg_store_check_space(store, &err), SW_ENOSPACE);
    CHECK(err != NULL && strstr(sw_error_message(err), "storage.reserve") != NULL);
    sw_error_clear(&err);
    /* and a blob push is refused with the same code */
    char digest[SW_DIGEST_MAX];
    CHECK_INT_EQ(reg_blob_put_buffer(store, "demo/app", "data", 4, digest, &err), SW_ENOSPACE);
    sw_error_clear(&err);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
}

static void test_recovery_of_leftovers(void)
{
    char *dir = scratch_dir("reg-store-recover");
    reg_store *store = open_ok(dir, NULL);
    char tmp[2048];
    snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    char kept[SW_DIGEST_MAX];
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_blob_put_buffer(store, "demo/app", "kept", 4, kept, &err), 0);
    reg_store_close(store);

    write_file(tmp, "blob-dead-writer", "half a blob");
    write_file(tmp, "blob-live-writer", "being written");
    write_file(tmp, "step-123", "the builder's scratch, not ours");
    write_file(tmp, "trash-nonsense", "a name that is no digest");
    char name[200];
    /* trash of a blob whose file is in place again: dropped, blob intact */
    snprintf(name, sizeof(name), "trash-sha256-%s-77", kept + 7);
    write_file(tmp, name, "stale copy");

    /* a live writer holds its lock: the file must survive the open */
    char live[4096];
    snprintf(live, sizeof(live), "%s/blob-live-writer", tmp);
    int fd = open(live, O_RDONLY);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);

    store = open_ok(dir, NULL);
    CHECK(!exists_in(tmp, "blob-dead-writer"));
    CHECK(exists_in(tmp, "blob-live-writer"));
    CHECK(exists_in(tmp, "step-123"));
    CHECK(!exists_in(tmp, "trash-nonsense"));
    CHECK(!exists_in(tmp, name));
    char *data = NULL;
    size_t len = 0;
    CHECK_INT_EQ(reg_blob_read_all(store, kept, 100, &data, &len, &err), 0);
    CHECK(data != NULL && len == 4 && memcmp(data, "kept", 4) == 0);
    free(data);
    reg_store_close(store);

    /* once the writer is gone, the next open removes it */
    close(fd);
    store = open_ok(dir, NULL);
    CHECK(!exists_in(tmp, "blob-live-writer"));
    CHECK(exists_in(tmp, "step-123"));
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
}

int main(void)
{
    RUN(test_layout_and_defaults);
    RUN(test_open_errors);
    RUN(test_reserve);
    RUN(test_recovery_of_leftovers);
    return TEST_EXIT();
}
