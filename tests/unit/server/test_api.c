/*
 * test_api.c - server/api.c, the JSON API under /api/v1/, through a real
 * server on 127.0.0.1: status, repositories, manual runs and every reason
 * one is refused, the run list's filters and their bad values, a run's
 * log, cancel and rerun, images, the API's 404, and the login the API
 * asks for when the registry has users.
 */
#include <jansson.h>
#include <string.h>

#include "core/fs.h"
#include "registry/store.h"
#include "tests/unit/server/fixture.h"
#include "tests/unit/test.h"
#include "worker/jobs.h"
#include "worker/runlog.h"

static const char *config =
    "runs: { id_prefix: ta }\n"
    "repos:\n"
    "  - name: demo/hello\n"
    "    git: https://github.com/acme/hello.git\n"
    "    secret: do-not-show-me\n"
    "    rules:\n"
    "      - { source_type: branch, source: main, tags: [latest] }\n"
    "      - { source_type: tag, source: \"/^v.*/\", tags: [\"{sourceref}\"] }\n";

static const char *json_headers[] = { "Content-Type: application/json", NULL };

/* METHOD path with a JSON body (or none); the reply parsed into *doc */
static long call(const struct fixture *f, const char *method, const char *path, const char *body,
                 const char *const *headers, json_t **doc)
{
    struct reply r;
    long status = -1;
    *doc = NULL;
    if (request(f, method, path, headers ? headers : json_headers, body, body ? strlen(body) : 0,
                &r) == 0) {
        status = r.status;
        *doc = json_loads(r.body, 0, NULL);
    }
    reply_free(&r);
    return status;
}

static const char *str(json_t *doc, const char *key)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s ? s : "";
}

static const char *error_message(json_t *doc)
{
    const char *s = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    return s ? s : "";
}

static void test_status_and_repos(void)
{
    struct fixture f;
    json_t *doc = NULL;
    if (fixture_start(&f, "test_api", config) != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/status", NULL, NULL, &doc), 200);
    CHECK(str(doc, "version")[0] != '\0');
    CHECK_INT_EQ(json_integer_value(json_object_get(doc, "repositories")), 1);
    CHECK_INT_EQ(json_integer_value(json_object_get(doc, "queued")), 0);
    CHECK(json_is_false(json_object_get(doc, "auth")));
    json_decref(doc);

    struct reply r;
    CHECK_INT_EQ(request(&f, "GET", "/api/v1/repos", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, "demo/hello") != NULL);
    CHECK(strstr(r.body, "do-not-show-me") == NULL); /* the webhook secret never */
    reply_free(&r);

    CHECK_INT_EQ(call(&f, "GET", "/api/v1/repos/demo/hello", NULL, NULL, &doc), 200);
    CHECK_STR_EQ(str(doc, "name"), "demo/hello");
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "rules")), 2);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/repos/demo/none", NULL, NULL, &doc), 404);
    CHECK(strstr(error_message(doc), "demo/none") != NULL);
    json_decref(doc);

    CHECK_INT_EQ(call(&f, "GET", "/api/v1/nothing/here", NULL, NULL, &doc), 404);
    CHECK(strstr(error_message(doc), "no such API endpoint") != NULL);
    json_decref(doc);
    fixture_stop(&f);
}

