/*
 * test_db_copy.c - core/db_copy.c: an embedded installation's SQLite
 * database copied into a fresh database (a SQLite file, or with the
 * argument "postgres" the cluster of tests/lib/pg.sh run, SW_PG_URL):
 * every table and row, batches that do and do not fill up, NULLs, the
 * sequences continuing after the copy, skipped tables, a target that holds
 * data, a table or column the binary does not know, a version mismatch, a
 * failure mid-copy leaving the target empty, and a source left untouched.
 */
#include "core/db.h"
#include "core/db_copy.h"
#include "core/fs.h"
#include "core/hash.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;
static const char *pg_url;
static int sources;

static void must(int rc, sw_error **err, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", what, sw_error_message(*err));
        abort();
    }
}

/* A migrated SQLite source with some rows in every registry table and a
 * run; n_blobs blobs (to cross batch boundaries). *path is malloc'd. */
static char *make_source(int n_blobs)
{
    char name[64];
    snprintf(name, sizeof(name), "source-%d.db", ++sources);
    char *path = sw_path_join(dir, name);
    sw_db *db = NULL;
    sw_error *err = NULL;
    must(sw_db_open(path, 1, &db, &err), &err, "opening the source");
    must(
        sw_db_exec(db,
                   "INSERT INTO repositories (id, name, created_at) VALUES (3, 'demo/a', 10), "
                   "(7, 'demo/b', 11);"
                   "INSERT INTO manifests (repo_id, digest, media_type, size, artifact_type, "
                   "subject, annotations, created_at) VALUES (3, 'sha256:m1', "
                   "'application/vnd.oci.image.manifest.v1+json', 42, NULL, NULL, '{\"a\":\"é\"}', "
                   "12);"
                   "INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (3, 'latest', "
                   "'sha256:m1', 13);"
                   "INSERT INTO uploads (uuid, repo_id, started_at, updated_at) VALUES "
                   "('0123456789abcdef', 7, 1, 2);",
                   &err),
        &err, "filling the source");
    sw_stmt *stmt = NULL;
    must(sw_db_prepare(db, "INSERT INTO blobs (digest, size, created_at) VALUES (?1, ?2, ?3)",
                       &stmt, &err),
         &err, "preparing");
    for (int i = 0; i < n_blobs; i++) {
        char digest[SW_DIGEST_MAX];
        sw_sha256_digest(&i, sizeof(i), digest);
        sw_stmt_bind_text(stmt, 1, digest, -1, SW_DB_TRANSIENT);
        sw_stmt_bind_int64(stmt, 2, (int64_t)i * 1000 + 5000000000LL);
        sw_stmt_bind_int64(stmt, 3, i);
        CHECK_INT_EQ(sw_stmt_step(stmt), SW_DB_DONE);
        sw_stmt_reset(stmt);
    }
    sw_stmt_finalize(stmt);
    /* runs have about thirty columns: a batch of them is cut to what one
     * statement may bind */
    must(sw_db_exec(db,
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) "
                    "INSERT INTO runs (id, run_id, repo, trigger, source_type, source_ref, status, "
                    "queued_at, error) SELECT i, 'r' || i, 'demo/a', 'push', 'branch', 'main', "
                    "'failed', i, 'line one' || char(10) || 'it''s two' FROM n",
                    &err),
         &err, "adding runs");
    sw_db_close(db);
    return path;
}

/* A fresh, migrated target: a new file, or the PostgreSQL database with its
 * schema dropped and made again. */
static sw_db *fresh_target(void)
{
    static int targets;
    sw_db *db = NULL;
    sw_error *err = NULL;
    char *where = NULL;
    if (pg_url) {
        must(sw_db_open(pg_url, 0, &db, &err), &err, "opening the cluster");
        must(sw_db_exec(db,
                        "SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
                        "CREATE SCHEMA public",
                        &err),
             &err, "emptying the target");
        sw_db_close(db);
        db = NULL;
        where = strdup(pg_url);
    } else {
        char name[64];
        snprintf(name, sizeof(name), "target-%d.db", ++targets);
        where = sw_path_join(dir, name);
    }
    must(sw_db_open(where, 1, &db, &err), &err, "opening the target");
    free(where);
    return db;
}

static int64_t count(sw_db *db, const char *sql)
{
    sw_stmt *stmt = NULL;
    sw_error *err = NULL;
    int64_t n = -1;
    must(sw_db_prepare(db, sql, &stmt, &err), &err, sql);
    if (sw_stmt_step(stmt) == SW_DB_ROW)
        n = sw_stmt_column_int64(stmt, 0);
    sw_stmt_finalize(stmt);
    return n;
}

