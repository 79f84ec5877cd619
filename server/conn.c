/*
 * conn.c - what one client may hold of `slipway serve`: the table of open
 * connections behind the connection limits, the deadline for receiving a
 * request's headers, and the wake-ups of streamed responses.
 *
 * The daemon runs a small pool of threads over epoll, so an idle or slow
 * socket costs a file descriptor and a table entry, never a thread. What
 * the pool cannot do by itself:
 *
 *  - bound the time to receive a request: MHD's timeout is an idle timeout,
 *    reset by every byte, so a client that dribbles a header line every few
 *    seconds would keep its socket forever. A sweeper thread shuts down
 *    connections whose request line came more than header_timeout ago
 *    without the headers being complete, fresh connections that sent no
 *    request within header_timeout, and keep-alive connections idle for
 *    idle_timeout. shutdown(2) (not close) lets MHD see the end of the
 *    socket and close it itself; the table lock is held across it and the
 *    CLOSED notification removes the entry under the same lock, so the fd
 *    is never one that MHD already reused.
 *  - count connections per client address, so requests beyond
 *    max_connections_per_ip are answered 429 (server.c) instead of being
 *    refused without a word;
 *  - wait in a stream: a streamed response with nothing to send suspends
 *    its connection and the sweeper resumes it shortly after, so a
 *    followed log holds no thread while it waits.
 *
 * The sweeper also writes out the access log's batch on every tick.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "server/internal.h"

#define IP_BUCKETS 1024
#define SWEEP_TICK_MS 50
#define SWEEP_EVERY_MS 500

enum conn_state {
    CONN_FRESH,     /* accepted, no request line yet */
    CONN_HEADERS,   /* request line seen, headers not complete */
    CONN_ACTIVE,    /* headers complete: body, handler, response */
    CONN_KEEPALIVE, /* between requests */
};

struct ip_count {
    struct ip_count *next;
    int count;
    char addr[INET6_ADDRSTRLEN];
};

/* state and since_ms change on every request, on the connection's pool
 * thread, without the table lock: since_ms is stored before state, and
 * the sweeper reads state before since_ms, so a new state is never judged
 * by an old time. */
struct srv_conn {
    struct srv_conn *prev, *next;
    int fd;
    _Atomic(enum conn_state) state;
    _Atomic int64_t since_ms;
    int is_over_ip_limit;
    int is_shut;
    struct ip_count *ip;
};

struct srv_conns {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct srv_conn *head;
    struct ip_count *ips[IP_BUCKETS];
    struct srv_stream_wait *sleepers;
    int is_stopping;
    int is_thread_started;
    pthread_t sweeper;
    int64_t header_timeout_ms;
    int64_t idle_timeout_ms;
    int max_per_ip;
    unsigned long dropped; /* connections shut down by the sweeper */
};

int64_t srv_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned ip_hash(const char *addr)
{
    unsigned h = 2166136261u;
    for (; *addr; addr++)
        h = (h ^ (unsigned char)*addr) * 16777619u;
    return h % IP_BUCKETS;
}

/* The client address as text ("" when MHD does not know it); an IPv6
 * address as its /64 prefix ("2001:db8::/64"). */
void srv_conn_client_addr(struct MHD_Connection *conn, char out[INET6_ADDRSTRLEN])
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (info == NULL || info->client_addr == NULL)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  INET6_ADDRSTRLEN);
    else if (sa->sa_family == AF_INET6) {
        /* one IPv6 client usually has a whole /64: count it as one */
        struct in6_addr addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        int is_v4_mapped = IN6_IS_ADDR_V4MAPPED(&addr);
        if (!is_v4_mapped)
            memset(addr.s6_addr + 8, 0, 8);
        if (inet_ntop(AF_INET6, &addr, out, INET6_ADDRSTRLEN) && !is_v4_mapped &&
            strlen(out) + 3 < INET6_ADDRSTRLEN)
            strcat(out, "/64");
    }
}

