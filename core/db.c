/*
 * db.c - the connection interface of core/db.h over its two drivers, and
 * the migrations runner.
 */
#include "core/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/parse.h"

/* Generated from the migrations folder by cmake/EmbedRun.cmake, sorted by
 * name: the common (SQLite) files and the PostgreSQL variants. */
typedef struct {
    const char *name;
    const unsigned char *data;
    size_t size;
} embedded_file;
extern const embedded_file sw_migrations_data[];
extern const embedded_file sw_migrations_pg_data[];

int sw_db_is_url(const char *where)
{
    return where &&
           (strncmp(where, "postgres://", 11) == 0 || strncmp(where, "postgresql://", 13) == 0);
}

enum sw_db_kind sw_db_kind_of(const sw_db *db)
{
    return db->drv->kind;
}

const char *sw_db_errmsg(sw_db *db)
{
    return db ? db->drv->errmsg(db) : "cannot open database";
}

int sw_db_errcode(sw_db *db)
{
    return db->drv->errcode(db);
}

int sw_db_error(sw_db *db, sw_error **err, const char *context)
{
    int code = db && db->drv->disk_full(db) ? SW_ENOSPACE : SW_EDB;
    return sw_error_set(err, code, "%s: %s", context, sw_db_errmsg(db));
}

int sw_db_exec_raw(sw_db *db, const char *sql, void *callback, void *arg, char **errmsg)
{
    (void)arg;
    if (errmsg)
        *errmsg = NULL;
    if (callback != NULL)
        return SW_DB_MISUSE;
    return db->drv->exec(db, sql, errmsg);
}

void sw_db_free(void *p)
{
    free(p);
}

int sw_db_exec(sw_db *db, const char *sql, sw_error **err)
{
    char *msg = NULL;
    if (db->drv->exec(db, sql, &msg) != SW_DB_OK) {
        int rc = sw_error_set(err, db->drv->disk_full(db) ? SW_ENOSPACE : SW_EDB, "database: %s",
                              msg ? msg : "error");
        free(msg);
        return rc;
    }
    return 0;
}

int sw_db_begin(sw_db *db, sw_error **err)
{
    if (db->drv->begin(db, 0) != SW_DB_OK)
        return sw_db_error(db, err, "database: beginning a transaction");
    return 0;
}

int sw_db_begin_concurrent(sw_db *db, sw_error **err)
{
    if (db->drv->begin(db, 1) != SW_DB_OK)
        return sw_db_error(db, err, "database: beginning a transaction");
    return 0;
}

int sw_db_commit(sw_db *db, sw_error **err)
{
    int rc = sw_db_exec(db, "COMMIT", err);
    if (db->drv->tx_end)
        db->drv->tx_end(db, rc == 0);
    return rc;
}

void sw_db_rollback(sw_db *db)
{
    if (db->drv->in_transaction(db))
        db->drv->exec(db, "ROLLBACK", NULL);
    if (db->drv->tx_end)
        db->drv->tx_end(db, 0);
}

/* Channel names: [a-z0-9_], not empty, shorter than SW_DB_CHANNEL_MAX (they
 * are written into LISTEN statements as identifiers). */
