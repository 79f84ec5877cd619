/*
 * backoff.c - failed logins, counted per user name and per client address,
 * so that guessing passwords gets slower the more it is tried.
 *
 * After FREE_USER failures for one user name (known or not, so the answer
 * does not tell which names exist), or FREE_ADDR failures from one
 * address, each further failure doubles the wait before the next attempt
 * is even checked (1 s, 2 s, 4 s ... up to MAX_WAIT_S). The server answers
 * attempts during the wait with 429 and Retry-After, without running
 * bcrypt. Counts are forgotten FORGET_S after the last failure and on a
 * good login (for that user). The table is bounded: when it
 * is full, the entry idle the longest goes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/internal.h"

#define FREE_USER 5
#define FREE_ADDR 20
#define MAX_WAIT_S 900
#define FORGET_S 900
#define MAX_ENTRIES 4096
#define KEY_MAX 300

struct backoff_entry {
    char key[KEY_MAX]; /* "u:NAME" or "a:ADDRESS" */
    int failures;
    int64_t last_ms;
    int64_t blocked_until_ms;
};

struct srv_backoff {
    pthread_mutex_t lock;
    struct backoff_entry *entries;
    size_t n;
};

struct srv_backoff *srv_backoff_new(void)
{
    struct srv_backoff *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->entries = calloc(MAX_ENTRIES, sizeof *b->entries);
    if (b->entries == NULL) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->lock, NULL);
    return b;
}

void srv_backoff_free(struct srv_backoff *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b->entries);
    free(b);
}

static void make_key(char out[KEY_MAX], char kind, const char *value)
{
    snprintf(out, KEY_MAX, "%c:%s", kind, value);
}

/* The entry for key, or NULL; expired entries are dropped on the way. */
static struct backoff_entry *find(struct srv_backoff *b, const char *key, int64_t now)
{
    for (size_t i = 0; i < b->n; i++) {
        struct backoff_entry *e = &b->entries[i];
        if (now - e->last_ms > FORGET_S * 1000LL && now >= e->blocked_until_ms) {
            b->entries[i] = b->entries[--b->n];
            i--;
            continue;
        }
        if (strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static int64_t wait_ms(struct srv_backoff *b, const char *key, int64_t now)
{
    struct backoff_entry *e = find(b, key, now);
    return e && e->blocked_until_ms > now ? e->blocked_until_ms - now : 0;
}

int srv_backoff_wait(struct srv_backoff *b, const char *user, const char *addr)
{
    char key[KEY_MAX];
    int64_t now = srv_mono_ms(), longest = 0;
    if (b == NULL)
        return 0;
    pthread_mutex_lock(&b->lock);
    if (user && user[0]) {
        make_key(key, 'u', user);
        longest = wait_ms(b, key, now);
    }
    if (addr && addr[0]) {
        make_key(key, 'a', addr);
        int64_t w = wait_ms(b, key, now);
        if (w > longest)
            longest = w;
    }
    pthread_mutex_unlock(&b->lock);
    return (int)((longest + 999) / 1000);
}

static void record(struct srv_backoff *b, char kind, const char *value, int free_failures,
                   int64_t now)
{
    char key[KEY_MAX];
    make_key(key, kind, value);
    struct backoff_entry *e = find(b, key, now);
    if (e == NULL) {
        if (b->n == MAX_ENTRIES) {
            size_t oldest = 0;
            for (size_t i = 1; i < b->n; i++)
                if (b->entries[i].last_ms < b->entries[oldest].last_ms)
                    oldest = i;
            b->entries[oldest] = b->entries[--b->n];
        }
        e = &b->entries[b->n++];
        memset(e, 0, sizeof *e);
        memcpy(e->key, key, sizeof e->key);
    }
    e->failures++;
    e->last_ms = now;
    if (e->failures >= free_failures) {
        int shift = e->failures - free_failures;
        int64_t wait_s = shift >= 10 ? MAX_WAIT_S : (1LL << shift);
        if (wait_s > MAX_WAIT_S)
            wait_s = MAX_WAIT_S;
        e->blocked_until_ms = now + wait_s * 1000;
    }
}

void srv_backoff_failed(struct srv_backoff *b, const char *user, const char *addr)
{
    if (b == NULL)
        return;
    int64_t now = srv_mono_ms();
    pthread_mutex_lock(&b->lock);
    if (user && user[0])
        record(b, 'u', user, FREE_USER, now);
    if (addr && addr[0])
        record(b, 'a', addr, FREE_ADDR, now);
    pthread_mutex_unlock(&b->lock);
}

static void forget(struct srv_backoff *b, char kind, const char *value, int64_t now)
{
    char key[KEY_MAX];
    make_key(key, kind, value);
    struct backoff_entry *e = find(b, key, now);
    if (e)
        *e = b->entries[--b->n];
}

void srv_backoff_succeeded(struct srv_backoff *b, const char *user, const char *addr)
{
    if (b == NULL)
        return;
    int64_t now = srv_mono_ms();
    pthread_mutex_lock(&b->lock);
    /* the address keeps its count: one good account must not reset the
     * count of an address that guesses the passwords of others */
    (void)addr;
    if (user && user[0])
        forget(b, 'u', user, now);
    pthread_mutex_unlock(&b->lock);
}
