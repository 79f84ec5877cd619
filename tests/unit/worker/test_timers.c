/*
 * test_timers.c - worker/timers.c: the cron parser (every syntax element
 * and its errors), next and latest firings across month, year and leap
 * day ends, fixed offsets, the `timers:` config, and the scheduler's
 * claims in the database with an injected clock: one run per slot however
 * many processes tick, one run for a gap, none for a new timer's past.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/db.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/jobs.h"
#include "worker/repos.h"
#include "worker/timers.h"

static char *dir;

/* "2026-03-01 00:00" (UTC) as seconds since the epoch. */
static int64_t at(const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (strptime(text, "%Y-%m-%d %H:%M", &tm) == NULL)
        abort();
    return (int64_t)timegm(&tm);
}

static char when_buf[64];
static const char *when(int64_t t)
{
    if (t < 0)
        return "never";
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(when_buf, sizeof(when_buf), "%Y-%m-%d %H:%M %a", &tm);
    return when_buf;
}

/* The next firing after `after` of expr, formatted. */
static const char *next_of(const char *expr, const char *after)
{
    struct wrk_cron c;
    sw_error *err = NULL;
    if (wrk_cron_parse(expr, &c, &err) != 0) {
        snprintf(when_buf, sizeof(when_buf), "error: %s", sw_error_message(err));
        sw_error_clear(&err);
        return when_buf;
    }
    return when(wrk_cron_next(&c, at(after)));
}

static char msg[512];
static const char *parse_error(const char *expr)
{
    struct wrk_cron c;
    sw_error *err = NULL;
    if (wrk_cron_parse(expr, &c, &err) == 0)
        return "(parsed)";
    snprintf(msg, sizeof(msg), "%s", sw_error_message(err));
    sw_error_clear(&err);
    return msg;
}

static void test_fields(void)
{
    struct wrk_cron c;
    CHECK_INT_EQ(wrk_cron_parse("* * * * *", &c, NULL), 0);
    CHECK(c.minutes == (1ULL << 60) - 1);
    CHECK_INT_EQ(c.hours, (1u << 24) - 1);
    CHECK_INT_EQ(c.days, 0xfffffffeu);
    CHECK_INT_EQ(c.months, 0x1ffe);
    CHECK_INT_EQ(c.weekdays, 0x7f);
    CHECK(c.dom_star && c.dow_star);
    /* lists, ranges, steps over * and over ranges */
    CHECK_INT_EQ(wrk_cron_parse("1,2,59 */6 1-3 */5 1-5/2", &c, NULL), 0);
    CHECK(c.minutes == ((1ULL << 1) | (1ULL << 2) | (1ULL << 59)));
    CHECK_INT_EQ(c.hours, (1 << 0) | (1 << 6) | (1 << 12) | (1 << 18));
    CHECK_INT_EQ(c.days, (1 << 1) | (1 << 2) | (1 << 3));
    CHECK_INT_EQ(c.months, (1 << 1) | (1 << 6) | (1 << 11));
    CHECK_INT_EQ(c.weekdays, (1 << 1) | (1 << 3) | (1 << 5));
    CHECK(!c.dom_star && !c.dow_star);
    CHECK_INT_EQ(wrk_cron_parse("0-30/10 0 * * *", &c, NULL), 0);
    CHECK(c.minutes == ((1ULL << 0) | (1ULL << 10) | (1ULL << 20) | (1ULL << 30)));
    /* names, case-insensitive, in ranges and lists; 7 and 0 are Sunday */
    CHECK_INT_EQ(wrk_cron_parse("0 0 * JAN-mar,Dec mon-FRI", &c, NULL), 0);
    CHECK_INT_EQ(c.months, (1 << 1) | (1 << 2) | (1 << 3) | (1 << 12));
    CHECK_INT_EQ(c.weekdays, 0x3e);
    CHECK_INT_EQ(wrk_cron_parse("0 0 * * 7", &c, NULL), 0);
    CHECK_INT_EQ(c.weekdays, 1);
    CHECK_INT_EQ(wrk_cron_parse("0 0 * * 5-7", &c, NULL), 0);
    CHECK_INT_EQ(c.weekdays, (1 << 5) | (1 << 6) | 1);
    CHECK_INT_EQ(wrk_cron_parse("0 0 * * sun", &c, NULL), 0);
    CHECK_INT_EQ(c.weekdays, 1);
    /* extra blanks, tabs */
    CHECK_INT_EQ(wrk_cron_parse("  5\t4  *  * *  ", &c, NULL), 0);
    CHECK(c.minutes == 1ULL << 5);
    /* macros */
    CHECK_INT_EQ(wrk_cron_parse("@daily", &c, NULL), 0);
    CHECK(c.minutes == 1 && c.hours == 1);
    CHECK_INT_EQ(wrk_cron_parse("@hourly", &c, NULL), 0);
    CHECK(c.minutes == 1 && c.hours == (1u << 24) - 1);
    CHECK_INT_EQ(wrk_cron_parse("@weekly", &c, NULL), 0);
    CHECK_INT_EQ(c.weekdays, 1);
}

