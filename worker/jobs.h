/*
 * jobs.h - the durable build queue: runs in SQLite, claimed by workers
 * with a lease they renew.
 *
 * States: queued -> running -> succeeded | failed | canceled; a queued run
 * becomes superseded when a newer push to the same branch of the same
 * repository is queued. A running run whose lease expired (its worker
 * died) is claimed again, up to max_attempts; after that it fails.
 *
 * This file is the worker's data-access module for runs: all of that SQL
 * lives in jobs.c.
 */
#ifndef WRK_JOBS_H
#define WRK_JOBS_H

#include <jansson.h>
#include "core/db.h"
#include <stdint.h>

#include "core/error.h"

#define WRK_RUN_ID_MAX 32

struct wrk_run_request {
    const char *repo;           /* image repository name from the config */
    const char *trigger;        /* "push", "manual", "base-image", "timer" */
    const char *source_type;    /* "branch", "tag", "commit" */
    const char *source_ref;     /* branch or tag name (or the sha for "commit") */
    const char *commit_sha;     /* may be NULL (resolved by the worker) */
    const char *commit_message; /* may be NULL */
    const char *delivery_id;    /* webhook delivery id for deduplication, or NULL */
    const char *id_prefix;      /* run id prefix, e.g. "ca" */
    int rule;                   /* index of the build rule in the repository's rules */
    const char *pusher;         /* who pushed (webhook), or NULL */
    const char *full_name;      /* the forge's "owner/name", or NULL */
    const char *tag_object;     /* an annotated tag's object id, when known, or NULL */
    /* source_type "pull_request" (source_ref is the target branch, commit_sha
     * the head commit): */
    long long pr_number;      /* the pull/merge request's number (GitLab: iid) */
    const char *pr_head_ref;  /* its head branch, as the forge named it */
    const char *pr_head_repo; /* the head repository's owner/name, or NULL */
    int pr_fork;              /* the head repository is not the base one */
    const char *pr_fetch_ref; /* refs/pull/N/head or refs/merge-requests/N/head */
};

struct wrk_run {
    char run_id[WRK_RUN_ID_MAX];
    char *repo, *trigger, *source_type, *source_ref, *commit_sha, *commit_message;
    char *status;
    int attempts;
    int cancel_requested;
    int64_t queued_at, started_at, finished_at; /* 0 when not yet */
    char *digest;                               /* NULL until succeeded */
    json_t *tags;                               /* array, or NULL */
    char *error;                                /* NULL unless failed */
    int rule;                                   /* index of the build rule */
    char *pusher, *full_name;                   /* from the webhook, or NULL */
    char *tag_object;    /* the annotated tag object pushed (commit_sha is its commit), or NULL */
    long long pr_number; /* source_type "pull_request": as in wrk_run_request */
    char *pr_head_ref, *pr_head_repo, *pr_fetch_ref;
    int pr_fork;
};

void wrk_run_release(struct wrk_run *run);

/* The notification channel (core/db.h) on which a run becoming claimable
 * is announced: queued (wrk_jobs_enqueue), given back (wrk_jobs_release).
 * The payload is the run id. Idle workers wait on it. */
#define WRK_RUNS_CHANNEL "sw_runs"

/* Queues a run in one transaction (a delivery id seen before queues
 * nothing: *created = 0 and run_id gets the existing run's id). Queued
 * runs of the same repository, branch and rule become superseded (of a
 * pull request: of the same pull request and rule). */
int wrk_jobs_enqueue(sw_db *db, const struct wrk_run_request *req, char run_id[WRK_RUN_ID_MAX],
                     int *created, sw_error **err);

/* Claims the oldest claimable run for worker `owner` with a lease of
 * lease_s seconds: a queued one, or a running one whose lease expired.
 * SW_ENOTFOUND when there is none. Runs whose lease expired after
 * max_attempts attempts are failed on the way. */
int wrk_jobs_claim(sw_db *db, const char *owner, int lease_s, int max_attempts, struct wrk_run *out,
                   sw_error **err);

/* When the first lease of a running run expires (seconds since the
 * epoch; 0 when no run is running): an idle worker looks again then, since
 * nothing announces an expiry. *queued (may be NULL) is set when a run is
 * queued: one another worker is claiming right now (its row locked, so
 * this worker's claim skipped it, and its lease not visible yet). */
int wrk_jobs_next_expiry(sw_db *db, int64_t *at, int *queued, sw_error **err);

/* Extends the lease; *cancel is set when a cancel was requested.
 * SW_ECONFLICT when the lease is no longer ours (it expired and another
 * worker took the run): the caller must stop. */
