/*
 * api.c - the build service's JSON API under /api/v1/ (docs/api.md):
 * repositories, runs, logs (whole, followed, or as Server-Sent Events),
 * manual runs, cancel, and what the registry holds, for the web UI and
 * the CLI.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/parse.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "registry/blobstore.h"
#include "registry/manifest.h"
#include "registry/names.h"
#include "server/internal.h"
#include "worker/jobs.h"
#include "worker/outbox.h"
#include "worker/repos.h"
#include "worker/runid.h"
#include "worker/logstore.h"
#include "worker/runlog.h"
#include "worker/service.h"
#include "worker/tagruns.h"

#ifndef SLIPWAY_VERSION
#define SLIPWAY_VERSION "0.1.0"
#endif

#define MAX_REQUEST_BODY (64 * 1024)
#define MAX_FILTERED_PAGES 20 /* pages of runs read to fill one filtered page */

/* ---- common --------------------------------------------------------------- */

int srv_api_authorize(srv_request *req, int is_write, const char *repo)
{
    srv_server *srv = req->srv;
    sw_error *err = NULL;
    if (srv->auth == NULL)
        return 0;
    if (srv_request_login(req, &err) != 0) { /* with the login backoff (429) */
        srv_api_error(req, sw_error_code(err), sw_error_message(err));
        sw_error_clear(&err);
        return -1;
    }
    if (!is_write) {
        /* what may be read is filtered per repository by the caller;
         * anonymous requests get a login prompt when they may read nothing */
        if (req->user == NULL && req->scopes == NULL && !reg_access_anonymous_reads(srv->cfg)) {
            srv_api_error(req, SRV_E_UNAUTHORIZED, "log in to see this");
            return -1;
        }
        return 0;
    }
    if (req->user == NULL) {
        srv_api_error(req, SRV_E_UNAUTHORIZED, "log in to do this");
        return -1;
    }
    if (repo && !srv_request_allowed(req, repo, SRV_AUTH_PUSH)) {
        srv_api_error(req, SRV_E_DENIED, "you may not start or cancel builds of this repository");
        return -1;
    }
    return 0;
}

/* 1 when the request may read repo's runs and data (who may pull its
 * image); without auth everything is readable. */
static int repo_readable(srv_request *req, const char *repo)
{
    return req->srv->auth == NULL || srv_request_allowed(req, repo, SRV_AUTH_PULL);
}

static json_t *json_time(int64_t t)
{
    char buf[SW_RFC3339_MAX];
    return t > 0 ? json_string(sw_format_rfc3339(t, buf)) : json_null();
}

static json_t *json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Reads a store connection, answering 500 when there is none. */
static sw_db *api_db(srv_request *req)
{
    sw_db *db = NULL;
    sw_error *err = NULL;
    if (reg_store_db(srv_request_store(req), &db, &err) != 0) {
        srv_api_sw_error(req, err);
        sw_error_clear(&err);
        return NULL;
    }
    return db;
}

static const char *public_url(const srv_request *req)
{
    const char *url = srv_request_config(req)->public_url;
    return url ? url : "http://localhost:8080";
}

/* The run named by the request's :id; 0, or an error response set. */
static int api_run(srv_request *req, sw_db *db, struct wrk_run *run)
{
    sw_error *err = NULL;
    if (wrk_jobs_get(db, srv_request_param(req, "id"), run, &err) == 0) {
        if (repo_readable(req, run->repo))
            return 0;
        /* the same answer as for a run that does not exist */
        char msg[300];
        snprintf(msg, sizeof msg, "run %s does not exist", srv_request_param(req, "id"));
        wrk_run_release(run);
        srv_api_error(req, SW_ENOTFOUND, msg);
        return -1;
    }
    srv_api_sw_error(req, err);
    sw_error_clear(&err);
    return -1;
}

static json_t *run_json(const char *base_url, const struct wrk_run *run)
{
    int64_t now = (int64_t)time(NULL);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(run->run_id));
    json_object_set_new(o, "repo", json_string(run->repo));
    json_object_set_new(o, "trigger", json_string(run->trigger));
    json_object_set_new(o, "source_type", json_string(run->source_type));
    json_object_set_new(o, "source_ref", json_string(run->source_ref));
    json_object_set_new(o, "commit", json_str_or_null(run->commit_sha));
    json_object_set_new(o, "tag_object", json_str_or_null(run->tag_object));
    json_object_set_new(
        o, "pull_request",
        run->pr_number > 0 ? json_pack("{s:I, s:o, s:o, s:b}", "number", (json_int_t)run->pr_number,
                                       "head_ref", json_str_or_null(run->pr_head_ref), "head_repo",
                                       json_str_or_null(run->pr_head_repo), "fork", run->pr_fork)
                           : json_null());
    json_object_set_new(o, "commit_message", json_str_or_null(run->commit_message));
    json_object_set_new(o, "pusher", json_str_or_null(run->pusher));
    json_object_set_new(o, "status", json_string(run->status));
    json_object_set_new(o, "attempts", json_integer(run->attempts));
    json_object_set_new(o, "queued_at", json_time(run->queued_at));
    json_object_set_new(o, "started_at", json_time(run->started_at));
    json_object_set_new(o, "finished_at", json_time(run->finished_at));
    int64_t queue_end = run->started_at    ? run->started_at
                        : run->finished_at ? run->finished_at
                                           : now;
    json_object_set_new(o, "queue_seconds", json_real((double)(queue_end - run->queued_at)));
    json_object_set_new(o, "duration_seconds",
                        run->started_at && run->finished_at
                            ? json_real((double)(run->finished_at - run->started_at))
                            : json_null());
    json_object_set_new(o, "digest", json_str_or_null(run->digest));
    json_object_set_new(o, "tags", run->tags ? json_incref(run->tags) : json_array());
    json_object_set_new(o, "error", json_str_or_null(run->error));
    char *url = NULL;
    if (asprintf(&url, "%s/runs/%s", base_url, run->run_id) >= 0) {
        json_object_set_new(o, "web_url", json_string(url));
        free(url);
    }
    if (asprintf(&url, "%s/api/v1/runs/%s/log", base_url, run->run_id) >= 0) {
        json_object_set_new(o, "log_url", json_string(url));
        free(url);
    }
    return o;
}

