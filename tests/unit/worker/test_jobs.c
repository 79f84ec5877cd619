/*
 * test_jobs.c - worker/jobs.c: the run queue's states, leases, retries,
 * deduplication, superseding, and that concurrent workers never claim the
 * same run.
 */
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/jobs.h"

static char *dir;
static char *db_path;

static sw_db *open_db(void)
{
    sw_db *db = NULL;
    sw_error *err = NULL;
    if (sw_db_open(db_path, 1, &db, &err) != 0) {
        fprintf(stderr, "%s\n", sw_error_message(err));
        abort();
    }
    return db;
}

static void push(sw_db *db, const char *branch, const char *delivery, char run_id[WRK_RUN_ID_MAX],
                 int *created)
{
    struct wrk_run_request req = { .repo = "demo/app",
                                   .trigger = "push",
                                   .source_type = "branch",
                                   .source_ref = branch,
                                   .commit_sha = "0123456789012345678901234567890123456789",
                                   .commit_message = "a change",
                                   .delivery_id = delivery,
                                   .id_prefix = "ca" };
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_jobs_enqueue(db, &req, run_id, created, &err), 0);
    sw_error_clear(&err);
}

static void test_enqueue_dedup_and_supersede(void)
{
    sw_db *db = open_db();
    char a[WRK_RUN_ID_MAX], b[WRK_RUN_ID_MAX], c[WRK_RUN_ID_MAX], d[WRK_RUN_ID_MAX];
    int created = 0;
    push(db, "main", "delivery-1", a, &created);
    CHECK_INT_EQ(created, 1);
    CHECK_STR_EQ(a, "ca1");
    push(db, "main", "delivery-1", b, &created); /* a redelivery */
    CHECK_INT_EQ(created, 0);
    CHECK_STR_EQ(b, "ca1");
    push(db, "dev", "delivery-2", c, &created);
    CHECK_STR_EQ(c, "ca2");
    push(db, "main", "delivery-3", d, &created); /* supersedes ca1, not ca2 */
    CHECK_STR_EQ(d, "ca3");
    struct wrk_run run;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_jobs_get(db, "ca1", &run, &err), 0);
    CHECK_STR_EQ(run.status, "superseded");
    wrk_run_release(&run);
    CHECK_INT_EQ(wrk_jobs_get(db, "ca2", &run, &err), 0);
    CHECK_STR_EQ(run.status, "queued");
    CHECK_STR_EQ(run.source_ref, "dev");
    wrk_run_release(&run);
    CHECK_INT_EQ(wrk_jobs_get(db, "nope", &run, &err), SW_ENOTFOUND);
    CHECK(strstr(sw_error_message(err), "run nope does not exist") != NULL);
    sw_error_clear(&err);
    int queued = -1, running = -1;
    CHECK_INT_EQ(wrk_jobs_counts(db, NULL, &queued, &running, &err), 0);
    CHECK_INT_EQ(queued, 2);
    CHECK_INT_EQ(running, 0);
    sw_db_close(db);
}

static void test_claim_lease_finish(void)
{
    sw_db *db = open_db();
    struct wrk_run run;
    sw_error *err = NULL;
    /* an idle worker sees claimable runs before anyone holds a lease */
    int64_t at = -1;
    int queued = -1;
    CHECK_INT_EQ(wrk_jobs_next_expiry(db, &at, &queued, &err), 0);
    CHECK_INT_EQ(at, 0);
    CHECK_INT_EQ(queued, 1);
    /* oldest first: ca2 (dev), then ca3 (main) */
    CHECK_INT_EQ(wrk_jobs_claim(db, "w1", 60, 3, &run, &err), 0);
    CHECK_STR_EQ(run.run_id, "ca2");
    CHECK_STR_EQ(run.status, "running");
    CHECK_INT_EQ(run.attempts, 1);
    wrk_run_release(&run);
    /* and, once claimed, when its lease ends */
    CHECK_INT_EQ(wrk_jobs_next_expiry(db, &at, &queued, &err), 0);
    CHECK(at >= (int64_t)time(NULL) + 50 && at <= (int64_t)time(NULL) + 61);
    CHECK_INT_EQ(queued, 1); /* ca3 */
    int cancel = -1;
    CHECK_INT_EQ(wrk_jobs_renew(db, "ca2", "w1", 60, &cancel, &err), 0);
    CHECK_INT_EQ(cancel, 0);
    CHECK_INT_EQ(wrk_jobs_renew(db, "ca2", "w2", 60, &cancel, &err), SW_ECONFLICT);
    sw_error_clear(&err);
    json_t *tags = json_pack("[s, s]", "latest", "ca2");
    CHECK_INT_EQ(wrk_jobs_finish(db, "ca2", "w1", "succeeded", "sha256:abc", tags, NULL, &err), 0);
    json_decref(tags);
    CHECK_INT_EQ(wrk_jobs_get(db, "ca2", &run, &err), 0);
    CHECK_STR_EQ(run.status, "succeeded");
    CHECK_STR_EQ(run.digest, "sha256:abc");
    CHECK_INT_EQ(json_array_size(run.tags), 2);
    CHECK(run.finished_at >= run.started_at && run.started_at >= run.queued_at);
    wrk_run_release(&run);
    /* finishing twice is refused */
    CHECK_INT_EQ(wrk_jobs_finish(db, "ca2", "w1", "failed", NULL, NULL, "x", &err), SW_ECONFLICT);
    sw_error_clear(&err);
    sw_db_close(db);
}

