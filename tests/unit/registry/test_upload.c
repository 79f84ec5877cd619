/*
 * test_upload.c - registry/upload.c: chunked uploads as a client drives
 * them: offsets after each chunk, a chunk at the wrong offset refused
 * (416), a failed chunk leaving the session as it was, resume after the
 * process restarted, completion with right and wrong digests, cancel, and
 * one writer at a time; large chunks and blobs going through the sink (its
 * ring of buffers and hashing thread) byte for byte, and a session's lock
 * released even while another process holds a reference to its file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/store.h"
#include "registry/upload.h"
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

/* Deterministic bytes that differ across buffer boundaries. */
static unsigned char *pattern(size_t len)
{
    unsigned char *p = malloc(len);
    CHECK(p != NULL);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

/* Writes data[0, len) to an upload in pieces of odd sizes, ending the
 * chunk at each offset in ends. */
static void test_large_chunks(void)
{
    char *dir = scratch_dir("reg-upload-large");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1], digest[SW_DIGEST_MAX], got[SW_DIGEST_MAX];
    size_t len = 9 * 1024 * 1024 + 12345; /* more than the ring (4 x 1 MiB) in one chunk */
    size_t ends[] = { 100, 1024 * 1024, 7 * 1024 * 1024 + 1, len };
    unsigned char *data = pattern(len);
    sw_sha256_digest(data, len, digest);
    int64_t offset = 0;
    size_t at = 0;
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    for (size_t c = 0; c < sizeof(ends) / sizeof(ends[0]); c++) {
        reg_upload_writer *w = NULL;
        CHECK_INT_EQ(reg_upload_begin_write(store, "demo/app", uuid, (int64_t)at, &w, &err), 0);
        while (at < ends[c]) {
            size_t n = 65536 + 17 * (at % 1000);
            if (n > ends[c] - at)
                n = ends[c] - at;
            CHECK_INT_EQ(reg_upload_write(w, data + at, n, &err), 0);
            at += n;
        }
        CHECK_INT_EQ(reg_upload_end_write(w, &offset, &err), 0);
        CHECK_INT_EQ(offset, (int64_t)ends[c]);
    }
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, digest, &err), 0);
    char *path = test_blob_path(store, digest);
    CHECK(sw_hash_file(path, SW_HASH_SHA256, got, &err) == 0 && strcmp(got, digest) == 0);
    free(path);

    /* the same through a blob writer (POST ?digest=), and a wrong digest
     * refused after the hashing thread caught up */
    for (int wrong = 0; wrong < 2; wrong++) {
        reg_blob_writer *bw = NULL;
        CHECK_INT_EQ(reg_blob_writer_new(store, &bw, &err), 0);
        for (size_t i = 0; i < len;) {
            size_t n = i % 3 == 0 ? 3 * 1024 * 1024 : 4096 + 7;
            if (n > len - i)
                n = len - i;
            CHECK_INT_EQ(reg_blob_writer_write(bw, data + i, n, &err), 0);
            i += n;
        }
        CHECK_INT_EQ(reg_blob_writer_size(bw), (int64_t)len);
        char expected[SW_DIGEST_MAX];
        snprintf(expected, sizeof(expected), "%s", digest);
        if (wrong)
            expected[10] = expected[10] == '0' ? '1' : '0';
        CHECK_INT_EQ(reg_blob_writer_commit(bw, "demo/other", expected, got, &err),
                     wrong ? REG_E_DIGEST_INVALID : 0);
        sw_error_clear(&err);
    }
    int64_t size = 0;
    CHECK_INT_EQ(reg_blob_stat(store, "demo/other", digest, &size, &err), 0);
    CHECK_INT_EQ(size, (int64_t)len);
    free(data);
    reg_store_close(store);
    free(dir);
}

/* Pages of the file at path that are in the page cache. */
static size_t resident_pages(const char *path, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    CHECK(map != MAP_FAILED);
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = (len + (size_t)page - 1) / (size_t)page, resident = 0;
    unsigned char *vec = malloc(pages);
    CHECK(vec != NULL && mincore(map, len, vec) == 0);
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    free(vec);
    munmap(map, len);
    return resident;
}

/* A large blob, pushed whole or in chunks at odd offsets, is written past
 * the page cache where the filesystem allows O_DIRECT: only the pieces
 * that are not whole blocks (a chunk's first partial block, the tail) go
 * through it. The bytes are checked by digest in test_large_chunks. */
