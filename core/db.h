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