static void test_expired_lease_is_retried_then_failed(void)
{
    sw_db *db = open_db();
    struct wrk_run run;
    sw_error *err = NULL;
    /* a lease of -1 s has expired at once: the worker "died" */
    CHECK_INT_EQ(wrk_jobs_claim(db, "dying", -1, 2, &run, &err), 0);
    CHECK_STR_EQ(run.run_id, "ca3");
    wrk_run_release(&run);
    CHECK_INT_EQ(wrk_jobs_claim(db, "second", -1, 2, &run, &err), 0);
    CHECK_STR_EQ(run.run_id, "ca3"); /* taken again */
    CHECK_INT_EQ(run.attempts, 2);
    wrk_run_release(&run);
    int cancel = 0;
    CHECK_INT_EQ(wrk_jobs_renew(db, "ca3", "dying", 60, &cancel, &err), SW_ECONFLICT);
    sw_error_clear(&err);
    /* two attempts used up: the next claim fails it and finds nothing */
    CHECK_INT_EQ(wrk_jobs_claim(db, "third", 60, 2, &run, &err), SW_ENOTFOUND);
    CHECK_INT_EQ(wrk_jobs_get(db, "ca3", &run, &err), 0);
    CHECK_STR_EQ(run.status, "failed");
    CHECK(run.error && strstr(run.error, "stopped responding 2 times") != NULL);
    wrk_run_release(&run);
    sw_db_close(db);
}

static void test_cancel(void)
{
    sw_db *db = open_db();
    char id[WRK_RUN_ID_MAX], id2[WRK_RUN_ID_MAX];
    int created;
    sw_error *err = NULL;
    push(db, "c1", NULL, id, &created);
    push(db, "c2", NULL, id2, &created);
    CHECK_INT_EQ(wrk_jobs_cancel(db, id, &err), 0);
    struct wrk_run run;
    CHECK_INT_EQ(wrk_jobs_get(db, id, &run, &err), 0);
    CHECK_STR_EQ(run.status, "canceled");
    wrk_run_release(&run);
    CHECK_INT_EQ(wrk_jobs_claim(db, "w", 60, 3, &run, &err), 0);
    CHECK_STR_EQ(run.run_id, id2); /* the canceled one is skipped */
    wrk_run_release(&run);
    CHECK_INT_EQ(wrk_jobs_cancel(db, id2, &err), 0);
    int cancel = 0;
    CHECK_INT_EQ(wrk_jobs_renew(db, id2, "w", 60, &cancel, &err), 0);
    CHECK_INT_EQ(cancel, 1); /* the worker learns it should stop */
    CHECK_INT_EQ(wrk_jobs_finish(db, id2, "w", "canceled", NULL, NULL, "canceled", &err), 0);
    CHECK_INT_EQ(wrk_jobs_cancel(db, id2, &err), SW_ECONFLICT);
    sw_error_clear(&err);
    struct wrk_run *runs = NULL;
    size_t n = 0;
    CHECK_INT_EQ(wrk_jobs_list(db, "demo/app", "canceled", 0, 10, &runs, &n, &err), 0);
    CHECK_INT_EQ(n, 2);
    if (n == 2)
        CHECK_STR_EQ(runs[0].run_id, id2); /* newest first */
    for (size_t i = 0; i < n; i++)
        wrk_run_release(&runs[i]);
    free(runs);
    sw_db_close(db);
}

