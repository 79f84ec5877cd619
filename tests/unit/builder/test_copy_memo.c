/*
 * test_copy_memo.c - builder/copy_memo.c: a file's digest is remembered
 * only when its mtime and ctime are old enough, found again only while
 * device, inode, size, mtime and ctime are all the same, kept in a file
 * that the next build reads back, and a damaged memo file reads as empty.
 */
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "builder/copy.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

#define DIGEST_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static time_t started; /* one clock reading, so that equal ages give equal times */

/* A regular file's stat as the kernel would give it, changed age_s ago. */
static struct stat file_stat(ino_t ino, off_t size, time_t age_s)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_mode = S_IFREG | 0644;
    st.st_dev = 42;
    st.st_ino = ino;
    st.st_size = size;
    st.st_mtim.tv_sec = started - age_s;
    st.st_mtim.tv_nsec = 123456789;
    st.st_ctim = st.st_mtim;
    return st;
}

static char *only_memo_file(const char *data_dir)
{
    char *dir = sw_path_join(data_dir, "build-memo");
    char *cmd = NULL, *found = NULL;
    if (asprintf(&cmd, "ls -1 %s", dir) >= 0) {
        FILE *p = popen(cmd, "r");
        char line[512];
        if (p && fgets(line, sizeof(line), p)) {
            line[strcspn(line, "\n")] = '\0';
            found = sw_path_join(dir, line);
        }
        if (p)
            pclose(p);
    }
    free(cmd);
    free(dir);
    return found;
}

static void test_memo(void)
{
    char *data = scratch_dir("bld-memo-data");
    char *ctx = scratch_dir("bld-memo-ctx");
    struct bld_digest_memo *m = NULL;
    struct stat old = file_stat(100, 10, 60), fresh = file_stat(101, 10, 0);

    CHECK_INT_EQ(bld_digest_memo_open(data, ctx, &m), 0);
    CHECK(bld_digest_memo_lookup(m, &old) == NULL); /* nothing yet */
    bld_digest_memo_record(m, &old, DIGEST_A);
    bld_digest_memo_record(m, &fresh, DIGEST_B); /* changed just now: not kept */
    CHECK_STR_EQ(bld_digest_memo_lookup(m, &old), DIGEST_A);
    CHECK(bld_digest_memo_lookup(m, &fresh) == NULL);

    /* any of size, mtime, ctime, inode or device different: a miss */
    struct stat changed = old;
    changed.st_size = 11;
    CHECK(bld_digest_memo_lookup(m, &changed) == NULL);
    changed = old;
    changed.st_mtim.tv_nsec++;
    CHECK(bld_digest_memo_lookup(m, &changed) == NULL);
    changed = old;
    changed.st_ctim.tv_nsec++; /* content rewritten, mtime put back */
    CHECK(bld_digest_memo_lookup(m, &changed) == NULL);
    changed = old;
    changed.st_ino = 102;
    CHECK(bld_digest_memo_lookup(m, &changed) == NULL);
    changed = old;
    changed.st_dev = 43;
    CHECK(bld_digest_memo_lookup(m, &changed) == NULL);
    changed = old;
    changed.st_mode = S_IFIFO | 0644; /* only regular files */
    CHECK(bld_digest_memo_lookup(m, &changed) == NULL);
    bld_digest_memo_close(m);

    /* the next build of the same context reads it back */
    CHECK_INT_EQ(bld_digest_memo_open(data, ctx, &m), 0);
    CHECK_STR_EQ(bld_digest_memo_lookup(m, &old), DIGEST_A);
    CHECK(bld_digest_memo_lookup(m, &fresh) == NULL);
    bld_digest_memo_close(m); /* every entry used: the file is not rewritten */

    /* another context directory has a memo of its own */
    char *other = scratch_dir("bld-memo-ctx2");
    CHECK_INT_EQ(bld_digest_memo_open(data, other, &m), 0);
    CHECK(bld_digest_memo_lookup(m, &old) == NULL);
    bld_digest_memo_free(m);

    /* a damaged memo file (one byte of a digest) reads as an empty memo */
    char *path = only_memo_file(data);
    CHECK(path != NULL);
    char *bytes = NULL;
    size_t len = 0;
    CHECK_INT_EQ(sw_read_file(path, 1 << 20, &bytes, &len, NULL), 0);
    CHECK(len > 200);
    bytes[len - 200] ^= 1;
    CHECK_INT_EQ(sw_write_file_atomic(path, bytes, len, 0600, NULL), 0);
    CHECK_INT_EQ(bld_digest_memo_open(data, ctx, &m), 0);
    CHECK(bld_digest_memo_lookup(m, &old) == NULL);
    bld_digest_memo_free(m);
    /* ... and so does a torn one */
    CHECK(truncate(path, (off_t)len / 2) == 0);
    CHECK_INT_EQ(bld_digest_memo_open(data, ctx, &m), 0);
    CHECK(bld_digest_memo_lookup(m, &old) == NULL);
    bld_digest_memo_free(m);

    /* a context that does not exist: no memo, the build reads its files */
    char *gone = sw_path_join(ctx, "nonexistent");
    CHECK_INT_EQ(bld_digest_memo_open(data, gone, &m), -1);
    CHECK(m == NULL);
    bld_digest_memo_close(NULL);

    free(gone);
    free(bytes);
    free(path);
    sw_rm_rf(other, NULL);
    sw_rm_rf(ctx, NULL);
    sw_rm_rf(data, NULL);
    free(other);
    free(ctx);
    free(data);
}

/* Many entries: the table grows and every one is found after a reload. */
static void test_many(void)
{
    char *data = scratch_dir("bld-memo-data");
    char *ctx = scratch_dir("bld-memo-ctx");
    struct bld_digest_memo *m = NULL;
    char digest[80];
    int found = 0;
    CHECK_INT_EQ(bld_digest_memo_open(data, ctx, &m), 0);
    for (int i = 0; i < 5000; i++) {
        struct stat st = file_stat((ino_t)(1000 + i), i, 60);
        snprintf(digest, sizeof(digest), "sha256:%064d", i);
        bld_digest_memo_record(m, &st, digest);
    }
    bld_digest_memo_close(m);
    CHECK_INT_EQ(bld_digest_memo_open(data, ctx, &m), 0);
    for (int i = 0; i < 5000; i++) {
        struct stat st = file_stat((ino_t)(1000 + i), i, 60);
        const char *got = bld_digest_memo_lookup(m, &st);
        snprintf(digest, sizeof(digest), "sha256:%064d", i);
        found += got != NULL && strcmp(got, digest) == 0;
    }
    CHECK_INT_EQ(found, 5000);
    bld_digest_memo_free(m);
    sw_rm_rf(ctx, NULL);
    sw_rm_rf(data, NULL);
    free(ctx);
    free(data);
}

int main(void)
{
    started = time(NULL);
    RUN(test_memo);
    RUN(test_many);
    return TEST_EXIT();
}