/* The run with its steps and deliveries, as in GET /api/v1/runs/ID. */
static json_t *run_steps_json(const char *base_url, sw_db *db, const char *id, int *finished,
                              sw_error **err)
{
    struct wrk_run run;
    json_t *steps = NULL;
    if (wrk_jobs_get(db, id, &run, err) != 0)
        return NULL;
    json_t *o = run_json(base_url, &run);
    if (wrk_jobs_steps(db, id, &steps, NULL) == 0)
        json_object_set_new(o, "steps", steps);
    else
        json_object_set_new(o, "steps", json_array());
    json_t *deliveries = NULL;
    if (wrk_outbox_list(db, id, &deliveries, NULL) != 0)
        deliveries = json_array();
    json_object_set_new(o, "deliveries", deliveries);
    if (finished)
        *finished = strcmp(run.status, "queued") != 0 && strcmp(run.status, "running") != 0;
    wrk_run_release(&run);
    return o;
}

/* The run with its steps, or NULL with an error response set. */
static json_t *run_full_json(srv_request *req, sw_db *db, const char *id, int *finished)
{
    sw_error *err = NULL;
    json_t *o = run_steps_json(public_url(req), db, id, finished, &err);
    if (o == NULL) {
        srv_api_sw_error(req, err);
        sw_error_clear(&err);
    }
    return o;
}

static void respond_created(srv_request *req, unsigned status, json_t *doc)
{
    srv_respond_json(req, status, NULL, doc);
    json_decref(doc);
}

/* ---- status and repositories ---------------------------------------------- */

static void status_end(srv_request *req)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    sw_db *db = api_db(req);
    if (db == NULL)
        return;
    int queued = 0, running = 0, n_repos = 0;
    sw_error *err = NULL;
    const struct wrk_repos *repos = req->srv->repos;
    if (req->srv->auth == NULL) {
        if (wrk_jobs_counts(db, NULL, &queued, &running, &err) != 0) {
            srv_api_sw_error(req, err);
            sw_error_clear(&err);
            return;
        }
        n_repos = repos ? (int)repos->n : 0;
    } else {
        /* only what the caller may see: the repositories it may pull */
        for (size_t i = 0; repos && i < repos->n; i++) {
            int q = 0, r = 0;
            if (!repo_readable(req, repos->repos[i].name))
                continue;
            n_repos++;
            if (wrk_jobs_counts(db, repos->repos[i].name, &q, &r, NULL) == 0) {
                queued += q;
                running += r;
            }
        }
    }
    int processes = 0, threads = 0;
    wrk_workers_alive(srv_request_store(req), &processes, &threads, NULL);
    const char *url = public_url(req);
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    char registry[256];
    snprintf(registry, sizeof(registry), "%.*s", (int)strcspn(host, "/"), host);
    const struct sw_config *cfg = srv_request_config(req);
    json_t *doc =
        json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:b, s:b, s:i}", "version", SLIPWAY_VERSION,
                  "queued", queued, "running", running, "workers", threads, "worker_processes",
                  processes, "registry", registry, "auth", req->srv->auth != NULL, "anonymous_pull",
                  reg_access_anonymous_reads(cfg), "repositories", n_repos);
    /* each worker process and the platforms it can build (emulated ones
     * through binfmt_misc included) */
    json_t *worker_list = NULL;
    if (wrk_workers_describe(srv_request_store(req), &worker_list, NULL) == 0)
        json_object_set_new(doc, "worker_list", worker_list);
    respond_created(req, 200, doc);
}

static json_t *rule_json(const struct wrk_rule *rule)
{
    json_t *o = json_object();
    json_object_set_new(o, "source_type", json_string(rule->source_type));
    if (rule->is_regex) {
        char *shown = NULL;
        if (asprintf(&shown, "/%s/", rule->source) >= 0) {
            json_object_set_new(o, "source", json_string(shown));
            free(shown);
        }
    } else {
        json_object_set_new(o, "source", json_string(rule->source));
    }
    json_object_set_new(o, "regex", json_boolean(rule->is_regex));
    json_object_set_new(o, "dockerfile", json_string(rule->dockerfile));
    json_object_set_new(o, "context", json_string(rule->context));
    json_t *args = json_object();
    for (size_t i = 0; i < rule->n_build_args; i++) {
        const char *eq = strchr(rule->build_args[i], '=');
        if (eq == NULL)
            continue;
        char *key = strndup(rule->build_args[i], (size_t)(eq - rule->build_args[i]));
        if (key)
            json_object_set_new(args, key, json_string(eq + 1));
        free(key);
    }
    json_object_set_new(o, "build_args", args);
    json_t *tags = json_array();
    for (size_t i = 0; i < rule->n_tags; i++)
        json_array_append_new(tags, json_string(rule->tags[i]));
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "semver", json_boolean(rule->semver));
    json_t *autotest = json_null();
    if (rule->autotest) {
        autotest = json_array();
        for (char **a = rule->autotest; *a; a++)
            json_array_append_new(autotest, json_string(*a));
    }
    json_object_set_new(o, "autotest", autotest);
    json_object_set_new(o, "notify", json_integer((json_int_t)rule->n_notify));
    json_object_set_new(o, "cache", json_boolean(rule->cache));
    json_object_set_new(o, "forks", json_boolean(rule->forks));
    json_t *platforms = json_array();
    for (size_t i = 0; i < rule->n_platforms; i++)
        json_array_append_new(platforms, json_string(rule->platforms[i]));
    json_object_set_new(o, "platforms", platforms);
    return o;
}

