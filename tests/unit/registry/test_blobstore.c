/*
 * test_blobstore.c - registry/blobstore.c: a blob is visible only after a
 * verified commit, in the right place, to the repositories linked to it;
 * a wrong digest leaves nothing behind; many threads committing the same
 * blob at once end with one good copy; crash leftovers in tmp/ go away at
 * the next open.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/names.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/blob_path.h"
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

/* Number of entries in a directory (without . and ..). */
static int count_entries(const char *path)
{
    int n = 0;
    DIR *d = opendir(path);
    struct dirent *de;
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void test_store_layout(void)
{
    char *dir = scratch_dir("reg-layout");
    mode_t old_umask = umask(0); /* the modes must not depend on the umask */
    CHECK_INT_EQ(sw_mkdir_p(dir, 0755, NULL), 0);
    reg_store *store = open_store(dir);
    umask(old_umask);
    char path[4096];
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    snprintf(path, sizeof(path), "%s/blobs", dir);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    snprintf(path, sizeof(path), "%s/uploads", dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
    snprintf(path, sizeof(path), "%s/tmp", dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
    snprintf(path, sizeof(path), "%s/slipway.db", dir);
    CHECK(sw_path_exists(path));
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(path, sizeof(path), "%s/slipway.db-wal", dir);
    CHECK(stat(path, &st) != 0 || (st.st_mode & 0777) == 0600);
    CHECK_STR_EQ(reg_store_data_dir(store), dir);
    CHECK_INT_EQ(reg_store_options(store)->max_manifest_size, 4 * 1024 * 1024);
    reg_store_close(store);
    free(dir);
}

static void test_write_commit_read(void)
{
    char *dir = scratch_dir("reg-blob");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    reg_blob_writer *w = NULL;
    char digest[SW_DIGEST_MAX], expected[SW_DIGEST_MAX];
    const char *data = "hello, registry";
    sw_sha256_digest(data, strlen(data), expected);

    CHECK_INT_EQ(reg_blob_writer_new(store, &w, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_write(w, data, 7, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_write(w, data + 7, strlen(data) - 7, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_size(w), strlen(data));
    /* not visible before commit */
    int64_t size = -1;
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", expected, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_blob_writer_commit(w, "demo/app", expected, digest, &err), 0);
    CHECK_STR_EQ(digest, expected);

    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", digest, &size, &err), 0);
    CHECK_INT_EQ(size, strlen(data));
    reg_backend_reader *r = NULL;
    CHECK_INT_EQ(reg_blob_reader_open(store, "demo/app", digest, 0, -1, &r, &size, &err), 0);
    char buf[64] = { 0 };
    size_t got = 0;
    CHECK_INT_EQ(reg_backend_read(r, buf, sizeof(buf), &got, &err), 0);
    CHECK_INT_EQ(got, strlen(data));
    CHECK_STR_EQ(buf, data);
    reg_backend_reader_close(r);
    /* a range, and one that does not fit */
    CHECK_INT_EQ(reg_blob_reader_open(store, "demo/app", digest, 2, 3, &r, &size, &err), 0);
    memset(buf, 0, sizeof(buf));
    CHECK_INT_EQ(reg_backend_read(r, buf, sizeof(buf), &got, &err), 0);
    CHECK_INT_EQ(got, 3);
    CHECK(memcmp(buf, data + 2, 3) == 0);
    reg_backend_reader_close(r);
    CHECK_INT_EQ(reg_blob_reader_open(store, "demo/app", digest, 2, 1000, &r, &size, &err),
                 REG_E_RANGE_INVALID);
    sw_error_clear(&err);
    /* not linked to another repository: not readable through it */
    CHECK_INT_EQ(reg_blob_reader_open(store, "other/app", digest, 0, -1, &r, &size, &err),
                 REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);

    /* the file is where DESIGN.md says */
    char *path = test_blob_path(store, digest);
    char want[4096];
    snprintf(want, sizeof(want), "%s/blobs/sha256/%.2s/%s", dir, digest + 7, digest + 7);
    struct stat blob_st;
    CHECK(stat(want, &blob_st) == 0 && (blob_st.st_mode & 0777) == 0600);
    CHECK_STR_EQ(path, want);
    CHECK(sw_path_exists(path));
    free(path);

    /* another repository does not see it until linked or mounted */
    CHECK_INT_EQ(reg_blob_stat(store, "other/app", digest, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_blob_mount(store, "other/app", "nope/app", digest, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_blob_mount(store, "other/app", "demo/app", digest, &err), 0);
    CHECK_INT_EQ(reg_blob_stat(store, "other/app", digest, &size, &err), 0);
    CHECK_INT_EQ(reg_blob_link(store, "third/app", digest, &err), 0);
    CHECK_INT_EQ(reg_blob_stat(store, "third/app", digest, &size, &err), 0);

    /* unlink from one repository, the others keep it */
    CHECK_INT_EQ(reg_blob_delete(store, "other/app", digest, &err), 0);
    CHECK_INT_EQ(reg_blob_stat(store, "other/app", digest, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_blob_delete(store, "other/app", digest, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", digest, &size, &err), 0);

    /* read_all sees it regardless of links */
    char *all = NULL;
    size_t len = 0;
    CHECK_INT_EQ(reg_blob_read_all(store, digest, 1024, &all, &len, &err), 0);
    CHECK_STR_EQ(all, data);
    free(all);
    reg_store_close(store);
    free(dir);
}

static void test_digest_mismatch_leaves_nothing(void)
{
    char *dir = scratch_dir("reg-mismatch");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    reg_blob_writer *w = NULL;
    char wrong[SW_DIGEST_MAX], real[SW_DIGEST_MAX], tmp[4096];
    sw_sha256_digest("other", 5, wrong);
    sw_sha256_digest("content", 7, real);
    CHECK_INT_EQ(reg_blob_writer_new(store, &w, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_write(w, "content", 7, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_commit(w, "demo/app", wrong, NULL, &err), REG_E_DIGEST_INVALID);
    CHECK(strstr(sw_error_message(err), wrong) != NULL);
    sw_error_clear(&err);
    int64_t size;
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", wrong, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", real, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    char *p1 = test_blob_path(store, real), *p2 = test_blob_path(store, wrong);
    CHECK(!sw_path_exists(p1));
    CHECK(!sw_path_exists(p2));
    free(p1);
    free(p2);
    snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    CHECK_INT_EQ(count_entries(tmp), 0);

    /* malformed expected digest */
    CHECK_INT_EQ(reg_blob_writer_new(store, &w, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_commit(w, "demo/app", "sha256:XYZ", NULL, &err),
                 REG_E_DIGEST_INVALID);
    sw_error_clear(&err);
    /* abort drops the temporary file */
    CHECK_INT_EQ(reg_blob_writer_new(store, &w, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_write(w, "x", 1, &err), 0);
    reg_blob_writer_abort(w);
    CHECK_INT_EQ(count_entries(tmp), 0);
    reg_store_close(store);
    free(dir);
}

static void test_sha512_blob(void)
{
    char *dir = scratch_dir("reg-sha512");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    reg_blob_writer *w = NULL;
    char expected[SW_DIGEST_MAX], digest[SW_DIGEST_MAX];
    sw_hash *h = sw_hash_new(SW_HASH_SHA512);
    sw_hash_update(h, "five12", 6);
    sw_hash_digest(h, expected);
    sw_hash_free(h);
    /* hashed as sha512 while writing */
    CHECK_INT_EQ(reg_blob_writer_new_algo(store, SW_HASH_SHA512, &w, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_write(w, "five12", 6, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_commit(w, "demo/app", expected, digest, &err), 0);
    CHECK_STR_EQ(digest, expected);
    int64_t size = 0;
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", expected, &size, &err), 0);
    CHECK_INT_EQ(size, 6);
    char *path = test_blob_path(store, expected);
    CHECK(path && strstr(path, "/blobs/sha512/") != NULL && sw_path_exists(path));
    free(path);
    /* a sha256 writer asked for a sha512 digest refuses (nothing re-reads
     * the bytes: callers pick the algorithm with reg_digest_algo) */
    CHECK_INT_EQ(reg_digest_algo(expected), SW_HASH_SHA512);
    CHECK_INT_EQ(reg_blob_writer_new(store, &w, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_write(w, "five12", 6, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_commit(w, "other/app", expected, NULL, &err),
                 REG_E_DIGEST_INVALID);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_blob_stat(store, "other/app", expected, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    reg_store_close(store);
    free(dir);
}

static void test_large_blob_in_chunks(void)
{
    char *dir = scratch_dir("reg-large");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    reg_blob_writer *w = NULL;
    char digest[SW_DIGEST_MAX], expected[SW_DIGEST_MAX];
    static unsigned char chunk[300000];
    sw_hash *h = sw_hash_new(SW_HASH_SHA256);
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (unsigned char)(i * 7);
    CHECK_INT_EQ(reg_blob_writer_new(store, &w, &err), 0);
    /* odd sizes: some buffered, some straight through */
    size_t sizes[] = { 1, 100, 131071, 131072, 131073, 300000, 5 };
    int64_t total = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        CHECK_INT_EQ(reg_blob_writer_write(w, chunk, sizes[i], &err), 0);
        sw_hash_update(h, chunk, sizes[i]);
        total += (int64_t)sizes[i];
    }
    sw_hash_digest(h, expected);
    sw_hash_free(h);
    CHECK_INT_EQ(reg_blob_writer_commit(w, "demo/big", expected, digest, &err), 0);
    char *path = test_blob_path(store, digest);
    char on_disk[SW_DIGEST_MAX];
    CHECK_INT_EQ(sw_hash_file(path, SW_HASH_SHA256, on_disk, &err), 0);
    CHECK_STR_EQ(on_disk, expected);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == total);
    free(path);
    reg_store_close(store);
    free(dir);
}

struct race {
    reg_store *store;
    const char *repo;
    char expected[SW_DIGEST_MAX];
    int rc;
};

static void *commit_same_blob(void *arg)
{
    struct race *r = arg;
    reg_blob_writer *w = NULL;
    sw_error *err = NULL;
    static char data[200000];
    memset(data, 'z', sizeof(data));
    r->rc = reg_blob_writer_new(r->store, &w, &err);
    for (int i = 0; r->rc == 0 && i < 4; i++)
        r->rc = reg_blob_writer_write(w, data, sizeof(data) / 4, &err);
    if (r->rc == 0)
        r->rc = reg_blob_writer_commit(w, r->repo, r->expected, NULL, &err);
    if (r->rc != 0)
        fprintf(stderr, "  thread: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    return NULL;
}

static void test_concurrent_commits_of_one_blob(void)
{
    char *dir = scratch_dir("reg-race");
    reg_store *store = open_store(dir);
    enum { N = 8 };
    pthread_t threads[N];
    struct race races[N];
    static char data[200000];
    char expected[SW_DIGEST_MAX], tmp[4096];
    const char *repos[] = { "a/one", "b/two" };
    memset(data, 'z', sizeof(data));
    sw_sha256_digest(data, sizeof(data), expected);
    for (int i = 0; i < N; i++) {
        races[i].store = store;
        races[i].repo = repos[i % 2];
        memcpy(races[i].expected, expected, SW_DIGEST_MAX);
        pthread_create(&threads[i], NULL, commit_same_blob, &races[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT_EQ(races[i].rc, 0);
    }
    sw_error *err = NULL;
    int64_t size = 0;
    CHECK_INT_EQ(reg_blob_stat(store, "a/one", expected, &size, &err), 0);
    CHECK_INT_EQ(size, sizeof(data));
    CHECK_INT_EQ(reg_blob_stat(store, "b/two", expected, &size, &err), 0);
    char *path = test_blob_path(store, expected), on_disk[SW_DIGEST_MAX];
    CHECK_INT_EQ(sw_hash_file(path, SW_HASH_SHA256, on_disk, &err), 0);
    CHECK_STR_EQ(on_disk, expected);
    free(path);
    snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    CHECK_INT_EQ(count_entries(tmp), 0);
    reg_store_close(store);
    free(dir);
}

static void test_recovery_removes_tmp_leftovers(void)
{
    char *dir = scratch_dir("reg-recover");
    reg_store *store = open_store(dir);
    reg_store_close(store);
    char path[4096], tmp[4096], scratch[4096];
    /* a writer that died: its temporary file, unlocked */
    snprintf(path, sizeof(path), "%s/tmp/blob-deadbeef", dir);
    CHECK_INT_EQ(sw_write_file_atomic(path, "partial", 7, 0644, NULL), 0);
    /* someone else's scratch directory is left alone */
    snprintf(scratch, sizeof(scratch), "%s/tmp/build-1", dir);
    CHECK_INT_EQ(sw_mkdir_p(scratch, 0755, NULL), 0);
    store = open_store(dir);
    CHECK(!sw_path_exists(path));
    CHECK(sw_path_exists(scratch));

    /* a live writer's file (locked) survives another open of the store */
    reg_blob_writer *w = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_blob_writer_new(store, &w, &err), 0);
    CHECK_INT_EQ(reg_blob_writer_write(w, "live", 4, &err), 0);
    reg_store *second = open_store(dir);
    char digest[SW_DIGEST_MAX];
    CHECK_INT_EQ(reg_blob_writer_commit(w, "demo/app", NULL, digest, &err), 0);
    int64_t size = 0;
    CHECK_INT_EQ(reg_blob_stat(second, "demo/app", digest, &size, &err), 0);
    CHECK_INT_EQ(size, 4);
    reg_store_close(second);
    snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    CHECK_INT_EQ(count_entries(tmp), 1); /* build-1 only */
    reg_store_close(store);
    free(dir);
}

int main(void)
{
    RUN(test_store_layout);
    RUN(test_write_commit_read);
    RUN(test_digest_mismatch_leaves_nothing);
    RUN(test_sha512_blob);
    RUN(test_large_blob_in_chunks);
    RUN(test_concurrent_commits_of_one_blob);
    RUN(test_recovery_removes_tmp_leftovers);
    return TEST_EXIT();
}
