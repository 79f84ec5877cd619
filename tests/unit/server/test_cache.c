/*
 * test_cache.c - server/cache.c: shared responses and the cache of them by
 * key: hits, least-recently-used eviction within the byte budget, entries
 * too large to keep, and threads getting, putting and letting go at once
 * while entries are evicted (run under ASan, a reference count off by one
 * is a use after free).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server/internal.h"
#include "tests/unit/test.h"

static srv_shared_response *response_of(const char *text)
{
    const char *const headers[] = { "Docker-Content-Digest", "sha256:x", NULL };
    return srv_shared_response_new(200, "application/json", text, strlen(text), headers);
}

static void test_get_put(void)
{
    struct srv_cache *c = srv_cache_new(64 * 1024);
    CHECK(c != NULL);
    CHECK(srv_cache_get(c, "a") == NULL);
    srv_shared_response *a = response_of("{\"a\":1}");
    CHECK(a != NULL);
    srv_cache_put(c, "a", a);
    srv_shared_response *got = srv_cache_get(c, "a");
    CHECK(got == a);
    srv_shared_response_unref(got);
    srv_shared_response_unref(a); /* the cache still holds it */
    got = srv_cache_get(c, "a");
    CHECK(got == a);
    srv_shared_response_unref(got);
    CHECK(srv_cache_get(c, "b") == NULL);
    /* a second put under the same key replaces the first */
    srv_shared_response *again = response_of("{\"a\":2}");
    srv_cache_put(c, "a", again);
    got = srv_cache_get(c, "a");
    CHECK(got == again);
    srv_shared_response_unref(got);
    srv_shared_response_unref(again);
    /* a HEAD-only answer counts its headers, not the size it announces */
    srv_shared_response *head =
        srv_shared_response_new(200, "application/octet-stream", NULL, (size_t)1 << 40, NULL);
    CHECK(head != NULL);
    srv_cache_put(c, "head", head);
    got = srv_cache_get(c, "head");
    CHECK(got == head);
    srv_shared_response_unref(got);
    srv_shared_response_unref(head);
    srv_cache_free(c);
}

static void test_eviction(void)
{
    /* each entry costs its body plus ~600 bytes: 16 KiB holds about 12 */
    struct srv_cache *c = srv_cache_new(16 * 1024);
    char body[700], key[16];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        srv_shared_response *r = response_of(body);
        srv_cache_put(c, key, r);
        srv_shared_response_unref(r);
        /* k0 is used all along: the least recently used go first */
        srv_shared_response *k0 = srv_cache_get(c, "k0");
        CHECK(k0 != NULL);
        srv_shared_response_unref(k0);
    }
    srv_shared_response *newest = srv_cache_get(c, "k19");
    CHECK(newest != NULL);
    srv_shared_response_unref(newest);
    CHECK(srv_cache_get(c, "k1") == NULL);
    CHECK(srv_cache_get(c, "k5") == NULL);
    /* more than an eighth of the budget is never kept */
    char big[2600];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    srv_shared_response *r = response_of(big);
    srv_cache_put(c, "big", r);
    CHECK(srv_cache_get(c, "big") == NULL);
    srv_shared_response_unref(r);
    srv_cache_free(c);
}

struct worker {
    struct srv_cache *cache;
    unsigned seed;
    int hits;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    char key[16], body[64];
    for (int i = 0; i < 20000; i++) {
        w->seed = w->seed * 1103515245u + 12345u;
        snprintf(key, sizeof key, "k%u", (w->seed >> 16) % 64);
        srv_shared_response *r = srv_cache_get(w->cache, key);
        if (r) {
            w->hits++;
        } else {
            snprintf(body, sizeof body, "{\"key\":\"%s\"}", key);
            if ((r = response_of(body)) == NULL)
                continue;
            srv_cache_put(w->cache, key, r);
        }
        srv_shared_response_unref(r);
    }
    return NULL;
}

static void test_threads(void)
{
    /* room for about 8 of the 64 keys: eviction all the time */
    struct srv_cache *c = srv_cache_new(8 * 700);
    struct worker workers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct worker){ .cache = c, .seed = (unsigned)i * 7919u + 1 };
        CHECK_INT_EQ(pthread_create(&threads[i], NULL, hammer, &workers[i]), 0);
    }
    int hits = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        hits += workers[i].hits;
    }
    CHECK(hits > 0);
    srv_cache_free(c);
}

int main(void)
{
    RUN(test_get_put);
    RUN(test_eviction);
    RUN(test_threads);
    return TEST_EXIT();
}