static void test_errors(void)
{
    CHECK_STR_EQ(parse_error(""), "expected 5 fields (minute hour day-of-month month"
                                  " day-of-week), got 0");
    CHECK_STR_EQ(parse_error("* * * *"), "expected 5 fields (minute hour day-of-month month"
                                         " day-of-week), got 4");
    CHECK_STR_EQ(parse_error("* * * * * *"), "expected 5 fields (minute hour day-of-month month"
                                             " day-of-week), got more than 5");
    CHECK_STR_EQ(parse_error("60 * * * *"), "minute: \"60\" is out of range 0-59");
    CHECK_STR_EQ(parse_error("* 24 * * *"), "hour: \"24\" is out of range 0-23");
    CHECK_STR_EQ(parse_error("* * 0 * *"), "day-of-month: \"0\" is out of range 1-31");
    CHECK_STR_EQ(parse_error("* * * 13 *"), "month: \"13\" is out of range 1-12 (or jan-dec)");
    CHECK_STR_EQ(parse_error("* * * * 8"), "day-of-week: \"8\" is out of range 0-7 (or sun-sat)");
    CHECK_STR_EQ(parse_error("5-1 * * * *"),
                 "minute: range \"5-1\" goes backwards (write it as two ranges)");
    CHECK_STR_EQ(parse_error("*/0 * * * *"), "minute: step 0 in \"*/0\" is out of range 1-60");
    CHECK_STR_EQ(parse_error("5/15 * * * *"),
                 "minute: a step needs a range or * before it: \"5/15\"");
    CHECK_STR_EQ(parse_error("1,,2 * * * *"), "minute: empty list item in \"1,,2\"");
    CHECK_STR_EQ(parse_error("1, * * * *"), "minute: empty list item in \"1,\"");
    CHECK_STR_EQ(parse_error("x * * * *"), "minute: \"x\" is not a number, a range or *");
    CHECK_STR_EQ(parse_error("* * * foo *"),
                 "month: \"foo\" is not a number, a name, a range or *");
    CHECK_STR_EQ(parse_error("* * * * monday"),
                 "day-of-week: \"monday\" is not a number, a name, a range or *");
    CHECK_STR_EQ(parse_error("* * * jan *x"),
                 "day-of-week: \"*x\" is not a number, a name, a range or *");
    CHECK_STR_EQ(parse_error("1-2-3 * * * *"), "minute: \"1-2-3\" is not a number, a range or *");
    CHECK_STR_EQ(parse_error("*/ * * * *"), "minute: \"*/\" is not a number, a range or *");
    CHECK_STR_EQ(parse_error("99999999999 * * * *"),
                 "minute: \"99999999999\" is not a number, a range or *");
    CHECK_STR_EQ(parse_error("-1 * * * *"), "minute: \"-1\" is not a number, a range or *");
    CHECK_STR_EQ(parse_error("0 0 31 2 *"), "\"0 0 31 2 *\" never fires (no month has that day"
                                            " of the month)");
    CHECK_STR_EQ(parse_error("0 0 31 apr,jun,sep,nov *"),
                 "\"0 0 31 apr,jun,sep,nov *\" never fires (no month has that day of the month)");
    CHECK_STR_EQ(parse_error("@often"), "unknown schedule \"@often\" (expected 5 fields, or"
                                        " @hourly, @daily, @weekly, @monthly, @yearly)");
    CHECK(
        strstr(parse_error("0123456789012345678901234567890123456789012345678901234567890123456789"
                           " * * * *"),
               "too long") != NULL);
    /* both restricted: either matches, so Feb 31st on Mondays fires */
    CHECK_STR_EQ(parse_error("0 0 31 2 mon"), "(parsed)");
}

