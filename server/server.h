/*
 * server.h - the HTTP server of `slipway serve`: the OCI Distribution API
 * under /v2/, the embedded web assets, and whatever other route tables are
 * added with srv_route_add() (server/http.h).
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include "core/config.h"
#include "core/error.h"
#include "registry/store.h"
#include "server/http.h"

/* Starts listening on cfg->listen_host:listen_port (port 0: any free port,
 * see srv_port), with TLS when cfg->tls_cert is set. cfg and store are
 * borrowed and must outlive the server. *out is owned by the caller. */
int srv_start(const struct sw_config *cfg, reg_store *store, srv_server **out, sw_error **err);

/* Connects the build service: the configured repositories (webhooks and
 * the API) and the worker threads of this process (NULL when the workers
 * run elsewhere), woken when a run is queued. Call right after srv_start. */
struct wrk_repos;
struct wrk_service;
void srv_set_build_service(srv_server *srv, const struct wrk_repos *repos,
                           struct wrk_service *workers, int n_workers);

/* Replaces the configured repositories (a config reload); requests that
 * start from now on see them. repos must stay alive until srv_stop. */
void srv_set_repos(srv_server *srv, const struct wrk_repos *repos);

/* The port actually bound. */
int srv_port(const srv_server *srv);

/* Stops accepting connections, waits (up to 30 s) for requests in flight to
 * finish, then stops the daemon and frees the server. Accepts NULL. */
void srv_stop(srv_server *srv);

#endif