static json_t *repo_json(srv_request *req, sw_db *db, const struct wrk_repo *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "git", json_string(r->git));
    json_object_set_new(o, "secret", json_boolean(r->secret != NULL));
    json_object_set_new(o, "status_updates", json_boolean(r->status_token != NULL));
    json_t *hooks = json_object();
    static const char *const forges[] = { "github", "gitlab", "gitea", NULL };
    for (size_t i = 0; forges[i]; i++) {
        char *url = NULL;
        if (asprintf(&url, "%s/hooks/%s/%s", public_url(req), forges[i], r->name) >= 0) {
            json_object_set_new(hooks, forges[i], json_string(url));
            free(url);
        }
    }
    json_object_set_new(o, "webhooks", hooks);
    json_t *rules = json_array();
    for (size_t i = 0; i < r->n_rules; i++)
        json_array_append_new(rules, rule_json(&r->rules[i]));
    json_object_set_new(o, "rules", rules);

    struct wrk_run *runs = NULL;
    size_t n = 0;
    json_object_set_new(o, "last_run", json_null());
    if (wrk_jobs_list(db, r->name, NULL, 0, 1, &runs, &n, NULL) == 0) {
        if (n > 0)
            json_object_set_new(o, "last_run", run_json(public_url(req), &runs[0]));
        for (size_t i = 0; i < n; i++)
            wrk_run_release(&runs[i]);
        free(runs);
    }
    int queued = 0, running = 0;
    wrk_jobs_counts(db, r->name, &queued, &running, NULL);
    json_object_set_new(o, "queued", json_integer(queued));
    json_object_set_new(o, "running", json_integer(running));
    return o;
}

static void repos_end(srv_request *req)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    sw_db *db = api_db(req);
    if (db == NULL)
        return;
    json_t *list = json_array();
    const struct wrk_repos *repos = req->srv->repos;
    for (size_t i = 0; repos && i < repos->n; i++)
        if (repo_readable(req, repos->repos[i].name))
            json_array_append_new(list, repo_json(req, db, &repos->repos[i]));
    respond_created(req, 200, json_pack("{s:o}", "repos", list));
}

static void repo_end(srv_request *req)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    const char *name = srv_request_param(req, "name");
    const struct wrk_repo *r = req->srv->repos ? wrk_repos_find(req->srv->repos, name) : NULL;
    if (r == NULL || !repo_readable(req, r->name)) {
        char msg[512];
        snprintf(msg, sizeof(msg), "no source repository %s is configured", name);
        srv_api_error(req, SW_ENOTFOUND, msg);
        return;
    }
    sw_db *db = api_db(req);
    if (db)
        respond_created(req, 200, repo_json(req, db, r));
}

/* ---- runs ----------------------------------------------------------------- */

static void runs_end(srv_request *req)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    sw_db *db = api_db(req);
    if (db == NULL)
        return;
    const char *limit_text = srv_request_query(req, "limit");
    int limit = 50;
    if (limit_text && *limit_text && sw_parse_int(limit_text, 1, 500, &limit) != 0) {
        srv_api_error(req, SW_EINVAL, "limit: expected a number from 1 to 500");
        return;
    }
    const char *repo = srv_request_query(req, "repo");
    const char *status = srv_request_query(req, "status");
    if (repo && *repo == '\0')
        repo = NULL;
    if (status && *status == '\0')
        status = NULL;
    static const char *const states[] = { "queued",   "running",    "succeeded", "failed",
                                          "canceled", "superseded", NULL };
    size_t k = 0;
    while (status && states[k] && strcmp(states[k], status) != 0)
        k++;
    if (status && states[k] == NULL) {
        srv_api_error(req, SW_EINVAL,
                      "status: expected queued, running, succeeded, failed, canceled or "
                      "superseded");
        return;
    }
    /* a page of older runs: those before the given run id */
    const char *before_text = srv_request_query(req, "before");
    int64_t before = 0;
    if (before_text && *before_text) {
        before = wrk_run_id_counter(before_text);
        if (before <= 0) {
            srv_api_error(req, SW_EINVAL, "before: not a run id");
            return;
        }
    }
    json_t *list = json_array();
    json_t *next_before = json_null();
    int shown = 0;
    sw_error *err = NULL;
    if (repo && !repo_readable(req, repo))
        goto respond; /* as for a repository without runs */
    /* runs of repositories the caller may not read are left out; pages
     * are read until `limit` readable runs or the end (bounded) */
    for (int page = 0; page < MAX_FILTERED_PAGES && shown < limit; page++) {
        struct wrk_run *runs = NULL;
        size_t n = 0;
        if (wrk_jobs_list(db, repo, status, before, limit, &runs, &n, &err) != 0) {
            json_decref(list);
            json_decref(next_before);
            srv_api_sw_error(req, err);
            sw_error_clear(&err);
            return;
        }
        int is_full = (int)n == limit;
        size_t i = 0;
        for (; i < n && shown < limit; i++) {
            if (!repo_readable(req, runs[i].repo))
                continue;
            json_array_append_new(list, run_json(public_url(req), &runs[i]));
            shown++;
        }
        /* more may be behind the last run looked at: where the next page starts */
        json_decref(next_before);
        next_before = json_null();
        if (n > 0 && (i < n || is_full)) {
            next_before = json_string(runs[i - 1].run_id);
            before = wrk_run_id_counter(runs[i - 1].run_id);
        }
        for (size_t j = 0; j < n; j++)
            wrk_run_release(&runs[j]);
        free(runs);
        if (!is_full || json_is_null(next_before))
            break;
    }
respond:
    respond_created(req, 200, json_pack("{s:o, s:o}", "runs", list, "next_before", next_before));
}

static void run_end(srv_request *req)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    sw_db *db = api_db(req);
    struct wrk_run run;
    if (db == NULL || api_run(req, db, &run) != 0)
        return;
    wrk_run_release(&run);
    json_t *o = run_full_json(req, db, srv_request_param(req, "id"), NULL);
    if (o)
        respond_created(req, 200, o);
}

static int body_headers(srv_request *req)
{
    srv_request_buffer_body(req, MAX_REQUEST_BODY);
    return 0;
}

