/*
 * http.c - request accessors, response helpers and the parsers of the HTTP
 * layer: path patterns, Range and Content-Range headers, content types.
 * The daemon and the dispatch of MHD's callbacks live in server.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "server/internal.h"

/* ---- request ------------------------------------------------------------ */

const char *srv_request_path(const srv_request *req)
{
    return req->path;
}
const char *srv_request_user(const srv_request *req)
{
    return req->user;
}
const struct sw_config *srv_request_config(const srv_request *req)
{
    return req->srv->cfg;
}
reg_store *srv_request_store(const srv_request *req)
{
    return req->srv->store;
}
void srv_request_set_state(srv_request *req, void *state)
{
    req->state = state;
}
void *srv_request_state(const srv_request *req)
{
    return req->state;
}

const char *srv_request_param(const srv_request *req, const char *name)
{
    for (size_t i = 0; i < req->params.count; i++) {
        if (strcmp(req->params.names[i], name) == 0)
            return req->params.values[i];
    }
    return NULL;
}

const char *srv_request_query(const srv_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_request_header(const srv_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

int srv_request_allowed(const srv_request *req, const char *repo, unsigned access)
{
    unsigned granted = srv_auth_access_for(req->srv->auth, req->user, repo);
    if (req->scopes) /* a token does less than its user, never more */
        granted &= reg_scopes_access(req->scopes, repo);
    return (granted & access) == access;
}

void srv_request_buffer_body(srv_request *req, size_t max)
{
    req->is_buffering = 1;
    req->body_max = max;
}

const char *srv_request_body(const srv_request *req, size_t *len)
{
    *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

void srv_request_free(srv_request *req)
{
    if (req == NULL)
        return;
    if (req->response)
        MHD_destroy_response(req->response);
    for (size_t i = 0; i < req->n_headers; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->headers);
    sw_strbuf_free(&req->body);
    srv_params_clear(&req->params);
    free(req->user);
    srv_auth_scopes_free(req->scopes);
    free(req->method);
    free(req->path);
    free(req);
}

/* ---- response ----------------------------------------------------------- */

void srv_header(srv_request *req, const char *name, const char *fmt, ...)
{
    char *value = NULL, *name_copy = NULL;
    va_list ap;

    va_start(ap, fmt);
    int n = vasprintf(&value, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    struct srv_header_pair *grown = realloc(req->headers, (req->n_headers + 1) * sizeof *grown);
    if (grown == NULL || (name_copy = strdup(name)) == NULL) {
        if (grown)
            req->headers = grown;
        free(value);
        return;
    }
    req->headers = grown;
    req->headers[req->n_headers].name = name_copy;
    req->headers[req->n_headers].value = value;
    req->n_headers++;
}

static void set_response(srv_request *req, unsigned status, struct MHD_Response *response,
                         const char *content_type, uint64_t bytes)
{
    if (req->response)
        MHD_destroy_response(req->response);
    req->response = response;
    req->status = status;
    req->response_bytes = bytes;
    if (response && content_type) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        /* build logs and blobs are other people's bytes: never let a browser
         * guess they are HTML */
        MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    }
}

void srv_respond(srv_request *req, unsigned status, const char *content_type, const void *data,
                 size_t len)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, (void *)(len ? data : ""), MHD_RESPMEM_MUST_COPY);
    set_response(req, status, response, content_type, len);
}

void srv_respond_json(srv_request *req, unsigned status, const char *content_type,
                      const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL) {
        srv_respond_error(req, SW_ENOMEM, "encoding the response failed");
        return;
    }
    srv_respond(req, status, content_type ? content_type : "application/json", text, strlen(text));
    free(text);
}

void srv_respond_fd(srv_request *req, unsigned status, const char *content_type, int fd,
                    uint64_t offset, uint64_t length)
{
    if (length == 0) {
        /* MHD refuses nothing here, but an empty buffer avoids a pointless
         * sendfile setup and keeps the fd count down. */
        close(fd);
        srv_respond(req, status, content_type, "", 0);
        return;
    }
    struct MHD_Response *response = MHD_create_response_from_fd_at_offset64(length, fd, offset);
    if (response == NULL) {
        close(fd);
        srv_respond_error(req, SW_EIO, "creating the file response failed");
        return;
    }
    set_response(req, status, response, content_type, length);
}

#define STREAM_NAP_MS 100

