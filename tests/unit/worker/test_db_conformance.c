/*
 * test_db_conformance.c - the database interface (core/db.h) as every
 * driver must behave: run once on SQLite (no arguments) and once on
 * PostgreSQL ("postgres": ctest starts a throwaway cluster with
 * tests/lib/pg.sh and passes its URL in SW_PG_URL).
 *
 * Types round trip; placeholders ?N reused and mixed with ?; a constraint
 * violation distinguishable from other errors; a rolled-back transaction
 * leaves nothing; two connections claiming queued runs (worker/jobs.c)
 * get each exactly once; migrations applied twice are a no-op; two
 * processes migrating an empty database at once both succeed;
 * notifications (sw_db_listen/notify/wait_notify) reach a listener on
 * another connection, also one blocked in a wait on another thread, only
 * on its channels, at commit and never after a rollback. On PostgreSQL: a
 * connection whose server side went away (pg_terminate_backend, as in a
 * server restart) is re-opened on its next use, a transaction it was in
 * fails until rolled back, and a listener hears notifications again.
 *
 * In the worker folder because the claim test uses the real run queue.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/jobs.h"
#include "worker/logstore.h"

static int on_pg;
static char *dir;
static const char *pg_url; /* the cluster's first database */
static int fresh_count;

/* A new empty database: a new file, or a new PostgreSQL database. */
static char *fresh_database(void)
{
    char *where = NULL;
    char name[64];
    snprintf(name, sizeof name, "conf_%d_%d", (int)getpid(), ++fresh_count);
    if (!on_pg) {
        char file[80];
        snprintf(file, sizeof file, "%s.db", name);
        return sw_path_join(dir, file);
    }
    sw_db *admin = NULL;
    sw_error *err = NULL;
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (sw_db_open(pg_url, 0, &admin, &err) != 0 || sw_db_exec(admin, sql, &err) != 0) {
        fprintf(stderr, "creating database %s: %s\n", name, sw_error_message(err));
        abort();
    }
    sw_db_close(admin);
    const char *slash = strrchr(pg_url, '/');
    if (asprintf(&where, "%.*s/%s", (int)(slash - pg_url), pg_url, name) < 0)
        abort();
    return where;
}

static sw_db *open_db(const char *where)
{
    sw_db *db = NULL;
    sw_error *err = NULL;
    if (sw_db_open(where, 1, &db, &err) != 0) {
        fprintf(stderr, "opening %s: %s\n", where, sw_error_message(err));
        abort();
    }
    return db;
}

static int64_t count(sw_db *db, const char *sql)
{
    sw_stmt *stmt = NULL;
    int64_t n = -1;
    if (sw_db_prepare(db, sql, &stmt, NULL) == 0 && sw_stmt_step(stmt) == SW_DB_ROW)
        n = sw_stmt_column_int64(stmt, 0);
    sw_stmt_finalize(stmt);
    return n;
}

