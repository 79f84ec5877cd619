/*
 * service.c - worker threads that carry out runs (see service.h).
 */
#include "worker/service.h"

#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "builder/build.h"
#include "builder/mounts.h"
#include "builder/image.h"
#include "builder/layers.h"
#include "builder/run_image.h"
#include "builder/sandbox.h"
#include "core/clock.h"
#include "core/db.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/strbuf.h"
#include "registry/index.h"
#include "registry/manifest.h"
#include "registry/names.h"
#include "worker/forge.h"
#include "worker/git.h"
#include "worker/jobs.h"
#include "worker/logstore.h"
#include "worker/outbox.h"
#include "worker/platforms.h"
#include "worker/runlog.h"
#include "worker/tagruns.h"
#include "worker/tags.h"
#include "worker/timers.h"
#include "worker/triggers.h"

/* An idle worker thread looks at the queue when woken (a run was queued or
 * given back: WRK_RUNS_CHANNEL), when a lease expires, and otherwise every
 * IDLE_POLL_MS (SQLite: other processes on the same file are not heard)
 * or IDLE_FALLBACK_MS (PostgreSQL, while this process listens: only for a
 * notification lost on the way). */
#define IDLE_POLL_MS 1000
#define IDLE_FALLBACK_MS 30000
#define LISTEN_TICK_MS 1000 /* the listener notices a stop within this */

struct worker {
    wrk_service *svc;
    pthread_t thread;
    int index;
    char owner[96];
    atomic_int cancel; /* the run in progress must stop */
};

#define PRESENCE_PERIOD_S 5
#define PRUNE_PERIOD_S 3600       /* how often old runs are looked for */
#define COURIER_LEASE_S 60        /* longer than a POST may take (10 s) */
#define COURIER_POLL_MS 1000      /* deliveries of other processes, retries due */
#define COURIER_FALLBACK_MS 30000 /* PostgreSQL, listening: for a lost notification */

struct wrk_service {
    struct wrk_service_options opts;
    char name[64];      /* this process's entry in the workers table */
    pthread_t presence; /* keeps that entry fresh */
    int has_presence;
    pthread_t courier; /* delivers the outbox (worker/outbox.h) */
    int has_courier;
    pthread_t listener; /* hears WRK_RUNS_CHANNEL, wakes the workers */
    int has_listener;
    atomic_int listening;       /* PostgreSQL, and the LISTEN is in force */
    pthread_cond_t outbox_cond; /* a run queued a delivery */
    int outbox_kicked;
    struct wrk_run_limits limits;
    struct worker *workers;
    int n_workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int wakeups;
    atomic_int stopping;
    /* the repositories in force: replaced by a config reload; a run keeps
     * the generation it started with (generations are never freed while
     * the service runs) */
    const struct wrk_repos *_Atomic repos;
    wrk_timers *timers; /* the timer scheduler (worker/timers.h), or NULL */
    char **platforms;   /* what this process can run (worker/platforms.h) */
    char platforms_text[512];
    atomic_int busy; /* worker threads carrying out a run */
};

static void timers_queued(void *svc);

void wrk_service_set_repos(wrk_service *svc, const struct wrk_repos *repos)
{
    if (svc == NULL)
        return;
    atomic_store(&svc->repos, repos);
    /* the timer scheduler reads its timers from the repositories it was
     * started with: start it again on the new ones */
    sw_error *timer_err = NULL;
    wrk_timers_stop(svc->timers);
    svc->timers = NULL;
    if (wrk_timers_start(svc->opts.store, repos, timers_queued, svc, &svc->timers, &timer_err))
        sw_warn("timers do not run in this process: %s", sw_error_message(timer_err));
    sw_error_clear(&timer_err);
}

/* ---- config --------------------------------------------------------------- */

void wrk_run_limits_get(const struct sw_config *cfg, struct wrk_run_limits *out)
{
    out->lease_s = 30;
    out->max_attempts = 3;
    json_t *runs = cfg ? sw_config_section(cfg, "runs") : NULL;
    const char *lease = json_string_value(json_object_get(runs, "lease"));
    int64_t s = lease ? sw_parse_duration(lease) : -1;
    if (s >= 3 && s <= 24 * 3600)
        out->lease_s = (int)s;
    out->keep_s = 90LL * 86400;
    int64_t keep = wrk_runs_keep_parse(json_object_get(runs, "keep"));
    if (keep >= 0)
        out->keep_s = keep;
    json_t *attempts = json_object_get(runs, "max_attempts");
    if (json_is_integer(attempts) && json_integer_value(attempts) >= 1 &&
        json_integer_value(attempts) <= 100)
        out->max_attempts = (int)json_integer_value(attempts);
    out->max_log_size = wrk_runs_max_log_size_parse(json_object_get(runs, "max_log_size"));
    if (out->max_log_size < 0)
        out->max_log_size = 64LL << 20;
}

/* ---- helpers -------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The registry host[:port] of public_url, for DOCKER_REPO and notify. */
static char *registry_host(const struct sw_config *cfg)
{
    const char *url = cfg->public_url ? cfg->public_url : "http://localhost:8080";
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/");
    return strndup(p, n);
}

/* A git URL without credentials (for labels and logs). */
static char *url_without_userinfo(const char *url)
{
    const char *scheme = strstr(url, "://");
    if (scheme == NULL)
        return strdup(url);
    const char *host = scheme + 3;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (at == NULL || (slash && at > slash))
        return strdup(url);
    char *out = NULL;
    if (asprintf(&out, "%.*s%s", (int)(host - url), url, at + 1) < 0)
        return NULL;
    return out;
}

