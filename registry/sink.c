/*
 * sink.c - blob bytes to a file through a ring of large buffers, written
 * and hashed on two other threads.
 *
 * The caller fills the buffer at `head`; when it is full it is published:
 * slots [done, published) belong to the threads. The writer thread writes
 * each slot at its file offset and the hashing thread hashes it, each in
 * order and each at its own pace; a slot comes back to the caller once both
 * have passed it. Only the threads touch the file while they run, only the
 * caller touches the slot it fills, and the one lock guards the counters.
 *
 * Large writes bypass the page cache (O_DIRECT) when the filesystem allows
 * it: copying into fresh page-cache pages was most of a push's CPU time
 * (copy_folio_from_iter, 62% of the server's samples at 230 MB/s), and the
 * dirty pages then had to be written back anyway before the push could be
 * acknowledged. A direct write needs an aligned buffer, offset and length,
 * so the first buffer of a sink that starts mid-block (a PATCH at an odd
 * offset) is shortened to end on a block boundary, and the tail of the
 * last one goes through the page cache. The writer thread also starts
 * writeback of what went through the page cache (a hint: errors show up in
 * the fsync at commit, which is what acknowledges a push).
 */
#include "registry/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/profile.h"

#define SINK_BUFFER_SIZE (1024 * 1024)
#define SINK_SLOTS 4
#define SINK_ALIGN 4096 /* a block size every Linux filesystem takes */
#define SINK_WRITEBACK_STEP ((int64_t)8 * 1024 * 1024) /* start writeback every 8 MiB */
#define POOL_MAX 8                                     /* idle buffers kept for the next sink */

/* Buffers of finished sinks, reused: a chunked push makes a sink per PATCH,
 * and fresh 1 MiB buffers each time cost page faults and zeroing of as
 * many bytes as the chunk itself. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *pool[POOL_MAX];
static int pool_count;

static unsigned char *buffer_get(void)
{
    unsigned char *b = NULL;
    pthread_mutex_lock(&pool_lock);
    if (pool_count > 0)
        b = pool[--pool_count];
    pthread_mutex_unlock(&pool_lock);
    return b ? b : aligned_alloc(SINK_ALIGN, SINK_BUFFER_SIZE);
}

static void buffer_put(unsigned char *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&pool_lock);
    if (pool_count < POOL_MAX) {
        pool[pool_count++] = b;
        b = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    free(b);
}

struct reg_sink {
    int fd;  /* buffered writes */
    int dfd; /* the same file opened O_DIRECT, or -1; set before the first write */
    char *path;
    reg_sink_hash_fn update;
    void *hash;
    unsigned char *buffers[SINK_SLOTS];
    size_t fill[SINK_SLOTS];
    int64_t at[SINK_SLOTS]; /* the file offset of each slot's first byte */
    unsigned head;          /* slot the caller fills */
    int64_t next;           /* file offset after the head slot's bytes */
    int has_failed;
    int has_threads;
    pthread_t writer, hasher;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    /* under lock; slot i of the ring holds the i % SINK_SLOTS'th */
    uint64_t published; /* slots handed to the threads */
    uint64_t wrote;     /* slots the writer has finished */
    uint64_t hashed;    /* slots the hasher has finished */
    int is_stopping;
    int write_errno; /* the first failed write's errno, 0 while none */
    /* the writer's own (the caller's while there are no threads) */
    int is_direct_refused; /* O_DIRECT failed at write: page cache from then on */
    int has_writeback;
    int64_t writeback_from;
};

/* Where in its buffer the bytes of a slot starting at file offset `at`
 * begin: at the same offset modulo the block size, for direct writes. Only
 * the first slot of a sink starting mid-block has a skew; it ends on a
 * block boundary, so every later slot starts aligned. */
static size_t slot_skew(const reg_sink *s, int64_t at)
{
    return s->dfd >= 0 ? (size_t)(at % SINK_ALIGN) : 0;
}

/* How many bytes the slot starting at `at` takes. */
static size_t slot_capacity(const reg_sink *s, int64_t at)
{
    return SINK_BUFFER_SIZE - slot_skew(s, at);
}

static unsigned char *slot_data(const reg_sink *s, unsigned slot)
{
    return s->buffers[slot] + slot_skew(s, s->at[slot]);
}

static int pwrite_all(int fd, const unsigned char *p, size_t len, int64_t at)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        p += n;
        len -= (size_t)n;
        at += n;
    }
    return 0;
}

