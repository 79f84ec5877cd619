/*
 * service.h - the build service's workers: threads that claim runs from
 * the queue (jobs.h) and carry them out, from the Git fetch to the tags.
 *
 * `slipway serve` starts them inside the server process (`workers: N`);
 * `slipway worker` starts them in a process of their own on the same data
 * dir. Either way a run goes:
 *
 *   claim (lease) -> fetch into the repository's mirror -> check out the
 *   exact commit -> build (Docker Hub's build variables as build args,
 *   SOURCE_DATE_EPOCH = the commit time) -> autotest -> all tags in one
 *   transaction -> finish -> base-image triggers, notify URLs, commit status
 *
 * while a heartbeat thread renews the lease and notices cancel requests.
 * Everything a run does is written to its log (runlog.h).
 */
#ifndef WRK_SERVICE_H
#define WRK_SERVICE_H

#include "core/config.h"
#include "core/error.h"
#include "registry/store.h"
#include "worker/repos.h"

typedef struct wrk_service wrk_service;

struct wrk_service_options {
    const struct sw_config *config; /* borrowed; outlives the service */
    const struct wrk_repos *repos;  /* borrowed */
    reg_store *store;               /* borrowed */
    int threads;                    /* worker threads (>= 1) */
    const char *name;               /* lease owner prefix, e.g. "serve-1234" */
};

/* Lease length and attempts from the config's `runs:` section. */
struct wrk_run_limits {
    int lease_s;          /* runs.lease, default 30 s */
    int max_attempts;     /* runs.max_attempts, default 3 */
    int64_t keep_s;       /* runs.keep, default 90 days; 0: forever */
    int64_t max_log_size; /* runs.max_log_size, default 64MiB; 0: no cap */
};
void wrk_run_limits_get(const struct sw_config *cfg, struct wrk_run_limits *out);

/* Worker processes alive on this data dir (serve's threads count as one
 * process) and their threads, from the workers table. */
int wrk_workers_alive(reg_store *store, int *processes, int *threads, sw_error **err);
/* The worker processes alive, as [{name, threads, platforms: ["linux/amd64",
 * ...]}] (the platforms each can run, worker/platforms.h). *out is owned by
 * the caller. */
int wrk_workers_describe(reg_store *store, json_t **out, sw_error **err);

int wrk_service_start(const struct wrk_service_options *opts, wrk_service **out, sw_error **err);

/* Wakes idle workers now (a run was just queued in this process). */
void wrk_service_wake(wrk_service *svc);

/* Replaces the repositories the workers build for (a config reload): runs
 * claimed from now on use them; a run in progress keeps the ones it started
 * with. repos must stay alive until the service stops. */
void wrk_service_set_repos(wrk_service *svc, const struct wrk_repos *repos);

/* Number of worker threads. */
int wrk_service_threads(const wrk_service *svc);

/* Stops claiming, stops the builds in progress and puts their runs back in
 * the queue for the next worker, joins the threads and frees the service.
 * Accepts NULL. */
void wrk_service_stop(wrk_service *svc);

#endif