/* 1 when path (after resolving symlinks) is root or below it. */
static int path_within(const char *root, const char *path)
{
    char real_root[PATH_MAX], real[PATH_MAX];
    if (realpath(root, real_root) == NULL || realpath(path, real) == NULL)
        return 0;
    size_t n = strlen(real_root);
    return strncmp(real, real_root, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

/* Appends a build arg "KEY=VALUE" (taking kv); -1 when memory is short
 * (kv NULL included): a build must never go on without an arg it was given. */
static int push_arg(char ***args, size_t *n, char *kv)
{
    char **bigger = kv ? realloc(*args, (*n + 1) * sizeof(char *)) : NULL;
    if (bigger == NULL) {
        free(kv);
        return -1;
    }
    *args = bigger;
    (*args)[(*n)++] = kv;
    return 0;
}

static int add_arg(char ***args, size_t *n, const char *key, const char *value)
{
    char *kv = NULL;
    if (asprintf(&kv, "%s=%s", key, value ? value : "") < 0)
        kv = NULL;
    return push_arg(args, n, kv);
}

/* ---- one run -------------------------------------------------------------- */

struct run_ctx {
    struct worker *w;
    wrk_service *svc;
    struct wrk_run run;
    const struct wrk_repo *repo;
    const struct wrk_rule *rule;
    int log_fd;
    int output_fd;      /* build output into the log, escaped (runlog.h) */
    wrk_log_ship *ship; /* PostgreSQL: the log copied to the database (logstore.h) */
    int64_t started_ms;
    int lost; /* our lease went to another worker */
    pthread_mutex_t hb_lock;
    pthread_cond_t hb_cond;
    int hb_stop;
    pthread_t hb_thread;
    atomic_int step_failed_exit;   /* the failing step's exit code, or -1 */
    atomic_int step_failed;        /* a step failed (and said so in the log) */
    char *src_dir;                 /* the checkout, stripped from messages */
    struct bld_output_cap log_cap; /* runs.max_log_size */
    int superseded;                /* a pull request's head moved on: a newer run builds it */
};

/* Renews the lease every third of it; a cancel request or a lost lease
 * stops the build. */
static void *heartbeat_main(void *arg)
{
    struct run_ctx *c = arg;
    int period_ms = c->svc->limits.lease_s * 1000 / 3;
    if (period_ms > 1000)
        period_ms = 1000; /* cancel requests are noticed within a second */
    pthread_mutex_lock(&c->hb_lock);
    while (!c->hb_stop) {
        struct timespec deadline = sw_deadline_in(period_ms);
        pthread_cond_timedwait(&c->hb_cond, &c->hb_lock, &deadline);
        if (c->hb_stop)
            break;
        pthread_mutex_unlock(&c->hb_lock);
        sw_db *db = NULL;
        sw_error *e = NULL;
        int cancel = 0;
        int rc = reg_store_db(c->svc->opts.store, &db, &e);
        if (rc == 0)
            rc =
                wrk_jobs_renew(db, c->run.run_id, c->w->owner, c->svc->limits.lease_s, &cancel, &e);
        if (rc == SW_ECONFLICT) {
            c->lost = 1;
            c->w->cancel = 1;
        } else if (rc == 0 && cancel) {
            c->w->cancel = 1;
        } else if (rc != 0) {
            sw_warn("renewing the lease of run %s: %s", c->run.run_id, sw_error_message(e));
        }
        sw_error_clear(&e);
        pthread_mutex_lock(&c->hb_lock);
    }
    pthread_mutex_unlock(&c->hb_lock);
    return NULL;
}

/* msg with every "<dir>/" removed: errors name files of the checkout as
 * the repository does ("Dockerfile:3"), not by their scratch path. */
static void strip_dir(char *msg, const char *dir)
{
    size_t n = dir ? strlen(dir) : 0;
    char *p;
    while (n > 0 && (p = strstr(msg, dir)) != NULL && p[n] == '/')
        memmove(p, p + n + 1, strlen(p + n + 1) + 1);
}

/* A step event of the build of `platform` (NULL: a single-platform run),
 * the position-th platform of the run (from 1): its log lines name the
 * platform, its row in run_steps is 1000 * position + index. */
static void record_step(struct run_ctx *c, const struct bld_step_event *ev, const char *platform,
                        int position)
{
    sw_db *db = NULL;
    char who[120] = "";
    if (platform)
        snprintf(who, sizeof(who), "[%s] ", platform);
    int idx = platform ? 1000 * position + ev->index : ev->index;
    int64_t t = now_ms();
    static __thread int64_t step_started;
    if (!ev->done) {
        step_started = t;
        wrk_log_line(c->log_fd, "%sStep %d/%d : %s", who, ev->index, ev->total, ev->instruction);
    } else if (ev->failed) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", ev->error ? ev->error : "error");
        strip_dir(msg, c->src_dir);
        const char *code = strstr(msg, "exited with code ");
        int64_t exit_code = -1;
        if (code == NULL || sw_parse_int64_prefix(code + strlen("exited with code "), 0, 255,
                                                  &exit_code, NULL) != 0)
            exit_code = -1;
        c->step_failed_exit = (int)exit_code;
        c->step_failed = 1;
        wrk_log_line(c->log_fd, "%sStep %d/%d failed: %s", who, ev->index, ev->total, msg);
    } else if (ev->cached) {
        wrk_log_line(c->log_fd, "%sStep %d/%d : using cache", who, ev->index, ev->total);
    } else {
        wrk_log_line(c->log_fd, "%sStep %d/%d done in %.1fs", who, ev->index, ev->total,
                     (double)(t - step_started) / 1000.0);
    }
    if (reg_store_db(c->svc->opts.store, &db, NULL) != 0)
        return;
    if (!ev->done) {
        wrk_jobs_step_start(db, c->run.run_id, idx, ev->total, ev->instruction, ev->line, t, NULL);
        if (platform)
            wrk_jobs_step_platform(db, c->run.run_id, idx, platform, NULL);
    } else {
        wrk_jobs_step_end(db, c->run.run_id, idx, ev->failed, ev->cached, t,
                          ev->failed ? c->step_failed_exit : -1, NULL);
    }
}

static void on_step(void *arg, const struct bld_step_event *ev)
{
    record_step(arg, ev, NULL, 0);
}

/* Applies every tag of the run in one transaction. A tag marked immutable
 * (a semver patch tag) that exists on another digest fails the whole set:
 * nothing moves. Records which run pushed each tag. */
static int apply_tags(sw_db *db, const char *repo, const char *digest, const struct wrk_tag *tags,
                      size_t n, const char *run_id, sw_error **err)
{
    int rc = sw_db_begin(db, err);
    if (rc != 0)
        return rc;
    int64_t t = (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++) {
        char current[SW_DIGEST_MAX];
        if (tags[i].immutable && reg_tag_lookup(db, repo, tags[i].name, current, NULL) == 0 &&
            strcmp(current, digest) != 0) {
            rc = sw_error_set(err, SW_ECONFLICT,
                              "tag %s:%s already exists on %s; a release tag is never moved to"
                              " another image (push a new version instead)",
                              repo, tags[i].name, current);
            goto cleanup;
        }
        if ((rc = reg_tag_point(db, repo, tags[i].name, digest, err)) != 0 ||
            (rc = wrk_tag_runs_record(db, repo, tags[i].name, digest, run_id, t, err)) != 0)
            goto cleanup;
    }
    rc = sw_db_commit(db, err);
cleanup:
    if (rc != 0)
        sw_db_rollback(db);
    return rc;
}

/* The rule's regex match of the run's ref, for {\N} in tag templates. */
static int find_match(const struct run_ctx *c, struct wrk_match *out)
{
    struct wrk_match m[16];
    memset(out, 0, sizeof(*out));
    out->rule = c->rule;
    if (strcmp(c->run.source_type, "commit") == 0)
        return 0;
    size_t n = wrk_repo_match(c->repo, c->run.source_type, c->run.source_ref, m, 16);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (!found && m[i].rule == c->rule) {
            *out = m[i];
            found = 1;
        } else {
            wrk_match_clear(&m[i]);
        }
    }
    return found ? 0 : -1;
}

static void courier_kick(wrk_service *svc);

/* Queues a message for the courier; the run goes on at once. */
static void queue_delivery(struct run_ctx *c, const char *kind, const char *url, const json_t *body,
                           const char *what)
{
    sw_db *db = NULL;
    sw_error *e = NULL;
    char *target = wrk_outbox_target(url);
    if (reg_store_db(c->svc->opts.store, &db, &e) != 0 ||
        wrk_outbox_add(db, c->run.run_id, c->repo->name, kind, url, body, &e) != 0)
        wrk_log_line(c->log_fd, "%s for %s not queued: %s", what, target ? target : "?",
                     sw_error_message(e));
    else
        courier_kick(c->svc);
    sw_error_clear(&e);
    free(target);
}

static void post_status(struct run_ctx *c, const char *state, const char *description)
{
    const struct wrk_repo *r = c->repo;
    if (r == NULL || r->status_token == NULL || c->run.commit_sha == NULL)
        return;
    char *full_name = c->run.full_name ? strdup(c->run.full_name) : wrk_forge_full_name(r->git);
    char *context = NULL, *target = NULL, *url = NULL;
    json_t *body = NULL;
    const struct sw_config *cfg = c->svc->opts.config;
    sw_error *e = NULL;
    if (full_name == NULL) {
        wrk_log_line(c->log_fd, "Commit status %s not sent: no owner/name in the git URL", state);
    } else if (asprintf(&context, "slipway/%s", r->name) >= 0 &&
               asprintf(&target, "%s/runs/%s", cfg->public_url, c->run.run_id) >= 0) {
        if (wrk_commit_status_request(r->status_api ? r->status_api : "https://api.github.com",
                                      full_name, c->run.commit_sha, state, context, target,
                                      description, &url, &body, &e) == 0)
            queue_delivery(c, "status", url, body, "commit status");
        else
            wrk_log_line(c->log_fd, "Commit status %s not sent: %s", state, sw_error_message(e));
    }
    sw_error_clear(&e);
    json_decref(body);
    free(full_name);
    free(context);
    free(target);
    free(url);
}

static void notify(struct run_ctx *c, const char *digest, json_t *tags)
{
    const struct wrk_rule *rule = c->rule;
    if (rule == NULL || rule->n_notify == 0)
        return;
    const struct sw_config *cfg = c->svc->opts.config;
    char *host = registry_host(cfg);
    long long now = (long long)time(NULL);
    json_t *body = wrk_notify_payload(host ? host : "localhost", cfg->public_url, c->repo->name,
                                      c->run.pusher, c->run.run_id, digest, tags, now);
    for (size_t i = 0; i < rule->n_notify && body; i++) {
        /* the URL's path is a secret: the outbox gets a reference to it */
        char *ref = wrk_notify_ref(rule->notify[i]);
        json_t *formatted =
            wrk_notify_body(rule->notify_format ? rule->notify_format[i] : WRK_NOTIFY_DOCKERHUB,
                            body, cfg->public_url, c->repo->name, c->run.run_id, now);
        if (ref && formatted)
            queue_delivery(c, "notify", ref, formatted, "Notification");
        json_decref(formatted);
        free(ref);
    }
    wrk_log_line(c->log_fd, "Notifying %zu URL%s (deliveries are listed on the run's page)",
                 rule->n_notify, rule->n_notify == 1 ? "" : "s");
    json_decref(body);
    free(host);
}

