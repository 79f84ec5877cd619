/*
 * db_sqlite.c - the SQLite driver of core/db.h: the embedded default.
 */
#include "core/db_int.h"

#include <sqlite3.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/fs.h"

struct lite_notice; /* the notification part, at the end of this file */

struct lite_db {
    struct sw_db base;
    sqlite3 *h;
    /* notifications: the last board entry seen, and what this
     * connection's open transaction sent (the channels are in base) */
    unsigned long long seen;
    struct lite_notice *pending;
    size_t n_pending;
};

struct lite_stmt {
    struct sw_stmt base;
    sqlite3_stmt *h;
};

#define H(db) (((struct lite_db *)(db))->h)
#define S(stmt) (((struct lite_stmt *)(stmt))->h)

/* Waiting for the write lock. SQLite's default handler (busy_timeout)
 * sleeps 1, 2, 5, ... up to 100 ms between tries, in no order: under a
 * burst of writers (webhook deliveries, workers' lease renewals) a waiter
 * that just missed the lock sleeps through many release windows, and
 * short stalls pile up into convoys of 0.1-4 s. Transactions here are
 * short, so tries every 250 us for the first 100 ms, then every 2 ms,
 * up to DB_BUSY_LIMIT_MS in all, cost little and keep the tail flat. */
#define DB_BUSY_LIMIT_MS 30000
#define DB_BUSY_FAST_TRIES 400

static int busy_wait(void *ctx, int count)
{
    (void)ctx;
    long long waited_us =
        count < DB_BUSY_FAST_TRIES
            ? (long long)count * 250
            : DB_BUSY_FAST_TRIES * 250LL + (long long)(count - DB_BUSY_FAST_TRIES) * 2000;
    if (waited_us >= DB_BUSY_LIMIT_MS * 1000LL)
        return 0; /* give up: SQLITE_BUSY */
    struct timespec pause = { 0, count < DB_BUSY_FAST_TRIES ? 250 * 1000 : 2000 * 1000 };
    nanosleep(&pause, NULL);
    return 1;
}

/* The database and its -wal and -shm files are 0600: they hold who built
 * what, and SQLite gives -wal and -shm the database file's mode. So the
 * file is made (or corrected) before SQLite opens it. Never by opening an
 * existing database: closing any descriptor of the file would drop the
 * POSIX locks of this process's other SQLite connections to it. */
static int make_private(const char *path, sw_error **err)
{
    static const char *const suffixes[] = { "", "-wal", "-shm", NULL };
    if (strcmp(path, ":memory:") == 0 || path[0] == '\0')
        return 0;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd); /* new and empty: nobody holds a lock on it yet */
    else if (errno != EEXIST)
        return sw_error_sys(err, SW_EDB, errno, "creating database %s", path);
    for (size_t i = 0; suffixes[i]; i++) {
        char file[SW_PATH_MAX];
        if (snprintf(file, sizeof file, "%s%s", path, suffixes[i]) >= (int)sizeof file)
            return sw_error_set(err, SW_EDB, "database path too long: %s", path);
        if (chmod(file, 0600) != 0 && errno != ENOENT)
            return sw_error_sys(err, SW_EDB, errno, "setting the mode of %s", file);
    }
    return 0;
}

