/*
 * timers.c - cron expressions and the timer scheduler (see timers.h).
 *
 * Times are computed in UTC with timegm/gmtime_r, which touch no global
 * state, shifted by the timer's fixed offset: nothing here reads TZ.
 */
#include "worker/timers.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/parse.h"
#include "core/db.h"
#include "core/log.h"
#include "worker/jobs.h"
#include "worker/repos.h"

#define TICK_S 2       /* how often the scheduler looks at the clock */
#define SEARCH_YEARS 8 /* a schedule that does not fire within this never fires */
#define MAX_RULES_PER_TIMER 16

/* ---- parsing ----------------------------------------------------------------- */

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
                                           "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

struct field {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] is min + i */
    const char *range_text;   /* for messages */
};

static const struct field fields[5] = {
    { "minute", 0, 59, NULL, "0-59" },
    { "hour", 0, 23, NULL, "0-23" },
    { "day-of-month", 1, 31, NULL, "1-31" },
    { "month", 1, 12, month_names, "1-12 (or jan-dec)" },
    { "day-of-week", 0, 7, day_names, "0-7 (or sun-sat)" },
};

static const struct {
    const char *name, *expr;
} macros[] = {
    { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
    { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
    { "@hourly", "0 * * * *" },
};

/* A number or a name at *p (advanced past it); -1 when neither. */
static int parse_value(const struct field *f, const char **p)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        if (isdigit((unsigned char)*s))
            return -1;
        *p = s;
        return (int)v;
    }
    if (f->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
        isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3])) {
        for (int i = 0; f->names[i]; i++)
            if (strncasecmp(s, f->names[i], 3) == 0) {
                *p = s + 3;
                return f->min + i;
            }
    }
    return -1;
}

/* One field (no spaces) into bits; *star when it starts with '*'. */
static int parse_field(const struct field *f, const char *text, uint64_t *bits, int *star,
                       sw_error **err)
{
    *bits = 0;
    *star = text[0] == '*';
    const char *p = text;
    for (;;) {
        const char *item = p;
        size_t item_len = strcspn(item, ",");
        int lo, hi, step = 1;
        if (item_len == 0)
            return sw_error_set(err, SW_EINVAL, "%s: empty list item in \"%s\"", f->name, text);
        if (*p == '*') {
            lo = f->min;
            hi = f->max;
            p++;
        } else {
            if ((lo = parse_value(f, &p)) < 0)
                goto bad_item;
            hi = lo;
            if (*p == '-') {
                p++;
                if ((hi = parse_value(f, &p)) < 0)
                    goto bad_item;
            }
            if (lo < f->min || lo > f->max || hi < f->min || hi > f->max)
                return sw_error_set(err, SW_EINVAL, "%s: \"%.*s\" is out of range %s", f->name,
                                    (int)item_len, item, f->range_text);
            if (hi < lo)
                return sw_error_set(err, SW_EINVAL,
                                    "%s: range \"%.*s\" goes backwards (write it as two ranges)",
                                    f->name, (int)item_len, item);
        }
        if (*p == '/') {
            if (item[0] != '*' && hi == lo && memchr(item, '-', item_len) == NULL)
                return sw_error_set(err, SW_EINVAL,
                                    "%s: a step needs a range or * before it: \"%.*s\"", f->name,
                                    (int)item_len, item);
            p++;
            const char *digits = p;
            while (isdigit((unsigned char)*p))
                p++;
            if (p == digits || p - digits > 3)
                goto bad_item;
            int64_t v = 0;
            sw_parse_int64_prefix(digits, 0, 999, &v, NULL); /* 1-3 digits, checked above */
            step = (int)v;
            if (step < 1 || step > f->max - f->min + 1)
                return sw_error_set(err, SW_EINVAL, "%s: step %d in \"%.*s\" is out of range 1-%d",
                                    f->name, step, (int)item_len, item, f->max - f->min + 1);
        }
        if (*p != ',' && *p != '\0')
            goto bad_item;
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ULL << v;
        if (*p == '\0')
            return 0;
        p++;
        continue;
    bad_item:
        return sw_error_set(err, SW_EINVAL, "%s: \"%.*s\" is not a number%s, a range or *", f->name,
                            (int)item_len, item, f->names ? ", a name" : "");
    }
}