static void test_types_round_trip(void)
{
    char *where = fresh_database();
    sw_db *db = open_db(where);
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_db_exec(db,
                            "CREATE TABLE t (k BIGINT PRIMARY KEY, s TEXT, i BIGINT, b BYTEA,"
                            " d DOUBLE PRECISION, n TEXT)",
                            &err),
                 0);
    static const unsigned char blob[] = { 0, 1, 0xff, '\\', 'x', 0, 'q' };
    const char *text = "h\xc3\xa9llo 'quoted' ?1 $1 \"id\" -- not a comment";
    sw_stmt *stmt = NULL;
    CHECK_INT_EQ(sw_db_prepare(db, "INSERT INTO t (k, s, i, b, d, n) VALUES (?, ?, ?, ?, ?, ?)",
                               &stmt, &err),
                 0);
    CHECK_INT_EQ(sw_stmt_bind_int64(stmt, 1, 1), SW_DB_OK);
    CHECK_INT_EQ(sw_stmt_bind_text(stmt, 2, text, -1, SW_DB_STATIC), SW_DB_OK);
    CHECK_INT_EQ(sw_stmt_bind_int64(stmt, 3, INT64_MIN), SW_DB_OK);
    CHECK_INT_EQ(sw_stmt_bind_blob(stmt, 4, blob, (int)sizeof blob, SW_DB_STATIC), SW_DB_OK);
    CHECK_INT_EQ(sw_stmt_bind_double(stmt, 5, 0.25), SW_DB_OK);
    CHECK_INT_EQ(sw_stmt_bind_null(stmt, 6), SW_DB_OK);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE);
    /* the same statement again, rebound: a transient copy, an empty
     * string (not NULL), the other end of int64 */
    CHECK_INT_EQ(sw_stmt_reset(stmt), SW_DB_OK);
    char scratch[8] = "abc";
    sw_stmt_bind_int64(stmt, 1, 2);
    sw_stmt_bind_text(stmt, 2, scratch, 2, SW_DB_TRANSIENT);
    scratch[0] = 'X';
    sw_stmt_bind_int64(stmt, 3, INT64_MAX);
    sw_stmt_bind_blob(stmt, 4, NULL, 0, SW_DB_STATIC); /* NULL */
    sw_stmt_bind_double(stmt, 5, -1e300);
    sw_stmt_bind_text(stmt, 6, "", 0, SW_DB_STATIC);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE);
    CHECK_INT_EQ(sw_db_changes(db), 1);
    sw_stmt_finalize(stmt);

    CHECK_INT_EQ(sw_db_prepare(db, "SELECT k, s, i, b, d, n FROM t ORDER BY k", &stmt, &err), 0);
    CHECK_INT_EQ(sw_stmt_column_count(stmt) == 6 || sw_stmt_column_count(stmt) == 0, 1);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    CHECK_INT_EQ(sw_stmt_column_count(stmt), 6);
    CHECK_INT_EQ(sw_stmt_column_int64(stmt, 0), 1);
    CHECK_STR_EQ((const char *)sw_stmt_column_text(stmt, 1), text);
    CHECK_INT_EQ(sw_stmt_column_type(stmt, 1), SW_DB_TEXT);
    CHECK(sw_stmt_column_int64(stmt, 2) == INT64_MIN);
    CHECK_INT_EQ(sw_stmt_column_type(stmt, 2), SW_DB_INTEGER);
    CHECK_INT_EQ(sw_stmt_column_type(stmt, 3), SW_DB_BLOB);
    CHECK_INT_EQ(sw_stmt_column_bytes(stmt, 3), sizeof blob);
    const void *got = sw_stmt_column_blob(stmt, 3);
    CHECK(got != NULL && memcmp(got, blob, sizeof blob) == 0);
    CHECK(sw_stmt_column_double(stmt, 4) == 0.25);
    CHECK_INT_EQ(sw_stmt_column_type(stmt, 4), SW_DB_FLOAT);
    CHECK_INT_EQ(sw_stmt_column_type(stmt, 5), SW_DB_NULL);
    CHECK(sw_stmt_column_text(stmt, 5) == NULL);
    CHECK(sw_db_column_dup(stmt, 5) == NULL);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    CHECK_STR_EQ((const char *)sw_stmt_column_text(stmt, 1), "ab");
    CHECK(sw_stmt_column_int64(stmt, 2) == INT64_MAX);
    CHECK_INT_EQ(sw_stmt_column_type(stmt, 3), SW_DB_NULL);
    CHECK(sw_stmt_column_double(stmt, 4) == -1e300);
    CHECK_INT_EQ(sw_stmt_column_type(stmt, 5), SW_DB_TEXT);
    CHECK_STR_EQ((const char *)sw_stmt_column_text(stmt, 5), "");
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE);
    sw_stmt_finalize(stmt);

    /* a comparison is an integer 0 or 1 on both engines */
    CHECK_INT_EQ(count(db, "SELECT COUNT(*) > 1 FROM t"), 1);
    CHECK_INT_EQ(count(db, "SELECT COUNT(*) > 2 FROM t"), 0);
    sw_db_close(db);
    free(where);
}