/* Writes through the page cache, starting writeback when asked. */
static int write_cached(reg_sink *s, const unsigned char *p, size_t len, int64_t at)
{
    int e = pwrite_all(s->fd, p, len, at);
    if (e == 0 && s->has_writeback &&
        at + (int64_t)len - s->writeback_from >= SINK_WRITEBACK_STEP) {
        (void)sync_file_range(s->fd, s->writeback_from, at + (int64_t)len - s->writeback_from,
                              SYNC_FILE_RANGE_WRITE);
        s->writeback_from = at + (int64_t)len;
    }
    return e;
}

/* Writes one slot's bytes at their offset: the whole blocks directly when
 * the sink has a direct fd, a partial first or last block through the
 * page cache. A slot's bytes sit in its buffer at the same offset modulo
 * the block size as in the file (slot_skew), so the whole blocks are
 * aligned in memory too. Returns 0 or an errno. */
static int write_slot(reg_sink *s, const unsigned char *p, size_t len, int64_t at)
{
    int e = 0;
    if (s->dfd >= 0 && !s->is_direct_refused && at % SINK_ALIGN != 0) {
        size_t head = SINK_ALIGN - (size_t)(at % SINK_ALIGN);
        if (head > len)
            head = len;
        if ((e = write_cached(s, p, head, at)) != 0)
            return e;
        p += head;
        len -= head;
        at += (int64_t)head;
    }
    if (s->dfd >= 0 && !s->is_direct_refused && len >= SINK_ALIGN) {
        size_t direct = len & ~(size_t)(SINK_ALIGN - 1);
        e = pwrite_all(s->dfd, p, direct, at);
        if (e == EINVAL) { /* the filesystem takes O_DIRECT at open but not at write */
            s->is_direct_refused = 1;
        } else if (e != 0) {
            return e;
        } else {
            p += direct;
            len -= direct;
            at += (int64_t)direct;
        }
    }
    return len > 0 ? write_cached(s, p, len, at) : 0;
}

/* The two threads run the same loop over the published slots, each with
 * its own counter. */
static void run_stage(reg_sink *s, uint64_t *done, int is_writer)
{
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (*done == s->published && !s->is_stopping)
            pthread_cond_wait(&s->changed, &s->lock);
        if (*done == s->published)
            break;
        unsigned slot = (unsigned)(*done % SINK_SLOTS);
        int skip = is_writer && s->write_errno != 0;
        pthread_mutex_unlock(&s->lock);
        int e = 0;
        if (is_writer && !skip) {
            uint64_t profiled = sw_profile_start();
            e = write_slot(s, slot_data(s, slot), s->fill[slot], s->at[slot]);
            sw_profile_stop(SW_PHASE_BLOB_WRITE, profiled);
        } else if (!is_writer) {
            uint64_t profiled = sw_profile_start();
            s->update(s->hash, slot_data(s, slot), s->fill[slot]);
            sw_profile_stop(SW_PHASE_BLOB_HASH, profiled);
        }
        pthread_mutex_lock(&s->lock);
        if (e != 0 && s->write_errno == 0)
            s->write_errno = e;
        (*done)++;
        pthread_cond_broadcast(&s->changed);
    }
    pthread_mutex_unlock(&s->lock);
}

static void *writer_thread(void *arg)
{
    reg_sink *s = arg;
    run_stage(s, &s->wrote, 1);
    return NULL;
}

static void *hasher_thread(void *arg)
{
    reg_sink *s = arg;
    run_stage(s, &s->hashed, 0);
    return NULL;
}

static void update_sw_hash(void *hash, const void *data, size_t len)
{
    sw_hash_update(hash, data, len);
}

int reg_sink_new(int fd, int64_t offset, sw_hash *hash, const char *path, reg_sink **out,
                 sw_error **err)
{
    return reg_sink_new_fn(fd, offset, update_sw_hash, hash, path, out, err);
}

int reg_sink_new_fn(int fd, int64_t offset, reg_sink_hash_fn update, void *hash, const char *path,
                    reg_sink **out, sw_error **err)
{
    reg_sink *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->path = strdup(path)) == NULL || (s->buffers[0] = buffer_get()) == NULL) {
        if (s)
            free(s->path);
        free(s);
        return sw_error_oom(err);
    }
    s->fd = fd;
    s->dfd = -1;
    s->update = update;
    s->hash = hash;
    s->at[0] = offset;
    s->next = offset;
    s->writeback_from = offset;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    *out = s;
    return 0;
}

void reg_sink_open_direct(reg_sink *s, const char *file)
{
    /* slot_capacity depends on it: only before the first byte */
    if (s->dfd >= 0 || s->next != s->at[0])
        return;
    int dfd = open(file, O_WRONLY | O_DIRECT | O_CLOEXEC | O_NOFOLLOW);
    struct stat ours, theirs;
    /* the name must still lead to the file fd is open on (an upload
     * cancelled meanwhile is gone; nothing else is written by name) */
    if (dfd >= 0 && (fstat(s->fd, &ours) != 0 || fstat(dfd, &theirs) != 0 ||
                     ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino)) {
        close(dfd);
        dfd = -1;
    }
    s->dfd = dfd;
}

