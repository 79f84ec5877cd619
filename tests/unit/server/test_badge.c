/*
 * test_badge.c - server/badge.c through a real server on 127.0.0.1: the
 * status a README badge shows for each state of a repository's runs,
 * ?branch=, the 404 that an unknown or hidden repository and a bad name
 * get (the same "unknown" badge), and the no-cache header.
 */
#include <string.h>

#include "registry/store.h"
#include "tests/unit/server/fixture.h"
#include "tests/unit/test.h"
#include "worker/jobs.h"

static const char *config = "repos:\n"
                            "  - name: demo/hello\n"
                            "    git: https://github.com/acme/hello.git\n"
                            "    rules:\n"
                            "      - { source_type: branch, source: main, tags: [latest] }\n"
                            "      - { source_type: branch, source: dev, tags: [dev] }\n";

/* GET the badge; the status and the word it shows */
static long badge(const struct fixture *f, const char *path, char *word, size_t size)
{
    struct reply r;
    word[0] = '\0';
    if (request(f, "GET", path, NULL, NULL, 0, &r) != 0) {
        reply_free(&r);
        return -1;
    }
    char type[128] = "", cache[128] = "";
    reply_header_value(&r, "Content-Type", type, sizeof(type));
    reply_header_value(&r, "Cache-Control", cache, sizeof(cache));
    CHECK_STR_EQ(type, "image/svg+xml");
    CHECK(strstr(cache, "no-cache") != NULL);
    CHECK(strncmp(r.body, "<svg ", 5) == 0);
    const char *label = strstr(r.body, "aria-label=\"build: ");
    if (label) {
        label += strlen("aria-label=\"build: ");
        size_t n = strcspn(label, "\"");
        snprintf(word, size, "%.*s", (int)n, label);
    }
    long status = r.status;
    reply_free(&r);
    return status;
}

static void enqueue(sw_db *db, const char *branch, int rule, char run_id[WRK_RUN_ID_MAX])
{
    struct wrk_run_request rr = {
        .repo = "demo/hello",
        .trigger = "manual",
        .source_type = "branch",
        .source_ref = branch,
        .id_prefix = "tb",
        .rule = rule,
    };
    int created = 0;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_jobs_enqueue(db, &rr, run_id, &created, &err), 0);
    CHECK_INT_EQ(created, 1);
    sw_error_clear(&err);
}

/* claims the oldest queued run and finishes it with status */
static void finish(sw_db *db, const char *run_id, const char *status)
{
    struct wrk_run run;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_jobs_claim(db, "test", 60, 3, &run, &err), 0);
    CHECK_STR_EQ(run.run_id, run_id);
    CHECK_INT_EQ(wrk_jobs_finish(db, run_id, "test", status, NULL, NULL,
                                 strcmp(status, "failed") == 0 ? "it broke" : NULL, &err),
                 0);
    wrk_run_release(&run);
    sw_error_clear(&err);
}

static void test_states(void)
{
    struct fixture f;
    char word[64];
    if (fixture_start(&f, "test_badge", config) != 0) {
        CHECK(0);
        return;
    }
    sw_db *db = NULL;
    CHECK_INT_EQ(reg_store_db(f.store, &db, NULL), 0);

    /* nobody built it yet */
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg", word, sizeof(word)), 200);
    CHECK_STR_EQ(word, "unknown");

    char first[WRK_RUN_ID_MAX], second[WRK_RUN_ID_MAX], third[WRK_RUN_ID_MAX];
    enqueue(db, "main", 0, first);
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg", word, sizeof(word)), 200);
    CHECK_STR_EQ(word, "running");
    finish(db, first, "succeeded");
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg", word, sizeof(word)), 200);
    CHECK_STR_EQ(word, "passing");

    /* a failed run on dev: the repository fails, main still passes */
    enqueue(db, "dev", 1, second);
    finish(db, second, "failed");
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg", word, sizeof(word)), 200);
    CHECK_STR_EQ(word, "failing");
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg?branch=main", word, sizeof(word)), 200);
    CHECK_STR_EQ(word, "passing");
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg?branch=dev", word, sizeof(word)), 200);
    CHECK_STR_EQ(word, "failing");
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg?branch=nope", word, sizeof(word)), 200);
    CHECK_STR_EQ(word, "unknown");
    /* an empty branch= means every branch */
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg?branch=", word, sizeof(word)), 200);
    CHECK_STR_EQ(word, "failing");

    /* a canceled run has no verdict: the one before it counts */
    enqueue(db, "main", 0, third);
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_jobs_cancel(db, third, &err), 0);
    sw_error_clear(&err);
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg?branch=main", word, sizeof(word)), 200);
    CHECK_STR_EQ(word, "passing");
    fixture_stop(&f);
}

static void test_not_found(void)
{
    struct fixture f;
    char word[64];
    if (fixture_start(&f, "test_badge", config) != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(badge(&f, "/badge/demo/other.svg", word, sizeof(word)), 404);
    CHECK_STR_EQ(word, "unknown");
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello", word, sizeof(word)), 404);
    CHECK_INT_EQ(badge(&f, "/badge/demo/hello.png", word, sizeof(word)), 404);
    CHECK_INT_EQ(badge(&f, "/badge/.svg", word, sizeof(word)), 404);
    fixture_stop(&f);
}

/* with auth, a repository the caller may not pull is answered exactly as
 * one that does not exist */
static void test_hidden(void)
{
    struct fixture f;
    char word[64], *yaml = NULL;
    char *dir = scratch_dir("test_badge_auth");
    char *htpasswd = fixture_htpasswd(dir, "alice", "secret");
    if (asprintf(&yaml, "registry:\n  auth:\n    htpasswd: %s\n%s", htpasswd, config) < 0)
        abort();
    if (fixture_start(&f, "test_badge", yaml) != 0) {
        CHECK(0);
    } else {
        CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg", word, sizeof(word)), 404);
        CHECK_STR_EQ(word, "unknown");
        /* the badge does not log in: credentials change nothing (a README's
         * badge is fetched without them) */
        struct reply r;
        const char *as_alice[] = { "Authorization: Basic YWxpY2U6c2VjcmV0", NULL };
        CHECK_INT_EQ(request(&f, "GET", "/badge/demo/hello.svg", as_alice, NULL, 0, &r), 0);
        CHECK_INT_EQ(r.status, 404);
        reply_free(&r);
        fixture_stop(&f);
    }
    free(yaml);
    /* a rule that lets anonymous pull it shows the real badge */
    if (asprintf(&yaml,
                 "registry:\n  auth:\n    htpasswd: %s\n    rules:\n"
                 "      - { repo: \"demo/*\", users: [anonymous], access: [pull] }\n%s",
                 htpasswd, config) < 0)
        abort();
    if (fixture_start(&f, "test_badge", yaml) != 0) {
        CHECK(0);
    } else {
        CHECK_INT_EQ(badge(&f, "/badge/demo/hello.svg", word, sizeof(word)), 200);
        CHECK_STR_EQ(word, "unknown");
        fixture_stop(&f);
    }
    sw_rm_rf(dir, NULL);
    free(dir);
    free(htpasswd);
    free(yaml);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_states);
    RUN(test_not_found);
    RUN(test_hidden);
    curl_global_cleanup();
    return TEST_EXIT();
}
