/*
 * cmd_runs.c - the build service's client commands, on the JSON API of a
 * running `slipway serve` (docs/api.md):
 *
 *   slipway runs [--repo R] [--status S] [--limit N] [--json]
 *   slipway logs RUN [--follow]            (like `az acr task logs`)
 *   slipway run REPO --branch B | --tag T | --commit SHA [--follow]
 *
 * The server is --server URL, or the listen address of --config FILE, or
 * $SLIPWAY_SERVER, or http://127.0.0.1:8080. With auth configured on the
 * server, $SLIPWAY_USER and $SLIPWAY_PASSWORD are sent as Basic auth.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/config.h"
#include "core/http_client.h"
#include "core/parse.h"
#include "core/strbuf.h"

struct client {
    char *base;      /* "http://127.0.0.1:8080", no trailing slash */
    const char *cmd; /* for messages */
};

struct response {
    long status;
    sw_strbuf body;
    int stream;        /* write to stdout as it comes */
    int is_run_log;    /* ... as a run log: Slipway's lines apart */
    int at_line_start; /* run log: the next byte starts a line */
};

/* A run log as a person reads it (docs/api.md, "Run log format"): lines
 * that start with the mark byte are Slipway's and print as they are ("# ..."
 * at the start of the line); everything else is the build's output and is
 * indented by two spaces, so it never looks like one of Slipway's lines. */
static void print_run_log(struct response *r, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (r->at_line_start) {
            r->at_line_start = 0;
            if (data[i] == '\x1e')
                continue;
            if (data[i] != '\n')
                fputs("  ", stdout);
        }
        putchar(data[i]);
        if (data[i] == '\n')
            r->at_line_start = 1;
    }
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct response *r = arg;
    if (r->stream && r->is_run_log) {
        print_run_log(r, data, size * n);
        fflush(stdout);
        return size * n;
    }
    if (r->stream) {
        size_t written = fwrite(data, size, n, stdout);
        fflush(stdout);
        return written * size;
    }
    sw_strbuf_append(&r->body, data, size * n);
    return size * n;
}

/* One request; 0 when the server answered (any status), -1 otherwise. */
static int request(const struct client *c, const char *method, const char *path, const char *body,
                   struct response *r)
{
    /* a followed log may be quiet for long: no stall limit when streaming */
    struct sw_http_options http = { .connect_timeout_s = 10,
                                    .stall_timeout_s = r->stream ? 7 * 86400 : 0,
                                    .total_timeout_s = r->stream ? 0 : 60 };
    CURL *curl = sw_http_easy_new(&http);
    struct curl_slist *headers = NULL;
    char *url = NULL;
    int rc = -1;
    if (curl == NULL || asprintf(&url, "%s%s", c->base, path) < 0) {
        fprintf(stderr, "slipway %s: out of memory\n", c->cmd);
        goto cleanup;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    const char *user = getenv("SLIPWAY_USER");
    if (user) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, getenv("SLIPWAY_PASSWORD") ?: "");
    }
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    CURLcode res = curl_easy_perform(curl);
    if (res != CURLE_OK) {
        fprintf(stderr, "slipway %s: %s: %s\n", c->cmd, url, curl_easy_strerror(res));
        goto cleanup;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    rc = 0;
cleanup:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(url);
    return rc;
}

/* GET/POST returning JSON: the parsed document of a 2xx answer, or NULL
 * after printing the server's error. */
static json_t *request_json(const struct client *c, const char *method, const char *path,
                            const char *body)
{
    struct response r = { 0 };
    r.body = (sw_strbuf)SW_STRBUF_INIT;
    json_t *doc = NULL;
    if (request(c, method, path, body, &r) != 0)
        goto cleanup;
    doc = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
    if (r.status < 200 || r.status > 299) {
        const char *msg =
            json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
        fprintf(stderr, "slipway %s: %s (HTTP %ld)\n", c->cmd,
                msg ? msg : "the server refused the request", r.status);
        json_decref(doc);
        doc = NULL;
    } else if (doc == NULL) {
        fprintf(stderr, "slipway %s: the server's answer is not JSON\n", c->cmd);
    }
cleanup:
    sw_strbuf_free(&r.body);
    return doc;
}