/* The connection's entry, or NULL. */
static struct srv_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void srv_conn_opened(srv_server *srv, struct MHD_Connection *conn, void **socket_context)
{
    struct srv_conns *t = srv->conns;
    struct srv_conn *c = calloc(1, sizeof *c);
    char addr[INET6_ADDRSTRLEN];

    *socket_context = c;
    if (c == NULL)
        return;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = info ? info->connect_fd : -1;
    atomic_init(&c->state, CONN_FRESH);
    atomic_init(&c->since_ms, srv_mono_ms());
    srv_conn_client_addr(conn, addr);

    pthread_mutex_lock(&t->lock);
    unsigned h = ip_hash(addr);
    struct ip_count *ip = t->ips[h];
    while (ip && strcmp(ip->addr, addr) != 0)
        ip = ip->next;
    if (ip == NULL && (ip = calloc(1, sizeof *ip)) != NULL) {
        memcpy(ip->addr, addr, sizeof ip->addr);
        ip->next = t->ips[h];
        t->ips[h] = ip;
    }
    if (ip) {
        ip->count++;
        c->is_over_ip_limit = ip->count > t->max_per_ip;
        c->ip = ip;
    }
    c->next = t->head;
    if (t->head)
        t->head->prev = c;
    t->head = c;
    pthread_mutex_unlock(&t->lock);
}

void srv_conn_closed(srv_server *srv, void **socket_context)
{
    struct srv_conns *t = srv->conns;
    struct srv_conn *c = *socket_context;

    *socket_context = NULL;
    if (c == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->ip && --c->ip->count == 0) {
        struct ip_count **link = &t->ips[ip_hash(c->ip->addr)];
        while (*link != c->ip)
            link = &(*link)->next;
        *link = c->ip->next;
        free(c->ip);
    }
    pthread_mutex_unlock(&t->lock);
    free(c);
}

static void set_state(srv_server *srv, struct MHD_Connection *conn, enum conn_state state)
{
    (void)srv;
    struct srv_conn *c = conn_of(conn);
    if (c == NULL)
        return;
    atomic_store(&c->since_ms, srv_mono_ms());
    atomic_store(&c->state, state);
}

void srv_conn_request_line(srv_server *srv, struct MHD_Connection *conn)
{
    set_state(srv, conn, CONN_HEADERS);
}

void srv_conn_headers_done(srv_server *srv, struct MHD_Connection *conn)
{
    set_state(srv, conn, CONN_ACTIVE);
}

void srv_conn_request_done(srv_server *srv, struct MHD_Connection *conn)
{
    set_state(srv, conn, CONN_KEEPALIVE);
}

int srv_conn_is_over_ip_limit(struct MHD_Connection *conn)
{
    struct srv_conn *c = conn_of(conn);
    return c ? c->is_over_ip_limit : 0;
}

/* ---- streams that wait ----------------------------------------------------- */

void srv_conn_sleep(srv_server *srv, struct srv_stream_wait *w, int ms)
{
    struct srv_conns *t = srv->conns;
    pthread_mutex_lock(&t->lock);
    MHD_suspend_connection(w->conn);
    w->wake_ms = srv_mono_ms() + ms;
    w->next = t->sleepers;
    w->is_sleeping = 1;
    t->sleepers = w;
    pthread_mutex_unlock(&t->lock);
}

void srv_conn_unsleep(srv_server *srv, struct srv_stream_wait *w)
{
    struct srv_conns *t = srv->conns;
    pthread_mutex_lock(&t->lock);
    for (struct srv_stream_wait **link = &t->sleepers; *link; link = &(*link)->next) {
        if (*link == w) {
            *link = w->next;
            break;
        }
    }
    w->is_sleeping = 0;
    pthread_mutex_unlock(&t->lock);
}

