/*
 * test_parse.c - core/parse.c: whole-string, range-checked integers.
 */
#include <stdint.h>

#include "core/parse.h"
#include "tests/unit/test.h"

static void test_accepts_plain_numbers_in_range(void)
{
    int v = -1;
    int64_t w = -1;
    CHECK_INT_EQ(sw_parse_int("0", 0, 10, &v), 0);
    CHECK_INT_EQ(v, 0);
    CHECK_INT_EQ(sw_parse_int("10", 0, 10, &v), 0);
    CHECK_INT_EQ(v, 10);
    CHECK_INT_EQ(sw_parse_int("-5", -10, 10, &v), 0);
    CHECK_INT_EQ(v, -5);
    CHECK_INT_EQ(sw_parse_int64("9223372036854775807", 0, INT64_MAX, &w), 0);
    CHECK(w == INT64_MAX);
}

static void test_refuses_what_atoi_would_take(void)
{
    int v = 42;
    const char *bad[] = { "", " 7", "7 ", "12abc", "abc", "+3", "0x10", "1e3", "--1", "-", NULL };
    for (int i = 0; bad[i]; i++) {
        CHECK_INT_EQ(sw_parse_int(bad[i], -100, 100, &v), -1);
        CHECK_INT_EQ(v, 42); /* nothing stored on failure */
    }
    CHECK_INT_EQ(sw_parse_int(NULL, 0, 1, &v), -1);
}

static void test_refuses_out_of_range_and_overflow(void)
{
    int v = 42;
    int64_t w = 42;
    CHECK_INT_EQ(sw_parse_int("11", 0, 10, &v), -1);
    CHECK_INT_EQ(sw_parse_int("-1", 0, 10, &v), -1);
    CHECK_INT_EQ(sw_parse_int("2147483648", 0, 2147483647, &v), -1);
    CHECK_INT_EQ(sw_parse_int64("9223372036854775808", 0, INT64_MAX, &w), -1);
    CHECK_INT_EQ(sw_parse_int64("-9223372036854775809", INT64_MIN, 0, &w), -1);
    CHECK_INT_EQ(v, 42);
    CHECK(w == 42);
}

static void test_prefix_reports_where_the_digits_end(void)
{
    int64_t w = 0;
    const char *end = NULL;
    CHECK_INT_EQ(sw_parse_int64_prefix("0003_init.sql", 0, 9999, &w, &end), 0);
    CHECK(w == 3);
    CHECK_STR_EQ(end, "_init.sql");
    CHECK_INT_EQ(sw_parse_int64_prefix("_init.sql", 0, 9999, &w, &end), -1);
}

int main(void)
{
    RUN(test_accepts_plain_numbers_in_range);
    RUN(test_refuses_what_atoi_would_take);
    RUN(test_refuses_out_of_range_and_overflow);
    RUN(test_prefix_reports_where_the_digits_end);
    return TEST_EXIT();
}
