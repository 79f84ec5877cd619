/*
 * test_db.c - core/db.c: WAL mode, migrations applied once and recorded,
 * a database from a newer slipway refused with a clear message; threads
 * writing at once, the pragmas of core/db_sqlite.c; statements cached per
 * connection.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

static void test_fresh_database_is_migrated(void)
{
    char *path = sw_path_join(dir, "fresh.db");
    sw_db *db = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_db_open(path, 1, &db, &err), 0);
    int version = -1;
    CHECK_INT_EQ(sw_db_version(db, &version, &err), 0);
    CHECK_INT_EQ(version, sw_db_latest_version());
    CHECK(version >= 1);

    sw_stmt *stmt = NULL;
    CHECK_INT_EQ(sw_db_prepare(db, "PRAGMA journal_mode", &stmt, &err), 0);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    CHECK_STR_EQ((const char *)sw_stmt_column_text(stmt, 0), "wal");
    sw_stmt_finalize(stmt);

    /* the registry tables exist */
    CHECK_INT_EQ(sw_db_exec(db, "SELECT COUNT(*) FROM repositories", &err), 0);
    /* one row per migration (numbers may have gaps while branches land) */
    int applied = -1;
    CHECK_INT_EQ(sw_db_prepare(db, "SELECT COUNT(*) FROM schema_version", &stmt, &err), 0);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    applied = sw_stmt_column_int(stmt, 0);
    CHECK(applied >= 1 && applied <= sw_db_latest_version());
    sw_stmt_finalize(stmt);
    sw_db_close(db);

    /* reopening applies nothing twice */
    CHECK_INT_EQ(sw_db_open(path, 1, &db, &err), 0);
    CHECK_INT_EQ(sw_db_prepare(db, "SELECT COUNT(*) FROM schema_version", &stmt, &err), 0);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    CHECK_INT_EQ(sw_stmt_column_int(stmt, 0), applied);
    sw_stmt_finalize(stmt);
    sw_db_close(db);
    free(path);
}

static void test_newer_database_is_refused(void)
{
    char *path = sw_path_join(dir, "newer.db");
    sw_db *db = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_db_open(path, 1, &db, &err), 0);
    CHECK_INT_EQ(
        sw_db_exec(db, "INSERT INTO schema_version VALUES (9999, '9999_future.sql', 0)", &err), 0);
    sw_db_close(db);
    db = NULL;
    CHECK_INT_EQ(sw_db_open(path, 1, &db, &err), SW_EUNSUPPORTED);
    CHECK(db == NULL);
    CHECK(err && strstr(err->message, "schema version 9999") != NULL);
    CHECK(err && strstr(err->message, "newer slipway") != NULL);
    sw_error_clear(&err);
    CHECK_INT_EQ(sw_db_open(path, 0, &db, &err), SW_EUNSUPPORTED);
    sw_error_clear(&err);
    free(path);
}

static void test_transactions(void)
{
    char *path = sw_path_join(dir, "tx.db");
    sw_db *db = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_db_open(path, 1, &db, &err), 0);
    CHECK_INT_EQ(sw_db_exec(db, "CREATE TABLE t (x INTEGER)", &err), 0);
    CHECK_INT_EQ(sw_db_begin(db, &err), 0);
    CHECK_INT_EQ(sw_db_exec(db, "INSERT INTO t VALUES (1)", &err), 0);
    sw_db_rollback(db);
    sw_db_rollback(db); /* a second rollback is harmless */
    CHECK_INT_EQ(sw_db_begin(db, &err), 0);
    CHECK_INT_EQ(sw_db_exec(db, "INSERT INTO t VALUES (2)", &err), 0);
    CHECK_INT_EQ(sw_db_commit(db, &err), 0);
    sw_stmt *stmt = NULL;
    sw_db_prepare(db, "SELECT group_concat(x) FROM t", &stmt, &err);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    CHECK_STR_EQ((const char *)sw_stmt_column_text(stmt, 0), "2");
    sw_stmt_finalize(stmt);
    CHECK(sw_db_exec(db, "INSERT INTO nosuch VALUES (1)", &err) == SW_EDB);
    CHECK(err && strstr(err->message, "nosuch") != NULL);
    sw_error_clear(&err);
    sw_db_close(db);
    free(path);
}

