/*
 * internal.h - what the files of server/ share and nothing else includes:
 * the server and request structures behind the opaque types of http.h,
 * and the route registration of the built-in tables.
 */
#ifndef SRV_INTERNAL_H
#define SRV_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/strbuf.h"
#include "server/auth.h"
#include "server/http.h"

#define SRV_MAX_ROUTE_TABLES 16

struct srv_header_pair {
    char *name;
    char *value;
};

struct srv_request {
    srv_server *srv;
    struct MHD_Connection *conn;
    char *method;
    char *path;
    const struct srv_route *route;
    struct srv_params params;
    char *user;
    struct reg_scopes *scopes; /* a token's scopes; NULL: all the user's access */
    int is_head;
    void *state;
    struct timespec started;

    /* body */
    int is_buffering;
    size_t body_max;
    sw_strbuf body;
    int is_body_ignored; /* answered early: the rest of the body is dropped */

    /* response */
    unsigned status;
    struct MHD_Response *response;
    struct srv_shared_response *shared; /* response belongs to it (cache.c) */
    uint64_t response_bytes;
    struct srv_header_pair *headers;
    size_t n_headers;
};

struct srv_server {
    const struct sw_config *cfg;
    reg_store *store;
    srv_auth *auth;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int is_running; /* the daemon is up (MHD messages go to debug) */
    atomic_int stopping;   /* srv_stop was called: streams end */

    pthread_rwlock_t routes_lock;
    const struct srv_route *tables[SRV_MAX_ROUTE_TABLES];
    size_t n_tables;

    atomic_int connections; /* open TCP connections */
    atomic_int in_flight;   /* requests between first call and completion */
    int max_connections;    /* above this, requests get 429 */

    /* the build service (NULL when none is configured) */
    const struct wrk_repos *_Atomic repos; /* replaced by a config reload */
    struct wrk_service *workers;
    int n_workers; /* worker threads in this process */

    char *tls_cert; /* PEM text, alive as long as the daemon */
    char *tls_key;

    struct srv_conns *conns;      /* connection table, limits, sweeper (conn.c) */
    struct srv_cache *manifests;  /* manifest responses by digest and type (cache.c) */
    struct srv_cache *blob_heads; /* answers to blob HEADs by digest and size */
    struct srv_cache *tag_lists;  /* tags/list pages by repository and tags_version */
    struct srv_backoff *backoff;  /* failed logins per user and address (backoff.c) */
};

/* ---- connections (server/conn.c) ---------------------------------------- */

/* A streamed response waiting for data: its connection is suspended until
 * wake_ms, then resumed by the sweeper thread. */
struct srv_stream_wait {
    struct srv_stream_wait *next;
    struct MHD_Connection *conn;
    int64_t wake_ms;
    int is_sleeping;
};

int64_t srv_mono_ms(void);
/* Starts the table and its sweeper thread (srv->cfg is read). */
int srv_conns_start(srv_server *srv, sw_error **err);
/* Resumes every waiting stream (before MHD_stop_daemon). */
void srv_conns_wake_all(srv_server *srv);
/* Stops the sweeper and frees the table; after MHD_stop_daemon. */
void srv_conns_stop(srv_server *srv);
/* MHD's connection notifications. */
void srv_conn_opened(srv_server *srv, struct MHD_Connection *conn, void **socket_context);
void srv_conn_closed(srv_server *srv, void **socket_context);
/* The phases of a request on a connection, for the header deadline. */
void srv_conn_request_line(srv_server *srv, struct MHD_Connection *conn);
void srv_conn_headers_done(srv_server *srv, struct MHD_Connection *conn);
void srv_conn_request_done(srv_server *srv, struct MHD_Connection *conn);
/* 1 when the connection's address had max_connections_per_ip already. */
int srv_conn_is_over_ip_limit(struct MHD_Connection *conn);
/* The client's address as text ("" when unknown), IPv6 as its /64 (the
 * unit of the per-address limits and the login backoff); 46 bytes. */
void srv_conn_client_addr(struct MHD_Connection *conn, char out[46]);
/* Suspends w->conn for ms milliseconds; call from a content reader that
 * then returns 0. */
void srv_conn_sleep(srv_server *srv, struct srv_stream_wait *w, int ms);
/* Forgets w (its response is being freed). */
void srv_conn_unsleep(srv_server *srv, struct srv_stream_wait *w);

