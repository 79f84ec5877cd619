/*
 * db_pg.c - the PostgreSQL driver of core/db.h, through libpq.
 *
 * Statements are not prepared on the server: sw_stmt_step sends the SQL
 * (placeholders rewritten to $N) with its parameters through
 * PQexecParams, typed from the binding (int64 -> int8, double -> float8,
 * blob -> bytea, text -> left for the server to infer, as SQLite's
 * affinity would), and reads the whole result; rows are then stepped
 * through locally. Results come as text; column accessors convert.
 */
#include "core/db_int.h"

#include <libpq-fe.h>

#include <ctype.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Advisory lock keys: every sw_db_begin transaction, and migrations. */
#define PG_WRITE_LOCK_KEY "7165125290001"
#define PG_MIGRATE_LOCK_KEY "7165125290002"

/* OIDs of the built-in types (pg_type.h, stable across versions). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

struct pg_db {
    struct sw_db base;
    PGconn *c;
    char *errmsg;
    int errcode; /* SW_DB_* of the last call */
    int disk_full;
    int changes;
    int in_tx;           /* a transaction was open when last seen */
    int reconnected;     /* notifications may have been lost: tell the next wait */
    int64_t next_try_ms; /* reconnect: not before (monotonic) */
    int backoff_ms;      /* reconnect: the next pause */
};

struct pg_param {
    char *value; /* NULL: SQL NULL */
    int length;
    int format; /* 0 text, 1 binary */
    unsigned int type;
};

struct pg_stmt {
    struct sw_stmt base;
    char *sql; /* with $N placeholders */
    int nparams;
    struct pg_param *params;
    unsigned char *null_tested; /* per parameter: in "? IS NULL", or unused */
    PGresult *res;
    int executed;
    int row; /* current row, -1 before the first */
    int nrows;
    unsigned char *blob; /* the last column_blob decoded */
    size_t blob_len;
    int blob_col, blob_row;
};

#define PDB(db) ((struct pg_db *)(db))
#define PST(stmt) ((struct pg_stmt *)(stmt))

static void set_error(struct pg_db *db, int code, const char *msg)
{
    free(db->errmsg);
    db->errmsg = strdup(msg ? msg : "error");
    if (db->errmsg) {
        /* libpq's messages end with a newline; ours do not */
        size_t n = strlen(db->errmsg);
        while (n > 0 && (db->errmsg[n - 1] == '\n' || db->errmsg[n - 1] == ' '))
            db->errmsg[--n] = '\0';
    }
    db->errcode = code;
}

/* The SW_DB_* code for a failed result, from its SQLSTATE. */
static int result_error(struct pg_db *db, PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int code = SW_DB_ERROR;
    db->disk_full = 0;
    if (state && strncmp(state, "23", 2) == 0)
        code = SW_DB_CONSTRAINT; /* integrity constraint violation */
    else if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                       strcmp(state, "55P03") == 0))
        code = SW_DB_BUSY; /* serialization failure, deadlock, lock not available */
    else if (state && strcmp(state, "53100") == 0)
        db->disk_full = 1;
    set_error(db, code, res ? PQresultErrorMessage(res) : PQerrorMessage(db->c));
    if (db->errmsg && db->errmsg[0] == '\0')
        set_error(db, code, PQerrorMessage(db->c));
    return code;
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