/* One push may queue a run per matching rule: a newer push supersedes the
 * queued run of the same rule only. A released run (its worker stopped)
 * is queued again without counting the attempt. Steps are recorded. */
static void test_rules_release_and_steps(void)
{
    sw_db *db = open_db();
    sw_error *err = NULL;
    char r0[WRK_RUN_ID_MAX], r1[WRK_RUN_ID_MAX], r2[WRK_RUN_ID_MAX];
    int created = 0;
    struct wrk_run_request req = { .repo = "demo/rules",
                                   .trigger = "push",
                                   .source_type = "branch",
                                   .source_ref = "main",
                                   .id_prefix = "ca",
                                   .rule = 0,
                                   .pusher = "alice",
                                   .full_name = "acme/rules" };
    CHECK_INT_EQ(wrk_jobs_enqueue(db, &req, r0, &created, &err), 0);
    req.rule = 1;
    CHECK_INT_EQ(wrk_jobs_enqueue(db, &req, r1, &created, &err), 0);
    req.rule = 0;
    CHECK_INT_EQ(wrk_jobs_enqueue(db, &req, r2, &created, &err), 0);
    struct wrk_run run;
    CHECK_INT_EQ(wrk_jobs_get(db, r0, &run, &err), 0);
    CHECK_STR_EQ(run.status, "superseded");
    wrk_run_release(&run);
    CHECK_INT_EQ(wrk_jobs_get(db, r1, &run, &err), 0);
    CHECK_STR_EQ(run.status, "queued");
    CHECK_INT_EQ(run.rule, 1);
    CHECK_STR_EQ(run.pusher, "alice");
    CHECK_STR_EQ(run.full_name, "acme/rules");
    wrk_run_release(&run);

    /* claim, record steps, release */
    struct wrk_run claimed;
    CHECK_INT_EQ(wrk_jobs_claim(db, "w1", 60, 3, &claimed, &err), 0);
    CHECK_INT_EQ(wrk_jobs_step_start(db, claimed.run_id, 1, 2, "FROM x", 1, 1000, &err), 0);
    CHECK_INT_EQ(wrk_jobs_step_end(db, claimed.run_id, 1, 0, 1, 1500, -1, &err), 0);
    CHECK_INT_EQ(wrk_jobs_step_start(db, claimed.run_id, 2, 2, "RUN exit 3", 2, 1500, &err), 0);
    CHECK_INT_EQ(wrk_jobs_step_end(db, claimed.run_id, 2, 1, 0, 4000, 3, &err), 0);
    json_t *steps = NULL;
    CHECK_INT_EQ(wrk_jobs_steps(db, claimed.run_id, &steps, &err), 0);
    CHECK_INT_EQ(json_array_size(steps), 2);
    json_t *second = json_array_get(steps, 1);
    CHECK_STR_EQ(json_string_value(json_object_get(second, "status")), "failed");
    CHECK_INT_EQ(json_integer_value(json_object_get(second, "exit_code")), 3);
    CHECK(json_real_value(json_object_get(second, "duration_seconds")) == 2.5);
    CHECK(json_is_true(json_object_get(json_array_get(steps, 0), "cached")));
    json_decref(steps);
    CHECK_INT_EQ(wrk_jobs_release(db, claimed.run_id, "w1", &err), 0);
    CHECK_INT_EQ(wrk_jobs_get(db, claimed.run_id, &run, &err), 0);
    CHECK_STR_EQ(run.status, "queued");
    CHECK_INT_EQ(run.attempts, 0);
    wrk_run_release(&run);
    /* another worker's finish is refused once the run is not its own */
    CHECK_INT_EQ(wrk_jobs_finish(db, claimed.run_id, "w1", "succeeded", NULL, NULL, NULL, NULL),
                 SW_ECONFLICT);
    wrk_run_release(&claimed);
    /* leave nothing queued for the tests after this one */
    CHECK_INT_EQ(wrk_jobs_cancel(db, r1, &err), 0);
    CHECK_INT_EQ(wrk_jobs_cancel(db, r2, &err), 0);
    sw_error_clear(&err);
    sw_db_close(db);
}

#define THREADS 4
#define RUNS 40

