/*
 * fixture.h - a real `slipway serve` HTTP server on 127.0.0.1 (any free
 * port) over a scratch data dir, for unit tests of the server's route
 * tables, and a libcurl client that records status, headers and body.
 *
 * The config is YAML text appended to a server: section naming the data
 * dir and the listen address (text starting with two spaces goes inside
 * that section); repos: in it are loaded and connected as
 * `slipway serve` does, without worker threads (runs stay queued).
 */
#ifndef SW_TEST_SERVER_FIXTURE_H
#define SW_TEST_SERVER_FIXTURE_H

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/fs.h"
#include "registry/store.h"
#include "server/server.h"
#include "tests/unit/core/scratch.h"
#include "worker/repos.h"

struct fixture {
    char *dir;
    struct sw_config *cfg;
    struct wrk_repos *repos;
    reg_store *store;
    srv_server *srv;
    int port;
};

struct reply {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    char headers[16384];
    size_t headers_len;
};

static void fixture_stop(struct fixture *f);

/* Writes an htpasswd file of one user, made by the real tool
 * (`htpasswd -nbB`), as DIR/htpasswd; returns its malloc'd path. */
__attribute__((unused)) static char *fixture_htpasswd(const char *dir, const char *user,
                                                      const char *password)
{
    char cmd[512], line[512] = "";
    char *path = sw_path_join(dir, "htpasswd");
    snprintf(cmd, sizeof(cmd), "htpasswd -nbB -C 5 '%s' '%s'", user, password);
    FILE *p = popen(cmd, "r");
    if (path == NULL || p == NULL || fgets(line, sizeof(line), p) == NULL)
        abort();
    pclose(p);
    if (sw_write_file_atomic(path, line, strlen(line), 0600, NULL) != 0)
        abort();
    return path;
}

/* Starts the server; 0, or -1 after printing why (the test then fails). */
__attribute__((unused)) static int fixture_start(struct fixture *f, const char *name,
                                                 const char *yaml)
{
    char *path = NULL, *text = NULL;
    sw_error *err = NULL;
    int rc = -1;
    memset(f, 0, sizeof(*f));
    f->dir = scratch_dir(name);
    if (asprintf(&path, "%s/slipway.yaml", f->dir) < 0 ||
        asprintf(&text, "server:\n  data_dir: %s/data\n  listen: 127.0.0.1:0\n%s", f->dir,
                 yaml ? yaml : "") < 0)
        abort();
    if (sw_write_file_atomic(path, text, strlen(text), 0600, &err) != 0 ||
        sw_config_load(path, &f->cfg, &err) != 0 || wrk_repos_load(f->cfg, &f->repos, &err) != 0)
        goto cleanup;
    struct reg_options opts;
    reg_options_from_config(f->cfg, &opts);
    if (reg_store_open(f->cfg->data_dir, &opts, &f->store, &err) != 0 ||
        srv_start(f->cfg, f->store, &f->srv, &err) != 0)
        goto cleanup;
    srv_set_build_service(f->srv, f->repos, NULL, 0);
    f->port = srv_port(f->srv);
    rc = 0;
cleanup:
    if (rc != 0)
        fprintf(stderr, "fixture_start: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    free(path);
    free(text);
    if (rc != 0)
        fixture_stop(f);
    return rc;
}

__attribute__((unused)) static void fixture_stop(struct fixture *f)
{
    srv_stop(f->srv);
    reg_store_close(f->store);
    wrk_repos_free(f->repos);
    sw_config_free(f->cfg);
    if (f->dir)
        sw_rm_rf(f->dir, NULL);
    free(f->dir);
    memset(f, 0, sizeof(*f));
}

static size_t reply_body(char *data, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    size_t len = size * n;
    char *grown = realloc(r->body, r->len + len + 1);
    if (grown == NULL)
        return 0;
    r->body = grown;
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t reply_header(char *data, size_t size, size_t n, void *ctx)
{
    struct reply *r = ctx;
    size_t len = size * n;
    if (r->headers_len + len < sizeof(r->headers)) {
        memcpy(r->headers + r->headers_len, data, len);
        r->headers_len += len;
        r->headers[r->headers_len] = '\0';
    }
    return len;
}

/* METHOD path (with query) on the fixture's server; headers is a
 * NULL-terminated list of "Name: value" lines (may be NULL); body may be
 * NULL. *out is freed with reply_free. 0, or -1 when curl failed. */
__attribute__((unused)) static int request(const struct fixture *f, const char *method,
                                           const char *path, const char *const *headers,
                                           const char *body, size_t body_len, struct reply *out)
{
    char url[1024];
    struct curl_slist *list = NULL;
    memset(out, 0, sizeof(*out));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return -1;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, reply_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, reply_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, out);
    CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (out->body == NULL && (out->body = calloc(1, 1)) == NULL)
        abort();
    if (code != CURLE_OK) {
        fprintf(stderr, "request %s %s: %s\n", method, path, curl_easy_strerror(code));
        return -1;
    }
    return 0;
}

__attribute__((unused)) static void reply_free(struct reply *r)
{
    free(r->body);
    r->body = NULL;
}

/* The value of a response header (case-insensitive name) into buf; 1 if
 * present. */
__attribute__((unused)) static int reply_header_value(const struct reply *r, const char *name,
                                                      char *buf, size_t size)
{
    size_t nlen = strlen(name);
    for (const char *line = r->headers; *line;) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            snprintf(buf, size, "%.*s", (int)(len - (size_t)(v - line)), v);
            return 1;
        }
        if (end == NULL)
            break;
        line = end + 2;
    }
    return 0;
}

#endif