static void test_manual_runs(void)
{
    struct fixture f;
    json_t *doc = NULL;
    if (fixture_start(&f, "test_api", config) != 0) {
        CHECK(0);
        return;
    }
    static const struct {
        const char *body;
        long status;
        const char *message;
    } refused[] = {
        { "not json", 400, "must be a JSON object" },
        { "[1]", 400, "must be a JSON object" },
        { "{\"branch\":\"main\"}", 400, "\"repo\" is required" },
        { "{\"repo\":\"demo/hello\"}", 400, "exactly one of" },
        { "{\"repo\":\"demo/hello\",\"branch\":\"main\",\"tag\":\"v1\"}", 400, "exactly one of" },
        { "{\"repo\":\"demo/none\",\"branch\":\"main\"}", 404, "demo/none is configured" },
        { "{\"repo\":\"demo/hello\",\"branch\":\"a..b\"}", 400, "not a valid branch name" },
        { "{\"repo\":\"demo/hello\",\"branch\":\"-x\"}", 400, "not a valid branch name" },
        { "{\"repo\":\"demo/hello\",\"branch\":\"\"}", 400, "not a valid branch name" },
        { "{\"repo\":\"demo/hello\",\"commit\":\"xyz1234\"}", 400, "hex commit id" },
        { "{\"repo\":\"demo/hello\",\"commit\":\"abc12\"}", 400, "hex commit id" },
        { "{\"repo\":\"demo/hello\",\"branch\":\"dev\"}", 400, "no build rule" },
        { "{\"repo\":\"demo/hello\",\"tag\":\"release\"}", 400, "no build rule" },
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        long status = call(&f, "POST", "/api/v1/runs", refused[i].body, NULL, &doc);
        if (status != refused[i].status || strstr(error_message(doc), refused[i].message) == NULL)
            fprintf(stderr, "  body %s: %ld %s\n", refused[i].body, status, error_message(doc));
        CHECK_INT_EQ(status, refused[i].status);
        CHECK(strstr(error_message(doc), refused[i].message) != NULL);
        json_decref(doc);
    }
    /* nothing was queued by any of them */
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/runs", NULL, NULL, &doc), 200);
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "runs")), 0);
    json_decref(doc);

    /* a branch, a tag and a commit */
    char first[64], second[64];
    CHECK_INT_EQ(call(&f, "POST", "/api/v1/runs", "{\"repo\":\"demo/hello\",\"branch\":\"main\"}",
                      NULL, &doc),
                 201);
    snprintf(first, sizeof(first), "%s", str(doc, "id"));
    CHECK(strncmp(first, "ta", 2) == 0);
    CHECK_STR_EQ(str(doc, "status"), "queued");
    CHECK_STR_EQ(str(doc, "trigger"), "manual");
    CHECK_STR_EQ(str(doc, "source_ref"), "main");
    json_decref(doc);
    CHECK_INT_EQ(
        call(&f, "POST", "/api/v1/runs", "{\"repo\":\"demo/hello\",\"tag\":\"v1.0\"}", NULL, &doc),
        201);
    snprintf(second, sizeof(second), "%s", str(doc, "id"));
    CHECK_STR_EQ(str(doc, "source_type"), "tag");
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "POST", "/api/v1/runs",
                      "{\"repo\":\"demo/hello\",\"commit\":\"0123456789abcdef\"}", NULL, &doc),
                 201);
    CHECK_STR_EQ(str(doc, "source_type"), "commit");
    json_decref(doc);

    /* the run list and its filters */
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/runs", NULL, NULL, &doc), 200);
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "runs")), 3);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/runs?limit=2", NULL, NULL, &doc), 200);
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "runs")), 2);
    const char *next = str(doc, "next_before");
    CHECK(next[0] != '\0');
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/runs?limit=2&before=%s", next);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", path, NULL, NULL, &doc), 200);
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "runs")), 1);
    CHECK(json_is_null(json_object_get(doc, "next_before")));
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/runs?repo=demo/none", NULL, NULL, &doc), 200);
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "runs")), 0);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/runs?status=failed", NULL, NULL, &doc), 200);
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "runs")), 0);
    json_decref(doc);
    static const char *const bad[] = { "limit=0",   "limit=501",
                                       "limit=abc", "limit=5x",
                                       "status=ok", "before=12",
                                       "limit=-1",  "limit=99999999999999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/runs?%s", bad[i]);
        long status = call(&f, "GET", path, NULL, NULL, &doc);
        if (status != 400)
            fprintf(stderr, "  %s: %ld\n", bad[i], status);
        CHECK_INT_EQ(status, 400);
        json_decref(doc);
    }

    /* one run, its log, cancel and rerun */
    snprintf(path, sizeof(path), "/api/v1/runs/%s", first);
    CHECK_INT_EQ(call(&f, "GET", path, NULL, NULL, &doc), 200);
    CHECK_STR_EQ(str(doc, "id"), first);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/runs/ta-999999", NULL, NULL, &doc), 404);
    json_decref(doc);

    struct reply r;
    snprintf(path, sizeof(path), "/api/v1/runs/%s/log", first);
    CHECK_INT_EQ(request(&f, "GET", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK_INT_EQ(r.len, 0); /* not started */
    reply_free(&r);
    char *log = wrk_log_path(reg_store_data_dir(f.store), first);
    CHECK(log != NULL);
    if (log) {
        char *dir = strdup(log);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash)
            *slash = '\0';
        sw_mkdir_p(dir, 0700, NULL);
        CHECK_INT_EQ(sw_write_file_atomic(log, "step 1/1\nhello\n", 15, 0600, NULL), 0);
        free(dir);
        free(log);
    }
    CHECK_INT_EQ(request(&f, "GET", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(r.body, "step 1/1\nhello\n");
    reply_free(&r);

    snprintf(path, sizeof(path), "/api/v1/runs/%s/cancel", first);
    CHECK_INT_EQ(call(&f, "POST", path, "{}", NULL, &doc), 202);
    CHECK_STR_EQ(str(doc, "status"), "canceled");
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "POST", path, "{}", NULL, &doc), 409);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "POST", "/api/v1/runs/ta-999999/cancel", "{}", NULL, &doc), 404);
    json_decref(doc);

    snprintf(path, sizeof(path), "/api/v1/runs/%s/rerun", first);
    CHECK_INT_EQ(call(&f, "POST", path, "{}", NULL, &doc), 201);
    CHECK(strcmp(str(doc, "id"), first) != 0);
    CHECK_STR_EQ(str(doc, "source_ref"), "main");
    CHECK_STR_EQ(str(doc, "status"), "queued");
    json_decref(doc);
    (void)second;
    fixture_stop(&f);
}