int wrk_jobs_renew(sw_db *db, const char *run_id, const char *owner, int lease_s, int *cancel,
                   sw_error **err);

/* Records the end of a run we hold: status "succeeded", "failed" or
 * "canceled"; digest and tags (a JSON array) on success; error otherwise. */
int wrk_jobs_finish(sw_db *db, const char *run_id, const char *owner, const char *status,
                    const char *digest, json_t *tags, const char *error, sw_error **err);

/* Gives a run we hold back to the queue (the worker is shutting down):
 * queued again, this attempt not counted. */
int wrk_jobs_release(sw_db *db, const char *run_id, const char *owner, sw_error **err);

/* Cancels a run: a queued one at once, a running one by request (its
 * worker stops the container). SW_ENOTFOUND for an unknown run;
 * SW_ECONFLICT when it has finished already. */
int wrk_jobs_cancel(sw_db *db, const char *run_id, sw_error **err);

int wrk_jobs_get(sw_db *db, const char *run_id, struct wrk_run *out, sw_error **err);

/* Runs newest first, optionally of one repository and/or one status, and
 * only those older than the run whose counter is `before` (0: from the
 * newest), at most limit. *runs is an array of *n runs; free each with
 * wrk_run_release and the array with free. */
int wrk_jobs_list(sw_db *db, const char *repo, const char *status, int64_t before, int limit,
                  struct wrk_run **runs, size_t *n, sw_error **err);

/* Records the commit a run builds once the worker has resolved it (a
 * manual run names only a branch). */
int wrk_jobs_set_commit(sw_db *db, const char *run_id, const char *sha, const char *message,
                        sw_error **err);

/* Records the annotated tag object a run's push named (its commit is the
 * run's commit_sha). */
int wrk_jobs_set_tag_object(sw_db *db, const char *run_id, const char *tag_object, sw_error **err);

/* ---- steps ---------------------------------------------------------------- */

/* Forgets the steps of an earlier attempt of a run. */
int wrk_jobs_steps_clear(sw_db *db, const char *run_id, sw_error **err);
/* A step started (status running). */
int wrk_jobs_step_start(sw_db *db, const char *run_id, int index, int total,
                        const char *instruction, int line, int64_t started_ms, sw_error **err);
/* A step ended: succeeded or failed (exit_code < 0: none). */
int wrk_jobs_step_end(sw_db *db, const char *run_id, int index, int failed, int cached,
                      int64_t finished_ms, int exit_code, sw_error **err);
/* Marks step index (1000 * platform position + step, see migration 0012)
 * as built for platform, in a multi-platform run. */
int wrk_jobs_step_platform(sw_db *db, const char *run_id, int index, const char *platform,
                           sw_error **err);
/* The steps of a run as a JSON array in the API's shape (docs/api.md). */
int wrk_jobs_steps(sw_db *db, const char *run_id, json_t **steps, sw_error **err);

/* ---- retention --------------------------------------------------------------- */

/* Deletes runs that finished before `before` (seconds since the epoch),
 * with their steps and deliveries, in one transaction. Kept whatever their
 * age: the newest run (run ids come from the row id and must never start
 * over) and runs that pushed a tag still recorded in tag_runs (the image
 * pages link to them). *ids gets the deleted run ids (malloc'd array of
 * malloc'd strings, *n of them) so their log files can go too. */
int wrk_jobs_prune(sw_db *db, int64_t before, char ***ids, size_t *n, sw_error **err);

/* ---- workers ---------------------------------------------------------------- */

/* Registers (or refreshes) a worker process with its thread count. */
int wrk_workers_heartbeat(sw_db *db, const char *name, int threads, sw_error **err);
/* Removes a worker process that stops. */
int wrk_workers_gone(sw_db *db, const char *name, sw_error **err);
/* Worker processes and their threads seen within max_age seconds. */
int wrk_workers_count(sw_db *db, int max_age, int *processes, int *threads, sw_error **err);
/* What a worker process can run ("linux/amd64, linux/arm64"). */
int wrk_workers_set_platforms(sw_db *db, const char *name, const char *platforms, sw_error **err);
/* The live worker processes as [{name, threads, platforms: [...]}]. */
int wrk_workers_list(sw_db *db, int max_age, json_t **out, sw_error **err);

/* Number of queued runs, and of running ones, of one repository (NULL: all). */
int wrk_jobs_counts(sw_db *db, const char *repo, int *queued, int *running, sw_error **err);

#endif
