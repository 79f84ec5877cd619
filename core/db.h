/*
 * db.h - the database: one narrow connection interface over two drivers,
 * SQLite (core/db_sqlite.c, the embedded default) and PostgreSQL through
 * libpq (core/db_pg.c), plus the migrations runner.
 *
 * Where: sw_db_open takes a SQLite file path (the default: slipway.db in
 * the data dir) or a URL postgres://user@host:port/dbname (a password, if
 * any, comes from the config as env:NAME and is passed in the URL's
 * password part or through PGPASSWORD; see docs/config.md "database").
 *
 * One connection per thread: neither driver's connection may be used by
 * two threads at once.
 *
 * A PostgreSQL connection that broke (server restart, failover, network)
 * is re-opened on its next use outside a transaction, at most every
 * 100 ms doubling to 5 s while it keeps failing; a statement in flight
 * when it broke fails (SW_EDB), and so does every statement of a
 * transaction that was open then, until the caller rolls back.
 *
 * Statements are written once, in the SQL both engines accept (INSERT ...
 * ON CONFLICT ... DO UPDATE/NOTHING, no strftime, no OR REPLACE, no rowid),
 * with SQLite's placeholders ?N or ? (numbered as SQLite numbers them); the
 * PostgreSQL driver rewrites them to $N. The calls below mirror SQLite's
 * C API one for one (sw_stmt_step returns SW_DB_ROW / SW_DB_DONE, a
 * constraint violation - UNIQUE, NOT NULL, CHECK, FOREIGN KEY - returns
 * SW_DB_CONSTRAINT on both engines) so the callers read as before.
 *
 * Transactions: sw_db_begin takes the write lock now. On SQLite that is
 * BEGIN IMMEDIATE; on PostgreSQL it is BEGIN plus a transaction-scoped
 * advisory lock shared by every writer transaction, so code written for
 * SQLite's one-writer model (read, decide, write) stays correct unchanged.
 * Paths that were written for concurrency (the run queue claim, with
 * FOR UPDATE SKIP LOCKED) use sw_db_begin_concurrent: a plain BEGIN on
 * PostgreSQL (BEGIN IMMEDIATE on SQLite, which has one writer anyway).
 *
 * Migrations are migrations/NNNN_name.sql (SQLite) and, where the dialect
 * differs, migrations/pg/NNNN_name.sql (PostgreSQL; when a pg file with the
 * same name is missing, the common file is used for both). They are
 * embedded in the binary, applied in order, each version recorded in
 * schema_version, under the write lock (SQLite) or pg_advisory_lock
 * (PostgreSQL), so two processes starting at once on an empty database are
 * safe. A database newer than the binary is refused.
 *
 * SQL itself lives in the data-access modules of each folder (e.g.
 * registry/meta.c), always as prepared statements with bound parameters.
 */
#ifndef SW_DB_H
#define SW_DB_H

#include <stdint.h>

#include "core/error.h"

typedef struct sw_db sw_db;
typedef struct sw_stmt sw_stmt;

/* Result codes of the sqlite3-like calls (same values as SQLite's). */
#define SW_DB_OK 0
#define SW_DB_ERROR 1
#define SW_DB_BUSY 5
#define SW_DB_CONSTRAINT 19
#define SW_DB_MISUSE 21
#define SW_DB_RANGE 25
#define SW_DB_ROW 100
#define SW_DB_DONE 101

/* Column types (SQLite's values). */
#define SW_DB_INTEGER 1
#define SW_DB_FLOAT 2
#define SW_DB_TEXT 3
#define SW_DB_BLOB 4
#define SW_DB_NULL 5

/* Bound text and blobs: STATIC keeps a pointer (valid until the statement
 * is finalized or rebound), TRANSIENT copies. The PostgreSQL driver always
 * copies. */
typedef void (*sw_db_destructor)(void *);
#define SW_DB_STATIC ((sw_db_destructor)0)
#define SW_DB_TRANSIENT ((sw_db_destructor)-1)

enum sw_db_kind { SW_DB_SQLITE = 1, SW_DB_POSTGRES = 2 };

/* Opens (creating if needed, for SQLite) the database named by where: a
 * file path or a postgres:// (postgresql://) URL, and, if migrate is
 * non-zero, applies pending migrations. *out is owned by the caller: close
 * with sw_db_close. */
int sw_db_open(const char *where, int migrate, sw_db **out, sw_error **err);

void sw_db_close(sw_db *db);

/* database_sync (docs/config.md): full non-zero makes every SQLite
 * connection opened from now on sync the WAL at each commit
 * (synchronous=FULL); 0, the default, leaves that to the checkpointer
 * thread within about a second (synchronous=NORMAL). Process-wide; no
 * effect on PostgreSQL, whose durability is the server's setting. */
void sw_db_set_sync_full(int full);

/* Which engine db talks to. */
enum sw_db_kind sw_db_kind_of(const sw_db *db);

/* Non-zero when where names a PostgreSQL database (a postgres:// URL). */
int sw_db_is_url(const char *where);

/* Highest migration version embedded in this binary. */
int sw_db_latest_version(void);

/* The version recorded in the database (0 for a new one). */
int sw_db_version(sw_db *db, int *version, sw_error **err);

/* Runs SQL without results (BEGIN, COMMIT, DDL; several statements
 * separated by ';' are allowed). */
int sw_db_exec(sw_db *db, const char *sql, sw_error **err);

/* The write lock now (see the header comment). Waits, bounded. */
int sw_db_begin(sw_db *db, sw_error **err);
/* A transaction for code written for concurrent writers (row locks). */
int sw_db_begin_concurrent(sw_db *db, sw_error **err);
int sw_db_commit(sw_db *db, sw_error **err);
/* Rolls back if a transaction is open; never fails. */
void sw_db_rollback(sw_db *db);
/* How long db's last sw_db_begin waited for the write lock and its last
 * sw_db_commit took (with the sync), in ns: a request's phases. */
