/*
 * test_upload.c - registry/upload.c: chunked uploads as a client drives
 * them: offsets after each chunk, a chunk at the wrong offset refused
 * (416), a failed chunk leaving the session as it was, resume after the
 * process restarted, completion with right and wrong digests, cancel, and
 * one writer at a time.
 */
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/store.h"
#include "registry/upload.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static reg_store *open_store(const char *dir)
{
    struct reg_options opts = { .delete_enabled = 1 };
    reg_store *store = NULL;
    sw_error *err = NULL;
    if (reg_store_open(dir, &opts, &store, &err) != 0) {
        fprintf(stderr, "open store: %s\n", sw_error_message(err));
        abort();
    }
    return store;
}

/* One PATCH: begin at start, write data, end; returns the first failure. */
static int patch(reg_store *store, const char *repo, const char *uuid, int64_t start,
                 const char *data, int64_t *offset, sw_error **err)
{
    reg_upload_writer *w = NULL;
    int rc = reg_upload_begin_write(store, repo, uuid, start, &w, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_upload_write(w, data, strlen(data), err)) != 0) {
        reg_upload_abort_write(w);
        return rc;
    }
    return reg_upload_end_write(w, offset, err);
}

static void test_chunked_upload(void)
{
    char *dir = scratch_dir("reg-upload");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1], digest[SW_DIGEST_MAX];
    int64_t offset = -1;
    sw_sha256_digest("hello world", 11, digest);

    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    CHECK_INT_EQ(strlen(uuid), REG_UUID_LEN);
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err), 0);
    CHECK_INT_EQ(offset, 0);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 0, "hello", &offset, &err), 0);
    CHECK_INT_EQ(offset, 5);
    /* out of order: the chunk does not start where the session ends */
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 3, " world", &offset, &err), REG_E_RANGE_INVALID);
    sw_error_clear(&err);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 6, " world", &offset, &err), REG_E_RANGE_INVALID);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err), 0);
    CHECK_INT_EQ(offset, 5);
    /* -1: append wherever the session is */
    CHECK_INT_EQ(patch(store, "demo/app", uuid, -1, " world", &offset, &err), 0);
    CHECK_INT_EQ(offset, 11);

    /* the session belongs to its repository */
    CHECK_INT_EQ(reg_upload_offset(store, "other/app", uuid, &offset, &err),
                 REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);

    int64_t size = 0;
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", digest, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, digest, &err), 0);
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", digest, &size, &err), 0);
    CHECK_INT_EQ(size, 11);
    /* the session is gone, and so are its bytes */
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err),
                 REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, digest, &err),
                 REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);
    char path[4096];
    snprintf(path, sizeof(path), "%s/uploads/%s", dir, uuid);
    CHECK(!sw_path_exists(path));
    reg_store_close(store);
    free(dir);
}

static void test_wrong_digest_keeps_session(void)
{
    char *dir = scratch_dir("reg-upload-digest");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1], right[SW_DIGEST_MAX], wrong[SW_DIGEST_MAX];
    int64_t offset = 0;
    sw_sha256_digest("abc", 3, right);
    sw_sha256_digest("abd", 3, wrong);
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 0, "abc", &offset, &err), 0);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, wrong, &err), REG_E_DIGEST_INVALID);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, "sha256:nothex", &err),
                 REG_E_DIGEST_INVALID);
    sw_error_clear(&err);
    int64_t size;
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", wrong, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err), 0);
    CHECK_INT_EQ(offset, 3);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, right, &err), 0);
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", right, &size, &err), 0);
    reg_store_close(store);
    free(dir);
}

static void test_resume_after_restart(void)
{
    char *dir = scratch_dir("reg-upload-restart");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1], digest[SW_DIGEST_MAX];
    int64_t offset = 0;
    sw_sha256_digest("first part, second part", 23, digest);
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 0, "first part, ", &offset, &err), 0);
    reg_store_close(store);

    store = open_store(dir); /* the running hash is gone: rebuilt from the file */
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err), 0);
    CHECK_INT_EQ(offset, 12);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 12, "second part", &offset, &err), 0);
    CHECK_INT_EQ(offset, 23);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, digest, &err), 0);
    int64_t size = 0;
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", digest, &size, &err), 0);
    CHECK_INT_EQ(size, 23);
    reg_store_close(store);
    free(dir);
}

static void test_abandoned_chunk_is_discarded(void)
{
    char *dir = scratch_dir("reg-upload-abort");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1], digest[SW_DIGEST_MAX];
    reg_upload_writer *w = NULL, *second = NULL;
    int64_t offset = 0;
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 0, "keep", &offset, &err), 0);
    CHECK_INT_EQ(reg_upload_begin_write(store, "demo/app", uuid, 4, &w, &err), 0);
    CHECK_INT_EQ(reg_upload_write(w, "garbage", 7, &err), 0);
    /* while a chunk is in flight: one writer only, offset shows the last
     * complete chunk */
    CHECK_INT_EQ(reg_upload_begin_write(store, "demo/app", uuid, -1, &second, &err),
                 REG_E_RANGE_INVALID);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err), 0);
    CHECK_INT_EQ(offset, 4);
    reg_upload_abort_write(w); /* client went away */
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err), 0);
    CHECK_INT_EQ(offset, 4);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 4, "ing", &offset, &err), 0);
    sw_sha256_digest("keeping", 7, digest);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, digest, &err), 0);
    reg_store_close(store);
    free(dir);
}

static void test_cancel_and_unknown(void)
{
    char *dir = scratch_dir("reg-upload-cancel");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1], path[4096];
    int64_t offset = 0;
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 0, "bytes", &offset, &err), 0);
    snprintf(path, sizeof(path), "%s/uploads/%s", dir, uuid);
    CHECK(sw_path_exists(path));
    CHECK_INT_EQ(reg_upload_cancel(store, "demo/app", uuid, &err), 0);
    CHECK(!sw_path_exists(path));
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err),
                 REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_upload_cancel(store, "demo/app", uuid, &err), REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);
    /* ids that are not ours never reach the filesystem */
    reg_upload_writer *w = NULL;
    CHECK_INT_EQ(reg_upload_begin_write(store, "demo/app", "../../slipway.db", -1, &w, &err),
                 REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_upload_start(store, "Bad/Name", uuid, &err), REG_E_NAME_INVALID);
    sw_error_clear(&err);
    reg_store_close(store);
    free(dir);
}

static void test_empty_and_monolithic(void)
{
    char *dir = scratch_dir("reg-upload-empty");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1], digest[SW_DIGEST_MAX];
    sw_sha256_digest("", 0, digest);
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, digest, &err), 0);
    int64_t size = -1;
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", digest, &size, &err), 0);
    CHECK_INT_EQ(size, 0);
    /* the same blob pushed again through another session */
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, digest, &err), 0);
    reg_store_close(store);
    free(dir);
}

int main(void)
{
    RUN(test_chunked_upload);
    RUN(test_wrong_digest_keeps_session);
    RUN(test_resume_after_restart);
    RUN(test_abandoned_chunk_is_discarded);
    RUN(test_cancel_and_unknown);
    RUN(test_empty_and_monolithic);
    return TEST_EXIT();
}
