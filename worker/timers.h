/*
 * timers.h - timer triggers (ACR's timer trigger): a repository's
 * `timers:` queue a run of a branch on a cron schedule.
 *
 *   timers:
 *     - schedule: "0 3 * * *"     minute hour day-of-month month day-of-week
 *       branch: main              the branch rule(s) matching it build
 *       timezone: UTC             UTC (default) or a fixed offset: +01:00, -0530
 *
 * The schedule is a 5-field cron expression as Vixie cron reads it: `*`,
 * lists `1,2`, ranges `1-5`, steps `*\/15` and `1-30/5`, names jan-dec and
 * sun-sat (7 is Sunday too), and @hourly @daily @midnight @weekly @monthly
 * @yearly @annually. When both day-of-month and day-of-week are restricted
 * (neither starts with `*`) a day matches when either does.
 *
 * Named time zones (Europe/Berlin) are refused: the scheduler runs in a
 * multi-threaded process where switching TZ for localtime_r is unsafe, so
 * times are computed with timegm/gmtime_r and a fixed offset.
 *
 * Every worker process runs the scheduler. A firing is claimed through the
 * database: its run carries the delivery id "timer:REPO:KEY@SLOT#RULE",
 * which is UNIQUE in the runs table and checked in the transaction that
 * queues the run, so however many processes see the slot one run is
 * queued. timer_fires remembers each timer's last slot: after a time when
 * no worker was up only the most recent missed slot fires, once; a timer
 * seen for the first time fires from its next slot on.
 */
#ifndef WRK_TIMERS_H
#define WRK_TIMERS_H

#include "core/db.h"
#include <stdint.h>

#include "core/error.h"
#include "registry/store.h"

struct wrk_cron {
    uint64_t minutes; /* bit n: minute n (0-59) */
    uint32_t hours;   /* bit n: hour n (0-23) */
    uint32_t days;    /* bit n: day of month n (1-31) */
    uint16_t months;  /* bit n: month n (1-12) */
    uint8_t weekdays; /* bit n: weekday n (0 = Sunday) */
    int dom_star;     /* the day-of-month field started with '*' */
    int dow_star;     /* the day-of-week field started with '*' */
    int offset_s;     /* the time zone: seconds east of UTC */
};

/* Parses a 5-field expression (or an @macro). The error names the field
 * and the item: `day-of-week: "8" is out of range 0-7 (or sun-sat)`. An
 * expression that can never fire ("0 0 31 2 *") is an error too.
 * out->offset_s is set to 0. */
int wrk_cron_parse(const char *expr, struct wrk_cron *out, sw_error **err);

/* Parses a time zone: "UTC", "Z", "GMT", "+01:00", "-0530", "UTC+2",
 * "+1". *offset_s gets seconds east of UTC. */
int wrk_cron_tz_parse(const char *tz, int *offset_s, sw_error **err);

/* The first firing strictly after `after` (seconds since the epoch), or
 * -1 when there is none within 8 years. */
int64_t wrk_cron_next(const struct wrk_cron *cron, int64_t after);

/* The latest firing in (after, now], or -1 when there is none. */
int64_t wrk_cron_latest(const struct wrk_cron *cron, int64_t after, int64_t now);

/* One timer of a repository (repos.h holds them). */
struct wrk_timer {
    char *schedule; /* as written */
    char *branch;
    char *timezone; /* as written, or NULL for UTC */
    char *key;      /* "schedule|branch|offset": names the timer in the database */
    struct wrk_cron cron;
};

void wrk_timer_clear(struct wrk_timer *timer);

struct wrk_repos;

/* One pass of the scheduler at time `now`: for every timer whose next slot
 * has come, queues one run per matching branch rule (trigger "timer").
 * *queued (may be NULL) gets the number of runs this call created. */
int wrk_timers_tick(sw_db *db, const struct wrk_repos *repos, int64_t now, int *queued,
                    sw_error **err);

/* 1 when any repository has a timer. */
int wrk_timers_any(const struct wrk_repos *repos);

typedef struct wrk_timers wrk_timers;

/* Starts a thread that calls wrk_timers_tick every TICK seconds on the
 * store's database; on_queued(ctx) is called after runs were queued (may be
 * NULL). *out is NULL (and 0 is returned) when no repository has timers. */
int wrk_timers_start(reg_store *store, const struct wrk_repos *repos, void (*on_queued)(void *),
                     void *ctx, wrk_timers **out, sw_error **err);

/* Stops and joins the thread, frees. Accepts NULL. */
void wrk_timers_stop(wrk_timers *timers);

#endif
