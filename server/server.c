/*
 * server.c - the libmicrohttpd daemon of `slipway serve`: start and
 * graceful stop, the dispatch of MHD's callbacks to routes (routing,
 * authentication and authorization, body streaming), the access log and
 * the embedded web assets.
 *
 * Threading: a pool of threads over epoll (MHD_USE_EPOLL_INTERNAL_THREAD
 * with MHD_OPTION_THREAD_POOL_SIZE), so an idle or slow client costs a
 * socket, not a thread. Handlers may block briefly on disk, SQLite or
 * bcrypt; nothing waits for a client on a pool thread: uploads arrive in
 * pieces as they come, blobs go out with sendfile as the socket drains,
 * and streams with nothing to send suspend their connection (conn.c).
 * Each pool thread gets its own SQLite connection through reg_store_db.
 * The limits (connections in all and per address, the time to send a
 * request's headers) are in conn.c and docs/security.md.
 */
#include "server/server.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "registry/errors.h"
#include "server/internal.h"

#define PER_IP_SLACK 16         /* connections per address answered 429 before refusal */
#define FD_RESERVE 256          /* descriptors kept for files, SQLite, workers */
#define CONNECTION_MEMORY 65536 /* per-connection buffer for headers and body pieces */
#define THREAD_STACK 1048576
#define RETRY_AFTER_S 5
#define STOP_GRACE_S 30
#define TLS_FILE_MAX (1024 * 1024)
/* Manifest bytes kept in memory (cache.c); a manifest is a few KiB, an
 * index of many platforms some tens. */
#define MANIFEST_CACHE_BYTES (16 * 1024 * 1024)
#define BLOB_HEAD_CACHE_BYTES (4 * 1024 * 1024) /* some 4,000 blobs */
#define TAG_LIST_CACHE_BYTES (16 * 1024 * 1024) /* pages up to 2 MiB */

/* Generated from web/ by cmake/EmbedRun.cmake. */
extern const struct {
    const char *name;
    const unsigned char *data;
    size_t size;
} srv_web_assets[];

/* ---- web assets --------------------------------------------------------- */

/* 1 for a path the web UI's router handles. */
static int page_path(const char *name)
{
    static const char *const prefixes[] = { "repos", "runs", "images", NULL };
    for (size_t i = 0; prefixes[i]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], n) == 0 && (name[n] == '\0' || name[n] == '/'))
            return 1;
    }
    return 0;
}

/* The UI's page renders build output and holds a login: no scripts or
 * styles but its own, no framing (a hidden "Run now" click), no referrers
 * to other sites. */
static void web_page_headers(srv_request *req)
{
    srv_header(req, "Cache-Control", "no-cache");
    srv_header(req, "Content-Security-Policy",
               "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
               " connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
               " frame-ancestors 'none'");
    srv_header(req, "X-Frame-Options", "DENY");
    srv_header(req, "Referrer-Policy", "same-origin");
}

static void web_asset_end(srv_request *req)
{
    const char *name = srv_request_param(req, "asset");
    if (name == NULL)
        name = "index.html";
    /* a GET under /v2/ that no registry route took (exact methods are
     * matched before the registry's catch-all): a registry client gets the
     * spec's JSON error, not the web UI */
    if (strncmp(name, "v2/", 3) == 0) {
        srv_respond_error(req, SRV_E_NOT_FOUND, "no such API endpoint");
        return;
    }
    for (size_t i = 0; srv_web_assets[i].name; i++) {
        if (strcmp(srv_web_assets[i].name, name) == 0) {
            web_page_headers(req);
            srv_respond(req, 200, srv_content_type_for(name), srv_web_assets[i].data,
                        srv_web_assets[i].size);
            return;
        }
    }
    /* The web UI's pages (/repos/..., /runs/..., /images/...) are routes of
     * the single-page app: they get index.html, which reads the path. API
     * paths never reach here (their catch-all comes first); unknown
     * registry paths are answered above. */
    /* any other path without a file extension gets the app too, with 404:
     * a person sees the UI's "not found" page, not a JSON error */
    const char *last = strrchr(name, '/');
    int is_page = page_path(name) || strchr(last ? last : name, '.') == NULL;
    if (is_page) {
        for (size_t i = 0; srv_web_assets[i].name; i++) {
            if (strcmp(srv_web_assets[i].name, "index.html") == 0) {
                web_page_headers(req);
                srv_respond(req, page_path(name) ? 200 : 404, "text/html; charset=utf-8",
                            srv_web_assets[i].data, srv_web_assets[i].size);
                return;
            }
        }
    }
    srv_respond_error(req, SRV_E_NOT_FOUND, "no such page");
}

