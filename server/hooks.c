/*
 * hooks.c - webhook receivers: POST /hooks/<forge> and
 * /hooks/<forge>/<image repo> for GitHub, GitLab and Gitea/Forgejo.
 *
 * A delivery is verified before its body is parsed: on the explicit route
 * with the named repository's secret; on the bare route against every
 * configured secret (in constant time each), and only the repositories
 * whose secret matched are then compared with the payload's repository
 * URLs. Each build rule the push matches becomes a run, committed to
 * SQLite before the reply (202). Redeliveries (same delivery id) create
 * nothing. Forge-specific parsing lives in worker/webhook.c.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "server/internal.h"
#include "worker/jobs.h"
#include "worker/repos.h"
#include "worker/service.h"
#include "worker/webhook.h"

/* Where a delivery's time goes, for bench/service.sh: with
 * SLIPWAY_HOOK_TRACE=<file> in the environment, one line per delivery
 * that reached the queue ("<delivery id> <start> <phase> ..."; times from
 * CLOCK_MONOTONIC in microseconds, the first absolute so a client on the
 * same machine can line its own timestamps up). Off (the default), a
 * delivery costs a few clock reads. */
struct hook_trace {
    int64_t start, body, verified, parsed, match, begin, enqueue, commit, queued;
    /* context switches of the thread in the run queue's transactions:
     * involuntary (it lost its core) and voluntary (it slept: the lock,
     * the disk) */
    long preempted, slept;
};

/* The thread's context switches so far (getrusage, one system call). */
static void thread_switches(long *involuntary, long *voluntary)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        ru.ru_nivcsw = ru.ru_nvcsw = 0;
    *involuntary = ru.ru_nivcsw;
    *voluntary = ru.ru_nvcsw;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static FILE *trace_file;
static pthread_once_t trace_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

static void trace_open(void)
{
    const char *path = getenv("SLIPWAY_HOOK_TRACE");
    if (path && *path && (trace_file = fopen(path, "ae")) == NULL)
        sw_warn("SLIPWAY_HOOK_TRACE: cannot open %s", path);
}