struct stream {
    srv_server *srv;
    srv_stream_fn fn;
    void *ctx;
    void (*free_ctx)(void *);
    struct srv_stream_wait wait;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    if (atomic_load(&s->srv->stopping))
        return MHD_CONTENT_READER_END_OF_STREAM;
    long n = s->fn(s->ctx, pos, buf, max);
    if (n > 0)
        return (ssize_t)n;
    if (n == -1)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < -1)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    /* nothing yet: the pool thread goes on with other connections, the
     * sweeper resumes this one shortly (MHD must not see 0 otherwise, it
     * would call again at once) */
    srv_conn_sleep(s->srv, &s->wait, STREAM_NAP_MS);
    return 0;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    srv_conn_unsleep(s->srv, &s->wait);
    if (s->free_ctx)
        s->free_ctx(s->ctx);
    free(s);
}

void srv_respond_stream(srv_request *req, unsigned status, const char *content_type,
                        srv_stream_fn fn, void *ctx, void (*free_ctx)(void *))
{
    srv_respond_stream_length(req, status, content_type, UINT64_MAX, fn, ctx, free_ctx);
}

void srv_respond_stream_length(srv_request *req, unsigned status, const char *content_type,
                               uint64_t length, srv_stream_fn fn, void *ctx,
                               void (*free_ctx)(void *))
{
    struct stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        if (free_ctx)
            free_ctx(ctx);
        srv_respond_error(req, SW_ENOMEM, "out of memory");
        return;
    }
    *s = (struct stream){ .srv = req->srv, .fn = fn, .ctx = ctx, .free_ctx = free_ctx };
    s->wait.conn = req->conn;
    struct MHD_Response *response = MHD_create_response_from_callback(
        length == UINT64_MAX ? MHD_SIZE_UNKNOWN : length,
        length == UINT64_MAX ? 16 * 1024 : 256 * 1024, stream_read, s, stream_free);
    if (response == NULL) {
        stream_free(s);
        srv_respond_error(req, SW_ENOMEM, "creating the stream response failed");
        return;
    }
    set_response(req, status, response, content_type, length == UINT64_MAX ? 0 : length);
}

int srv_responded(const srv_request *req)
{
    return req->response != NULL;
}

enum MHD_Result srv_request_queue(srv_request *req)
{
    if (req->response == NULL) {
        srv_respond_error(req, SW_ENOMEM, "no response");
        if (req->response == NULL)
            return MHD_NO;
    }
    MHD_add_response_header(req->response, "Docker-Distribution-API-Version", "registry/2.0");
    for (size_t i = 0; i < req->n_headers; i++) {
        if (MHD_add_response_header(req->response, req->headers[i].name, req->headers[i].value) !=
            MHD_YES)
            sw_warn("http: header %s refused", req->headers[i].name);
    }
    return MHD_queue_response(req->conn, req->status, req->response);
}

/* ---- path patterns ------------------------------------------------------ */

void srv_params_clear(struct srv_params *params)
{
    for (size_t i = 0; i < params->count; i++) {
        free(params->names[i]);
        free(params->values[i]);
    }
    memset(params, 0, sizeof *params);
}

/* Length of the segment at s (up to '/' or the end). */
static size_t segment_len(const char *s)
{
    const char *slash = strchr(s, '/');
    return slash ? (size_t)(slash - s) : strlen(s);
}

static int add_param(struct srv_params *params, const char *name, size_t name_len,
                     const char *value, size_t value_len)
{
    if (params->count == SRV_MAX_PARAMS)
        return -1;
    params->names[params->count] = strndup(name, name_len);
    params->values[params->count] = strndup(value, value_len);
    params->count++;
    if (!params->names[params->count - 1] || !params->values[params->count - 1])
        return -1;
    return 0;
}

/* Matches pattern segments against path segments from p and s, both
 * positioned at the start of a segment. Recursive only at '*'. */