static int failed_write(reg_sink *s, int e, sw_error **err)
{
    s->has_failed = 1;
    return sw_error_sys(err, SW_EIO, e, "writing %s", s->path);
}

/* Hands the head slot over, or writes and hashes it here while there are
 * no threads (a blob smaller than a buffer never starts them), then waits
 * for a free slot to fill next. */
static int submit(reg_sink *s, sw_error **err)
{
    unsigned slot = s->head;
    size_t n = s->fill[slot];
    if (n == 0)
        return 0;
    /* A full buffer means a large blob: worth the threads. */
    if (!s->has_threads && n == slot_capacity(s, s->at[slot])) {
        if (pthread_create(&s->writer, NULL, writer_thread, s) == 0) {
            if (pthread_create(&s->hasher, NULL, hasher_thread, s) == 0) {
                s->has_threads = 1;
            } else {
                pthread_mutex_lock(&s->lock);
                s->is_stopping = 1;
                pthread_cond_broadcast(&s->changed);
                pthread_mutex_unlock(&s->lock);
                pthread_join(s->writer, NULL);
                s->is_stopping = 0;
            }
        }
    }
    unsigned next = (slot + 1) % SINK_SLOTS;
    if (s->has_threads && s->buffers[next] == NULL && (s->buffers[next] = buffer_get()) == NULL) {
        s->has_failed = 1;
        return sw_error_oom(err);
    }
    if (!s->has_threads) {
        uint64_t profiled = sw_profile_start();
        int e = write_slot(s, slot_data(s, slot), n, s->at[slot]);
        sw_profile_stop(SW_PHASE_BLOB_WRITE, profiled);
        if (e != 0)
            return failed_write(s, e, err);
        profiled = sw_profile_start();
        s->update(s->hash, slot_data(s, slot), n);
        sw_profile_stop(SW_PHASE_BLOB_HASH, profiled);
        s->fill[slot] = 0;
        s->at[slot] = s->next;
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    s->published++;
    pthread_cond_broadcast(&s->changed);
    /* the next slot is free once both threads are past its last use */
    while (s->write_errno == 0 &&
           s->published - (s->wrote < s->hashed ? s->wrote : s->hashed) == SINK_SLOTS)
        pthread_cond_wait(&s->changed, &s->lock);
    int e = s->write_errno;
    pthread_mutex_unlock(&s->lock);
    if (e != 0)
        return failed_write(s, e, err);
    s->head = next;
    s->fill[next] = 0;
    s->at[next] = s->next;
    return 0;
}

int reg_sink_write(reg_sink *s, const void *data, size_t len, sw_error **err)
{
    const unsigned char *p = data;
    if (s->has_failed)
        return sw_error_set(err, SW_EIO, "writing %s: an earlier write failed", s->path);
    while (len > 0) {
        unsigned h = s->head;
        size_t room = slot_capacity(s, s->at[h]) - s->fill[h];
        size_t n = len < room ? len : room;
        memcpy(slot_data(s, h) + s->fill[h], p, n);
        s->fill[h] += n;
        s->next += (int64_t)n;
        p += n;
        len -= n;
        if (n == room) {
            int rc = submit(s, err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int reg_sink_flush(reg_sink *s, sw_error **err)
{
    if (s->has_failed)
        return sw_error_set(err, SW_EIO, "writing %s: an earlier write failed", s->path);
    int rc = submit(s, err);
    if (rc != 0)
        return rc;
    if (s->has_threads) {
        pthread_mutex_lock(&s->lock);
        while (s->wrote < s->published || s->hashed < s->published)
            pthread_cond_wait(&s->changed, &s->lock);
        int e = s->write_errno;
        pthread_mutex_unlock(&s->lock);
        if (e != 0)
            return failed_write(s, e, err);
    }
    return 0;
}

void reg_sink_start_writeback(reg_sink *s)
{
    s->has_writeback = 1;
}

void reg_sink_free(reg_sink *s)
{
    if (s == NULL)
        return;
    if (s->has_threads) {
        pthread_mutex_lock(&s->lock);
        s->is_stopping = 1;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->writer, NULL);
        pthread_join(s->hasher, NULL);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->changed);
    for (int i = 0; i < SINK_SLOTS; i++)
        buffer_put(s->buffers[i]);
    if (s->dfd >= 0)
        close(s->dfd);
    free(s->path);
    free(s);
}
