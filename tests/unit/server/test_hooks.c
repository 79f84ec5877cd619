/*
 * test_hooks.c - server/hooks.c through a real server on 127.0.0.1: a
 * signed GitHub push queues one run per matching rule (202) and its
 * redelivery nothing; bad and missing signatures are refused (401) before
 * the body is read; unknown forges, unknown repositories, branches no rule
 * builds, pings, [skip ci] and malformed payloads get their own answers.
 */
#include <jansson.h>
#include <string.h>

#include "core/hash.h"
#include "registry/store.h"
#include "tests/unit/server/fixture.h"
#include "tests/unit/test.h"
#include "worker/jobs.h"

#define SECRET "hook-s3cret"

static const char *config =
    "repos:\n"
    "  - name: demo/hello\n"
    "    git: https://github.com/acme/hello.git\n"
    "    secret: " SECRET "\n"
    "    rules:\n"
    "      - { source_type: branch, source: main, tags: [latest] }\n"
    "      - { source_type: branch, source: \"/^ma/\", tags: [\"{sourceref}\"] }\n"
    "  - name: demo/other\n"
    "    git: https://github.com/acme/other.git\n"
    "    secret: other-secret\n"
    "    rules:\n"
    "      - { source_type: branch, source: main, tags: [latest] }\n";

static char *push_payload(const char *repo, const char *branch, const char *message)
{
    char *text = NULL;
    if (asprintf(
            &text,
            "{\"ref\":\"refs/heads/%s\",\"before\":\"1111111111111111111111111111111111111111\","
            "\"after\":\"2222222222222222222222222222222222222222\",\"deleted\":false,"
            "\"repository\":{\"full_name\":\"acme/%s\","
            "\"clone_url\":\"https://github.com/acme/%s.git\","
            "\"html_url\":\"https://github.com/acme/%s\"},"
            "\"pusher\":{\"name\":\"alice\"},"
            "\"head_commit\":{\"id\":\"2222222222222222222222222222222222222222\","
            "\"message\":\"%s\"}}",
            branch, repo, repo, repo, message) < 0)
        abort();
    return text;
}

/* POSTs body to path as a GitHub delivery signed with secret (NULL: not
 * signed); the reply's JSON in *doc (NULL if none) */
static long deliver(const struct fixture *f, const char *path, const char *event,
                    const char *delivery, const char *secret, const char *body, json_t **doc)
{
    char sig[128], ev[64], id[128];
    char hex[SW_SHA256_HEX_LEN + 1];
    const char *headers[5] = { "Content-Type: application/json", ev, id, NULL, NULL };
    snprintf(ev, sizeof(ev), "X-GitHub-Event: %s", event);
    snprintf(id, sizeof(id), "X-GitHub-Delivery: %s", delivery);
    if (secret) {
        sw_hmac_sha256_hex(secret, strlen(secret), body, strlen(body), hex);
        snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
        headers[3] = sig;
    }
    struct reply r;
    long status = -1;
    *doc = NULL;
    if (request(f, "POST", path, headers, body, strlen(body), &r) == 0) {
        status = r.status;
        *doc = json_loads(r.body, 0, NULL);
    }
    reply_free(&r);
    return status;
}

static const char *result_of(json_t *doc)
{
    const char *s = json_string_value(json_object_get(doc, "result"));
    return s ? s : "";
}

static const char *error_of(json_t *doc)
{
    const char *s = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    return s ? s : "";
}

static int count_runs(const struct fixture *f, const char *repo)
{
    sw_db *db = NULL;
    struct wrk_run *runs = NULL;
    size_t n = 0;
    if (reg_store_db(f->store, &db, NULL) != 0 ||
        wrk_jobs_list(db, repo, NULL, 0, 100, &runs, &n, NULL) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        wrk_run_release(&runs[i]);
    free(runs);
    return (int)n;
}

static void test_push_queues_runs(void)
{
    struct fixture f;
    json_t *doc = NULL;
    if (fixture_start(&f, "test_hooks", config) != 0) {
        CHECK(0);
        return;
    }
    char *body = push_payload("hello", "main", "Fix it");
    /* main matches both rules of demo/hello */
    CHECK_INT_EQ(deliver(&f, "/hooks/github", "push", "d-1", SECRET, body, &doc), 202);
    CHECK_STR_EQ(result_of(doc), "queued");
    json_t *runs = json_object_get(doc, "runs");
    CHECK_INT_EQ(json_array_size(runs), 2);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(runs, 0), "repo")), "demo/hello");
    CHECK(json_is_true(json_object_get(json_array_get(runs, 0), "created")));
    json_decref(doc);
    CHECK_INT_EQ(count_runs(&f, "demo/hello"), 2);
    CHECK_INT_EQ(count_runs(&f, "demo/other"), 0);

    /* the same delivery again: nothing new */
    CHECK_INT_EQ(deliver(&f, "/hooks/github", "push", "d-1", SECRET, body, &doc), 200);
    CHECK_STR_EQ(result_of(doc), "redelivery");
    json_decref(doc);
    CHECK_INT_EQ(count_runs(&f, "demo/hello"), 2);

    /* the explicit route names the repository */
    CHECK_INT_EQ(deliver(&f, "/hooks/github/demo/hello", "push", "d-2", SECRET, body, &doc), 202);
    CHECK_STR_EQ(result_of(doc), "queued");
    json_decref(doc);
    free(body);

    /* a branch no rule builds */
    body = push_payload("hello", "feature", "Work");
    CHECK_INT_EQ(deliver(&f, "/hooks/github", "push", "d-3", SECRET, body, &doc), 200);
    CHECK_STR_EQ(result_of(doc), "no_rule");
    json_decref(doc);
    free(body);

    /* [skip ci] in the commit message */
    body = push_payload("hello", "main", "Docs [skip ci]");
    CHECK_INT_EQ(deliver(&f, "/hooks/github", "push", "d-4", SECRET, body, &doc), 200);
    CHECK_STR_EQ(result_of(doc), "skipped");
    json_decref(doc);
    free(body);
    fixture_stop(&f);
}

