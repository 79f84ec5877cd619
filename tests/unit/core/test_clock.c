/*
 * test_clock.c - RFC 3339 formatting (core/clock.c): UTC, seconds, the
 * edges of the range and a time gmtime cannot represent.
 */
#include <stdint.h>

#include "core/clock.h"
#include "tests/unit/test.h"

static void test_epoch(void)
{
    char out[SW_RFC3339_MAX];
    CHECK_STR_EQ(sw_format_rfc3339(0, out), "1970-01-01T00:00:00Z");
}

static void test_known_time_is_utc(void)
{
    char out[SW_RFC3339_MAX];
    /* 2023-11-14T22:13:20Z, whatever TZ says */
    setenv("TZ", "Asia/Kolkata", 1);
    char *r = sw_format_rfc3339(1700000000, out);
    CHECK(r == out);
    CHECK_STR_EQ(out, "2023-11-14T22:13:20Z");
    unsetenv("TZ");
}

static void test_leap_day_and_before_epoch(void)
{
    char out[SW_RFC3339_MAX];
    CHECK_STR_EQ(sw_format_rfc3339(951782400, out), "2000-02-29T00:00:00Z");
    CHECK_STR_EQ(sw_format_rfc3339(-1, out), "1969-12-31T23:59:59Z");
}

static void test_unrepresentable_gives_empty(void)
{
    char out[SW_RFC3339_MAX];
    memset(out, 'x', sizeof(out));
    /* a year far beyond what struct tm's int tm_year holds */
    sw_format_rfc3339(INT64_MAX, out);
    CHECK_STR_EQ(out, "");
}

int main(void)
{
    RUN(test_epoch);
    RUN(test_known_time_is_utc);
    RUN(test_leap_day_and_before_epoch);
    RUN(test_unrepresentable_gives_empty);
    return TEST_EXIT();
}
