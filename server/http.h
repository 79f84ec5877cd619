/*
 * http.h - the small HTTP layer of `slipway serve` over libmicrohttpd.
 *
 * A request is routed by method and path pattern to a route, whose
 * callbacks see it in three steps, following how MHD delivers a request:
 *
 *   on_headers  once, when the headers are in: validate, authorize, open
 *               whatever the body will stream into
 *   on_data     for every piece of the body as it arrives (never the whole
 *               body at once, so a 1 GiB blob costs one buffer of memory)
 *   on_end      once the body is complete: produce the response
 *
 * A callback that answers early (an error) returns non-zero after setting a
 * response; the rest of the body is then read and dropped, and the response
 * goes out when the request is complete. on_cleanup runs in every case,
 * also when the client went away mid-body, and frees the route's state.
 *
 * Patterns are '/'-separated segments: literal text, ":param" for one
 * non-empty segment, "*param" for one or more segments (greedy, so a
 * repository name with slashes is the longest prefix that still lets the
 * fixed suffix match). Routes with a NULL method are fallbacks tried only
 * when nothing else matched the path. HEAD uses the GET route when there
 * is no HEAD route; MHD leaves the body out but keeps Content-Length.
 */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "registry/store.h"

/* Error codes of the server (range -400..-499); mapped like the others in
 * server/oci_errors.c. */
enum srv_error_code {
    SRV_E_UNAUTHORIZED = -401, /* 401 UNAUTHORIZED + WWW-Authenticate */
    SRV_E_DENIED = -403,       /* 403 DENIED */
    SRV_E_NOT_FOUND = -404,    /* 404 NOT_FOUND: no such route or asset */
    SRV_E_METHOD = -405,       /* 405 UNSUPPORTED: method not allowed here */
    SRV_E_TOO_MANY = -429,     /* 429 TOOMANYREQUESTS */
    SRV_E_BUSY = -503,         /* 503 UNAVAILABLE: server.max_connections reached */
};

typedef struct srv_server srv_server;
typedef struct srv_request srv_request;

/* What a route requires of the client before its callbacks run. */
enum srv_access {
    SRV_ACCESS_NONE = 0, /* public (web assets) */
    SRV_ACCESS_LOGIN,    /* any authenticated user (the /v2/ ping) */
    SRV_ACCESS_REPO,     /* the :name/ *name param is a repository: GET and
                            HEAD need pull, other methods push */
    SRV_ACCESS_ANY_PULL, /* an authenticated user, or anonymous when
                            anonymous pull is on (catalog) */
};

struct srv_route {
    const char *method; /* "GET", "PUT", ...; NULL: fallback for any method */
    const char *pattern;
    enum srv_access access;
    int (*on_headers)(srv_request *req);                            /* may be NULL */
    int (*on_data)(srv_request *req, const char *data, size_t len); /* may be NULL */
    void (*on_end)(srv_request *req);                               /* required */
    void (*on_cleanup)(srv_request *req);                           /* may be NULL */
};

/* Registers a table of routes, terminated by an entry with a NULL pattern,
 * tried after the tables registered before it. The table is borrowed and
 * must outlive the server. May be called while the server runs. */
int srv_route_add(srv_server *srv, const struct srv_route *routes, sw_error **err);

/* ---- the request --------------------------------------------------------- */

const char *srv_request_path(const srv_request *req);
/* A path parameter of the matched pattern, or NULL. */
const char *srv_request_param(const srv_request *req, const char *name);
/* A query argument (decoded), or NULL. */
const char *srv_request_query(const srv_request *req, const char *name);
/* A request header (case-insensitive name), or NULL. */
const char *srv_request_header(const srv_request *req, const char *name);
/* The authenticated user, or NULL for an anonymous request. */
const char *srv_request_user(const srv_request *req);
/* Checks the request's Authorization header and sets the user (none: 0,
 * anonymous), with the failed-login backoff per user name and client
 * address: while it lasts SRV_E_TOO_MANY (a Retry-After header is already
 * added) without a bcrypt run; bad credentials SRV_E_UNAUTHORIZED. Every
 * place that checks credentials goes through this (or the next one), never
 * srv_auth_check directly, so that no login path escapes the backoff. */
int srv_request_login(srv_request *req, sw_error **err);
/* The same for credentials that did not come in the Authorization header
 * (the token endpoint's OAuth2 form), in that header's format. */
int srv_request_login_with(srv_request *req, const char *authorization, sw_error **err);
/* srv_request_login, answering an error registry-style; 0, or an error
 * response already set. */
int srv_request_authenticate(srv_request *req);
/* 1 when the request's user may do `access` (SRV_AUTH_PULL/PUSH) on repo. */
int srv_request_allowed(const srv_request *req, const char *repo, unsigned access);

