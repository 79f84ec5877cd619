/*
 * db.c - SQLite connections and the migrations runner.
 */
#include "core/db.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fs.h"
#include "core/parse.h"

/* Generated from the migrations folder by cmake/EmbedRun.cmake, sorted by name. */
extern const struct {
    const char *name;
    const unsigned char *data;
    size_t size;
} sw_migrations_data[];

int sw_db_error(sqlite3 *db, sw_error **err, const char *context)
{
    int code = db && sqlite3_errcode(db) == SQLITE_FULL ? SW_ENOSPACE : SW_EDB;
    return sw_error_set(err, code, "%s: %s", context,
                        db ? sqlite3_errmsg(db) : "cannot open database");
}

int sw_db_exec(sqlite3 *db, const char *sql, sw_error **err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sw_error_set(err, SW_EDB, "database: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

int sw_db_begin(sqlite3 *db, sw_error **err)
{
    return sw_db_exec(db, "BEGIN IMMEDIATE", err);
}

int sw_db_commit(sqlite3 *db, sw_error **err)
{
    return sw_db_exec(db, "COMMIT", err);
}

void sw_db_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int sw_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt, sw_error **err)
{
    if (sqlite3_prepare_v2(db, sql, -1, stmt, NULL) != SQLITE_OK)
        return sw_db_error(db, err, "preparing statement");
    return 0;
}

/* Version number from a migration's file name: "0003_tags.sql" -> 3. */
static int migration_version(const char *name)
{
    int64_t v = 0;
    return sw_parse_int64_prefix(name, 1, 99999, &v, NULL) == 0 ? (int)v : 0;
}

int sw_db_latest_version(void)
{
    int latest = 0;
    for (size_t i = 0; sw_migrations_data[i].name; i++) {
        int v = migration_version(sw_migrations_data[i].name);
        if (v > latest)
            latest = v;
    }
    return latest;
}

int sw_db_version(sqlite3 *db, int *version, sw_error **err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = 0;
    *version = 0;
    /* schema_version may not exist yet in a fresh database */
    if (sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_version", -1, &stmt, NULL) !=
        SQLITE_OK) {
        if (strstr(sqlite3_errmsg(db), "no such table"))
            return 0;
        return sw_db_error(db, err, "reading schema version");
    }
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        *version = sqlite3_column_int(stmt, 0);
    else if (step != SQLITE_DONE)
        rc = sw_db_error(db, err, "reading schema version");
    sqlite3_finalize(stmt);
    return rc;
}

static int migrate(sqlite3 *db, const char *path, sw_error **err)
{
    int rc, current = 0;
    sqlite3_stmt *stmt = NULL;

    if ((rc = sw_db_exec(db,
                         "CREATE TABLE IF NOT EXISTS schema_version ("
                         " version INTEGER PRIMARY KEY,"
                         " name TEXT NOT NULL,"
                         " applied_at INTEGER NOT NULL)",
                         err)) != 0)
        return rc;
    /* The write lock serialises two processes starting at once. */
    if ((rc = sw_db_begin(db, err)) != 0)
        return rc;
    if ((rc = sw_db_version(db, &current, err)) != 0)
        goto cleanup;
    int latest = sw_db_latest_version();
    if (current > latest) {
        rc = sw_error_set(err, SW_EUNSUPPORTED,
                          "database %s has schema version %d, but this slipway knows only "
                          "up to %d: it was written by a newer slipway; upgrade slipway "
                          "or use another data directory",
                          path, current, latest);
        goto cleanup;
    }
    for (size_t i = 0; sw_migrations_data[i].name; i++) {
        const char *name = sw_migrations_data[i].name;
        int v = migration_version(name);
        if (v <= current)
            continue;
        if ((rc = sw_db_exec(db, (const char *)sw_migrations_data[i].data, err)) != 0) {
            sw_error_prefix(err, "applying migration %s", name);
            goto cleanup;
        }
        if ((rc = sw_db_prepare(db,
                                "INSERT INTO schema_version (version, name, applied_at)"
                                " VALUES (?, ?, ?)",
                                &stmt, err)) != 0)
            goto cleanup;
        sqlite3_bind_int(stmt, 1, v);
        sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, (sqlite3_int64)time(NULL));
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            rc = sw_db_error(db, err, "recording migration");
            goto cleanup;
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
    }
    rc = sw_db_commit(db, err);
cleanup:
    sqlite3_finalize(stmt);
    if (rc != 0)
        sw_db_rollback(db);
    return rc;
}

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

int sw_db_open(const char *path, int do_migrate, sqlite3 **out, sw_error **err)
{
    sqlite3 *db = NULL;
    int rc = 0;
    if (do_migrate && (rc = make_private(path, err)) != 0)
        return rc;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = sw_error_set(err, SW_EDB, "opening database %s: %s", path,
                          db ? sqlite3_errmsg(db) : "out of memory");
        goto cleanup;
    }
    sqlite3_busy_handler(db, busy_wait, NULL);
    if ((rc = sw_db_exec(db,
                         "PRAGMA journal_mode=WAL;"
                         "PRAGMA synchronous=FULL;"
                         "PRAGMA foreign_keys=ON;",
                         err)) != 0) {
        sw_error_prefix(err, "opening database %s", path);
        goto cleanup;
    }
    if (do_migrate && (rc = migrate(db, path, err)) != 0)
        goto cleanup;
    if (!do_migrate) {
        int version = 0;
        if ((rc = sw_db_version(db, &version, err)) != 0)
            goto cleanup;
        if (version > sw_db_latest_version()) {
            rc = sw_error_set(err, SW_EUNSUPPORTED,
                              "database %s has schema version %d, newer than this "
                              "slipway (%d); upgrade slipway",
                              path, version, sw_db_latest_version());
            goto cleanup;
        }
    }
    *out = db;
    db = NULL;
cleanup:
    if (db)
        sqlite3_close(db);
    return rc;
}

void sw_db_close(sqlite3 *db)
{
    if (db == NULL)
        return;
    /* SQLite's advice: let each connection refresh the planner's
     * statistics for what it queried before it goes (cheap, usually a
     * no-op); 0x10002 also analyzes tables that grew without stats */
    sqlite3_exec(db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close(db);
}

int sw_db_step_done(sqlite3 *db, sqlite3_stmt *stmt, const char *context, sw_error **err)
{
    int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : sw_db_error(db, err, context);
    sqlite3_finalize(stmt);
    return rc;
}

char *sw_db_column_dup(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    return text ? strdup((const char *)text) : NULL;
}
