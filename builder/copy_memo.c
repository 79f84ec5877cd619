/*
 * copy_memo.c - content digests of unchanged context files, remembered
 * between builds (copy.h, bld_digest_memo).
 *
 * A COPY's cache key holds the content of every file it copies, so a
 * no-change rebuild of a 2,000-file context opened and read 2,000 files:
 * most of its time. Like git's index, the memo keeps each file's digest
 * under what changes whenever its content can have changed: device, inode
 * number, size, mtime and ctime (to the nanosecond). ctime cannot be set
 * from user space, and a file replaced under the same name (even on a
 * reused inode number) is a new inode with a new ctime.
 *
 * The one race is git's "racily clean" file: a change within the same
 * clock tick as the stat that recorded it leaves every field equal. So a
 * file is remembered only when its mtime and ctime are older than the
 * moment the memo was opened, less MEMO_SETTLE_NS; a change after that
 * moment gets a later ctime. Files changed moments ago are read as before.
 *
 * One memo file per context directory, under <data_dir>/build-memo/ (the
 * data dir is the service user's alone). It holds only the entries the
 * last build used, is written only when that set changed, and ends with a
 * sha256 of its body: a file torn by a crash fails the check and counts as
 * empty, so it is written without fsync (it is a cache; an old but whole
 * memo is still right, entry by entry). Memo files (and temporary files
 * a crash left) unused for MEMO_MAX_AGE_S are removed when another is
 * written.
 */
#include "builder/copy_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "core/fs.h"

#define MEMO_MAGIC "slipway-digest-memo 1\n"
#define MEMO_SETTLE_NS (2 * 1000000000LL)
#define MEMO_MAX_AGE_S (30 * 24 * 3600)
#define MEMO_MAX_ENTRIES (1u << 22)
#define MEMO_DIGEST_LEN 72 /* "sha256:" + 64 hex + NUL */

struct memo_entry {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    char digest[MEMO_DIGEST_LEN];
    uint8_t used;  /* looked up or recorded by this build */
    uint8_t taken; /* slot in use */
};

struct bld_digest_memo {
    char *path;
    int64_t settled_before_ns; /* files changed after this are not kept */
    struct memo_entry *slots;
    size_t cap, n;
    size_t n_used;
    int changed; /* something recorded that the file does not hold */
};

static int64_t ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static size_t slot_of(const struct bld_digest_memo *m, uint64_t dev, uint64_t ino)
{
    uint64_t h = (ino * 0x9E3779B97F4A7C15ull) ^ (dev * 0xC2B2AE3D27D4EB4Full);
    return (size_t)(h ^ (h >> 29)) & (m->cap - 1);
}

static struct memo_entry *find_slot(struct bld_digest_memo *m, uint64_t dev, uint64_t ino)
{
    size_t i = slot_of(m, dev, ino);
    while (m->slots[i].taken && (m->slots[i].dev != dev || m->slots[i].ino != ino))
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

static int grow(struct bld_digest_memo *m)
{
    size_t old_cap = m->cap;
    struct memo_entry *old = m->slots;
    size_t cap = old_cap ? old_cap * 2 : 1024;
    struct memo_entry *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].taken)
            *find_slot(m, old[i].dev, old[i].ino) = old[i];
    free(old);
    return 0;
}

/* Puts e in the table (replacing the entry of the same inode). */
static int put(struct bld_digest_memo *m, const struct memo_entry *e)
{
    if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
        return -1;
    struct memo_entry *slot = find_slot(m, e->dev, e->ino);
    if (!slot->taken)
        m->n++;
    else if (slot->used)
        m->n_used--;
    *slot = *e;
    slot->taken = 1;
    if (slot->used)
        m->n_used++;
    return 0;
}

/* The entries of a memo file whose checksum holds; anything else reads
 * as an empty memo. */
static void load(struct bld_digest_memo *m)
{
    char *data = NULL;
    size_t len = 0;
    const size_t magic_len = sizeof(MEMO_MAGIC) - 1, rec = 5 * 8 + MEMO_DIGEST_LEN;
    if (sw_read_file(m->path, (size_t)MEMO_MAX_ENTRIES * rec + 256, &data, &len, NULL) != 0)
        return;
    char sum[SW_DIGEST_MAX];
    uint64_t count = 0;
    if (len < magic_len + 8 + MEMO_DIGEST_LEN || memcmp(data, MEMO_MAGIC, magic_len) != 0)
        goto cleanup;
    memcpy(&count, data + magic_len, 8);
    if (count > MEMO_MAX_ENTRIES || len != magic_len + 8 + count * rec + MEMO_DIGEST_LEN)
        goto cleanup;
    sw_sha256_digest(data, len - MEMO_DIGEST_LEN, sum);
    if (memcmp(sum, data + len - MEMO_DIGEST_LEN, MEMO_DIGEST_LEN) != 0)
        goto cleanup;
    const char *p = data + magic_len + 8;
    for (uint64_t i = 0; i < count; i++, p += rec) {
        struct memo_entry e = { 0 };
        memcpy(&e.dev, p, 8);
        memcpy(&e.ino, p + 8, 8);
        memcpy(&e.size, p + 16, 8);
        memcpy(&e.mtime_ns, p + 24, 8);
        memcpy(&e.ctime_ns, p + 32, 8);
        memcpy(e.digest, p + 40, MEMO_DIGEST_LEN);
        e.digest[MEMO_DIGEST_LEN - 1] = '\0';
        if (put(m, &e) != 0)
            break;
    }
cleanup:
    free(data);
}