static int match_from(const char *p, const char *s, struct srv_params *params)
{
    for (;;) {
        size_t plen = segment_len(p);
        size_t slen = segment_len(s);
        if (p[0] == '*') {
            /* Greedy: the longest run of segments that lets the rest match. */
            const char *ends[256];
            size_t n_ends = 0;
            for (const char *q = s;;) {
                size_t qlen = segment_len(q);
                if (qlen == 0)
                    break;
                if (n_ends == sizeof ends / sizeof ends[0])
                    return 0;
                ends[n_ends++] = q + qlen;
                if (q[qlen] != '/')
                    break;
                q += qlen + 1;
            }
            const char *p_rest = p[plen] == '/' ? p + plen + 1 : NULL;
            for (size_t i = n_ends; i > 0; i--) {
                const char *end = ends[i - 1];
                size_t saved = params->count;
                int ok;
                if (p_rest == NULL)
                    ok = *end == '\0';
                else
                    ok = *end == '/' && match_from(p_rest, end + 1, params);
                if (ok) {
                    if (add_param(params, p + 1, plen - 1, s, (size_t)(end - s)) != 0)
                        return 0;
                    return 1;
                }
                while (params->count > saved) {
                    params->count--;
                    free(params->names[params->count]);
                    free(params->values[params->count]);
                }
            }
            return 0;
        }
        if (p[0] == ':') {
            if (slen == 0 || add_param(params, p + 1, plen - 1, s, slen) != 0)
                return 0;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        int p_more = p[plen] == '/', s_more = s[slen] == '/';
        if (p_more != s_more)
            return 0;
        if (!p_more)
            return 1;
        p += plen + 1;
        s += slen + 1;
    }
}

int srv_path_match(const char *pattern, const char *path, struct srv_params *params)
{
    memset(params, 0, sizeof *params);
    if (match_from(pattern, path, params))
        return 1;
    srv_params_clear(params);
    return 0;
}

int srv_path_safe(const char *path)
{
    if (path == NULL || path[0] != '/')
        return 0;
    for (const char *c = path; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
            return 0;
    }
    for (const char *seg = path + 1;;) {
        size_t len = segment_len(seg);
        int is_last = seg[len] == '\0';
        if (len == 0 && !is_last)
            return 0;
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        if (is_last)
            return 1;
        seg += len + 1;
    }
}

/* ---- ranges ------------------------------------------------------------- */

/* Parses a non-negative decimal at *s, advancing it; -1 when none. */
static int64_t parse_decimal(const char **s)
{
    const char *c = *s;
    int64_t value = 0;

    if (!isdigit((unsigned char)*c))
        return -1;
    for (; isdigit((unsigned char)*c); c++) {
        if (value > (INT64_MAX - 9) / 10)
            return -1;
        value = value * 10 + (*c - '0');
    }
    *s = c;
    return value;
}

int srv_parse_range(const char *header, int64_t size, int64_t *first, int64_t *last)
{
    if (header == NULL)
        return 1;
    const char *s = header;
    while (*s == ' ')
        s++;
    if (strncasecmp(s, "bytes=", 6) != 0 || strchr(s, ',') != NULL)
        return 1;
    s += 6;
    while (*s == ' ')
        s++;
    int64_t a = -1, b = -1;
    if (*s == '-') {
        s++;
        int64_t suffix = parse_decimal(&s);
        while (*s == ' ')
            s++;
        if (suffix < 0 || *s != '\0')
            return 1;
        if (suffix == 0 || size == 0)
            return -1;
        a = suffix >= size ? 0 : size - suffix;
        b = size - 1;
    } else {
        a = parse_decimal(&s);
        if (a < 0 || *s != '-')
            return 1;
        s++;
        if (*s != '\0' && *s != ' ') {
            b = parse_decimal(&s);
            if (b < 0)
                return 1;
        }
        while (*s == ' ')
            s++;
        if (*s != '\0')
            return 1;
        if (b >= 0 && b < a)
            return -1;
        if (a >= size)
            return -1;
        if (b < 0 || b >= size)
            b = size - 1;
    }
    *first = a;
    *last = b;
    return 0;
}

int srv_parse_content_range(const char *header, int64_t *first, int64_t *last)
{
    if (header == NULL)
        return -1;
    const char *s = header;
    while (*s == ' ')
        s++;
    if (strncasecmp(s, "bytes", 5) == 0) {
        s += 5;
        while (*s == ' ' || *s == '=')
            s++;
    }
    int64_t a = parse_decimal(&s);
    if (a < 0 || *s != '-')
        return -1;
    s++;
    int64_t b = parse_decimal(&s);
    if (b < 0 || b < a)
        return -1;
    if (*s == '/') {
        s++;
        if (*s == '*')
            s++;
        else if (parse_decimal(&s) < 0)
            return -1;
    }
    while (*s == ' ')
        s++;
    if (*s != '\0')
        return -1;
    *first = a;
    *last = b;
    return 0;
}

const char *srv_content_type_for(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" },
        { ".json", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
        { ".txt", "text/plain; charset=utf-8" },
        { ".woff2", "font/woff2" },
        { ".map", "application/json" },
    };
    const char *dot = strrchr(name, '.');
    if (dot && strchr(dot, '/') == NULL) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
        }
    }
    return "application/octet-stream";
}