static const struct srv_route web_routes[] = {
    { "GET", "/", SRV_ACCESS_NONE, NULL, NULL, web_asset_end, NULL },
    { "GET", "/*asset", SRV_ACCESS_NONE, NULL, NULL, web_asset_end, NULL },
    { NULL, NULL, 0, NULL, NULL, NULL, NULL },
};

/* ---- routing ------------------------------------------------------------ */

int srv_route_add(srv_server *srv, const struct srv_route *routes, sw_error **err)
{
    int rc = 0;

    pthread_rwlock_wrlock(&srv->routes_lock);
    if (srv->n_tables == SRV_MAX_ROUTE_TABLES)
        rc = sw_error_set(err, SW_EINVAL, "too many route tables (at most %d)",
                          SRV_MAX_ROUTE_TABLES);
    else
        srv->tables[srv->n_tables++] = routes;
    pthread_rwlock_unlock(&srv->routes_lock);
    return rc;
}

enum route_pass { PASS_EXACT, PASS_HEAD_AS_GET, PASS_ANY_METHOD, PASS_FALLBACK };

static const struct srv_route *find_in_pass(srv_server *srv, enum route_pass pass,
                                            const char *method, const char *path,
                                            struct srv_params *params)
{
    for (size_t t = 0; t < srv->n_tables; t++) {
        for (const struct srv_route *r = srv->tables[t]; r->pattern; r++) {
            int wanted;
            switch (pass) {
            case PASS_EXACT:
                wanted = r->method && strcmp(r->method, method) == 0;
                break;
            case PASS_HEAD_AS_GET:
                wanted = r->method && strcmp(r->method, "GET") == 0;
                break;
            case PASS_ANY_METHOD:
                wanted = r->method != NULL;
                break;
            default:
                wanted = r->method == NULL;
                break;
            }
            if (wanted && srv_path_match(r->pattern, path, params))
                return r;
        }
    }
    return NULL;
}

/* The route for method + path; *code is SRV_E_METHOD or SRV_E_NOT_FOUND
 * when there is none. */
static const struct srv_route *find_route(srv_server *srv, const char *method, const char *path,
                                          struct srv_params *params, int *code)
{
    const struct srv_route *route = NULL;

    pthread_rwlock_rdlock(&srv->routes_lock);
    route = find_in_pass(srv, PASS_EXACT, method, path, params);
    if (route == NULL && strcmp(method, "HEAD") == 0)
        route = find_in_pass(srv, PASS_HEAD_AS_GET, method, path, params);
    if (route == NULL) {
        if (find_in_pass(srv, PASS_ANY_METHOD, method, path, params)) {
            srv_params_clear(params);
            *code = SRV_E_METHOD;
        } else {
            route = find_in_pass(srv, PASS_FALLBACK, method, path, params);
            *code = SRV_E_NOT_FOUND;
        }
    }
    pthread_rwlock_unlock(&srv->routes_lock);
    return route;
}

int srv_request_login(srv_request *req, sw_error **err)
{
    return srv_request_login_with(req, srv_request_header(req, "Authorization"), err);
}

int srv_request_login_with(srv_request *req, const char *header, sw_error **err)
{
    srv_server *srv = req->srv;
    char name[256] = "", addr[INET6_ADDRSTRLEN];

    free(req->user);
    req->user = NULL;
    srv_auth_scopes_free(req->scopes);
    req->scopes = NULL;
    if (srv->auth == NULL || header == NULL)
        return 0;
    srv_conn_client_addr(req->conn, addr);
    srv_auth_basic_user(header, name, sizeof name);
    int wait_s = srv_backoff_wait(srv->backoff, name, addr);
    if (wait_s > 0) {
        srv_header(req, "Retry-After", "%d", wait_s);
        return sw_error_set(err, SRV_E_TOO_MANY,
                            "too many failed logins; retry in %d second%s (Retry-After)", wait_s,
                            wait_s == 1 ? "" : "s");
    }
    /* passwords and access tokens (Basic or Bearer) and registry tokens */
    int rc = srv_auth_identify(srv->auth, srv->store, header, &req->user, &req->scopes, err);
    if (rc == SRV_E_UNAUTHORIZED)
        srv_backoff_failed(srv->backoff, name, addr);
    else if (rc == 0 && req->user)
        srv_backoff_succeeded(srv->backoff, req->user, addr);
    return rc;
}