/* The server's base URL from the options, the config or the environment. */
static int client_init(struct client *c, const char *cmd, const char *server,
                       const char *config_path)
{
    c->cmd = cmd;
    if (server) {
        c->base = strdup(server);
    } else if (config_path) {
        struct sw_config *cfg = NULL;
        sw_error *err = NULL;
        if (sw_config_load(config_path, &cfg, &err) != 0) {
            fprintf(stderr, "slipway %s: %s\n", cmd, sw_error_message(err));
            sw_error_clear(&err);
            return -1;
        }
        const char *host = cfg->listen_host;
        if (host == NULL || *host == '\0' || strcmp(host, "0.0.0.0") == 0)
            host = "127.0.0.1";
        else if (strcmp(host, "::") == 0)
            host = "::1";
        int v6 = strchr(host, ':') != NULL;
        if (asprintf(&c->base, "%s://%s%s%s:%d", cfg->tls_cert ? "https" : "http", v6 ? "[" : "",
                     host, v6 ? "]" : "", cfg->listen_port) < 0)
            c->base = NULL;
        sw_config_free(cfg);
    } else {
        c->base = strdup(getenv("SLIPWAY_SERVER") ?: "http://127.0.0.1:8080");
    }
    if (c->base == NULL)
        return -1;
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    return 0;
}

static char *escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* "3m ago"-style age of an RFC 3339 time. */
static void format_age(const char *when, char *out, size_t size)
{
    struct tm tm = { 0 };
    if (when == NULL || strptime(when, "%Y-%m-%dT%H:%M:%S", &tm) == NULL) {
        snprintf(out, size, "-");
        return;
    }
    long secs = (long)(time(NULL) - timegm(&tm));
    if (secs < 60)
        snprintf(out, size, "%lds ago", secs < 0 ? 0 : secs);
    else if (secs < 3600)
        snprintf(out, size, "%ldm ago", secs / 60);
    else if (secs < 86400)
        snprintf(out, size, "%ldh ago", secs / 3600);
    else
        snprintf(out, size, "%ldd ago", secs / 86400);
}

/* ---- runs ------------------------------------------------------------------ */

/* How runs, logs and run find and log in to the server. */
static void server_help(FILE *out)
{
    fprintf(out, "\n"
                 "The server is --server URL, else the listen address of --config FILE,\n"
                 "else $SLIPWAY_SERVER, else http://127.0.0.1:8080. With registry.auth on,\n"
                 "credentials come from $SLIPWAY_USER and $SLIPWAY_PASSWORD (a password or\n"
                 "an access token from `slipway token create`).\n");
}

static void runs_usage(FILE *out)
{
    fprintf(out, "usage: slipway runs [--repo R] [--status S] [--limit|-n N] [--json]\n"
                 "                    [--server URL | --config FILE]\n"
                 "\n"
                 "Lists build runs, newest first. --status is one of queued, running,\n"
                 "succeeded, failed, canceled, superseded; --limit 1 to 500 (default 50).\n");
    server_help(out);
}