/* POST /api/v1/runs {"repo", "branch"|"tag"|"commit"} */
static void run_create_end(srv_request *req)
{
    size_t len = 0;
    const char *body = srv_request_body(req, &len);
    json_error_t jerr;
    json_t *doc = json_loadb(body ? body : "", len, 0, &jerr);
    const struct wrk_repos *repos = req->srv->repos;
    char msg[512];
    if (!json_is_object(doc)) {
        snprintf(msg, sizeof(msg), "the body must be a JSON object: %s", jerr.text);
        srv_api_error(req, SW_EINVAL, msg);
        goto cleanup;
    }
    const char *name = json_string_value(json_object_get(doc, "repo"));
    const char *branch = json_string_value(json_object_get(doc, "branch"));
    const char *tag = json_string_value(json_object_get(doc, "tag"));
    const char *commit = json_string_value(json_object_get(doc, "commit"));
    if (name == NULL) {
        srv_api_error(req, SW_EINVAL, "\"repo\" is required");
        goto cleanup;
    }
    if ((branch != NULL) + (tag != NULL) + (commit != NULL) != 1) {
        srv_api_error(req, SW_EINVAL, "give exactly one of \"branch\", \"tag\" or \"commit\"");
        goto cleanup;
    }
    if (srv_api_authorize(req, 1, name) != 0)
        goto cleanup;
    const struct wrk_repo *r = repos ? wrk_repos_find(repos, name) : NULL;
    if (r == NULL) {
        snprintf(msg, sizeof(msg), "no source repository %s is configured", name);
        srv_api_error(req, SW_ENOTFOUND, msg);
        goto cleanup;
    }
    const char *type = branch ? "branch" : tag ? "tag" : "commit";
    const char *ref = branch ? branch : tag ? tag : commit ? commit : "";
    if (*ref == '\0' || strlen(ref) > 255 || strstr(ref, "..") || ref[0] == '-' ||
        strpbrk(ref, " ~^:?*[\\") != NULL) {
        snprintf(msg, sizeof(msg), "\"%s\" is not a valid %s name", ref, type);
        srv_api_error(req, SW_EINVAL, msg);
        goto cleanup;
    }
    int rule = -1;
    if (commit) {
        if (strspn(commit, "0123456789abcdef") != strlen(commit) || strlen(commit) < 7 ||
            strlen(commit) > 40) {
            srv_api_error(req, SW_EINVAL, "\"commit\" must be a hex commit id (7 to 40 digits)");
            goto cleanup;
        }
        for (size_t i = 0; i < r->n_rules && rule < 0; i++)
            if (strcmp(r->rules[i].source_type, "branch") == 0)
                rule = (int)i;
        if (rule < 0 && r->n_rules > 0)
            rule = 0;
    } else {
        struct wrk_match m[16];
        size_t n = wrk_repo_match(r, type, ref, m, 16);
        if (n > 0)
            rule = m[0].rule->index;
        for (size_t i = 0; i < n; i++)
            wrk_match_clear(&m[i]);
    }
    if (rule < 0) {
        snprintf(msg, sizeof(msg), "no build rule of %s matches %s %s", name, type, ref);
        srv_api_error(req, SW_EINVAL, msg);
        goto cleanup;
    }
    sw_db *db = api_db(req);
    if (db == NULL)
        goto cleanup;
    struct wrk_run_request rr = {
        .repo = r->name,
        .trigger = "manual",
        .source_type = type,
        .source_ref = ref,
        .commit_sha = commit, /* the worker resolves an abbreviated one */
        .id_prefix = repos->id_prefix,
        .rule = rule,
        .pusher = srv_request_user(req),
    };
    char run_id[WRK_RUN_ID_MAX];
    int created = 0;
    sw_error *err = NULL;
    if (wrk_jobs_enqueue(db, &rr, run_id, &created, &err) != 0) {
        srv_api_sw_error(req, err);
        sw_error_clear(&err);
        goto cleanup;
    }
    sw_info("run %s queued: manual run of %s %s %s%s%s", run_id, name, type, ref,
            srv_request_user(req) ? " by " : "",
            srv_request_user(req) ? srv_request_user(req) : "");
    wrk_service_wake(req->srv->workers);
    json_t *o = run_full_json(req, db, run_id, NULL);
    if (o)
        respond_created(req, 201, o);
cleanup:
    json_decref(doc);
}

static void run_cancel_end(srv_request *req)
{
    const char *id = srv_request_param(req, "id");
    sw_db *db = api_db(req);
    struct wrk_run run;
    sw_error *err = NULL;
    if (db == NULL || api_run(req, db, &run) != 0)
        return;
    int denied = srv_api_authorize(req, 1, run.repo);
    wrk_run_release(&run);
    if (denied)
        return;
    if (wrk_jobs_cancel(db, id, &err) != 0) {
        srv_api_sw_error(req, err);
        sw_error_clear(&err);
        return;
    }
    sw_info("run %s: cancel requested%s%s", id, srv_request_user(req) ? " by " : "",
            srv_request_user(req) ? srv_request_user(req) : "");
    json_t *o = run_full_json(req, db, id, NULL);
    if (o)
        respond_created(req, 202, o);
}

/* POST /api/v1/runs/ID/rerun: a new manual run of the same repository,
 * rule, ref and commit (the commit the first run built, when it got that
 * far; else the ref again). */
static void run_rerun_end(srv_request *req)
{
    sw_db *db = api_db(req);
    const struct wrk_repos *repos = req->srv->repos;
    struct wrk_run run;
    sw_error *err = NULL;
    char msg[512], run_id[WRK_RUN_ID_MAX];
    int created = 0;
    if (db == NULL || api_run(req, db, &run) != 0)
        return;
    if (srv_api_authorize(req, 1, run.repo) != 0)
        goto cleanup;
    const struct wrk_repo *r = repos ? wrk_repos_find(repos, run.repo) : NULL;
    if (r == NULL || run.rule < 0 || (size_t)run.rule >= r->n_rules) {
        snprintf(msg, sizeof(msg),
                 "run %s cannot be rebuilt: its repository or build rule is no "
                 "longer configured",
                 run.run_id);
        srv_api_error(req, SW_ECONFLICT, msg);
        goto cleanup;
    }
    if (strcmp(run.status, "queued") == 0 || strcmp(run.status, "running") == 0) {
        snprintf(msg, sizeof(msg), "run %s is %s; rebuild it once it has finished", run.run_id,
                 run.status);
        srv_api_error(req, SW_ECONFLICT, msg);
        goto cleanup;
    }
    struct wrk_run_request rr = {
        .repo = r->name,
        .trigger = "manual",
        .source_type = run.source_type,
        .source_ref = run.source_ref,
        .commit_sha = run.commit_sha,
        .commit_message = run.commit_message,
        .id_prefix = repos->id_prefix,
        .rule = run.rule,
        .pusher = srv_request_user(req),
        .full_name = run.full_name,
        .pr_number = run.pr_number,
        .pr_head_ref = run.pr_head_ref,
        .pr_head_repo = run.pr_head_repo,
        .pr_fork = run.pr_fork,
        .pr_fetch_ref = run.pr_fetch_ref,
    };
    if (wrk_jobs_enqueue(db, &rr, run_id, &created, &err) != 0) {
        srv_api_sw_error(req, err);
        sw_error_clear(&err);
        goto cleanup;
    }
    sw_info("run %s queued: rebuild of run %s%s%s", run_id, run.run_id,
            srv_request_user(req) ? " by " : "",
            srv_request_user(req) ? srv_request_user(req) : "");
    wrk_service_wake(req->srv->workers);
    json_t *o = run_full_json(req, db, run_id, NULL);
    if (o)
        respond_created(req, 201, o);
cleanup:
    wrk_run_release(&run);
}