int srv_request_authenticate(srv_request *req)
{
    sw_error *err = NULL;
    int rc = srv_request_login(req, &err);
    if (rc != 0)
        srv_respond_sw_error(req, err);
    sw_error_clear(&err);
    return rc;
}

/* Authentication and the route's access requirement; 0 or an error
 * response already set. */
static int authorize(srv_request *req)
{
    srv_server *srv = req->srv;
    int rc = 0;

    if (req->route->access == SRV_ACCESS_NONE || srv->auth == NULL)
        return 0;
    if (srv_request_authenticate(req) != 0)
        return -1;
    int is_allowed;
    /* a registry token counts as a login, also one issued to anonymous */
    int is_identified = req->user != NULL || req->scopes != NULL;
    const char *repo = NULL;
    unsigned needed = 0;
    switch (req->route->access) {
    case SRV_ACCESS_LOGIN:
        is_allowed = is_identified;
        break;
    case SRV_ACCESS_ANY_PULL:
        is_allowed = is_identified || reg_access_anonymous_reads(srv->cfg);
        break;
    default: {
        repo = srv_request_param(req, "name");
        int is_read = strcmp(req->method, "GET") == 0 || req->is_head;
        needed = is_read ? SRV_AUTH_PULL : SRV_AUTH_PUSH;
        is_allowed = srv_request_allowed(req, repo, needed);
        break;
    }
    }
    if (!is_allowed) {
        if (repo)
            srv_auth_deny(req, repo, needed);
        else if (req->user == NULL)
            srv_respond_error(req, SRV_E_UNAUTHORIZED, "authentication required");
        else
            srv_respond_error(req, SRV_E_DENIED, "requested access to the resource is denied");
        rc = -1;
    }
    return rc;
}

/* The origin (scheme://host[:port]) of a URL: its length in url. */
static size_t origin_length(const char *url)
{
    const char *host = strstr(url, "://");
    if (host == NULL)
        return strlen(url);
    const char *slash = strchr(host + 3, '/');
    return slash ? (size_t)(slash - url) : strlen(url);
}

/* Cross-site request forgery: a page on another site can make a browser
 * send a form (text/plain, form-urlencoded, multipart) with the user's
 * Basic credentials, but not a JSON body, and a browser always says where
 * a cross-origin request comes from. So a state-changing call to the JSON
 * API must be JSON, and come from server.public_url's origin if it says
 * where it comes from. 0, or a 403 already set. */
static int csrf_check(srv_request *req)
{
    static const char *const safe_methods[] = { "GET", "HEAD", "OPTIONS", NULL };
    if (strncmp(req->path, "/api/v1/", 8) != 0)
        return 0;
    for (size_t i = 0; safe_methods[i]; i++)
        if (strcmp(req->method, safe_methods[i]) == 0)
            return 0;
    const char *type = srv_request_header(req, "Content-Type");
    size_t type_len = type ? strcspn(type, "; \t") : 0;
    if (type == NULL || type_len != 16 || strncasecmp(type, "application/json", 16) != 0) {
        srv_api_error(req, SRV_E_DENIED,
                      "state-changing API calls need Content-Type: application/json");
        return -1;
    }
    const char *origin = srv_request_header(req, "Origin");
    const char *public_url = req->srv->cfg->public_url ? req->srv->cfg->public_url : "";
    size_t n = origin_length(public_url);
    if (origin && (strlen(origin) != n || strncasecmp(origin, public_url, n) != 0)) {
        srv_api_error(req, SRV_E_DENIED,
                      "cross-origin request refused: Origin is not server.public_url");
        return -1;
    }
    return 0;
}