static const struct option client_options[] = {
    { "server", required_argument, NULL, 's' }, { "config", required_argument, NULL, 'c' },
    { "repo", required_argument, NULL, 'r' },   { "status", required_argument, NULL, 'S' },
    { "limit", required_argument, NULL, 'n' },  { "json", no_argument, NULL, 'j' },
    { "follow", no_argument, NULL, 'f' },       { "branch", required_argument, NULL, 'b' },
    { "tag", required_argument, NULL, 't' },    { "commit", required_argument, NULL, 'C' },
    { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
};

struct client_args {
    const char *server, *config, *repo, *status, *branch, *tag, *commit;
    int limit, json, follow, help;
};

/* Parses the shared options; 0, or 2 on a usage error. */
static int parse_args(int argc, char **argv, struct client_args *a, const char *allowed)
{
    int opt;
    memset(a, 0, sizeof(*a));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "fhn:", client_options, NULL)) != -1) {
        if (opt != '?' && opt != 'h' && strchr(allowed, opt) == NULL)
            opt = '?';
        switch (opt) {
        case 's':
            a->server = optarg;
            break;
        case 'c':
            a->config = optarg;
            break;
        case 'r':
            a->repo = optarg;
            break;
        case 'S':
            a->status = optarg;
            if (strcmp(optarg, "queued") != 0 && strcmp(optarg, "running") != 0 &&
                strcmp(optarg, "succeeded") != 0 && strcmp(optarg, "failed") != 0 &&
                strcmp(optarg, "canceled") != 0 && strcmp(optarg, "superseded") != 0) {
                fprintf(stderr,
                        "slipway %s: --status '%s': expected queued, running, succeeded, "
                        "failed, canceled or superseded\n",
                        argv[0], optarg);
                return 2;
            }
            break;
        case 'n':
            if (sw_parse_int(optarg, 1, 500, &a->limit) != 0) {
                fprintf(stderr, "slipway %s: -n '%s': expected a number from 1 to 500\n", argv[0],
                        optarg);
                return 2;
            }
            break;
        case 'j':
            a->json = 1;
            break;
        case 'f':
            a->follow = 1;
            break;
        case 'b':
            a->branch = optarg;
            break;
        case 't':
            a->tag = optarg;
            break;
        case 'C':
            a->commit = optarg;
            break;
        case 'h':
            a->help = 1;
            break;
        default:
            return 2;
        }
    }
    return 0;
}

int cmd_runs(int argc, char **argv)
{
    struct client_args a;
    struct client c = { 0 };
    sw_strbuf path = SW_STRBUF_INIT;
    json_t *doc = NULL;
    int status = 1;
    if (parse_args(argc, argv, &a, "scrSnj") != 0 || optind != argc) {
        runs_usage(stderr);
        return 2;
    }
    if (a.help) {
        runs_usage(stdout);
        return 0;
    }
    if (client_init(&c, "runs", a.server, a.config) != 0)
        return 1;
    sw_strbuf_printf(&path, "/api/v1/runs?limit=%d", a.limit > 0 ? a.limit : 20);
    if (a.repo) {
        char *e = escape(a.repo);
        sw_strbuf_printf(&path, "&repo=%s", e ? e : "");
        free(e);
    }
    if (a.status) {
        char *e = escape(a.status);
        sw_strbuf_printf(&path, "&status=%s", e ? e : "");
        free(e);
    }
    doc = request_json(&c, "GET", path.data, NULL);
    if (doc == NULL)
        goto cleanup;
    json_t *runs = json_object_get(doc, "runs");
    if (a.json) {
        json_dumpf(runs, stdout, JSON_INDENT(2));
        putchar('\n');
        status = 0;
        goto cleanup;
    }
    printf("%-8s %-24s %-10s %-10s %-20s %-8s %-9s %s\n", "RUN", "REPO", "STATUS", "TRIGGER",
           "SOURCE", "COMMIT", "DURATION", "QUEUED");
    size_t i;
    json_t *run;
    json_array_foreach(runs, i, run) {
        char source[64], duration[16], age[32];
        json_t *pr = json_object_get(run, "pull_request");
        if (strcmp(str(run, "source_type"), "commit") == 0)
            snprintf(source, sizeof(source), "commit %.7s", str(run, "source_ref"));
        else if (json_is_integer(json_object_get(pr, "number")))
            snprintf(source, sizeof(source), "PR #%lld into %s",
                     (long long)json_integer_value(json_object_get(pr, "number")),
                     str(run, "source_ref"));
        else
            snprintf(source, sizeof(source), "%s %s", str(run, "source_type"),
                     str(run, "source_ref"));
        json_t *d = json_object_get(run, "duration_seconds");
        if (json_is_number(d))
            snprintf(duration, sizeof(duration), "%.0fs", json_number_value(d));
        else
            snprintf(duration, sizeof(duration), "-");
        format_age(json_string_value(json_object_get(run, "queued_at")), age, sizeof(age));
        printf("%-8s %-24s %-10s %-10s %-20s %-8.7s %-9s %s\n", str(run, "id"), str(run, "repo"),
               str(run, "status"), str(run, "trigger"), source,
               *str(run, "commit") ? str(run, "commit") : "-", duration, age);
    }
    if (json_array_size(runs) == 0)
        printf("(no runs)\n");
    status = 0;
cleanup:
    json_decref(doc);
    sw_strbuf_free(&path);
    free(c.base);
    return status;
}