/* ---- logs ----------------------------------------------------------------- */

struct log_stream {
    reg_store *store;
    char base_url[512];
    char run_id[WRK_RUN_ID_MAX];
    char *path;
    int fd;
    int sse;
    int finished;          /* the run has ended (seen once) */
    int drained;           /* after the end, the file was read to its end */
    int ended;             /* sse: "end" sent */
    uint64_t file_pos;     /* next byte of the log file to send */
    int use_db;            /* PostgreSQL: the log is read from the database (logstore.h) */
    int db_more;           /* the last read filled the buffer: read again at once */
    uint64_t db_token;     /* wrk_log_watch_token at the last read */
    uint64_t status_token; /* ... at the last status check */
    int64_t db_read_ms;
    sw_strbuf out; /* sse: formatted, not yet sent */
    size_t out_pos;
    char *last_status; /* sse: the last RUN JSON sent */
    int64_t last_keepalive;
    int64_t last_check;
};

static void log_stream_free(void *arg)
{
    struct log_stream *s = arg;
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    sw_strbuf_free(&s->out);
    free(s->last_status);
    free(s);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the run has ended, checked at most every 250 ms. */
static int run_finished(struct log_stream *s, char **status_json)
{
    sw_db *db = NULL;
    struct wrk_run run;
    if (reg_store_db(s->store, &db, NULL) != 0 || wrk_jobs_get(db, s->run_id, &run, NULL) != 0)
        return 1; /* gone: end the stream */
    int done = strcmp(run.status, "queued") != 0 && strcmp(run.status, "running") != 0;
    wrk_run_release(&run);
    if (status_json) {
        json_t *o = run_steps_json(s->base_url, db, s->run_id, NULL, NULL);
        /* queue_seconds of a queued run changes every second: leave it out */
        if (o && done == 0 && json_object_get(o, "started_at") == json_null())
            json_object_del(o, "queue_seconds");
        *status_json = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
    }
    return done;
}

static int open_log(struct log_stream *s)
{
    if (s->fd < 0)
        s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
    return s->fd;
}

/* How long a follower waits before looking again with no news: briefly
 * when it cannot be told (SQLite; the PostgreSQL watcher down), long when
 * the watcher hears every change (the wait is only for one lost). */
static int64_t recheck_ms(void)
{
    return wrk_log_watch_active() ? 5000 : 250;
}

/* The log's next bytes at s->file_pos (advanced): from the local file, or
 * from the database (PostgreSQL), read only when the watcher heard the run
 * named since the last read, or after recheck_ms. > 0 bytes, 0 nothing
 * now, < 0 an error. */
static long log_pread(struct log_stream *s, char *buf, size_t max)
{
    if (!s->use_db) {
        if (open_log(s) < 0)
            return 0;
        ssize_t n = pread(s->fd, buf, max, (off_t)s->file_pos);
        if (n > 0)
            s->file_pos += (uint64_t)n;
        return n;
    }
    uint64_t token = wrk_log_watch_token(s->run_id);
    int64_t now = mono_ms();
    if (!s->db_more && token == s->db_token && now - s->db_read_ms < recheck_ms())
        return 0;
    s->db_token = token;
    s->db_read_ms = now;
    sw_db *db = NULL;
    if (reg_store_db(s->store, &db, NULL) != 0)
        return 0; /* the database is down: try again later */
    long n = wrk_logstore_read(db, s->run_id, &s->file_pos, buf, max, NULL);
    s->db_more = n > 0;
    return n < 0 ? 0 : n;
}

/* Whether it is time to look at the run's status again: every 250 ms on
 * SQLite; on PostgreSQL when the run was named since (at most every
 * 250 ms: a chatty build names it every batch), or after recheck_ms. */
static int status_due(struct log_stream *s, int64_t now)
{
    if (now - s->last_check < 250)
        return 0;
    if (!s->use_db)
        return 1;
    uint64_t token = wrk_log_watch_token(s->run_id);
    if (token != s->status_token || now - s->last_check >= recheck_ms()) {
        s->status_token = token;
        return 1;
    }
    return 0;
}

/* ?follow=1: the log file's bytes, waiting for more until the run ends. */
static long follow_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    struct log_stream *s = arg;
    (void)pos;
    if (s->drained)
        return -1;
    long n = log_pread(s, buf, max);
    if (n > 0)
        return n;
    if (n < 0)
        return -2;
    if (s->finished && !s->db_more) {
        s->drained = 1; /* everything written before the end has been sent */
        return -1;
    }
    int64_t now = mono_ms();
    if (!s->finished && status_due(s, now)) {
        s->last_check = now;
        if (run_finished(s, NULL)) {
            s->finished = 1;
            s->db_more = s->use_db; /* one more read: what came before the end */
        }
    }
    return 0; /* the server calls again in a moment */
}

