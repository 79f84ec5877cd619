/*
 * test_http_client.c - core/http_client.c against a tiny HTTP server on
 * 127.0.0.1: the user agent, redirects followed only when asked and never
 * to file://, a redirect loop cut off, file:// refused outright, a stalled
 * transfer and a slow one ended by their timeouts, and a handle reset and
 * set up again behaving the same.
 */
#include <time.h>

#include "core/http_client.h"
#include "tests/unit/core/httpd.h"
#include "tests/unit/test.h"

static void respond(int conn, const char *status, const char *extra, const char *body)
{
    char head[1024];
    snprintf(head, sizeof(head),
             "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
             strlen(body), extra);
    httpd_send(conn, head);
    httpd_send(conn, body);
}

static void handler(struct httpd *h, int conn, const char *method, const char *path)
{
    char ua[256];
    (void)method;
    if (strcmp(path, "/ua") == 0)
        respond(conn, "200 OK", "", httpd_header(h, "User-Agent", ua, sizeof(ua)));
    else if (strcmp(path, "/redir-ok") == 0)
        respond(conn, "302 Found", "Location: /ua\r\n", "");
    else if (strcmp(path, "/redir-file") == 0)
        respond(conn, "302 Found", "Location: file:///etc/hostname\r\n", "");
    else if (strcmp(path, "/loop") == 0)
        respond(conn, "302 Found", "Location: /loop\r\n", "");
    else if (strcmp(path, "/stall") == 0) {
        /* promises 100 bytes, sends 1, then nothing (libcurl averages the
         * speed over the last seconds: more bytes would delay the stall) */
        httpd_send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nh");
        httpd_nap(h, conn, 10000);
    } else if (strcmp(path, "/drip") == 0) {
        /* fast enough for stall detection, too slow for a total timeout */
        httpd_send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n");
        for (int i = 0; i < 40 && !httpd_nap(h, conn, 100); i++)
            httpd_send(conn, "x");
    } else
        respond(conn, "404 Not Found", "", "no such path");
}

struct sink {
    char text[4096];
    size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t len = size * n;
    if (s->len + len < sizeof(s->text)) {
        memcpy(s->text + s->len, data, len);
        s->len += len;
        s->text[s->len] = '\0';
    }
    return len;
}

static struct httpd server;

static CURLcode get(CURL *curl, const char *path, struct sink *s, long *status)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server.port, path);
    memset(s, 0, sizeof(*s));
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, s);
    CURLcode rc = curl_easy_perform(curl);
    *status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    return rc;
}

static void test_user_agent(void)
{
    const char *ua = sw_http_user_agent();
    CHECK(strncmp(ua, "slipway/", 8) == 0 && strlen(ua) > 8);
    CURL *curl = sw_http_easy_new(NULL);
    CHECK(curl != NULL);
    struct sink s;
    long status = 0;
    CHECK_INT_EQ(get(curl, "/ua", &s, &status), CURLE_OK);
    CHECK_INT_EQ(status, 200);
    CHECK_STR_EQ(s.text, ua);
    curl_easy_cleanup(curl);
}

static void test_redirects(void)
{
    struct sw_http_options no = { 0 }, yes = { .follow_redirects = 1 };
    struct sink s;
    long status = 0;
    CURL *curl = sw_http_easy_new(&no);
    CHECK_INT_EQ(get(curl, "/redir-ok", &s, &status), CURLE_OK);
    CHECK_INT_EQ(status, 302); /* not followed unless asked */
    curl_easy_cleanup(curl);

    curl = sw_http_easy_new(&yes);
    CHECK_INT_EQ(get(curl, "/redir-ok", &s, &status), CURLE_OK);
    CHECK_INT_EQ(status, 200);
    CHECK_STR_EQ(s.text, sw_http_user_agent());
    /* a redirect to file:// is refused, not followed */
    CURLcode rc = get(curl, "/redir-file", &s, &status);
    CHECK(rc != CURLE_OK);
    CHECK(strstr(s.text, "\n") == NULL || s.len == 0);
    CHECK_INT_EQ(s.len, 0);
    CHECK_INT_EQ(get(curl, "/loop", &s, &status), CURLE_TOO_MANY_REDIRECTS);
    curl_easy_cleanup(curl);

    /* only http and https, even as the first URL */
    curl = sw_http_easy_new(NULL);
    memset(&s, 0, sizeof(s));
    curl_easy_setopt(curl, CURLOPT_URL, "file:///etc/hostname");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
    CHECK_INT_EQ(curl_easy_perform(curl), CURLE_UNSUPPORTED_PROTOCOL);
    CHECK_INT_EQ(s.len, 0);
    curl_easy_cleanup(curl);
}

static void test_timeouts(void)
{
    struct sw_http_options stall = { .stall_timeout_s = 1 };
    struct sink s;
    long status = 0;
    CURL *curl = sw_http_easy_new(&stall);
    time_t start = time(NULL);
    CHECK_INT_EQ(get(curl, "/stall", &s, &status), CURLE_OPERATION_TIMEDOUT);
    CHECK(time(NULL) - start <= 6); /* not the server's 10 s */
    CHECK_STR_EQ(s.text, "h");
    /* the same options after a reset: the same limits */
    curl_easy_reset(curl);
    sw_http_easy_setup(curl, &stall);
    CHECK_INT_EQ(get(curl, "/stall", &s, &status), CURLE_OPERATION_TIMEDOUT);
    curl_easy_reset(curl);
    sw_http_easy_setup(curl, NULL);
    CHECK_INT_EQ(get(curl, "/ua", &s, &status), CURLE_OK);
    CHECK_STR_EQ(s.text, sw_http_user_agent());
    curl_easy_cleanup(curl);

    /* a steady trickle passes stall detection but not a total timeout */
    struct sw_http_options total = { .stall_timeout_s = 30, .total_timeout_s = 1 };
    curl = sw_http_easy_new(&total);
    start = time(NULL);
    CHECK_INT_EQ(get(curl, "/drip", &s, &status), CURLE_OPERATION_TIMEDOUT);
    CHECK(time(NULL) - start <= 3);
    CHECK(s.len > 0 && s.len < 40);
    curl_easy_cleanup(curl);
}

static void test_connection_refused(void)
{
    /* a port nobody listens on: bind, note it, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t len = sizeof(addr);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(addr.sin_port));
    struct sw_http_options opts = { .connect_timeout_s = 2 };
    CURL *curl = sw_http_easy_new(&opts);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    CHECK_INT_EQ(curl_easy_perform(curl), CURLE_COULDNT_CONNECT);
    curl_easy_cleanup(curl);
}

int main(void)
{
    httpd_start(&server, handler);
    RUN(test_user_agent);
    RUN(test_redirects);
    RUN(test_timeouts);
    RUN(test_connection_refused);
    httpd_stop(&server);
    return TEST_EXIT();
}