void sw_db_last_times(const sw_db *db, int64_t *begin_ns, int64_t *commit_ns);

/* Prepares a statement; on failure sets err with the engine's message. */
int sw_db_prepare(sw_db *db, const char *sql, sw_stmt **stmt, sw_error **err);

/* Like sw_db_prepare, but the statement is prepared once per connection
 * and kept until it closes: for the statements of hot read paths (a
 * manifest GET, a blob HEAD). sql is the key and must live as long as the
 * program (a string literal). Give the statement back with
 * sw_stmt_release, which resets it (ending its read transaction); one
 * caller at a time per connection, so never across a call that may use
 * the same statement. */
int sw_db_prepare_cached(sw_db *db, const char *sql, sw_stmt **stmt, sw_error **err);

/* Ends the use of a statement from either prepare: resets a cached one,
 * finalizes any other. NULL is ignored. */
void sw_stmt_release(sw_stmt *stmt);

/* Sets err from the connection's last error, with context; returns
 * SW_ENOSPACE for a full disk, SW_EDB otherwise. */
int sw_db_error(sw_db *db, sw_error **err, const char *context);

/* Runs a statement that returns no rows to completion and finalizes it;
 * SW_EDB with context on failure. */
int sw_db_step_done(sw_db *db, sw_stmt *stmt, const char *context, sw_error **err);

/* A copy of a text column (malloc'd), NULL when the column is NULL. */
char *sw_db_column_dup(sw_stmt *stmt, int col);

/* The sqlite3-like calls (see the header comment). */
int sw_db_prepare_raw(sw_db *db, const char *sql, int nbytes, sw_stmt **stmt, const char **tail);
/* sqlite3_exec without the callback: callback must be NULL. On failure
 * *errmsg (if errmsg is not NULL) is a message to free with sw_db_free. */
int sw_db_exec_raw(sw_db *db, const char *sql, void *callback, void *arg, char **errmsg);
void sw_db_free(void *p);
const char *sw_db_errmsg(sw_db *db);
/* SW_DB_CONSTRAINT, SW_DB_BUSY, SW_DB_ERROR or SW_DB_OK for the last call. */
int sw_db_errcode(sw_db *db);
/* Rows changed by the last INSERT, UPDATE or DELETE. */
int sw_db_changes(sw_db *db);
/* The id given to the row of the last INSERT into a table with an
 * INTEGER PRIMARY KEY (SQLite) or a BIGSERIAL/identity key (PostgreSQL). */
int64_t sw_db_last_insert_id(sw_db *db);

/* ---- notifications ---------------------------------------------------------
 *
 * Wake-ups between connections: LISTEN/NOTIFY on PostgreSQL (every
 * process sharing the database hears them), an in-process board on SQLite
 * (only connections of the same process hear them; other processes on the
 * same file rely on their fallback poll). A notification sent inside a
 * transaction is delivered when it commits, and dropped if it rolls back,
 * on both engines. Notifications may be lost (a reconnect, a listener that
 * fell far behind): a waiter always has a fallback poll, and a wait that
 * may have missed some returns 1 with an empty channel ("look again").
 *
 * Channel names are [a-z0-9_], at most SW_DB_CHANNEL_MAX - 1 bytes;
 * payloads at most SW_DB_PAYLOAD_MAX - 1 bytes of text. */
#define SW_DB_CHANNEL_MAX 64
#define SW_DB_PAYLOAD_MAX 256

/* From now on db hears notifications on channel (idempotent). */
int sw_db_listen(sw_db *db, const char *channel, sw_error **err);

/* Sends payload (may be NULL: "") to every listener of channel. */
int sw_db_notify(sw_db *db, const char *channel, const char *payload, sw_error **err);

/* Waits up to timeout_ms for a notification on a channel db listens on:
 * 1 with channel and payload filled (channel "" when some may have been
 * missed), 0 on timeout, a negative SW_E* code when the connection is
 * down (the next call tries to re-open it, with backoff). channel and
 * payload may be NULL. */
int sw_db_wait_notify(sw_db *db, int timeout_ms, char channel[SW_DB_CHANNEL_MAX],
                      char payload[SW_DB_PAYLOAD_MAX], sw_error **err);

int sw_stmt_bind_text(sw_stmt *stmt, int idx, const char *text, int nbytes, sw_db_destructor d);
int sw_stmt_bind_blob(sw_stmt *stmt, int idx, const void *data, int nbytes, sw_db_destructor d);
int sw_stmt_bind_int64(sw_stmt *stmt, int idx, int64_t value);
int sw_stmt_bind_int(sw_stmt *stmt, int idx, int value);
int sw_stmt_bind_double(sw_stmt *stmt, int idx, double value);
int sw_stmt_bind_null(sw_stmt *stmt, int idx);
int sw_stmt_step(sw_stmt *stmt);
int sw_stmt_reset(sw_stmt *stmt);
int sw_stmt_finalize(sw_stmt *stmt);
int sw_stmt_column_count(sw_stmt *stmt);
int sw_stmt_column_type(sw_stmt *stmt, int col);
const unsigned char *sw_stmt_column_text(sw_stmt *stmt, int col);
const void *sw_stmt_column_blob(sw_stmt *stmt, int col);
int sw_stmt_column_bytes(sw_stmt *stmt, int col);
int64_t sw_stmt_column_int64(sw_stmt *stmt, int col);
int sw_stmt_column_int(sw_stmt *stmt, int col);
double sw_stmt_column_double(sw_stmt *stmt, int col);

#endif