static int pragma_int(sw_db *db, const char *sql)
{
    sw_stmt *stmt = NULL;
    sw_error *err = NULL;
    int v = -1;
    if (sw_db_prepare(db, sql, &stmt, &err) == 0 && sw_stmt_step(stmt) == SW_DB_ROW)
        v = sw_stmt_column_int(stmt, 0);
    sw_stmt_finalize(stmt);
    sw_error_clear(&err);
    return v;
}

struct writer {
    const char *path;
    int rounds, failures;
};

/* read, then write what was read plus one: a lost update if two
 * transactions ever overlapped */
static void *writer_main(void *arg)
{
    struct writer *w = arg;
    sw_db *db = NULL;
    sw_error *err = NULL;
    if (sw_db_open(w->path, 0, &db, &err) != 0) {
        w->failures = w->rounds;
        sw_error_clear(&err);
        return NULL;
    }
    for (int i = 0; i < w->rounds; i++) {
        sw_stmt *stmt = NULL;
        int n = -1;
        if (sw_db_begin(db, &err) == 0 &&
            sw_db_prepare(db, "SELECT n FROM counter", &stmt, &err) == 0 &&
            sw_stmt_step(stmt) == SW_DB_ROW)
            n = sw_stmt_column_int(stmt, 0);
        sw_stmt_finalize(stmt);
        stmt = NULL;
        if (n < 0 || sw_db_prepare(db, "UPDATE counter SET n = ?", &stmt, &err) != 0 ||
            (sw_stmt_bind_int(stmt, 1, n + 1), sw_db_step_done(db, stmt, "counting", &err)) != 0 ||
            sw_db_commit(db, &err) != 0) {
            w->failures++;
            sw_error_clear(&err);
            sw_db_rollback(db);
        }
    }
    sw_db_close(db);
    return NULL;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_concurrent_writers(void)
{
    char *path = sw_path_join(dir, "writers.db");
    sw_db *db = NULL, *other = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_db_open(path, 1, &db, &err), 0);
    /* commits are not synced one by one; checkpoints are left to the
     * checkpointer thread (docs/architecture.md, "Durability"), which made
     * the WAL before the first write, so no request pays for that */
    CHECK_INT_EQ(pragma_int(db, "PRAGMA synchronous"), 1);
    struct stat wal_st;
    char wal_path[4096];
    snprintf(wal_path, sizeof wal_path, "%s-wal", path);
    CHECK(stat(wal_path, &wal_st) == 0 && wal_st.st_size > 0);
    CHECK_INT_EQ(
        sw_db_exec(db, "CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0)", &err),
        0);

    pthread_t threads[8];
    struct writer writers[8];
    for (int i = 0; i < 8; i++) {
        writers[i] = (struct writer){ .path = path, .rounds = 40 };
        CHECK_INT_EQ(pthread_create(&threads[i], NULL, writer_main, &writers[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        failures += writers[i].failures;
    }
    CHECK_INT_EQ(failures, 0);
    CHECK_INT_EQ(pragma_int(db, "SELECT n FROM counter"), 8 * 40);

    /* the write lock is given back however the transaction ends: rollback,
     * or the connection closed in the middle of it (the next writer does not
     * wait for the 30 s limit) */
    CHECK_INT_EQ(sw_db_open(path, 0, &other, &err), 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(sw_db_begin(db, &err), 0);
    sw_db_rollback(db);
    CHECK_INT_EQ(sw_db_begin(other, &err), 0);
    CHECK_INT_EQ(sw_db_exec(other, "UPDATE counter SET n = n + 1", &err), 0);
    sw_db_close(other);
    CHECK_INT_EQ(sw_db_begin(db, &err), 0);
    CHECK_INT_EQ(sw_db_commit(db, &err), 0);
    CHECK(seconds_since(&t0) < 5);
    /* the closed connection's transaction was rolled back */
    CHECK_INT_EQ(pragma_int(db, "SELECT n FROM counter"), 8 * 40);
    sw_db_close(db);
    free(path);
}

/* The checkpointer keeps the planner's statistics fresh while the process
 * runs: once the database has doubled, an ANALYZE writes sqlite_stat1
 * within a few idle seconds, with no connection closed. */
static void test_statistics_refreshed(void)
{
    char *path = sw_path_join(dir, "stats.db");
    sw_db *db = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_db_open(path, 1, &db, &err), 0);
    CHECK_INT_EQ(sw_db_exec(db,
                            "CREATE TABLE items (id INTEGER PRIMARY KEY, kind TEXT);"
                            "CREATE INDEX items_kind ON items(kind);"
                            "INSERT INTO items (kind) VALUES ('a')",
                            &err),
                 0);
    sleep(3); /* idle: the checkpointer notes the size it starts from */
    CHECK_INT_EQ(sw_db_exec(db,
                            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                            " WHERE i < 20000) INSERT INTO items (kind)"
                            " SELECT 'k' || (i % 7) FROM n",
                            &err),
                 0);
    int analyzed = 0;
    for (int tries = 0; tries < 100 && !analyzed; tries++) {
        usleep(100 * 1000);
        analyzed =
            pragma_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'") == 1 &&
            pragma_int(db, "SELECT COUNT(*) FROM sqlite_stat1 WHERE idx = 'items_kind'") == 1;
    }
    CHECK(analyzed);
    sw_db_close(db);
    free(path);
}

/* database_sync: full makes every connection opened afterwards sync each
 * commit; normal (the default) leaves that to the checkpointer */
static void test_sync_full(void)
{
    char *path = sw_path_join(dir, "sync.db");
    sw_db *db = NULL;
    sw_error *err = NULL;
    sw_db_set_sync_full(1);
    CHECK_INT_EQ(sw_db_open(path, 1, &db, &err), 0);
    CHECK_INT_EQ(pragma_int(db, "PRAGMA synchronous"), 2);
    sw_db_close(db);
    sw_db_set_sync_full(0);
    CHECK_INT_EQ(sw_db_open(path, 1, &db, &err), 0);
    CHECK_INT_EQ(pragma_int(db, "PRAGMA synchronous"), 1);
    sw_db_close(db);
    free(path);
}

/* A cached statement is prepared once, and once released holds no read
 * transaction: what another connection (another process) commits in
 * between is what the next use sees. */
static void test_cached_statements(void)
{
    static const char count_sql[] = "SELECT COUNT(*) FROM t";
    char *path = sw_path_join(dir, "cached.db");
    sw_db *reader = NULL, *writer = NULL;
    sw_stmt *stmt = NULL, *again = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_db_open(path, 1, &reader, &err), 0);
    CHECK_INT_EQ(sw_db_open(path, 0, &writer, &err), 0);
    CHECK_INT_EQ(sw_db_exec(writer, "CREATE TABLE t (x INTEGER)", &err), 0);
    CHECK_INT_EQ(sw_db_prepare_cached(reader, count_sql, &stmt, &err), 0);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    CHECK_INT_EQ(sw_stmt_column_int(stmt, 0), 0);
    sw_stmt_release(stmt);
    CHECK_INT_EQ(sw_db_exec(writer, "INSERT INTO t VALUES (1)", &err), 0);
    CHECK_INT_EQ(sw_db_prepare_cached(reader, count_sql, &again, &err), 0);
    CHECK(again == stmt);
    CHECK_INT_EQ(sw_stmt_step(again), SW_DB_ROW);
    CHECK_INT_EQ(sw_stmt_column_int(again, 0), 1);
    /* finalize on a cached statement only resets it: the connection owns it */
    sw_stmt_finalize(again);
    CHECK_INT_EQ(sw_db_prepare_cached(reader, count_sql, &again, &err), 0);
    CHECK(again == stmt);
    CHECK_INT_EQ(sw_stmt_step(again), SW_DB_ROW);
    sw_stmt_release(again);
    /* closing finalizes what the connection keeps (SQLite refuses to close
     * a connection with live statements; ASan sees a leak) */
    sw_db_close(reader);
    sw_db_close(writer);
    free(path);
}

int main(void)
{
    dir = scratch_dir("test_db");
    RUN(test_fresh_database_is_migrated);
    RUN(test_newer_database_is_refused);
    RUN(test_transactions);
    RUN(test_concurrent_writers);
    RUN(test_sync_full);
    RUN(test_statistics_refreshed);
    RUN(test_cached_statements);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