/* Appends an SSE "log" event for text (whole lines). */
static void sse_log_event(struct log_stream *s, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = p;
        while (nl < end && *nl != '\n' && *nl != '\r')
            nl++;
        sw_strbuf_puts(&s->out, "data: ");
        sw_strbuf_append(&s->out, p, (size_t)(nl - p));
        sw_strbuf_putc(&s->out, '\n');
        p = nl < end ? nl + 1 : nl;
        if (nl < end && *nl == '\r' && p < end && *p == '\n')
            p++;
    }
    sw_strbuf_printf(&s->out, "event: log\nid: %llu\n\n", (unsigned long long)s->file_pos);
}

/* Fills s->out with the next events; 0 when there was nothing new. */
static int sse_produce(struct log_stream *s)
{
    int64_t now = mono_ms();
    {
        char buf[32 * 1024];
        long n = log_pread(s, buf, sizeof(buf));
        if (n > 0) {
            /* whole lines only, unless the run is over */
            long use = n;
            while (use > 0 && buf[use - 1] != '\n')
                use--;
            if (use == 0 && (s->finished || (size_t)n == sizeof(buf)))
                use = n;
            /* the rest is read again next time (a chunk skipped over a
             * hole, on the database, moved the start: keep its end) */
            s->file_pos = s->file_pos - (uint64_t)(n - use);
            if (use == 0 && s->use_db)
                s->db_more = 0; /* wait for the line's end */
            if (use > 0) {
                sse_log_event(s, buf, (size_t)use);
                return 1;
            }
        }
    }
    if (s->finished && s->db_more)
        return 0; /* more to read first */
    if (s->finished) {
        if (!s->ended) {
            char *status = NULL;
            run_finished(s, &status);
            if (status && (s->last_status == NULL || strcmp(status, s->last_status) != 0))
                sw_strbuf_printf(&s->out, "event: status\ndata: %s\n\n", status);
            json_t *st = status ? json_loads(status, 0, NULL) : NULL;
            sw_strbuf_printf(&s->out, "event: end\ndata: %s\n\n",
                             json_string_value(json_object_get(st, "status")) ?: "ended");
            json_decref(st);
            free(status);
            s->ended = 1;
            return 1;
        }
        return -1;
    }
    if (status_due(s, now)) {
        char *status = NULL;
        s->last_check = now;
        int done = run_finished(s, &status);
        if (status && (s->last_status == NULL || strcmp(status, s->last_status) != 0)) {
            sw_strbuf_printf(&s->out, "event: status\ndata: %s\n\n", status);
            free(s->last_status);
            s->last_status = status;
            status = NULL;
        }
        free(status);
        if (done) {
            s->finished = 1;
            s->db_more = s->use_db; /* one more read: what came before the end */
        }
        if (s->out.len > s->out_pos || done)
            return 1;
    }
    if (now - s->last_keepalive >= 15000) {
        s->last_keepalive = now;
        sw_strbuf_puts(&s->out, ": keepalive\n\n");
        return 1;
    }
    return 0; /* the server calls again in a moment */
}

static long sse_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    struct log_stream *s = arg;
    (void)pos;
    if (s->out_pos >= s->out.len) {
        sw_strbuf_reset(&s->out);
        s->out_pos = 0;
        int made = sse_produce(s);
        if (made < 0)
            return -1;
        if (s->out.len == 0)
            return 0;
    }
    size_t n = s->out.len - s->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, s->out.data + s->out_pos, n);
    s->out_pos += n;
    return (long)n;
}

static void log_respond(srv_request *req, int sse)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    const char *id = srv_request_param(req, "id");
    sw_db *db = api_db(req);
    struct wrk_run run;
    if (db == NULL || api_run(req, db, &run) != 0)
        return;
    int finished = strcmp(run.status, "queued") != 0 && strcmp(run.status, "running") != 0;
    wrk_run_release(&run);
    char *path = wrk_log_path(reg_store_data_dir(srv_request_store(req)), id);
    if (path == NULL) {
        srv_api_error(req, SW_ENOTFOUND, "no such run");
        return;
    }
    const char *follow = srv_request_query(req, "follow");
    int is_follow = follow && strcmp(follow, "0") != 0 && strcmp(follow, "false") != 0;
    /* PostgreSQL: the log of a run built anywhere, from the database;
     * but a finished run's log that only this data dir has (written before
     * the database held logs, or one the worker could not copy) from the
     * file */
    int use_db = wrk_logstore_enabled(db);
    uint64_t stored = 0;
    if (use_db && finished && wrk_logstore_end(db, id, &stored, NULL) == 0 && stored == 0 &&
        access(path, R_OK) == 0)
        use_db = 0;
    if (!sse && !is_follow && !use_db) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        free(path);
        srv_header(req, "Cache-Control", "no-cache");
        if (fd < 0 || fstat(fd, &st) != 0) {
            if (fd >= 0)
                close(fd);
            srv_respond(req, 200, "text/plain; charset=utf-8", "", 0); /* not started yet */
            return;
        }
        srv_respond_fd(req, 200, "text/plain; charset=utf-8", fd, 0, (uint64_t)st.st_size);
        return;
    }
    struct log_stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        free(path);
        srv_api_error(req, SW_ENOMEM, "out of memory");
        return;
    }
    s->store = srv_request_store(req);
    snprintf(s->base_url, sizeof(s->base_url), "%s", public_url(req));
    snprintf(s->run_id, sizeof(s->run_id), "%s", id);
    s->path = path;
    s->fd = -1;
    s->sse = sse;
    s->use_db = use_db;
    s->db_more = use_db;                            /* read at once */
    s->finished = finished || (!sse && !is_follow); /* whole log: no waiting */
    s->last_keepalive = mono_ms();
    s->out = (sw_strbuf)SW_STRBUF_INIT;
    srv_header(req, "Cache-Control", "no-cache");
    srv_header(req, "X-Accel-Buffering", "no");
    if (sse) {
        const char *last = srv_request_header(req, "Last-Event-ID");
        if (last)
            s->file_pos = strtoull(last, NULL, 10);
        srv_respond_stream(req, 200, "text/event-stream", sse_read, s, log_stream_free);
    } else {
        srv_respond_stream(req, 200, "text/plain; charset=utf-8", follow_read, s, log_stream_free);
    }
}