static const char *const skip[] = { "uploads", "sessions", NULL };

static int progress_calls;
static void progress(void *ctx, const char *table, int64_t done, int64_t total)
{
    (void)ctx;
    (void)table;
    CHECK(done > 0 && done <= total);
    progress_calls++;
}

static int copy(const char *source, sw_db *target, int batch, struct sw_db_copy_result *result,
                sw_error **err)
{
    sw_db_source *src = NULL;
    struct sw_db_copy_options opts = { .skip = skip, .batch_rows = batch, .progress = progress };
    int rc = sw_db_source_open(source, &src, err);
    if (rc == 0)
        rc = sw_db_copy(src, target, &opts, result, err);
    sw_db_source_close(src);
    return rc;
}

static const struct sw_db_copy_table *result_table(const struct sw_db_copy_result *r,
                                                   const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->tables[i].name, name) == 0)
            return &r->tables[i];
    return NULL;
}

static void test_copies_every_row(void)
{
    char *source = make_source(205);
    sw_db *target = fresh_target();
    struct sw_db_copy_result result;
    sw_error *err = NULL;
    progress_calls = 0;
    CHECK_INT_EQ(copy(source, target, 100, &result, &err), 0);
    if (err)
        fprintf(stderr, "copy: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    CHECK_INT_EQ(count(target, "SELECT COUNT(*) FROM blobs"), 205);
    CHECK_INT_EQ(count(target, "SELECT COUNT(*) FROM repositories"), 2);
    CHECK_INT_EQ(count(target, "SELECT COUNT(*) FROM tags"), 1);
    CHECK_INT_EQ(count(target, "SELECT COUNT(*) FROM uploads"), 0); /* skipped */
    /* 205 blobs in batches of 100: 100, 200, 205 */
    CHECK(progress_calls >= 3 + 3);
    CHECK_INT_EQ(result.rows, 205 + 2 + 1 + 1 + 60);
    CHECK_INT_EQ(count(target, "SELECT COUNT(*) FROM runs WHERE error = 'line one\nit''s two'"),
                 60);
    const struct sw_db_copy_table *blobs = result_table(&result, "blobs");
    CHECK(blobs && blobs->source_rows == 205 && blobs->target_rows == 205 && !blobs->skipped);
    const struct sw_db_copy_table *uploads = result_table(&result, "uploads");
    CHECK(uploads && uploads->source_rows == 1 && uploads->skipped &&
          strcmp(uploads->skipped, "sessions") == 0);
    CHECK(result_table(&result, "schema_version") == NULL);
    /* parents before children */
    size_t repos_at = 0, tags_at = 0, manifests_at = 0;
    for (size_t i = 0; i < result.n; i++) {
        if (strcmp(result.tables[i].name, "repositories") == 0)
            repos_at = i;
        if (strcmp(result.tables[i].name, "manifests") == 0)
            manifests_at = i;
        if (strcmp(result.tables[i].name, "tags") == 0)
            tags_at = i;
    }
    CHECK(repos_at < manifests_at && manifests_at < tags_at);
    sw_db_copy_result_free(&result);

    /* values: large integers, NULLs and UTF-8 text arrive as they were */
    CHECK_INT_EQ(count(target, "SELECT MAX(size) FROM blobs"), 204 * 1000 + 5000000000LL);
    CHECK_INT_EQ(count(target, "SELECT COUNT(*) FROM manifests WHERE subject IS NULL AND "
                               "annotations = '{\"a\":\"é\"}' AND size = 42"),
                 1);
    /* ids kept, and a new row gets the next one (PostgreSQL: the identity
     * sequence was moved past 7) */
    CHECK_INT_EQ(count(target, "SELECT id FROM repositories WHERE name = 'demo/b'"), 7);
    sw_error *ins_err = NULL;
    CHECK_INT_EQ(sw_db_exec(target,
                            "INSERT INTO repositories (name, created_at) VALUES ('demo/c', 20)",
                            &ins_err),
                 0);
    sw_error_clear(&ins_err);
    CHECK_INT_EQ(count(target, "SELECT id FROM repositories WHERE name = 'demo/c'"), 8);
    sw_db_close(target);
    free(source);
}

static void test_refuses_a_target_with_rows(void)
{
    char *source = make_source(3);
    sw_db *target = fresh_target();
    struct sw_db_copy_result result;
    sw_error *err = NULL;
    CHECK_INT_EQ(copy(source, target, 0, &result, &err), 0);
    sw_db_copy_result_free(&result);
    CHECK_INT_EQ(copy(source, target, 0, &result, &err), SW_EEXIST);
    CHECK(err && strstr(err->message, "already holds data") != NULL);
    sw_error_clear(&err);
    sw_db_copy_result_free(&result);
    CHECK_INT_EQ(count(target, "SELECT COUNT(*) FROM blobs"), 3);
    sw_db_close(target);
    free(source);
}

/* Runs sql on a source file, with foreign keys off (to make it damaged). */
static void alter_source(const char *path, const char *sql)
{
    sw_db *db = NULL;
    sw_error *err = NULL;
    must(sw_db_open(path, 0, &db, &err), &err, "opening the source");
    must(sw_db_exec(db, "PRAGMA foreign_keys=OFF", &err), &err, "foreign keys off");
    must(sw_db_exec(db, sql, &err), &err, sql);
    sw_db_close(db);
}

static void expect_refused(const char *source, int code, const char *message)
{
    sw_db *target = fresh_target();
    struct sw_db_copy_result result;
    sw_error *err = NULL;
    CHECK_INT_EQ(copy(source, target, 0, &result, &err), code);
    CHECK(err && strstr(err->message, message) != NULL);
    if (err && strstr(err->message, message) == NULL)
        fprintf(stderr, "  message: %s\n", err->message);
    sw_error_clear(&err);
    sw_db_copy_result_free(&result);
    /* nothing landed */
    CHECK_INT_EQ(count(target, "SELECT COUNT(*) FROM repositories"), 0);
    CHECK_INT_EQ(count(target, "SELECT COUNT(*) FROM blobs"), 0);
    sw_db_close(target);
}

/* A fresh source changed by sql is refused with code and message. */
static void refused_after(const char *sql, int code, const char *message)
{
    char *source = make_source(2);
    alter_source(source, sql);
    expect_refused(source, code, message);
    free(source);
}

static void test_refuses_what_the_binary_does_not_know(void)
{
    refused_after("CREATE TABLE extra (x INTEGER)", SW_EUNSUPPORTED,
                  "table \"extra\" this binary's schema does not know");
    refused_after("ALTER TABLE tags ADD COLUMN color TEXT", SW_EUNSUPPORTED, "column \"color\"");
    refused_after("DELETE FROM schema_version WHERE version = (SELECT MAX(version) FROM "
                  "schema_version)",
                  SW_EUNSUPPORTED, "schema version");
}

static void test_failure_mid_copy_leaves_the_target_empty(void)
{
    /* a tag whose manifest is gone (SQLite did not enforce it): the
     * target's foreign key refuses it after the other tables went in */
    refused_after("INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (7, 'x', "
                  "'sha256:missing', 1)",
                  SW_EDB, "copying tags");
}

static void test_source_untouched(void)
{
    char *source = make_source(10);
    char before[SW_DIGEST_MAX], after[SW_DIGEST_MAX];
    char *shm = NULL;
    CHECK(asprintf(&shm, "%s-shm", source) > 0);
    CHECK_INT_EQ(sw_hash_file(source, SW_HASH_SHA256, before, NULL), 0);
    CHECK(!sw_path_exists(shm));
    sw_db *target = fresh_target();
    struct sw_db_copy_result result;
    sw_error *err = NULL;
    CHECK_INT_EQ(copy(source, target, 3, &result, &err), 0);
    sw_db_copy_result_free(&result);
    CHECK_INT_EQ(sw_hash_file(source, SW_HASH_SHA256, after, NULL), 0);
    CHECK_STR_EQ(after, before);
    CHECK(!sw_path_exists(shm)); /* opened immutable: no -shm, no lock */
    sw_db_close(target);

    /* a missing source is a clear error */
    sw_db_source *src = NULL;
    CHECK_INT_EQ(sw_db_source_open("/nonexistent/slipway.db", &src, &err), SW_ENOTFOUND);
    CHECK(src == NULL);
    sw_error_clear(&err);
    free(shm);
    free(source);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "postgres") == 0 &&
        ((pg_url = getenv("SW_PG_URL")) == NULL || !sw_db_is_url(pg_url))) {
        fprintf(stderr, "test_db_copy postgres: run it under tests/lib/pg.sh run\n");
        return 1;
    }
    fprintf(stderr, "target: %s\n", pg_url ? "postgres" : "sqlite");
    dir = scratch_dir("db-copy");
    RUN(test_copies_every_row);
    RUN(test_refuses_a_target_with_rows);
    RUN(test_refuses_what_the_binary_does_not_know);
    RUN(test_failure_mid_copy_leaves_the_target_empty);
    RUN(test_source_untouched);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