static void test_next(void)
{
    CHECK_STR_EQ(next_of("* * * * *", "2026-03-01 10:00"), "2026-03-01 10:01 Sun");
    CHECK_STR_EQ(next_of("0 3 * * *", "2026-03-01 03:00"), "2026-03-02 03:00 Mon");
    CHECK_STR_EQ(next_of("0 3 * * *", "2026-03-01 02:59"), "2026-03-01 03:00 Sun");
    CHECK_STR_EQ(next_of("*/15 * * * *", "2026-03-01 10:07"), "2026-03-01 10:15 Sun");
    CHECK_STR_EQ(next_of("1-30/5 * * * *", "2026-03-01 10:27"), "2026-03-01 11:01 Sun");
    /* month and year ends */
    CHECK_STR_EQ(next_of("59 23 * * *", "2026-12-31 23:59"), "2027-01-01 23:59 Fri");
    CHECK_STR_EQ(next_of("0 0 1 * *", "2026-12-15 00:00"), "2027-01-01 00:00 Fri");
    CHECK_STR_EQ(next_of("0 0 31 * *", "2026-04-01 00:00"), "2026-05-31 00:00 Sun");
    CHECK_STR_EQ(next_of("0 12 30 * *", "2026-01-31 00:00"), "2026-03-30 12:00 Mon");
    /* leap days */
    CHECK_STR_EQ(next_of("0 0 29 2 *", "2026-03-01 00:00"), "2028-02-29 00:00 Tue");
    CHECK_STR_EQ(next_of("0 0 29 feb *", "2096-03-01 00:00"), "2104-02-29 00:00 Fri");
    CHECK_STR_EQ(next_of("0 0 L * *", "2026-03-01 00:00"),
                 "error: day-of-month: \"L\" is not a number, a range or *");
    /* day of week alone, names, Sunday as 7 */
    CHECK_STR_EQ(next_of("30 8 * * mon-fri", "2026-03-06 09:00"), "2026-03-09 08:30 Mon");
    CHECK_STR_EQ(next_of("0 0 * * 7", "2026-03-02 00:00"), "2026-03-08 00:00 Sun");
    /* Vixie's OR: the 13th or any Friday */
    CHECK_STR_EQ(next_of("0 0 13 * 5", "2026-03-01 00:00"), "2026-03-06 00:00 Fri");
    CHECK_STR_EQ(next_of("0 0 13 * 5", "2026-03-10 00:00"), "2026-03-13 00:00 Fri");
    CHECK_STR_EQ(next_of("0 0 13 * 1", "2026-03-10 00:00"), "2026-03-13 00:00 Fri");
    /* a '*' field (even stepped) makes it AND: days 1-31 step 2 that are Mondays */
    CHECK_STR_EQ(next_of("0 0 */2 * mon", "2026-03-01 00:00"), "2026-03-09 00:00 Mon");
    CHECK_STR_EQ(next_of("0 0 1 * */7", "2026-03-02 00:00"), "2026-11-01 00:00 Sun");
    /* a time that is not on a minute */
    struct wrk_cron c;
    wrk_cron_parse("* * * * *", &c, NULL);
    CHECK_INT_EQ(wrk_cron_next(&c, at("2026-03-01 10:00") + 59), at("2026-03-01 10:01"));
    CHECK_INT_EQ(wrk_cron_next(&c, at("2026-03-01 10:00") - 1), at("2026-03-01 10:00"));
}