static void *claimer(void *arg)
{
    int *claimed = arg;
    sw_db *db = open_db();
    char owner[16];
    snprintf(owner, sizeof(owner), "t%p", arg);
    for (;;) {
        struct wrk_run run;
        sw_error *err = NULL;
        int rc = wrk_jobs_claim(db, owner, 60, 3, &run, &err);
        sw_error_clear(&err);
        if (rc == SW_ENOTFOUND)
            break;
        if (rc != 0)
            continue;
        int id = (int)strtol(run.run_id + 2, NULL, 32); /* base 32 digits 0-9a-v */
        if (id >= 0 && id < 1000)
            __atomic_add_fetch(&claimed[id], 1, __ATOMIC_SEQ_CST);
        wrk_jobs_finish(db, run.run_id, owner, "succeeded", "sha256:x", NULL, NULL, NULL);
        wrk_run_release(&run);
    }
    sw_db_close(db);
    return NULL;
}

static void test_concurrent_claims_are_exclusive(void)
{
    sw_db *db = open_db();
    char id[WRK_RUN_ID_MAX];
    int created;
    for (int i = 0; i < RUNS; i++) {
        char branch[16];
        snprintf(branch, sizeof(branch), "b%d", i);
        push(db, branch, NULL, id, &created);
    }
    sw_db_close(db);
    static int claimed[1000];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, claimer, claimed);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    int total = 0, doubles = 0;
    for (int i = 0; i < 1000; i++) {
        total += claimed[i];
        doubles += claimed[i] > 1;
    }
    CHECK_INT_EQ(total, RUNS);
    CHECK_INT_EQ(doubles, 0);
}

static int count_rows(sw_db *db, const char *sql)
{
    sw_stmt *stmt = NULL;
    int n = -1;
    if (sw_db_prepare(db, sql, &stmt, NULL) == 0 && sw_stmt_step(stmt) == SW_DB_ROW)
        n = sw_stmt_column_int(stmt, 0);
    sw_stmt_finalize(stmt);
    return n;
}

/* The dashboard's worker count: live entries count with their threads; an
 * entry whose process is gone, or that was not refreshed, does not. */
static void test_workers_presence(void)
{
    sw_db *db = open_db();
    sw_error *err = NULL;
    int processes = -1, threads = -1;
    CHECK_INT_EQ(wrk_workers_heartbeat(db, "serve-1", 2, &err), 0);
    CHECK_INT_EQ(wrk_workers_heartbeat(db, "serve-1", 3, &err), 0); /* a refresh, not a row */
    CHECK_INT_EQ(wrk_workers_count(db, 15, &processes, &threads, &err), 0);
    CHECK_INT_EQ(processes, 1);
    CHECK_INT_EQ(threads, 3);

    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO workers (name, pid, threads, started_at, last_seen)"
             " VALUES ('worker-dead', %d, 4, strftime('%%s','now'), strftime('%%s','now'));"
             "INSERT INTO workers (name, pid, threads, started_at, last_seen)"
             " VALUES ('worker-stale', %d, 5, 0, 0);",
             (int)child, (int)getppid());
    CHECK_INT_EQ(sw_db_exec_raw(db, sql, NULL, NULL, NULL), SW_DB_OK);
    CHECK_INT_EQ(wrk_workers_count(db, 15, &processes, &threads, &err), 0);
    CHECK_INT_EQ(processes, 1);
    CHECK_INT_EQ(threads, 3);

    /* the next heartbeat forgets the entry not seen for over a day */
    CHECK_INT_EQ(wrk_workers_heartbeat(db, "serve-1", 3, &err), 0);
    CHECK_INT_EQ(count_rows(db, "SELECT COUNT(*) FROM workers"), 2);
    CHECK_INT_EQ(wrk_workers_gone(db, "serve-1", &err), 0);
    CHECK_INT_EQ(wrk_workers_count(db, 15, &processes, &threads, &err), 0);
    CHECK_INT_EQ(processes, 0);
    CHECK_INT_EQ(threads, 0);
    sw_error_clear(&err);
    sw_db_close(db);
}

/* The worker list: each live process with the platforms it runs; steps of
 * a multi-platform run keep their platform and their own index. */
