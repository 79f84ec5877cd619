/*
 * cache.c - responses built once and sent many times, and a small cache of
 * them by key: the manifest bytes of `GET /v2/<name>/manifests/<ref>` and
 * the answers to `HEAD /v2/<name>/blobs/<digest>`.
 *
 * Only content-addressed bytes go in: a manifest's body is named by its
 * digest, a blob's size too, so an entry is never stale and needs no
 * invalidation. What can
 * change - which digest a tag names, whether a repository still holds a
 * manifest, who may read it - is asked of the database and of the auth
 * checks on every request, before the cache is consulted; so a tag moved
 * by another front end, or a manifest deleted there, is seen at once.
 *
 * A shared response is an MHD response with all its headers, queued as is
 * on every connection that wants it (MHD counts its own references to a
 * queued response); our reference count only keeps it alive from the
 * lookup to MHD_queue_response. The cache holds at most a byte budget and
 * evicts the least recently used entry.
 */
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

#define CACHE_BUCKETS 1024

struct srv_shared_response {
    atomic_int refs;
    struct MHD_Response *response;
    unsigned status;
    size_t len;
    /* the fallback when a request carries headers of its own */
    char *content_type;
    void *data; /* NULL: an answer to HEAD */
    struct srv_header_pair *headers;
    size_t n_headers;
};

struct cache_entry {
    struct cache_entry *bucket_next;
    struct cache_entry *newer, *older; /* recency list */
    char *key;
    unsigned hash;
    srv_shared_response *shared;
    size_t cost;
};

struct srv_cache {
    pthread_mutex_t lock;
    struct cache_entry *buckets[CACHE_BUCKETS];
    struct cache_entry *newest, *oldest;
    size_t used, budget;
};

/* ---- shared responses ---------------------------------------------------- */

static void shared_free(srv_shared_response *s)
{
    if (s->response)
        MHD_destroy_response(s->response);
    for (size_t i = 0; i < s->n_headers; i++) {
        free(s->headers[i].name);
        free(s->headers[i].value);
    }
    free(s->headers);
    free(s->content_type);
    free(s->data);
    free(s);
}

srv_shared_response *srv_shared_response_new(unsigned status, const char *content_type,
                                             const void *data, size_t len,
                                             const char *const *headers)
{
    srv_shared_response *s = calloc(1, sizeof *s);
    size_t n = 0;

    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 1);
    s->status = status;
    s->len = len;
    while (headers && headers[2 * n])
        n++;
    s->content_type = strdup(content_type);
    s->headers = calloc(n ? n : 1, sizeof *s->headers);
    if (s->content_type == NULL || s->headers == NULL)
        goto fail;
    if (data) {
        if ((s->data = malloc(len ? len : 1)) == NULL)
            goto fail;
        memcpy(s->data, data, len);
    }
    for (size_t i = 0; i < n; i++) {
        s->headers[i].name = strdup(headers[2 * i]);
        s->headers[i].value = strdup(headers[2 * i + 1]);
        s->n_headers++;
        if (s->headers[i].name == NULL || s->headers[i].value == NULL)
            goto fail;
    }
    /* MHD's own copy: a connection may still be sending it after the
     * cache let go of s */
    s->response = data ? MHD_create_response_from_buffer(len, s->data, MHD_RESPMEM_MUST_COPY)
                       : srv_head_response_create(len);
    if (s->response == NULL)
        goto fail;
    /* the same headers, in the same order, as srv_respond + srv_request_queue */
    if (MHD_add_response_header(s->response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) !=
            MHD_YES ||
        MHD_add_response_header(s->response, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        MHD_add_response_header(s->response, "Docker-Distribution-API-Version", "registry/2.0") !=
            MHD_YES)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (MHD_add_response_header(s->response, s->headers[i].name, s->headers[i].value) !=
            MHD_YES)
            goto fail;
    return s;
fail:
    shared_free(s);
    return NULL;
}

void srv_shared_response_unref(srv_shared_response *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        shared_free(s);
}

void srv_respond_shared(srv_request *req, srv_shared_response *s)
{
    if (req->n_headers > 0) {
        /* the request has headers of its own: an ordinary response */
        for (size_t i = 0; i < s->n_headers; i++)
            srv_header(req, s->headers[i].name, "%s", s->headers[i].value);
        if (s->data)
            srv_respond(req, s->status, s->content_type, s->data, s->len);
        else
            srv_respond_head(req, s->status, s->content_type, s->len);
        return;
    }
    atomic_fetch_add(&s->refs, 1);
    srv_request_set_response(req, s->status, s->response, s, s->len);
}

/* ---- the cache ------------------------------------------------------------ */

static unsigned key_hash(const char *key)
{
    unsigned h = 2166136261u;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h;
}

struct srv_cache *srv_cache_new(size_t budget)
{
    struct srv_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->budget = budget;
    return c;
}

static void recency_unlink(struct srv_cache *c, struct cache_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void recency_push(struct srv_cache *c, struct cache_entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    c->newest = e;
    if (c->oldest == NULL)
        c->oldest = e;
}

static void entry_remove(struct srv_cache *c, struct cache_entry *e)
{
    struct cache_entry **link = &c->buckets[e->hash % CACHE_BUCKETS];
    while (*link != e)
        link = &(*link)->bucket_next;
    *link = e->bucket_next;
    recency_unlink(c, e);
    c->used -= e->cost;
    srv_shared_response_unref(e->shared);
    free(e->key);
    free(e);
}

srv_shared_response *srv_cache_get(struct srv_cache *c, const char *key)
{
    unsigned h = key_hash(key);
    srv_shared_response *found = NULL;

    pthread_mutex_lock(&c->lock);
    for (struct cache_entry *e = c->buckets[h % CACHE_BUCKETS]; e; e = e->bucket_next) {
        if (e->hash == h && strcmp(e->key, key) == 0) {
            recency_unlink(c, e);
            recency_push(c, e);
            found = e->shared;
            atomic_fetch_add(&found->refs, 1);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

void srv_cache_put(struct srv_cache *c, const char *key, srv_shared_response *s)
{
    unsigned h = key_hash(key);
    size_t body = s->data ? s->len : 0;
    size_t cost = body + strlen(key) + sizeof(struct cache_entry) + 512; /* MHD's headers */
    struct cache_entry *e;

    if (cost > c->budget / 8)
        return; /* one entry never takes much of the cache */
    if ((e = calloc(1, sizeof *e)) == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        return;
    }
    e->hash = h;
    e->cost = cost;
    e->shared = s;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_lock(&c->lock);
    struct cache_entry **bucket = &c->buckets[h % CACHE_BUCKETS];
    for (struct cache_entry *old = *bucket; old; old = old->bucket_next) {
        if (old->hash == h && strcmp(old->key, key) == 0) {
            entry_remove(c, old); /* another thread filled it first */
            break;
        }
    }
    while (c->oldest && c->used + cost > c->budget)
        entry_remove(c, c->oldest);
    e->bucket_next = *bucket;
    *bucket = e;
    recency_push(c, e);
    c->used += cost;
    pthread_mutex_unlock(&c->lock);
}

void srv_cache_free(struct srv_cache *c)
{
    if (c == NULL)
        return;
    while (c->oldest)
        entry_remove(c, c->oldest);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