#define RECONNECT_FIRST_MS 100
#define RECONNECT_MAX_MS 5000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The session settings every connection gets (again after a reconnect). */
static int setup_session(PGconn *c, char **msg)
{
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    PGresult *res = PQexec(c, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok && msg)
        *msg = strdup(PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static int listen_all(struct pg_db *db)
{
    for (size_t i = 0; i < db->base.n_channels; i++) { /* again after a reconnect */
        char sql[SW_DB_CHANNEL_MAX + 16];
        snprintf(sql, sizeof sql, "LISTEN %s", db->base.channels[i]); /* checked: [a-z0-9_] */
        PGresult *res = PQexec(db->c, sql);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Before a statement: a connection that broke is re-opened, with backoff,
 * unless a transaction was open on it (its statements fail until the
 * caller rolls back). An idle connection whose server went away has its
 * socket readable (the server's goodbye, or end of file): that is noticed
 * here, before a statement is lost on it. 0 when the connection is up. */
static int pg_ensure(struct pg_db *db)
{
    /* the goodbye message and the end of file may take two reads */
    for (int i = 0; i < 4 && PQstatus(db->c) == CONNECTION_OK && !db->in_tx; i++) {
        struct pollfd pfd = { .fd = PQsocket(db->c), .events = POLLIN };
        if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0 || !PQconsumeInput(db->c))
            break; /* nothing to read, or broken (status says which) */
    }
    if (PQstatus(db->c) == CONNECTION_OK)
        return 0;
    if (db->in_tx) {
        set_error(db, SW_DB_ERROR,
                  "the database connection was lost inside a transaction (roll back)");
        return -1;
    }
    int64_t now = mono_ms();
    if (now < db->next_try_ms) {
        set_error(db, SW_DB_ERROR, "the database connection is down (reconnecting)");
        return -1;
    }
    PQreset(db->c);
    char *msg = NULL;
    if (PQstatus(db->c) == CONNECTION_OK && setup_session(db->c, &msg) == 0 &&
        listen_all(db) == 0) {
        db->backoff_ms = 0;
        db->next_try_ms = 0;
        db->reconnected = 1;
        return 0;
    }
    db->backoff_ms = db->backoff_ms == 0 ? RECONNECT_FIRST_MS : db->backoff_ms * 2;
    if (db->backoff_ms > RECONNECT_MAX_MS)
        db->backoff_ms = RECONNECT_MAX_MS;
    db->next_try_ms = now + db->backoff_ms;
    char text[512];
    snprintf(text, sizeof text, "reconnecting to the database: %s",
             msg ? msg : PQerrorMessage(db->c));
    free(msg);
    set_error(db, SW_DB_ERROR, text);
    return -1;
}

/* After a statement: whether a transaction is open now (kept when the
 * connection broke, so pg_ensure knows). */
static void track_tx(struct pg_db *db)
{
    if (PQstatus(db->c) != CONNECTION_OK)
        return;
    PGTransactionStatusType st = PQtransactionStatus(db->c);
    db->in_tx = st == PQTRANS_INTRANS || st == PQTRANS_INERROR;
}

/* A password given as env:NAME in the URL's user info
 * (postgres://user:env:NAME@host/db) is read from the environment; the
 * URL passed on to libpq then has no password. Other URLs go as they are
 * (libpq also reads PGPASSWORD and ~/.pgpass). */
static int split_password(const char *url, char **bare, char **password, sw_error **err)
{
    const char *scheme_end = strstr(url, "://");
    const char *at = scheme_end ? strchr(scheme_end + 3, '@') : NULL;
    const char *slash = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    *bare = NULL;
    *password = NULL;
    if (at && slash && slash < at)
        at = NULL; /* an @ in the path or query */
    const char *env = NULL;
    if (at) {
        for (const char *p = scheme_end + 3; p + 5 <= at; p++) {
            if (strncmp(p, ":env:", 5) == 0) {
                env = p;
                break;
            }
        }
    }
    if (env == NULL) {
        *bare = strdup(url);
        return *bare ? 0 : sw_error_set(err, SW_ENOMEM, "database: out of memory");
    }
    size_t name_len = (size_t)(at - (env + 5));
    char name[256];
    if (name_len == 0 || name_len >= sizeof name)
        return sw_error_set(err, SW_EINVAL, "database: the password's env:NAME has no usable NAME");
    memcpy(name, env + 5, name_len);
    name[name_len] = '\0';
    const char *value = getenv(name);
    if (value == NULL)
        return sw_error_set(err, SW_EINVAL,
                            "database: the password is env:%s, but %s is not set in the "
                            "environment",
                            name, name);
    size_t head = (size_t)(env - url);
    if ((*bare = malloc(strlen(url) + 1)) == NULL || (*password = strdup(value)) == NULL) {
        free(*bare);
        *bare = NULL;
        return sw_error_set(err, SW_ENOMEM, "database: out of memory");
    }
    memcpy(*bare, url, head);
    strcpy(*bare + head, at);
    return 0;
}

static int pg_open(const char *url, int migrate, sw_db **out, sw_error **err)
{
    (void)migrate;
    struct pg_db *db = NULL;
    char *bare = NULL, *password = NULL;
    int rc = 0;
    if ((rc = split_password(url, &bare, &password, err)) != 0)
        return rc;
    if ((db = calloc(1, sizeof *db)) == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "database: out of memory");
        goto cleanup;
    }
    db->base.drv = &sw_db_pg_driver;
    const char *keys[] = { "dbname", password ? "password" : NULL, NULL };
    const char *values[] = { bare, password, NULL };
    db->c = PQconnectdbParams(keys, values, 1);
    if (db->c == NULL || PQstatus(db->c) != CONNECTION_OK) {
        rc = sw_error_set(err, SW_EDB, "connecting to the PostgreSQL database: %s",
                          db->c ? PQerrorMessage(db->c) : "out of memory");
        goto cleanup;
    }
    char *msg = NULL;
    if (setup_session(db->c, &msg) != 0) {
        rc =
            sw_error_set(err, SW_EDB, "setting up the PostgreSQL session: %s", msg ? msg : "error");
        free(msg);
        goto cleanup;
    }
    *out = &db->base;
    db = NULL;
cleanup:
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    free(bare);
    if (db) {
        PQfinish(db->c);
        free(db);
    }
    return rc;
}

static void pg_close(sw_db *sdb)
{
    struct pg_db *db = PDB(sdb);
    PQfinish(db->c);
    free(db->errmsg);
    free(db);
}

static int pg_exec(sw_db *sdb, const char *sql, char **errmsg)
{
    struct pg_db *db = PDB(sdb);
    if (pg_ensure(db) != 0) {
        /* a ROLLBACK on a lost connection: nothing is left to roll back */
        if (db->in_tx && strcmp(sql, "ROLLBACK") == 0) {
            db->in_tx = 0;
            return SW_DB_OK;
        }
        if (db->in_tx && strcmp(sql, "COMMIT") == 0)
            db->in_tx = 0; /* fails: the caller learns the transaction is gone */
        if (errmsg)
            *errmsg = strdup(db->errmsg ? db->errmsg : "error");
        return db->errcode = SW_DB_ERROR;
    }
    PGresult *res = PQexec(db->c, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = SW_DB_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        rc = result_error(db, res);
        if (errmsg)
            *errmsg = strdup(db->errmsg ? db->errmsg : "error");
    } else {
        db->errcode = SW_DB_OK;
        db->changes = atoi(PQcmdTuples(res));
    }
    PQclear(res);
    track_tx(db);
    return rc;
}

static int pg_begin(sw_db *db, int concurrent)
{
    if (concurrent)
        return pg_exec(db, "BEGIN", NULL);
    /* one writer transaction at a time, as SQLite's BEGIN IMMEDIATE */
    int rc = pg_exec(db, "BEGIN; SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK_KEY ")", NULL);
    if (rc != SW_DB_OK && PQtransactionStatus(PDB(db)->c) != PQTRANS_IDLE)
        pg_exec(db, "ROLLBACK", NULL);
    return rc;
}

static int pg_in_transaction(sw_db *db)
{
    PGTransactionStatusType st = PQtransactionStatus(PDB(db)->c);
    return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || PDB(db)->in_tx;
}

/* Non-zero when s (not NUL-terminated, n bytes) starts, after blanks,
 * with IS NULL or IS NOT NULL. */
static int is_null_test(const char *s, size_t n)
{
    static const char *const forms[] = { "IS NULL", "IS NOT NULL" };
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t'))
        i++;
    for (size_t f = 0; f < 2; f++) {
        size_t len = strlen(forms[f]);
        if (n - i >= len && strncasecmp(s + i, forms[f], len) == 0 &&
            (n - i == len || !(isalnum((unsigned char)s[i + len]) || s[i + len] == '_')))
            return 1;
    }
    return 0;
}

/* SQLite's placeholders to PostgreSQL's: ?N -> $N, a bare ? -> one more
 * than the highest number so far (SQLite's rule). Quoted strings,
 * identifiers and comments are copied untouched. used[n-1] gets bit 1 for
 * a use of ?n in "? IS [NOT] NULL" and bit 2 for any other use. A
 * parameter bound as text or NULL (sent untyped, for the server to infer,
 * as SQLite's affinity would convert) that is tested for NULL anywhere, or
 * not used at all, fails with "could not determine data type": such a
 * parameter is sent as text. So a parameter tested for NULL and compared
 * with a number must be bound as a number (sw_stmt_bind_int64) or cast in
 * the SQL: CAST(? AS BIGINT). */
static char *rewrite_placeholders(const char *sql, size_t len, int *nparams,
                                  unsigned char used[1000])
{
    char *out = malloc(len * 4 + 1); /* "?" -> "$999" at most */
    size_t o = 0;
    int highest = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len;) {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            out[o++] = sql[i++];
            while (i < len) {
                out[o++] = sql[i];
                if (sql[i++] == c) {
                    if (i < len && sql[i] == c) {
                        out[o++] = sql[i++]; /* doubled quote */
                        continue;
                    }
                    break;
                }
            }
        } else if (c == '-' && i + 1 < len && sql[i + 1] == '-') {
            while (i < len && sql[i] != '\n')
                out[o++] = sql[i++];
        } else if (c == '?') {
            i++;
            int n = 0;
            if (i < len && sql[i] >= '0' && sql[i] <= '9') {
                while (i < len && sql[i] >= '0' && sql[i] <= '9' && n < 1000)
                    n = n * 10 + (sql[i++] - '0');
            } else {
                n = highest + 1;
            }
            if (n < 1 || n > 999) {
                free(out);
                return NULL;
            }
            if (n > highest)
                highest = n;
            used[n - 1] |= is_null_test(sql + i, len - i) ? 1 : 2;
            o += (size_t)sprintf(out + o, "$%d", n);
        } else {
            out[o++] = sql[i++];
        }
    }
    out[o] = '\0';
    *nparams = highest;
    return out;
}

static int pg_prepare(sw_db *sdb, const char *sql, int nbytes, sw_stmt **out, const char **tail)
{
    struct pg_db *db = PDB(sdb);
    struct pg_stmt *stmt = NULL;
    size_t len = nbytes < 0 ? strlen(sql) : strnlen(sql, (size_t)nbytes);
    unsigned char used[1000] = { 0 };
    *out = NULL;
    if (tail)
        *tail = sql + len;
    if ((stmt = calloc(1, sizeof *stmt)) == NULL ||
        (stmt->sql = rewrite_placeholders(sql, len, &stmt->nparams, used)) == NULL) {
        set_error(db, SW_DB_ERROR, "preparing a statement: out of memory or a bad placeholder");
        if (stmt)
            free(stmt);
        return SW_DB_ERROR;
    }
    if (stmt->nparams > 0 &&
        ((stmt->params = calloc((size_t)stmt->nparams, sizeof *stmt->params)) == NULL ||
         (stmt->null_tested = calloc((size_t)stmt->nparams, 1)) == NULL)) {
        free(stmt->params);
        free(stmt->sql);
        free(stmt);
        set_error(db, SW_DB_ERROR, "preparing a statement: out of memory");
        return SW_DB_ERROR;
    }
    for (int i = 0; i < stmt->nparams; i++)
        stmt->null_tested[i] = used[i] != 2; /* see rewrite_placeholders */
    stmt->base.drv = &sw_db_pg_driver;
    stmt->base.db = sdb;
    stmt->row = -1;
    stmt->blob_col = -1;
    *out = &stmt->base;
    db->errcode = SW_DB_OK;
    return SW_DB_OK;
}

static const char *pg_errmsg(sw_db *db)
{
    return PDB(db)->errmsg ? PDB(db)->errmsg : "not an error";
}

static int pg_errcode(sw_db *db)
{
    return PDB(db)->errcode;
}

static int pg_disk_full(sw_db *db)
{
    return PDB(db)->disk_full;
}

static int pg_changes(sw_db *db)
{
    return PDB(db)->changes;
}

static int64_t pg_last_insert_id(sw_db *sdb)
{
    struct pg_db *db = PDB(sdb);
    PGresult *res = PQexec(db->c, "SELECT lastval()");
    int64_t id = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return id;
}

/* A session lock: held across the migrations' transaction, so a second
 * process waits here, then finds the versions recorded. */
static int pg_migrate_lock(sw_db *db, sw_error **err)
{
    if (pg_exec(db, "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK_KEY ")", NULL) != SW_DB_OK)
        return sw_error_set(err, SW_EDB, "migrations: taking the lock: %s", pg_errmsg(db));
    return 0;
}

static void pg_migrate_unlock(sw_db *db)
{
    pg_exec(db, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK_KEY ")", NULL);
}

static int pg_table_exists(sw_db *sdb, const char *table)
{
    struct pg_db *db = PDB(sdb);
    if (pg_ensure(db) != 0)
        return 0;
    const char *values[] = { table };
    PGresult *res =
        PQexecParams(db->c, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, values, NULL, NULL, 0);
    int found = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return found;
}

static void clear_result(struct pg_stmt *stmt)
{
    PQclear(stmt->res);
    stmt->res = NULL;
    stmt->executed = 0;
    stmt->row = -1;
    stmt->nrows = 0;
    if (stmt->blob)
        PQfreemem(stmt->blob);
    stmt->blob = NULL;
    stmt->blob_col = -1;
}

static int set_param(sw_stmt *sstmt, int idx, const void *data, size_t len, int format,
                     unsigned int type)
{
    struct pg_stmt *stmt = PST(sstmt);
    if (idx < 1 || idx > stmt->nparams)
        return SW_DB_RANGE;
    if (stmt->executed)
        return SW_DB_MISUSE; /* as SQLite: reset first */
    struct pg_param *p = &stmt->params[idx - 1];
    char *copy = NULL;
    if (data) {
        if ((copy = malloc(len + 1)) == NULL)
            return SW_DB_ERROR;
        memcpy(copy, data, len);
        copy[len] = '\0';
    }
    free(p->value);
    p->value = copy;
    p->length = (int)len;
    p->format = format;
    p->type = type;
    return SW_DB_OK;
}

static int pg_bind_text(sw_stmt *stmt, int idx, const char *text, int nbytes, sw_db_destructor d)
{
    (void)d;
    size_t len = nbytes < 0 ? strlen(text) : (size_t)nbytes;
    return set_param(stmt, idx, text, len, 0, 0);
}

static int pg_bind_blob(sw_stmt *stmt, int idx, const void *data, int nbytes, sw_db_destructor d)
{
    (void)d;
    return set_param(stmt, idx, data, nbytes < 0 ? 0 : (size_t)nbytes, 1, OID_BYTEA);
}

static int pg_bind_int64(sw_stmt *stmt, int idx, int64_t value)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%lld", (long long)value);
    return set_param(stmt, idx, text, (size_t)n, 0, OID_INT8);
}

static int pg_bind_double(sw_stmt *stmt, int idx, double value)
{
    char text[64];
    int n = snprintf(text, sizeof text, "%.17g", value);
    return set_param(stmt, idx, text, (size_t)n, 0, OID_FLOAT8);
}

static int pg_bind_null(sw_stmt *stmt, int idx)
{
    return set_param(stmt, idx, NULL, 0, 0, 0);
}

static int pg_step(sw_stmt *sstmt)
{
    struct pg_stmt *stmt = PST(sstmt);
    struct pg_db *db = PDB(sstmt->db);
    if (!stmt->executed) {
        int n = stmt->nparams;
        const char *values[n > 0 ? n : 1];
        int lengths[n > 0 ? n : 1], formats[n > 0 ? n : 1];
        unsigned int types[n > 0 ? n : 1];
        for (int i = 0; i < n; i++) {
            values[i] = stmt->params[i].value;
            lengths[i] = stmt->params[i].length;
            formats[i] = stmt->params[i].format;
            types[i] = stmt->params[i].type;
            if (types[i] == 0 && stmt->null_tested[i])
                types[i] = OID_TEXT;
        }
        if (pg_ensure(db) != 0)
            return db->errcode;
        stmt->res = PQexecParams(db->c, stmt->sql, n, types, values, lengths, formats, 0);
        stmt->executed = 1;
        track_tx(db);
        ExecStatusType st = PQresultStatus(stmt->res);
        if (st == PGRES_TUPLES_OK) {
            stmt->nrows = PQntuples(stmt->res);
            db->changes = atoi(PQcmdTuples(stmt->res)); /* INSERT ... RETURNING */
        } else if (st == PGRES_COMMAND_OK) {
            stmt->nrows = 0;
            db->changes = atoi(PQcmdTuples(stmt->res));
        } else {
            int code = result_error(db, stmt->res);
            PQclear(stmt->res);
            stmt->res = NULL;
            return code;
        }
        db->errcode = SW_DB_OK;
    }
    if (stmt->res == NULL)
        return SW_DB_MISUSE;
    if (stmt->row < stmt->nrows)
        stmt->row++;
    return stmt->row < stmt->nrows ? SW_DB_ROW : SW_DB_DONE;
}

static int pg_reset(sw_stmt *stmt)
{
    clear_result(PST(stmt));
    return SW_DB_OK;
}

static int pg_finalize(sw_stmt *sstmt)
{
    struct pg_stmt *stmt = PST(sstmt);
    clear_result(stmt);
    for (int i = 0; i < stmt->nparams; i++)
        free(stmt->params[i].value);
    free(stmt->params);
    free(stmt->null_tested);
    free(stmt->sql);
    free(stmt);
    return SW_DB_OK;
}

static int pg_column_count(sw_stmt *stmt)
{
    return PST(stmt)->res ? PQnfields(PST(stmt)->res) : 0;
}

/* Non-zero when the current row has a column col. */
static int has_cell(struct pg_stmt *stmt, int col)
{
    return stmt->res && stmt->row >= 0 && stmt->row < stmt->nrows && col >= 0 &&
           col < PQnfields(stmt->res);
}

static int pg_column_type(sw_stmt *sstmt, int col)
{
    struct pg_stmt *stmt = PST(sstmt);
    if (!has_cell(stmt, col) || PQgetisnull(stmt->res, stmt->row, col))
        return SW_DB_NULL;
    switch (PQftype(stmt->res, col)) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_NUMERIC:
        return SW_DB_INTEGER;
    case OID_FLOAT4:
    case OID_FLOAT8:
        return SW_DB_FLOAT;
    case OID_BYTEA:
        return SW_DB_BLOB;
    default:
        return SW_DB_TEXT;
    }
}

