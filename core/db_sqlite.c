/*
 * db_sqlite.c - the SQLite driver of core/db.h: the embedded default.
 */
#include "core/db_int.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/fs.h"

struct lite_notice; /* the notification part, at the end of this file */
struct lite_shared;

struct lite_db {
    struct sw_db base;
    sqlite3 *h;
    /* notifications: the last board entry seen, and what this
     * connection's open transaction sent (the channels are in base) */
    unsigned long long seen;
    struct lite_notice *pending;
    size_t n_pending;
    struct lite_shared *shared; /* NULL: an in-memory database, or no stat() */
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
 * up to DB_BUSY_LIMIT_MS in all, cost little and keep the tail flat.
 * (A first-come first-served queue for the threads of one process, taken
 * before BEGIN IMMEDIATE, was measured against this and made the tail
 * worse on a loaded machine: each hand-over waits for the next thread to
 * be scheduled, while a poller that is already running takes the lock at
 * once. bench/README.md, "The webhook reply".) */
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

/* ---- the checkpointer: one thread per process and database file ------------
 *
 * synchronous=NORMAL: a commit appends to the WAL with no fsync, so it
 * survives the process being killed (kill -9, a crash): the bytes are in
 * the kernel. A thread per process and database file does the rest, off
 * the request path:
 *
 * - every DB_SYNC_MS it fdatasyncs the WAL when this process committed
 *   since the last time (through a descriptor of its own: no SQLite lock
 *   is taken and writers go on), so an acknowledged write reaches the disk
 *   within about that time even through a power loss;
 * - it copies the WAL into the database file (a PASSIVE checkpoint, which
 *   never blocks a writer) when the WAL holds DB_CHECKPOINT_FRAMES frames,
 *   or once the database has been idle for a tick;
 * - after a checkpoint that copied everything it starts the WAL over
 *   itself with a one-page write. The next writer would otherwise: SQLite
 *   syncs the WAL's new header even under synchronous=NORMAL, and that
 *   sync (1-10 ms here, up to 60 ms when the WAL file is new) landed
 *   inside a webhook delivery, once per checkpoint: the p99. The same
 *   write at start makes the WAL before the first request does.
 *
 * The commits are counted by a WAL hook on every connection, which also
 * runs the backstop checkpoint of DB_AUTOCHECKPOINT_PAGES (for when a long
 * reader holds the checkpointer back) as SQLite's own autocheckpoint
 * would. The thread also keeps the planner's statistics fresh (see
 * refresh_statistics). docs/architecture.md ("Durability") says why this
 * trade; database_sync: full (sw_db_set_sync_full) syncs every commit. */
#define DB_SYNC_MS 1000
#define DB_CHECKPOINT_FRAMES 4000
#define DB_AUTOCHECKPOINT_PAGES 10000
#define DB_START_WAIT_MS 2000
#define DB_ANALYZE_EVERY_S 3600
#define DB_ANALYZE_ROWS 2000
#define DB_STR_(x) #x
#define DB_STR(x) DB_STR_(x)

static atomic_int sync_full;

void sw_db_set_sync_full(int full)
{
    atomic_store(&sync_full, full != 0);
}

struct lite_shared {
    struct lite_shared *next;
    dev_t dev;
    ino_t ino;
    int refs;
    char *path;
    pthread_mutex_t lock;
    pthread_t checkpointer;
    int has_checkpointer, stopping, started;
    pthread_cond_t stop;   /* stopping was set */
    pthread_cond_t ready;  /* started was set: the WAL is ready */
    atomic_ullong commits; /* by this process's connections (wal_committed) */
    atomic_int wal_frames; /* frames in the WAL after the last of them */
};

static pthread_mutex_t shared_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lite_shared *shared_list;

/* sqlite3_wal_hook of every connection with a checkpointer: after each
 * commit, with the frames now in the WAL */
static int wal_committed(void *arg, sqlite3 *h, const char *db_name, int frames)
{
    struct lite_shared *sh = arg;
    atomic_fetch_add(&sh->commits, 1);
    atomic_store(&sh->wal_frames, frames);
    if (frames >= DB_AUTOCHECKPOINT_PAGES)
        sqlite3_wal_checkpoint_v2(h, db_name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

/* Starts the WAL over with a write of one page (user_version, set to the
 * value it has), so that the header's sync happens here. */
static void restart_wal(sqlite3 *h)
{
    sqlite3_stmt *stmt = NULL;
    char sql[64];
    if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return;
    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", sqlite3_column_int(stmt, 0));
        sqlite3_finalize(stmt);
        stmt = NULL;
        if (sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK &&
            sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
            return;
    }
    sqlite3_finalize(stmt);
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
}

/* A PASSIVE checkpoint; when it copied the whole WAL, the WAL is started
 * over here (restart_wal). */
static void checkpoint(struct lite_shared *sh, sqlite3 *h)
{
    int log_frames = 0, done_frames = 0;
    if (sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done_frames) !=
        SQLITE_OK)
        return;
    if (done_frames == log_frames) {
        restart_wal(h);
        atomic_store(&sh->wal_frames, 0);
    }
}

static int64_t page_count(sqlite3 *h)
{
    sqlite3_stmt *stmt = NULL;
    int64_t pages = 0;
    if (sqlite3_prepare_v2(h, "PRAGMA page_count", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        pages = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return pages;
}

/* The planner's statistics, kept fresh while the server runs (PRAGMA
 * optimize at close alone means at restart): every DB_ANALYZE_EVERY_S, and
 * whenever the database has doubled since the last time, an ANALYZE that
 * reads at most DB_ANALYZE_ROWS rows per index (analysis_limit, what
 * PRAGMA optimize itself uses), a few ms under the write lock. This
 * SQLite (3.40) lets PRAGMA optimize analyze only the tables its own
 * connection queried, which for this thread is none, hence ANALYZE. */
static void refresh_statistics(sqlite3 *h, int64_t *last_at, int64_t *last_pages)
{
    int64_t now = (int64_t)time(NULL), pages = page_count(h);
    if (*last_pages == 0)
        *last_pages = pages;
    if (now - *last_at < DB_ANALYZE_EVERY_S && pages < 2 * *last_pages)
        return;
    *last_at = now;
    *last_pages = pages;
    sqlite3_exec(h, "PRAGMA analysis_limit=" DB_STR(DB_ANALYZE_ROWS) "; ANALYZE", NULL, NULL, NULL);
}

static void *checkpointer_main(void *arg)
{
    struct lite_shared *sh = arg;
    sqlite3 *h = NULL;
    int wal_fd = -1;
    char wal_path[SW_PATH_MAX];
    unsigned long long synced = 0, seen = 0, checkpointed = 0;
    int64_t analyzed_at = (int64_t)time(NULL), analyzed_pages = 0;
    int opened = sqlite3_open_v2(sh->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ==
                 SQLITE_OK;
    if (opened) {
        sqlite3_busy_handler(h, busy_wait, NULL);
        sqlite3_wal_autocheckpoint(h, 0); /* it checkpoints on its own */
        checkpoint(sh, h);                /* the WAL, made before the first request */
    }
    snprintf(wal_path, sizeof wal_path, "%s-wal", sh->path);
    pthread_mutex_lock(&sh->lock);
    sh->started = 1;
    pthread_cond_broadcast(&sh->ready);
    while (opened && !sh->stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline); /* the clock of sh->stop */
        deadline.tv_nsec += (DB_SYNC_MS % 1000) * 1000000L;
        deadline.tv_sec += DB_SYNC_MS / 1000 + deadline.tv_nsec / 1000000000L;
        deadline.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&sh->stop, &sh->lock, &deadline);
        if (sh->stopping)
            break;
        pthread_mutex_unlock(&sh->lock);
        unsigned long long commits = atomic_load(&sh->commits);
        int is_idle = commits == seen;
        seen = commits;
        if (atomic_load(&sh->wal_frames) >= DB_CHECKPOINT_FRAMES ||
            (is_idle && commits != checkpointed)) {
            checkpoint(sh, h);
            checkpointed = commits;
            refresh_statistics(h, &analyzed_at, &analyzed_pages);
        }
        /* also after a checkpoint: it syncs the WAL only when it had
         * frames to copy, which a reader may have held back (then this
         * sync is nearly free: nothing else is dirty) */
        if (commits != synced) {
            if (wal_fd < 0)
                wal_fd = open(wal_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (wal_fd >= 0 && fdatasync(wal_fd) == 0)
                synced = commits;
        }
        pthread_mutex_lock(&sh->lock);
    }
    pthread_mutex_unlock(&sh->lock);
    if (wal_fd >= 0)
        close(wal_fd);
    sqlite3_close(h);
    return NULL;
}

/* The shared state of the database file at path, counted; NULL for an
 * in-memory database (or one that cannot be stat'ed). */
static struct lite_shared *shared_get(const char *path)
{
    struct stat st;
    struct lite_shared *sh;
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0 || stat(path, &st) != 0)
        return NULL;
    pthread_mutex_lock(&shared_list_lock);
    for (sh = shared_list; sh; sh = sh->next)
        if (sh->dev == st.st_dev && sh->ino == st.st_ino)
            break;
    if (sh == NULL && (sh = calloc(1, sizeof *sh)) != NULL) {
        if ((sh->path = strdup(path)) == NULL) {
            free(sh);
            sh = NULL;
        } else {
            pthread_condattr_t attr;
            sh->dev = st.st_dev;
            sh->ino = st.st_ino;
            pthread_mutex_init(&sh->lock, NULL);
            pthread_condattr_init(&attr);
            pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
            pthread_cond_init(&sh->stop, &attr);
            pthread_cond_init(&sh->ready, &attr);
            pthread_condattr_destroy(&attr);
            sh->has_checkpointer =
                pthread_create(&sh->checkpointer, NULL, checkpointer_main, sh) == 0;
            sh->next = shared_list;
            shared_list = sh;
        }
    }
    if (sh)
        sh->refs++;
    pthread_mutex_unlock(&shared_list_lock);
    if (sh && sh->has_checkpointer) {
        /* the first connection waits for the WAL (bounded: another
         * process may hold the write lock) */
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += DB_START_WAIT_MS / 1000;
        pthread_mutex_lock(&sh->lock);
        while (!sh->started && pthread_cond_timedwait(&sh->ready, &sh->lock, &deadline) == 0)
            ;
        pthread_mutex_unlock(&sh->lock);
    }
    return sh;
}

static void shared_put(struct lite_shared *sh)
{
    if (sh == NULL)
        return;
    pthread_mutex_lock(&shared_list_lock);
    if (--sh->refs > 0) {
        pthread_mutex_unlock(&shared_list_lock);
        return;
    }
    for (struct lite_shared **p = &shared_list; *p; p = &(*p)->next) {
        if (*p == sh) {
            *p = sh->next;
            break;
        }
    }
    pthread_mutex_unlock(&shared_list_lock);
    if (sh->has_checkpointer) {
        pthread_mutex_lock(&sh->lock);
        sh->stopping = 1;
        pthread_cond_signal(&sh->stop);
        pthread_mutex_unlock(&sh->lock);
        pthread_join(sh->checkpointer, NULL);
    }
    pthread_cond_destroy(&sh->stop);
    pthread_cond_destroy(&sh->ready);
    pthread_mutex_destroy(&sh->lock);
    free(sh->path);
    free(sh);
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
    if (pragma_rc != SQLITE_OK ||
        sqlite3_exec(db->h,
                     atomic_load(&sync_full) ? "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                                             : "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        rc = sw_error_set(err, SW_EDB, "opening database %s: %s", path, msg ? msg : "error");
        goto cleanup;
    }
    db->shared = shared_get(path);
    if (db->shared && db->shared->has_checkpointer)
        sqlite3_wal_hook(db->h, wal_committed, db->shared);
    *out = &db->base;
    db = NULL;
cleanup:
    sqlite3_free(msg);
    if (db) {
        sqlite3_close(db->h);
        shared_put(db->shared);
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
    shared_put(((struct lite_db *)db)->shared);
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
