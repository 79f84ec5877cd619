/*
 * egress_spare.c - a step network made ready before the RUN that needs it
 * (egress.h, bld_egress_spare).
 *
 * Starting a step's network (the namespace with its nftables filter, then
 * slirp4netns configured) takes about 100 ms, most of it waiting for the
 * two programs. A build knows well before a RUN starts that it will need
 * one: from the first step that misses the cache, every later step of the
 * stage runs. So a helper thread starts the network while the steps before
 * the RUN (a COPY, say) work, and the RUN takes it ready. Each RUN still
 * gets a network of its own, made exactly as bld_egress_net_start makes it;
 * only the moment changes, and nothing runs in it before the step's
 * container.
 *
 * The helper thread forks the holder and slirp4netns, and their parent-
 * death signal (PR_SET_PDEATHSIG) follows the forking *thread*: so the
 * helper lives until bld_egress_spare_stop, after every network it made
 * was stopped by its step.
 */
#include "builder/egress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"

struct bld_egress_spare {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    const struct sw_config *cfg;
    char *dir; /* one scratch directory per network made */
    int made;
    int wanted; /* a network should be made (the helper's next job) */
    int busy;   /* the helper is making one */
    int ready;  /* net holds a network nobody has taken */
    int failed; /* the last start failed: takers start their own */
    int stop;
    struct bld_egress_net net;
};

static void *spare_main(void *arg)
{
    struct bld_egress_spare *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stop && !(s->wanted && !s->ready))
            pthread_cond_wait(&s->cond, &s->lock);
        if (s->stop)
            break;
        s->wanted = 0;
        s->busy = 1;
        int n = ++s->made;
        pthread_mutex_unlock(&s->lock);

        struct bld_egress_net net;
        bld_egress *policy = NULL;
        char name[32];
        snprintf(name, sizeof(name), "%d", n);
        char *scratch = sw_path_join(s->dir, name);
        int rc = scratch == NULL || sw_mkdir_p(scratch, 0700, NULL) != 0 ||
                 bld_egress_new(s->cfg, &policy, NULL) != 0 ||
                 bld_egress_net_start(policy, scratch, &net, NULL) != 0;
        bld_egress_free(policy);
        free(scratch);

        pthread_mutex_lock(&s->lock);
        if (rc == 0) {
            s->net = net;
            s->ready = 1;
        }
        s->failed = rc != 0;
        s->busy = 0;
        pthread_cond_broadcast(&s->cond);
    }
    if (s->ready) {
        s->ready = 0;
        bld_egress_net_stop(&s->net);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int bld_egress_spare_start(const struct sw_config *cfg, const char *scratch_dir,
                           struct bld_egress_spare **out)
{
    struct bld_egress_spare *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (s == NULL || (s->dir = strdup(scratch_dir)) == NULL) {
        free(s);
        return -1;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->cfg = cfg;
    s->wanted = 1;
    if (pthread_create(&s->thread, NULL, spare_main, s) != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s->dir);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int bld_egress_spare_take(struct bld_egress_spare *s, int want_another, struct bld_egress_net *net)
{
    int got = 0;
    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->lock);
    while (!s->ready && !s->failed && (s->wanted || s->busy))
        pthread_cond_wait(&s->cond, &s->lock);
    if (s->ready) {
        *net = s->net;
        memset(&s->net, 0, sizeof(s->net));
        s->ready = 0;
        got = 1;
    }
    s->failed = 0;
    s->wanted = want_another;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return got;
}

void bld_egress_spare_stop(struct bld_egress_spare *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s->dir);
    free(s);
}