static void test_offsets(void)
{
    int off = 0;
    CHECK_INT_EQ(wrk_cron_tz_parse("UTC", &off, NULL), 0);
    CHECK_INT_EQ(off, 0);
    CHECK_INT_EQ(wrk_cron_tz_parse("+01:00", &off, NULL), 0);
    CHECK_INT_EQ(off, 3600);
    CHECK_INT_EQ(wrk_cron_tz_parse("-0530", &off, NULL), 0);
    CHECK_INT_EQ(off, -(5 * 3600 + 30 * 60));
    CHECK_INT_EQ(wrk_cron_tz_parse("UTC+2", &off, NULL), 0);
    CHECK_INT_EQ(off, 7200);
    CHECK_INT_EQ(wrk_cron_tz_parse("GMT-10", &off, NULL), 0);
    CHECK_INT_EQ(off, -36000);
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_cron_tz_parse("Europe/Berlin", &off, &err), SW_EUNSUPPORTED);
    CHECK(strstr(sw_error_message(err), "named time zones are not supported") != NULL);
    sw_error_clear(&err);
    CHECK_INT_EQ(wrk_cron_tz_parse("+15:00", &off, &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "is not a time zone") != NULL);
    sw_error_clear(&err);
    CHECK_INT_EQ(wrk_cron_tz_parse("+1:5", &off, NULL), SW_EINVAL);
    CHECK_INT_EQ(wrk_cron_tz_parse("CET", &off, NULL), SW_EINVAL);
    CHECK_INT_EQ(wrk_cron_tz_parse("+01:00x", &off, NULL), SW_EINVAL);

    /* 03:00 at +01:00 is 02:00 UTC; the local day decides the weekday */
    struct wrk_cron c;
    wrk_cron_parse("0 3 * * *", &c, NULL);
    c.offset_s = 3600;
    CHECK_STR_EQ(when(wrk_cron_next(&c, at("2026-03-01 10:00"))), "2026-03-02 02:00 Mon");
    wrk_cron_parse("30 0 * * mon", &c, NULL);
    c.offset_s = 2 * 3600;
    CHECK_STR_EQ(when(wrk_cron_next(&c, at("2026-03-01 10:00"))), "2026-03-01 22:30 Sun");
    wrk_cron_parse("0 0 1 1 *", &c, NULL);
    c.offset_s = -5 * 3600;
    CHECK_STR_EQ(when(wrk_cron_next(&c, at("2026-12-31 12:00"))), "2027-01-01 05:00 Fri");
}

static void test_latest(void)
{
    struct wrk_cron c;
    wrk_cron_parse("* * * * *", &c, NULL);
    int64_t t0 = at("2026-03-01 10:00");
    CHECK_INT_EQ(wrk_cron_latest(&c, t0, t0 + 59), -1);
    CHECK_INT_EQ(wrk_cron_latest(&c, t0, t0 + 60), t0 + 60);
    CHECK_INT_EQ(wrk_cron_latest(&c, t0, t0 + 185), t0 + 180);
    /* a year of per-minute slots: the last one, found quickly */
    CHECK_INT_EQ(wrk_cron_latest(&c, t0, t0 + 365 * 86400LL + 30), t0 + 365 * 86400LL);
    wrk_cron_parse("0 3 * * *", &c, NULL);
    CHECK_STR_EQ(when(wrk_cron_latest(&c, t0, at("2026-03-20 02:00"))), "2026-03-19 03:00 Thu");
    wrk_cron_parse("0 0 29 2 *", &c, NULL);
    CHECK_STR_EQ(when(wrk_cron_latest(&c, at("2019-01-01 00:00"), at("2027-01-01 00:00"))),
                 "2024-02-29 00:00 Thu");
    wrk_cron_parse("0 0 1 1 *", &c, NULL);
    CHECK_STR_EQ(when(wrk_cron_latest(&c, at("2020-06-01 00:00"), at("2026-06-01 00:00"))),
                 "2026-01-01 00:00 Thu");
}

