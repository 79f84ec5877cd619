/*
 * badge.c - GET /badge/<repo>.svg[?branch=NAME]: a Shields-style status
 * badge of a repository's latest build ("build | passing"), for READMEs.
 *
 * The status is that of the newest run that got a verdict: succeeded is
 * "passing", failed "failing", queued or running "running"; canceled and
 * superseded runs are skipped. With ?branch= only runs of that branch
 * count. A repository nobody built yet is "unknown".
 *
 * The badge follows the repository's read rules, like its runs: a
 * repository the caller may not pull answers exactly as one that does not
 * exist (404 with an "unknown" badge), so a badge URL is no existence
 * oracle. Answers are not cached (Cache-Control: no-cache), so a README's
 * badge changes when the build does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "registry/store.h"
#include "server/internal.h"
#include "worker/jobs.h"
#include "worker/repos.h"

/* Runs looked at for a verdict before answering "unknown". */
#define BADGE_MAX_RUNS 100

struct badge_style {
    const char *message;
    const char *color;
};

static const struct badge_style styles[] = {
    { "passing", "#4c1" },
    { "failing", "#e05d44" },
    { "running", "#dfb317" },
    { "unknown", "#9f9f9f" },
};

enum { BADGE_PASSING, BADGE_FAILING, BADGE_RUNNING, BADGE_UNKNOWN };

/* Verdana 11px advance widths are what Shields measures; a flat 7 px per
 * character plus padding is close enough for these few words. */
static int text_width(const char *s)
{
    return (int)strlen(s) * 7 + 10;
}

static void respond_badge(srv_request *req, unsigned status, int which)
{
    const char *label = "build";
    const struct badge_style *st = &styles[which];
    int lw = text_width(label), mw = text_width(st->message), w = lw + mw;
    char svg[2048];
    int n = snprintf(
        svg, sizeof(svg),
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"20\" role=\"img\" "
        "aria-label=\"%s: %s\"><title>%s: %s</title>"
        "<linearGradient id=\"s\" x2=\"0\" y2=\"100%%\"><stop offset=\"0\" stop-color=\"#bbb\" "
        "stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>"
        "<clipPath id=\"r\"><rect width=\"%d\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>"
        "<g clip-path=\"url(#r)\"><rect width=\"%d\" height=\"20\" fill=\"#555\"/>"
        "<rect x=\"%d\" width=\"%d\" height=\"20\" fill=\"%s\"/>"
        "<rect width=\"%d\" height=\"20\" fill=\"url(#s)\"/></g>"
        "<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,"
        "sans-serif\" font-size=\"11\"><text x=\"%d\" y=\"14\">%s</text>"
        "<text x=\"%d\" y=\"14\">%s</text></g></svg>\n",
        w, label, st->message, label, st->message, w, lw, lw, mw, st->color, w, lw / 2, label,
        lw + mw / 2, st->message);
    srv_header(req, "Cache-Control", "no-cache, max-age=0");
    srv_respond(req, status, "image/svg+xml", svg,
                n > 0 && (size_t)n < sizeof(svg) ? (size_t)n : 0);
}

static int verdict_of(const struct wrk_run *runs, size_t n, const char *branch)
{
    for (size_t i = 0; i < n; i++) {
        const struct wrk_run *r = &runs[i];
        if (branch && (strcmp(r->source_type, "branch") != 0 || strcmp(r->source_ref, branch) != 0))
            continue;
        if (strcmp(r->status, "succeeded") == 0)
            return BADGE_PASSING;
        if (strcmp(r->status, "failed") == 0)
            return BADGE_FAILING;
        if (strcmp(r->status, "queued") == 0 || strcmp(r->status, "running") == 0)
            return BADGE_RUNNING;
        /* canceled, superseded: no verdict, look further back */
    }
    return BADGE_UNKNOWN;
}

static void badge_end(srv_request *req)
{
    const char *param = srv_request_param(req, "name");
    const char *branch = srv_request_query(req, "branch");
    char repo[256];
    size_t len = param ? strlen(param) : 0;
    if (len <= 4 || len - 4 >= sizeof(repo) || strcmp(param + len - 4, ".svg") != 0) {
        respond_badge(req, 404, BADGE_UNKNOWN);
        return;
    }
    memcpy(repo, param, len - 4);
    repo[len - 4] = '\0';
    const struct wrk_repos *repos = req->srv->repos;
    if (!repos || wrk_repos_find(repos, repo) == NULL ||
        !srv_request_allowed(req, repo, SRV_AUTH_PULL)) {
        respond_badge(req, 404, BADGE_UNKNOWN);
        return;
    }
    sw_db *db = NULL;
    sw_error *err = NULL;
    struct wrk_run *runs = NULL;
    size_t n = 0;
    if (reg_store_db(srv_request_store(req), &db, &err) != 0 ||
        wrk_jobs_list(db, repo, NULL, 0, BADGE_MAX_RUNS, &runs, &n, &err) != 0) {
        sw_err("badge of %s: %s", repo, sw_error_message(err));
        sw_error_clear(&err);
        respond_badge(req, 500, BADGE_UNKNOWN);
        return;
    }
    int which = verdict_of(runs, n, branch && *branch ? branch : NULL);
    for (size_t i = 0; i < n; i++)
        wrk_run_release(&runs[i]);
    free(runs);
    respond_badge(req, 200, which);
}

const struct srv_route srv_badge_routes[] = {
    { "GET", "/badge/*name", SRV_ACCESS_NONE, NULL, NULL, badge_end, NULL },
    { NULL, NULL, 0, NULL, NULL, NULL, NULL },
};