static void test_workers_platforms_and_steps(void)
{
    sw_db *db = open_db();
    sw_error *err = NULL;
    json_t *list = NULL;
    CHECK_INT_EQ(wrk_workers_heartbeat(db, "serve-9", 2, &err), 0);
    CHECK_INT_EQ(wrk_workers_set_platforms(db, "serve-9", "linux/amd64, linux/arm64", &err), 0);
    CHECK_INT_EQ(wrk_workers_list(db, 15, &list, &err), 0);
    CHECK_INT_EQ(json_array_size(list), 1);
    json_t *w = json_array_get(list, 0);
    CHECK_STR_EQ(json_string_value(json_object_get(w, "name")), "serve-9");
    CHECK_INT_EQ(json_integer_value(json_object_get(w, "threads")), 2);
    json_t *platforms = json_object_get(w, "platforms");
    CHECK_INT_EQ(json_array_size(platforms), 2);
    CHECK_STR_EQ(json_string_value(json_array_get(platforms, 1)), "linux/arm64");
    json_decref(list);

    json_t *steps = NULL;
    CHECK_INT_EQ(wrk_jobs_step_start(db, "ca1", 1001, 2, "FROM busybox", 1, 10, &err), 0);
    CHECK_INT_EQ(wrk_jobs_step_platform(db, "ca1", 1001, "linux/amd64", &err), 0);
    CHECK_INT_EQ(wrk_jobs_step_start(db, "ca1", 2001, 2, "FROM busybox", 1, 10, &err), 0);
    CHECK_INT_EQ(wrk_jobs_step_platform(db, "ca1", 2001, "linux/arm64", &err), 0);
    CHECK_INT_EQ(wrk_jobs_step_end(db, "ca1", 2001, 1, 0, 20, 3, &err), 0);
    CHECK_INT_EQ(wrk_jobs_steps(db, "ca1", &steps, &err), 0);
    CHECK_INT_EQ(json_array_size(steps), 2);
    json_t *arm = json_array_get(steps, 1);
    CHECK_INT_EQ(json_integer_value(json_object_get(arm, "index")), 1);
    CHECK_STR_EQ(json_string_value(json_object_get(arm, "platform")), "linux/arm64");
    CHECK_STR_EQ(json_string_value(json_object_get(arm, "status")), "failed");
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(steps, 0), "status")), "running");
    json_decref(steps);
    sw_error_clear(&err);
    sw_db_close(db);
}

/* runs.keep: old finished runs go with their steps and deliveries; the
 * newest run, runs still running or queued, and runs behind a tag stay. */
static void test_prune_old_runs(void)
{
    sw_db *db = open_db();
    sw_db_exec(db,
               "DELETE FROM runs; DELETE FROM run_steps; DELETE FROM tag_runs;"
               " DELETE FROM deliveries",
               NULL);
    char r[5][WRK_RUN_ID_MAX];
    const char *branches[] = { "p1", "p2", "p3", "p4", "p5" };
    for (int i = 0; i < 5; i++) {
        char delivery[32];
        snprintf(delivery, sizeof(delivery), "prune-%d", i);
        push(db, branches[i], delivery, r[i], &(int){ 0 });
    }
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "UPDATE runs SET status = 'succeeded', finished_at = 1000 WHERE run_id IN"
             " ('%s', '%s', '%s', '%s');"
             "UPDATE runs SET status = 'running' WHERE run_id = '%s';"
             "INSERT INTO tag_runs VALUES ('demo/app', 'latest', 'sha256:aa', '%s', 1000);"
             "INSERT INTO run_steps (run_id, idx, total, instruction, line, status, started_ms)"
             " VALUES ('%s', 1, 1, 'FROM x', 1, 'succeeded', 0);"
             "INSERT INTO deliveries (run_id, repo, kind, url, body, next_at, created_at)"
             " VALUES ('%s', 'demo/app', 'notify', 'http://x/', '{}', 0, 0);",
             r[0], r[1], r[2], r[4], r[3], r[1], r[0], r[0]);
    CHECK_INT_EQ(sw_db_exec_raw(db, sql, NULL, NULL, NULL), SW_DB_OK);

    char **ids = NULL;
    size_t n = 0;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_jobs_prune(db, 2000, &ids, &n, &err), 0);
    CHECK_INT_EQ((int)n, 2);
    if (n == 2) {
        CHECK_STR_EQ(ids[0], r[0]);
        CHECK_STR_EQ(ids[1], r[2]);
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    CHECK_INT_EQ(count_rows(db, "SELECT COUNT(*) FROM runs"), 3);
    CHECK_INT_EQ(count_rows(db, "SELECT COUNT(*) FROM run_steps"), 0);
    CHECK_INT_EQ(count_rows(db, "SELECT COUNT(*) FROM deliveries"), 0);

    /* nothing finished after the cut-off goes */
    CHECK_INT_EQ(wrk_jobs_prune(db, 500, &ids, &n, &err), 0);
    CHECK_INT_EQ((int)n, 0);
    free(ids);
    sw_error_clear(&err);
    sw_db_close(db);
}