/* ---- logs ------------------------------------------------------------------ */

/* Prints a run's log (following it when asked); with follow, the exit
 * status says how the run ended: 0 succeeded, 1 otherwise. */
static int print_log(const struct client *c, const char *run_id, int follow)
{
    char *e = escape(run_id);
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/runs/%s/log%s", e ? e : "", follow ? "?follow=1" : "");
    struct response r = { .stream = 1, .is_run_log = 1, .at_line_start = 1 };
    r.body = (sw_strbuf)SW_STRBUF_INIT;
    /* errors come back as JSON: look at the status before streaming */
    json_t *run = NULL;
    char run_path[512];
    snprintf(run_path, sizeof(run_path), "/api/v1/runs/%s", e ? e : "");
    free(e);
    if ((run = request_json(c, "GET", run_path, NULL)) == NULL)
        return 1;
    json_decref(run);
    if (request(c, "GET", path, NULL, &r) != 0)
        return 1;
    sw_strbuf_free(&r.body);
    if (r.status != 200) {
        fprintf(stderr, "slipway %s: HTTP %ld for %s\n", c->cmd, r.status, path);
        return 1;
    }
    if (!follow)
        return 0;
    run = request_json(c, "GET", run_path, NULL);
    int ok = run && strcmp(str(run, "status"), "succeeded") == 0;
    if (run && !ok)
        fprintf(stderr, "slipway %s: run %s %s\n", c->cmd, run_id, str(run, "status"));
    json_decref(run);
    return ok ? 0 : 1;
}

static void logs_usage(FILE *out)
{
    fprintf(out, "usage: slipway logs RUN [--follow] [--server URL | --config FILE]\n"
                 "\n"
                 "Prints a run's log. With --follow, prints it live until the run ends and\n"
                 "exits 0 if it succeeded, 1 otherwise.\n");
    server_help(out);
}

int cmd_logs(int argc, char **argv)
{
    struct client_args a;
    struct client c = { 0 };
    if (parse_args(argc, argv, &a, "scf") != 0) {
        logs_usage(stderr);
        return 2;
    }
    if (a.help) {
        logs_usage(stdout);
        return 0;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "slipway logs: give one run id (e.g. ca1)\n\n");
        logs_usage(stderr);
        return 2;
    }
    if (client_init(&c, "logs", a.server, a.config) != 0)
        return 1;
    int status = print_log(&c, argv[optind], a.follow);
    free(c.base);
    return status;
}

/* ---- run ------------------------------------------------------------------- */

static void run_usage(FILE *out)
{
    fprintf(out, "usage: slipway run REPO (--branch B | --tag T | --commit SHA) [--follow]\n"
                 "                   [--server URL | --config FILE]\n"
                 "\n"
                 "Starts a manual run of REPO's build rule for that branch or tag (like\n"
                 "`az acr task run`) and prints its run id; with --follow, prints its log\n"
                 "until it ends and exits 0 if it succeeded.\n");
    server_help(out);
}