/* Random expressions made of cron's pieces (often out of range or
 * malformed): an error with a message, or a schedule whose next firing is a
 * later whole minute and agrees with wrk_cron_latest. */
static unsigned seed = 12345;
static int rnd(int n)
{
    seed = seed * 1103515245u + 12345u;
    return (int)((seed >> 16) % (unsigned)n);
}

/* One random field of range lo-hi (sometimes a little outside it). */
static int random_field(char *out, size_t size, int lo, int hi)
{
    int span = hi - lo + 1;
    int a = lo + rnd(span + 2) - (rnd(10) == 0), b = a + rnd(span), step = 1 + rnd(span + 1);
    switch (rnd(12)) {
    case 0:
    case 1:
        return snprintf(out, size, "*");
    case 2:
        return snprintf(out, size, "*/%d", step);
    case 3:
    case 4:
        return snprintf(out, size, "%d", a);
    case 5:
        return snprintf(out, size, "%d-%d", a, b);
    case 6:
        return snprintf(out, size, "%d-%d/%d", a, b, step);
    case 7:
        return snprintf(out, size, "%d,%d", a, b);
    case 8:
        return snprintf(out, size, "%s", lo == 0 && hi == 7 ? "mon-fri" : "jan");
    case 9:
        return snprintf(out, size, "%d/%d", a, step);
    case 10:
        return snprintf(out, size, "%s", rnd(2) ? "" : "*x");
    default:
        return snprintf(out, size, "%d,%d-%d,*/%d", a, a, b, step);
    }
}

static void test_random(void)
{
    static const int ranges[5][2] = { { 0, 59 }, { 0, 23 }, { 1, 31 }, { 1, 12 }, { 0, 7 } };
    int parsed = 0;
    for (int i = 0; i < 30000; i++) {
        char expr[300] = "";
        size_t used = 0;
        int fields_n = rnd(20) == 0 ? 4 + rnd(3) : 5;
        for (int f = 0; f < fields_n; f++) {
            if (f > 0)
                expr[used++] = ' ';
            used += (size_t)random_field(expr + used, sizeof(expr) - used, ranges[f % 5][0],
                                         ranges[f % 5][1]);
        }
        struct wrk_cron c;
        sw_error *err = NULL;
        if (wrk_cron_parse(expr, &c, &err) != 0) {
            CHECK(err != NULL && strlen(sw_error_message(err)) > 0);
            sw_error_clear(&err);
            continue;
        }
        parsed++;
        int64_t after = at("2026-02-27 23:58") + (int64_t)rnd(5000) * 61;
        int64_t next = wrk_cron_next(&c, after);
        CHECK(next > after && next % 60 == 0);
        CHECK(wrk_cron_latest(&c, after, next) == next);
        CHECK(wrk_cron_latest(&c, after, next - 1) == -1);
    }
    CHECK(parsed > 1000);
}

/* ---- config ----------------------------------------------------------------- */

static int load(const char *yaml, struct wrk_repos **repos, char *out, size_t size)
{
    char *path = NULL, *text = NULL;
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    if (asprintf(&path, "%s/slipway.yaml", dir) < 0 ||
        asprintf(&text, "server:\n  data_dir: %s/data\n%s", dir, yaml) < 0)
        abort();
    sw_write_file_atomic(path, text, strlen(text), 0644, NULL);
    *repos = NULL;
    int rc = sw_config_load(path, &cfg, &err);
    if (rc == 0)
        rc = wrk_repos_load(cfg, repos, &err);
    snprintf(out, size, "%s", rc ? sw_error_message(err) : "");
    sw_error_clear(&err);
    sw_config_free(cfg);
    free(path);
    free(text);
    return rc;
}