/* Pull request runs (migration 0011): the PR columns round-trip, a newer
 * push to the same pull request supersedes its queued run, not another
 * pull request's or a branch's, and the CHECK still refuses other types. */
static void pr(sw_db *db, long long number, const char *sha, const char *delivery,
               char run_id[WRK_RUN_ID_MAX])
{
    struct wrk_run_request req = { .repo = "demo/pr",
                                   .trigger = "push",
                                   .source_type = "pull_request",
                                   .source_ref = "main",
                                   .commit_sha = sha,
                                   .delivery_id = delivery,
                                   .id_prefix = "ca",
                                   .pr_number = number,
                                   .pr_head_ref = "fix",
                                   .pr_head_repo = "octo/app",
                                   .pr_fork = 1,
                                   .pr_fetch_ref = "refs/pull/7/head" };
    int created = 0;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_jobs_enqueue(db, &req, run_id, &created, &err), 0);
    CHECK_INT_EQ(created, 1);
    sw_error_clear(&err);
}

static void test_pull_request_runs(void)
{
    sw_db *db = open_db();
    char a[WRK_RUN_ID_MAX], b[WRK_RUN_ID_MAX], c[WRK_RUN_ID_MAX], br[WRK_RUN_ID_MAX];
    int created = 0;
    struct wrk_run run;
    sw_error *err = NULL;
    pr(db, 7, "1111111111111111111111111111111111111111", "pr-d1", a);
    pr(db, 8, "2222222222222222222222222222222222222222", "pr-d2", b);
    struct wrk_run_request push_main = { .repo = "demo/pr",
                                         .trigger = "push",
                                         .source_type = "branch",
                                         .source_ref = "main",
                                         .delivery_id = "pr-d3",
                                         .id_prefix = "ca" };
    CHECK_INT_EQ(wrk_jobs_enqueue(db, &push_main, br, &created, &err), 0);
    pr(db, 7, "3333333333333333333333333333333333333333", "pr-d4", c); /* supersedes a only */
    CHECK_INT_EQ(wrk_jobs_get(db, a, &run, &err), 0);
    CHECK_STR_EQ(run.status, "superseded");
    wrk_run_release(&run);
    CHECK_INT_EQ(wrk_jobs_get(db, b, &run, &err), 0);
    CHECK_STR_EQ(run.status, "queued");
    wrk_run_release(&run);
    CHECK_INT_EQ(wrk_jobs_get(db, br, &run, &err), 0);
    CHECK_STR_EQ(run.status, "queued");
    CHECK(run.pr_number == 0);
    CHECK(run.pr_fetch_ref == NULL);
    CHECK_INT_EQ(run.pr_fork, 0);
    wrk_run_release(&run);
    CHECK_INT_EQ(wrk_jobs_get(db, c, &run, &err), 0);
    CHECK_STR_EQ(run.source_type, "pull_request");
    CHECK_STR_EQ(run.source_ref, "main");
    CHECK_STR_EQ(run.commit_sha, "3333333333333333333333333333333333333333");
    CHECK(run.pr_number == 7);
    CHECK_STR_EQ(run.pr_head_ref, "fix");
    CHECK_STR_EQ(run.pr_head_repo, "octo/app");
    CHECK_INT_EQ(run.pr_fork, 1);
    CHECK_STR_EQ(run.pr_fetch_ref, "refs/pull/7/head");
    wrk_run_release(&run);
    struct wrk_run_request bogus = { .repo = "demo/pr",
                                     .trigger = "push",
                                     .source_type = "merge_request",
                                     .source_ref = "main",
                                     .id_prefix = "ca" };
    CHECK(wrk_jobs_enqueue(db, &bogus, br, &created, &err) != 0);
    sw_error_clear(&err);
    sw_db_close(db);
}

int main(void)
{
    dir = scratch_dir("test_jobs");
    db_path = sw_path_join(dir, "slipway.db");
    RUN(test_enqueue_dedup_and_supersede);
    RUN(test_rules_release_and_steps);
    RUN(test_claim_lease_finish);
    RUN(test_expired_lease_is_retried_then_failed);
    RUN(test_cancel);
    RUN(test_concurrent_claims_are_exclusive);
    RUN(test_workers_presence);
    RUN(test_workers_platforms_and_steps);
    RUN(test_prune_old_runs);
    RUN(test_pull_request_runs);
    sw_rm_rf(dir, NULL);
    free(db_path);
    free(dir);
    return TEST_EXIT();
}
