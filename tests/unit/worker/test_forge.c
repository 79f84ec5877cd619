/*
 * test_forge.c - worker/forge.c: POSTs to a tiny HTTP server on 127.0.0.1
 * (headers, body, the Authorization header only when given, 2xx success,
 * other statuses and no answer as errors that never hold the token, a stop
 * request ending the transfer), which statuses are worth a retry, Docker
 * Hub's notify payload, owner/name from git URLs and the commit status
 * request.
 */
#include <jansson.h>
#include <time.h>

#include "tests/unit/core/httpd.h"
#include "tests/unit/test.h"
#include "worker/forge.h"
#include "worker/repos.h"

static struct httpd server;

static void respond(int conn, const char *status)
{
    char text[256];
    snprintf(text, sizeof(text), "HTTP/1.1 %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
             status);
    httpd_send(conn, text);
}

static void handler(struct httpd *h, int conn, const char *method, const char *path)
{
    (void)method;
    if (strcmp(path, "/created") == 0)
        respond(conn, "201 Created");
    else if (strcmp(path, "/broken") == 0)
        respond(conn, "500 Internal Server Error");
    else if (strcmp(path, "/limited") == 0)
        respond(conn, "429 Too Many Requests");
    else if (strcmp(path, "/slow") == 0) {
        httpd_nap(h, conn, 8000);
        respond(conn, "200 OK");
    } else
        respond(conn, "404 Not Found");
}

static char *url_of(const char *path)
{
    char *url = NULL;
    if (asprintf(&url, "http://127.0.0.1:%d%s", server.port, path) < 0)
        abort();
    return url;
}

static void test_post(void)
{
    char *url = url_of("/created");
    long status = -1;
    sw_error *err = NULL;
    char buf[256];
    CHECK_INT_EQ(
        wrk_forge_post(url, "{\"state\":\"success\"}", "token s3cret-value", NULL, &status, &err),
        0);
    CHECK_INT_EQ(status, 201);
    CHECK(strncmp(server.last_request, "POST /created HTTP/1.1\r\n", 24) == 0);
    CHECK_STR_EQ(httpd_header(&server, "Authorization", buf, sizeof(buf)), "token s3cret-value");
    CHECK_STR_EQ(httpd_header(&server, "Content-Type", buf, sizeof(buf)), "application/json");
    CHECK(strstr(httpd_header(&server, "Accept", buf, sizeof(buf)), "application/json") != NULL);
    CHECK(strncmp(httpd_header(&server, "User-Agent", buf, sizeof(buf)), "slipway/", 8) == 0);
    CHECK_STR_EQ(httpd_body(&server), "{\"state\":\"success\"}");
    free(url);

    /* no auth: no Authorization header at all */
    url = url_of("/created");
    CHECK_INT_EQ(wrk_forge_post(url, "{}", NULL, NULL, &status, &err), 0);
    CHECK_STR_EQ(httpd_header(&server, "Authorization", buf, sizeof(buf)), "");
    free(url);

    /* a CloudEvent (structured mode) goes out with its own media type */
    url = url_of("/created");
    CHECK_INT_EQ(
        wrk_forge_post(url, "{\"specversion\":\"1.0\",\"type\":\"x\"}", NULL, NULL, &status, &err),
        0);
    CHECK_STR_EQ(httpd_header(&server, "Content-Type", buf, sizeof(buf)),
                 "application/cloudevents+json; charset=utf-8");
    free(url);
}