static void test_placeholders(void)
{
    char *where = fresh_database();
    sw_db *db = open_db(where);
    sw_error *err = NULL;
    sw_stmt *stmt = NULL;
    CHECK_INT_EQ(sw_db_exec(db, "CREATE TABLE p (k BIGINT PRIMARY KEY, s TEXT, n BIGINT)", &err),
                 0);
    /* ?1 and ?2 each used twice, out of order */
    CHECK_INT_EQ(sw_db_prepare(db, "INSERT INTO p (k, s, n) VALUES (?2, ?1, ?2 * 10 + length(?1))",
                               &stmt, &err),
                 0);
    sw_stmt_bind_text(stmt, 1, "four", -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 2, 7);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE);
    sw_stmt_finalize(stmt);
    /* a bare ? after ?2 is ?3 (SQLite's rule: one more than the highest
     * so far); '?' in a literal is text */
    CHECK_INT_EQ(sw_db_prepare(db,
                               "SELECT '?1 ?', s, n, k + ?2 FROM p WHERE k = ?2 AND s = ?1"
                               " AND n = ?2 * 10 + 4 AND ? = 100",
                               &stmt, &err),
                 0);
    sw_stmt_bind_text(stmt, 1, "four", -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 2, 7);
    CHECK_INT_EQ(sw_stmt_bind_int64(stmt, 3, 100), SW_DB_OK);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    CHECK_STR_EQ((const char *)sw_stmt_column_text(stmt, 0), "?1 ?");
    CHECK_STR_EQ((const char *)sw_stmt_column_text(stmt, 1), "four");
    CHECK_INT_EQ(sw_stmt_column_int64(stmt, 2), 74);
    CHECK_INT_EQ(sw_stmt_column_int64(stmt, 3), 14);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE);
    /* stepping again after a reset runs it again with the same values */
    sw_stmt_reset(stmt);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    CHECK_INT_EQ(sw_stmt_column_int64(stmt, 3), 14);
    /* binding needs a reset first; a number the statement lacks is RANGE */
    CHECK_INT_EQ(sw_stmt_bind_int64(stmt, 3, 1), SW_DB_MISUSE);
    sw_stmt_reset(stmt);
    CHECK_INT_EQ(sw_stmt_bind_int64(stmt, 4, 1), SW_DB_RANGE);
    CHECK_INT_EQ(sw_stmt_bind_int64(stmt, 3, 1), SW_DB_OK);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE); /* ?3 = 1 matches nothing */
    sw_stmt_finalize(stmt);
    /* parameters bound but not used, or only tested for NULL (the server
     * has nothing to infer their type from) */
    CHECK_INT_EQ(sw_db_prepare(db,
                               "SELECT n FROM p WHERE (?2 IS NULL OR s = ?2)"
                               " AND (?5 IS NOT NULL) ORDER BY k LIMIT ?4",
                               &stmt, &err),
                 0);
    sw_stmt_bind_text(stmt, 1, "unused", -1, SW_DB_STATIC);
    sw_stmt_bind_null(stmt, 2);
    sw_stmt_bind_null(stmt, 3);
    sw_stmt_bind_int64(stmt, 4, INT64_MAX); /* no limit, on both */
    sw_stmt_bind_text(stmt, 5, "x", -1, SW_DB_STATIC);
    int step = sw_stmt_step(stmt);
    CHECK_INT_EQ(step, SW_DB_ROW);
    if (step != SW_DB_ROW)
        fprintf(stderr, "%s\n", sw_db_errmsg(db));
    CHECK_INT_EQ(sw_stmt_column_int64(stmt, 0), 74);
    sw_stmt_reset(stmt);
    sw_stmt_bind_text(stmt, 2, "other", -1, SW_DB_STATIC);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE);
    sw_stmt_finalize(stmt);
    sw_db_close(db);
    free(where);
}

static void test_constraint_violation(void)
{
    char *where = fresh_database();
    sw_db *db = open_db(where);
    sw_error *err = NULL;
    sw_stmt *stmt = NULL;
    CHECK_INT_EQ(sw_db_exec(db, "CREATE TABLE u (k TEXT PRIMARY KEY, v TEXT NOT NULL)", &err), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_INT_EQ(sw_db_prepare(db, "INSERT INTO u (k, v) VALUES (?, ?)", &stmt, &err), 0);
        sw_stmt_bind_text(stmt, 1, "same", -1, SW_DB_STATIC);
        sw_stmt_bind_text(stmt, 2, "v", -1, SW_DB_STATIC);
        CHECK_INT_EQ(sw_stmt_step(stmt), i == 0 ? SW_DB_DONE : SW_DB_CONSTRAINT);
        if (i == 1) {
            CHECK_INT_EQ(sw_db_errcode(db), SW_DB_CONSTRAINT);
            CHECK_INT_EQ(sw_db_error(db, &err, "inserting"), SW_EDB);
            CHECK(err && strstr(err->message, "inserting: ") == err->message);
            sw_error_clear(&err);
        }
        sw_stmt_finalize(stmt);
    }
    /* NOT NULL is a constraint too */
    CHECK_INT_EQ(sw_db_prepare(db, "INSERT INTO u (k, v) VALUES (?, ?)", &stmt, &err), 0);
    sw_stmt_bind_text(stmt, 1, "other", -1, SW_DB_STATIC);
    sw_stmt_bind_null(stmt, 2);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_CONSTRAINT);
    sw_stmt_finalize(stmt);
    /* a syntax error or a missing table is not */
    int rc = sw_db_prepare(db, "INSERT INTO nosuch (k) VALUES (?)", &stmt, &err);
    if (rc == 0) { /* PostgreSQL: reported when it runs */
        sw_stmt_bind_text(stmt, 1, "x", -1, SW_DB_STATIC);
        CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ERROR);
        CHECK(strstr(sw_db_errmsg(db), "nosuch") != NULL);
        sw_stmt_finalize(stmt);
    } else {
        CHECK(err && strstr(err->message, "nosuch") != NULL);
        sw_error_clear(&err);
    }
    CHECK(sw_db_errcode(db) != SW_DB_CONSTRAINT);
    /* ON CONFLICT, the idempotent way, on both */
    CHECK_INT_EQ(sw_db_exec(db,
                            "INSERT INTO u (k, v) VALUES ('same', 'w')"
                            " ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                            &err),
                 0);
    CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM u WHERE v = 'w'"), 1);
    /* the connection is still usable */
    CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM u"), 1);
    sw_db_close(db);
    free(where);
}

