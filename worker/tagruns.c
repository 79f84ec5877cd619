/*
 * tagruns.c - the table tag_runs (see tagruns.h).
 */
#include "worker/tagruns.h"

#include <stdlib.h>
#include <string.h>

int wrk_tag_runs_record(sw_db *db, const char *repo, const char *tag, const char *digest,
                        const char *run_id, int64_t t, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO tag_runs (repo, tag, digest, run_id, pushed_at)"
                           " VALUES (?, ?, ?, ?, ?) ON CONFLICT (repo, tag) DO UPDATE"
                           " SET digest = excluded.digest, run_id = excluded.run_id,"
                           " pushed_at = excluded.pushed_at",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, repo, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, tag, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 3, digest, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 4, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 5, t);
    return sw_db_step_done(db, stmt, "recording a tag", err);
}

char *wrk_tag_runs_find(sw_db *db, const char *repo, const char *tag, const char *digest)
{
    sw_stmt *stmt = NULL;
    char *run = NULL;
    const char *sql = tag ? "SELECT run_id FROM tag_runs WHERE repo = ? AND tag = ? AND digest = ?"
                          : "SELECT run_id FROM tag_runs WHERE repo = ? AND digest = ?"
                            " ORDER BY pushed_at DESC LIMIT 1";
    if (sw_db_prepare(db, sql, &stmt, NULL) != 0)
        return NULL;
    int i = 1;
    sw_stmt_bind_text(stmt, i++, repo, -1, SW_DB_STATIC);
    if (tag)
        sw_stmt_bind_text(stmt, i++, tag, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, i, digest, -1, SW_DB_STATIC);
    if (sw_stmt_step(stmt) == SW_DB_ROW)
        run = sw_db_column_dup(stmt, 0);
    sw_stmt_finalize(stmt);
    return run;
}