/* Resumes the sleepers that are due (all when `all`). */
static void wake_due(struct srv_conns *t, int all)
{
    struct MHD_Connection *due[64];
    size_t n;
    do {
        n = 0;
        int64_t now = srv_mono_ms();
        pthread_mutex_lock(&t->lock);
        for (struct srv_stream_wait **link = &t->sleepers; *link && n < 64;) {
            struct srv_stream_wait *w = *link;
            if (all || w->wake_ms <= now) {
                *link = w->next;
                w->is_sleeping = 0;
                due[n++] = w->conn;
            } else {
                link = &w->next;
            }
        }
        pthread_mutex_unlock(&t->lock);
        /* a suspended connection cannot go away: only we resume it */
        for (size_t i = 0; i < n; i++)
            MHD_resume_connection(due[i]);
    } while (n == 64);
}

/* ---- the sweeper -------------------------------------------------------- */

static void sweep(struct srv_conns *t)
{
    int64_t now = srv_mono_ms();
    unsigned long dropped = 0;
    pthread_mutex_lock(&t->lock);
    for (struct srv_conn *c = t->head; c; c = c->next) {
        int64_t limit;
        switch (atomic_load(&c->state)) {
        case CONN_FRESH:
        case CONN_HEADERS:
            limit = t->header_timeout_ms;
            break;
        case CONN_KEEPALIVE:
            limit = t->idle_timeout_ms;
            break;
        default:
            continue;
        }
        if (!c->is_shut && c->fd >= 0 && now - atomic_load(&c->since_ms) > limit) {
            shutdown(c->fd, SHUT_RDWR);
            c->is_shut = 1;
            dropped++;
        }
    }
    t->dropped += dropped;
    pthread_mutex_unlock(&t->lock);
    if (dropped)
        sw_debug("http: closed %lu connection(s) that sent no complete request in time", dropped);
}

static void *sweeper_main(void *arg)
{
    struct srv_conns *t = arg;
    int64_t last_sweep = srv_mono_ms();

    pthread_mutex_lock(&t->lock);
    while (!t->is_stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SWEEP_TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->wake, &t->lock, &until);
        if (t->is_stopping)
            break;
        pthread_mutex_unlock(&t->lock);
        wake_due(t, 0);
        sw_log_flush(); /* the access log's batch is at most a tick late */
        if (srv_mono_ms() - last_sweep >= SWEEP_EVERY_MS) {
            sweep(t);
            last_sweep = srv_mono_ms();
        }
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int srv_conns_start(srv_server *srv, sw_error **err)
{
    struct srv_conns *t = calloc(1, sizeof *t);
    if (t == NULL)
        return sw_error_set(err, SW_ENOMEM, "server: out of memory");
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    t->header_timeout_ms = srv->cfg->header_timeout_s * 1000;
    t->idle_timeout_ms = srv->cfg->idle_timeout_s * 1000;
    t->max_per_ip = srv->cfg->max_connections_per_ip;
    srv->conns = t;
    if (pthread_create(&t->sweeper, NULL, sweeper_main, t) != 0)
        return sw_error_set(err, SW_EIO, "server: cannot start the connection sweeper");
    t->is_thread_started = 1;
    return 0;
}

void srv_conns_wake_all(srv_server *srv)
{
    if (srv->conns)
        wake_due(srv->conns, 1);
}

void srv_conns_stop(srv_server *srv)
{
    struct srv_conns *t = srv->conns;
    if (t == NULL)
        return;
    if (t->is_thread_started) {
        pthread_mutex_lock(&t->lock);
        t->is_stopping = 1;
        pthread_cond_signal(&t->wake);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->sweeper, NULL);
    }
    wake_due(t, 1);
    for (size_t i = 0; i < IP_BUCKETS; i++) {
        while (t->ips[i]) {
            struct ip_count *next = t->ips[i]->next;
            free(t->ips[i]);
            t->ips[i] = next;
        }
    }
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
    srv->conns = NULL;
}