static const unsigned char *pg_column_text(sw_stmt *sstmt, int col)
{
    struct pg_stmt *stmt = PST(sstmt);
    if (!has_cell(stmt, col) || PQgetisnull(stmt->res, stmt->row, col))
        return NULL;
    const char *v = PQgetvalue(stmt->res, stmt->row, col);
    if (PQftype(stmt->res, col) == OID_BOOL)
        return (const unsigned char *)(v[0] == 't' ? "1" : "0");
    return (const unsigned char *)v;
}

static const void *pg_column_blob(sw_stmt *sstmt, int col)
{
    struct pg_stmt *stmt = PST(sstmt);
    if (!has_cell(stmt, col) || PQgetisnull(stmt->res, stmt->row, col))
        return NULL;
    if (PQftype(stmt->res, col) != OID_BYTEA)
        return PQgetvalue(stmt->res, stmt->row, col);
    if (stmt->blob_col != col || stmt->blob_row != stmt->row) {
        if (stmt->blob)
            PQfreemem(stmt->blob);
        stmt->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(stmt->res, stmt->row, col),
                                     &stmt->blob_len);
        stmt->blob_col = stmt->blob ? col : -1;
        stmt->blob_row = stmt->row;
    }
    return stmt->blob;
}

static int pg_column_bytes(sw_stmt *sstmt, int col)
{
    struct pg_stmt *stmt = PST(sstmt);
    if (!has_cell(stmt, col) || PQgetisnull(stmt->res, stmt->row, col))
        return 0;
    if (PQftype(stmt->res, col) == OID_BYTEA)
        return pg_column_blob(sstmt, col) ? (int)stmt->blob_len : 0;
    return PQgetlength(stmt->res, stmt->row, col);
}