static void test_post_errors(void)
{
    long status = -1;
    sw_error *err = NULL;
    char *url = url_of("/broken");
    CHECK_INT_EQ(wrk_forge_post(url, "{}", "Bearer top-secret", NULL, &status, &err), SW_EIO);
    CHECK_INT_EQ(status, 500);
    CHECK(err && strcmp(sw_error_message(err), "HTTP 500") == 0);
    CHECK(err && strstr(sw_error_message(err), "top-secret") == NULL);
    sw_error_clear(&err);
    free(url);
    url = url_of("/nowhere");
    CHECK_INT_EQ(wrk_forge_post(url, "{}", NULL, NULL, &status, &err), SW_EIO);
    CHECK_INT_EQ(status, 404);
    sw_error_clear(&err);
    free(url);

    /* no answer at all: status 0, and the token not in the message */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t len = sizeof(addr);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    char dead[128];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d/x", ntohs(addr.sin_port));
    CHECK_INT_EQ(wrk_forge_post(dead, "{}", "Bearer top-secret", NULL, &status, &err), SW_EIO);
    CHECK_INT_EQ(status, 0);
    CHECK(err && strstr(sw_error_message(err), "top-secret") == NULL);
    sw_error_clear(&err);

    /* only http(s) */
    CHECK(wrk_forge_post("file:///etc/hostname", "{}", NULL, NULL, &status, &err) != 0);
    CHECK_INT_EQ(status, 0);
    sw_error_clear(&err);

    /* a stop request ends a slow transfer early */
    atomic_int stop = 1;
    url = url_of("/slow");
    time_t start = time(NULL);
    CHECK_INT_EQ(wrk_forge_post(url, "{}", NULL, &stop, &status, &err), SW_ECANCELED);
    CHECK(time(NULL) - start < 5);
    sw_error_clear(&err);
    free(url);
}

static void test_retryable(void)
{
    CHECK(wrk_forge_retryable(0));
    CHECK(wrk_forge_retryable(408));
    CHECK(wrk_forge_retryable(429));
    CHECK(wrk_forge_retryable(500));
    CHECK(wrk_forge_retryable(503));
    CHECK(!wrk_forge_retryable(200));
    CHECK(!wrk_forge_retryable(400));
    CHECK(!wrk_forge_retryable(401));
    CHECK(!wrk_forge_retryable(404));
    CHECK(!wrk_forge_retryable(422));
}

static void test_notify_payload(void)
{
    json_t *tags = json_pack("[s,s]", "1.2.3", "latest");
    json_t *doc = wrk_notify_payload("registry.example.test:5000", "https://ci.example.test",
                                     "team/web", NULL, "ca7", "sha256:abc", tags, 1700000000);
    CHECK(doc != NULL);
    json_t *push = json_object_get(doc, "push_data"), *repo = json_object_get(doc, "repository");
    CHECK_INT_EQ(json_integer_value(json_object_get(push, "pushed_at")), 1700000000);
    CHECK_STR_EQ(json_string_value(json_object_get(push, "pusher")), "slipway");
    CHECK_STR_EQ(json_string_value(json_object_get(push, "tag")), "1.2.3");
    CHECK_STR_EQ(json_string_value(json_object_get(repo, "repo_name")),
                 "registry.example.test:5000/team/web");
    CHECK_STR_EQ(json_string_value(json_object_get(repo, "namespace")), "team");
    CHECK_STR_EQ(json_string_value(json_object_get(repo, "name")), "web");
    CHECK_STR_EQ(json_string_value(json_object_get(repo, "repo_url")),
                 "https://ci.example.test/images/team/web");
    CHECK_STR_EQ(json_string_value(json_object_get(doc, "run_id")), "ca7");
    CHECK_STR_EQ(json_string_value(json_object_get(doc, "digest")), "sha256:abc");
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "tags")), 2);
    json_decref(doc);

    /* a name without a namespace is in "library"; no tags: an empty tag */
    json_t *none = json_array();
    doc = wrk_notify_payload("h", "http://u", "web", "alice", "ca8", "sha256:def", none, 1);
    CHECK_STR_EQ(
        json_string_value(json_object_get(json_object_get(doc, "repository"), "namespace")),
        "library");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(doc, "push_data"), "tag")), "");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(doc, "push_data"), "pusher")),
                 "alice");
    json_decref(doc);
    json_decref(none);
    json_decref(tags);
}

static void full_name_is(const char *url, const char *want)
{
    char *got = wrk_forge_full_name(url);
    if (want == NULL ? got != NULL : got == NULL || strcmp(got, want) != 0)
        fprintf(stderr, "  %s -> %s, expected %s\n", url, got ? got : "NULL", want ? want : "NULL");
    CHECK(want == NULL ? got == NULL : got != NULL && strcmp(got, want) == 0);
    free(got);
}

