/*
 * db_copy.c - copying an embedded installation's SQLite database into
 * another database (core/db_copy.h). The source side talks to SQLite
 * directly (read-only, immutable when it can be) because core/db.h opens
 * databases for writing; the target side goes through core/db.h, so the
 * same code fills PostgreSQL or SQLite.
 */
#include "core/db_copy.h"

#include <sqlite3.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/strbuf.h"

/* Parameters per INSERT: the PostgreSQL driver numbers at most 999 (as
 * SQLite builds before 3.32 did). */
#define MAX_PARAMS 999
#define DEFAULT_BATCH 200

struct sw_db_source {
    sqlite3 *h;
    char *path;
};

struct column {
    char *name;
    int is_serial; /* PostgreSQL: an identity column or one with nextval() */
};

struct table {
    char *name;
    struct column *cols; /* the source's columns */
    size_t ncols;
    char **parents; /* tables its foreign keys reference */
    size_t nparents;
    const char *skipped;
    int placed;
};

static int src_error(sw_db_source *src, sw_error **err, const char *context)
{
    return sw_error_set(err, SW_EDB, "%s: %s: %s", src->path, context, sqlite3_errmsg(src->h));
}

/* A URI for path: file: with everything but [A-Za-z0-9/._-] percent-encoded. */
static char *file_uri(const char *path, const char *query)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_puts(&sb, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (isalnum(*p) || strchr("/._-", *p))
            sw_strbuf_putc(&sb, (char)*p);
        else
            sw_strbuf_printf(&sb, "%%%02X", *p);
    }
    sw_strbuf_puts(&sb, query);
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return NULL;
    }
    return sw_strbuf_detach(&sb);
}