int bld_digest_memo_open(const char *data_dir, const char *context_dir,
                         struct bld_digest_memo **out)
{
    struct timespec now;
    char *real = realpath(context_dir, NULL);
    char key[SW_DIGEST_MAX];
    struct bld_digest_memo *m = calloc(1, sizeof(*m));
    *out = NULL;
    if (m == NULL || real == NULL) {
        free(real);
        free(m);
        return -1;
    }
    sw_sha256_digest(real, strlen(real), key);
    free(real);
    clock_gettime(CLOCK_REALTIME, &now);
    m->settled_before_ns = ts_ns(&now) - MEMO_SETTLE_NS;
    if (asprintf(&m->path, "%s/build-memo/%s", data_dir, key + strlen("sha256:")) < 0)
        m->path = NULL;
    if (m->path == NULL || grow(m) != 0) {
        bld_digest_memo_free(m);
        return -1;
    }
    load(m);
    *out = m;
    return 0;
}

const char *bld_digest_memo_lookup(struct bld_digest_memo *m, const struct stat *st)
{
    if (m == NULL || !S_ISREG(st->st_mode))
        return NULL;
    struct memo_entry *e = find_slot(m, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
    if (!e->taken || e->size != (uint64_t)st->st_size || e->mtime_ns != ts_ns(&st->st_mtim) ||
        e->ctime_ns != ts_ns(&st->st_ctim))
        return NULL;
    if (!e->used) {
        e->used = 1;
        m->n_used++;
    }
    return e->digest;
}

void bld_digest_memo_record(struct bld_digest_memo *m, const struct stat *st, const char *digest)
{
    if (m == NULL || !S_ISREG(st->st_mode) || strlen(digest) >= MEMO_DIGEST_LEN ||
        ts_ns(&st->st_mtim) >= m->settled_before_ns || ts_ns(&st->st_ctim) >= m->settled_before_ns)
        return;
    struct memo_entry e = { .dev = (uint64_t)st->st_dev,
                            .ino = (uint64_t)st->st_ino,
                            .size = (uint64_t)st->st_size,
                            .mtime_ns = ts_ns(&st->st_mtim),
                            .ctime_ns = ts_ns(&st->st_ctim),
                            .used = 1 };
    snprintf(e.digest, sizeof(e.digest), "%s", digest);
    if (put(m, &e) == 0)
        m->changed = 1;
}

/* Removes memo files nobody used for MEMO_MAX_AGE_S (their contexts are
 * gone or no longer built). */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    time_t now = time(NULL);
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_mtime < now - MEMO_MAX_AGE_S)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* Writes the entries this build used, when they differ from the file's. */
static void save(struct bld_digest_memo *m)
{
    if (!m->changed && m->n_used == m->n)
        return;
    const size_t magic_len = sizeof(MEMO_MAGIC) - 1, rec = 5 * 8 + MEMO_DIGEST_LEN;
    uint64_t count = m->n_used;
    size_t len = magic_len + 8 + count * rec + MEMO_DIGEST_LEN;
    char *data = malloc(len), *dir = strdup(m->path), *tmp = NULL;
    char *slash = dir ? strrchr(dir, '/') : NULL;
    int fd = -1;
    if (data == NULL || slash == NULL || count == 0)
        goto cleanup;
    *slash = '\0';
    memcpy(data, MEMO_MAGIC, magic_len);
    memcpy(data + magic_len, &count, 8);
    char *p = data + magic_len + 8;
    for (size_t i = 0; i < m->cap; i++) {
        const struct memo_entry *e = &m->slots[i];
        if (!e->taken || !e->used)
            continue;
        memcpy(p, &e->dev, 8);
        memcpy(p + 8, &e->ino, 8);
        memcpy(p + 16, &e->size, 8);
        memcpy(p + 24, &e->mtime_ns, 8);
        memcpy(p + 32, &e->ctime_ns, 8);
        memcpy(p + 40, e->digest, MEMO_DIGEST_LEN);
        p += rec;
    }
    char sum[SW_DIGEST_MAX];
    sw_sha256_digest(data, len - MEMO_DIGEST_LEN, sum);
    memset(p, 0, MEMO_DIGEST_LEN);
    memcpy(p, sum, strlen(sum) + 1);
    if (sw_mkdir_p(dir, 0700, NULL) != 0 || asprintf(&tmp, "%s/.tmp-XXXXXX", dir) < 0) {
        tmp = NULL;
        goto cleanup;
    }
    fd = mkstemp(tmp);
    if (fd < 0)
        goto cleanup;
    /* no fsync: a torn memo fails its checksum and is read as empty */
    if (sw_write_all(fd, data, len, NULL) != 0 || rename(tmp, m->path) != 0)
        unlink(tmp);
    else
        remove_stale(dir);
cleanup:
    if (fd >= 0)
        close(fd);
    free(tmp);
    free(dir);
    free(data);
}

void bld_digest_memo_close(struct bld_digest_memo *m)
{
    if (m == NULL)
        return;
    save(m);
    bld_digest_memo_free(m);
}

void bld_digest_memo_free(struct bld_digest_memo *m)
{
    if (m == NULL)
        return;
    free(m->path);
    free(m->slots);
    free(m);
}