int cmd_run(int argc, char **argv)
{
    struct client_args a;
    struct client c = { 0 };
    json_t *req = NULL, *run = NULL;
    char *body = NULL;
    int status = 1;
    if (parse_args(argc, argv, &a, "scfbtC") != 0) {
        run_usage(stderr);
        return 2;
    }
    if (a.help) {
        run_usage(stdout);
        return 0;
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind == argc ? "slipway run: which repository? give REPO\n\n"
                                       : "slipway run: give one repository, not several\n\n");
        run_usage(stderr);
        return 2;
    }
    if ((a.branch != NULL) + (a.tag != NULL) + (a.commit != NULL) != 1) {
        fprintf(stderr, "slipway run: give exactly one of --branch, --tag or --commit\n\n");
        run_usage(stderr);
        return 2;
    }
    if (client_init(&c, "run", a.server, a.config) != 0)
        return 1;
    req = json_pack("{s:s}", "repo", argv[optind]);
    json_object_set_new(req,
                        a.branch ? "branch"
                        : a.tag  ? "tag"
                                 : "commit",
                        json_string(a.branch ? a.branch
                                    : a.tag  ? a.tag
                                             : a.commit));
    body = json_dumps(req, JSON_COMPACT);
    run = body ? request_json(&c, "POST", "/api/v1/runs", body) : NULL;
    if (run == NULL)
        goto cleanup;
    printf("%s\n", str(run, "id"));
    fflush(stdout);
    status = a.follow ? print_log(&c, str(run, "id"), 1) : 0;
cleanup:
    json_decref(req);
    json_decref(run);
    free(body);
    free(c.base);
    return status;
}

/* ---- rerun, cancel ---------------------------------------------------------- */

static void run_action_usage(FILE *out, const char *cmd)
{
    if (strcmp(cmd, "rerun") == 0)
        fprintf(out, "usage: slipway rerun RUN [--follow] [--server URL | --config FILE]\n"
                     "\n"
                     "Queues a new run of a finished run: the same repository, build rule,\n"
                     "ref and commit (the \"Rebuild\" button). Prints the new run id; with\n"
                     "--follow, prints its log until it ends and exits 0 if it succeeded.\n");
    else
        fprintf(out, "usage: slipway cancel RUN [--server URL | --config FILE]\n"
                     "\n"
                     "Cancels a queued or running run; a running build is stopped.\n");
    server_help(out);
}

/* rerun and cancel: POST /api/v1/runs/ID/ACTION */
static int run_action(int argc, char **argv, const char *action)
{
    struct client_args a;
    struct client c = { 0 };
    json_t *run = NULL;
    sw_strbuf path = SW_STRBUF_INIT;
    int status = 1;
    const char *cmd = argv[0];
    if (parse_args(argc, argv, &a, strcmp(action, "rerun") == 0 ? "scf" : "sc") != 0) {
        run_action_usage(stderr, cmd);
        return 2;
    }
    if (a.help) {
        run_action_usage(stdout, cmd);
        return 0;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "slipway %s: give one run id (e.g. ca1)\n\n", cmd);
        run_action_usage(stderr, cmd);
        return 2;
    }
    if (client_init(&c, cmd, a.server, a.config) != 0)
        return 1;
    char *id = escape(argv[optind]);
    if (id)
        sw_strbuf_printf(&path, "/api/v1/runs/%s/%s", id, action);
    if (id == NULL || path.data == NULL || path.failed) {
        fprintf(stderr, "slipway %s: out of memory\n", cmd);
        goto cleanup;
    }
    if ((run = request_json(&c, "POST", path.data, "{}")) == NULL)
        goto cleanup;
    if (strcmp(action, "rerun") == 0) {
        printf("%s\n", str(run, "id"));
        fflush(stdout);
        status = a.follow ? print_log(&c, str(run, "id"), 1) : 0;
    } else {
        printf("%s %s\n", str(run, "id"), str(run, "status"));
        status = 0;
    }
cleanup:
    free(id);
    sw_strbuf_free(&path);
    json_decref(run);
    free(c.base);
    return status;
}

int cmd_rerun(int argc, char **argv)
{
    return run_action(argc, argv, "rerun");
}

int cmd_cancel(int argc, char **argv)
{
    return run_action(argc, argv, "cancel");
}
