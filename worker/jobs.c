/*
 * jobs.c - the run queue in SQLite (see jobs.h).
 *
 * Every state change is one IMMEDIATE transaction, so two workers (threads
 * or processes) can never claim the same run: the claim's SELECT and
 * UPDATE happen under the database's write lock.
 */
#include "worker/jobs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "worker/runid.h"

#define RUN_COLUMNS                                                                                \
    "run_id, repo, trigger, source_type, source_ref, commit_sha, commit_message, status, "         \
    "attempts, cancel_requested, queued_at, started_at, finished_at, digest, tags, error, "        \
    "rule, pusher, full_name, tag_object, pr_number, pr_head_ref, pr_head_repo, pr_fork, "         \
    "pr_fetch_ref"

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

static void read_run(sw_stmt *stmt, struct wrk_run *run)
{
    memset(run, 0, sizeof(*run));
    snprintf(run->run_id, sizeof(run->run_id), "%s", sw_stmt_column_text(stmt, 0));
    run->repo = sw_db_column_dup(stmt, 1);
    run->trigger = sw_db_column_dup(stmt, 2);
    run->source_type = sw_db_column_dup(stmt, 3);
    run->source_ref = sw_db_column_dup(stmt, 4);
    run->commit_sha = sw_db_column_dup(stmt, 5);
    run->commit_message = sw_db_column_dup(stmt, 6);
    run->status = sw_db_column_dup(stmt, 7);
    run->attempts = sw_stmt_column_int(stmt, 8);
    run->cancel_requested = sw_stmt_column_int(stmt, 9);
    run->queued_at = sw_stmt_column_int64(stmt, 10);
    run->started_at = sw_stmt_column_int64(stmt, 11);
    run->finished_at = sw_stmt_column_int64(stmt, 12);
    run->digest = sw_db_column_dup(stmt, 13);
    const unsigned char *tags = sw_stmt_column_text(stmt, 14);
    run->tags = tags ? json_loads((const char *)tags, 0, NULL) : NULL;
    run->error = sw_db_column_dup(stmt, 15);
    run->rule = sw_stmt_column_int(stmt, 16);
    run->pusher = sw_db_column_dup(stmt, 17);
    run->full_name = sw_db_column_dup(stmt, 18);
    run->tag_object = sw_db_column_dup(stmt, 19);
    run->pr_number = sw_stmt_column_int64(stmt, 20);
    run->pr_head_ref = sw_db_column_dup(stmt, 21);
    run->pr_head_repo = sw_db_column_dup(stmt, 22);
    run->pr_fork = sw_stmt_column_int(stmt, 23);
    run->pr_fetch_ref = sw_db_column_dup(stmt, 24);
}

void wrk_run_release(struct wrk_run *run)
{
    if (run == NULL)
        return;
    free(run->repo);
    free(run->trigger);
    free(run->source_type);
    free(run->source_ref);
    free(run->commit_sha);
    free(run->commit_message);
    free(run->status);
    free(run->digest);
    json_decref(run->tags);
    free(run->error);
    free(run->pusher);
    free(run->tag_object);
    free(run->full_name);
    free(run->pr_head_ref);
    free(run->pr_head_repo);
    free(run->pr_fetch_ref);
    memset(run, 0, sizeof(*run));
}

