/*
 * logstore.c - run logs in the database (see logstore.h).
 */
#include "worker/logstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

#define SHIP_CHUNK (64 * 1024)
#define READ_ROWS 8

int wrk_logstore_enabled(sw_db *db)
{
    return db && sw_db_kind_of(db) == SW_DB_POSTGRES;
}

int wrk_logstore_end(sw_db *db, const char *run_id, uint64_t *end, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "SELECT COALESCE(MAX(pos + length(data)), 0) FROM run_logs"
                           " WHERE run_id = ?",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    if (sw_stmt_step(stmt) == SW_DB_ROW)
        *end = (uint64_t)sw_stmt_column_int64(stmt, 0);
    else
        rc = sw_db_error(db, err, "reading the length of a run log");
    sw_stmt_finalize(stmt);
    return rc;
}

int wrk_logstore_append(sw_db *db, const char *run_id, uint64_t pos, const void *data, size_t len,
                        sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc =
        sw_db_prepare(db, "INSERT INTO run_logs (run_id, pos, data) VALUES (?, ?, ?)", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 2, (int64_t)pos);
    sw_stmt_bind_blob(stmt, 3, data, (int)len, SW_DB_STATIC);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_CONSTRAINT)
        rc = sw_error_set(err, SW_ECONFLICT, "run %s: log offset %llu is stored already", run_id,
                          (unsigned long long)pos);
    else if (step != SW_DB_DONE)
        rc = sw_db_error(db, err, "storing a run log chunk");
    sw_stmt_finalize(stmt);
    return rc;
}