static void request_begin(srv_request *req)
{
    srv_server *srv = req->srv;
    int code = 0;

    if (srv_conn_is_over_ip_limit(req->conn)) {
        srv_header(req, "Connection", "close");
        srv_header(req, "Retry-After", "%d", RETRY_AFTER_S);
        srv_respond_error(req, SRV_E_TOO_MANY,
                          "too many connections from your address, retry later");
        goto answered;
    }
    if (atomic_load(&srv->connections) > srv->max_connections) {
        srv_header(req, "Connection", "close");
        srv_header(req, "Retry-After", "%d", RETRY_AFTER_S);
        srv_respond_error(req, SRV_E_BUSY, "the server is busy, retry later");
        goto answered;
    }
    if (csrf_check(req) != 0)
        goto answered;
    if (!srv_path_safe(req->path)) {
        /* under /v2/ the path holds a repository name: answer as the spec
         * says for a bad name, not with a code it does not define */
        if (strncmp(req->path, "/v2/", 4) == 0)
            srv_respond_error(req, REG_E_NAME_INVALID, "invalid repository name in the path");
        else
            srv_respond_error(req, SRV_E_NOT_FOUND, "invalid path");
        goto answered;
    }
    req->route = find_route(srv, req->method, req->path, &req->params, &code);
    if (req->route == NULL) {
        srv_respond_error(req, code,
                          code == SRV_E_METHOD ? "method not allowed here" : "not found");
        goto answered;
    }
    if (authorize(req) != 0)
        goto answered;
    if (req->route->on_headers && req->route->on_headers(req) != 0)
        goto answered;
    return;
answered:
    req->is_body_ignored = 1;
}

static void request_data(srv_request *req, const char *data, size_t len)
{
    if (req->is_body_ignored)
        return;
    if (req->is_buffering) {
        if (req->body.len + len > req->body_max) {
            srv_respond_error(req, REG_E_TOO_LARGE, "request body too large");
            req->is_body_ignored = 1;
            sw_strbuf_free(&req->body);
            return;
        }
        sw_strbuf_append(&req->body, data, len);
        if (req->body.failed) {
            srv_respond_error(req, SW_ENOMEM, "buffering the request body: out of memory");
            req->is_body_ignored = 1;
        }
        return;
    }
    if (req->route->on_data && req->route->on_data(req, data, len) != 0)
        req->is_body_ignored = 1;
}

static void request_end(srv_request *req)
{
    if (!req->is_body_ignored && !srv_responded(req))
        req->route->on_end(req);
    if (!srv_responded(req))
        srv_respond_error(req, SW_EIO, "the handler gave no response");
}

static srv_request *request_new(srv_server *srv, struct MHD_Connection *conn, const char *method,
                                const char *url)
{
    srv_request *req = calloc(1, sizeof *req);
    if (req == NULL)
        return NULL;
    req->srv = srv;
    req->conn = conn;
    req->method = strdup(method);
    req->path = strdup(url);
    clock_gettime(CLOCK_MONOTONIC, &req->started);
    if (req->method == NULL || req->path == NULL) {
        srv_request_free(req);
        return NULL;
    }
    req->is_head = strcmp(method, "HEAD") == 0;
    return req;
}

/* MHD's access handler: called once for the headers, once per body piece,
 * and a last time with no data, when the response is queued. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    srv_server *srv = cls;
    srv_request *req = *con_cls;

    if (req == NULL) {
        req = request_new(srv, conn, method, url);
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        atomic_fetch_add(&srv->in_flight, 1);
        srv_conn_headers_done(srv, conn);
        request_begin(req);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        request_data(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    request_end(req);
    return srv_request_queue(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv_server *srv = cls;
    srv_request *req = *con_cls;
    struct timespec now;

    srv_conn_request_done(srv, conn);
    if (req == NULL)
        return;
    *con_cls = NULL;
    if (req->route && req->route->on_cleanup)
        req->route->on_cleanup(req);
    /* sw_log escapes control characters: a path cannot start a new line.
     * server.access_log: off, or errors (4xx/5xx and aborted requests)
     * only; lines are written in batches (sw_log_batched) */
    int aborted = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
    int mode = srv->cfg->access_log;
    if (mode == SW_ACCESS_LOG_ON ||
        (mode == SW_ACCESS_LOG_ERRORS && (req->status >= 400 || aborted))) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ms = (long long)(now.tv_sec - req->started.tv_sec) * 1000 +
                       (now.tv_nsec - req->started.tv_nsec) / 1000000;
        sw_log_batched("http: %s %s %u %" PRIu64 " %lldms%s%s%s", req->method, req->path,
                       req->status, req->response_bytes, ms, req->user ? " user=" : "",
                       req->user ? req->user : "", aborted ? " (aborted)" : "");
    }
    srv_request_free(req);
    atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->connections, 1);
        srv_conn_opened(srv, conn, socket_context);
    } else {
        srv_conn_closed(srv, socket_context);
        atomic_fetch_sub(&srv->connections, 1);
    }
}

