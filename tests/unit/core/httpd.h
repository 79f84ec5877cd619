/*
 * httpd.h - a tiny HTTP/1.1 server on 127.0.0.1 for unit tests of HTTP
 * clients: one thread, one connection at a time, "Connection: close".
 * The test's handler writes the whole response; the last request (head and
 * body) is kept in last_request.
 */
#ifndef SW_TEST_HTTPD_H
#define SW_TEST_HTTPD_H

#include <arpa/inet.h>
#include <netinet/in.h>
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct httpd;
typedef void (*httpd_handler)(struct httpd *h, int conn, const char *method, const char *path);

struct httpd {
    int fd;
    int port;
    pthread_t thread;
    volatile int stop;
    httpd_handler handler;
    char last_request[65536];
    int requests;
};

__attribute__((unused)) static void httpd_send(int conn, const char *text)
{
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = send(conn, text + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

/* Sleeps up to ms, returning early (1) when the server is stopping or the
 * client has gone (conn closed by the peer; conn < 0: not watched). */
__attribute__((unused)) static int httpd_nap(struct httpd *h, int conn, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (h->stop)
            return 1;
        if (conn >= 0) {
            struct pollfd p = { .fd = conn, .events = POLLIN | POLLRDHUP };
            char c;
            if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR) ||
                                       recv(conn, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0))
                return 1;
        }
        usleep(10000);
    }
    return h->stop;
}

__attribute__((unused)) static void httpd_read_request(int conn, char *buf, size_t size)
{
    size_t len = 0;
    long want = -1;
    buf[0] = '\0';
    while (len + 1 < size) {
        struct pollfd p = { .fd = conn, .events = POLLIN };
        if (poll(&p, 1, 3000) <= 0)
            break;
        ssize_t n = recv(conn, buf + len, size - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL)
            continue;
        if (want < 0) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = (long)(end + 4 - buf) + (cl && cl < end ? atol(cl + 17) : 0);
        }
        if ((long)len >= want)
            break;
    }
}

__attribute__((unused)) static void *httpd_main(void *arg)
{
    struct httpd *h = arg;
    while (!h->stop) {
        struct pollfd p = { .fd = h->fd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0)
            continue;
        int conn = accept(h->fd, NULL, NULL);
        if (conn < 0)
            continue;
        httpd_read_request(conn, h->last_request, sizeof(h->last_request));
        char method[16] = "", path[1024] = "";
        sscanf(h->last_request, "%15s %1023s", method, path);
        h->requests++;
        h->handler(h, conn, method, path);
        close(conn);
    }
    return NULL;
}

/* Starts the server; aborts when it cannot listen. */
__attribute__((unused)) static void httpd_start(struct httpd *h, httpd_handler handler)
{
    memset(h, 0, sizeof(*h));
    h->handler = handler;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(addr);
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(h->fd, 16) != 0 || getsockname(h->fd, (struct sockaddr *)&addr, &alen) != 0 ||
        pthread_create(&h->thread, NULL, httpd_main, h) != 0) {
        perror("httpd_start");
        abort();
    }
    h->port = ntohs(addr.sin_port);
}

__attribute__((unused)) static void httpd_stop(struct httpd *h)
{
    h->stop = 1;
    pthread_join(h->thread, NULL);
    close(h->fd);
}

/* The value of header name in the last request ("" when absent), in buf. */
__attribute__((unused)) static const char *httpd_header(struct httpd *h, const char *name,
                                                        char *buf, size_t size)
{
    char key[128];
    snprintf(key, sizeof(key), "\r\n%s:", name);
    const char *p = strcasestr(h->last_request, key);
    buf[0] = '\0';
    if (p == NULL)
        return buf;
    p += strlen(key);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), p);
    return buf;
}

/* The body of the last request. */
__attribute__((unused)) static const char *httpd_body(struct httpd *h)
{
    const char *p = strstr(h->last_request, "\r\n\r\n");
    return p ? p + 4 : "";
}

#endif
