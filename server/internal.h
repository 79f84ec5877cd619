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
    const struct wrk_repos *repos;
    struct wrk_service *workers;
    int n_workers; /* worker threads in this process */

    char *tls_cert; /* PEM text, alive as long as the daemon */
    char *tls_key;
};

/* Applies the collected headers and hands the response to MHD. */
enum MHD_Result srv_request_queue(srv_request *req);
void srv_request_free(srv_request *req);

/* Built-in route tables (server/oci.c, server/server.c, server/api.c,
 * server/hooks.c). */
extern const struct srv_route srv_oci_routes[];
extern const struct srv_route srv_api_routes[];
extern const struct srv_route srv_hook_routes[];
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