static void trace_write(const struct hook_trace *t, const char *delivery_id)
{
    pthread_once(&trace_once, trace_open);
    if (trace_file == NULL || t->queued == 0)
        return;
    int64_t end = mono_ns();
    char id[128]; /* the header's text, one word: it cannot forge a line */
    snprintf(id, sizeof(id), "%s", delivery_id && *delivery_id ? delivery_id : "-");
    for (char *c = id; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            *c = '?';
#define US(ns) ((long long)((ns) / 1000))
    pthread_mutex_lock(&trace_lock);
    /* id start | http-in verify parse match begin-wait statements commit respond | total
     * | preempted slept */
    fprintf(trace_file, "%s %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %ld %ld\n", id,
            US(t->start), US(t->body - t->start), US(t->verified - t->body),
            US(t->parsed - t->verified), US(t->match), US(t->begin),
            US(t->enqueue - t->begin - t->commit), US(t->commit),
            US(end - t->parsed - t->match - t->enqueue), US(end - t->start), t->preempted,
            t->slept);
    fflush(trace_file);
    pthread_mutex_unlock(&trace_lock);
#undef US
}

static const char *header_of(void *ctx, const char *name)
{
    return srv_request_header(ctx, name);
}

/* Payload text (refs, names) on its way into a log line: no control
 * characters, so a delivery cannot forge log lines. */
static void printable(char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

static void hook_reply(srv_request *req, unsigned status, const char *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answers a delivery that builds nothing: {"result", "message"}, 2xx. */
static void hook_reply(srv_request *req, unsigned status, const char *result, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printable(msg);
    sw_info("webhook %s: %s", srv_request_path(req), msg);
    json_t *doc = json_pack("{s:s, s:s}", "result", result, "message", msg);
    srv_respond_json(req, status, NULL, doc);
    json_decref(doc);
}

static int hook_headers(srv_request *req)
{
    const char *length = srv_request_header(req, "Content-Length");
    if (length && strtoull(length, NULL, 10) > WRK_WEBHOOK_MAX_BODY) {
        srv_api_error(req, SW_ETOOBIG, "the payload is larger than 25 MB");
        return 1;
    }
    srv_request_buffer_body(req, WRK_WEBHOOK_MAX_BODY);
    return 0;
}

/* Queues one run per rule of repo the push matches, adding them to runs;
 * *matched counts the rules that matched, *created the new runs,
 * *forks_refused the pull_request rules that matched a fork's pull request
 * but do not build forks. */
static int queue_runs(srv_request *req, const struct wrk_repo *repo,
                      const struct wrk_hook_event *ev, json_t *runs, int *matched, int *created,
                      int *forks_refused, struct hook_trace *trace, sw_error **err)
{
    const struct wrk_repos *repos = req->srv->repos;
    struct wrk_match m[16];
    int64_t t0 = mono_ns();
    size_t n = wrk_repo_match(repo, ev->source_type, ev->ref, m, 16);
    trace->match += mono_ns() - t0;
    sw_db *db = NULL;
    int rc = 0;
    if (n == 0)
        return 0;
    if ((rc = reg_store_db(srv_request_store(req), &db, err)) != 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        char *delivery = NULL;
        /* a fork's code runs only where the rule says so (docs/security.md) */
        if (ev->kind == WRK_HOOK_PULL_REQUEST && ev->pr_fork && !m[i].rule->forks) {
            (*forks_refused)++;
            continue;
        }
        (*matched)++;
        if (ev->delivery_id &&
            asprintf(&delivery, "%s#%s#%d", ev->delivery_id, repo->name, m[i].rule->index) < 0) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        struct wrk_run_request rr = {
            .repo = repo->name,
            .trigger = "push",
            .source_type = ev->source_type,
            .source_ref = ev->ref,
            .commit_sha = ev->commit_sha,
            .commit_message = ev->commit_message,
            .delivery_id = delivery,
            .id_prefix = repos->id_prefix,
            .rule = m[i].rule->index,
            .pusher = ev->pusher,
            .full_name = ev->full_name,
            .tag_object = ev->tag_object,
            .pr_number = ev->pr_number,
            .pr_head_ref = ev->pr_head_ref,
            .pr_head_repo = ev->pr_head_repo,
            .pr_fork = ev->pr_fork,
            .pr_fetch_ref = ev->pr_fetch_ref,
        };
        char run_id[WRK_RUN_ID_MAX];
        int is_new = 0;
        int64_t begin_ns = 0, commit_ns = 0;
        long preempted0 = 0, slept0 = 0, preempted1 = 0, slept1 = 0;
        if (trace_file)
            thread_switches(&preempted0, &slept0);
        t0 = mono_ns();
        rc = wrk_jobs_enqueue(db, &rr, run_id, &is_new, err);
        trace->enqueue += mono_ns() - t0;
        if (trace_file) {
            thread_switches(&preempted1, &slept1);
            trace->preempted += preempted1 - preempted0;
            trace->slept += slept1 - slept0;
        }
        sw_db_last_times(db, &begin_ns, &commit_ns);
        trace->begin += begin_ns;
        trace->commit += commit_ns;
        free(delivery);
        if (rc != 0)
            goto cleanup;
        *created += is_new;
        if (is_new && ev->kind == WRK_HOOK_PULL_REQUEST)
            sw_info("run %s queued: pull request #%lld into %s of %s at %.7s%s (rule %d)", run_id,
                    ev->pr_number, ev->ref, repo->name, ev->commit_sha ? ev->commit_sha : "",
                    ev->pr_fork ? " from a fork" : "", rr.rule + 1);
        else if (is_new)
            sw_info("run %s queued: %s %s of %s at %.7s (rule %d)", run_id, ev->source_type,
                    ev->ref, repo->name, ev->commit_sha ? ev->commit_sha : "", rr.rule + 1);
        json_array_append_new(runs, json_pack("{s:s, s:s, s:i, s:b}", "id", run_id, "repo",
                                              repo->name, "rule", rr.rule + 1, "created", is_new));
    }
cleanup:
    for (size_t i = 0; i < n; i++)
        wrk_match_clear(&m[i]);
    return rc;
}

/* Queues the runs of every accepted repository; responds. */
static void queue_all(srv_request *req, const struct wrk_repo *const *accepted, size_t n,
                      const struct wrk_hook_event *ev, struct hook_trace *trace)
{
    json_t *runs = json_array();
    sw_error *err = NULL;
    int matched = 0, created = 0, forks_refused = 0;
    for (size_t i = 0; i < n; i++) {
        if (queue_runs(req, accepted[i], ev, runs, &matched, &created, &forks_refused, trace,
                       &err) != 0) {
            json_decref(runs);
            srv_api_sw_error(req, err);
            sw_error_clear(&err);
            return;
        }
    }
    if (matched == 0 && forks_refused > 0) {
        json_decref(runs);
        hook_reply(req, 200, "ignored",
                   "fork pull requests are not built (forks: false): pull request #%lld into %s "
                   "comes from %s; set forks: true on the rule to build them",
                   ev->pr_number, ev->ref, ev->pr_head_repo ? ev->pr_head_repo : "a deleted fork");
        return;
    }
    if (matched == 0 && ev->kind == WRK_HOOK_PULL_REQUEST) {
        json_decref(runs);
        hook_reply(req, 200, "no_rule",
                   "no pull_request rule of %s matches pull request #%lld into %s; nothing to "
                   "build",
                   accepted[0]->name, ev->pr_number, ev->ref);
        return;
    }
    if (matched == 0) {
        json_decref(runs);
        hook_reply(req, 200, "no_rule", "no build rule of %s matches %s %s; nothing to build",
                   accepted[0]->name, ev->source_type, ev->ref);
        return;
    }
    json_t *doc;
    trace->queued = 1;
    if (created > 0) {
        wrk_service_wake(req->srv->workers);
        doc = json_pack("{s:s, s:o}", "result", "queued", "runs", runs);
    } else {
        sw_info("webhook %s: delivery %s was received before; nothing queued",
                srv_request_path(req), ev->delivery_id);
        doc = json_pack("{s:s, s:s, s:o}", "result", "redelivery", "message",
                        "this delivery was received before; nothing new was queued", "runs", runs);
    }
    srv_respond_json(req, created > 0 ? 202 : 200, NULL, doc);
    json_decref(doc);
}

/* Whether a payload URL and a configured one name the same repository:
 * forges treat owner and repository names case-insensitively (GitHub,
 * GitLab, Gitea alike), a file:// path is compared exactly. */
static int same_repository(const char *payload_url, const struct wrk_repo *repo)
{
    char *norm = wrk_git_url_normalize(payload_url);
    int same = 0;
    if (norm && repo->git_normalized)
        same = strncmp(norm, "file://", 7) == 0 ? strcmp(norm, repo->git_normalized) == 0
                                                : strcasecmp(norm, repo->git_normalized) == 0;
    free(norm);
    return same;
}

/* Keeps those of list[0..n) whose git URL is one of the payload's; returns
 * how many (moved to the front). */
static size_t match_urls(const struct wrk_hook_event *ev, const struct wrk_repo **list, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int hit = 0;
        for (size_t u = 0; u < ev->n_repo_urls && !hit; u++)
            hit = same_repository(ev->repo_urls[u], list[i]);
        if (hit)
            list[kept++] = list[i];
    }
    return kept;
}

/* The configured repository a /hooks/<forge>/<name> URL names (image
 * repository names are lower case; a URL typed otherwise still finds it). */
static const struct wrk_repo *find_named(const struct wrk_repos *repos, const char *name)
{
    const struct wrk_repo *r = wrk_repos_find(repos, name);
    for (size_t i = 0; r == NULL && i < repos->n; i++)
        if (strcasecmp(repos->repos[i].name, name) == 0)
            r = &repos->repos[i];
    return r;
}

/* Refuses a delivery whose signature or token is wrong: 401 with what was
 * checked and which repository the delivery was taken for, and a log line
 * naming the repository (never the secret or the received signature).
 * list[0..n) are the repositories matched by the URL path or the payload's
 * repository URL (n == 0: none). */
static void refuse(srv_request *req, enum wrk_forge forge, const struct wrk_repo *const *list,
                   size_t n, const char *how, const char *why, const struct wrk_hook_event *ev)
{
    sw_strbuf names = SW_STRBUF_INIT, msg = SW_STRBUF_INIT;
    for (size_t i = 0; i < n && i < 5; i++)
        sw_strbuf_printf(&names, "%s%s", i ? ", " : "", list[i]->name);
    if (n > 0) {
        sw_warn("webhook %s: refused a delivery for %s (matched %s): %s", srv_request_path(req),
                names.data, how, why);
        sw_strbuf_printf(&msg,
                         "%s for %s (matched %s). %s; the secret must be the one in "
                         "repos[%s].secret",
                         why, names.data, how, wrk_webhook_signature_help(forge), list[0]->name);
        if (forge == WRK_FORGE_GITHUB || forge == WRK_FORGE_GITEA)
            sw_strbuf_puts(&msg, ", and the body must arrive unchanged");
    } else {
        char which_buf[200];
        const char *which = ev && ev->full_name     ? ev->full_name
                            : ev && ev->n_repo_urls ? ev->repo_urls[0]
                                                    : NULL;
        if (which) {
            snprintf(which_buf, sizeof(which_buf), "%s", which);
            printable(which_buf);
            which = which_buf;
        }
        sw_warn("webhook %s: refused a delivery%s%s: %s (no configured repository's secret "
                "matches)",
                srv_request_path(req), which ? " for " : "", which ? which : "", why);
        sw_strbuf_printf(&msg,
                         "%s: it matches the secret of no configured repository, and no "
                         "configured repository has the URL of %s. %s",
                         why, which ? which : "this payload", wrk_webhook_signature_help(forge));
    }
    srv_api_error(req, SRV_E_UNAUTHORIZED, msg.failed ? why : msg.data);
    sw_strbuf_free(&names);
    sw_strbuf_free(&msg);
}

static void hook_end(srv_request *req)
{
    const struct wrk_repos *repos = req->srv->repos;
    const char *provider = srv_request_param(req, "provider");
    const char *name = srv_request_param(req, "name");
    size_t len = 0;
    const char *body = srv_request_body(req, &len);
    const struct wrk_repo **candidates = NULL;
    size_t n_candidates = 0;
    struct wrk_hook_event ev = { 0 };
    sw_error *err = NULL, *body_err = NULL, *first = NULL;
    enum wrk_forge forge;
    char msg[512];
    char *decoded = NULL;
    const char *json = NULL;
    size_t json_len = 0;
    struct hook_trace trace = {
        .start = (int64_t)req->started.tv_sec * 1000000000 + req->started.tv_nsec, .body = mono_ns()
    };

    if (wrk_forge_from_name(provider, &forge) != 0) {
        snprintf(msg, sizeof(msg), "unknown provider '%s' (github, gitlab, gitea, forgejo)",
                 provider);
        srv_api_error(req, SW_ENOTFOUND, msg);
        return;
    }
    if (repos == NULL || repos->n == 0) {
        srv_api_error(req, SW_ENOTFOUND, "no source repositories are configured");
        return;
    }
    candidates = calloc(repos->n, sizeof(*candidates));
    if (candidates == NULL) {
        srv_api_error(req, SW_ENOMEM, "out of memory");
        return;
    }
    /* the JSON: the body, or a form's payload= (reported after the signature) */
    wrk_webhook_payload(srv_request_header(req, "Content-Type"), body, len, &decoded, &json,
                        &json_len, &body_err);

    /* 1. the signature, on the raw body */
    if (name) {
        const struct wrk_repo *r = find_named(repos, name);
        if (r == NULL) {
            snprintf(msg, sizeof(msg), "no source repository %s is configured", name);
            srv_api_error(req, SW_ENOTFOUND, msg);
            goto cleanup;
        }
        if (wrk_webhook_verify_delivery(forge, r->secret, header_of, req, body, len, json, json_len,
                                        &err) != 0) {
            refuse(req, forge, &r, 1, "by the URL path", sw_error_message(err), NULL);
            goto cleanup;
        }
        candidates[n_candidates++] = r;
    } else {
        for (size_t i = 0; i < repos->n; i++) {
            sw_error *e = NULL;
            if (wrk_webhook_verify_delivery(forge, repos->repos[i].secret, header_of, req, body,
                                            len, json, json_len, &e) == 0)
                candidates[n_candidates++] = &repos->repos[i];
            else if (first == NULL)
                first = e, e = NULL;
            sw_error_clear(&e);
        }
        if (n_candidates == 0) {
            /* which repository was it meant for? The payload's URL says
             * (read, not trusted: it only chooses the words of the answer) */
            size_t n_named = 0;
            if (body_err == NULL &&
                wrk_webhook_parse(forge, header_of, req, json, json_len, &ev, &err) == 0) {
                for (size_t i = 0; i < repos->n; i++)
                    candidates[i] = &repos->repos[i];
                n_named = match_urls(&ev, candidates, repos->n);
            }
            refuse(req, forge, candidates, n_named, "by the payload's repository URL",
                   sw_error_message(first), body_err == NULL && err == NULL ? &ev : NULL);
            goto cleanup;
        }
    }

    /* 2. the payload */
    trace.verified = mono_ns();
    if (body_err) {
        srv_api_error(req, SW_EINVAL, sw_error_message(body_err));
        goto cleanup;
    }
    if (wrk_webhook_parse(forge, header_of, req, json, json_len, &ev, &err) != 0) {
        srv_api_error(req, SW_EINVAL, sw_error_message(err));
        goto cleanup;
    }
    trace.parsed = mono_ns();
    /* a GitLab system hook speaks for the whole instance: no repository
     * to match, and a 404 would make GitLab disable it */
    if (ev.is_instance_wide) {
        hook_reply(req, 200, "ignored", "%s", ev.reason);
        goto cleanup;
    }
    /* every repository of the payload's URL whose secret matched (a repository
     * may feed several image repositories); an event about no repository
     * (an organization's or App's ping) was accepted by the secret alone */
    size_t n_accepted = name ? 1 : match_urls(&ev, candidates, n_candidates);
    if (n_accepted == 0 && ev.n_repo_urls == 0 && ev.kind != WRK_HOOK_PUSH &&
        ev.kind != WRK_HOOK_PULL_REQUEST) {
        if (ev.kind == WRK_HOOK_PING)
            hook_reply(req, 200, "ping",
                       "pong: the hook of %s is connected; pushes to the configured repositories "
                       "will be built",
                       ev.reason);
        else
            hook_reply(req, 200, "ignored", "%s", ev.reason);
        goto cleanup;
    }
    if (n_accepted == 0) {
        /* a configured repository whose secret did not match is refused as such */
        for (size_t i = 0; i < repos->n; i++)
            candidates[i] = &repos->repos[i];
        size_t n_url = match_urls(&ev, candidates, repos->n);
        if (n_url > 0) {
            sw_error *why = first;
            refuse(req, forge, candidates, n_url, "by the payload's repository URL",
                   why ? sw_error_message(why) : "the signature does not match", NULL);
        } else {
            snprintf(msg, sizeof(msg),
                     "no configured repository has the URL of %s: add it to repos: (git: is "
                     "compared with the payload's clone, SSH and web URLs) or use "
                     "/hooks/%s/<image repository>",
                     ev.full_name     ? ev.full_name
                     : ev.n_repo_urls ? ev.repo_urls[0]
                                      : "this payload",
                     provider);
            srv_api_error(req, SW_ENOTFOUND, msg);
        }
        goto cleanup;
    }
    const struct wrk_repo *repo = candidates[0];
    for (size_t i = 0; i < n_accepted; i++)
        if (candidates[i]->secret == NULL)
            sw_warn("webhook for %s accepted without a signature: set `secret:` for it",
                    candidates[i]->name);

    /* 3. what to do */
    switch (ev.kind) {
    case WRK_HOOK_PING:
        hook_reply(req, 200, "ping", "pong: the hook of %s is connected to %s", ev.reason,
                   repo->name);
        break;
    case WRK_HOOK_DELETE:
        hook_reply(req, 200, "deleted", "%s", ev.reason);
        break;
    case WRK_HOOK_IGNORED:
        hook_reply(req, 200, "ignored", "%s", ev.reason);
        break;
    case WRK_HOOK_PUSH:
        if (ev.skip) {
            hook_reply(req, 200, "skipped", "commit %.7s asks to skip the build (%s)",
                       ev.commit_sha ? ev.commit_sha : "",
                       ev.skip_reason ? ev.skip_reason : "[skip ci]");
            break;
        }
        queue_all(req, candidates, n_accepted, &ev, &trace);
        break;
    case WRK_HOOK_PULL_REQUEST:
        queue_all(req, candidates, n_accepted, &ev, &trace);
        break;
    }
    trace_write(&trace, ev.delivery_id);
cleanup:
    wrk_hook_event_release(&ev);
    sw_error_clear(&err);
    sw_error_clear(&body_err);
    sw_error_clear(&first);
    free(decoded);
    free(candidates);
}

/* OpenSSL sets up its default provider and the HMAC-SHA256 method on the
 * first use in a process: 1.8 ms here, up to 5 ms under load, which the
 * first delivery after start used to pay in its signature check. */
void srv_hooks_warm(void)
{
    char digest[SW_SHA256_HEX_LEN + 1];
    sw_hmac_sha256_hex("warm", 4, "", 0, digest);
}

const struct srv_route srv_hook_routes[] = {
    { "POST", "/hooks/:provider", SRV_ACCESS_NONE, hook_headers, NULL, hook_end, NULL },
    { "POST", "/hooks/:provider/*name", SRV_ACCESS_NONE, hook_headers, NULL, hook_end, NULL },
    { NULL, NULL, 0, NULL, NULL, NULL, NULL },
};