static void test_transactions(void)
{
    char *where = fresh_database();
    sw_db *db = open_db(where), *other = open_db(where);
    sw_error *err = NULL;
    sw_stmt *stmt = NULL;
    CHECK_INT_EQ(sw_db_begin(db, &err), 0);
    CHECK_INT_EQ(
        sw_db_exec(db, "INSERT INTO repositories (name, created_at) VALUES ('a', 1)", &err), 0);
    CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM repositories"), 1);
    sw_db_rollback(db);
    sw_db_rollback(db); /* a second rollback is harmless */
    CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM repositories"), 0);
    CHECK_INT_EQ(count(other, "SELECT COUNT(*) FROM repositories"), 0);

    /* a failed statement inside, then rollback: nothing, and usable */
    CHECK_INT_EQ(sw_db_begin(db, &err), 0);
    CHECK_INT_EQ(
        sw_db_exec(db, "INSERT INTO repositories (name, created_at) VALUES ('b', 1)", &err), 0);
    CHECK(sw_db_exec(db, "INSERT INTO repositories (name, created_at) VALUES ('b', 2)", &err) ==
          SW_EDB);
    sw_error_clear(&err);
    sw_db_rollback(db);
    CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM repositories"), 0);

    /* committed: visible to the other connection; ids from the key */
    CHECK_INT_EQ(sw_db_begin(db, &err), 0);
    int64_t ids[2];
    for (int i = 0; i < 2; i++) {
        CHECK_INT_EQ(sw_db_prepare(db, "INSERT INTO repositories (name, created_at) VALUES (?, 5)",
                                   &stmt, &err),
                     0);
        sw_stmt_bind_text(stmt, 1, i == 0 ? "c" : "d", -1, SW_DB_STATIC);
        CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE);
        sw_stmt_finalize(stmt);
        ids[i] = sw_db_last_insert_id(db);
    }
    CHECK(ids[0] > 0 && ids[1] > ids[0]);
    CHECK_INT_EQ(sw_db_commit(db, &err), 0);
    CHECK_INT_EQ(count(other, "SELECT COUNT(*) FROM repositories"), 2);
    CHECK_INT_EQ(sw_db_prepare(other, "SELECT id FROM repositories WHERE name = 'd'", &stmt, &err),
                 0);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_ROW);
    CHECK_INT_EQ(sw_stmt_column_int64(stmt, 0), ids[1]);
    sw_stmt_finalize(stmt);
    CHECK_INT_EQ(sw_db_exec(db, "UPDATE repositories SET created_at = 6", &err), 0);
    CHECK_INT_EQ(sw_db_changes(db), 2);
    CHECK_INT_EQ(sw_db_prepare(db, "DELETE FROM repositories WHERE name = ?", &stmt, &err), 0);
    sw_stmt_bind_text(stmt, 1, "c", -1, SW_DB_STATIC);
    CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE);
    CHECK_INT_EQ(sw_db_changes(db), 1);
    sw_stmt_finalize(stmt);
    sw_db_close(other);
    sw_db_close(db);
    free(where);
}

#define CLAIM_RUNS 24

struct claimer {
    const char *where;
    const char *owner;
    char claimed[CLAIM_RUNS][WRK_RUN_ID_MAX];
    int n;
    int errors;
};

static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    sw_db *db = open_db(c->where);
    for (;;) {
        struct wrk_run run;
        sw_error *err = NULL;
        int rc = wrk_jobs_claim(db, c->owner, 60, 3, &run, &err);
        if (rc == SW_ENOTFOUND)
            break;
        if (rc != 0) {
            fprintf(stderr, "claim: %s\n", sw_error_message(err));
            sw_error_clear(&err);
            c->errors++;
            break;
        }
        if (c->n < CLAIM_RUNS)
            snprintf(c->claimed[c->n], WRK_RUN_ID_MAX, "%s", run.run_id);
        c->n++;
        wrk_run_release(&run);
    }
    sw_db_close(db);
    return NULL;
}