#define REPO_HEAD                                                                                  \
    "repos:\n"                                                                                     \
    "  - name: demo/app\n"                                                                         \
    "    git: https://example.test/acme/app.git\n"                                                 \
    "    rules:\n"                                                                                 \
    "      - { source_type: branch, source: main }\n"                                              \
    "      - { source_type: branch, source: \"/^rel-.*/\" }\n"                                     \
    "      - { source_type: tag, source: \"/^v/\" }\n"

static const char *load_error(const char *timers)
{
    static char out[512];
    char *yaml = NULL;
    struct wrk_repos *repos = NULL;
    if (asprintf(&yaml, REPO_HEAD "%s", timers) < 0)
        abort();
    if (load(yaml, &repos, out, sizeof(out)) == 0)
        snprintf(out, sizeof(out), "(loaded)");
    wrk_repos_free(repos);
    free(yaml);
    /* the file name varies; keep from the line number on */
    char *colon = strstr(out, ".yaml:");
    return colon ? colon + 6 : out;
}

static void test_config(void)
{
    struct wrk_repos *repos = NULL;
    char err[512];
    CHECK_INT_EQ(load(REPO_HEAD "    timers:\n"
                                "      - schedule: \"0 3 * * *\"\n"
                                "        branch: main\n"
                                "      - { schedule: \"*/5 * * * mon-fri\", branch: rel-2,"
                                " timezone: \"+02:00\" }\n",
                      &repos, err, sizeof(err)),
                 0);
    CHECK_STR_EQ(err, "");
    if (repos) {
        CHECK_INT_EQ(repos->repos[0].n_timers, 2);
        CHECK_STR_EQ(repos->repos[0].timers[0].schedule, "0 3 * * *");
        CHECK_STR_EQ(repos->repos[0].timers[0].branch, "main");
        CHECK_STR_EQ(repos->repos[0].timers[0].key, "0 3 * * *|main|0");
        CHECK_INT_EQ(repos->repos[0].timers[1].cron.offset_s, 7200);
        CHECK_STR_EQ(repos->repos[0].timers[1].timezone, "+02:00");
        CHECK(wrk_timers_any(repos));
    }
    wrk_repos_free(repos);
    CHECK_STR_EQ(load_error(""), "(loaded)");
    CHECK_STR_EQ(load_error("    timers: []\n"), "(loaded)");
    CHECK_STR_EQ(load_error("    timers:\n      - { schedule: \"61 * * * *\", branch: main }\n"),
                 "11: repos[demo/app].timers[1].schedule: minute: \"61\" is out of range 0-59");
    CHECK_STR_EQ(load_error("    timers:\n"
                            "      - { schedule: \"* * * * *\", branch: main }\n"
                            "      - { schedule: \"0 3 * *\", branch: main }\n"),
                 "12: repos[demo/app].timers[2].schedule: expected 5 fields (minute hour"
                 " day-of-month month day-of-week), got 4");
    CHECK_STR_EQ(load_error("    timers:\n      - { schedule: \"* * * * *\", branch: dev }\n"),
                 "11: repos[demo/app].timers[1].branch: no rule with source_type: branch"
                 " matches \"dev\"");
    CHECK_STR_EQ(load_error("    timers:\n      - { schedule: \"* * * * *\" }\n"),
                 "11: repos[demo/app].timers[1].branch: required: the branch to build");
    CHECK_STR_EQ(load_error("    timers:\n      - { branch: main }\n"),
                 "11: repos[demo/app].timers[1].schedule: required: a cron expression, e.g."
                 " \"0 3 * * *\" (03:00 every day)");
    CHECK_STR_EQ(load_error("    timers:\n      - { schedule: \"@daily\", branch: main,"
                            " timezone: Europe/Berlin }\n"),
                 "11: repos[demo/app].timers[1].timezone: \"Europe/Berlin\": named time zones"
                 " are not supported; use UTC or a fixed offset such as +01:00 (which does not"
                 " follow daylight saving time)");
    CHECK_STR_EQ(load_error("    timers:\n      - { schedule: \"@daily\", branch: main,"
                            " every: 1m }\n"),
                 "11: repos[demo/app].timers[1].every: unknown key");
    CHECK_STR_EQ(load_error("    timers:\n"
                            "      - { schedule: \"0 3 * * *\", branch: main }\n"
                            "      - { schedule: \"0 3 * * *\", branch: main, timezone: Z }\n"),
                 "12: repos[demo/app].timers[2]: the same schedule, branch and time zone as"
                 " timers[1]");
    CHECK_STR_EQ(load_error("    timers: \"0 3 * * *\"\n"),
                 "10: repos[demo/app].timers: expected a list of {schedule, branch}");
    CHECK_STR_EQ(load_error("    timers: [\"0 3 * * *\"]\n"),
                 "10: repos[demo/app].timers[1]: expected a mapping with schedule and branch");
}