int wrk_cron_parse(const char *expr, struct wrk_cron *out, sw_error **err)
{
    memset(out, 0, sizeof(*out));
    if (expr == NULL)
        return sw_error_set(err, SW_EINVAL, "empty schedule");
    while (isspace((unsigned char)*expr))
        expr++;
    if (expr[0] == '@') {
        size_t n = strcspn(expr, " \t");
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
            if (strlen(macros[i].name) == n && strncasecmp(expr, macros[i].name, n) == 0 &&
                expr[n + strspn(expr + n, " \t")] == '\0')
                return wrk_cron_parse(macros[i].expr, out, err);
        return sw_error_set(err, SW_EINVAL,
                            "unknown schedule \"%s\" (expected 5 fields, or @hourly, @daily,"
                            " @weekly, @monthly, @yearly)",
                            expr);
    }
    char text[5][64];
    int n = 0;
    const char *p = expr;
    while (*p) {
        size_t len = strcspn(p, " \t");
        if (n == 5) {
            n++;
            break;
        }
        if (len >= sizeof(text[0]))
            return sw_error_set(err, SW_EINVAL, "%s: \"%.20s...\" is too long", fields[n].name, p);
        memcpy(text[n], p, len);
        text[n][len] = '\0';
        n++;
        p += len;
        p += strspn(p, " \t");
    }
    if (n != 5)
        return sw_error_set(err, SW_EINVAL,
                            "expected 5 fields (minute hour day-of-month month day-of-week),"
                            " got %s%d",
                            n > 5 ? "more than " : "", n > 5 ? 5 : n);
    uint64_t bits[5];
    int star[5];
    for (int i = 0; i < 5; i++) {
        int rc = parse_field(&fields[i], text[i], &bits[i], &star[i], err);
        if (rc != 0)
            return rc;
    }
    if (bits[4] & (1ULL << 7))
        bits[4] = (bits[4] | 1ULL) & 0x7f; /* 7 is Sunday too */
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->days = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->weekdays = (uint8_t)bits[4];
    out->dom_star = star[2];
    out->dow_star = star[4];
    /* from a fixed point so the answer does not depend on today */
    if (wrk_cron_next(out, 946684800 /* 2000-01-01 */) < 0)
        return sw_error_set(err, SW_EINVAL,
                            "\"%s\" never fires (no month has that day of the month)", expr);
    return 0;
}

int wrk_cron_tz_parse(const char *tz, int *offset_s, sw_error **err)
{
    *offset_s = 0;
    const char *p = tz;
    if (strcasecmp(p, "UTC") == 0 || strcasecmp(p, "GMT") == 0 || strcasecmp(p, "Z") == 0 ||
        strcasecmp(p, "Etc/UTC") == 0)
        return 0;
    if (strncasecmp(p, "UTC", 3) == 0 || strncasecmp(p, "GMT", 3) == 0)
        p += 3;
    int sign = 0, hours = 0, minutes = 0, digits = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    const char *d = p;
    while (isdigit((unsigned char)*p) && p - d < 4)
        p++;
    digits = (int)(p - d);
    if (sign == 0 || digits == 0)
        goto bad;
    if (digits <= 2) {
        int64_t h = 0;
        sw_parse_int64_prefix(d, 0, 99, &h, NULL); /* 1-2 digits, checked above */
        hours = (int)h;
        if (*p == ':') {
            const char *m = ++p;
            while (isdigit((unsigned char)*p))
                p++;
            if (p - m != 2)
                goto bad;
            int64_t mm = 0;
            sw_parse_int64_prefix(m, 0, 99, &mm, NULL); /* 2 digits, checked above */
            minutes = (int)mm;
        }
    } else if (digits == 4) {
        hours = (d[0] - '0') * 10 + (d[1] - '0');
        minutes = (d[2] - '0') * 10 + (d[3] - '0');
    } else {
        goto bad;
    }
    if (*p != '\0' || hours > 14 || minutes > 59)
        goto bad;
    *offset_s = sign * (hours * 3600 + minutes * 60);
    return 0;
bad:
    if (strchr(tz, '/'))
        return sw_error_set(err, SW_EUNSUPPORTED,
                            "\"%s\": named time zones are not supported; use UTC or a fixed"
                            " offset such as +01:00 (which does not follow daylight saving time)",
                            tz);
    return sw_error_set(err, SW_EINVAL,
                        "\"%s\" is not a time zone (expected UTC or an offset such as +01:00,"
                        " -0530, UTC+2)",
                        tz);
}

/* ---- next firing ------------------------------------------------------------- */