static void log_end(srv_request *req)
{
    log_respond(req, 0);
}

static void events_end(srv_request *req)
{
    log_respond(req, 1);
}

/* ---- images --------------------------------------------------------------- */

/* The image config of a manifest body (parsed), or NULL. */
static json_t *load_config(reg_store *store, json_t *manifest)
{
    const char *digest =
        json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
    char *text = NULL;
    size_t len = 0;
    if (digest == NULL || reg_blob_read_all(store, digest, 8 << 20, &text, &len, NULL) != 0)
        return NULL;
    json_t *cfg = json_loadb(text, len, 0, NULL);
    free(text);
    return cfg;
}

/* Manifest + config + layers, compressed. */
static int64_t image_size(json_t *manifest, size_t manifest_len)
{
    int64_t size = (int64_t)manifest_len;
    size += json_integer_value(json_object_get(json_object_get(manifest, "config"), "size"));
    size_t i;
    json_t *layer;
    json_array_foreach(json_object_get(manifest, "layers"), i, layer)
        size += json_integer_value(json_object_get(layer, "size"));
    return size;
}

/* The run that pushed repo:tag (or made digest), or NULL. */
static char *tag_run(sw_db *db, const char *repo, const char *tag, const char *digest)
{
    return wrk_tag_runs_find(db, repo, tag, digest);
}

static int parse_time(const char *s, int64_t *out)
{
    struct tm tm = { 0 };
    if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static void images_end(srv_request *req)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    reg_store *store = srv_request_store(req);
    char **names = NULL;
    size_t n = 0;
    int more = 0;
    sw_error *err = NULL;
    if (reg_catalog_list(store, NULL, 1000, &names, &n, &more, &err) != 0) {
        srv_api_sw_error(req, err);
        sw_error_clear(&err);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!srv_request_allowed(req, names[i], SRV_AUTH_PULL))
            continue;
        char **tags = NULL;
        size_t n_tags = 0;
        int more_tags = 0;
        if (reg_tags_list(store, names[i], NULL, -1, &tags, &n_tags, &more_tags, NULL) != 0)
            continue;
        reg_string_list_free(tags, n_tags);
        if (n_tags == 0)
            continue; /* untagged leftovers of builds */
        json_array_append_new(list, json_pack("{s:s, s:i}", "name", names[i], "tags", (int)n_tags));
    }
    reg_string_list_free(names, n);
    respond_created(req, 200, json_pack("{s:o}", "repositories", list));
}

static int image_allowed(srv_request *req, const char *name)
{
    if (req->srv->auth == NULL || srv_request_allowed(req, name, SRV_AUTH_PULL))
        return 1;
    srv_api_error(req, SW_ENOTFOUND, "no such image repository");
    return 0;
}

static void image_tags_end(srv_request *req)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    const char *name = srv_request_param(req, "name");
    if (!image_allowed(req, name))
        return;
    reg_store *store = srv_request_store(req);
    sw_db *db = api_db(req);
    if (db == NULL)
        return;
    char **tags = NULL;
    size_t n = 0;
    int more = 0;
    sw_error *err = NULL;
    if (reg_tags_list(store, name, NULL, 1000, &tags, &n, &more, &err) != 0) {
        srv_api_sw_error(req, err);
        sw_error_clear(&err);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        struct reg_manifest m = { 0 };
        if (reg_manifest_get(store, name, tags[i], 1, &m, NULL) != 0)
            continue;
        json_t *body = json_loadb(m.body, m.size, 0, NULL);
        json_t *cfg = load_config(store, body);
        int64_t created = 0;
        parse_time(json_string_value(json_object_get(cfg, "created")), &created);
        char *run = tag_run(db, name, tags[i], m.digest);
        json_t *t = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "tag", tags[i], "digest", m.digest,
                              "media_type", m.media_type ? m.media_type : "", "size",
                              (json_int_t)image_size(body, m.size), "created", json_time(created),
                              "run", json_str_or_null(run));
        json_array_append_new(list, t);
        free(run);
        json_decref(cfg);
        json_decref(body);
        reg_manifest_release(&m);
    }
    reg_string_list_free(tags, n);
    const char *url = public_url(req);
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    char registry[256];
    snprintf(registry, sizeof(registry), "%.*s", (int)strcspn(host, "/"), host);
    respond_created(
        req, 200,
        json_pack("{s:s, s:{s:s}, s:o}", "name", name, "pull", "host", registry, "tags", list));
}