int wrk_jobs_enqueue(sw_db *db, const struct wrk_run_request *req, char run_id[WRK_RUN_ID_MAX],
                     int *created, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc;
    *created = 0;
    /* the statements are prepared once per connection (cached): preparing
     * them was about a third of the time this transaction holds the write
     * lock, which every other delivery waits for (bench/README.md) */
    if ((rc = sw_db_begin(db, err)) != 0)
        return rc;

    if (req->delivery_id) {
        if ((rc = sw_db_prepare_cached(db, "SELECT run_id FROM runs WHERE delivery_id = ?", &stmt,
                                       err)) != 0)
            goto cleanup;
        sw_stmt_bind_text(stmt, 1, req->delivery_id, -1, SW_DB_STATIC);
        if (sw_stmt_step(stmt) == SW_DB_ROW) {
            snprintf(run_id, WRK_RUN_ID_MAX, "%s", sw_stmt_column_text(stmt, 0));
            sw_stmt_finalize(stmt);
            stmt = NULL;
            rc = sw_db_commit(db, err);
            goto cleanup;
        }
        sw_stmt_finalize(stmt);
        stmt = NULL;
    }

    /* a newer push to the same branch makes queued older ones pointless */
    if (strcmp(req->source_type, "branch") == 0) {
        if ((rc = sw_db_prepare_cached(db,
                                       "UPDATE runs SET status = 'superseded', finished_at = ?"
                                       " WHERE status = 'queued' AND repo = ? AND"
                                       " source_type = 'branch' AND source_ref = ? AND rule = ?",
                                       &stmt, err)) != 0)
            goto cleanup;
        sw_stmt_bind_int64(stmt, 1, now());
        sw_stmt_bind_text(stmt, 2, req->repo, -1, SW_DB_STATIC);
        sw_stmt_bind_text(stmt, 3, req->source_ref, -1, SW_DB_STATIC);
        sw_stmt_bind_int(stmt, 4, req->rule);
        rc = sw_db_step_done(db, stmt, "superseding queued runs", err);
        stmt = NULL;
        if (rc != 0)
            goto cleanup;
    }
    /* and a newer push to the same pull request */
    if (strcmp(req->source_type, "pull_request") == 0) {
        if ((rc = sw_db_prepare_cached(
                 db,
                 "UPDATE runs SET status = 'superseded', finished_at = ?"
                 " WHERE status = 'queued' AND repo = ? AND"
                 " source_type = 'pull_request' AND pr_number = ? AND rule = ?",
                 &stmt, err)) != 0)
            goto cleanup;
        sw_stmt_bind_int64(stmt, 1, now());
        sw_stmt_bind_text(stmt, 2, req->repo, -1, SW_DB_STATIC);
        sw_stmt_bind_int64(stmt, 3, req->pr_number);
        sw_stmt_bind_int(stmt, 4, req->rule);
        rc = sw_db_step_done(db, stmt, "superseding queued runs", err);
        stmt = NULL;
        if (rc != 0)
            goto cleanup;
    }

    /* the run id comes from the row id, known only after the insert */
    if ((rc = sw_db_prepare_cached(
             db,
             "INSERT INTO runs (run_id, repo, trigger, source_type,"
             " source_ref, commit_sha, commit_message, delivery_id, status,"
             " queued_at, rule, pusher, full_name, tag_object, pr_number,"
             " pr_head_ref, pr_head_repo, pr_fork, pr_fetch_ref)"
             " VALUES ('', ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?,"
             " ?, ?)",
             &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_text(stmt, 1, req->repo, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, req->trigger, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 3, req->source_type, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 4, req->source_ref, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 5, req->commit_sha, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 6, req->commit_message, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 7, req->delivery_id, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 8, now());
    sw_stmt_bind_int(stmt, 9, req->rule);
    sw_stmt_bind_text(stmt, 10, req->pusher, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 11, req->full_name, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 12, req->tag_object, -1, SW_DB_STATIC);
    if (req->pr_number > 0)
        sw_stmt_bind_int64(stmt, 13, req->pr_number);
    else
        sw_stmt_bind_null(stmt, 13);
    sw_stmt_bind_text(stmt, 14, req->pr_head_ref, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 15, req->pr_head_repo, -1, SW_DB_STATIC);
    sw_stmt_bind_int(stmt, 16, req->pr_fork ? 1 : 0);
    sw_stmt_bind_text(stmt, 17, req->pr_fetch_ref, -1, SW_DB_STATIC);
    rc = sw_db_step_done(db, stmt, "queueing a run", err);
    stmt = NULL;
    if (rc != 0)
        goto cleanup;
    int64_t id = sw_db_last_insert_id(db);
    wrk_run_id_format(req->id_prefix ? req->id_prefix : "ca", (uint64_t)id, run_id);
    if ((rc = sw_db_prepare_cached(db, "UPDATE runs SET run_id = ? WHERE id = ?", &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 2, id);
    rc = sw_db_step_done(db, stmt, "naming a run", err);
    stmt = NULL;
    /* delivered at commit: idle workers in every process wake up */
    if (rc == 0)
        rc = sw_db_notify(db, WRK_RUNS_CHANNEL, run_id, err);
    if (rc == 0 && (rc = sw_db_commit(db, err)) == 0)
        *created = 1;
cleanup:
    sw_stmt_finalize(stmt);
    if (rc != 0)
        sw_db_rollback(db);
    return rc;
}

int wrk_jobs_claim(sw_db *db, const char *owner, int lease_s, int max_attempts, struct wrk_run *out,
                   sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc;
    int64_t t = now();
    /* On PostgreSQL workers claim side by side: the SELECT below locks the
     * row it picks and skips rows other claimers hold (FOR UPDATE SKIP
     * LOCKED), instead of every claim waiting for sw_db_begin's one
     * writer lock. On SQLite both are BEGIN IMMEDIATE. */
    int pg = sw_db_kind_of(db) == SW_DB_POSTGRES;
    if ((rc = sw_db_begin_concurrent(db, err)) != 0)
        return rc;

    /* runs whose worker died too often: give up on them */
    if ((rc = sw_db_prepare(db,
                            "UPDATE runs SET status = 'failed', finished_at = ?,"
                            " error = 'the worker running it stopped responding ' ||"
                            " attempts || ' times', lease_owner = NULL"
                            " WHERE status = 'running' AND lease_expires_at < ? AND"
                            " attempts >= ?",
                            &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_int64(stmt, 1, t);
    sw_stmt_bind_int64(stmt, 2, t);
    sw_stmt_bind_int(stmt, 3, max_attempts);
    rc = sw_db_step_done(db, stmt, "failing abandoned runs", err);
    stmt = NULL;
    if (rc != 0)
        goto cleanup;

    if ((rc = sw_db_prepare(db,
                            pg ? "SELECT id FROM runs WHERE (status = 'queued' AND"
                                 " cancel_requested = 0) OR (status = 'running' AND"
                                 " lease_expires_at < ?) ORDER BY id LIMIT 1"
                                 " FOR UPDATE SKIP LOCKED"
                               : "SELECT id FROM runs WHERE (status = 'queued' AND"
                                 " cancel_requested = 0) OR (status = 'running' AND"
                                 " lease_expires_at < ?) ORDER BY id LIMIT 1",
                            &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_int64(stmt, 1, t);
    int step = sw_stmt_step(stmt);
    if (step != SW_DB_ROW) {
        rc = step == SW_DB_DONE ? SW_ENOTFOUND : sw_db_error(db, err, "claiming a run");
        if (rc == SW_ENOTFOUND)
            rc = sw_db_commit(db, err) == 0 ? SW_ENOTFOUND : SW_EDB;
        goto cleanup;
    }
    int64_t id = sw_stmt_column_int64(stmt, 0);
    sw_stmt_finalize(stmt);
    stmt = NULL;
    if ((rc = sw_db_prepare(db,
                            "UPDATE runs SET status = 'running', lease_owner = ?,"
                            " lease_expires_at = ?, attempts = attempts + 1,"
                            " started_at = COALESCE(started_at, ?) WHERE id = ?",
                            &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_text(stmt, 1, owner, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 2, t + lease_s);
    sw_stmt_bind_int64(stmt, 3, t);
    sw_stmt_bind_int64(stmt, 4, id);
    rc = sw_db_step_done(db, stmt, "claiming a run", err);
    stmt = NULL;
    if (rc != 0)
        goto cleanup;
    if ((rc = sw_db_prepare(db, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_int64(stmt, 1, id);
    if (sw_stmt_step(stmt) != SW_DB_ROW) {
        rc = sw_db_error(db, err, "reading the claimed run");
        goto cleanup;
    }
    read_run(stmt, out);
    rc = sw_db_commit(db, err);
    if (rc != 0)
        wrk_run_release(out);
cleanup:
    sw_stmt_finalize(stmt);
    if (rc != 0)
        sw_db_rollback(db);
    return rc;
}

int wrk_jobs_renew(sw_db *db, const char *run_id, const char *owner, int lease_s, int *cancel,
                   sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "UPDATE runs SET lease_expires_at = ? WHERE run_id = ? AND"
                           " lease_owner = ? AND status = 'running'"
                           " RETURNING cancel_requested",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, now() + lease_s);
    sw_stmt_bind_text(stmt, 2, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 3, owner, -1, SW_DB_STATIC);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW) {
        *cancel = sw_stmt_column_int(stmt, 0);
        step = sw_stmt_step(stmt);
    } else if (step == SW_DB_DONE) {
        rc = sw_error_set(err, SW_ECONFLICT, "run %s is no longer held by %s", run_id, owner);
    }
    if (rc == 0 && step != SW_DB_DONE)
        rc = sw_db_error(db, err, "renewing a lease");
    sw_stmt_finalize(stmt);
    return rc;
}

int wrk_jobs_finish(sw_db *db, const char *run_id, const char *owner, const char *status,
                    const char *digest, json_t *tags, const char *error, sw_error **err)
{
    sw_stmt *stmt = NULL;
    char *tags_text = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
    int rc = sw_db_prepare(db,
                           "UPDATE runs SET status = ?, finished_at = ?, digest = ?,"
                           " tags = ?, error = ?, lease_owner = NULL"
                           " WHERE run_id = ? AND lease_owner = ? AND status = 'running'",
                           &stmt, err);
    if (rc != 0) {
        free(tags_text);
        return rc;
    }
    sw_stmt_bind_text(stmt, 1, status, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 2, now());
    sw_stmt_bind_text(stmt, 3, digest, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 4, tags_text, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 5, error, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 6, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 7, owner, -1, SW_DB_STATIC);
    if (sw_stmt_step(stmt) != SW_DB_DONE)
        rc = sw_db_error(db, err, "finishing a run");
    else if (sw_db_changes(db) == 0)
        rc = sw_error_set(err, SW_ECONFLICT, "run %s is no longer held by %s", run_id, owner);
    sw_stmt_finalize(stmt);
    free(tags_text);
    return rc;
}

int wrk_jobs_cancel(sw_db *db, const char *run_id, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_begin(db, err);
    if (rc != 0)
        return rc;
    if ((rc = sw_db_prepare(db, "SELECT status FROM runs WHERE run_id = ?", &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    if (sw_stmt_step(stmt) != SW_DB_ROW) {
        rc = sw_error_set(err, SW_ENOTFOUND, "run %s does not exist", run_id);
        goto cleanup;
    }
    char status[16];
    snprintf(status, sizeof(status), "%s", sw_stmt_column_text(stmt, 0));
    sw_stmt_finalize(stmt);
    stmt = NULL;
    const char *sql;
    if (strcmp(status, "queued") == 0)
        sql = "UPDATE runs SET status = 'canceled', finished_at = ? WHERE run_id = ?";
    else if (strcmp(status, "running") == 0)
        sql = "UPDATE runs SET cancel_requested = 1 WHERE run_id = ?";
    else {
        rc = sw_error_set(err, SW_ECONFLICT, "run %s has already finished (%s)", run_id, status);
        goto cleanup;
    }
    if ((rc = sw_db_prepare(db, sql, &stmt, err)) != 0)
        goto cleanup;
    if (strcmp(status, "queued") == 0) {
        sw_stmt_bind_int64(stmt, 1, now());
        sw_stmt_bind_text(stmt, 2, run_id, -1, SW_DB_STATIC);
    } else {
        sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    }
    rc = sw_db_step_done(db, stmt, "canceling a run", err);
    stmt = NULL;
    if (rc == 0)
        rc = sw_db_commit(db, err);
cleanup:
    sw_stmt_finalize(stmt);
    if (rc != 0)
        sw_db_rollback(db);
    return rc;
}

int wrk_jobs_get(sw_db *db, const char *run_id, struct wrk_run *out, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "SELECT " RUN_COLUMNS " FROM runs WHERE run_id = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW)
        read_run(stmt, out);
    else if (step == SW_DB_DONE)
        rc = sw_error_set(err, SW_ENOTFOUND, "run %s does not exist", run_id);
    else
        rc = sw_db_error(db, err, "reading a run");
    sw_stmt_finalize(stmt);
    return rc;
}

int wrk_jobs_list(sw_db *db, const char *repo, const char *status, int64_t before, int limit,
                  struct wrk_run **runs, size_t *n, sw_error **err)
{
    sw_stmt *stmt = NULL;
    struct wrk_run *list = NULL;
    size_t count = 0, cap = 0;
    /* only the filters asked for, so each query is planned on its index
     * (runs_repo, runs_queue or the primary key), never a catch-all scan */
    char sql[1024];
    int len = snprintf(sql, sizeof(sql),
                       "SELECT " RUN_COLUMNS " FROM runs WHERE 1 = 1%s%s%s"
                       " ORDER BY id DESC LIMIT ?4",
                       repo ? " AND repo = ?1" : "", status ? " AND status = ?2" : "",
                       before > 0 ? " AND id < ?3" : "");
    if (len < 0 || len >= (int)sizeof(sql))
        return sw_error_set(err, SW_EINVAL, "listing runs: query too long");
    int rc = sw_db_prepare(db, sql, &stmt, err);
    if (rc != 0)
        return rc;
    if (repo)
        sw_stmt_bind_text(stmt, 1, repo, -1, SW_DB_STATIC);
    if (status)
        sw_stmt_bind_text(stmt, 2, status, -1, SW_DB_STATIC);
    if (before > 0)
        sw_stmt_bind_int64(stmt, 3, before);
    sw_stmt_bind_int(stmt, 4, limit > 0 ? limit : 50);
    int step;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            struct wrk_run *bigger = realloc(list, cap * sizeof(*bigger));
            if (bigger == NULL) {
                rc = sw_error_oom(err);
                break;
            }
            list = bigger;
        }
        read_run(stmt, &list[count++]);
    }
    if (rc == 0 && step != SW_DB_DONE)
        rc = sw_db_error(db, err, "listing runs");
    sw_stmt_finalize(stmt);
    if (rc != 0) {
        for (size_t i = 0; i < count; i++)
            wrk_run_release(&list[i]);
        free(list);
        return rc;
    }
    *runs = list;
    *n = count;
    return 0;
}

int wrk_jobs_counts(sw_db *db, const char *repo, int *queued, int *running, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "SELECT COUNT(CASE WHEN status = 'queued' THEN 1 END),"
                           " COUNT(CASE WHEN status = 'running' THEN 1 END) FROM runs WHERE"
                           " status IN ('queued', 'running') AND (?1 IS NULL OR repo = ?1)",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, repo, -1, SW_DB_STATIC);
    if (sw_stmt_step(stmt) == SW_DB_ROW) {
        *queued = sw_stmt_column_int(stmt, 0);
        *running = sw_stmt_column_int(stmt, 1);
    } else {
        rc = sw_db_error(db, err, "counting runs");
    }
    sw_stmt_finalize(stmt);
    return rc;
}

int wrk_jobs_set_commit(sw_db *db, const char *run_id, const char *sha, const char *message,
                        sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "UPDATE runs SET commit_sha = ?, commit_message = ?"
                           " WHERE run_id = ?",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, sha, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, message, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 3, run_id, -1, SW_DB_STATIC);
    return sw_db_step_done(db, stmt, "recording a run's commit", err);
}

int wrk_jobs_set_tag_object(sw_db *db, const char *run_id, const char *tag_object, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "UPDATE runs SET tag_object = ? WHERE run_id = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, tag_object, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, run_id, -1, SW_DB_STATIC);
    return sw_db_step_done(db, stmt, "recording a run's tag object", err);
}

/* ---- steps ---------------------------------------------------------------- */

int wrk_jobs_steps_clear(sw_db *db, const char *run_id, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "DELETE FROM run_steps WHERE run_id = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    return sw_db_step_done(db, stmt, "clearing a run's steps", err);
}

int wrk_jobs_step_start(sw_db *db, const char *run_id, int index, int total,
                        const char *instruction, int line, int64_t started_ms, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO run_steps (run_id, idx, total, instruction, line,"
                           " status, started_ms) VALUES (?, ?, ?, ?, ?, 'running', ?)"
                           " ON CONFLICT (run_id, idx) DO UPDATE SET total = excluded.total,"
                           " instruction = excluded.instruction, line = excluded.line,"
                           " cached = 0, status = 'running', started_ms = excluded.started_ms,"
                           " finished_ms = NULL, exit_code = NULL",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_int(stmt, 2, index);
    sw_stmt_bind_int(stmt, 3, total);
    sw_stmt_bind_text(stmt, 4, instruction, -1, SW_DB_STATIC);
    sw_stmt_bind_int(stmt, 5, line);
    sw_stmt_bind_int64(stmt, 6, started_ms);
    return sw_db_step_done(db, stmt, "recording a step", err);
}

int wrk_jobs_step_end(sw_db *db, const char *run_id, int index, int failed, int cached,
                      int64_t finished_ms, int exit_code, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "UPDATE run_steps SET status = ?, cached = ?, finished_ms = ?,"
                           " exit_code = ? WHERE run_id = ? AND idx = ?",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, failed ? "failed" : "succeeded", -1, SW_DB_STATIC);
    sw_stmt_bind_int(stmt, 2, cached);
    sw_stmt_bind_int64(stmt, 3, finished_ms);
    if (exit_code >= 0)
        sw_stmt_bind_int(stmt, 4, exit_code);
    else
        sw_stmt_bind_null(stmt, 4);
    sw_stmt_bind_text(stmt, 5, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_int(stmt, 6, index);
    return sw_db_step_done(db, stmt, "recording a step", err);
}

int wrk_jobs_steps(sw_db *db, const char *run_id, json_t **steps, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "SELECT idx, total, instruction, line, cached, status,"
                           " started_ms, finished_ms, exit_code, platform FROM run_steps"
                           " WHERE run_id = ? ORDER BY idx",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    json_t *list = json_array();
    int step;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        json_t *s = json_pack("{s:i, s:i, s:s, s:i, s:b, s:s}", "index",
                              sw_stmt_column_int(stmt, 0), "total", sw_stmt_column_int(stmt, 1),
                              "instruction", (const char *)sw_stmt_column_text(stmt, 2), "line",
                              sw_stmt_column_int(stmt, 3), "cached", sw_stmt_column_int(stmt, 4),
                              "status", (const char *)sw_stmt_column_text(stmt, 5));
        int64_t started = sw_stmt_column_int64(stmt, 6);
        if (sw_stmt_column_type(stmt, 7) != SW_DB_NULL)
            json_object_set_new(
                s, "duration_seconds",
                json_real((double)(sw_stmt_column_int64(stmt, 7) - started) / 1000.0));
        else
            json_object_set_new(s, "duration_seconds", json_null());
        if (sw_stmt_column_type(stmt, 8) != SW_DB_NULL)
            json_object_set_new(s, "exit_code", json_integer(sw_stmt_column_int(stmt, 8)));
        /* a step of a multi-platform run: idx is 1000 * platform + index */
        const char *platform = (const char *)sw_stmt_column_text(stmt, 9);
        if (platform) {
            json_object_set_new(s, "index", json_integer(sw_stmt_column_int(stmt, 0) % 1000));
            json_object_set_new(s, "platform", json_string(platform));
        }
        json_array_append_new(list, s);
    }
    if (step != SW_DB_DONE) {
        rc = sw_db_error(db, err, "reading a run's steps");
        json_decref(list);
    } else {
        *steps = list;
    }
    sw_stmt_finalize(stmt);
    return rc;
}

int wrk_jobs_release(sw_db *db, const char *run_id, const char *owner, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "UPDATE runs SET status = 'queued', lease_owner = NULL,"
                           " lease_expires_at = NULL, attempts = MAX(attempts - 1, 0)"
                           " WHERE run_id = ? AND lease_owner = ? AND status = 'running'",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, owner, -1, SW_DB_STATIC);
    if ((rc = sw_db_step_done(db, stmt, "releasing a run", err)) != 0)
        return rc;
    /* another worker (of another process, maybe) takes it now */
    return sw_db_notify(db, WRK_RUNS_CHANNEL, run_id, err);
}

int wrk_jobs_next_expiry(sw_db *db, int64_t *at, int *queued, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(
        db,
        "SELECT (SELECT MIN(lease_expires_at) FROM runs WHERE status = 'running'),"
        " EXISTS (SELECT 1 FROM runs WHERE status = 'queued' AND cancel_requested = 0)",
        &stmt, err);
    if (rc != 0)
        return rc;
    *at = 0;
    if (queued)
        *queued = 0;
    if (sw_stmt_step(stmt) == SW_DB_ROW) {
        *at = sw_stmt_column_int64(stmt, 0);
        if (queued)
            *queued = sw_stmt_column_int64(stmt, 1) != 0;
    } else
        rc = sw_db_error(db, err, "reading the next lease expiry");
    sw_stmt_finalize(stmt);
    return rc;
}

/* ---- retention --------------------------------------------------------------- */

#define PRUNABLE                                                                                   \
    "SELECT run_id FROM runs WHERE finished_at IS NOT NULL AND finished_at < ?1"                   \
    " AND status NOT IN ('queued', 'running')"                                                     \
    " AND id < (SELECT MAX(id) FROM runs)"                                                         \
    " AND run_id NOT IN (SELECT run_id FROM tag_runs)"

int wrk_jobs_prune(sw_db *db, int64_t before, char ***ids, size_t *n, sw_error **err)
{
    sw_stmt *stmt = NULL;
    char **list = NULL;
    size_t count = 0, cap = 0;
    int rc = sw_db_begin(db, err);
    *ids = NULL;
    *n = 0;
    if (rc != 0)
        return rc;
    if ((rc = sw_db_prepare(db, PRUNABLE, &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_int64(stmt, 1, before);
    int step;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(list, cap * sizeof(*list));
            SW_CHECK_ALLOC(grown, rc, err, cleanup);
            list = grown;
        }
        if ((list[count] = sw_db_column_dup(stmt, 0)) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        count++;
    }
    if (step != SW_DB_DONE) {
        rc = sw_db_error(db, err, "finding old runs");
        goto cleanup;
    }
    sw_stmt_finalize(stmt);
    stmt = NULL;
    static const char *const deletes[] = {
        "DELETE FROM run_steps WHERE run_id IN (" PRUNABLE ")",
        "DELETE FROM deliveries WHERE run_id IN (" PRUNABLE ")",
        "DELETE FROM runs WHERE run_id IN (" PRUNABLE ")",
    };
    for (size_t i = 0; i < sizeof(deletes) / sizeof(deletes[0]); i++) {
        if ((rc = sw_db_prepare(db, deletes[i], &stmt, err)) != 0)
            goto cleanup;
        sw_stmt_bind_int64(stmt, 1, before);
        rc = sw_db_step_done(db, stmt, "deleting old runs", err);
        stmt = NULL;
        if (rc != 0)
            goto cleanup;
    }
    rc = sw_db_commit(db, err);
cleanup:
    sw_stmt_finalize(stmt);
    if (rc != 0) {
        sw_db_rollback(db);
        for (size_t i = 0; i < count; i++)
            free(list[i]);
        free(list);
        return rc;
    }
    *ids = list;
    *n = count;
    return 0;
}

/* ---- workers ---------------------------------------------------------------- */

int wrk_workers_heartbeat(sw_db *db, const char *name, int threads, sw_error **err)
{
    sw_stmt *stmt = NULL;
    /* entries of processes that died without a word (SIGKILL, a crash) go
     * after a day, so the table does not grow with every one */
    int rc = sw_db_prepare(db, "DELETE FROM workers WHERE last_seen < ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, now() - 86400);
    if ((rc = sw_db_step_done(db, stmt, "forgetting dead workers", err)) != 0)
        return rc;
    rc = sw_db_prepare(db,
                       "INSERT INTO workers (name, pid, threads, started_at, last_seen)"
                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
                       " threads = excluded.threads, last_seen = excluded.last_seen",
                       &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, name, -1, SW_DB_STATIC);
    sw_stmt_bind_int(stmt, 2, (int)getpid());
    sw_stmt_bind_int(stmt, 3, threads);
    sw_stmt_bind_int64(stmt, 4, now());
    sw_stmt_bind_int64(stmt, 5, now());
    return sw_db_step_done(db, stmt, "registering a worker", err);
}

int wrk_workers_gone(sw_db *db, const char *name, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "DELETE FROM workers WHERE name = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, name, -1, SW_DB_STATIC);
    return sw_db_step_done(db, stmt, "unregistering a worker", err);
}

/* On SQLite every worker runs on this machine (the database is a local
 * file): a process that is gone is gone at once, not only when its entry
 * gets old. On PostgreSQL workers run on other machines, where a pid
 * means nothing here: only last_seen counts. */
static int worker_process_gone(sw_db *db, pid_t pid)
{
    return sw_db_kind_of(db) == SW_DB_SQLITE && pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

int wrk_workers_count(sw_db *db, int max_age, int *processes, int *threads, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "SELECT pid, threads FROM workers WHERE last_seen >= ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, now() - max_age);
    *processes = *threads = 0;
    int step;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        if (worker_process_gone(db, (pid_t)sw_stmt_column_int(stmt, 0)))
            continue;
        (*processes)++;
        *threads += sw_stmt_column_int(stmt, 1);
    }
    if (step != SW_DB_DONE)
        rc = sw_db_error(db, err, "counting workers");
    sw_stmt_finalize(stmt);
    return rc;
}

int wrk_jobs_step_platform(sw_db *db, const char *run_id, int index, const char *platform,
                           sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "UPDATE run_steps SET platform = ? WHERE run_id = ? AND idx = ?",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, platform, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, run_id, -1, SW_DB_STATIC);
    sw_stmt_bind_int(stmt, 3, index);
    return sw_db_step_done(db, stmt, "recording a step's platform", err);
}

int wrk_workers_set_platforms(sw_db *db, const char *name, const char *platforms, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "UPDATE workers SET platforms = ? WHERE name = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, platforms, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, name, -1, SW_DB_STATIC);
    return sw_db_step_done(db, stmt, "recording a worker's platforms", err);
}

int wrk_workers_list(sw_db *db, int max_age, json_t **out, sw_error **err)
{
    sw_stmt *stmt = NULL;
    *out = NULL;
    int rc = sw_db_prepare(db,
                           "SELECT name, pid, threads, platforms FROM workers"
                           " WHERE last_seen >= ? ORDER BY name",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, now() - max_age);
    json_t *list = json_array();
    int step;
    while (list && (step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        if (worker_process_gone(db, (pid_t)sw_stmt_column_int(stmt, 1)))
            continue;
        json_t *platforms = json_array();
        const char *text = (const char *)sw_stmt_column_text(stmt, 3);
        while (platforms && text && *text) {
            size_t n = strcspn(text, ",");
            json_array_append_new(platforms, json_stringn(text, n));
            text += n;
            text += strspn(text, ", ");
        }
        json_array_append_new(list, json_pack("{s:s, s:i, s:o*}", "name",
                                              (const char *)sw_stmt_column_text(stmt, 0), "threads",
                                              sw_stmt_column_int(stmt, 2), "platforms", platforms));
    }
    if (list == NULL)
        rc = sw_error_oom(err);
    else if (step != SW_DB_DONE)
        rc = sw_db_error(db, err, "listing workers");
    sw_stmt_finalize(stmt);
    if (rc == 0)
        *out = list;
    else
        json_decref(list);
    return rc;
}
