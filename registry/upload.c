/*
 * upload.c - blob upload sessions: POST starts one, PATCH appends chunks,
 * PUT completes it, DELETE cancels it.
 *
 * The bytes are in uploads/<uuid>; the session's offset is the file size.
 * The running sha256 of those bytes lives in a per-store table in memory,
 * so a chunk is hashed once as it arrives and completion never re-reads
 * the file. After a restart (or when the state is missing for any other
 * reason) the state is rebuilt by hashing the partial file once. A
 * completion whose digest names sha512 hashes the file once that way.
 *
 * One writer per session: the table marks a session busy (threads of this
 * process) and the writer holds a non-blocking flock on the file (other
 * processes); a second writer gets REG_E_RANGE_INVALID and the client
 * re-reads the offset. A chunk is first hashed into a copy of the state;
 * only a chunk that fully arrived replaces the state, a failed one is
 * truncated away, so the session always matches its file.
 *
 * Completion hands the file and hash to the blob writer (reg_blob_writer_
 * adopt) and goes through the same finish/publish steps as every blob,
 * removing the session row in the same transaction.
 */
#include "registry/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fs.h"
#include "core/log.h"
#include "registry/blobstore.h"
#include "registry/meta.h"
#include "registry/names.h"
#include "registry/sink.h"

#define REHASH_BUFFER_SIZE (128 * 1024)
/* A chunk refreshes the session's updated_at at most this often: GC drops
 * sessions idle for hours, and a write transaction per PATCH (with its
 * fsync) cost more than the chunk's bytes for small chunks. */
#define TOUCH_INTERVAL 60

struct upload_state {
    char uuid[REG_UUID_LEN + 1];
    sw_hash *hash; /* sha256 of the file's first `offset` bytes; NULL: unknown */
    int64_t offset;
    int64_t touched_at; /* last updated_at written for the session's row */
    int is_busy;
    struct upload_state *next;
};

struct reg_upload_table {
    pthread_mutex_t lock;
    struct upload_state *sessions;
};

struct reg_upload_writer {
    reg_store *store;
    struct upload_state *state;
    char *path;
    int fd;
    sw_hash *hash;  /* the state's hash plus this chunk */
    reg_sink *sink; /* writes the chunk and updates hash */
    int64_t base;   /* offset the chunk started at */
    int64_t written;
    int has_failed;
};

struct reg_upload_table *reg_upload_table_new(void)
{
    struct reg_upload_table *table = calloc(1, sizeof(*table));
    if (table)
        pthread_mutex_init(&table->lock, NULL);
    return table;
}

void reg_upload_table_free(struct reg_upload_table *table)
{
    if (table == NULL)
        return;
    struct upload_state *s = table->sessions;
    while (s) {
        struct upload_state *next = s->next;
        sw_hash_free(s->hash);
        free(s);
        s = next;
    }
    pthread_mutex_destroy(&table->lock);
    free(table);
}

/* Marks the session busy, creating its entry if needed. REG_E_RANGE_INVALID
 * when another writer has it. */
static int state_claim(reg_store *store, const char *uuid, struct upload_state **out,
                       sw_error **err)
{
    struct reg_upload_table *table = reg_store_upload_table(store);
    struct upload_state *s;
    int rc = 0;
    pthread_mutex_lock(&table->lock);
    for (s = table->sessions; s; s = s->next)
        if (strcmp(s->uuid, uuid) == 0)
            break;
    if (s == NULL) {
        if ((s = calloc(1, sizeof(*s))) == NULL) {
            rc = sw_error_set(err, SW_ENOMEM, "upload %s: out of memory", uuid);
            goto cleanup;
        }
        snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
        s->next = table->sessions;
        table->sessions = s;
    }
    if (s->is_busy) {
        rc = sw_error_set(err, REG_E_RANGE_INVALID,
                          "upload %s is receiving another chunk right now", uuid);
        goto cleanup;
    }
    s->is_busy = 1;
    *out = s;
cleanup:
    pthread_mutex_unlock(&table->lock);
    return rc;
}

/* Ends a claim; drop removes the entry (session completed or canceled). */
static void state_release(reg_store *store, struct upload_state *state, int drop)
{
    struct reg_upload_table *table = reg_store_upload_table(store);
    pthread_mutex_lock(&table->lock);
    state->is_busy = 0;
    if (drop) {
        for (struct upload_state **p = &table->sessions; *p; p = &(*p)->next) {
            if (*p == state) {
                *p = state->next;
                break;
            }
        }
        sw_hash_free(state->hash);
        free(state);
    }
    pthread_mutex_unlock(&table->lock);
}

