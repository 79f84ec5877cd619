/*
 * db.h - the SQLite database: opening, pragmas, migrations, transactions.
 *
 * One connection per thread (SQLite connections must not be shared between
 * threads without a lock, and WAL lets readers run beside the one writer).
 * Every connection gets the same pragmas: WAL, foreign keys, a busy timeout
 * so concurrent writers wait rather than fail, synchronous=FULL.
 *
 * Migrations are the files migrations/NNNN_name.sql, embedded in the binary
 * and applied in order, each in its own transaction, recording the version
 * in schema_version. A database newer than the binary is refused.
 *
 * SQL itself lives in the data-access modules of each folder (e.g.
 * registry/meta.c), always as prepared statements with bound parameters.
 */
#ifndef SW_DB_H
#define SW_DB_H

#include <sqlite3.h>

#include "core/error.h"

/* The names of the database interface (issue 15), for now aliases of
 * SQLite's own API: callers move to these names mechanically
 * (pg-convert.sh), then the drivers (SQLite, PostgreSQL) replace the
 * aliases without touching the callers again. */
typedef sqlite3 sw_db;
typedef sqlite3_stmt sw_stmt;
typedef void (*sw_db_destructor)(void *);
#define SW_DB_OK SQLITE_OK
#define SW_DB_ERROR SQLITE_ERROR
#define SW_DB_BUSY SQLITE_BUSY
#define SW_DB_CONSTRAINT SQLITE_CONSTRAINT
#define SW_DB_MISUSE SQLITE_MISUSE
#define SW_DB_RANGE SQLITE_RANGE
#define SW_DB_ROW SQLITE_ROW
#define SW_DB_DONE SQLITE_DONE
#define SW_DB_INTEGER SQLITE_INTEGER
#define SW_DB_FLOAT SQLITE_FLOAT
#define SW_DB_TEXT SQLITE_TEXT
#define SW_DB_BLOB SQLITE_BLOB
#define SW_DB_NULL SQLITE_NULL
#define SW_DB_STATIC SQLITE_STATIC
#define SW_DB_TRANSIENT SQLITE_TRANSIENT
#define sw_db_prepare_raw sqlite3_prepare_v2
#define sw_db_exec_raw sqlite3_exec
#define sw_db_free sqlite3_free
#define sw_db_errmsg sqlite3_errmsg
#define sw_db_errcode sqlite3_errcode
#define sw_db_changes sqlite3_changes
#define sw_db_last_insert_id sqlite3_last_insert_rowid
#define sw_stmt_bind_text sqlite3_bind_text
#define sw_stmt_bind_blob sqlite3_bind_blob
#define sw_stmt_bind_int64 sqlite3_bind_int64
#define sw_stmt_bind_int sqlite3_bind_int
#define sw_stmt_bind_double sqlite3_bind_double
#define sw_stmt_bind_null sqlite3_bind_null
#define sw_stmt_step sqlite3_step
#define sw_stmt_reset sqlite3_reset
#define sw_stmt_finalize sqlite3_finalize
#define sw_stmt_column_count sqlite3_column_count
#define sw_stmt_column_type sqlite3_column_type
#define sw_stmt_column_text sqlite3_column_text
#define sw_stmt_column_blob sqlite3_column_blob
#define sw_stmt_column_bytes sqlite3_column_bytes
#define sw_stmt_column_int64 sqlite3_column_int64
#define sw_stmt_column_int sqlite3_column_int
#define sw_stmt_column_double sqlite3_column_double

/* Opens (creating if needed) the database at path, sets the pragmas and, if
 * migrate is non-zero, applies pending migrations. *out is owned by the
 * caller: close with sw_db_close. */
int sw_db_open(const char *path, int migrate, sqlite3 **out, sw_error **err);

void sw_db_close(sqlite3 *db);

/* Highest migration version embedded in this binary. */
int sw_db_latest_version(void);

/* The version recorded in the database (0 for a new one). */
int sw_db_version(sqlite3 *db, int *version, sw_error **err);

/* Runs SQL without results (BEGIN, COMMIT, DDL). */
int sw_db_exec(sqlite3 *db, const char *sql, sw_error **err);

/* BEGIN IMMEDIATE: takes the write lock now, so the transaction cannot fail
 * later with SQLITE_BUSY on upgrade. Waits up to the busy timeout. */
int sw_db_begin(sqlite3 *db, sw_error **err);
int sw_db_commit(sqlite3 *db, sw_error **err);
/* Rolls back if a transaction is open; never fails. */
void sw_db_rollback(sqlite3 *db);

/* Prepares a statement; on failure sets err with SQLite's message. */
int sw_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt, sw_error **err);

/* Sets err from the connection's last error, with context; returns SW_EDB. */
int sw_db_error(sqlite3 *db, sw_error **err, const char *context);

/* Runs a statement that returns no rows to completion and finalizes it;
 * SW_EDB with context on failure. */
int sw_db_step_done(sqlite3 *db, sqlite3_stmt *stmt, const char *context, sw_error **err);

/* A copy of a text column (malloc'd), NULL when the column is NULL. */
char *sw_db_column_dup(sqlite3_stmt *stmt, int col);

#endif
