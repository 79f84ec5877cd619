/*
 * upload.c - blob upload sessions: POST starts one, PATCH appends chunks,
 * PUT completes it, DELETE cancels it.
 *
 * A session is a row in `uploads` (its repository, and when it was last
 * used, for GC) and a session of the blob backend (backend.h), which keeps
 * the bytes and the running hash state with them: a PATCH may arrive at
 * another front end than the POST, or after a restart, and completion
 * never re-reads the bytes (except for a sha512 digest).
 *
 * One writer per session: an in-process table marks a session busy
 * (threads of this process); the filesystem driver also holds a
 * non-blocking flock for the chunk (other processes). A second writer gets
 * REG_E_RANGE_INVALID and the client re-reads the offset. A chunk counts
 * only once it fully arrived (reg_backend_chunk_end).
 *
 * Completion publishes the backend's object and, in the same transaction,
 * records the blob, links it and removes the session row: the object is
 * visible to clients only once the rows are committed.
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

/* A chunk refreshes the session's updated_at at most this often: GC drops
 * sessions idle for hours, and a write transaction per PATCH (with its
 * fsync) cost more than the chunk's bytes for small chunks. */
#define TOUCH_INTERVAL 60

struct upload_state {
    char uuid[REG_UUID_LEN + 1];
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
    reg_backend_chunk *chunk;
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
        free(state);
    }
    pthread_mutex_unlock(&table->lock);
}

/* A uuid names the backend's session: accept only our own 8-4-4-4-12
 * lower hex. */
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
    int64_t repo_id = 0;
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
    if ((rc = reg_store_db(store, &db, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_repo_ensure(db, repo, &repo_id, err)) != 0)
        goto cleanup;
    /* the backend's session first: GC keeps a young session without a row
     * (docs/gc.md), never a row without its session */
    if ((rc = reg_backend_upload_create(reg_store_backend(store), uuid, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_upload_insert(db, uuid, repo_id, reg_meta_now(), err)) != 0) {
        sw_error *cancel_err = NULL;
        (void)reg_backend_upload_cancel(reg_store_backend(store), uuid, &cancel_err);
        sw_error_clear(&cancel_err);
        goto cleanup;
    }
cleanup:
    if (rc != 0)
        sw_error_prefix(err, "starting an upload to %s", repo);
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
    /* while a chunk streams in, the backend's state still says where the
     * last complete chunk ended */
    return reg_backend_upload_offset(reg_store_backend(store), uuid, offset, err);
}

int reg_upload_begin_write(reg_store *store, const char *repo, const char *uuid, int64_t start,
                           reg_upload_writer **out, sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0;
    reg_upload_writer *w = NULL;
    int rc = session_find(store, repo, uuid, &db, &repo_id, err);
    if (rc != 0 || (rc = reg_store_check_space(store, err)) != 0)
        return rc;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return sw_error_oom(err);
    w->store = store;
    if ((rc = state_claim(store, uuid, &w->state, err)) != 0)
        goto cleanup;
    if ((rc = reg_backend_upload_begin_chunk(reg_store_backend(store), uuid, start, &w->chunk,
                                             err)) != 0)
        goto cleanup;
    *out = w;
    w = NULL;
cleanup:
    if (w) {
        if (w->state)
            state_release(store, w->state, 0);
        free(w);
    }
    return rc;
}

int reg_upload_write(reg_upload_writer *w, const void *data, size_t len, sw_error **err)
{
    if (w->has_failed)
        return sw_error_set(err, SW_EIO, "upload %s: an earlier write failed", w->state->uuid);
    int rc = reg_backend_chunk_write(w->chunk, data, len, err);
    if (rc != 0) {
        w->has_failed = 1;
        sw_error_prefix(err, "writing upload %s", w->state->uuid);
    }
    return rc;
}

static void writer_close(reg_upload_writer *w)
{
    reg_backend_chunk_abort(w->chunk); /* NULL once ended */
    state_release(w->store, w->state, 0);
    free(w);
}

int reg_upload_end_write(reg_upload_writer *w, int64_t *new_offset, sw_error **err)
{
    sw_db *db = NULL;
    int rc = 0;
    if (w->has_failed) {
        rc = sw_error_set(err, SW_EIO, "upload %s: the chunk was not stored", w->state->uuid);
        writer_close(w);
        return rc;
    }
    reg_backend_chunk *chunk = w->chunk;
    w->chunk = NULL;
    if ((rc = reg_backend_chunk_end(chunk, new_offset, err)) != 0) {
        sw_error_prefix(err, "upload %s", w->state->uuid);
        writer_close(w);
        return rc;
    }
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
    writer_close(w);
    return 0;
}

void reg_upload_abort_write(reg_upload_writer *w)
{
    if (w)
        writer_close(w);
}

int reg_upload_complete(reg_store *store, const char *repo, const char *uuid, const char *digest,
                        sw_error **err)
{
    reg_backend *backend = reg_store_backend(store);
    sw_db *db = NULL;
    int64_t repo_id = 0, size = 0;
    struct upload_state *state = NULL;
    int in_tx = 0, is_done = 0;
    int rc;
    if (digest == NULL || !reg_digest_valid(digest))
        return sw_error_set(err, REG_E_DIGEST_INVALID, "invalid digest '%s'", digest ? digest : "");
    if ((rc = session_find(store, repo, uuid, &db, &repo_id, err)) != 0)
        return rc;
    if ((rc = state_claim(store, uuid, &state, err)) != 0)
        goto cleanup;
    if ((rc = reg_backend_upload_offset(backend, uuid, &size, err)) != 0)
        goto cleanup;
    /* the object and the rows in one transaction (see blobstore.c) */
    if ((rc = sw_db_begin(db, err)) != 0)
        goto cleanup;
    in_tx = 1;
    if ((rc = reg_backend_upload_complete(backend, uuid, digest, err)) != 0)
        goto cleanup;
    int64_t now = reg_meta_now();
    if ((rc = reg_meta_blob_insert(db, digest, size, now, err)) != 0 ||
        (rc = reg_meta_blob_link(db, repo_id, digest, now, err)) != 0 ||
        (rc = reg_meta_upload_delete(db, uuid, err)) != 0)
        goto cleanup;
    if ((rc = sw_db_commit(db, err)) != 0)
        goto cleanup;
    is_done = 1;
cleanup:
    if (rc != 0 && in_tx)
        sw_db_rollback(db);
    if (state)
        state_release(store, state, is_done);
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
    if ((rc = state_claim(store, uuid, &state, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_upload_delete(db, uuid, err)) != 0)
        goto cleanup;
    sw_error *cancel_err = NULL;
    if (reg_backend_upload_cancel(reg_store_backend(store), uuid, &cancel_err) != 0 &&
        sw_error_code(cancel_err) != REG_E_BLOB_UPLOAD_UNKNOWN)
        sw_warn("canceling upload %s: %s", uuid, sw_error_message(cancel_err));
    sw_error_clear(&cancel_err);
cleanup:
    if (state)
        state_release(store, state, rc == 0);
    return rc;
}
