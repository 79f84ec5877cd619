/*
 * build.h - the image builder: a Dockerfile and a context become an image
 * in the store (what `docker build` + `docker push` do).
 *
 * Stages are built in order, only those the target needs. FROM resolves an
 * earlier stage, an image in our store, or pulls one through the registry
 * client; RUN runs in runc on an overlay of the layer directories; COPY
 * and ADD write into a fresh upper directory; every other instruction
 * changes the image config. Each step that makes a layer is looked up in
 * the build cache first. With a source date epoch the result is
 * reproducible: the same inputs give the same manifest digest.
 */
#ifndef BLD_BUILD_H
#define BLD_BUILD_H

#include <stdatomic.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compress.h"
#include "core/config.h"
#include "builder/sandbox.h"
#include "builder/ssh_agent.h"
#include "core/hash.h"
#include "registry/store.h"

/* A step starting (done == 0) or ending (done == 1), for callers that show
 * per-step progress (the build service's run page). */
struct bld_step_event {
    int index; /* 1-based, over the stages built */
    int total;
    const char *instruction; /* as written in the Dockerfile */
    int line;                /* its Dockerfile line */
    int done;
    int cached;        /* done: taken from the build cache */
    int failed;        /* done: the step failed */
    const char *error; /* failed: the message, or NULL */
};

/* A build secret (RUN --mount=type=secret,id=ID): its value is never
 * written to a layer, the image, the cache, the database or the log (lines
 * of step output holding it are masked with "***"). */
struct bld_secret {
    const char *id;
    const char *value; /* NUL-terminated */
};

struct bld_build_options {
    const char *context_dir; /* required */
    const char *dockerfile;  /* NULL: <context>/Dockerfile */
    const char *const *tags; /* "repo:tag" or "repo" (latest) */
    size_t n_tags;
    const char *const *build_args; /* "K=V", or "K" to take it from the environment */
    size_t n_build_args;
    const char *target; /* stage name; NULL: the last stage */
    int no_cache;
    int network_host;     /* RUN with the host network */
    const char *platform; /* NULL: the host's */
    enum sw_compression compression;
    int64_t source_date_epoch;      /* < 0: none (times are "now") */
    const char *runtime;            /* NULL: "runc" */
    int64_t step_timeout_s;         /* 0: none */
    const struct sw_config *config; /* local_hosts, mirrors; may be NULL */
    int progress_fd;                /* step lines and container output */
    const atomic_int *cancel;       /* set from another thread to stop */
    json_t *labels;                 /* extra labels for the final image (borrowed) */
    const char *repo;               /* with no tags: store the image, untagged,
                                       in this repository (NULL: an internal one) */
    /* may be NULL; when set, the step header and DONE/CACHED lines are
     * left to it instead of being written to progress_fd */
    void (*on_step)(void *ctx, const struct bld_step_event *ev);
    void *step_ctx;
    /* "egress" | "none" | "host"; NULL: "host" when network_host, else
     * config->network, else "egress". builder.egress, builder.allow and
     * builder.add_max_size come from config (NULL: their defaults). */
    const char *network;
    /* Tenancy (docs/build-service.md "Identity"). With check_access, every
     * image of our store that FROM or COPY --from reads must be pullable by
     * run_as (NULL: anonymous) under registry.auth of config, else the step
     * fails naming the image and the identity; identity_of says where the
     * identity comes from, for that message ("run_as of team/app"). */
    int check_access;
    const char *run_as;
    const char *identity_of;
    /* Build cache entries are made and found only within this scope (the
     * service passes the repository and its identity), so no build reuses
     * a layer another repository's build made. NULL: the shared scope. */
    const char *cache_scope;
    struct bld_output_cap *output_cap; /* caps container output; may be NULL */
    /* RUN --mount=type=secret sources (borrowed) */
    const struct bld_secret *secrets;
    size_t n_secrets;
    /* RUN --mount=type=ssh sources (borrowed). The caller decides who gets
     * one: NULL forwards nothing (a build that must not use the
     * repository's key, such as a fork's pull request). */
    const struct bld_ssh_source *ssh;
    size_t n_ssh;
    /* Remember the content digests of unchanged context files between
     * builds of the same context directory (builder/copy_memo.c), so a
     * rebuild stats them instead of reading them: for a context that stays
     * in place (`slipway build`); a fresh checkout per build gains nothing. */
    int context_memo;
};

struct bld_build_result {
    char digest[SW_DIGEST_MAX]; /* the final image manifest */
    char repo[256];             /* the repository it was first stored in */
    int steps;                  /* steps run or taken from the cache */
    int cached_steps;
    json_t *base_images; /* ["repo:tag", ...] the final stage's
                            base images, for rebuild triggers */
};

/* Runs a build. Errors name the Dockerfile line and the step, e.g.
 * "Dockerfile:7: RUN make: exited with code 2". Nothing is tagged unless
 * every step succeeded. Release the result with bld_build_result_release. */
int bld_build(reg_store *store, const struct bld_build_options *opts,
              struct bld_build_result *result, sw_error **err);

void bld_build_result_release(struct bld_build_result *result);

#endif