/* MHD parsed a request line: the headers are on their way, and must all
 * be in within server.header_timeout. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)uri;
    srv_conn_request_line(cls, conn);
    return NULL;
}

/* MHD's own messages. Once running they are mostly about broken clients
 * (a TLS hello on the plain port: skopeo tries https first), so they go to
 * debug; while starting they explain why the daemon did not come up. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    srv_server *srv = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t len = strlen(line);
    while (len > 0 && line[len - 1] == '\n')
        line[--len] = '\0';
    sw_log(atomic_load(&srv->is_running) ? SW_LOG_DEBUG : SW_LOG_WARN, "http: %s", line);
}

/* ---- start and stop ----------------------------------------------------- */

/* Threads of the HTTP pool: server.threads, or 4 per CPU (at least 8, at
 * most 64): handlers block for milliseconds on SQLite, disk and bcrypt,
 * never for a client. */
static int pool_size(const struct sw_config *cfg)
{
    if (cfg->server_threads > 0)
        return cfg->server_threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long n = cpus > 0 ? cpus * 4 : 8;
    return n < 8 ? 8 : n > 64 ? 64 : (int)n;
}

/* Raises the descriptor limit to the hard limit and returns how many
 * connections MHD may accept: max_connections plus room to answer the
 * ones beyond it with 503, within the descriptors there are. */
static unsigned connection_limit(srv_server *srv)
{
    struct rlimit rl;
    unsigned wanted = (unsigned)srv->max_connections + (unsigned)srv->max_connections / 16 + 32;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t old = rl.rlim_cur;
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                rl.rlim_cur = old;
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)wanted + FD_RESERVE) {
            unsigned fit = rl.rlim_cur > 2 * FD_RESERVE ? (unsigned)rl.rlim_cur - FD_RESERVE : 64;
            sw_warn("server: open file limit %llu allows %u connections, not %u "
                    "(server.max_connections); raise the hard limit (ulimit -Hn)",
                    (unsigned long long)rl.rlim_cur, fit, wanted);
            wanted = fit;
            if ((unsigned)srv->max_connections > wanted)
                srv->max_connections = (int)(wanted - wanted / 17);
        }
    }
    return wanted;
}

static void free_server(srv_server *srv)
{
    if (srv == NULL)
        return;
    srv_auth_free(srv->auth);
    srv_backoff_free(srv->backoff);
    srv_conns_stop(srv);
    srv_cache_free(srv->manifests);
    srv_cache_free(srv->blob_heads);
    srv_cache_free(srv->tag_lists);
    pthread_rwlock_destroy(&srv->routes_lock);
    if (srv->tls_key) {
        memset(srv->tls_key, 0, strlen(srv->tls_key));
        free(srv->tls_key);
    }
    free(srv->tls_cert);
    free(srv);
}

