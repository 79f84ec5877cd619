/*
 * outbox.h - the messages runs send out (notify webhooks, commit
 * statuses), queued in SQLite and delivered by a courier with retries.
 *
 * A run only adds deliveries; it never waits on a receiver. Each worker
 * process runs a courier (worker/service.c) that claims due deliveries
 * with a lease, POSTs them and records the outcome. Deliveries of one run
 * to one URL go out in the order they were added (a commit's "pending"
 * before its "success"); others do not wait on each other.
 *
 * This file is the outbox's data-access module: all of its SQL lives here.
 */
#ifndef WRK_OUTBOX_H
#define WRK_OUTBOX_H

#include <jansson.h>
#include "core/db.h"
#include <stdint.h>

#include "core/error.h"

struct wrk_repo;

/* Tries per delivery; the waits between them double from 1 s (1, 2, 4 ...
 * 64 s: about two minutes in all). */
#define WRK_OUTBOX_MAX_ATTEMPTS 8

struct wrk_delivery {
    int64_t id;
    char *run_id;
    char *repo;
    char *kind; /* "notify" or "status" */
    char *url;
    char *body;   /* JSON text */
    int attempts; /* including the one under way */
};

void wrk_delivery_release(struct wrk_delivery *d);

/* The notification channel (core/db.h) on which a delivery due now is
 * announced (queued, given back); payload: the run id. Couriers wait on it
 * and on wrk_outbox_next_due. */
#define WRK_OUTBOX_CHANNEL "sw_outbox"

/* When the next pending delivery falls due (seconds since the epoch): its
 * next_at, or for one being sent the end of its courier's lease; 0 when
 * none is pending. */
int wrk_outbox_next_due(sw_db *db, int64_t *at, sw_error **err);

/* Queues body (JSON) for url, due now. kind: "notify" or "status". */
int wrk_outbox_add(sw_db *db, const char *run_id, const char *repo, const char *kind,
                   const char *url, const json_t *body, sw_error **err);

/* Claims the delivery due first for lease_s seconds and counts an attempt.
 * SW_ENOTFOUND when nothing is due. A delivery whose courier died with it
 * (lease expired) is due again, or failed when it had all its attempts. */
int wrk_outbox_claim(sw_db *db, const char *owner, int lease_s, struct wrk_delivery *out,
                     sw_error **err);

/* Records how a claimed delivery went: error NULL means delivered; else it
 * is tried again after a backoff when retry is set and attempts remain,
 * and failed with error otherwise. */
int wrk_outbox_done(sw_db *db, const struct wrk_delivery *d, const char *owner, const char *error,
                    int retry, sw_error **err);

/* Gives a claimed delivery back, its attempt not counted (the courier is
 * stopping in the middle of it). */
int wrk_outbox_giveback(sw_db *db, const struct wrk_delivery *d, const char *owner, sw_error **err);

/* A run's deliveries as the API's JSON array (docs/api.md): kind, target
 * (the URL's origin only: a webhook URL's path is often its secret),
 * state, attempts, error and times. */
int wrk_outbox_list(sw_db *db, const char *run_id, json_t **out, sw_error **err);

/* "scheme://host[:port]" of url, plus "/…" when it has more; malloc'd.
 * Drops any user:password@. For logs and pages that anyone may read. */
char *wrk_url_origin(const char *url);

/* Notify URLs carry secrets in their paths, so the outbox does not hold
 * them: wrk_notify_ref makes what is stored instead, "notify:<sha256 of the
 * URL>:<origin>", and wrk_notify_resolve finds the URL again in the repo's
 * rules at send time (NULL when the config no longer has it; borrowed).
 * wrk_outbox_target is what may be shown of a stored URL or reference: its
 * origin (malloc'd). */
char *wrk_notify_ref(const char *url);
const char *wrk_notify_resolve(const struct wrk_repo *repo, const char *ref);
char *wrk_outbox_target(const char *stored);

#endif