const struct sw_config *srv_request_config(const srv_request *req);
reg_store *srv_request_store(const srv_request *req);

/* Per-route state, freed by the route's on_cleanup. */
void srv_request_set_state(srv_request *req, void *state);
void *srv_request_state(const srv_request *req);

/* Asks the router to collect the body (up to max bytes) instead of passing
 * it to on_data; a larger body is answered with REG_E_TOO_LARGE. Call from
 * on_headers. The collected body is NUL-terminated. */
void srv_request_buffer_body(srv_request *req, size_t max);
const char *srv_request_body(const srv_request *req, size_t *len);

/* ---- the response -------------------------------------------------------- */

/* Adds a response header (formatted). Headers collect until the response is
 * sent; they are kept for error responses too. */
void srv_header(srv_request *req, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A body copied from data (len may be 0; content_type may be NULL). */
void srv_respond(srv_request *req, unsigned status, const char *content_type, const void *data,
                 size_t len);
/* A JSON document as application/json (or content_type when not NULL). */
void srv_respond_json(srv_request *req, unsigned status, const char *content_type,
                      const json_t *doc);
/* length bytes of fd from offset, sent with sendfile; takes over fd. */
void srv_respond_fd(srv_request *req, unsigned status, const char *content_type, int fd,
                    uint64_t offset, uint64_t length);
/* A body made as the client reads it (a followed log, Server-Sent Events),
 * sent chunked. fn fills buf with up to max bytes at stream position pos
 * and returns how many; 0 when nothing is there yet (it must not wait: the
 * connection is put aside and fn is called again about 100 ms later,
 * without holding a server thread meanwhile); -1 at the end; -2 on an
 * error. The stream also ends when the server stops.
 * free_ctx (may be NULL) releases ctx when the response is done. */
typedef long (*srv_stream_fn)(void *ctx, uint64_t pos, char *buf, size_t max);
void srv_respond_stream(srv_request *req, unsigned status, const char *content_type,
                        srv_stream_fn fn, void *ctx, void (*free_ctx)(void *));
/* The same with a known length (sent as Content-Length, not chunked; a
 * HEAD gets the headers only and fn is never called). */
void srv_respond_stream_length(srv_request *req, unsigned status, const char *content_type,
                               uint64_t length, srv_stream_fn fn, void *ctx,
                               void (*free_ctx)(void *));

/* 1 once a response has been set. */
int srv_responded(const srv_request *req);

/* ---- errors (server/oci_errors.c) ---------------------------------------- */

struct srv_error_info {
    unsigned status;  /* HTTP status */
    const char *code; /* OCI error code, e.g. "BLOB_UNKNOWN" */
    int is_internal;  /* the message stays in the log, not the body */
};

/* The one mapping of every error code (core, registry, server) to HTTP. */
struct srv_error_info srv_error_lookup(int code);

/* The JSON error body {"errors":[{"code","message","detail"}]}; detail may
 * be NULL (left out) and is borrowed. Caller frees the result. */
char *srv_error_body(const char *code, const char *message, const json_t *detail);

/* Responds with the error's status and body (and the auth challenge for
 * SRV_E_UNAUTHORIZED). Internal errors are logged with their message and
 * answered with a generic one. */
void srv_respond_error(srv_request *req, int code, const char *message);
void srv_respond_sw_error(srv_request *req, const sw_error *err);

/* ---- parsing helpers (exposed for tests) --------------------------------- */

#define SRV_MAX_PARAMS 4

struct srv_params {
    size_t count;
    char *names[SRV_MAX_PARAMS];
    char *values[SRV_MAX_PARAMS];
};

/* 1 when path matches pattern, filling params (malloc'd; free with
 * srv_params_clear); 0 otherwise. */
int srv_path_match(const char *pattern, const char *path, struct srv_params *params);
void srv_params_clear(struct srv_params *params);

/* 1 when a request path is safe to route: starts with '/', no "." or ".."
 * segment, no empty segment except a trailing slash, no backslash or
 * control characters. */
int srv_path_safe(const char *path);

/* A Range request header against a resource of `size` bytes:
 *   0  satisfiable; *first and *last (inclusive) filled
 *   1  no usable range (absent, not "bytes=", several ranges): send it all
 *  -1  unsatisfiable: 416 */
int srv_parse_range(const char *header, int64_t size, int64_t *first, int64_t *last);

/* A Content-Range of an upload chunk, "first-last" or "bytes first-last[/n]";
 * 0 or -1 when malformed (last < first included). */
int srv_parse_content_range(const char *header, int64_t *first, int64_t *last);

/* The Content-Type to serve a web asset with, by its file name. */
const char *srv_content_type_for(const char *name);

#endif