/* ---- the scheduler ------------------------------------------------------------ */

static struct wrk_repos *sched_repos;
static char *db_path;

static sw_db *open_db(void)
{
    sw_db *db = NULL;
    sw_error *err = NULL;
    if (sw_db_open(db_path, 1, &db, &err) != 0) {
        fprintf(stderr, "%s\n", sw_error_message(err));
        abort();
    }
    return db;
}

static int count_runs(sw_db *db, const char *where)
{
    char *sql = NULL;
    sw_stmt *stmt = NULL;
    int n = -1;
    if (asprintf(&sql, "SELECT COUNT(*) FROM runs WHERE %s", where) < 0)
        abort();
    if (sw_db_prepare_raw(db, sql, -1, &stmt, NULL) == SW_DB_OK && sw_stmt_step(stmt) == SW_DB_ROW)
        n = sw_stmt_column_int(stmt, 0);
    sw_stmt_finalize(stmt);
    free(sql);
    return n;
}

static int tick(sw_db *db, int64_t now)
{
    int queued = -1;
    sw_error *err = NULL;
    if (wrk_timers_tick(db, sched_repos, now, &queued, &err) != 0) {
        fprintf(stderr, "tick: %s\n", sw_error_message(err));
        sw_error_clear(&err);
        return -1;
    }
    return queued;
}