/* GET /api/v1/images/NAME/manifests/REF */
static void image_manifest_end(srv_request *req)
{
    if (srv_api_authorize(req, 0, NULL) != 0)
        return;
    const char *name = srv_request_param(req, "name");
    const char *ref = srv_request_param(req, "ref");
    if (!image_allowed(req, name))
        return;
    reg_store *store = srv_request_store(req);
    sw_db *db = api_db(req);
    if (db == NULL)
        return;
    struct reg_manifest m = { 0 };
    sw_error *err = NULL;
    if (reg_manifest_get(store, name, ref, 1, &m, &err) != 0) {
        srv_api_sw_error(req, err);
        sw_error_clear(&err);
        return;
    }
    json_t *body = json_loadb(m.body, m.size, 0, NULL);
    json_t *doc = json_object();
    json_object_set_new(doc, "name", json_string(name));
    json_object_set_new(doc, "reference", json_string(ref));
    json_object_set_new(doc, "digest", json_string(m.digest));
    json_object_set_new(doc, "media_type", json_string(m.media_type ? m.media_type : ""));
    char *run = tag_run(db, name, NULL, m.digest);
    json_object_set_new(doc, "run", json_str_or_null(run));
    free(run);

    if (json_object_get(body, "manifests")) {
        json_t *list = json_array();
        size_t i;
        json_t *entry;
        json_array_foreach(json_object_get(body, "manifests"), i, entry) {
            json_t *p = json_object_get(entry, "platform");
            json_t *item =
                json_pack("{s:O, s:O, s:O}", "digest", json_object_get(entry, "digest"), "platform",
                          p ? p : json_null(), "size", json_object_get(entry, "size"));
            /* each platform's image as the tags list shows one: its whole
             * size (manifest, config, layers) and how many layers */
            struct reg_manifest child = { 0 };
            const char *child_digest = json_string_value(json_object_get(entry, "digest"));
            if (item && child_digest &&
                reg_manifest_get(store, name, child_digest, 1, &child, NULL) == 0) {
                json_t *child_body = json_loadb(child.body, child.size, 0, NULL);
                if (json_is_array(json_object_get(child_body, "layers"))) {
                    json_object_set_new(
                        item, "image_size",
                        json_integer((json_int_t)image_size(child_body, child.size)));
                    json_object_set_new(item, "layers",
                                        json_integer((json_int_t)json_array_size(
                                            json_object_get(child_body, "layers"))));
                }
                json_decref(child_body);
                reg_manifest_release(&child);
            }
            if (item)
                json_array_append_new(list, item);
        }
        json_object_set_new(doc, "manifests", list);
        json_object_set_new(doc, "size", json_integer((json_int_t)m.size));
        goto respond;
    }

    json_t *cfg = load_config(store, body);
    json_t *rc = json_object_get(cfg, "config");
    json_object_set_new(doc, "platform",
                        json_pack("{s:O, s:O, s:O}", "os",
                                  json_object_get(cfg, "os") ?: json_null(), "architecture",
                                  json_object_get(cfg, "architecture") ?: json_null(), "variant",
                                  json_object_get(cfg, "variant") ?: json_null()));
    int64_t created = 0;
    parse_time(json_string_value(json_object_get(cfg, "created")), &created);
    json_object_set_new(doc, "created", json_time(created));
    json_object_set_new(doc, "size", json_integer((json_int_t)image_size(body, m.size)));
    json_t *ports = json_array();
    const char *port;
    json_t *unused;
    json_object_foreach(json_object_get(rc, "ExposedPorts"), port, unused)
        json_array_append_new(ports, json_string(port));
    static const char *const keys[] = { "Env",    "Cmd",        "Entrypoint", "User", "WorkingDir",
                                        "Labels", "StopSignal", "Volumes",    NULL };
    json_t *shown = json_object();
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(rc, keys[i]);
        json_object_set(shown, keys[i], v ? v : json_null());
    }
    json_object_set_new(shown, "ExposedPorts", ports);
    json_object_set_new(doc, "config", shown);

    /* pair layers with the history entries that made them */
    json_t *history = json_object_get(cfg, "history");
    json_t *layers = json_object_get(body, "layers");
    int64_t total = 0;
    size_t i;
    json_t *layer;
    json_array_foreach(layers, i, layer)
        total += json_integer_value(json_object_get(layer, "size"));
    json_t *out_layers = json_array();
    size_t h = 0;
    json_array_foreach(layers, i, layer) {
        json_t *entry = NULL;
        while (h < json_array_size(history)) {
            json_t *e = json_array_get(history, h++);
            if (!json_is_true(json_object_get(e, "empty_layer"))) {
                entry = e;
                break;
            }
        }
        int64_t size = json_integer_value(json_object_get(layer, "size"));
        json_array_append_new(
            out_layers, json_pack("{s:O, s:I, s:O, s:O, s:O, s:f}", "digest",
                                  json_object_get(layer, "digest"), "size", (json_int_t)size,
                                  "media_type", json_object_get(layer, "mediaType") ?: json_null(),
                                  "created_by", json_object_get(entry, "created_by") ?: json_null(),
                                  "created", json_object_get(entry, "created") ?: json_null(),
                                  "share", total > 0 ? (double)size / (double)total : 0.0));
    }
    json_object_set_new(doc, "layers", out_layers);
    json_object_set(doc, "history", json_is_array(history) ? history : json_array());
    json_decref(cfg);
respond:
    json_decref(body);
    reg_manifest_release(&m);
    respond_created(req, 200, doc);
}

static void api_not_found_end(srv_request *req)
{
    srv_api_error(req, SRV_E_NOT_FOUND, "no such API endpoint (see docs/api.md)");
}

const struct srv_route srv_api_routes[] = {
    { "GET", "/api/v1/status", SRV_ACCESS_NONE, NULL, NULL, status_end, NULL },
    { "GET", "/api/v1/repos", SRV_ACCESS_NONE, NULL, NULL, repos_end, NULL },
    { "GET", "/api/v1/repos/*name", SRV_ACCESS_NONE, NULL, NULL, repo_end, NULL },
    { "GET", "/api/v1/runs", SRV_ACCESS_NONE, NULL, NULL, runs_end, NULL },
    { "POST", "/api/v1/runs", SRV_ACCESS_NONE, body_headers, NULL, run_create_end, NULL },
    { "GET", "/api/v1/runs/:id", SRV_ACCESS_NONE, NULL, NULL, run_end, NULL },
    { "POST", "/api/v1/runs/:id/cancel", SRV_ACCESS_NONE, NULL, NULL, run_cancel_end, NULL },
    { "POST", "/api/v1/runs/:id/rerun", SRV_ACCESS_NONE, NULL, NULL, run_rerun_end, NULL },
    { "GET", "/api/v1/runs/:id/log", SRV_ACCESS_NONE, NULL, NULL, log_end, NULL },
    { "GET", "/api/v1/runs/:id/events", SRV_ACCESS_NONE, NULL, NULL, events_end, NULL },
    { "GET", "/api/v1/images", SRV_ACCESS_NONE, NULL, NULL, images_end, NULL },
    { "GET", "/api/v1/images/*name/tags", SRV_ACCESS_NONE, NULL, NULL, image_tags_end, NULL },
    { "GET", "/api/v1/images/*name/manifests/:ref", SRV_ACCESS_NONE, NULL, NULL, image_manifest_end,
      NULL },
    { "GET", "/api/*rest", SRV_ACCESS_NONE, NULL, NULL, api_not_found_end, NULL },
    { "POST", "/api/*rest", SRV_ACCESS_NONE, NULL, NULL, api_not_found_end, NULL },
    { NULL, "/api/*rest", SRV_ACCESS_NONE, NULL, NULL, api_not_found_end, NULL },
    { NULL, NULL, 0, NULL, NULL, NULL, NULL },
};