int sw_db_source_open(const char *path, sw_db_source **out, sw_error **err)
{
    struct stat st;
    char *wal = NULL, *uri = NULL;
    int rc = 0;
    sw_db_source *src = NULL;
    *out = NULL;
    if (stat(path, &st) != 0)
        return sw_error_sys(err, errno == ENOENT ? SW_ENOTFOUND : SW_EIO, errno, "%s", path);
    if ((src = calloc(1, sizeof(*src))) == NULL || (src->path = strdup(path)) == NULL ||
        asprintf(&wal, "%s-wal", path) < 0) {
        wal = NULL;
        rc = sw_error_oom(err);
        goto cleanup;
    }
    /* Without a WAL (or with an empty one) the main file holds every
     * committed row: immutable reads it without locks or a -shm file.
     * With one, a reader must go through the WAL index as usual. */
    int has_wal = stat(wal, &st) == 0 && st.st_size > 0;
    if ((uri = file_uri(path, has_wal ? "?mode=ro" : "?immutable=1")) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (sqlite3_open_v2(uri, &src->h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = src->h ? src_error(src, err, "opening read-only") : sw_error_oom(err);
        goto cleanup;
    }
    sqlite3_busy_timeout(src->h, 10000);
    /* one read transaction for everything: the first SELECT fixes the
     * snapshot every later read sees */
    if (sqlite3_exec(src->h, "BEGIN; SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) !=
        SQLITE_OK) {
        rc = src_error(src, err, "starting a read transaction");
        goto cleanup;
    }
    *out = src;
    src = NULL;
cleanup:
    sw_db_source_close(src);
    free(wal);
    free(uri);
    return rc;
}

void sw_db_source_close(sw_db_source *src)
{
    if (src == NULL)
        return;
    if (src->h) {
        sqlite3_exec(src->h, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(src->h);
    }
    free(src->path);
    free(src);
}

int sw_db_source_each(sw_db_source *src, const char *sql, sw_db_source_row_fn fn, void *ctx,
                      sw_error **err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = 0, step;
    if (sqlite3_prepare_v2(src->h, sql, -1, &stmt, NULL) != SQLITE_OK)
        return src_error(src, err, sql);
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if ((rc = fn((const char *)sqlite3_column_text(stmt, 0), ctx, err)) != 0)
            goto cleanup;
    }
    if (step != SQLITE_DONE)
        rc = src_error(src, err, sql);
cleanup:
    sqlite3_finalize(stmt);
    return rc;
}

static int keep_int(const char *value, void *ctx, sw_error **err)
{
    (void)err;
    *(int64_t *)ctx = value ? strtoll(value, NULL, 10) : 0;
    return 0;
}

int sw_db_source_version(sw_db_source *src, int *version, sw_error **err)
{
    int64_t v = 0;
    int rc = sw_db_source_each(src, "SELECT MAX(version) FROM schema_version", keep_int, &v, err);
    if (rc != 0)
        sw_error_prefix(err, "reading the source's schema version");
    *version = (int)v;
    return rc;
}

/* Table and column names come from the source's schema: they are quoted in
 * the SQL we build, and anything but a plain identifier is refused. */
static int check_name(const char *what, const char *name, sw_error **err)
{
    if (name == NULL || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        goto bad;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            goto bad;
    return 0;
bad:
    return sw_error_set(err, SW_EINVAL, "the source has a %s named \"%s\": not a plain name", what,
                        name ? name : "(null)");
}

struct name_list {
    char **v;
    size_t n;
    const char *what;
};

static int add_name(const char *value, void *ctx, sw_error **err)
{
    struct name_list *list = ctx;
    int rc = check_name(list->what, value, err);
    if (rc != 0)
        return rc;
    char **grown = realloc(list->v, (list->n + 1) * sizeof(*grown));
    if (grown == NULL)
        return sw_error_oom(err);
    list->v = grown;
    if ((list->v[list->n] = strdup(value)) == NULL)
        return sw_error_oom(err);
    list->n++;
    return 0;
}

static void free_tables(struct table *tables, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(tables[i].name);
        for (size_t c = 0; c < tables[i].ncols; c++)
            free(tables[i].cols[c].name);
        free(tables[i].cols);
        sw_strv_free_n(tables[i].parents, tables[i].nparents);
    }
    free(tables);
}

/* SQL built around a table name that check_name accepted: before, the
 * name, after (malloc'd, NULL when out of memory). */
static char *around(const char *before, const char *table, const char *after)
{
    char *sql = NULL;
    return asprintf(&sql, "%s%s%s", before, table, after) < 0 ? NULL : sql;
}

static int pragma_names(sw_db_source *src, const char *before, const char *table, const char *after,
                        const char *what, struct name_list *out, sw_error **err)
{
    char *sql = around(before, table, after);
    if (sql == NULL)
        return sw_error_oom(err);
    out->what = what;
    int rc = sw_db_source_each(src, sql, add_name, out, err);
    free(sql);
    return rc;
}

/* The source's tables (but schema_version, which the target's migrations
 * fill), with their columns and the tables their foreign keys name. */
static int read_source_schema(sw_db_source *src, struct table **out, size_t *nout, sw_error **err)
{
    struct name_list names = { 0 };
    struct table *tables = NULL;
    size_t n = 0;
    int rc = 0;
    names.what = "table";
    if ((rc = sw_db_source_each(src,
                                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                                "LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'schema_version' "
                                "ORDER BY name",
                                add_name, &names, err)) != 0)
        goto cleanup;
    if ((tables = calloc(names.n ? names.n : 1, sizeof(*tables))) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    for (; n < names.n; n++) {
        struct table *t = &tables[n];
        struct name_list cols = { 0 }, parents = { 0 };
        t->name = names.v[n];
        names.v[n] = NULL;
        rc = pragma_names(src, "SELECT name FROM pragma_table_info('", t->name, "') ORDER BY cid",
                          "column", &cols, err);
        if (rc == 0)
            rc = pragma_names(src, "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list('",
                              t->name, "') ORDER BY 1", "referenced table", &parents, err);
        t->parents = parents.v;
        t->nparents = parents.n;
        if (rc == 0 && (t->cols = calloc(cols.n ? cols.n : 1, sizeof(*t->cols))) == NULL)
            rc = sw_error_oom(err);
        for (size_t c = 0; rc == 0 && c < cols.n; c++) {
            t->cols[c].name = cols.v[c];
            cols.v[c] = NULL;
        }
        t->ncols = rc == 0 ? cols.n : 0;
        sw_strv_free_n(cols.v, cols.n);
        if (rc != 0) {
            n++;
            goto cleanup;
        }
    }
    *out = tables;
    *nout = n;
    tables = NULL;
cleanup:
    sw_strv_free_n(names.v, names.n);
    if (tables)
        free_tables(tables, n);
    return rc;
}

/* Orders tables so that every table comes after the tables it references
 * (a reference to itself does not count); SW_EINVAL on a cycle. */
static int order_tables(struct table *tables, size_t n, struct table **ordered, sw_error **err)
{
    for (size_t placed = 0; placed < n;) {
        size_t before = placed;
        for (size_t i = 0; i < n; i++) {
            struct table *t = &tables[i];
            int ready = !t->placed;
            for (size_t p = 0; ready && p < t->nparents; p++) {
                if (strcmp(t->parents[p], t->name) == 0)
                    continue;
                for (size_t j = 0; j < n; j++)
                    if (!tables[j].placed && strcmp(tables[j].name, t->parents[p]) == 0)
                        ready = 0;
            }
            if (ready) {
                t->placed = 1;
                ordered[placed++] = t;
            }
        }
        if (placed == before)
            return sw_error_set(err, SW_EINVAL,
                                "the source's foreign keys form a cycle: no order to copy in");
    }
    return 0;
}

/* The target's columns of table (none: the target does not know it);
 * on PostgreSQL, which ones draw from a sequence. */
static int target_columns(sw_db *target, const char *table, struct name_list *names, int **serial,
                          sw_error **err)
{
    int is_pg = sw_db_kind_of(target) == SW_DB_POSTGRES;
    const char *sql =
        is_pg ? "SELECT column_name, CASE WHEN is_identity = 'YES' OR column_default LIKE "
                "'nextval(%' THEN 1 ELSE 0 END FROM information_schema.columns WHERE "
                "table_schema = current_schema() AND table_name = ?"
              : "SELECT name, 0 FROM pragma_table_info(?)";
    sw_stmt *stmt = NULL;
    int rc, step;
    names->what = "target column";
    *serial = NULL;
    if ((rc = sw_db_prepare(target, sql, &stmt, err)) != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, table, -1, SW_DB_TRANSIENT);
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        if ((rc = add_name((const char *)sw_stmt_column_text(stmt, 0), names, err)) != 0)
            goto cleanup;
        int *grown = realloc(*serial, names->n * sizeof(**serial));
        if (grown == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        *serial = grown;
        (*serial)[names->n - 1] = sw_stmt_column_int(stmt, 1);
    }
    if (step != SW_DB_DONE)
        rc = sw_db_error(target, err, "reading the target's columns");
cleanup:
    sw_stmt_finalize(stmt);
    return rc;
}

/* Every source column must exist in the target's table of that name. */
static int match_target(sw_db *target, struct table *t, sw_error **err)
{
    struct name_list names = { 0 };
    int *serial = NULL;
    int rc = target_columns(target, t->name, &names, &serial, err);
    if (rc != 0)
        goto cleanup;
    if (names.n == 0) {
        rc = sw_error_set(err, SW_EUNSUPPORTED,
                          "the source has a table \"%s\" this binary's schema does not know",
                          t->name);
        goto cleanup;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        size_t i = 0;
        while (i < names.n && strcmp(names.v[i], t->cols[c].name) != 0)
            i++;
        if (i == names.n) {
            rc = sw_error_set(err, SW_EUNSUPPORTED,
                              "the source's table %s has a column \"%s\" this binary's schema "
                              "does not know",
                              t->name, t->cols[c].name);
            goto cleanup;
        }
        t->cols[c].is_serial = serial[i];
    }
cleanup:
    sw_strv_free_n(names.v, names.n);
    free(serial);
    return rc;
}

/* Runs a one-row, one-integer query on the target. */
static int target_int(sw_db *target, const char *sql, int64_t *value, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(target, sql, &stmt, err);
    if (rc != 0)
        return rc;
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW)
        *value = sw_stmt_column_int64(stmt, 0);
    else if (step == SW_DB_DONE)
        *value = 0;
    else
        rc = sw_db_error(target, err, sql);
    sw_stmt_finalize(stmt);
    return rc;
}

static int source_count(sw_db_source *src, const char *table, int64_t *value, sw_error **err)
{
    char *sql = around("SELECT COUNT(*) FROM \"", table, "\"");
    if (sql == NULL)
        return sw_error_oom(err);
    int rc = sw_db_source_each(src, sql, keep_int, value, err);
    free(sql);
    return rc;
}

static int target_table_int(sw_db *target, const char *before, const char *table, const char *after,
                            int64_t *value, sw_error **err)
{
    char *sql = around(before, table, after);
    if (sql == NULL)
        return sw_error_oom(err);
    int rc = target_int(target, sql, value, err);
    free(sql);
    return rc;
}

/* INSERT INTO "t" ("a", "b") VALUES (?, ?), (?, ?) ... for rows rows. */
static char *insert_sql(const struct table *t, int rows)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_printf(&sb, "INSERT INTO \"%s\" (", t->name);
    for (size_t c = 0; c < t->ncols; c++)
        sw_strbuf_printf(&sb, "%s\"%s\"", c ? ", " : "", t->cols[c].name);
    sw_strbuf_puts(&sb, ") VALUES ");
    for (int r = 0; r < rows; r++) {
        sw_strbuf_puts(&sb, r ? ", (" : "(");
        for (size_t c = 0; c < t->ncols; c++)
            sw_strbuf_puts(&sb, c ? ", ?" : "?");
        sw_strbuf_putc(&sb, ')');
    }
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return NULL;
    }
    return sw_strbuf_detach(&sb);
}

/* Binds column c of the source's current row to parameter idx. On
 * PostgreSQL an integer goes as untyped text, so the server reads it as
 * whatever the column is (BIGINT, TEXT), as SQLite's affinity did. */
static int bind_value(sqlite3_stmt *row, int c, sw_stmt *stmt, int idx, int is_pg)
{
    switch (sqlite3_column_type(row, c)) {
    case SQLITE_NULL:
        return sw_stmt_bind_null(stmt, idx);
    case SQLITE_INTEGER:
        if (is_pg) {
            char text[32];
            int len = snprintf(text, sizeof(text), "%lld", (long long)sqlite3_column_int64(row, c));
            return sw_stmt_bind_text(stmt, idx, text, len, SW_DB_TRANSIENT);
        }
        return sw_stmt_bind_int64(stmt, idx, sqlite3_column_int64(row, c));
    case SQLITE_FLOAT:
        return sw_stmt_bind_double(stmt, idx, sqlite3_column_double(row, c));
    case SQLITE_BLOB:
        return sw_stmt_bind_blob(stmt, idx, sqlite3_column_blob(row, c),
                                 sqlite3_column_bytes(row, c), SW_DB_TRANSIENT);
    default:
        return sw_stmt_bind_text(stmt, idx, (const char *)sqlite3_column_text(row, c),
                                 sqlite3_column_bytes(row, c), SW_DB_TRANSIENT);
    }
}

static int copy_rows(sw_db_source *src, sw_db *target, const struct table *t, int64_t total,
                     int batch, const struct sw_db_copy_options *opts, sw_error **err)
{
    sqlite3_stmt *row = NULL;
    sw_stmt *full = NULL, *tail = NULL;
    char *sql = NULL;
    int rc = 0, step, is_pg = sw_db_kind_of(target) == SW_DB_POSTGRES;
    int64_t done = 0, bound = 0;
    int64_t tail_start = total - total % batch;
    sw_strbuf sb = SW_STRBUF_INIT;

    if (total == 0)
        return 0;
    sw_strbuf_puts(&sb, "SELECT ");
    for (size_t c = 0; c < t->ncols; c++)
        sw_strbuf_printf(&sb, "%s\"%s\"", c ? ", " : "", t->cols[c].name);
    /* rowid order is insertion order: a row referencing its own table
     * (none today) would find its parent copied first */
    sw_strbuf_printf(&sb, " FROM \"%s\" ORDER BY rowid", t->name);
    if (sb.failed) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (sqlite3_prepare_v2(src->h, sb.data, -1, &row, NULL) != SQLITE_OK) {
        rc = src_error(src, err, sb.data);
        goto cleanup;
    }
    if (tail_start > 0) {
        if ((sql = insert_sql(t, batch)) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        if ((rc = sw_db_prepare(target, sql, &full, err)) != 0)
            goto cleanup;
        free(sql);
        sql = NULL;
    }
    if (total > tail_start) {
        if ((sql = insert_sql(t, (int)(total - tail_start))) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        if ((rc = sw_db_prepare(target, sql, &tail, err)) != 0)
            goto cleanup;
    }
    while ((step = sqlite3_step(row)) == SQLITE_ROW) {
        if (done + bound >= total) {
            rc = sw_error_set(err, SW_ECONFLICT, "%s: more rows than counted", t->name);
            goto cleanup;
        }
        sw_stmt *stmt = done < tail_start ? full : tail;
        for (size_t c = 0; c < t->ncols; c++) {
            if (bind_value(row, (int)c, stmt, (int)(bound * (int64_t)t->ncols + (int64_t)c + 1),
                           is_pg) != SW_DB_OK) {
                rc = sw_db_error(target, err, "binding a value");
                goto cleanup;
            }
        }
        bound++;
        if (bound == (stmt == full ? batch : total - tail_start)) {
            if (sw_stmt_step(stmt) != SW_DB_DONE) {
                rc = sw_db_error(target, err, "inserting rows");
                sw_error_prefix(err, "copying %s (rows %lld-%lld)", t->name, (long long)done + 1,
                                (long long)(done + bound));
                goto cleanup;
            }
            sw_stmt_reset(stmt);
            done += bound;
            bound = 0;
            if (opts->progress)
                opts->progress(opts->ctx, t->name, done, total);
        }
    }
    if (step != SQLITE_DONE) {
        rc = src_error(src, err, sb.data);
        goto cleanup;
    }
    if (done != total)
        rc = sw_error_set(err, SW_ECONFLICT, "%s: %lld rows read, %lld counted", t->name,
                          (long long)(done + bound), (long long)total);
cleanup:
    sqlite3_finalize(row);
    sw_stmt_finalize(full);
    sw_stmt_finalize(tail);
    free(sql);
    sw_strbuf_free(&sb);
    return rc;
}

/* PostgreSQL: identity and serial columns continue after the largest id
 * copied, or a new row would collide with a copied one. */
static int reset_sequences(sw_db *target, const struct table *t, int *count, sw_error **err)
{
    for (size_t c = 0; c < t->ncols; c++) {
        if (!t->cols[c].is_serial)
            continue;
        char *sql = NULL;
        int64_t ignored;
        if (asprintf(&sql,
                     "SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'), COALESCE((SELECT "
                     "MAX(\"%s\") FROM \"%s\"), 0) + 1, false)",
                     t->name, t->cols[c].name, t->cols[c].name, t->name) < 0)
            return sw_error_oom(err);
        int rc = target_int(target, sql, &ignored, err);
        free(sql);
        if (rc != 0) {
            sw_error_prefix(err, "resetting the sequence of %s.%s", t->name, t->cols[c].name);
            return rc;
        }
        (*count)++;
    }
    return 0;
}

static const char *skip_reason(const struct sw_db_copy_options *opts, const char *table)
{
    for (const char *const *s = opts->skip; s && s[0] && s[1]; s += 2)
        if (strcmp(s[0], table) == 0)
            return s[1];
    return NULL;
}

/* What a copy will do: the source's tables in dependency order, matched
 * with the target's schema, every table to be copied empty on the target.
 * *tables_out and *ordered_out are freed by the caller (also on failure). */
static int plan(sw_db_source *src, sw_db *target, const struct sw_db_copy_options *opts,
                struct table **tables_out, size_t *n_out, struct table ***ordered_out,
                sw_error **err)
{
    struct table *tables = NULL, **ordered = NULL;
    size_t n = 0;
    int rc, source_version = 0, target_version = 0;

    if ((rc = sw_db_source_version(src, &source_version, err)) != 0 ||
        (rc = sw_db_version(target, &target_version, err)) != 0)
        goto cleanup;
    if (source_version != target_version) {
        rc = sw_error_set(err, SW_EUNSUPPORTED,
                          "the source database is at schema version %d, the target at %d: %s",
                          source_version, target_version,
                          source_version < target_version
                              ? "open the source once with this binary (`slipway fsck --config "
                                "OLD`) to bring it up to date, then migrate"
                              : "the source is newer than this binary");
        goto cleanup;
    }
    if ((rc = read_source_schema(src, &tables, &n, err)) != 0)
        goto cleanup;
    if ((ordered = calloc(n ? n : 1, sizeof(*ordered))) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = order_tables(tables, n, ordered, err)) != 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        struct table *t = ordered[i];
        int64_t has_rows = 0;
        t->skipped = skip_reason(opts, t->name);
        if ((rc = match_target(target, t, err)) != 0)
            goto cleanup;
        if (t->skipped)
            continue;
        if ((rc = target_table_int(target, "SELECT 1 FROM \"", t->name, "\" LIMIT 1", &has_rows,
                                   err)) != 0)
            goto cleanup;
        if (has_rows) {
            rc = sw_error_set(err, SW_EEXIST,
                              "the target database already holds data (table %s has rows): "
                              "migrate into an empty database",
                              t->name);
            goto cleanup;
        }
    }
cleanup:
    *tables_out = tables;
    *n_out = n;
    *ordered_out = ordered;
    return rc;
}

int sw_db_copy_check(sw_db_source *src, sw_db *target, const struct sw_db_copy_options *opts,
                     sw_error **err)
{
    struct table *tables = NULL, **ordered = NULL;
    size_t n = 0;
    int rc = plan(src, target, opts, &tables, &n, &ordered, err);
    if (tables)
        free_tables(tables, n);
    free(ordered);
    return rc;
}

int sw_db_copy(sw_db_source *src, sw_db *target, const struct sw_db_copy_options *opts,
               struct sw_db_copy_result *result, sw_error **err)
{
    struct table *tables = NULL, **ordered = NULL;
    size_t n = 0;
    int rc, in_txn = 0;
    memset(result, 0, sizeof(*result));

    /* the checks run inside the transaction, under the write lock: the
     * target is still empty when the rows go in */
    if ((rc = sw_db_begin(target, err)) != 0)
        goto cleanup;
    in_txn = 1;
    if ((rc = plan(src, target, opts, &tables, &n, &ordered, err)) != 0)
        goto cleanup;
    if ((result->tables = calloc(n ? n : 1, sizeof(*result->tables))) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }

    int batch = opts->batch_rows > 0 ? opts->batch_rows : DEFAULT_BATCH;
    for (size_t i = 0; i < n; i++) {
        struct table *t = ordered[i];
        struct sw_db_copy_table *out = &result->tables[result->n];
        if ((out->name = strdup(t->name)) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        result->n++;
        out->skipped = t->skipped;
        if ((rc = source_count(src, t->name, &out->source_rows, err)) != 0)
            goto cleanup;
        if (t->skipped)
            continue;
        int table_batch = batch;
        if (t->ncols > 0 && (size_t)table_batch * t->ncols > MAX_PARAMS)
            table_batch = (int)(MAX_PARAMS / t->ncols);
        if (t->ncols == 0 || table_batch < 1)
            table_batch = 1;
        if ((rc = copy_rows(src, target, t, out->source_rows, table_batch, opts, err)) != 0)
            goto cleanup;
        if ((rc = target_table_int(target, "SELECT COUNT(*) FROM \"", t->name, "\"",
                                   &out->target_rows, err)) != 0)
            goto cleanup;
        result->rows += out->target_rows;
        if (out->target_rows != out->source_rows) {
            rc = sw_error_set(err, SW_ECONFLICT, "%s: %lld rows in the source, %lld in the target",
                              t->name, (long long)out->source_rows, (long long)out->target_rows);
            goto cleanup;
        }
        if (sw_db_kind_of(target) == SW_DB_POSTGRES &&
            (rc = reset_sequences(target, t, &result->sequences_reset, err)) != 0)
            goto cleanup;
    }
    rc = sw_db_commit(target, err);
    in_txn = 0;
cleanup:
    if (in_txn)
        sw_db_rollback(target);
    if (tables)
        free_tables(tables, n);
    free(ordered);
    return rc;
}

void sw_db_copy_result_free(struct sw_db_copy_result *result)
{
    for (size_t i = 0; i < result->n; i++)
        free(result->tables[i].name);
    free(result->tables);
    memset(result, 0, sizeof(*result));
}