static void test_concurrent_claim(void)
{
    char *where = fresh_database();
    sw_db *db = open_db(where);
    for (int round = 0; round < 2; round++) {
        int runs = round == 0 ? 1 : CLAIM_RUNS; /* one run, then many */
        for (int i = 0; i < runs; i++) {
            char branch[32], delivery[32], run_id[WRK_RUN_ID_MAX];
            int created = 0;
            snprintf(branch, sizeof branch, "b%d-%d", round, i);
            snprintf(delivery, sizeof delivery, "d%d-%d", round, i);
            struct wrk_run_request req = { .repo = "demo/app",
                                           .trigger = "push",
                                           .source_type = "branch",
                                           .source_ref = branch,
                                           .delivery_id = delivery,
                                           .id_prefix = "cc" };
            sw_error *err = NULL;
            CHECK_INT_EQ(wrk_jobs_enqueue(db, &req, run_id, &created, &err), 0);
            CHECK_INT_EQ(created, 1);
            sw_error_clear(&err);
        }
        struct claimer a = { .where = where, .owner = "worker-a" };
        struct claimer b = { .where = where, .owner = "worker-b" };
        pthread_t ta, tb;
        pthread_create(&ta, NULL, claim_all, &a);
        pthread_create(&tb, NULL, claim_all, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK_INT_EQ(a.errors + b.errors, 0);
        CHECK_INT_EQ(a.n + b.n, runs);
        for (int i = 0; i < a.n && i < CLAIM_RUNS; i++)
            for (int j = 0; j < b.n && j < CLAIM_RUNS; j++)
                CHECK(strcmp(a.claimed[i], b.claimed[j]) != 0);
        CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM runs WHERE status = 'running'"),
                     round == 0 ? 1 : 1 + CLAIM_RUNS);
        CHECK_INT_EQ(count(db, "SELECT MAX(attempts) FROM runs"), 1);
    }
    sw_db_close(db);
    free(where);
}

static void test_migrations_twice(void)
{
    char *where = fresh_database();
    sw_db *db = open_db(where);
    int version = -1;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_db_version(db, &version, &err), 0);
    CHECK_INT_EQ(version, sw_db_latest_version());
    int64_t rows = count(db, "SELECT COUNT(*) FROM schema_version");
    CHECK(rows >= 1);
    sw_db_close(db);
    db = open_db(where);
    CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM schema_version"), rows);
    CHECK_INT_EQ(sw_db_version(db, &version, &err), 0);
    CHECK_INT_EQ(version, sw_db_latest_version());
    /* a database from a newer slipway is refused, migrating or not */
    CHECK_INT_EQ(
        sw_db_exec(db, "INSERT INTO schema_version VALUES (9999, '9999_future.sql', 0)", &err), 0);
    sw_db_close(db);
    db = NULL;
    CHECK_INT_EQ(sw_db_open(where, 1, &db, &err), SW_EUNSUPPORTED);
    CHECK(db == NULL && err && strstr(err->message, "schema version 9999") != NULL);
    sw_error_clear(&err);
    CHECK_INT_EQ(sw_db_open(where, 0, &db, &err), SW_EUNSUPPORTED);
    sw_error_clear(&err);
    free(where);
}

static void test_concurrent_migrations(void)
{
    for (int round = 0; round < 3; round++) {
        char *where = fresh_database();
        int go[2];
        pid_t kids[3];
        CHECK_INT_EQ(pipe(go), 0);
        for (int i = 0; i < 3; i++) {
            kids[i] = fork();
            if (kids[i] == 0) {
                char byte;
                close(go[1]);
                if (read(go[0], &byte, 1) < 0) /* all start together */
                    _exit(3);
                sw_db *db = NULL;
                sw_error *err = NULL;
                if (sw_db_open(where, 1, &db, &err) != 0) {
                    fprintf(stderr, "child %d: %s\n", i, sw_error_message(err));
                    _exit(1);
                }
                sw_db_close(db);
                _exit(0);
            }
        }
        close(go[0]);
        close(go[1]); /* EOF: go */
        for (int i = 0; i < 3; i++) {
            int status = -1;
            waitpid(kids[i], &status, 0);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        sw_db *db = open_db(where);
        int version = -1;
        CHECK_INT_EQ(sw_db_version(db, &version, NULL), 0);
        CHECK_INT_EQ(version, sw_db_latest_version());
        CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM schema_version"),
                     count(db, "SELECT COUNT(DISTINCT version) FROM schema_version"));
        CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM repositories"), 0);
        sw_db_close(db);
        free(where);
    }
}