long wrk_logstore_read(sw_db *db, const char *run_id, uint64_t *pos, char *buf, size_t max,
                       sw_error **err)
{
    sw_stmt *stmt = NULL;
    /* the chunks overlapping [*pos, *pos + max), through the key, each cut
     * to its part in there: a reader asking for 32 KiB is sent 32 KiB, not
     * whole chunks (substr of a blob counts bytes, from 1, on both) */
    int rc = sw_db_prepare(db,
                           "SELECT pos, substr(data, CAST(o + 1 AS INTEGER),"
                           " CAST(?2 + ?3 - pos - o AS INTEGER)) FROM"
                           " (SELECT pos, data, CASE WHEN ?2 > pos THEN ?2 - pos ELSE 0 END AS o"
                           " FROM run_logs WHERE run_id = ?1 AND pos >="
                           " COALESCE((SELECT MAX(pos) FROM run_logs WHERE run_id = ?1 AND"
                           " pos <= ?2), 0) AND pos < ?2 + ?3) AS c ORDER BY pos LIMIT 64",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 2, (int64_t)*pos);
    sw_stmt_bind_int64(stmt, 3, (int64_t)max);
    size_t n = 0;
    uint64_t at = *pos;
    int step = SW_DB_DONE;
    while (n < max && (step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        uint64_t start = (uint64_t)sw_stmt_column_int64(stmt, 0);
        const char *data = sw_stmt_column_blob(stmt, 1);
        size_t len = (size_t)sw_stmt_column_bytes(stmt, 1);
        if (start < at) /* the first chunk, cut to begin at *pos */
            start = at;
        if (start > at) {
            if (n > 0)
                break;  /* a hole (a copy lost): return what is before it */
            at = start; /* skip it */
        }
        if (len == 0 || data == NULL)
            continue; /* a chunk that ends before *pos (a hole after it) */
        size_t from = 0, take = len;
        if (take > max - n)
            take = max - n;
        memcpy(buf + n, data + from, take);
        n += take;
        at += take;
    }
    if (n == 0 && step != SW_DB_DONE && step != SW_DB_ROW) {
        sw_stmt_finalize(stmt);
        return sw_db_error(db, err, "reading a run log");
    }
    sw_stmt_finalize(stmt);
    *pos = at;
    return (long)n;
}

int wrk_logstore_delete(sw_db *db, const char *run_id, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "DELETE FROM run_logs WHERE run_id = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    return sw_db_step_done(db, stmt, "deleting a run log", err);
}

void wrk_logstore_announce(sw_db *db, const char *run_id)
{
    if (wrk_logstore_enabled(db))
        sw_db_notify(db, WRK_LOGS_CHANNEL, run_id, NULL);
}

/* ---- the shipper ------------------------------------------------------------- */

struct wrk_log_ship {
    reg_store *store;
    char run_id[64];
    int fd;
    off_t file_pos;  /* the next byte of the file to copy */
    uint64_t db_end; /* where it goes in the database */
    int have_end;    /* db_end was read */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t kick, done;
    int stop;
    unsigned flush_asked, flush_done;
    char buf[SHIP_CHUNK];
};

/* Copies what the file gained; errors are left for the next tick (a log
 * is best effort: the build goes on without it). */
static void ship_once(struct wrk_log_ship *s)
{
    sw_db *db = NULL;
    sw_error *e = NULL;
    struct stat st;
    int shipped = 0;
    if (reg_store_db(s->store, &db, &e) != 0)
        goto cleanup;
    if (!s->have_end) {
        if (wrk_logstore_end(db, s->run_id, &s->db_end, &e) != 0)
            goto cleanup;
        s->have_end = 1;
    }
    while (fstat(s->fd, &st) == 0 && s->file_pos < st.st_size) {
        size_t want = (size_t)(st.st_size - s->file_pos);
        ssize_t n = pread(s->fd, s->buf, want < sizeof s->buf ? want : sizeof s->buf, s->file_pos);
        if (n <= 0)
            break;
        int rc = wrk_logstore_append(db, s->run_id, s->db_end, s->buf, (size_t)n, &e);
        if (rc == SW_ECONFLICT)
            s->have_end = 0; /* another worker wrote there (it took the run over) */
        if (rc != 0)
            break;
        s->file_pos += n;
        s->db_end += (uint64_t)n;
        shipped = 1;
    }
cleanup:
    if (shipped)
        wrk_logstore_announce(db, s->run_id);
    if (e && sw_error_code(e) != SW_ECONFLICT)
        sw_warn("run %s: copying the log to the database: %s", s->run_id, sw_error_message(e));
    sw_error_clear(&e);
}

static void *ship_main(void *arg)
{
    struct wrk_log_ship *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        unsigned asked = s->flush_asked;
        int stopping = s->stop;
        pthread_mutex_unlock(&s->lock);
        ship_once(s);
        pthread_mutex_lock(&s->lock);
        s->flush_done = asked;
        pthread_cond_broadcast(&s->done);
        if (stopping)
            break;
        if (s->flush_asked == asked && !s->stop) {
            struct timespec deadline = sw_deadline_in(WRK_LOG_SHIP_MS);
            pthread_cond_timedwait(&s->kick, &s->lock, &deadline);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int wrk_log_ship_start(reg_store *store, const char *path, const char *run_id, wrk_log_ship **out,
                       sw_error **err)
{
    struct wrk_log_ship *s = calloc(1, sizeof *s);
    *out = NULL;
    if (s == NULL)
        return sw_error_set(err, SW_ENOMEM, "run log: out of memory");
    s->store = store;
    snprintf(s->run_id, sizeof s->run_id, "%s", run_id);
    if ((s->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        int rc = sw_error_sys(err, SW_EIO, errno, "opening %s", path);
        free(s);
        return rc;
    }
    s->file_pos = lseek(s->fd, 0, SEEK_END); /* an earlier attempt's part went already */
    if (s->file_pos < 0)
        s->file_pos = 0;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->kick, NULL);
    pthread_cond_init(&s->done, NULL);
    if (pthread_create(&s->thread, NULL, ship_main, s) != 0) {
        close(s->fd);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->kick);
        pthread_cond_destroy(&s->done);
        free(s);
        return sw_error_set(err, SW_EIO, "run log: cannot start the copying thread");
    }
    *out = s;
    return 0;
}

void wrk_log_ship_flush(wrk_log_ship *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    unsigned ticket = ++s->flush_asked;
    pthread_cond_signal(&s->kick);
    while ((int)(s->flush_done - ticket) < 0)
        pthread_cond_wait(&s->done, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

int wrk_log_ship_stop(wrk_log_ship *s)
{
    if (s == NULL)
        return -1;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->kick);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    struct stat st;
    int all = fstat(s->fd, &st) == 0 && s->file_pos == st.st_size;
    close(s->fd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->kick);
    pthread_cond_destroy(&s->done);
    free(s);
    return all ? 0 : -1;
}

/* ---- the watcher --------------------------------------------------------------- */

/* Tokens by a hash of the run id: two runs sharing a slot only cost a
 * follower an extra read. */
#define WATCH_SLOTS 1024

static _Atomic uint64_t watch_slots[WATCH_SLOTS];
static _Atomic uint64_t watch_all; /* bumped when some may have been missed */
static atomic_int watch_active;
static atomic_int watch_stop;
static pthread_t watch_thread;
static int watch_started;
static reg_store *watch_store;

static unsigned slot_of(const char *run_id, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)run_id[i]) * 16777619u;
    return h % WATCH_SLOTS;
}

static void *watch_main(void *arg)
{
    (void)arg;
    int listened = 0, warned = 0;
    while (!atomic_load(&watch_stop)) {
        sw_db *db = NULL;
        sw_error *e = NULL;
        char channel[SW_DB_CHANNEL_MAX] = "", payload[SW_DB_PAYLOAD_MAX] = "";
        int rc = reg_store_db(watch_store, &db, &e);
        if (rc == 0 && !listened && (rc = sw_db_listen(db, WRK_LOGS_CHANNEL, &e)) == 0)
            listened = 1;
        if (rc == 0)
            rc = sw_db_wait_notify(db, 1000, channel, payload, &e);
        if (rc > 0 && channel[0] != '\0') {
            size_t len = strcspn(payload, " ");
            atomic_fetch_add(&watch_slots[slot_of(payload, len)], 1);
        } else if (rc > 0) {
            atomic_fetch_add(&watch_all, 1);
        }
        if (rc >= 0) {
            if (warned)
                sw_info("listening for run log updates again");
            warned = 0;
            atomic_store(&watch_active, 1);
        } else {
            /* followers poll meanwhile */
            atomic_store(&watch_active, 0);
            atomic_fetch_add(&watch_all, 1);
            if (!warned)
                sw_warn("listening for run log updates: %s (polling meanwhile)",
                        sw_error_message(e));
            warned = 1;
            if (db == NULL || !listened) {
                struct timespec pause = { 1, 0 };
                nanosleep(&pause, NULL);
            }
        }
        sw_error_clear(&e);
    }
    atomic_store(&watch_active, 0);
    return NULL;
}

int wrk_log_watch_start(reg_store *store, sw_error **err)
{
    sw_db *db = NULL;
    int rc = reg_store_db(store, &db, err);
    if (rc != 0 || !wrk_logstore_enabled(db) || watch_started)
        return rc;
    watch_store = store;
    atomic_store(&watch_stop, 0);
    if (pthread_create(&watch_thread, NULL, watch_main, NULL) != 0)
        return sw_error_set(err, SW_EIO, "cannot start the run log watcher");
    watch_started = 1;
    return 0;
}

void wrk_log_watch_stop(void)
{
    if (!watch_started)
        return;
    atomic_store(&watch_stop, 1);
    pthread_join(watch_thread, NULL);
    watch_started = 0;
}

int wrk_log_watch_active(void)
{
    return atomic_load(&watch_active);
}

uint64_t wrk_log_watch_token(const char *run_id)
{
    return atomic_load(&watch_slots[slot_of(run_id, strlen(run_id))]) + atomic_load(&watch_all);
}