int srv_start(const struct sw_config *cfg, reg_store *store, srv_server **out, sw_error **err)
{
    srv_server *srv = NULL;
    struct addrinfo hints = { 0 }, *addr = NULL;
    char port[16];
    size_t len = 0;
    int rc = 0;

    *out = NULL;
    srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return sw_error_set(err, SW_ENOMEM, "server: out of memory");
    srv->cfg = cfg;
    srv->store = store;
    srv->max_connections = cfg->max_connections;
    pthread_rwlock_init(&srv->routes_lock, NULL);
    srv->backoff = srv_backoff_new();
    srv->manifests = srv_cache_new(MANIFEST_CACHE_BYTES);
    srv->blob_heads = srv_cache_new(BLOB_HEAD_CACHE_BYTES);
    srv->tag_lists = srv_cache_new(TAG_LIST_CACHE_BYTES);
    if (srv->backoff == NULL || srv->manifests == NULL || srv->blob_heads == NULL ||
        srv->tag_lists == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "server: out of memory");
        goto cleanup;
    }
    if ((rc = srv_auth_new(cfg, &srv->auth, err)) != 0 || (rc = srv_conns_start(srv, err)) != 0 ||
        (rc = srv_route_add(srv, srv_oci_routes, err)) != 0 ||
        (rc = srv_route_add(srv, srv_token_routes, err)) != 0 ||
        (rc = srv_route_add(srv, srv_api_routes, err)) != 0 ||
        (rc = srv_route_add(srv, srv_hook_routes, err)) != 0 ||
        (rc = srv_route_add(srv, srv_badge_routes, err)) != 0 ||
        (rc = srv_route_add(srv, web_routes, err)) != 0)
        goto cleanup;

    srv_hooks_warm();
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", cfg->listen_port);
    const char *host = cfg->listen_host && cfg->listen_host[0] ? cfg->listen_host : NULL;
    int gai = getaddrinfo(host, port, &hints, &addr);
    if (gai != 0) {
        rc = sw_error_set(err, SW_EINVAL, "listen address %s:%d: %s", host ? host : "*",
                          cfg->listen_port, gai_strerror(gai));
        goto cleanup;
    }

    unsigned mhd_limit = connection_limit(srv);
    unsigned flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (addr->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->tls_cert) {
        if ((rc = sw_read_file(cfg->tls_cert, TLS_FILE_MAX, &srv->tls_cert, &len, err)) != 0 ||
            (rc = sw_read_file(cfg->tls_key, TLS_FILE_MAX, &srv->tls_key, &len, err)) != 0) {
            sw_error_prefix(err, "server.tls");
            goto cleanup;
        }
        flags |= MHD_USE_TLS;
    }

    struct MHD_OptionItem tls_options[] = {
        { srv->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, srv->tls_cert },
        { srv->tls_key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, srv->tls_key },
        { MHD_OPTION_END, 0, NULL },
    };
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_SOCK_ADDR, addr->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_URI_LOG_CALLBACK,
        on_request_line, srv, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(cfg->max_connections_per_ip + PER_IP_SLACK),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)pool_size(cfg), MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_ARRAY, tls_options,
        MHD_OPTION_END);
    if (srv->daemon == NULL) {
        rc = sw_error_set(err, SW_EIO,
                          "cannot listen on %s:%d (in use, or not an address of "
                          "this host?)",
                          host ? host : "*", cfg->listen_port);
        goto cleanup;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info && info->port ? info->port : cfg->listen_port;
    atomic_store(&srv->is_running, 1);
    *out = srv;
    srv = NULL;
cleanup:
    if (addr)
        freeaddrinfo(addr);
    free_server(srv);
    return rc;
}

int srv_port(const srv_server *srv)
{
    return srv->port;
}

void srv_set_repos(srv_server *srv, const struct wrk_repos *repos)
{
    atomic_store(&srv->repos, repos);
}

void srv_set_build_service(srv_server *srv, const struct wrk_repos *repos,
                           struct wrk_service *workers, int n_workers)
{
    srv->repos = repos;
    srv->workers = workers;
    srv->n_workers = n_workers;
}

void srv_stop(srv_server *srv)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->stopping, 1);
    srv_conns_wake_all(srv); /* streams see `stopping` and end */
    MHD_socket listen_fd = MHD_quiesce_daemon(srv->daemon);
    for (int waited_ms = 0; atomic_load(&srv->in_flight) > 0 && waited_ms < STOP_GRACE_S * 1000;
         waited_ms += 20)
        usleep(20 * 1000);
    if (atomic_load(&srv->in_flight) > 0)
        sw_warn("server: %d request(s) still running after %ds; closing them",
                atomic_load(&srv->in_flight), STOP_GRACE_S);
    /* MHD must not be stopped with suspended connections */
    srv_conns_wake_all(srv);
    MHD_stop_daemon(srv->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    free_server(srv);
    sw_log_flush();
}