static void test_refused(void)
{
    struct fixture f;
    json_t *doc = NULL;
    if (fixture_start(&f, "test_hooks", config) != 0) {
        CHECK(0);
        return;
    }
    char *body = push_payload("hello", "main", "Fix it");
    /* wrong secret: 401 naming the repository the payload is for, never the secret */
    CHECK_INT_EQ(deliver(&f, "/hooks/github", "push", "r-1", "guess", body, &doc), 401);
    CHECK(strstr(error_of(doc), "demo/hello") != NULL);
    CHECK(strstr(error_of(doc), SECRET) == NULL);
    json_decref(doc);
    /* not signed */
    CHECK_INT_EQ(deliver(&f, "/hooks/github", "push", "r-2", NULL, body, &doc), 401);
    CHECK(strstr(error_of(doc), "X-Hub-Signature-256") != NULL);
    json_decref(doc);
    /* another repository's secret on the explicit route */
    CHECK_INT_EQ(deliver(&f, "/hooks/github/demo/hello", "push", "r-3", "other-secret", body, &doc),
                 401);
    json_decref(doc);
    /* demo/other's secret for a payload of acme/hello: the secret matched
     * a repository whose URL is not the payload's */
    CHECK_INT_EQ(deliver(&f, "/hooks/github", "push", "r-4", "other-secret", body, &doc), 401);
    json_decref(doc);
    CHECK_INT_EQ(count_runs(&f, "demo/hello"), 0);
    CHECK_INT_EQ(count_runs(&f, "demo/other"), 0);
    free(body);

    /* a repository nobody configured, signed with a configured secret */
    body = push_payload("stranger", "main", "x");
    CHECK_INT_EQ(deliver(&f, "/hooks/github", "push", "r-5", SECRET, body, &doc), 404);
    CHECK(strstr(error_of(doc), "acme/stranger") != NULL);
    json_decref(doc);
    free(body);
    fixture_stop(&f);
}

static void test_bad_requests(void)
{
    struct fixture f;
    json_t *doc = NULL;
    if (fixture_start(&f, "test_hooks", config) != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(deliver(&f, "/hooks/bitbucket", "push", "b-1", SECRET, "{}", &doc), 404);
    CHECK(strstr(error_of(doc), "unknown provider 'bitbucket'") != NULL);
    json_decref(doc);
    CHECK_INT_EQ(deliver(&f, "/hooks/github/demo/nope", "push", "b-2", SECRET, "{}", &doc), 404);
    CHECK(strstr(error_of(doc), "no source repository demo/nope") != NULL);
    json_decref(doc);
    /* signed, but not JSON */
    CHECK_INT_EQ(deliver(&f, "/hooks/github/demo/hello", "push", "b-3", SECRET, "not json {", &doc),
                 400);
    CHECK(error_of(doc)[0] != '\0');
    json_decref(doc);
    /* a ping on the explicit route */
    CHECK_INT_EQ(deliver(&f, "/hooks/github/demo/hello", "ping", "b-4", SECRET,
                         "{\"zen\":\"hi\",\"hook_id\":1}", &doc),
                 200);
    CHECK_STR_EQ(result_of(doc), "ping");
    json_decref(doc);
    /* GET is not a delivery */
    struct reply r;
    CHECK_INT_EQ(request(&f, "GET", "/hooks/github", NULL, NULL, 0, &r), 0);
    CHECK(r.status == 404 || r.status == 405);
    reply_free(&r);
    fixture_stop(&f);
}

/* with no repos: configured, every delivery is a 404 that says so */
static void test_no_repositories(void)
{
    struct fixture f;
    json_t *doc = NULL;
    if (fixture_start(&f, "test_hooks", "") != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(deliver(&f, "/hooks/github", "push", "n-1", SECRET, "{}", &doc), 404);
    CHECK(strstr(error_of(doc), "no source repositories") != NULL);
    json_decref(doc);
    fixture_stop(&f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_push_queues_runs);
    RUN(test_refused);
    RUN(test_bad_requests);
    RUN(test_no_repositories);
    curl_global_cleanup();
    return TEST_EXIT();
}