/* ---- failed logins (server/backoff.c) ------------------------------------ */

struct srv_backoff;
struct srv_backoff *srv_backoff_new(void);
void srv_backoff_free(struct srv_backoff *b);
/* Seconds until user (may be NULL) or addr may try again; 0 when now. */
int srv_backoff_wait(struct srv_backoff *b, const char *user, const char *addr);
/* Records a failed login of user (may be NULL) from addr. */
void srv_backoff_failed(struct srv_backoff *b, const char *user, const char *addr);
/* Forgets the failures of user after a good login (addr keeps its count). */
void srv_backoff_succeeded(struct srv_backoff *b, const char *user, const char *addr);

/* An answer to HEAD: headers only, with Content-Length: size. */
void srv_respond_head(srv_request *req, unsigned status, const char *content_type, uint64_t size);
struct MHD_Response *srv_head_response_create(uint64_t size);

/* ---- responses sent many times (server/cache.c) --------------------------- */

typedef struct srv_shared_response srv_shared_response;

/* A response built once, with its content type and headers (pairs of
 * name, value, ended by NULL) and a copy of data; one reference, for the
 * caller. data NULL: an answer to HEAD of len bytes (srv_respond_head).
 * NULL when out of memory. */
srv_shared_response *srv_shared_response_new(unsigned status, const char *content_type,
                                             const void *data, size_t len,
                                             const char *const *headers);
void srv_shared_response_unref(srv_shared_response *s);
/* Answers req with s (taking a reference). Headers set on req before are
 * kept: the response is then built for req alone. */
void srv_respond_shared(srv_request *req, srv_shared_response *s);

/* Shared responses by key, at most budget bytes, least recently used out
 * first. Only for content that never changes under its key. */
struct srv_cache *srv_cache_new(size_t budget);
void srv_cache_free(struct srv_cache *c);
/* The response under key with a reference for the caller, or NULL. */
srv_shared_response *srv_cache_get(struct srv_cache *c, const char *key);
/* Keeps s under key (taking a reference); too large ones are not kept. */
void srv_cache_put(struct srv_cache *c, const char *key, srv_shared_response *s);

/* Sets req's response: MHD's response, owned by shared when it is not
 * NULL (a reference req gives back when it is freed). */
void srv_request_set_response(srv_request *req, unsigned status, struct MHD_Response *response,
                              srv_shared_response *shared, uint64_t bytes);

/* Applies the collected headers and hands the response to MHD. */
enum MHD_Result srv_request_queue(srv_request *req);
void srv_request_free(srv_request *req);

/* Built-in route tables (server/oci.c, server/server.c, server/api.c,
 * server/hooks.c). */
extern const struct srv_route srv_oci_routes[];
extern const struct srv_route srv_api_routes[];
extern const struct srv_route srv_hook_routes[];
/* Done once before the first delivery (hooks.c): what the first would pay. */
void srv_hooks_warm(void);
extern const struct srv_route srv_badge_routes[];
extern const struct srv_route srv_token_routes[]; /* GET /token, /api/v1/tokens */

/* ---- auth answers (server/token.c) ----------------------------------------- */

/* Sets the WWW-Authenticate header of a 401: a Bearer challenge naming the
 * token realm, the service and the scope the request needs (or Basic when
 * registry.auth.challenge is basic). */
void srv_auth_challenge(srv_request *req);

/* Refuses access to repo: 401 with a challenge for an anonymous request,
 * 403 DENIED naming the scope repository:REPO:ACTIONS otherwise. */
void srv_auth_deny(srv_request *req, const char *repo, unsigned access);

/* ---- the JSON API's conventions (server/api.c) ---------------------------- */

/* Responds {"error": {"code", "message"}} with the status for code (an
 * SW_E* or module code). Internal errors are logged, not shown. */
void srv_api_error(srv_request *req, int code, const char *message);
void srv_api_sw_error(srv_request *req, const sw_error *err);

/* Authenticates an API request: reads need pull access (anonymous when
 * anonymous pull is on), writes need a logged-in user with push access to
 * repo (NULL: any logged-in user). 0, or an error response already set. */
int srv_api_authorize(srv_request *req, int is_write, const char *repo);

#endif