static int64_t pg_column_int64(sw_stmt *sstmt, int col)
{
    const unsigned char *v = pg_column_text(sstmt, col);
    return v ? strtoll((const char *)v, NULL, 10) : 0;
}

static double pg_column_double(sw_stmt *sstmt, int col)
{
    const unsigned char *v = pg_column_text(sstmt, col);
    return v ? strtod((const char *)v, NULL) : 0.0;
}

/* ---- notifications ----------------------------------------------------------- */

/* db.c added the channel to the list already (a reconnect listens again) */
static int pg_listen(sw_db *sdb, const char *channel, sw_error **err)
{
    char sql[SW_DB_CHANNEL_MAX + 16];
    snprintf(sql, sizeof sql, "LISTEN %s", channel); /* checked by db.c: [a-z0-9_] */
    if (pg_exec(sdb, sql, NULL) != SW_DB_OK) {
        /* kept in the list: the next reconnect listens again */
        return sw_error_set(err, SW_EDB, "database: LISTEN %s: %s", channel, pg_errmsg(sdb));
    }
    return 0;
}

static int pg_notify(sw_db *sdb, const char *channel, const char *payload, sw_error **err)
{
    struct pg_db *db = PDB(sdb);
    if (pg_ensure(db) != 0)
        return sw_error_set(err, SW_EDB, "database: NOTIFY: %s", pg_errmsg(sdb));
    const char *values[] = { channel, payload };
    PGresult *res = PQexecParams(db->c, "SELECT pg_notify($1, $2)", 2, NULL, values, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        result_error(db, res);
        rc = sw_error_set(err, SW_EDB, "database: NOTIFY: %s", pg_errmsg(sdb));
    }
    PQclear(res);
    track_tx(db);
    return rc;
}

