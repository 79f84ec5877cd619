/*
 * sink.c - blob bytes to a file through a ring of large buffers, hashed on
 * another thread.
 *
 * The caller fills the buffer at `head`; when it is full it is written and
 * queued: slots [tail, tail + queued) belong to the hashing thread, which
 * hashes them in order and gives them back. Only the caller touches the
 * file's contents and the slot it fills; the thread touches the hash and
 * the slots it was given, so the one lock guards just the counters. The
 * thread also starts writeback of what was written (a hint: errors show up
 * in the fsync at commit, which is what acknowledges a push).
 */
#include "registry/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/profile.h"

#define SINK_BUFFER_SIZE (1024 * 1024)
#define SINK_SLOTS 4
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
    return b ? b : malloc(SINK_BUFFER_SIZE);
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
    int fd;
    char *path;
    reg_sink_hash_fn update;
    void *hash;
    unsigned char *buffers[SINK_SLOTS];
    size_t fill[SINK_SLOTS];
    unsigned head;   /* slot the caller fills */
    int64_t written; /* file offset after the last write */
    int has_failed;
    int has_thread;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    /* under lock */
    unsigned tail;   /* first slot the thread owns */
    unsigned queued; /* slots the thread owns */
    int is_stopping;
    int64_t hashed_to; /* file offset the thread has hashed up to */
    /* the thread's own */
    int has_writeback;
    int64_t writeback_from;
};

static void start_writeback(reg_sink *s, int64_t upto)
{
    if (!s->has_writeback || upto - s->writeback_from < SINK_WRITEBACK_STEP)
        return;
    (void)sync_file_range(s->fd, s->writeback_from, upto - s->writeback_from,
                          SYNC_FILE_RANGE_WRITE);
    s->writeback_from = upto;
}

static void *hash_thread(void *arg)
{
    reg_sink *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->queued == 0 && !s->is_stopping)
            pthread_cond_wait(&s->changed, &s->lock);
        if (s->queued == 0)
            break;
        unsigned slot = s->tail;
        int64_t end = s->hashed_to + (int64_t)s->fill[slot];
        pthread_mutex_unlock(&s->lock);
        uint64_t profiled = sw_profile_start();
        s->update(s->hash, s->buffers[slot], s->fill[slot]);
        sw_profile_stop(SW_PHASE_BLOB_HASH, profiled);
        start_writeback(s, end);
        pthread_mutex_lock(&s->lock);
        s->hashed_to = end;
        s->tail = (s->tail + 1) % SINK_SLOTS;
        s->queued--;
        pthread_cond_broadcast(&s->changed);
    }
    pthread_mutex_unlock(&s->lock);
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
    s->update = update;
    s->hash = hash;
    s->written = offset;
    s->hashed_to = offset;
    s->writeback_from = offset;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    *out = s;
    return 0;
}

/* Writes the head slot and gives it to the thread (or hashes it here when
 * there is no thread), then waits for a free slot to fill next. */
static int submit(reg_sink *s, sw_error **err)
{
    unsigned slot = s->head;
    size_t n = s->fill[slot];
    if (n == 0)
        return 0;
    uint64_t profiled = sw_profile_start();
    int rc = sw_write_all(s->fd, s->buffers[slot], n, err);
    sw_profile_stop(SW_PHASE_BLOB_WRITE, profiled);
    if (rc != 0) {
        s->has_failed = 1;
        sw_error_prefix(err, "writing %s", s->path);
        return rc;
    }
    s->written += (int64_t)n;
    /* A full buffer means a large blob: worth a thread. */
    if (!s->has_thread && n == SINK_BUFFER_SIZE &&
        pthread_create(&s->thread, NULL, hash_thread, s) == 0)
        s->has_thread = 1;
    if (!s->has_thread) {
        profiled = sw_profile_start();
        s->update(s->hash, s->buffers[slot], n);
        sw_profile_stop(SW_PHASE_BLOB_HASH, profiled);
        s->fill[slot] = 0;
        return 0;
    }
    unsigned next = (slot + 1) % SINK_SLOTS;
    if (s->buffers[next] == NULL && (s->buffers[next] = buffer_get()) == NULL) {
        /* no second buffer: hash this one here, once the thread is idle */
        pthread_mutex_lock(&s->lock);
        while (s->queued > 0)
            pthread_cond_wait(&s->changed, &s->lock);
        pthread_mutex_unlock(&s->lock);
        s->update(s->hash, s->buffers[slot], n);
        s->hashed_to += (int64_t)n;
        s->fill[slot] = 0;
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    s->queued++;
    pthread_cond_broadcast(&s->changed);
    while (s->queued == SINK_SLOTS)
        pthread_cond_wait(&s->changed, &s->lock);
    pthread_mutex_unlock(&s->lock);
    s->head = next;
    s->fill[next] = 0;
    return 0;
}

int reg_sink_write(reg_sink *s, const void *data, size_t len, sw_error **err)
{
    const unsigned char *p = data;
    if (s->has_failed)
        return sw_error_set(err, SW_EIO, "writing %s: an earlier write failed", s->path);
    while (len > 0) {
        size_t room = SINK_BUFFER_SIZE - s->fill[s->head];
        size_t n = len < room ? len : room;
        memcpy(s->buffers[s->head] + s->fill[s->head], p, n);
        s->fill[s->head] += n;
        p += n;
        len -= n;
        if (s->fill[s->head] == SINK_BUFFER_SIZE) {
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
    if (s->has_thread) {
        pthread_mutex_lock(&s->lock);
        while (s->queued > 0)
            pthread_cond_wait(&s->changed, &s->lock);
        pthread_mutex_unlock(&s->lock);
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
    if (s->has_thread) {
        pthread_mutex_lock(&s->lock);
        s->is_stopping = 1;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->changed);
    for (int i = 0; i < SINK_SLOTS; i++)
        buffer_put(s->buffers[i]);
    free(s->path);
    free(s);
}