static void test_large_blob_bypasses_page_cache(void)
{
    char *dir = scratch_dir("reg-upload-direct");
    char *probe = NULL;
    CHECK(asprintf(&probe, "%s/probe", dir) > 0);
    int fd = open(probe, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0) {
        printf("  (skipped: %s refuses O_DIRECT)\n", dir);
        free(probe);
        free(dir);
        return;
    }
    close(fd);
    unlink(probe);
    free(probe);
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    size_t len = 8 * 1024 * 1024 + 5000;
    unsigned char *data = pattern(len);
    for (int chunked = 0; chunked < 2; chunked++) {
        char digest[SW_DIGEST_MAX], got[SW_DIGEST_MAX];
        data[0] = (unsigned char)chunked; /* two different blobs */
        sw_sha256_digest(data, len, digest);
        if (chunked) {
            char uuid[REG_UUID_LEN + 1];
            size_t ends[] = { 3 * 1024 * 1024 + 77, len };
            size_t at = 0;
            int64_t offset = 0;
            CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
            for (size_t c = 0; c < 2; c++) {
                reg_upload_writer *w = NULL;
                CHECK_INT_EQ(reg_upload_begin_write(store, "demo/app", uuid, (int64_t)at, &w, &err),
                             0);
                CHECK_INT_EQ(reg_upload_write(w, data + at, ends[c] - at, &err), 0);
                CHECK_INT_EQ(reg_upload_end_write(w, &offset, &err), 0);
                at = ends[c];
            }
            CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, digest, &err), 0);
        } else {
            reg_blob_writer *bw = NULL;
            CHECK_INT_EQ(reg_blob_writer_new(store, &bw, &err), 0);
            CHECK_INT_EQ(reg_blob_writer_write(bw, data, len, &err), 0);
            CHECK_INT_EQ(reg_blob_writer_commit(bw, "demo/app", digest, got, &err), 0);
        }
        char *path = test_blob_path(store, digest);
        size_t resident = resident_pages(path, len);
        /* at most the partial blocks: a few pages, not the 2,050 of the blob */
        if (resident > 8)
            fprintf(stderr, "  %s: %zu pages in the page cache\n", chunked ? "chunked" : "whole",
                    resident);
        CHECK(resident <= 8);
        free(path);
    }
    free(data);
    reg_store_close(store);
    free(dir);
}

/* A chunk ends while a child process still holds a reference to the
 * session's open file (as between fork and exec, or a process reading
 * /proc/<pid>/fdinfo): the next chunk must not find the lock held. */
static void test_lock_released_while_file_referenced(void)
{
    char *dir = scratch_dir("reg-upload-lock");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1];
    int64_t offset = 0;
    int gate[2];
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    reg_upload_writer *w = NULL;
    CHECK_INT_EQ(reg_upload_begin_write(store, "demo/app", uuid, 0, &w, &err), 0);
    CHECK_INT_EQ(reg_upload_write(w, "hello", 5, &err), 0);
    CHECK_INT_EQ(pipe(gate), 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) { /* holds every inherited descriptor until the gate closes */
        char c;
        close(gate[1]);
        while (read(gate[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    close(gate[0]);
    CHECK_INT_EQ(reg_upload_end_write(w, &offset, &err), 0);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 5, " world", &offset, &err), 0);
    if (err)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    sw_error_clear(&err);
    CHECK_INT_EQ(offset, 11);
    close(gate[1]);
    waitpid(child, NULL, 0);
    reg_store_close(store);
    free(dir);
}

/* Replaces every "boot=<id>" in a session's state file with another boot's
 * id: what the state looks like after the machine restarted. */
static void state_from_another_boot(const char *dir, const char *uuid)
{
    char path[4096], *text = NULL, *at;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/uploads/%s.state", dir, uuid);
    CHECK_INT_EQ(sw_read_file(path, 4096, &text, &len, NULL), 0);
    CHECK(text != NULL && (at = strstr(text, "boot=")) != NULL);
    if (text && (at = strstr(text, "boot=")) != NULL) {
        for (char *p = at + 5; *p && *p != '\n' && *p != ' '; p++)
            *p = *p == '-' ? '-' : '0';
        CHECK_INT_EQ(sw_write_file_atomic(path, text, strlen(text), 0600, NULL), 0);
    }
    free(text);
}

/* Chunks are not fsynced one by one: after a restart of the machine the
 * state is rebuilt from the bytes on disk, which may be fewer than the
 * state said (lost with the page cache), never trusted blindly. */
static void test_state_of_another_boot_is_rebuilt(void)
{
    char *dir = scratch_dir("reg-upload-boot");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1], path[4096], digest[SW_DIGEST_MAX];
    int64_t offset = 0;
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 0, "hello world", &offset, &err), 0);
    CHECK_INT_EQ(offset, 11);
    /* all bytes survived: the same offset, and the digest still matches */
    state_from_another_boot(dir, uuid);
    reg_store_close(store);
    store = open_store(dir);
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err), 0);
    CHECK_INT_EQ(offset, 11);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 11, "!", &offset, &err), 0);
    /* the last chunk's bytes were lost with the page cache: the state is
     * rebuilt to what is on disk, and the client resends from there */
    state_from_another_boot(dir, uuid);
    snprintf(path, sizeof(path), "%s/uploads/%s", dir, uuid);
    CHECK_INT_EQ(truncate(path, 5), 0);
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err), 0);
    CHECK_INT_EQ(offset, 5);
    CHECK_INT_EQ(patch(store, "demo/app", uuid, 5, " world!", &offset, &err), 0);
    CHECK_INT_EQ(offset, 12);
    sw_sha256_digest("hello world!", 12, digest);
    CHECK_INT_EQ(reg_upload_complete(store, "demo/app", uuid, digest, &err), 0);
    if (err)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    sw_error_clear(&err);
    char *data = NULL;
    size_t len = 0;
    CHECK_INT_EQ(reg_blob_read_all(store, digest, 100, &data, &len, &err), 0);
    CHECK(data != NULL && len == 12 && memcmp(data, "hello world!", 12) == 0);
    free(data);
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
    RUN(test_large_chunks);
    RUN(test_large_blob_bypasses_page_cache);
    RUN(test_lock_released_while_file_referenced);
    RUN(test_state_of_another_boot_is_rebuilt);
    return TEST_EXIT();
}
