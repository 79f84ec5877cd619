/*
 * test_db.c - core/db.c: WAL mode, migrations applied once and recorded,
 * a database from a newer slipway refused with a clear message, statements
 * cached per connection.
 */
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
    RUN(test_cached_statements);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