/* One notification for db within timeout_ms: 1 (channel and payload
 * copied), 0 on timeout. */
static int wait_for(sw_db *db, int timeout_ms, char *channel, char *payload)
{
    sw_error *err = NULL;
    int rc = sw_db_wait_notify(db, timeout_ms, channel, payload, &err);
    if (rc < 0)
        fprintf(stderr, "wait_notify: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    return rc;
}

struct waiter {
    sw_db *db;
    int got;
    char payload[SW_DB_PAYLOAD_MAX];
    int64_t waited_ms;
    int64_t woken_us; /* CLOCK_MONOTONIC */
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    int64_t start = now_ms();
    char channel[SW_DB_CHANNEL_MAX];
    w->got = wait_for(w->db, 20000, channel, w->payload);
    w->woken_us = now_us();
    w->waited_ms = now_ms() - start;
    return NULL;
}

static void test_notify(void)
{
    char *where = fresh_database();
    sw_db *a = open_db(where), *b = open_db(where);
    char channel[SW_DB_CHANNEL_MAX], payload[SW_DB_PAYLOAD_MAX];
    sw_error *err = NULL;

    CHECK_INT_EQ(sw_db_listen(b, "Bad-Name", &err), SW_EINVAL);
    sw_error_clear(&err);
    CHECK_INT_EQ(sw_db_notify(a, "sw_test; DROP TABLE runs", "x", &err), SW_EINVAL);
    sw_error_clear(&err);
    CHECK_INT_EQ(sw_db_listen(b, "sw_test", &err), 0);
    CHECK_INT_EQ(sw_db_listen(b, "sw_test", &err), 0); /* twice: once */

    CHECK_INT_EQ(sw_db_notify(a, "sw_test", "hello 'world'", &err), 0);
    CHECK_INT_EQ(wait_for(b, 5000, channel, payload), 1);
    CHECK_STR_EQ(channel, "sw_test");
    CHECK_STR_EQ(payload, "hello 'world'");
    CHECK_INT_EQ(wait_for(b, 100, channel, payload), 0); /* heard once */

    /* another channel is not heard */
    CHECK_INT_EQ(sw_db_notify(a, "sw_other", "x", &err), 0);
    CHECK_INT_EQ(wait_for(b, 200, channel, payload), 0);

    /* inside a transaction: at commit; after a rollback: never */
    CHECK_INT_EQ(sw_db_begin(a, &err), 0);
    CHECK_INT_EQ(sw_db_notify(a, "sw_test", "committed", &err), 0);
    CHECK_INT_EQ(wait_for(b, 200, channel, payload), 0);
    CHECK_INT_EQ(sw_db_commit(a, &err), 0);
    CHECK_INT_EQ(wait_for(b, 5000, channel, payload), 1);
    CHECK_STR_EQ(payload, "committed");
    CHECK_INT_EQ(sw_db_begin(a, &err), 0);
    CHECK_INT_EQ(sw_db_notify(a, "sw_test", "rolled back", &err), 0);
    sw_db_rollback(a);
    CHECK_INT_EQ(wait_for(b, 300, channel, payload), 0);

    /* a listener blocked in a wait on another thread is woken at once */
    struct waiter w = { .db = b };
    pthread_t t;
    pthread_create(&t, NULL, wait_main, &w);
    struct timespec pause = { 0, 200 * 1000 * 1000 };
    nanosleep(&pause, NULL);
    int64_t sent_us = now_us();
    CHECK_INT_EQ(sw_db_notify(a, "sw_test", "wake up", &err), 0);
    pthread_join(t, NULL);
    fprintf(stderr, "# notify to wake-up: %.2f ms\n", (double)(w.woken_us - sent_us) / 1000.0);
    CHECK_INT_EQ(w.got, 1);
    CHECK_STR_EQ(w.payload, "wake up");
    CHECK(w.waited_ms < 5000);
    /* a payload too long for PostgreSQL's limit here is refused */
    char big[SW_DB_PAYLOAD_MAX + 1];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_INT_EQ(sw_db_notify(a, "sw_test", big, &err), SW_EINVAL);
    sw_error_clear(&err);
    sw_db_close(a);
    sw_db_close(b);
    free(where);
}

static int64_t backend_pid(sw_db *db)
{
    return count(db, "SELECT pg_backend_pid()");
}

/* As a server restart looks to one connection: its backend ends. */
static void terminate(sw_db *admin, int64_t pid)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", (long long)pid);
    CHECK_INT_EQ(count(admin, sql), 1);
    struct timespec pause = { 0, 200 * 1000 * 1000 }; /* the goodbye reaches the socket */
    nanosleep(&pause, NULL);
}

