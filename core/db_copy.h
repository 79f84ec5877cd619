/*
 * db_copy.h - copying every row of an embedded installation's SQLite
 * database into another database of the same schema (`slipway migrate`,
 * docs/scale-out.md "Moving up").
 *
 * The source is opened read-only and read inside one read transaction, so
 * every table is copied from the same snapshot; nothing is written to it.
 * The table list comes from the source's own schema (sqlite_master), the
 * columns from PRAGMA table_info, and the order from its foreign keys
 * (parents before children): nothing here names a table, so a migration
 * that adds one needs no change here. A source table or column the target
 * does not have (a schema this binary does not know) is an error, as is a
 * source whose schema_version differs from the target's.
 *
 * The copy runs in one transaction on the target: a failure (or a kill)
 * leaves it as empty as it was, so the copy can simply run again. Rows go
 * in multi-row INSERTs; afterwards PostgreSQL's identity sequences are set
 * past the largest id copied, and every table's row count is compared with
 * the source's before the commit.
 */
#ifndef SW_DB_COPY_H
#define SW_DB_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"

typedef struct sw_db_source sw_db_source;

/* Opens the SQLite file at path read-only and starts the read transaction
 * every later read sees. When path has no -wal file (a cleanly stopped
 * installation) the file is opened immutable: no lock and no -shm file is
 * created next to it. *out is closed with sw_db_source_close. */
int sw_db_source_open(const char *path, sw_db_source **out, sw_error **err);
void sw_db_source_close(sw_db_source *src);

/* The source's schema version (the largest in schema_version). */
int sw_db_source_version(sw_db_source *src, int *version, sw_error **err);

/* Runs a query on the source's snapshot and calls fn with the text of the
 * first column of every row (NULL for NULL); a nonzero return from fn
 * stops and is returned. */
typedef int (*sw_db_source_row_fn)(const char *value, void *ctx, sw_error **err);
int sw_db_source_each(sw_db_source *src, const char *sql, sw_db_source_row_fn fn, void *ctx,
                      sw_error **err);

struct sw_db_copy_table {
    char *name;
    int64_t source_rows;
    int64_t target_rows; /* counted on the target after the copy */
    const char *skipped; /* why its rows were not copied, or NULL */
};

struct sw_db_copy_options {
    /* Tables whose rows are not copied (their schema must still be known),
     * each with the reason the summary prints; NULL-terminated pairs
     * { name, reason, ..., NULL }. */
    const char *const *skip;
    int batch_rows; /* rows per INSERT statement; 0: 200 */
    /* Called after every batch (may be NULL). */
    void (*progress)(void *ctx, const char *table, int64_t done, int64_t total);
    void *ctx;
};

struct sw_db_copy_result {
    struct sw_db_copy_table *tables; /* in the order copied */
    size_t n;
    int64_t rows; /* rows copied in all */
    int sequences_reset;
};

/* The checks sw_db_copy starts with, alone: the schema versions match,
 * every source table and column is known to the target, and the tables
 * to be copied are empty there (SW_EEXIST naming the first that is not).
 * Nothing is written. */
int sw_db_copy_check(sw_db_source *src, sw_db *target, const struct sw_db_copy_options *opts,
                     sw_error **err);

/* Checks that target (already migrated to the source's schema version)
 * holds no rows in any table to be copied (SW_EEXIST naming the first
 * one that does), then copies every table in one transaction as the file
 * comment says. result (filled also on a count mismatch, which is
 * SW_ECONFLICT and rolls back) is freed with sw_db_copy_result_free. */
int sw_db_copy(sw_db_source *src, sw_db *target, const struct sw_db_copy_options *opts,
               struct sw_db_copy_result *result, sw_error **err);

void sw_db_copy_result_free(struct sw_db_copy_result *result);

#endif
