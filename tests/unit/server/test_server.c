/*
 * test_server.c - server/server.c: starting on 127.0.0.1 (any free port),
 * refusing a port in use and unreadable TLS files with a clear error, the
 * web UI's pages and their security headers, the 404s of unknown paths,
 * the JSON API's cross-site request forgery checks, srv_set_repos taking
 * effect for the next request, srv_stop(NULL), and the access log's
 * modes (its lines are batched: written within a sweeper tick).
 */
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "tests/unit/server/fixture.h"
#include "tests/unit/test.h"

static void test_start_and_errors(void)
{
    struct fixture f;
    sw_error *err = NULL;
    if (fixture_start(&f, "test_server", NULL) != 0) {
        CHECK(0);
        return;
    }
    CHECK(f.port > 0 && f.port < 65536);

    /* the same port again: in use */
    srv_server *again = NULL;
    int saved_port = f.cfg->listen_port;
    f.cfg->listen_port = f.port;
    CHECK_INT_EQ(srv_start(f.cfg, f.store, &again, &err), SW_EIO);
    CHECK(again == NULL);
    CHECK(strstr(sw_error_message(err), "cannot listen on 127.0.0.1:") != NULL);
    sw_error_clear(&err);
    f.cfg->listen_port = saved_port;

    /* TLS files that cannot be read */
    f.cfg->tls_cert = strdup("/nonexistent/slipway-test/cert.pem");
    f.cfg->tls_key = strdup("/nonexistent/slipway-test/key.pem");
    CHECK(srv_start(f.cfg, f.store, &again, &err) != 0);
    CHECK(again == NULL);
    CHECK(strncmp(sw_error_message(err), "server.tls", 10) == 0);
    CHECK(strstr(sw_error_message(err), "cert.pem") != NULL);
    sw_error_clear(&err);
    free(f.cfg->tls_cert);
    free(f.cfg->tls_key);
    f.cfg->tls_cert = f.cfg->tls_key = NULL;

    /* the first server still answers */
    struct reply r;
    CHECK_INT_EQ(request(&f, "GET", "/v2/", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    char value[128] = "";
    CHECK(reply_header_value(&r, "Docker-Distribution-API-Version", value, sizeof(value)));
    CHECK_STR_EQ(value, "registry/2.0");
    reply_free(&r);

    srv_stop(NULL);
    fixture_stop(&f);
}

static void test_web_pages(void)
{
    struct fixture f;
    struct reply r;
    char value[512];
    if (fixture_start(&f, "test_server", NULL) != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(request(&f, "GET", "/", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, "<html") != NULL || strstr(r.body, "<!DOCTYPE") != NULL ||
          strstr(r.body, "<!doctype") != NULL);
    CHECK(reply_header_value(&r, "Content-Security-Policy", value, sizeof(value)));
    CHECK(strstr(value, "frame-ancestors 'none'") != NULL);
    CHECK(reply_header_value(&r, "X-Frame-Options", value, sizeof(value)));
    CHECK_STR_EQ(value, "DENY");
    size_t index_len = r.len;
    reply_free(&r);

    /* the app's own pages get index.html with 200 */
    CHECK_INT_EQ(request(&f, "GET", "/runs/ab-1", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK_INT_EQ(r.len, index_len);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/repos", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    reply_free(&r);
    /* an asset */
    CHECK_INT_EQ(request(&f, "GET", "/app.js", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(reply_header_value(&r, "Content-Type", value, sizeof(value)));
    CHECK(strstr(value, "javascript") != NULL);
    reply_free(&r);
    /* another page-like path: the app with 404; a missing file: JSON 404 */
    CHECK_INT_EQ(request(&f, "GET", "/nowhere", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    CHECK_INT_EQ(r.len, index_len);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/missing.js", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    CHECK(strstr(r.body, "no such page") != NULL);
    reply_free(&r);
    /* a method no route has */
    CHECK_INT_EQ(request(&f, "PUT", "/app.js", NULL, "x", 1, &r), 0);
    CHECK(r.status == 404 || r.status == 405);
    reply_free(&r);
    fixture_stop(&f);
}

static void test_csrf(void)
{
    struct fixture f;
    struct reply r;
    if (fixture_start(&f, "test_server", "  public_url: http://slipway.test:8080\n") != 0) {
        CHECK(0);
        return;
    }
    const char *form[] = { "Content-Type: text/plain", NULL };
    CHECK_INT_EQ(request(&f, "POST", "/api/v1/runs", form, "{}", 2, &r), 0);
    CHECK_INT_EQ(r.status, 403);
    CHECK(strstr(r.body, "Content-Type: application/json") != NULL);
    reply_free(&r);
    const char *evil[] = { "Content-Type: application/json", "Origin: http://evil.test", NULL };
    CHECK_INT_EQ(request(&f, "POST", "/api/v1/runs", evil, "{}", 2, &r), 0);
    CHECK_INT_EQ(r.status, 403);
    CHECK(strstr(r.body, "cross-origin") != NULL);
    reply_free(&r);
    /* from the public URL's origin the call goes through (and fails on
     * its content: no repo named) */
    const char *same[] = { "Content-Type: application/json", "Origin: http://slipway.test:8080",
                           NULL };
    CHECK_INT_EQ(request(&f, "POST", "/api/v1/runs", same, "{}", 2, &r), 0);
    CHECK(r.status != 403);
    reply_free(&r);
    /* GET is safe: no checks */
    CHECK_INT_EQ(request(&f, "GET", "/api/v1/status", evil, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    reply_free(&r);
    fixture_stop(&f);
}

/* srv_set_repos: the next request sees the new repositories */
static void test_set_repos(void)
{
    struct fixture f;
    struct reply r;
    struct wrk_repos *fresh = NULL;
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    if (fixture_start(&f, "test_server", NULL) != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(request(&f, "GET", "/badge/demo/new.svg", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    reply_free(&r);
    char *path = sw_path_join(f.dir, "fresh.yaml"), *text = NULL;
    if (path == NULL || asprintf(&text,
                                 "server:\n  data_dir: %s/data\n"
                                 "repos:\n  - name: demo/new\n"
                                 "    git: https://github.com/acme/new.git\n"
                                 "    rules: [{ source_type: branch, source: main }]\n",
                                 f.dir) < 0)
        abort();
    CHECK_INT_EQ(sw_write_file_atomic(path, text, strlen(text), 0600, NULL), 0);
    CHECK_INT_EQ(sw_config_load(path, &cfg, &err), 0);
    CHECK_INT_EQ(wrk_repos_load(cfg, &fresh, &err), 0);
    CHECK(err == NULL);
    srv_set_repos(f.srv, fresh);
    CHECK_INT_EQ(request(&f, "GET", "/badge/demo/new.svg", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/api/v1/repos", NULL, NULL, 0, &r), 0);
    CHECK(strstr(r.body, "demo/new") != NULL);
    reply_free(&r);
    fixture_stop(&f); /* stops the server before fresh goes */
    wrk_repos_free(fresh);
    sw_config_free(cfg);
    free(path);
    free(text);
}

static int file_has(const char *path, const char *text)
{
    char *data = NULL;
    size_t len = 0;
    int found = sw_read_file(path, 1 << 20, &data, &len, NULL) == 0 && strstr(data, text);
    free(data);
    return found;
}

/* Waits up to 2 s for text to appear in the file at path; 1 when it did. */
static int wait_for_text(const char *path, const char *text)
{
    for (int i = 0; i < 200; i++) {
        if (file_has(path, text))
            return 1;
        nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
    }
    return 0;
}

static void test_access_log(void)
{
    struct fixture f;
    struct reply r;
    if (fixture_start(&f, "test_server", "  access_log: errors\n") != 0) {
        CHECK(0);
        return;
    }
    char *log_path = sw_path_join(f.dir, "stderr.log");
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);

    /* errors: a 404 is logged, a 200 is not */
    CHECK_INT_EQ(request(&f, "GET", "/v2/", NULL, NULL, 0, &r), 0);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/v2/a/b/manifests/nothing", NULL, NULL, 0, &r), 0);
    reply_free(&r);
    int has_404 = wait_for_text(log_path, "http: GET /v2/a/b/manifests/nothing 404 ");
    int has_200 = file_has(log_path, "http: GET /v2/ 200");
    /* on: every request */
    f.cfg->access_log = SW_ACCESS_LOG_ON;
    CHECK_INT_EQ(request(&f, "GET", "/v2/_catalog", NULL, NULL, 0, &r), 0);
    reply_free(&r);
    int has_catalog = wait_for_text(log_path, "info  http: GET /v2/_catalog 200 ");
    /* off: none (the mode is read when a request ends: the last change) */
    f.cfg->access_log = SW_ACCESS_LOG_OFF;
    CHECK_INT_EQ(request(&f, "GET", "/v2/c/d/manifests/nothing", NULL, NULL, 0, &r), 0);
    reply_free(&r);
    nanosleep(&(struct timespec){ 0, 200 * 1000 * 1000 }, NULL);
    sw_log_flush();
    int has_off = file_has(log_path, "/v2/c/d/");

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    CHECK(has_404);
    CHECK(!has_200);
    CHECK(has_catalog);
    CHECK(!has_off);
    free(log_path);
    fixture_stop(&f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_start_and_errors);
    RUN(test_web_pages);
    RUN(test_csrf);
    RUN(test_set_repos);
    RUN(test_access_log);
    curl_global_cleanup();
    return TEST_EXIT();
}