/* One notification already received, if any. */
static int take_notice(struct pg_db *db, char *channel, char *payload)
{
    PGnotify *n = PQnotifies(db->c);
    if (n == NULL)
        return 0;
    snprintf(channel, SW_DB_CHANNEL_MAX, "%s", n->relname);
    snprintf(payload, SW_DB_PAYLOAD_MAX, "%s", n->extra ? n->extra : "");
    PQfreemem(n);
    return 1;
}

static int pg_wait_notify(sw_db *sdb, int timeout_ms, char *channel, char *payload, sw_error **err)
{
    struct pg_db *db = PDB(sdb);
    int64_t deadline = mono_ms() + timeout_ms;
    if (pg_ensure(db) != 0) {
        /* a caller that loops on this must not spin while the server is down */
        int64_t wait = db->next_try_ms - mono_ms();
        if (wait > timeout_ms)
            wait = timeout_ms;
        if (wait > 0)
            nanosleep(&(struct timespec){ wait / 1000, (long)(wait % 1000) * 1000000L }, NULL);
        return sw_error_set(err, SW_EDB, "database: waiting for notifications: %s", pg_errmsg(sdb));
    }
    if (db->reconnected) {
        db->reconnected = 0;
        return 1; /* channel "": some may have been missed meanwhile */
    }
    for (;;) {
        if (take_notice(db, channel, payload))
            return 1;
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = { .fd = PQsocket(db->c), .events = POLLIN };
        int ready = poll(&pfd, 1, (int)left);
        if (ready < 0)
            continue; /* EINTR */
        if (ready > 0 && (!PQconsumeInput(db->c) || PQstatus(db->c) != CONNECTION_OK)) {
            set_error(db, SW_DB_ERROR, PQerrorMessage(db->c));
            return sw_error_set(err, SW_EDB, "database: waiting for notifications: %s",
                                pg_errmsg(sdb));
        }
    }
}

const struct sw_db_driver sw_db_pg_driver = {
    .kind = SW_DB_POSTGRES,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .begin = pg_begin,
    .in_transaction = pg_in_transaction,
    .prepare = pg_prepare,
    .errmsg = pg_errmsg,
    .errcode = pg_errcode,
    .disk_full = pg_disk_full,
    .changes = pg_changes,
    .last_insert_id = pg_last_insert_id,
    .migrate_lock = pg_migrate_lock,
    .migrate_unlock = pg_migrate_unlock,
    .table_exists = pg_table_exists,
    .listen = pg_listen,
    .notify = pg_notify,
    .wait_notify = pg_wait_notify,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_int64 = pg_bind_int64,
    .bind_double = pg_bind_double,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .column_count = pg_column_count,
    .column_type = pg_column_type,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_bytes = pg_column_bytes,
    .column_int64 = pg_column_int64,
    .column_double = pg_column_double,
};
