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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "server/internal.h"
#include "worker/jobs.h"
#include "worker/repos.h"
#include "worker/service.h"
#include "worker/webhook.h"

static const char *header_of(void *ctx, const char *name)
{
    return srv_request_header(ctx, name);
}

static void hook_message(srv_request *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void hook_message(srv_request *req, unsigned status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sw_info("webhook %s: %s", srv_request_path(req), msg);
    json_t *doc = json_pack("{s:s}", "message", msg);
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
 * *matched counts the rules that matched, *created the new runs. */
static int queue_runs(srv_request *req, const struct wrk_repo *repo,
                      const struct wrk_hook_event *ev, json_t *runs, int *matched, int *created,
                      sw_error **err)
{
    const struct wrk_repos *repos = req->srv->repos;
    struct wrk_match m[16];
    size_t n = wrk_repo_match(repo, ev->source_type, ev->ref, m, 16);
    sqlite3 *db = NULL;
    int rc = 0;
    *matched += (int)n;
    if (n == 0)
        return 0;
    if ((rc = reg_store_db(srv_request_store(req), &db, err)) != 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        char *delivery = NULL;
        if (ev->delivery_id &&
            asprintf(&delivery, "%s#%s#%d", ev->delivery_id, repo->name, m[i].rule->index) < 0) {
            rc = sw_error_set(err, SW_ENOMEM, "out of memory");
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
        };
        char run_id[WRK_RUN_ID_MAX];
        int is_new = 0;
        rc = wrk_jobs_enqueue(db, &rr, run_id, &is_new, err);
        free(delivery);
        if (rc != 0)
            goto cleanup;
        *created += is_new;
        if (is_new)
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
                      const struct wrk_hook_event *ev)
{
    json_t *runs = json_array();
    sw_error *err = NULL;
    int matched = 0, created = 0;
    for (size_t i = 0; i < n; i++) {
        if (queue_runs(req, accepted[i], ev, runs, &matched, &created, &err) != 0) {
            json_decref(runs);
            srv_api_sw_error(req, err);
            sw_error_clear(&err);
            return;
        }
    }
    if (matched == 0) {
        json_decref(runs);
        hook_message(req, 200, "no build rule of %s matches %s %s; nothing to build",
                     accepted[0]->name, ev->source_type, ev->ref);
        return;
    }
    json_t *doc;
    if (created > 0) {
        wrk_service_wake(req->srv->workers);
        doc = json_pack("{s:o}", "runs", runs);
    } else {
        sw_info("webhook %s: delivery %s was received before; nothing queued",
                srv_request_path(req), ev->delivery_id);
        doc = json_pack("{s:s, s:o}", "message",
                        "this delivery was received before; nothing new was queued", "runs", runs);
    }
    srv_respond_json(req, created > 0 ? 202 : 200, NULL, doc);
    json_decref(doc);
}

/* Keeps those of list[0..n) whose git URL is one of the payload's; returns
 * how many (moved to the front). */
static size_t match_urls(const struct wrk_hook_event *ev, const struct wrk_repo **list, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        int hit = 0;
        for (size_t u = 0; u < ev->n_repo_urls && !hit; u++) {
            char *norm = wrk_git_url_normalize(ev->repo_urls[u]);
            hit = norm && list[i]->git_normalized && strcmp(norm, list[i]->git_normalized) == 0;
            free(norm);
        }
        if (hit)
            list[kept++] = list[i];
    }
    return kept;
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
    sw_error *err = NULL;
    enum wrk_forge forge;
    char msg[512];

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

    /* 1. the signature, on the raw body */
    if (name) {
        const struct wrk_repo *r = wrk_repos_find(repos, name);
        if (r == NULL) {
            snprintf(msg, sizeof(msg), "no source repository %s is configured", name);
            srv_api_error(req, SW_ENOTFOUND, msg);
            goto cleanup;
        }
        if (wrk_webhook_verify(forge, r->secret, header_of, req, body, len, &err) != 0) {
            sw_warn("webhook %s refused: %s", srv_request_path(req), sw_error_message(err));
            srv_api_error(req, SRV_E_UNAUTHORIZED, sw_error_message(err));
            goto cleanup;
        }
        candidates[n_candidates++] = r;
    } else {
        sw_error *first = NULL;
        for (size_t i = 0; i < repos->n; i++) {
            sw_error *e = NULL;
            if (wrk_webhook_verify(forge, repos->repos[i].secret, header_of, req, body, len, &e) ==
                0)
                candidates[n_candidates++] = &repos->repos[i];
            else if (first == NULL)
                first = e, e = NULL;
            sw_error_clear(&e);
        }
        if (n_candidates == 0) {
            sw_warn("webhook %s refused: %s", srv_request_path(req), sw_error_message(first));
            srv_api_error(req, SRV_E_UNAUTHORIZED, sw_error_message(first));
            sw_error_clear(&first);
            goto cleanup;
        }
        sw_error_clear(&first);
    }

    /* 2. the payload */
    if (wrk_webhook_parse(forge, header_of, req, body, len, &ev, &err) != 0) {
        srv_api_error(req, SW_EINVAL, sw_error_message(err));
        goto cleanup;
    }
    /* every repository of the payload's URL whose secret matched (a repository
     * may feed several image repositories) */
    size_t n_accepted = name ? 1 : match_urls(&ev, candidates, n_candidates);
    if (n_accepted == 0) {
        /* a configured repository whose secret did not match is refused as such */
        for (size_t i = 0; i < repos->n; i++)
            candidates[i] = &repos->repos[i];
        if (match_urls(&ev, candidates, repos->n) > 0) {
            srv_api_error(req, SRV_E_UNAUTHORIZED, "signature does not match");
        } else {
            snprintf(msg, sizeof(msg), "no configured repository has the URL of %s",
                     ev.full_name     ? ev.full_name
                     : ev.n_repo_urls ? ev.repo_urls[0]
                                      : "this payload");
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
        hook_message(req, 200, "pong: %s is connected to %s",
                     ev.full_name ? ev.full_name
                                  : "the"
                                    " repository",
                     repo->name);
        break;
    case WRK_HOOK_DELETE:
        hook_message(req, 200, "%s %s was deleted; nothing to build", ev.source_type, ev.ref);
        break;
    case WRK_HOOK_IGNORED:
        hook_message(req, 200, "event %s ignored; only pushes are built",
                     ev.event ? ev.event : "(unknown)");
        break;
    case WRK_HOOK_PUSH:
        if (ev.skip) {
            hook_message(req, 200, "commit %.7s asks to skip the build (%s)",
                         ev.commit_sha ? ev.commit_sha : "",
                         ev.skip_reason ? ev.skip_reason : "[skip ci]");
            break;
        }
        queue_all(req, candidates, n_accepted, &ev);
        break;
    }
cleanup:
    wrk_hook_event_release(&ev);
    sw_error_clear(&err);
    free(candidates);
}

const struct srv_route srv_hook_routes[] = {
    { "POST", "/hooks/:provider", SRV_ACCESS_NONE, hook_headers, NULL, hook_end, NULL },
    { "POST", "/hooks/:provider/*name", SRV_ACCESS_NONE, hook_headers, NULL, hook_end, NULL },
    { NULL, NULL, 0, NULL, NULL, NULL, NULL },
};
