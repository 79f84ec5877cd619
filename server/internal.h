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
    int is_head;
    void *state;
    struct timespec started;

    /* body */
    int is_buffering;
    size_t body_max;
    sw_strbuf body;
    int is_body_ignored;   /* answered early: the rest of the body is dropped */

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
    atomic_int is_running;   /* the daemon is up (MHD messages go to debug) */

    pthread_rwlock_t routes_lock;
    const struct srv_route *tables[SRV_MAX_ROUTE_TABLES];
    size_t n_tables;

    atomic_int connections;  /* open TCP connections */
    atomic_int in_flight;    /* requests between first call and completion */
    int max_connections;     /* above this, requests get 429 */

    char *tls_cert;          /* PEM text, alive as long as the daemon */
    char *tls_key;
};

/* Applies the collected headers and hands the response to MHD. */
enum MHD_Result srv_request_queue(srv_request *req);
void srv_request_free(srv_request *req);

/* Built-in route tables (server/oci.c, server/server.c). */
extern const struct srv_route srv_oci_routes[];

#endif