static int day_matches(const struct wrk_cron *c, const struct tm *tm)
{
    int dom = (c->days >> tm->tm_mday) & 1;
    int dow = (c->weekdays >> tm->tm_wday) & 1;
    if (c->dom_star || c->dow_star)
        return dom && dow;
    return dom || dow; /* both restricted: either, as Vixie cron does */
}

int64_t wrk_cron_next(const struct wrk_cron *c, int64_t after)
{
    /* local wall-clock seconds, from the next whole minute */
    time_t t = (time_t)(after + c->offset_s);
    t = t - (t % 60 + 60) % 60 + 60;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return -1;
    int last_year = tm.tm_year + SEARCH_YEARS;
    while (tm.tm_year <= last_year) {
        if (!((c->months >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = 0;
        } else if (!day_matches(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = 0;
        } else if (!((c->hours >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = 0;
        } else if (!((c->minutes >> tm.tm_min) & 1)) {
            tm.tm_min++;
        } else {
            return (int64_t)timegm(&tm) - c->offset_s;
        }
        tm.tm_sec = 0;
        t = timegm(&tm); /* normalises the field that overflowed */
        if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL)
            return -1;
    }
    return -1;
}

int64_t wrk_cron_latest(const struct wrk_cron *c, int64_t after, int64_t now)
{
    int64_t first = wrk_cron_next(c, after);
    if (first < 0 || first > now)
        return -1;
    /* Skip ahead over a long gap: look in a growing window before now
     * first, so a dense schedule does not walk every slot since `after`. */
    static const int64_t windows[] = { 2 * 86400LL, 64 * 86400LL, 800 * 86400LL };
    int64_t start = first;
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        if (now - windows[i] <= first)
            break;
        int64_t s = wrk_cron_next(c, now - windows[i]);
        if (s >= 0 && s <= now) {
            start = s;
            break;
        }
    }
    int64_t latest = start;
    for (;;) {
        int64_t n = wrk_cron_next(c, latest);
        if (n < 0 || n > now)
            return latest;
        latest = n;
    }
}

void wrk_timer_clear(struct wrk_timer *timer)
{
    free(timer->schedule);
    free(timer->branch);
    free(timer->timezone);
    free(timer->key);
    memset(timer, 0, sizeof(*timer));
}

/* ---- the scheduler ----------------------------------------------------------- */

int wrk_timers_any(const struct wrk_repos *repos)
{
    for (size_t i = 0; repos && i < repos->n; i++)
        if (repos->repos[i].n_timers > 0)
            return 1;
    return 0;
}

/* The timer's last slot (or first-seen time); *found 0 when it has none. */
static int last_fire(sw_db *db, const char *repo, const char *key, int64_t *last, int *found,
                     sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "SELECT last_fire FROM timer_fires WHERE repo = ? AND timer = ?",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, repo, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, key, -1, SW_DB_STATIC);
    int step = sw_stmt_step(stmt);
    *found = step == SW_DB_ROW;
    if (*found)
        *last = sw_stmt_column_int64(stmt, 0);
    else if (step != SW_DB_DONE)
        rc = sw_db_error(db, err, "reading timer_fires");
    sw_stmt_finalize(stmt);
    return rc;
}

/* Records slot as the timer's last one (a first sighting when run_id is
 * NULL). Never moves it back: another process may have gone further. */
static int record_fire(sw_db *db, const char *repo, const char *key, int64_t slot,
                       const char *run_id, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO timer_fires (repo, timer, last_fire, run_id)"
                           " VALUES (?, ?, ?, ?) ON CONFLICT (repo, timer) DO UPDATE SET"
                           " last_fire = excluded.last_fire, run_id = excluded.run_id"
                           " WHERE excluded.last_fire > timer_fires.last_fire",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, repo, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, key, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 3, slot);
    sw_stmt_bind_text(stmt, 4, run_id, -1, SW_DB_STATIC);
    return sw_db_step_done(db, stmt, "recording a timer firing", err);
}

static int fire(sw_db *db, const struct wrk_repos *repos, const struct wrk_repo *repo,
                const struct wrk_timer *timer, int64_t slot, int *queued, sw_error **err)
{
    struct wrk_match m[MAX_RULES_PER_TIMER];
    size_t n = wrk_repo_match(repo, "branch", timer->branch, m, MAX_RULES_PER_TIMER);
    char last_run[WRK_RUN_ID_MAX] = "";
    int rc = 0;
    if (n == 0)
        sw_warn("timer \"%s\" of %s: no branch rule matches %s any more", timer->schedule,
                repo->name, timer->branch);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *delivery = NULL;
        char run_id[WRK_RUN_ID_MAX];
        int created = 0;
        if (asprintf(&delivery, "timer:%s:%s@%lld#%d", repo->name, timer->key, (long long)slot,
                     m[i].rule->index) < 0) {
            rc = sw_error_oom(err);
            break;
        }
        struct wrk_run_request req = {
            .repo = repo->name,
            .trigger = "timer",
            .source_type = "branch",
            .source_ref = timer->branch,
            .delivery_id = delivery,
            .id_prefix = repos->id_prefix,
            .rule = m[i].rule->index,
        };
        rc = wrk_jobs_enqueue(db, &req, run_id, &created, err);
        free(delivery);
        if (rc == 0) {
            snprintf(last_run, sizeof(last_run), "%s", run_id);
            if (created) {
                char when[32];
                time_t t = (time_t)slot;
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                sw_info("timer \"%s\" of %s: queued run %s of branch %s (rule %d) for %s",
                        timer->schedule, repo->name, run_id, timer->branch, m[i].rule->index + 1,
                        when);
                if (queued)
                    (*queued)++;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        wrk_match_clear(&m[i]);
    if (rc == 0)
        rc = record_fire(db, repo->name, timer->key, slot, last_run[0] ? last_run : NULL, err);
    return rc;
}

int wrk_timers_tick(sw_db *db, const struct wrk_repos *repos, int64_t now, int *queued,
                    sw_error **err)
{
    if (queued)
        *queued = 0;
    int rc = 0;
    for (size_t r = 0; repos && r < repos->n; r++) {
        const struct wrk_repo *repo = &repos->repos[r];
        for (size_t i = 0; i < repo->n_timers; i++) {
            const struct wrk_timer *timer = &repo->timers[i];
            int64_t last = 0;
            int found = 0;
            if ((rc = last_fire(db, repo->name, timer->key, &last, &found, err)) != 0)
                goto fail;
            if (!found) {
                /* first sighting: fire from the next slot on */
                if ((rc = record_fire(db, repo->name, timer->key, now, NULL, err)) != 0)
                    goto fail;
                continue;
            }
            int64_t slot = wrk_cron_latest(&timer->cron, last, now);
            if (slot < 0)
                continue;
            if ((rc = fire(db, repos, repo, timer, slot, queued, err)) != 0)
                goto fail;
        }
        continue;
    fail:
        sw_error_prefix(err, "timers of %s", repo->name);
        return rc;
    }
    return 0;
}

struct wrk_timers {
    reg_store *store;
    const struct wrk_repos *repos;
    void (*on_queued)(void *);
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
};

static void *timers_main(void *arg)
{
    wrk_timers *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        pthread_mutex_unlock(&t->lock);
        sw_db *db = NULL;
        sw_error *e = NULL;
        int queued = 0;
        if (reg_store_db(t->store, &db, &e) != 0 ||
            wrk_timers_tick(db, t->repos, (int64_t)time(NULL), &queued, &e) != 0)
            sw_warn("%s", sw_error_message(e));
        sw_error_clear(&e);
        if (queued > 0 && t->on_queued)
            t->on_queued(t->ctx);
        pthread_mutex_lock(&t->lock);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += TICK_S;
        while (!t->stopping && pthread_cond_timedwait(&t->cond, &t->lock, &deadline) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int wrk_timers_start(reg_store *store, const struct wrk_repos *repos, void (*on_queued)(void *),
                     void *ctx, wrk_timers **out, sw_error **err)
{
    *out = NULL;
    if (!wrk_timers_any(repos))
        return 0;
    wrk_timers *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return sw_error_oom(err);
    t->store = store;
    t->repos = repos;
    t->on_queued = on_queued;
    t->ctx = ctx;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    int e = pthread_create(&t->thread, NULL, timers_main, t);
    if (e != 0) {
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->cond);
        free(t);
        return sw_error_sys(err, SW_EIO, e, "starting the timer thread");
    }
    size_t n = 0;
    for (size_t i = 0; i < repos->n; i++)
        n += repos->repos[i].n_timers;
    sw_info("%zu timer%s scheduled (checked every %d s)", n, n == 1 ? "" : "s", TICK_S);
    *out = t;
    return 0;
}

void wrk_timers_stop(wrk_timers *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    free(t);
}