static void test_tick(void)
{
    char err[512];
    CHECK_INT_EQ(load(REPO_HEAD "    timers:\n"
                                "      - { schedule: \"* * * * *\", branch: main }\n"
                                "      - { schedule: \"0 3 * * *\", branch: rel-1 }\n",
                      &sched_repos, err, sizeof(err)),
                 0);
    if (sched_repos == NULL)
        return;
    sw_db *a = open_db(), *b = open_db();
    int64_t t0 = at("2026-03-01 10:00") + 30;
    /* first sighting: nothing for the past */
    CHECK_INT_EQ(tick(a, t0), 0);
    CHECK_INT_EQ(tick(b, t0 + 1), 0);
    CHECK_INT_EQ(count_runs(a, "1"), 0);
    /* the slot comes: one run, whichever process ticks */
    CHECK_INT_EQ(tick(a, t0 + 30), 1);
    CHECK_INT_EQ(tick(b, t0 + 31), 0);
    CHECK_INT_EQ(tick(a, t0 + 32), 0);
    CHECK_INT_EQ(count_runs(a, "trigger = 'timer' AND source_type = 'branch' AND"
                               " source_ref = 'main' AND rule = 0 AND status = 'queued' AND"
                               " commit_sha IS NULL"),
                 1);
    /* b is behind (it read timer_fires before a recorded the slot): the
     * delivery id still makes it queue nothing */
    sw_db_exec_raw(b, "UPDATE timer_fires SET last_fire = last_fire - 60", NULL, NULL, NULL);
    CHECK_INT_EQ(tick(b, t0 + 33), 0);
    CHECK_INT_EQ(count_runs(a, "trigger = 'timer'"), 1);
    /* next minute: the new run supersedes the queued one */
    CHECK_INT_EQ(tick(b, t0 + 90), 1);
    CHECK_INT_EQ(count_runs(a, "trigger = 'timer'"), 2);
    CHECK_INT_EQ(count_runs(a, "status = 'superseded'"), 1);
    /* everything down for a day and a half: one run for the latest slot of
     * each timer, not one per missed slot */
    int64_t later = at("2026-03-02 22:15") + 10;
    CHECK_INT_EQ(tick(a, later), 2);
    CHECK_INT_EQ(count_runs(a, "trigger = 'timer'"), 4);
    CHECK_INT_EQ(count_runs(a, "source_ref = 'rel-1'"), 1);
    CHECK_INT_EQ(tick(b, later + 5), 0);
    sw_stmt *stmt = NULL;
    sw_db_prepare_raw(a, "SELECT delivery_id FROM runs WHERE source_ref = 'rel-1'", -1, &stmt,
                      NULL);
    if (sw_stmt_step(stmt) == SW_DB_ROW) {
        char expected[128];
        snprintf(expected, sizeof(expected), "timer:demo/app:0 3 * * *|rel-1|0@%lld#1",
                 (long long)at("2026-03-02 03:00"));
        CHECK_STR_EQ((const char *)sw_stmt_column_text(stmt, 0), expected);
    }
    sw_stmt_finalize(stmt);
    /* migration 0010 widened the CHECK in place and left a sound database */
    sw_stmt *check = NULL;
    sw_db_prepare_raw(a, "PRAGMA integrity_check", -1, &check, NULL);
    if (sw_stmt_step(check) == SW_DB_ROW)
        CHECK_STR_EQ((const char *)sw_stmt_column_text(check, 0), "ok");
    sw_stmt_finalize(check);
    /* the CHECK on trigger still refuses nonsense */
    CHECK(sw_db_exec_raw(a,
                         "INSERT INTO runs (run_id, repo, trigger, source_type, source_ref, status,"
                         " queued_at) VALUES ('x', 'r', 'cron', 'branch', 'main', 'queued', 1)",
                         NULL, NULL, NULL) == SW_DB_CONSTRAINT);
    sw_db_close(a);
    sw_db_close(b);
}

/* Two threads with their own connections tick the same minutes: exactly
 * one run per slot. */
struct racer {
    int64_t start;
    int queued;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    sw_db *db = open_db();
    for (int s = 0; s < 20 * 60; s += 7) {
        int q = tick(db, r->start + s);
        if (q > 0)
            r->queued += q;
    }
    sw_db_close(db);
    return NULL;
}

static void test_race(void)
{
    if (sched_repos == NULL)
        return;
    sw_db *db = open_db();
    sw_db_exec_raw(db, "DELETE FROM runs; DELETE FROM timer_fires", NULL, NULL, NULL);
    int64_t start = at("2026-04-01 00:00") + 1;
    CHECK_INT_EQ(tick(db, start - 1), 0);
    struct racer r1 = { start, 0 }, r2 = { start, 0 };
    pthread_t t1, t2;
    pthread_create(&t1, NULL, race, &r1);
    pthread_create(&t2, NULL, race, &r2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK_INT_EQ(r1.queued + r2.queued, 19);
    CHECK_INT_EQ(count_runs(db, "trigger = 'timer'"), 19);
    sw_db_close(db);
    wrk_repos_free(sched_repos);
    sched_repos = NULL;
}

int main(void)
{
    dir = scratch_dir("test_timers");
    db_path = sw_path_join(dir, "slipway.db");
    RUN(test_fields);
    RUN(test_errors);
    RUN(test_next);
    RUN(test_offsets);
    RUN(test_latest);
    RUN(test_random);
    RUN(test_config);
    RUN(test_tick);
    RUN(test_race);
    sw_rm_rf(dir, NULL);
    free(db_path);
    free(dir);
    return TEST_EXIT();
}