/* A uuid becomes a file name: accept only our own 8-4-4-4-12 lower hex. */
static int uuid_valid(const char *uuid)
{
    if (uuid == NULL || strlen(uuid) != REG_UUID_LEN)
        return 0;
    for (int i = 0; i < REG_UUID_LEN; i++) {
        char c = uuid[i];
        int is_dash_position = i == 8 || i == 13 || i == 18 || i == 23;
        if (is_dash_position ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

static char *upload_path(reg_store *store, const char *uuid)
{
    return sw_path_join(reg_store_uploads_dir(store), uuid);
}

/* Validates repo and uuid and finds the session row. */
static int session_find(reg_store *store, const char *repo, const char *uuid, sw_db **db,
                        int64_t *repo_id, sw_error **err)
{
    if (!reg_name_valid(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    if (!uuid_valid(uuid))
        return sw_error_set(err, REG_E_BLOB_UPLOAD_UNKNOWN, "unknown upload '%s'", uuid);
    int rc = reg_store_db(store, db, err);
    if (rc != 0)
        return rc;
    return reg_meta_upload_find(*db, uuid, repo, repo_id, err);
}

int reg_upload_start(reg_store *store, const char *repo, char uuid[REG_UUID_LEN + 1],
                     sw_error **err)
{
    sw_db *db = NULL;
    unsigned char b[16];
    char *path = NULL;
    int64_t repo_id = 0;
    int fd = -1;
    if (!reg_name_valid(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    int rc = reg_store_check_space(store, err);
    if (rc != 0)
        return rc;
    rc = sw_random_bytes(b, sizeof(b), err);
    if (rc != 0)
        return rc;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(uuid, REG_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    if ((path = upload_path(store, uuid)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = reg_store_db(store, &db, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_repo_ensure(db, repo, &repo_id, err)) != 0)
        goto cleanup;
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0 &&
        fchmod(fd, 0600) != 0) {
        close(fd);
        unlink(path);
        fd = -1;
    }
    if (fd < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", path);
        goto cleanup;
    }
    if ((rc = reg_meta_upload_insert(db, uuid, repo_id, reg_meta_now(), err)) != 0) {
        unlink(path);
        goto cleanup;
    }
cleanup:
    if (fd >= 0)
        close(fd);
    free(path);
    if (rc != 0)
        sw_error_prefix(err, "starting an upload to %s", repo);
    return rc;
}

/* Hashes the first `size` bytes of fd: the state after a restart. */
static int rehash(int fd, int64_t size, const char *path, sw_hash **out, sw_error **err)
{
    int rc = 0;
    unsigned char *buffer = malloc(REHASH_BUFFER_SIZE);
    sw_hash *hash = sw_hash_new(SW_HASH_SHA256);
    int64_t done = 0;
    if (buffer == NULL || hash == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "hashing %s: out of memory", path);
        goto cleanup;
    }
    while (done < size) {
        size_t want = (size_t)(size - done < REHASH_BUFFER_SIZE ? size - done : REHASH_BUFFER_SIZE);
        ssize_t n = pread(fd, buffer, want, done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = sw_error_sys(err, SW_EIO, n < 0 ? errno : EIO, "reading %s", path);
            goto cleanup;
        }
        sw_hash_update(hash, buffer, (size_t)n);
        done += n;
    }
    *out = hash;
    hash = NULL;
cleanup:
    sw_hash_free(hash);
    free(buffer);
    return rc;
}

/* Claims the session and opens its file locked, with the state matching
 * the file. On success the caller owns the claim and *fd. */
static int session_open(reg_store *store, const char *uuid, const char *path,
                        struct upload_state **state_out, int *fd_out, int64_t *size_out,
                        sw_error **err)
{
    struct upload_state *state = NULL;
    struct stat st;
    int fd = -1;
    int rc = state_claim(store, uuid, &state, err);
    if (rc != 0)
        return rc;
    if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
        rc = sw_error_sys(err, errno == ENOENT ? REG_E_BLOB_UPLOAD_UNKNOWN : SW_EIO, errno,
                          "opening upload %s", uuid);
        goto cleanup;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = sw_error_set(err, REG_E_RANGE_INVALID, "upload %s is being written by another process",
                          uuid);
        goto cleanup;
    }
    if (fstat(fd, &st) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "reading upload %s", uuid);
        goto cleanup;
    }
    if (state->hash == NULL || state->offset != st.st_size) {
        sw_hash *hash = NULL;
        if ((rc = rehash(fd, st.st_size, path, &hash, err)) != 0)
            goto cleanup;
        sw_hash_free(state->hash);
        state->hash = hash;
        state->offset = st.st_size;
    }
    *state_out = state;
    *fd_out = fd;
    *size_out = st.st_size;
    state = NULL;
    fd = -1;
cleanup:
    if (fd >= 0) {
        (void)flock(fd, LOCK_UN); /* see writer_close */
        close(fd);
    }
    if (state)
        state_release(store, state, 0);
    return rc;
}

int reg_upload_offset(reg_store *store, const char *repo, const char *uuid, int64_t *offset,
                      sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0;
    int rc = session_find(store, repo, uuid, &db, &repo_id, err);
    if (rc != 0)
        return rc;
    /* While a chunk streams in, the file holds part of it; the state knows
     * where the last complete chunk ended. */
    struct reg_upload_table *table = reg_store_upload_table(store);
    int known = 0;
    pthread_mutex_lock(&table->lock);
    for (struct upload_state *s = table->sessions; s; s = s->next) {
        if (strcmp(s->uuid, uuid) == 0 && s->hash) {
            *offset = s->offset;
            known = 1;
        }
    }
    pthread_mutex_unlock(&table->lock);
    if (known)
        return 0;
    char *path = upload_path(store, uuid);
    struct stat st;
    if (path == NULL)
        return sw_error_oom(err);
    if (stat(path, &st) != 0)
        rc = sw_error_sys(err, errno == ENOENT ? REG_E_BLOB_UPLOAD_UNKNOWN : SW_EIO, errno,
                          "reading upload %s", uuid);
    else
        *offset = st.st_size;
    free(path);
    return rc;
}

int reg_upload_begin_write(reg_store *store, const char *repo, const char *uuid, int64_t start,
                           reg_upload_writer **out, sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0, size = 0;
    reg_upload_writer *w = NULL;
    int rc = session_find(store, repo, uuid, &db, &repo_id, err);
    if (rc != 0 || (rc = reg_store_check_space(store, err)) != 0)
        return rc;
    if ((w = calloc(1, sizeof(*w))) == NULL || (w->path = upload_path(store, uuid)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    w->store = store;
    w->fd = -1;
    if ((rc = session_open(store, uuid, w->path, &w->state, &w->fd, &size, err)) != 0)
        goto cleanup;
    if (start >= 0 && start != size) {
        rc = sw_error_set(err, REG_E_RANGE_INVALID,
                          "chunk for upload %s starts at %lld, but %lld bytes were received", uuid,
                          (long long)start, (long long)size);
        goto cleanup;
    }
    if ((w->hash = sw_hash_dup(w->state->hash)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (lseek(w->fd, size, SEEK_SET) < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "seeking in upload %s", uuid);
        goto cleanup;
    }
    w->base = size;
    if ((rc = reg_sink_new(w->fd, size, w->hash, w->path, &w->sink, err)) != 0)
        goto cleanup;
    *out = w;
    w = NULL;
cleanup:
    if (w) {
        if (w->fd >= 0) {
            (void)flock(w->fd, LOCK_UN); /* see writer_close */
            close(w->fd);
        }
        if (w->state)
            state_release(store, w->state, 0);
        sw_hash_free(w->hash);
        free(w->path);
        free(w);
    }
    return rc;
}

int reg_upload_write(reg_upload_writer *w, const void *data, size_t len, sw_error **err)
{
    if (w->has_failed)
        return sw_error_set(err, SW_EIO, "upload %s: an earlier write failed", w->state->uuid);
    int rc = reg_sink_write(w->sink, data, len, err);
    if (rc != 0) {
        w->has_failed = 1;
        sw_error_prefix(err, "writing upload %s", w->state->uuid);
        return rc;
    }
    w->written += (int64_t)len;
    return 0;
}

/* Frees the writer; drops the chunk's bytes unless it was kept. */
static void writer_close(reg_upload_writer *w, int keep_chunk)
{
    reg_sink_free(w->sink); /* stops its thread before the fd and hash go */
    if (!keep_chunk && ftruncate(w->fd, w->base) != 0)
        sw_warn("upload %s: cannot discard a failed chunk: %s", w->state->uuid, strerror(errno));
    /* Unlock explicitly: close() drops the flock only when the last
     * reference to the open file goes, and anything holding one for a
     * moment (a process reading /proc/<pid>/fdinfo, a child between fork and
     * exec) would make the client's next PATCH fail with 416. */
    (void)flock(w->fd, LOCK_UN);
    close(w->fd);
    state_release(w->store, w->state, 0);
    sw_hash_free(w->hash);
    free(w->path);
    free(w);
}

int reg_upload_end_write(reg_upload_writer *w, int64_t *new_offset, sw_error **err)
{
    sw_db *db = NULL;
    int rc = 0;
    if (!w->has_failed && (rc = reg_sink_flush(w->sink, err)) != 0) {
        sw_error_prefix(err, "upload %s", w->state->uuid);
        writer_close(w, 0);
        return rc;
    }
    if (w->has_failed) {
        rc = sw_error_set(err, SW_EIO, "upload %s: the chunk was not stored", w->state->uuid);
        writer_close(w, 0);
        return rc;
    }
    /* The offset is the file size, so the state must move with it. */
    sw_hash_free(w->state->hash);
    w->state->hash = w->hash;
    w->hash = NULL;
    w->state->offset = w->base + w->written;
    if (new_offset)
        *new_offset = w->state->offset;
    /* updated_at only tells GC the session is alive; failing to record it
     * must not lose a stored chunk */
    sw_error *touch_err = NULL;
    int64_t now = reg_meta_now();
    if (now - w->state->touched_at >= TOUCH_INTERVAL) {
        if (reg_store_db(w->store, &db, &touch_err) != 0 ||
            reg_meta_upload_touch(db, w->state->uuid, now, &touch_err) != 0)
            sw_warn("upload %s: %s", w->state->uuid, sw_error_message(touch_err));
        else
            w->state->touched_at = now;
    }
    sw_error_clear(&touch_err);
    writer_close(w, 1);
    return 0;
}

void reg_upload_abort_write(reg_upload_writer *w)
{
    if (w)
        writer_close(w, 0);
}

int reg_upload_complete(reg_store *store, const char *repo, const char *uuid, const char *digest,
                        sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0, size = 0;
    struct upload_state *state = NULL;
    reg_blob_writer *w = NULL;
    char *path = NULL;
    int fd = -1, in_tx = 0, is_done = 0;
    sw_hash *hash = NULL;
    int rc;
    if (digest == NULL || !reg_digest_valid(digest))
        return sw_error_set(err, REG_E_DIGEST_INVALID, "invalid digest '%s'", digest ? digest : "");
    if ((rc = session_find(store, repo, uuid, &db, &repo_id, err)) != 0)
        return rc;
    if ((path = upload_path(store, uuid)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = session_open(store, uuid, path, &state, &fd, &size, err)) != 0)
        goto cleanup;
    if ((hash = sw_hash_dup(state->hash)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    rc = reg_blob_writer_adopt(store, path, fd, hash, SW_HASH_SHA256, size, &w, err);
    fd = -1;
    hash = NULL;
    if (rc != 0)
        goto cleanup;
    if ((rc = reg_blob_writer_finish(w, digest, NULL, err)) != 0)
        goto cleanup;
    if ((rc = sw_db_begin(db, err)) != 0)
        goto cleanup;
    in_tx = 1;
    if ((rc = reg_blob_writer_publish(w, db, repo_id, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_upload_delete(db, uuid, err)) != 0)
        goto cleanup;
    if ((rc = sw_db_commit(db, err)) != 0)
        goto cleanup;
    is_done = 1;
cleanup:
    if (rc != 0 && in_tx)
        sw_db_rollback(db);
    reg_blob_writer_free(w);
    if (fd >= 0)
        close(fd);
    sw_hash_free(hash);
    if (state)
        state_release(store, state, is_done);
    free(path);
    if (rc != 0)
        sw_error_prefix(err, "completing upload %s to %s", uuid, repo);
    return rc;
}

int reg_upload_cancel(reg_store *store, const char *repo, const char *uuid, sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0;
    struct upload_state *state = NULL;
    int rc = session_find(store, repo, uuid, &db, &repo_id, err);
    if (rc != 0)
        return rc;
    char *path = upload_path(store, uuid);
    if (path == NULL)
        return sw_error_oom(err);
    if ((rc = state_claim(store, uuid, &state, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_upload_delete(db, uuid, err)) != 0)
        goto cleanup;
    if (unlink(path) != 0 && errno != ENOENT)
        sw_warn("canceling upload %s: removing %s: %s", uuid, path, strerror(errno));
cleanup:
    if (state)
        state_release(store, state, rc == 0);
    free(path);
    return rc;
}