static int check_channel(const char *channel, sw_error **err)
{
    size_t n = channel ? strlen(channel) : 0;
    if (n == 0 || n >= SW_DB_CHANNEL_MAX)
        return sw_error_set(err, SW_EINVAL, "database: bad notification channel name");
    for (size_t i = 0; i < n; i++) {
        char c = channel[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return sw_error_set(err, SW_EINVAL, "database: bad notification channel name");
    }
    return 0;
}

int sw_db_listen(sw_db *db, const char *channel, sw_error **err)
{
    int rc = check_channel(channel, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < db->n_channels; i++)
        if (strcmp(db->channels[i], channel) == 0)
            return 0;
    void *grown = realloc(db->channels, (db->n_channels + 1) * sizeof *db->channels);
    if (grown == NULL)
        return sw_error_set(err, SW_ENOMEM, "database: out of memory");
    db->channels = grown;
    snprintf(db->channels[db->n_channels++], SW_DB_CHANNEL_MAX, "%s", channel);
    return db->drv->listen(db, channel, err);
}

int sw_db_notify(sw_db *db, const char *channel, const char *payload, sw_error **err)
{
    int rc = check_channel(channel, err);
    if (rc)
        return rc;
    if (payload == NULL)
        payload = "";
    if (strlen(payload) >= SW_DB_PAYLOAD_MAX)
        return sw_error_set(err, SW_EINVAL, "database: notification payload too long");
    return db->drv->notify(db, channel, payload, err);
}

int sw_db_wait_notify(sw_db *db, int timeout_ms, char channel[SW_DB_CHANNEL_MAX],
                      char payload[SW_DB_PAYLOAD_MAX], sw_error **err)
{
    char c[SW_DB_CHANNEL_MAX] = "", p[SW_DB_PAYLOAD_MAX] = "";
    int rc = db->drv->wait_notify(db, timeout_ms < 0 ? 0 : timeout_ms, c, p, err);
    if (channel)
        memcpy(channel, c, sizeof c);
    if (payload)
        memcpy(payload, p, sizeof p);
    return rc;
}

int sw_db_prepare_raw(sw_db *db, const char *sql, int nbytes, sw_stmt **stmt, const char **tail)
{
    return db->drv->prepare(db, sql, nbytes, stmt, tail);
}

int sw_db_prepare(sw_db *db, const char *sql, sw_stmt **stmt, sw_error **err)
{
    if (db->drv->prepare(db, sql, -1, stmt, NULL) != SW_DB_OK)
        return sw_db_error(db, err, "preparing statement");
    return 0;
}

int sw_db_changes(sw_db *db)
{
    return db->drv->changes(db);
}

int64_t sw_db_last_insert_id(sw_db *db)
{
    return db->drv->last_insert_id(db);
}

int sw_stmt_bind_text(sw_stmt *stmt, int idx, const char *text, int nbytes, sw_db_destructor d)
{
    if (text == NULL)
        return stmt->drv->bind_null(stmt, idx);
    return stmt->drv->bind_text(stmt, idx, text, nbytes, d);
}

int sw_stmt_bind_blob(sw_stmt *stmt, int idx, const void *data, int nbytes, sw_db_destructor d)
{
    if (data == NULL)
        return stmt->drv->bind_null(stmt, idx);
    return stmt->drv->bind_blob(stmt, idx, data, nbytes, d);
}

int sw_stmt_bind_int64(sw_stmt *stmt, int idx, int64_t value)
{
    return stmt->drv->bind_int64(stmt, idx, value);
}

int sw_stmt_bind_int(sw_stmt *stmt, int idx, int value)
{
    return stmt->drv->bind_int64(stmt, idx, value);
}

int sw_stmt_bind_double(sw_stmt *stmt, int idx, double value)
{
    return stmt->drv->bind_double(stmt, idx, value);
}

int sw_stmt_bind_null(sw_stmt *stmt, int idx)
{
    return stmt->drv->bind_null(stmt, idx);
}

int sw_stmt_step(sw_stmt *stmt)
{
    return stmt->drv->step(stmt);
}

int sw_stmt_reset(sw_stmt *stmt)
{
    return stmt->drv->reset(stmt);
}

int sw_stmt_finalize(sw_stmt *stmt)
{
    return stmt ? stmt->drv->finalize(stmt) : SW_DB_OK;
}

int sw_stmt_column_count(sw_stmt *stmt)
{
    return stmt->drv->column_count(stmt);
}

int sw_stmt_column_type(sw_stmt *stmt, int col)
{
    return stmt->drv->column_type(stmt, col);
}

const unsigned char *sw_stmt_column_text(sw_stmt *stmt, int col)
{
    return stmt->drv->column_text(stmt, col);
}

const void *sw_stmt_column_blob(sw_stmt *stmt, int col)
{
    return stmt->drv->column_blob(stmt, col);
}

int sw_stmt_column_bytes(sw_stmt *stmt, int col)
{
    return stmt->drv->column_bytes(stmt, col);
}

int64_t sw_stmt_column_int64(sw_stmt *stmt, int col)
{
    return stmt->drv->column_int64(stmt, col);
}

int sw_stmt_column_int(sw_stmt *stmt, int col)
{
    return (int)stmt->drv->column_int64(stmt, col);
}

double sw_stmt_column_double(sw_stmt *stmt, int col)
{
    return stmt->drv->column_double(stmt, col);
}

int sw_db_step_done(sw_db *db, sw_stmt *stmt, const char *context, sw_error **err)
{
    int rc = sw_stmt_step(stmt) == SW_DB_DONE ? 0 : sw_db_error(db, err, context);
    sw_stmt_finalize(stmt);
    return rc;
}

char *sw_db_column_dup(sw_stmt *stmt, int col)
{
    const unsigned char *text = sw_stmt_column_text(stmt, col);
    return text ? strdup((const char *)text) : NULL;
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

int sw_db_version(sw_db *db, int *version, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = 0;
    *version = 0;
    /* schema_version does not exist yet in a fresh database */
    if (!db->drv->table_exists(db, "schema_version"))
        return 0;
    if ((rc = sw_db_prepare(db, "SELECT MAX(version) FROM schema_version", &stmt, err)) != 0)
        return rc;
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW)
        *version = sw_stmt_column_int(stmt, 0);
    else if (step != SW_DB_DONE)
        rc = sw_db_error(db, err, "reading schema version");
    sw_stmt_finalize(stmt);
    return rc;
}

/* The text of a migration for db's engine: the pg/ variant of the same
 * name if there is one, else the common file. */
static const char *migration_sql(sw_db *db, const char *name, const unsigned char *common)
{
    if (db->drv->kind == SW_DB_POSTGRES) {
        for (size_t i = 0; sw_migrations_pg_data[i].name; i++) {
            const char *pg = sw_migrations_pg_data[i].name;
            const char *base = strrchr(pg, '/');
            if (strcmp(base ? base + 1 : pg, name) == 0)
                return (const char *)sw_migrations_pg_data[i].data;
        }
    }
    return (const char *)common;
}

static int migrate(sw_db *db, const char *where, sw_error **err)
{
    int rc, current = 0, locked = 0;
    sw_stmt *stmt = NULL;

    /* The lock (SQLite: the write lock of this transaction; PostgreSQL: a
     * session advisory lock, then a transaction) serialises two processes
     * starting at once: the second finds the work done. */
    if ((rc = db->drv->migrate_lock(db, err)) != 0)
        return rc;
    locked = 1;
    if (db->drv->kind == SW_DB_POSTGRES && (rc = sw_db_exec(db, "BEGIN", err)) != 0)
        goto cleanup;
    if ((rc = sw_db_exec(db,
                         "CREATE TABLE IF NOT EXISTS schema_version ("
                         " version INTEGER PRIMARY KEY,"
                         " name TEXT NOT NULL,"
                         " applied_at BIGINT NOT NULL)",
                         err)) != 0)
        goto cleanup;
    if ((rc = sw_db_version(db, &current, err)) != 0)
        goto cleanup;
    int latest = sw_db_latest_version();
    if (current > latest) {
        rc = sw_error_set(err, SW_EUNSUPPORTED,
                          "database %s has schema version %d, but this slipway knows only "
                          "up to %d: it was written by a newer slipway; upgrade slipway "
                          "or use another data directory",
                          where, current, latest);
        goto cleanup;
    }
    for (size_t i = 0; sw_migrations_data[i].name; i++) {
        const char *name = sw_migrations_data[i].name;
        int v = migration_version(name);
        if (v <= current)
            continue;
        if ((rc = sw_db_exec(db, migration_sql(db, name, sw_migrations_data[i].data), err)) != 0) {
            sw_error_prefix(err, "applying migration %s", name);
            goto cleanup;
        }
        if ((rc = sw_db_prepare(db,
                                "INSERT INTO schema_version (version, name, applied_at)"
                                " VALUES (?, ?, ?)",
                                &stmt, err)) != 0)
            goto cleanup;
        sw_stmt_bind_int(stmt, 1, v);
        sw_stmt_bind_text(stmt, 2, name, -1, SW_DB_STATIC);
        sw_stmt_bind_int64(stmt, 3, (int64_t)time(NULL));
        if (sw_stmt_step(stmt) != SW_DB_DONE) {
            rc = sw_db_error(db, err, "recording migration");
            goto cleanup;
        }
        sw_stmt_finalize(stmt);
        stmt = NULL;
    }
    rc = sw_db_commit(db, err);
cleanup:
    sw_stmt_finalize(stmt);
    if (rc != 0)
        sw_db_rollback(db);
    if (locked)
        db->drv->migrate_unlock(db);
    return rc;
}

int sw_db_open(const char *where, int do_migrate, sw_db **out, sw_error **err)
{
    sw_db *db = NULL;
    int rc = 0;
    const struct sw_db_driver *drv = sw_db_is_url(where) ? &sw_db_pg_driver : &sw_db_sqlite_driver;
    *out = NULL;
    if ((rc = drv->open(where, do_migrate, &db, err)) != 0)
        return rc;
    if (do_migrate && (rc = migrate(db, where, err)) != 0)
        goto cleanup;
    if (!do_migrate) {
        int version = 0;
        if ((rc = sw_db_version(db, &version, err)) != 0)
            goto cleanup;
        if (version > sw_db_latest_version()) {
            rc = sw_error_set(err, SW_EUNSUPPORTED,
                              "database %s has schema version %d, newer than this "
                              "slipway (%d); upgrade slipway",
                              where, version, sw_db_latest_version());
            goto cleanup;
        }
    }
    *out = db;
    db = NULL;
cleanup:
    if (db)
        db->drv->close(db);
    return rc;
}

void sw_db_close(sw_db *db)
{
    if (db) {
        free(db->channels);
        db->drv->close(db);
    }
}