static void test_notify_formats(void)
{
    json_t *tags = json_pack("[s,s]", "1.2.3", "latest");
    json_t *hub =
        wrk_notify_payload("reg.example.test", "https://ci.example.test", "team/web", "alice",
                           "ca7", "sha256:0123456789abcdef0123", tags, 1700000000);
    json_t *same = wrk_notify_body(WRK_NOTIFY_DOCKERHUB, hub, "https://ci.example.test", "team/web",
                                   "ca7", 1700000000);
    CHECK(json_equal(same, hub));

    json_t *ce = wrk_notify_body(WRK_NOTIFY_CLOUDEVENTS, hub, "https://ci.example.test", "team/web",
                                 "ca7", 1700000000);
    CHECK(ce != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(ce, "specversion")), "1.0");
    CHECK_STR_EQ(json_string_value(json_object_get(ce, "type")), "io.slipway.image.pushed");
    CHECK_STR_EQ(json_string_value(json_object_get(ce, "source")),
                 "https://ci.example.test/repos/team/web");
    CHECK_STR_EQ(json_string_value(json_object_get(ce, "id")), "ca7");
    CHECK_STR_EQ(json_string_value(json_object_get(ce, "time")), "2023-11-14T22:13:20Z");
    CHECK_STR_EQ(json_string_value(json_object_get(ce, "subject")), "reg.example.test/team/web");
    CHECK(json_equal(json_object_get(ce, "data"), hub));

    json_t *slack = wrk_notify_body(WRK_NOTIFY_SLACK, hub, "https://ci.example.test", "team/web",
                                    "ca7", 1700000000);
    CHECK(slack != NULL);
    const char *text = json_string_value(json_object_get(slack, "text"));
    CHECK(text && strstr(text, "reg.example.test/team/web") && strstr(text, "`1.2.3`, `latest`") &&
          strstr(text, "ca7"));
    json_t *block = json_array_get(json_object_get(slack, "blocks"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(block, "type")), "section");
    const char *md = json_string_value(json_object_get(json_object_get(block, "text"), "text"));
    CHECK(md && strstr(md, "<https://ci.example.test/runs/ca7|Run ca7>"));
    json_decref(slack);
    json_decref(ce);
    json_decref(same);
    json_decref(hub);
    json_decref(tags);
}

static void test_full_name(void)
{
    full_name_is("https://github.com/acme/hello.git", "acme/hello");
    full_name_is("https://github.com/acme/hello", "acme/hello");
    full_name_is("https://github.com/acme/hello/", "acme/hello");
    full_name_is("git@github.com:acme/hello.git", "acme/hello");
    full_name_is("ssh://git@gitea.example.test:2222/org/app.git", "org/app");
    full_name_is("https://gitea.example.test/sub/path/org/app.git", "org/app");
    full_name_is("hello", NULL);
    full_name_is("https://github.com/", NULL);
    full_name_is("", NULL);
    full_name_is(".git", NULL);
}

static void test_commit_status_request(void)
{
    char *url = NULL;
    json_t *body = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_commit_status_request("https://api.github.com//", "acme/hello", "0123abc",
                                           "success", "slipway", "https://ci.example.test/runs/ca7",
                                           "built in 12s", &url, &body, &err),
                 0);
    CHECK_STR_EQ(url, "https://api.github.com/repos/acme/hello/statuses/0123abc");
    CHECK_STR_EQ(json_string_value(json_object_get(body, "state")), "success");
    CHECK_STR_EQ(json_string_value(json_object_get(body, "context")), "slipway");
    CHECK_STR_EQ(json_string_value(json_object_get(body, "target_url")),
                 "https://ci.example.test/runs/ca7");
    CHECK_STR_EQ(json_string_value(json_object_get(body, "description")), "built in 12s");
    free(url);
    json_decref(body);
}

int main(void)
{
    httpd_start(&server, handler);
    RUN(test_post);
    RUN(test_post_errors);
    RUN(test_retryable);
    RUN(test_notify_payload);
    RUN(test_notify_formats);
    RUN(test_full_name);
    RUN(test_commit_status_request);
    httpd_stop(&server);
    return TEST_EXIT();
}