static int lite_open(const char *path, int migrate, sw_db **out, sw_error **err)
{
    struct lite_db *db = NULL;
    char *msg = NULL;
    int rc = 0;
    if (migrate && (rc = make_private(path, err)) != 0)
        return rc;
    if ((db = calloc(1, sizeof *db)) == NULL)
        return sw_error_set(err, SW_ENOMEM, "opening database %s: out of memory", path);
    db->base.drv = &sw_db_sqlite_driver;
    if (sqlite3_open_v2(path, &db->h,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = sw_error_set(err, SW_EDB, "opening database %s: %s", path,
                          db->h ? sqlite3_errmsg(db->h) : "out of memory");
        goto cleanup;
    }
    sqlite3_busy_handler(db->h, busy_wait, NULL);
    /* Switching a new database to WAL takes an exclusive lock without
     * calling the busy handler: two processes opening a new database at
     * once (two front ends starting) would see "database is locked". */
    int tries = 0, pragma_rc;
    while ((pragma_rc = sqlite3_exec(db->h, "PRAGMA journal_mode=WAL", NULL, NULL, &msg)) ==
               SQLITE_BUSY &&
           tries++ < 3000) {
        sqlite3_free(msg);
        msg = NULL;
        struct timespec pause = { 0, 5 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    if (pragma_rc != SQLITE_OK || sqlite3_exec(db->h,
                                               "PRAGMA synchronous=FULL;"
                                               "PRAGMA foreign_keys=ON;",
                                               NULL, NULL, &msg) != SQLITE_OK) {
        rc = sw_error_set(err, SW_EDB, "opening database %s: %s", path, msg ? msg : "error");
        goto cleanup;
    }
    *out = &db->base;
    db = NULL;
cleanup:
    sqlite3_free(msg);
    if (db) {
        sqlite3_close(db->h);
        free(db);
    }
    return rc;
}

static void lite_close(sw_db *db)
{
    /* SQLite's advice: let each connection refresh the planner's
     * statistics for what it queried before it goes (cheap, usually a
     * no-op) */
    sqlite3_exec(H(db), "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close(H(db));
    free(((struct lite_db *)db)->pending);
    free(db);
}

static int lite_exec(sw_db *db, const char *sql, char **errmsg)
{
    char *msg = NULL;
    int rc = sqlite3_exec(H(db), sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK && errmsg)
        *errmsg = strdup(msg ? msg : "error");
    sqlite3_free(msg);
    return rc == SQLITE_OK ? SW_DB_OK : rc;
}

static int lite_begin(sw_db *db, int concurrent)
{
    (void)concurrent; /* one writer at a time on SQLite anyway */
    return sqlite3_exec(H(db), "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

static int lite_in_transaction(sw_db *db)
{
    return !sqlite3_get_autocommit(H(db));
}

static int lite_prepare(sw_db *db, const char *sql, int nbytes, sw_stmt **out, const char **tail)
{
    struct lite_stmt *stmt = calloc(1, sizeof *stmt);
    *out = NULL;
    if (stmt == NULL)
        return SQLITE_NOMEM;
    int rc = sqlite3_prepare_v2(H(db), sql, nbytes, &stmt->h, tail);
    if (rc != SQLITE_OK || stmt->h == NULL) {
        sqlite3_finalize(stmt->h);
        free(stmt);
        return rc != SQLITE_OK ? rc : SW_DB_MISUSE; /* empty SQL */
    }
    stmt->base.drv = &sw_db_sqlite_driver;
    stmt->base.db = db;
    *out = &stmt->base;
    return SW_DB_OK;
}

static const char *lite_errmsg(sw_db *db)
{
    return sqlite3_errmsg(H(db));
}

static int lite_errcode(sw_db *db)
{
    return sqlite3_errcode(H(db)) & 0xff;
}

static int lite_disk_full(sw_db *db)
{
    return sqlite3_errcode(H(db)) == SQLITE_FULL;
}

static int lite_changes(sw_db *db)
{
    return sqlite3_changes(H(db));
}

static int64_t lite_last_insert_id(sw_db *db)
{
    return (int64_t)sqlite3_last_insert_rowid(H(db));
}

/* The write lock of BEGIN IMMEDIATE serialises two processes migrating. */
static int lite_migrate_lock(sw_db *db, sw_error **err)
{
    if (sqlite3_exec(H(db), "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return sw_error_set(err, SW_EDB, "migrations: %s", sqlite3_errmsg(H(db)));
    return 0;
}

static void lite_migrate_unlock(sw_db *db)
{
    (void)db; /* the transaction's end released it */
}

static int lite_table_exists(sw_db *db, const char *table)
{
    sqlite3_stmt *stmt = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(H(db), "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return found;
}

static int lite_bind_text(sw_stmt *stmt, int idx, const char *text, int nbytes, sw_db_destructor d)
{
    return sqlite3_bind_text(S(stmt), idx, text, nbytes, d);
}

static int lite_bind_blob(sw_stmt *stmt, int idx, const void *data, int nbytes, sw_db_destructor d)
{
    return sqlite3_bind_blob(S(stmt), idx, data, nbytes, d);
}

static int lite_bind_int64(sw_stmt *stmt, int idx, int64_t value)
{
    return sqlite3_bind_int64(S(stmt), idx, (sqlite3_int64)value);
}

static int lite_bind_double(sw_stmt *stmt, int idx, double value)
{
    return sqlite3_bind_double(S(stmt), idx, value);
}

static int lite_bind_null(sw_stmt *stmt, int idx)
{
    return sqlite3_bind_null(S(stmt), idx);
}

static int lite_step(sw_stmt *stmt)
{
    return sqlite3_step(S(stmt)) & 0xff;
}

static int lite_reset(sw_stmt *stmt)
{
    return sqlite3_reset(S(stmt));
}

static int lite_finalize(sw_stmt *stmt)
{
    int rc = sqlite3_finalize(S(stmt));
    free(stmt);
    return rc;
}

static int lite_column_count(sw_stmt *stmt)
{
    return sqlite3_column_count(S(stmt));
}

static int lite_column_type(sw_stmt *stmt, int col)
{
    return sqlite3_column_type(S(stmt), col);
}

static const unsigned char *lite_column_text(sw_stmt *stmt, int col)
{
    return sqlite3_column_text(S(stmt), col);
}

static const void *lite_column_blob(sw_stmt *stmt, int col)
{
    return sqlite3_column_blob(S(stmt), col);
}

static int lite_column_bytes(sw_stmt *stmt, int col)
{
    return sqlite3_column_bytes(S(stmt), col);
}

static int64_t lite_column_int64(sw_stmt *stmt, int col)
{
    return (int64_t)sqlite3_column_int64(S(stmt), col);
}

static double lite_column_double(sw_stmt *stmt, int col)
{
    return sqlite3_column_double(S(stmt), col);
}

/* ---- notifications -----------------------------------------------------------
 *
 * SQLite has no LISTEN/NOTIFY: a process-wide board, a ring of the last
 * BOARD_SIZE notifications numbered from 1, stands in for it. Connections
 * of this process hear each other; other processes on the same file do
 * not (they poll). A connection that fell more than BOARD_SIZE behind is
 * told it may have missed some (channel ""). */

#define BOARD_SIZE 256

struct lite_notice {
    unsigned long long seq;
    char channel[SW_DB_CHANNEL_MAX];
    char payload[SW_DB_PAYLOAD_MAX];
};

static pthread_mutex_t board_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t board_cond = PTHREAD_COND_INITIALIZER;
static struct lite_notice board[BOARD_SIZE];
static unsigned long long board_last; /* seq of the newest entry */

static int lite_listening(struct lite_db *db, const char *channel)
{
    for (size_t i = 0; i < db->base.n_channels; i++)
        if (strcmp(db->base.channels[i], channel) == 0)
            return 1;
    return 0;
}

/* db.c added the channel to the list already */
static int lite_listen(sw_db *sdb, const char *channel, sw_error **err)
{
    struct lite_db *db = (struct lite_db *)sdb;
    (void)channel;
    (void)err;
    if (db->base.n_channels == 1) { /* hears what is sent from now on */
        pthread_mutex_lock(&board_lock);
        db->seen = board_last;
        pthread_mutex_unlock(&board_lock);
    }
    return 0;
}

static void board_post(const struct lite_notice *notices, size_t n)
{
    pthread_mutex_lock(&board_lock);
    for (size_t i = 0; i < n; i++) {
        struct lite_notice *slot = &board[++board_last % BOARD_SIZE];
        *slot = notices[i];
        slot->seq = board_last;
    }
    pthread_cond_broadcast(&board_cond);
    pthread_mutex_unlock(&board_lock);
}

static int lite_notify(sw_db *sdb, const char *channel, const char *payload, sw_error **err)
{
    struct lite_db *db = (struct lite_db *)sdb;
    struct lite_notice n = { 0 };
    snprintf(n.channel, sizeof n.channel, "%s", channel);
    snprintf(n.payload, sizeof n.payload, "%s", payload);
    if (sqlite3_get_autocommit(db->h)) {
        board_post(&n, 1);
        return 0;
    }
    /* inside a transaction: on commit (lite_tx_end) */
    void *grown = realloc(db->pending, (db->n_pending + 1) * sizeof *db->pending);
    if (grown == NULL)
        return sw_error_set(err, SW_ENOMEM, "database: out of memory");
    db->pending = grown;
    db->pending[db->n_pending++] = n;
    return 0;
}

static void lite_tx_end(sw_db *sdb, int committed)
{
    struct lite_db *db = (struct lite_db *)sdb;
    if (committed && db->n_pending > 0)
        board_post(db->pending, db->n_pending);
    db->n_pending = 0;
}

static int lite_wait_notify(sw_db *sdb, int timeout_ms, char *channel, char *payload,
                            sw_error **err)
{
    struct lite_db *db = (struct lite_db *)sdb;
    (void)err;
    struct timespec deadline = sw_deadline_in(timeout_ms);
    int found = 0;
    pthread_mutex_lock(&board_lock);
    for (;;) {
        if (board_last > db->seen + BOARD_SIZE) { /* fell behind: missed some */
            db->seen = board_last;
            found = 1;
            break;
        }
        while (db->seen < board_last) {
            const struct lite_notice *n = &board[++db->seen % BOARD_SIZE];
            if (lite_listening(db, n->channel)) {
                memcpy(channel, n->channel, SW_DB_CHANNEL_MAX);
                memcpy(payload, n->payload, SW_DB_PAYLOAD_MAX);
                found = 1;
                break;
            }
        }
        if (found || pthread_cond_timedwait(&board_cond, &board_lock, &deadline) != 0)
            break;
    }
    pthread_mutex_unlock(&board_lock);
    return found;
}

const struct sw_db_driver sw_db_sqlite_driver = {
    .kind = SW_DB_SQLITE,
    .open = lite_open,
    .close = lite_close,
    .exec = lite_exec,
    .begin = lite_begin,
    .in_transaction = lite_in_transaction,
    .prepare = lite_prepare,
    .errmsg = lite_errmsg,
    .errcode = lite_errcode,
    .disk_full = lite_disk_full,
    .changes = lite_changes,
    .last_insert_id = lite_last_insert_id,
    .migrate_lock = lite_migrate_lock,
    .migrate_unlock = lite_migrate_unlock,
    .table_exists = lite_table_exists,
    .listen = lite_listen,
    .notify = lite_notify,
    .wait_notify = lite_wait_notify,
    .tx_end = lite_tx_end,
    .bind_text = lite_bind_text,
    .bind_blob = lite_bind_blob,
    .bind_int64 = lite_bind_int64,
    .bind_double = lite_bind_double,
    .bind_null = lite_bind_null,
    .step = lite_step,
    .reset = lite_reset,
    .finalize = lite_finalize,
    .column_count = lite_column_count,
    .column_type = lite_column_type,
    .column_text = lite_column_text,
    .column_blob = lite_column_blob,
    .column_bytes = lite_column_bytes,
    .column_int64 = lite_column_int64,
    .column_double = lite_column_double,
};