static void test_reconnect(void)
{
    char *where = fresh_database();
    sw_db *admin = open_db(where), *db = open_db(where), *b = open_db(where);
    sw_error *err = NULL;
    char channel[SW_DB_CHANNEL_MAX], payload[SW_DB_PAYLOAD_MAX];

    /* an idle connection whose backend ended: the next statement works */
    int64_t pid = backend_pid(db);
    CHECK(pid > 0);
    terminate(admin, pid);
    CHECK_INT_EQ(count(db, "SELECT 41 + 1"), 42);
    CHECK(backend_pid(db) != pid);

    /* inside a transaction: the transaction fails until rolled back */
    CHECK_INT_EQ(sw_db_begin(db, &err), 0);
    CHECK_INT_EQ(sw_db_exec(db, "CREATE TABLE t_reconnect (x INTEGER)", &err), 0);
    terminate(admin, backend_pid(db));
    CHECK(sw_db_exec(db, "INSERT INTO t_reconnect VALUES (1)", &err) != 0);
    sw_error_clear(&err);
    CHECK(sw_db_exec(db, "INSERT INTO t_reconnect VALUES (2)", &err) != 0);
    sw_error_clear(&err);
    CHECK(sw_db_commit(db, &err) != 0);
    sw_error_clear(&err);
    sw_db_rollback(db);
    CHECK_INT_EQ(count(db, "SELECT COUNT(*) FROM pg_tables WHERE tablename = 't_reconnect'"), 0);

    /* a listener: told it may have missed some, then hears again */
    CHECK_INT_EQ(sw_db_listen(b, "sw_test", &err), 0);
    terminate(admin, backend_pid(b));
    int rc = wait_for(b, 5000, channel, payload);
    if (rc < 0) /* the break seen by the wait itself: the next one re-opens */
        rc = wait_for(b, 5000, channel, payload);
    CHECK_INT_EQ(rc, 1);
    CHECK_STR_EQ(channel, "");
    CHECK_INT_EQ(sw_db_notify(admin, "sw_test", "again", &err), 0);
    CHECK_INT_EQ(wait_for(b, 5000, channel, payload), 1);
    CHECK_STR_EQ(channel, "sw_test");
    CHECK_STR_EQ(payload, "again");
    sw_error_clear(&err);
    sw_db_close(admin);
    sw_db_close(db);
    sw_db_close(b);
    free(where);
}

/* Run logs in the database (worker/logstore.h, migration 0013): chunks at
 * byte offsets, read back from any offset with any buffer size. */
static void test_run_logs(void)
{
    char *where = fresh_database();
    sw_db *db = open_db(where);
    sw_error *err = NULL;
    uint64_t end = 99, pos;
    char buf[64];
    CHECK_INT_EQ(wrk_logstore_enabled(db), on_pg);
    CHECK_INT_EQ(wrk_logstore_end(db, "ca1", &end, &err), 0);
    CHECK_INT_EQ((int)end, 0);
    pos = 0;
    CHECK_INT_EQ((int)wrk_logstore_read(db, "ca1", &pos, buf, sizeof buf, &err), 0);
    /* bytes as they are: the mark, a NUL, UTF-8 */
    static const char a[] = "\x1e# Run ID: ca1\n", b[] = "out\0put \xe2\x90\x9e\n", c[] = "end\n";
    CHECK_INT_EQ(wrk_logstore_append(db, "ca1", 0, a, sizeof a - 1, &err), 0);
    CHECK_INT_EQ(wrk_logstore_append(db, "ca1", sizeof a - 1, b, sizeof b - 1, &err), 0);
    CHECK_INT_EQ(wrk_logstore_append(db, "ca1", sizeof a - 1 + sizeof b - 1, c, sizeof c - 1, &err),
                 0);
    CHECK_INT_EQ(wrk_logstore_append(db, "ca2", 0, "other\n", 6, &err), 0);
    /* the same offset twice: a conflict, not a second copy */
    CHECK_INT_EQ(wrk_logstore_append(db, "ca1", 0, a, sizeof a - 1, &err), SW_ECONFLICT);
    sw_error_clear(&err);
    size_t total = sizeof a - 1 + sizeof b - 1 + sizeof c - 1;
    char whole[64];
    memcpy(whole, a, sizeof a - 1);
    memcpy(whole + sizeof a - 1, b, sizeof b - 1);
    memcpy(whole + sizeof a - 1 + sizeof b - 1, c, sizeof c - 1);
    CHECK_INT_EQ(wrk_logstore_end(db, "ca1", &end, &err), 0);
    CHECK_INT_EQ((int)end, (int)total);
    /* every start offset, every buffer size: the same bytes */
    int same = 1;
    for (size_t from = 0; from <= total; from++) {
        for (size_t size = 1; size <= 20; size += 3) {
            char got[64];
            size_t n = 0;
            pos = from;
            long r;
            while ((r = wrk_logstore_read(db, "ca1", &pos, got + n, size, &err)) > 0)
                n += (size_t)r;
            if (r < 0 || pos != total || n != total - from || memcmp(got, whole + from, n) != 0)
                same = 0;
        }
    }
    CHECK(same);
    CHECK_INT_EQ(wrk_logstore_delete(db, "ca1", &err), 0);
    CHECK_INT_EQ(wrk_logstore_end(db, "ca1", &end, &err), 0);
    CHECK_INT_EQ((int)end, 0);
    pos = 0;
    CHECK_INT_EQ((int)wrk_logstore_read(db, "ca2", &pos, buf, sizeof buf, &err), 6);
    sw_error_clear(&err);
    sw_db_close(db);
    free(where);
}