/* The values of a repository's build secrets (repos[].secrets). */
static int load_build_secrets(const struct wrk_repo *r, struct bld_secret **out, sw_error **err)
{
    *out = NULL;
    if (r->n_secrets == 0)
        return 0;
    struct bld_secret *s = calloc(r->n_secrets, sizeof(*s));
    if (s == NULL)
        return sw_error_oom(err);
    *out = s;
    for (size_t i = 0; i < r->n_secrets; i++) {
        char *value = NULL;
        s[i].id = r->secret_ids[i];
        if (bld_secret_from_ref(r->secret_refs[i], &value, err) != 0) {
            sw_error_prefix(err, "build secret %s of %s", r->secret_ids[i], r->name);
            return SW_EINVAL;
        }
        s[i].value = value;
    }
    return 0;
}

static void free_build_secrets(struct bld_secret *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (s[i].value) {
            explicit_bzero((char *)s[i].value, strlen(s[i].value));
            free((char *)s[i].value);
        }
    free(s);
}

/* ---- platforms ------------------------------------------------------------ */

/* One platform of a multi-platform run: built on its own thread with the
 * run's options and this platform; its container output goes through a
 * pipe whose lines get the platform as a prefix before they reach the log
 * (so the platforms' output, built at once, stays apart line by line). */
struct platform_build {
    struct run_ctx *c;
    struct bld_build_options bo;
    const char *platform;
    int position; /* from 1 */
    struct bld_build_result result;
    sw_error *err;
    int rc;
    int64_t took_ms;
};

struct platform_set {
    struct platform_build *builds;
    size_t n;
    atomic_size_t next; /* the next platform a thread takes */
    atomic_int failed;  /* a platform failed: the others stop */
};

struct prefixer {
    int read_fd;
    int out_fd;
    const char *platform;
    pthread_t thread;
};

/* Writes a piece of build output; the log is best effort (a full disk must
 * not fail the build over its log), so errors are dropped. */
static void output_write(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* Copies lines from read_fd to out_fd with "[platform] " in front, each
 * line (or piece of at most 3 KiB of a longer one) in one write, below
 * PIPE_BUF, so lines of two platforms never mix. */
static void *prefixer_main(void *arg)
{
    struct prefixer *p = arg;
    char line[3200], chunk[4096];
    size_t prefix = (size_t)snprintf(line, sizeof(line), "[%s] ", p->platform);
    size_t used = prefix;
    for (;;) {
        ssize_t n = read(p->read_fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            line[used++] = chunk[i];
            if (chunk[i] == '\n' || used == sizeof(line)) {
                output_write(p->out_fd, line, used);
                used = prefix;
            }
        }
    }
    if (used > prefix) {
        line[used++] = '\n';
        output_write(p->out_fd, line, used);
    }
    close(p->read_fd);
    return NULL;
}

static void on_platform_step(void *arg, const struct bld_step_event *ev)
{
    struct platform_build *pb = arg;
    record_step(pb->c, ev, pb->platform, pb->position);
}

static void build_one_platform(struct platform_set *set, struct platform_build *pb)
{
    struct run_ctx *c = pb->c;
    int fds[2] = { -1, -1 };
    struct prefixer pre = { .read_fd = -1, .out_fd = c->output_fd, .platform = pb->platform };
    int has_prefixer = 0;
    int64_t t0 = now_ms();
    wrk_log_line(c->log_fd, "== %s: building (platform %d of %zu)", pb->platform, pb->position,
                 set->n);
    if (c->output_fd >= 0 && pipe2(fds, O_CLOEXEC) == 0) {
        pre.read_fd = fds[0];
        has_prefixer = pthread_create(&pre.thread, NULL, prefixer_main, &pre) == 0;
        if (!has_prefixer) {
            close(fds[0]);
            close(fds[1]);
            fds[1] = -1;
        }
    }
    pb->bo.platform = pb->platform;
    pb->bo.progress_fd = has_prefixer ? fds[1] : c->output_fd;
    pb->bo.on_step = on_platform_step;
    pb->bo.step_ctx = pb;
    if (atomic_load(&set->failed))
        pb->rc = sw_error_set(&pb->err, SW_ECANCELED, "canceled: another platform failed");
    else
        pb->rc = bld_build(c->svc->opts.store, &pb->bo, &pb->result, &pb->err);
    if (has_prefixer) {
        close(fds[1]);
        pthread_join(pre.thread, NULL);
    }
    pb->took_ms = now_ms() - t0;
    if (pb->rc == 0) {
        wrk_log_line(c->log_fd, "== %s: built %s in %.1fs", pb->platform, pb->result.digest,
                     (double)pb->took_ms / 1000.0);
    } else if (sw_error_code(pb->err) == SW_ECANCELED) {
        wrk_log_line(c->log_fd, "== %s: stopped", pb->platform);
    } else {
        sw_error_prefix(&pb->err, "%s", pb->platform);
        /* stop the other platforms: the run fails, nothing will be tagged */
        if (!atomic_exchange(&set->failed, 1))
            c->w->cancel = 1;
        wrk_log_line(c->log_fd, "== %s: failed after %.1fs", pb->platform,
                     (double)pb->took_ms / 1000.0);
    }
}

static void *platform_thread_main(void *arg)
{
    struct platform_set *set = arg;
    size_t i;
    while ((i = atomic_fetch_add(&set->next, 1)) < set->n)
        build_one_platform(set, &set->builds[i]);
    return NULL;
}

/* Builds the rule's platforms and, for two or more, the image index that
 * names them: digest gets the image's (one platform) or the index's digest
 * and result the first platform's build result (its base images). Every
 * platform must be one this worker runs (wrk_platform_check). Two or more
 * are built at once, on as many threads as this process has worker threads
 * free (this run's own included): a platform is a step of the run, not a
 * run of its own, so it needs no queue, lease or second checkout. */
static int build_platforms(struct run_ctx *c, const struct bld_build_options *bo,
                           struct bld_build_result *result, char digest[SW_DIGEST_MAX],
                           sw_error **err)
{
    const struct wrk_rule *rule = c->rule;
    wrk_service *svc = c->svc;
    size_t n = rule->n_platforms;
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        if ((rc = wrk_platform_check(rule->platforms[i], svc->platforms, err)) != 0)
            return rc;
    if (n <= 1) {
        struct bld_build_options one = *bo;
        one.platform = n == 1 ? rule->platforms[0] : NULL;
        if ((rc = bld_build(svc->opts.store, &one, result, err)) == 0)
            snprintf(digest, SW_DIGEST_MAX, "%s", result->digest);
        return rc;
    }

    struct platform_set set = { .n = n };
    struct reg_index_entry *entries = calloc(n, sizeof(*entries));
    pthread_t *threads = calloc(n, sizeof(*threads));
    set.builds = calloc(n, sizeof(*set.builds));
    size_t started = 0;
    if (entries == NULL || threads == NULL || set.builds == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    atomic_init(&set.next, 0);
    atomic_init(&set.failed, 0);
    for (size_t i = 0; i < n; i++) {
        set.builds[i].c = c;
        set.builds[i].bo = *bo;
        set.builds[i].platform = rule->platforms[i];
        set.builds[i].position = (int)i + 1;
    }
    int free_slots = svc->n_workers - atomic_load(&svc->busy) + 1;
    size_t parallel = free_slots < 1 ? 1 : (size_t)free_slots;
    if (parallel > n)
        parallel = n;
    char list[512];
    wrk_platforms_join(rule->platforms, list, sizeof(list));
    wrk_log_line(c->log_fd, "Building %zu platforms (%s), %zu at a time", n, list, parallel);
    for (size_t i = 0; i < parallel; i++) {
        if (pthread_create(&threads[i], NULL, platform_thread_main, &set) != 0)
            break;
        started++;
    }
    if (started == 0) /* no thread to spare: this one builds them in turn */
        platform_thread_main(&set);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);

    /* the first real failure is the run's error; a cancel only when every
     * platform stopped for one */
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct platform_build *pb = &set.builds[i];
        if (pb->rc != 0 && sw_error_code(pb->err) != SW_ECANCELED) {
            rc = pb->rc;
            *err = pb->err;
            pb->err = NULL;
        }
    }
    if (atomic_load(&set.failed))
        c->w->cancel = 0; /* set by us to stop the others, not by a user */
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct platform_build *pb = &set.builds[i];
        if (pb->rc != 0) {
            rc = pb->rc;
            *err = pb->err;
            pb->err = NULL;
        }
    }
    if (rc != 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        entries[i].platform = set.builds[i].platform;
        entries[i].digest = set.builds[i].result.digest;
    }
    if ((rc = reg_index_put(svc->opts.store, c->repo->name, entries, n, digest, err)) != 0)
        goto cleanup;
    wrk_log_line(c->log_fd, "Image index %s: %s", digest, list);
    *result = set.builds[0].result;
    memset(&set.builds[0].result, 0, sizeof(set.builds[0].result));