static void test_images(void)
{
    struct fixture f;
    json_t *doc = NULL;
    if (fixture_start(&f, "test_api", config) != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/images", NULL, NULL, &doc), 200);
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "repositories")), 0);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/images/demo/hello/tags", NULL, NULL, &doc), 404);
    CHECK(error_message(doc)[0] != '\0');
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/images/demo/hello/manifests/latest", NULL, NULL, &doc),
                 404);
    json_decref(doc);
    fixture_stop(&f);
}

/* with users, reading asks for a login (no anonymous reads) and writing
 * needs one; a wrong password is refused */
static void test_login(void)
{
    struct fixture f;
    json_t *doc = NULL;
    char *yaml = NULL, *dir = scratch_dir("test_api_auth");
    char *htpasswd = fixture_htpasswd(dir, "alice", "secret");
    if (asprintf(&yaml, "registry:\n  auth:\n    htpasswd: %s\n%s", htpasswd, config) < 0)
        abort();
    if (fixture_start(&f, "test_api", yaml) != 0) {
        CHECK(0);
        goto cleanup;
    }
    const char *alice[] = { "Content-Type: application/json",
                            "Authorization: Basic YWxpY2U6c2VjcmV0", NULL };
    const char *wrong[] = { "Content-Type: application/json",
                            "Authorization: Basic YWxpY2U6d3Jvbmc=", NULL };
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/repos", NULL, NULL, &doc), 401);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/repos", NULL, wrong, &doc), 401);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "GET", "/api/v1/repos", NULL, alice, &doc), 200);
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "repos")), 1);
    json_decref(doc);
    const char *run = "{\"repo\":\"demo/hello\",\"branch\":\"main\"}";
    CHECK_INT_EQ(call(&f, "POST", "/api/v1/runs", run, NULL, &doc), 401);
    CHECK(strstr(error_message(doc), "log in") != NULL);
    json_decref(doc);
    CHECK_INT_EQ(call(&f, "POST", "/api/v1/runs", run, alice, &doc), 201);
    CHECK_STR_EQ(str(doc, "pusher"), "alice");
    json_decref(doc);
    fixture_stop(&f);
cleanup:
    sw_rm_rf(dir, NULL);
    free(dir);
    free(htpasswd);
    free(yaml);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_status_and_repos);
    RUN(test_manual_runs);
    RUN(test_images);
    RUN(test_login);
    curl_global_cleanup();
    return TEST_EXIT();
}