static void test_bad_url(void)
{
    sw_db *db = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(
        sw_db_open("postgres://slipway:env:SW_SURELY_UNSET_VAR@127.0.0.1:1/x", 1, &db, &err),
        SW_EINVAL);
    CHECK(err && strstr(err->message, "SW_SURELY_UNSET_VAR is not set") != NULL);
    sw_error_clear(&err);
    /* nothing listens on port 1: a clear error, not a hang or a crash */
    CHECK_INT_EQ(sw_db_open("postgres://slipway@127.0.0.1:1/x?connect_timeout=5", 1, &db, &err),
                 SW_EDB);
    CHECK(err && strstr(err->message, "connecting to the PostgreSQL database") != NULL);
    CHECK(db == NULL);
    sw_error_clear(&err);
}

/* The worker list of GET /api/v1/status. A process that is gone from this
 * machine is dropped at once on SQLite (every worker of a SQLite file runs
 * here); on PostgreSQL a pid may belong to another machine, so a fresh
 * entry counts whatever this machine's process table says. */
static void test_workers_elsewhere(void)
{
    char *where = fresh_database();
    sw_db *db = open_db(where);
    sw_error *err = NULL;
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0); /* a pid nothing here runs under */
    sw_stmt *stmt = NULL;
    CHECK_INT_EQ(sw_db_prepare(db,
                               "INSERT INTO workers (name, pid, threads, started_at, last_seen)"
                               " VALUES ('worker-b', ?, 4, ?, ?)",
                               &stmt, &err),
                 0);
    sw_stmt_bind_int(stmt, 1, (int)child);
    sw_stmt_bind_int64(stmt, 2, (int64_t)time(NULL));
    sw_stmt_bind_int64(stmt, 3, (int64_t)time(NULL));
    CHECK_INT_EQ(sw_db_step_done(db, stmt, "adding a worker", &err), 0);
    int processes = -1, threads = -1;
    json_t *list = NULL;
    CHECK_INT_EQ(wrk_workers_count(db, 15, &processes, &threads, &err), 0);
    CHECK_INT_EQ(wrk_workers_list(db, 15, &list, &err), 0);
    CHECK_INT_EQ(processes, on_pg ? 1 : 0);
    CHECK_INT_EQ(threads, on_pg ? 4 : 0);
    CHECK_INT_EQ((int)json_array_size(list), on_pg ? 1 : 0);
    json_decref(list);
    sw_error_clear(&err);
    sw_db_close(db);
    free(where);
}

int main(int argc, char **argv)
{
    on_pg = argc > 1 && strcmp(argv[1], "postgres") == 0;
    if (on_pg && ((pg_url = getenv("SW_PG_URL")) == NULL || !sw_db_is_url(pg_url))) {
        fprintf(stderr, "test_db_conformance postgres: SW_PG_URL is not set (run it under "
                        "tests/lib/pg.sh run)\n");
        return 1;
    }
    fprintf(stderr, "driver: %s\n", on_pg ? "postgres" : "sqlite");
    dir = scratch_dir("db-conformance");
    RUN(test_types_round_trip);
    RUN(test_placeholders);
    RUN(test_constraint_violation);
    RUN(test_transactions);
    RUN(test_concurrent_claim);
    RUN(test_migrations_twice);
    RUN(test_concurrent_migrations);
    RUN(test_notify);
    RUN(test_run_logs);
    RUN(test_workers_elsewhere);
    if (on_pg)
        RUN(test_reconnect);
    RUN(test_bad_url);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