cleanup:
    for (size_t i = 0; set.builds && i < n; i++) {
        bld_build_result_release(&set.builds[i].result);
        sw_error_clear(&set.builds[i].err);
    }
    free(set.builds);
    free(threads);
    free(entries);
    return rc;
}

/* 1 when the run's image has one for this worker's own platform (what
 * autotest runs). */
static int has_host_platform(const struct wrk_rule *rule, char *const *runnable)
{
    if (rule->n_platforms == 0)
        return 1;
    for (size_t i = 0; i < rule->n_platforms; i++)
        if (runnable && runnable[0] && strcmp(rule->platforms[i], runnable[0]) == 0)
            return 1;
    return 0;
}

/* Fetch, check out, build, test and tag. On success fills digest and tags. */
static int build_run(struct run_ctx *c, char digest[SW_DIGEST_MAX], json_t *tags_out,
                     json_t **bases_out, sw_error **err)
{
    wrk_service *svc = c->svc;
    const struct sw_config *cfg = svc->opts.config;
    reg_store *store = svc->opts.store;
    const struct wrk_repo *r = c->repo;
    const struct wrk_rule *rule = c->rule;
    sw_db *db = NULL;
    char *mirror = NULL, *scratch = NULL, *src = NULL, *context = NULL, *dockerfile = NULL;
    char *host = NULL, *source_url = NULL;
    char **args = NULL;
    size_t n_args = 0;
    struct wrk_commit_info info = { 0 };
    struct wrk_match match = { 0 };
    struct wrk_tag *tags = NULL;
    size_t n_tags = 0;
    json_t *labels = NULL;
    struct bld_build_result result = { 0 };
    struct bld_secret *secrets = NULL;
    int rc;

    if ((rc = reg_store_db(store, &db, err)) != 0)
        goto cleanup;

    /* the exact commit, through the repository's mirror */
    struct wrk_git_auth auth = { .token = r->token,
                                 .ssh_key = r->ssh_key,
                                 .known_hosts = r->known_hosts,
                                 .origin = r->git,
                                 .insecure = r->insecure };
    /* a pull request's head comes from the base repository's ref for it,
     * never from a URL in the payload; a fork's is someone else's code */
    int is_pull = strcmp(c->run.source_type, "pull_request") == 0;
    int is_fork = is_pull && c->run.pr_fork;
    char sha[41] = "";
    if ((rc = wrk_git_mirror_path(reg_store_data_dir(store), r->git, &mirror, err)) != 0)
        goto cleanup;
    source_url = url_without_userinfo(r->git);
    if (is_pull)
        wrk_log_line(c->log_fd, "Fetching pull request #%lld (%s) into %s from %s%s",
                     c->run.pr_number, c->run.pr_fetch_ref ? c->run.pr_fetch_ref : "?",
                     c->run.source_ref, source_url ? source_url : "the repository",
                     is_fork ? "; it comes from a fork: no build secrets, no credentials for "
                               "submodules, its own cache"
                             : "");
    else
        wrk_log_line(c->log_fd, "Fetching %s %s from %s", c->run.source_type, c->run.source_ref,
                     source_url ? source_url : "the repository");
    int64_t t0 = now_ms();
    if (is_pull && (c->run.pr_fetch_ref == NULL || c->run.commit_sha == NULL)) {
        rc = sw_error_set(err, SW_EINVAL, "pull request run %s has no head ref or commit",
                          c->run.run_id);
        goto cleanup;
    }
    rc = wrk_git_fetch(mirror, r->git, &auth, c->run.source_type,
                       is_pull ? c->run.pr_fetch_ref : c->run.source_ref, c->run.commit_sha, sha,
                       err);
    if (rc == SW_ECONFLICT && is_pull)
        c->superseded = 1;
    if (rc != 0)
        goto cleanup;
    /* submodules of a fork's commit get no credentials: its .gitmodules
     * could name another private repository the token can read */
    struct wrk_git_auth fork_auth = { .known_hosts = r->known_hosts,
                                      .origin = r->git,
                                      .insecure = r->insecure };
    if ((rc = bld_scratch_dir(store, "src-", &scratch, err)) != 0)
        goto cleanup;
    src = sw_path_join(scratch, "src");
    SW_CHECK_ALLOC(src, rc, err, cleanup);
    c->src_dir = src;
    if ((rc = wrk_git_checkout(mirror, r->git, sha, src, r->submodules, reg_store_data_dir(store),
                               is_fork ? &fork_auth : &auth, &info, err)) != 0)
        goto cleanup;
    /* what was pushed was an annotated tag object when it is not (a prefix
     * of) the commit it resolved to: both ids go to the log */
    if (!is_pull && c->run.commit_sha &&
        strncmp(info.sha, c->run.commit_sha, strlen(c->run.commit_sha)) != 0) {
        wrk_log_line(c->log_fd, "Tag object %.12s points at commit %.12s", c->run.commit_sha,
                     info.sha);
        if (c->run.tag_object == NULL) {
            wrk_jobs_set_tag_object(db, c->run.run_id, c->run.commit_sha, NULL);
            c->run.tag_object = strdup(c->run.commit_sha);
        }
    }
    wrk_log_line(c->log_fd, "Commit %.7s: %s (%.1fs)", info.sha, info.summary ? info.summary : "",
                 (double)(now_ms() - t0) / 1000.0);
    if (c->run.commit_sha == NULL || strcmp(c->run.commit_sha, info.sha) != 0 ||
        c->run.commit_message == NULL) {
        wrk_jobs_set_commit(db, c->run.run_id, info.sha, info.message, NULL);
        free(c->run.commit_sha);
        c->run.commit_sha = strdup(info.sha);
    }
    post_status(c, "pending", "Building");

    /* the tags, rendered before the build so a bad template costs nothing */
    if (find_match(c, &match) != 0) {
        rc = sw_error_set(err, SW_EINVAL, "%s %s no longer matches build rule %d of %s",
                          c->run.source_type, c->run.source_ref, rule->index + 1, r->name);
        goto cleanup;
    }
    /* a manual run of a commit builds it as the rule's branch or tag would */
    const char *source_ref = c->run.source_ref;
    if (strcmp(c->run.source_type, "commit") == 0 && !rule->is_regex)
        source_ref = rule->source;
    struct wrk_tag_context tctx = {
        .source_ref = source_ref,
        .run_id = c->run.run_id,
        .commit = info.sha,
        .commit_time = info.time,
        .match = &match,
        .pr_number = is_pull ? c->run.pr_number : 0,
    };
    if ((rc = wrk_tags_render(rule, &tctx, &tags, &n_tags, err)) != 0)
        goto cleanup;

    /* the build, with Docker Hub's build variables */
    context = sw_path_join(src, rule->context);
    dockerfile = sw_path_join(src, rule->dockerfile);
    if (context == NULL || dockerfile == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (!path_within(src, context)) {
        rc = sw_error_set(err, SW_EINVAL, "context %s is not a directory in the repository",
                          rule->context);
        goto cleanup;
    }
    if (!path_within(src, dockerfile)) {
        rc = sw_error_set(err, SW_ENOTFOUND, "%s: no such file in the repository at %.7s",
                          rule->dockerfile, info.sha);
        goto cleanup;
    }
    host = registry_host(cfg);
    char *docker_repo = NULL, *image_name = NULL;
    char pr_tag[32];
    snprintf(pr_tag, sizeof(pr_tag), "pr-%lld", c->run.pr_number);
    const char *first_tag = n_tags ? tags[0].name : is_pull ? pr_tag : "latest";
    if (asprintf(&docker_repo, "%s/%s", host, r->name) < 0)
        docker_repo = NULL;
    if (asprintf(&image_name, "%s/%s:%s", host, r->name, first_tag) < 0)
        image_name = NULL;
    int args_ok = docker_repo != NULL && image_name != NULL;
    for (size_t i = 0; args_ok && i < rule->n_build_args; i++)
        args_ok = push_arg(&args, &n_args, strdup(rule->build_args[i])) == 0;
    args_ok = args_ok && add_arg(&args, &n_args, "SOURCE_BRANCH", source_ref) == 0 &&
              add_arg(&args, &n_args, "SOURCE_COMMIT", info.sha) == 0 &&
              add_arg(&args, &n_args, "COMMIT_MSG", info.message) == 0 &&
              add_arg(&args, &n_args, "DOCKER_REPO", docker_repo) == 0 &&
              add_arg(&args, &n_args, "DOCKERFILE_PATH", rule->dockerfile) == 0 &&
              add_arg(&args, &n_args, "DOCKER_TAG", first_tag) == 0 &&
              add_arg(&args, &n_args, "IMAGE_NAME", image_name) == 0;
    free(docker_repo);
    free(image_name);
    if (!args_ok) {
        rc = sw_error_oom(err);
        goto cleanup;
    }

    /* the identity the build reads images with, and its own cache */
    char identity_of[300], cache_scope[600];
    snprintf(identity_of, sizeof(identity_of), "%srun_as of %s", r->run_as ? "" : "the default ",
             r->name);
    snprintf(cache_scope, sizeof(cache_scope), "%s as %s%s", r->name,
             r->run_as ? r->run_as : "anonymous", is_fork ? " (fork pull requests)" : "");

    char created[32];
    bld_format_time(info.time, created);
    labels = json_pack("{s:s, s:s, s:s}", "org.opencontainers.image.source",
                       source_url ? source_url : "", "org.opencontainers.image.revision", info.sha,
                       "org.opencontainers.image.created", created);
    struct bld_build_options bo = {
        .context_dir = context,
        .dockerfile = dockerfile,
        .build_args = (const char *const *)args,
        .n_build_args = n_args,
        .no_cache = !rule->cache,
        .network_host = cfg->network && strcmp(cfg->network, "host") == 0,
        .compression = cfg->compression && strcmp(cfg->compression, "zstd") == 0
                           ? SW_COMPRESSION_ZSTD
                           : SW_COMPRESSION_GZIP,
        .source_date_epoch = info.time,
        .runtime = cfg->runtime,
        .step_timeout_s = cfg->step_timeout_s,
        .config = cfg,
        .progress_fd = c->output_fd,
        .cancel = &c->w->cancel,
        .labels = labels,
        .repo = r->name,
        .on_step = on_step,
        .step_ctx = c,
        .check_access = 1,
        .run_as = r->run_as,
        .identity_of = identity_of,
        .cache_scope = cache_scope,
        .output_cap = &c->log_cap,
    };
    /* the repository's build secrets, read now, wiped after the build;
     * never for a fork's pull request (its Dockerfile is someone else's) */
    if (!is_fork && (rc = load_build_secrets(r, &secrets, err)) != 0)
        goto cleanup;
    bo.secrets = secrets;
    bo.n_secrets = secrets ? r->n_secrets : 0;
    /* RUN --mount=type=ssh: the repository's deploy key, as an agent, only
     * when the repository opts in (a key shared between repositories would
     * otherwise reach another one's code). A build of a fork's pull request
     * never gets it. */
    const char *ssh_paths[] = { r->ssh_key };
    struct bld_ssh_source ssh = { .id = "default", .paths = ssh_paths, .n_paths = 1 };
    if (r->forward_ssh && r->ssh_key && !is_fork) {
        bo.ssh = &ssh;
        bo.n_ssh = 1;
    }
    wrk_log_line(c->log_fd, "Building %s (rule %d: %s %s)", rule->dockerfile, rule->index + 1,
                 rule->source_type, rule->source);
    if ((rc = build_platforms(c, &bo, &result, digest, err)) != 0)
        goto cleanup;

    if (rule->autotest && !has_host_platform(rule, svc->platforms)) {
        wrk_log_line(c->log_fd, "Autotest skipped: the image has no %s image to run here",
                     svc->platforms && svc->platforms[0] ? svc->platforms[0] : "native");
    } else if (rule->autotest) {
        wrk_log_line(c->log_fd, "Autotest: %s", rule->autotest[0]);
        int status = -1;
        struct bld_run_options ro = {
            .argv = (const char *const *)rule->autotest,
            .runtime = cfg->runtime,
            .timeout_s = cfg->step_timeout_s,
            .output_fd = c->output_fd,
            .cancel = &c->w->cancel,
            .config = cfg,
            .output_cap = &c->log_cap,
        };
        if ((rc = bld_image_run(store, r->name, digest, &ro, &status, err)) != 0)
            goto cleanup;
        if (status != 0) {
            rc = sw_error_set(err, SW_EINVAL,
                              "autotest failed: exited with code %d; no tag"
                              " was changed",
                              status);
            goto cleanup;
        }
        wrk_log_line(c->log_fd, "Autotest passed");
    }
    if (c->w->cancel) {
        rc = sw_error_set(err, SW_ECANCELED, "canceled");
        goto cleanup;
    }
    if ((rc = apply_tags(db, r->name, digest, tags, n_tags, c->run.run_id, err)) != 0)
        goto cleanup;
    for (size_t i = 0; i < n_tags; i++)
        json_array_append_new(tags_out, json_string(tags[i].name));
    *bases_out = result.base_images ? json_incref(result.base_images) : NULL;
cleanup:
    if (rc != 0 && err && *err)
        strip_dir((*err)->message, src);
    c->src_dir = NULL;
    free_build_secrets(secrets, secrets ? r->n_secrets : 0);
    bld_build_result_release(&result);
    json_decref(labels);
    wrk_tags_free(tags, n_tags);
    wrk_match_clear(&match);
    wrk_commit_info_release(&info);
    for (size_t i = 0; i < n_args; i++)
        free(args[i]);
    free(args);
    if (scratch)
        sw_rm_rf(scratch, NULL);
    free(scratch);
    free(src);
    free(context);
    free(dockerfile);
    free(mirror);
    free(host);
    free(source_url);
    return rc;
}

static void format_tags(json_t *tags, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(tags) && used < size; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "",
                         json_string_value(json_array_get(tags, i)));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void process_run(struct worker *w, sw_db *db, struct wrk_run *run)
{
    wrk_service *svc = w->svc;
    struct run_ctx c = {
        .w = w, .svc = svc, .run = *run, .log_fd = -1, .output_fd = -1, .step_failed_exit = -1
    };
    c.log_cap.max_size = svc->limits.max_log_size;
    c.log_cap.key = "runs.max_log_size";
    sw_error *err = NULL;
    char digest[SW_DIGEST_MAX] = "";
    json_t *tags = json_array();
    json_t *bases = NULL;
    int rc;

    memset(run, 0, sizeof(*run)); /* c.run owns it now */
    c.started_ms = now_ms();
    w->cancel = 0;
    if (wrk_log_open(reg_store_data_dir(svc->opts.store), c.run.run_id, &c.log_fd, &err) != 0 ||
        wrk_log_output_start(c.log_fd, &c.output_fd, &err) != 0) {
        sw_warn("run %s: %s", c.run.run_id, sw_error_message(err));
        sw_error_clear(&err);
    }
    if (c.log_fd >= 0 && wrk_logstore_enabled(db)) {
        /* front ends on other machines stream the log from the database */
        char *path = wrk_log_path(reg_store_data_dir(svc->opts.store), c.run.run_id);
        if (path == NULL ||
            wrk_log_ship_start(svc->opts.store, path, c.run.run_id, &c.ship, &err) != 0) {
            sw_warn("run %s: the log stays on this machine: %s", c.run.run_id,
                    err ? sw_error_message(err) : "out of memory");
            sw_error_clear(&err);
        }
        free(path);
    }
    wrk_jobs_steps_clear(db, c.run.run_id, NULL);
    wrk_log_line(c.log_fd, "Run ID: %s: %s of %s %s%s%s (attempt %d, worker %s)", c.run.run_id,
                 c.run.trigger, c.run.source_type, c.run.source_ref, c.run.commit_sha ? " at " : "",
                 c.run.commit_sha ? c.run.commit_sha : "", c.run.attempts, w->owner);
    sw_info("run %s: %s %s of %s started on %s", c.run.run_id, c.run.source_type, c.run.source_ref,
            c.run.repo, w->owner);

    pthread_mutex_init(&c.hb_lock, NULL);
    pthread_cond_init(&c.hb_cond, NULL);
    int hb = pthread_create(&c.hb_thread, NULL, heartbeat_main, &c) == 0;

    c.repo = wrk_repos_find(svc->repos, c.run.repo);
    if (c.repo == NULL) {
        rc = sw_error_set(&err, SW_ENOTFOUND, "repository %s is not configured (any more)",
                          c.run.repo);
    } else if (c.run.rule < 0 || (size_t)c.run.rule >= c.repo->n_rules) {
        rc = sw_error_set(&err, SW_ENOTFOUND, "%s has no build rule %d (the config changed)",
                          c.run.repo, c.run.rule + 1);
    } else {
        c.rule = &c.repo->rules[c.run.rule];
        rc = build_run(&c, digest, tags, &bases, &err);
    }

    double secs = (double)(now_ms() - c.started_ms) / 1000.0;
    const char *status = rc == 0 ? "succeeded" : "failed";
    if (rc != 0 && (w->cancel || sw_error_code(err) == SW_ECANCELED))
        status = "canceled";
    else if (rc != 0 && c.superseded)
        status = "superseded";

    if (c.lost) {
        wrk_log_line(c.log_fd,
                     "Run ID: %s: this worker lost its lease; another worker has"
                     " taken the run over",
                     c.run.run_id);
    } else if (svc->stopping && strcmp(status, "canceled") == 0 && !c.run.cancel_requested) {
        /* shutting down, not canceled by a user: the next worker redoes it */
        int cancel_req = 0;
        wrk_jobs_renew(db, c.run.run_id, w->owner, svc->limits.lease_s, &cancel_req, NULL);
        if (cancel_req) {
            wrk_jobs_finish(db, c.run.run_id, w->owner, "canceled", NULL, NULL, "canceled", NULL);
        } else {
            wrk_log_line(c.log_fd, "Run ID: %s: worker stopping; the run goes back to the queue",
                         c.run.run_id);
            wrk_log_ship_flush(c.ship); /* the next worker's part comes after it */
            wrk_jobs_release(db, c.run.run_id, w->owner, NULL);
        }
    } else {
        /* everything the run writes comes before it is marked finished, so a
         * follower that stops at the end has seen the whole log */
        sw_error *ferr = NULL;
        if (rc == 0) {
            char list[1024];
            format_tags(tags, list, sizeof(list));
            wrk_log_line(c.log_fd, "Tags: %s", list);
            wrk_log_line(c.log_fd, "Digest: %s", digest);
            /* a pull request's bases are not the rule's: they would
             * replace what its branch builds recorded */
            if (bases && strcmp(c.run.source_type, "pull_request") != 0)
                wrk_triggers_record(db, c.repo->name, c.rule->index, bases, c.run.run_id, NULL);
            if (strcmp(c.run.trigger, "base-image") != 0) {
                int queued = 0, total = 0;
                for (size_t i = 0; i < json_array_size(tags); i++) {
                    wrk_triggers_tag_pushed(db, svc->repos, c.repo->name,
                                            json_string_value(json_array_get(tags, i)), digest,
                                            &queued, NULL);
                    total += queued;
                }
                if (total > 0) {
                    wrk_log_line(c.log_fd, "Queued %d rebuild%s of images built on this one", total,
                                 total == 1 ? "" : "s");
                    wrk_service_wake(svc);
                }
            }
            post_status(&c, "success",
                        json_array_size(tags) ? "Image built and tagged" : "Image built");
            if (json_array_size(tags) > 0) /* nothing was pushed: nothing to tell */
                notify(&c, digest, tags);
            wrk_log_line(c.log_fd, "Run ID: %s was successful after %.0fs", c.run.run_id, secs);
        } else if (strcmp(status, "superseded") == 0) {
            wrk_log_line(c.log_fd, "%s", sw_error_message(err));
            wrk_log_line(c.log_fd, "Run ID: %s was superseded after %.0fs", c.run.run_id, secs);
        } else if (strcmp(status, "canceled") == 0) {
            post_status(&c, "error", "Build canceled");
            wrk_log_line(c.log_fd, "Run ID: %s was canceled after %.0fs", c.run.run_id, secs);
        } else {
            if (!c.step_failed) /* a failed step said it already */
                wrk_log_line(c.log_fd, "Error: %s", sw_error_message(err));
            post_status(&c, "failure", "Build failed");
            wrk_log_line(c.log_fd, "Run ID: %s failed after %.0fs", c.run.run_id, secs);
        }
        wrk_log_ship_flush(c.ship); /* the whole log is in the database first */
        if (wrk_jobs_finish(db, c.run.run_id, w->owner, status, rc == 0 ? digest : NULL,
                            rc == 0 ? tags : NULL, rc == 0 ? NULL : sw_error_message(err),
                            &ferr) != 0) {
            sw_warn("run %s: %s", c.run.run_id, sw_error_message(ferr));
            sw_error_clear(&ferr);
        }
        wrk_logstore_announce(db, c.run.run_id); /* followers: the run ended */
        sw_info("run %s %s after %.1fs%s%s", c.run.run_id, status, secs, rc ? ": " : "",
                rc ? sw_error_message(err) : "");
    }
    if (hb) {
        pthread_mutex_lock(&c.hb_lock);
        c.hb_stop = 1;
        pthread_cond_signal(&c.hb_cond);
        pthread_mutex_unlock(&c.hb_lock);
        pthread_join(c.hb_thread, NULL);
    }
    if (c.log_fd >= 0) {
        wrk_log_output_stop(c.log_fd);
        /* on PostgreSQL the database holds the log: the file was only its
         * way there, and runs.keep, run by any process, could not find it */
        if (c.ship && wrk_log_ship_stop(c.ship) == 0) {
            char *path = wrk_log_path(reg_store_data_dir(svc->opts.store), c.run.run_id);
            if (path && unlink(path) != 0 && errno != ENOENT)
                sw_warn("removing %s: %s", path, strerror(errno));
            free(path);
        }
        close(c.log_fd);
    }
    pthread_mutex_destroy(&c.hb_lock);
    pthread_cond_destroy(&c.hb_cond);
    json_decref(tags);
    json_decref(bases);
    sw_error_clear(&err);
    wrk_run_release(&c.run);
}

/* ---- the threads ---------------------------------------------------------- */

/* How long an idle worker thread may sleep before it looks again. */
static int idle_wait_ms(wrk_service *svc, sw_db *db)
{
    if (db == NULL || !atomic_load(&svc->listening))
        return IDLE_POLL_MS;
    int64_t at = 0;
    int ms = IDLE_FALLBACK_MS, queued = 0;
    if (wrk_jobs_next_expiry(db, &at, &queued, NULL) != 0)
        return IDLE_POLL_MS;
    if (at > 0) { /* a lease expiring is claimable then: nothing announces it */
        int64_t until = (at - (int64_t)time(NULL) + 1) * 1000;
        if (until < ms)
            ms = until < IDLE_POLL_MS ? IDLE_POLL_MS : (int)until;
    }
    if (queued) {
        /* a claimable run this worker could not claim: another worker is
         * claiming it (PostgreSQL's SKIP LOCKED skipped its row), and its
         * lease, which may be shorter than ours (each machine has its own
         * config), shows once that commits: look again in a moment rather
         * than after our own lease */
        ms = IDLE_POLL_MS;
    } else if (at == 0 && (svc->limits.lease_s + 1) * 1000 < ms) {
        ms = (svc->limits.lease_s + 1) * 1000;
    }
    return ms;
}

static void wait_for_work(wrk_service *svc, int wait_ms)
{
    pthread_mutex_lock(&svc->lock);
    if (svc->wakeups == 0 && !svc->stopping) {
        struct timespec deadline = sw_deadline_in(wait_ms);
        pthread_cond_timedwait(&svc->wake, &svc->lock, &deadline);
    }
    if (svc->wakeups > 0)
        svc->wakeups--;
    pthread_mutex_unlock(&svc->lock);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    wrk_service *svc = w->svc;
    while (!svc->stopping) {
        sw_db *db = NULL;
        sw_error *err = NULL;
        struct wrk_run run;
        int rc = reg_store_db(svc->opts.store, &db, &err);
        if (rc == 0)
            rc = wrk_jobs_claim(db, w->owner, svc->limits.lease_s, svc->limits.max_attempts, &run,
                                &err);
        if (rc == 0) {
            atomic_fetch_add(&svc->busy, 1);
            process_run(w, db, &run);
            atomic_fetch_sub(&svc->busy, 1);
            continue;
        }
        if (rc != SW_ENOTFOUND)
            sw_warn("%s: claiming a run: %s", w->owner, sw_error_message(err));
        sw_error_clear(&err);
        wait_for_work(svc, rc == SW_ENOTFOUND ? idle_wait_ms(svc, db) : IDLE_POLL_MS);
    }
    return NULL;
}

/* Hears runs queued by any process sharing the database (on SQLite: by
 * this process) and wakes the worker threads; likewise deliveries for the
 * courier. Its own connection: a
 * connection is used by one thread at a time. */
static void *listener_main(void *arg)
{
    wrk_service *svc = arg;
    int listened = 0, warned = 0;
    while (!svc->stopping) {
        sw_db *db = NULL;
        sw_error *e = NULL;
        char channel[SW_DB_CHANNEL_MAX] = "";
        int rc = reg_store_db(svc->opts.store, &db, &e);
        if (rc == 0 && !listened && (rc = sw_db_listen(db, WRK_RUNS_CHANNEL, &e)) == 0 &&
            (rc = sw_db_listen(db, WRK_OUTBOX_CHANNEL, &e)) == 0)
            listened = 1; /* a reconnect listens again by itself (core/db.h) */
        if (rc == 0)
            rc = sw_db_wait_notify(db, LISTEN_TICK_MS, channel, NULL, &e);
        if (rc >= 0) {
            atomic_store(&svc->listening, sw_db_kind_of(db) == SW_DB_POSTGRES);
            if (warned)
                sw_info("listening for queued runs again");
            warned = 0;
        }
        if (rc > 0 && strcmp(channel, WRK_OUTBOX_CHANNEL) == 0) {
            courier_kick(svc);
        } else if (rc > 0) {
            wrk_service_wake(svc); /* also for channel "": some may be missed */
            if (channel[0] == '\0')
                courier_kick(svc);
        } else if (rc < 0) {
            /* the connection is down: poll meanwhile, wake once it is back
             * (the wait itself pauses as the reconnect backoff says) */
            atomic_store(&svc->listening, 0);
            if (!warned)
                sw_warn("listening for queued runs: %s (polling meanwhile)", sw_error_message(e));
            warned = 1;
            wrk_service_wake(svc);
            if (db == NULL || !listened) {
                struct timespec pause = { 1, 0 };
                nanosleep(&pause, NULL);
            }
        }
        sw_error_clear(&e);
    }
    return NULL;
}

/* Deletes runs older than runs.keep, and their logs. */
static void prune_runs(wrk_service *svc, sw_db *db)
{
    if (svc->limits.keep_s <= 0)
        return;
    char **ids = NULL;
    size_t n = 0;
    sw_error *e = NULL;
    if (wrk_jobs_prune(db, (int64_t)time(NULL) - svc->limits.keep_s, &ids, &n, &e) != 0) {
        sw_warn("deleting old runs: %s", sw_error_message(e));
        sw_error_clear(&e);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *path = wrk_log_path(reg_store_data_dir(svc->opts.store), ids[i]);
        if (path && unlink(path) != 0 && errno != ENOENT)
            sw_warn("removing %s: %s", path, strerror(errno));
        if (wrk_logstore_enabled(db) && wrk_logstore_delete(db, ids[i], &e) != 0) {
            sw_warn("run %s: %s", ids[i], sw_error_message(e));
            sw_error_clear(&e);
        }
        free(path);
        free(ids[i]);
    }
    if (n > 0)
        sw_info("deleted %zu run%s finished more than %lld days ago, with their logs", n,
                n == 1 ? "" : "s", (long long)(svc->limits.keep_s / 86400));
    free(ids);
}

/* Removes what builds of dead processes left: their containers first
 * (killed, deleted, unmounted), then their scratch directories. */
static void sweep_leftovers(reg_store *store, const struct sw_config *cfg)
{
    int killed = 0, swept = 0;
    bld_sandbox_sweep(cfg && cfg->runtime ? cfg->runtime : "runc", &killed, NULL);
    bld_scratch_sweep(store, &swept, NULL);
    if (killed > 0)
        sw_info("removed %d build container%s left by stopped workers", killed,
                killed == 1 ? "" : "s");
    if (swept > 0)
        sw_info("removed %d scratch director%s left by stopped builds", swept,
                swept == 1 ? "y" : "ies");
}

static void *presence_main(void *arg)
{
    wrk_service *svc = arg;
    const char *name = svc->name;
    int64_t next_prune = 0;
    pthread_mutex_lock(&svc->lock);
    while (!svc->stopping) {
        pthread_mutex_unlock(&svc->lock);
        sw_db *db = NULL;
        sw_error *e = NULL;
        if (reg_store_db(svc->opts.store, &db, &e) != 0 ||
            wrk_workers_heartbeat(db, name, svc->n_workers, &e) != 0 ||
            wrk_workers_set_platforms(db, name, svc->platforms_text, &e) != 0)
            sw_warn("worker %s: %s", name, sw_error_message(e));
        sw_error_clear(&e);
        if (db && (int64_t)time(NULL) >= next_prune) {
            prune_runs(svc, db);
            next_prune = (int64_t)time(NULL) + PRUNE_PERIOD_S;
        }
        /* containers and scratch dirs of workers killed meanwhile */
        sweep_leftovers(svc->opts.store, svc->opts.config);
        pthread_mutex_lock(&svc->lock);
        struct timespec deadline = sw_deadline_in(PRESENCE_PERIOD_S * 1000);
        while (!svc->stopping &&
               pthread_cond_timedwait(&svc->wake, &svc->lock, &deadline) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&svc->lock);
    sw_db *db = NULL;
    if (reg_store_db(svc->opts.store, &db, NULL) == 0)
        wrk_workers_gone(db, name, NULL);
    return NULL;
}

/* ---- the courier ------------------------------------------------------------ */

static void courier_kick(wrk_service *svc)
{
    pthread_mutex_lock(&svc->lock);
    svc->outbox_kicked = 1;
    pthread_cond_signal(&svc->outbox_cond);
    pthread_mutex_unlock(&svc->lock);
}

/* How long the courier may sleep with nothing due: until the next retry
 * or lease end when the listener hears deliveries queued anywhere
 * (PostgreSQL), else a poll as on SQLite. */
static int courier_wait_ms(wrk_service *svc, sw_db *db)
{
    int64_t at = 0;
    if (db == NULL || !atomic_load(&svc->listening) || wrk_outbox_next_due(db, &at, NULL) != 0)
        return COURIER_POLL_MS;
    if (at == 0)
        return COURIER_FALLBACK_MS;
    int64_t ms = (at - (int64_t)time(NULL) + 1) * 1000;
    return ms < COURIER_POLL_MS       ? COURIER_POLL_MS
           : ms > COURIER_FALLBACK_MS ? COURIER_FALLBACK_MS
                                      : (int)ms;
}

static void courier_wait(wrk_service *svc, int wait_ms)
{
    pthread_mutex_lock(&svc->lock);
    if (!svc->outbox_kicked && !svc->stopping) {
        struct timespec deadline = sw_deadline_in(wait_ms);
        pthread_cond_timedwait(&svc->outbox_cond, &svc->lock, &deadline);
    }
    svc->outbox_kicked = 0;
    pthread_mutex_unlock(&svc->lock);
}

/* Sends one claimed delivery and records the outcome. A status token is
 * taken from the config now: the outbox never holds it. */
static void deliver(wrk_service *svc, sw_db *db, const char *owner, const struct wrk_delivery *d)
{
    char *auth = NULL;
    char *target = wrk_outbox_target(d->url);
    const char *url = d->url;
    const char *error = NULL;
    int retry = 0;
    long status = 0;
    sw_error *e = NULL, *rec = NULL;
    if (strcmp(d->kind, "status") == 0) {
        const struct wrk_repo *r = wrk_repos_find(svc->repos, d->repo);
        if (r == NULL || r->status_token == NULL) {
            error = "the repository has no status_token in the config any more";
            goto record;
        }
        if (asprintf(&auth, "Bearer %s", r->status_token) < 0) {
            auth = NULL;
            error = "out of memory";
            retry = 1;
            goto record;
        }
    }
    if (strcmp(d->kind, "notify") == 0 && strncmp(d->url, "notify:", 7) == 0) {
        url = wrk_notify_resolve(wrk_repos_find(svc->repos, d->repo), d->url);
        if (url == NULL) {
            error = "the notify URL is not in the repository's config any more";
            goto record;
        }
    }
    if (wrk_forge_post(url, d->body, auth, &svc->stopping, &status, &e) == 0) {
        sw_info("run %s: %s delivered to %s (try %d)", d->run_id, d->kind, target ? target : "?",
                d->attempts);
    } else if (sw_error_code(e) == SW_ECANCELED) {
        wrk_outbox_giveback(db, d, owner, NULL);
        goto cleanup;
    } else {
        error = sw_error_message(e);
        retry = wrk_forge_retryable(status);
        sw_warn("run %s: %s to %s: %s (try %d of %d%s)", d->run_id, d->kind, target ? target : "?",
                error, d->attempts, WRK_OUTBOX_MAX_ATTEMPTS, retry ? "" : ", not retried");
    }
record:
    if (wrk_outbox_done(db, d, owner, error, retry, &rec) != 0)
        sw_warn("run %s: %s", d->run_id, sw_error_message(rec));
cleanup:
    if (auth) {
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    free(target);
    sw_error_clear(&e);
    sw_error_clear(&rec);
}

static void *courier_main(void *arg)
{
    wrk_service *svc = arg;
    char owner[96];
    snprintf(owner, sizeof(owner), "%s/courier", svc->name);
    while (!svc->stopping) {
        sw_db *db = NULL;
        sw_error *e = NULL;
        struct wrk_delivery d;
        int rc = reg_store_db(svc->opts.store, &db, &e);
        if (rc == 0)
            rc = wrk_outbox_claim(db, owner, COURIER_LEASE_S, &d, &e);
        if (rc != 0) {
            if (rc != SW_ENOTFOUND)
                sw_warn("%s: %s", owner, sw_error_message(e));
            sw_error_clear(&e);
            courier_wait(svc, rc == SW_ENOTFOUND ? courier_wait_ms(svc, db) : COURIER_POLL_MS);
            continue;
        }
        deliver(svc, db, owner, &d);
        wrk_delivery_release(&d);
    }
    return NULL;
}

int wrk_workers_alive(reg_store *store, int *processes, int *threads, sw_error **err)
{
    sw_db *db = NULL;
    int rc = reg_store_db(store, &db, err);
    if (rc == 0)
        rc = wrk_workers_count(db, 3 * PRESENCE_PERIOD_S, processes, threads, err);
    return rc;
}

int wrk_workers_describe(reg_store *store, json_t **out, sw_error **err)
{
    sw_db *db = NULL;
    int rc = reg_store_db(store, &db, err);
    if (rc == 0)
        rc = wrk_workers_list(db, 3 * PRESENCE_PERIOD_S, out, err);
    return rc;
}

static void timers_queued(void *svc)
{
    wrk_service_wake(svc);
}

int wrk_service_start(const struct wrk_service_options *opts, wrk_service **out, sw_error **err)
{
    wrk_service *svc = calloc(1, sizeof(*svc));
    if (svc == NULL)
        return sw_error_oom(err);
    svc->opts = *opts;
    atomic_store(&svc->repos, opts->repos);
    snprintf(svc->name, sizeof(svc->name), "%s", opts->name ? opts->name : "worker");
    svc->opts.name = svc->name; /* the caller's buffer may not outlive the call */
    wrk_run_limits_get(opts->config, &svc->limits);
    /* fetches run in a child process of this binary (see worker/git.h) */
    char exe[SW_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0 && (size_t)n < sizeof(exe) - 1) { /* a cut path is no path */
        exe[n] = '\0';
        wrk_git_use_helper(exe);
    }
    sweep_leftovers(opts->store, opts->config);
    /* what RUN steps can run here: native, or emulated through binfmt_misc */
    sw_error *platform_err = NULL;
    if (wrk_platforms_runnable(NULL, &svc->platforms, &platform_err) != 0) {
        sw_warn("finding the platforms this worker runs: %s", sw_error_message(platform_err));
        sw_error_clear(&platform_err);
    }
    wrk_platforms_join(svc->platforms, svc->platforms_text, sizeof(svc->platforms_text));
    sw_info("platforms this worker runs: %s", svc->platforms_text);
    pthread_mutex_init(&svc->lock, NULL);
    pthread_cond_init(&svc->wake, NULL);
    pthread_cond_init(&svc->outbox_cond, NULL);
    svc->workers = calloc((size_t)(opts->threads > 0 ? opts->threads : 1), sizeof(struct worker));
    if (svc->workers == NULL) {
        wrk_service_stop(svc);
        return sw_error_oom(err);
    }
    for (int i = 0; i < opts->threads; i++) {
        struct worker *w = &svc->workers[i];
        w->svc = svc;
        w->index = i;
        snprintf(w->owner, sizeof(w->owner), "%s/%d", svc->name, i + 1);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            wrk_service_stop(svc);
            return sw_error_sys(err, SW_EIO, errno, "starting worker threads");
        }
        svc->n_workers++;
    }
    svc->has_presence = pthread_create(&svc->presence, NULL, presence_main, svc) == 0;
    svc->has_courier = pthread_create(&svc->courier, NULL, courier_main, svc) == 0;
    svc->has_listener = pthread_create(&svc->listener, NULL, listener_main, svc) == 0;
    sw_error *timer_err = NULL;
    if (wrk_timers_start(opts->store, opts->repos, timers_queued, svc, &svc->timers, &timer_err))
        sw_warn("timers do not run in this process: %s", sw_error_message(timer_err));
    sw_error_clear(&timer_err);
    sw_info("%d worker thread%s started (lease %ds, at most %d attempts)", svc->n_workers,
            svc->n_workers == 1 ? "" : "s", svc->limits.lease_s, svc->limits.max_attempts);
    *out = svc;
    return 0;
}

void wrk_service_wake(wrk_service *svc)
{
    if (svc == NULL)
        return;
    pthread_mutex_lock(&svc->lock);
    svc->wakeups = svc->n_workers;
    pthread_cond_broadcast(&svc->wake);
    pthread_mutex_unlock(&svc->lock);
}

int wrk_service_threads(const wrk_service *svc)
{
    return svc ? svc->n_workers : 0;
}

void wrk_service_stop(wrk_service *svc)
{
    if (svc == NULL)
        return;
    wrk_timers_stop(svc->timers);
    pthread_mutex_lock(&svc->lock);
    svc->stopping = 1;
    pthread_cond_broadcast(&svc->wake);
    pthread_cond_broadcast(&svc->outbox_cond);
    pthread_mutex_unlock(&svc->lock);
    for (int i = 0; i < svc->n_workers; i++)
        svc->workers[i].cancel = 1;
    for (int i = 0; i < svc->n_workers; i++)
        pthread_join(svc->workers[i].thread, NULL);
    if (svc->has_presence)
        pthread_join(svc->presence, NULL);
    if (svc->has_courier)
        pthread_join(svc->courier, NULL);
    if (svc->has_listener)
        pthread_join(svc->listener, NULL);
    free(svc->workers);
    sw_strv_free(svc->platforms);
    pthread_mutex_destroy(&svc->lock);
    pthread_cond_destroy(&svc->wake);
    pthread_cond_destroy(&svc->outbox_cond);
    free(svc);
}
