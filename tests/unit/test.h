/*
 * test.h - the unit-test harness: a handful of macros, no framework.
 *
 * A test file defines `static void test_x(void)` functions and lists them in
 * main() with RUN(test_x). A failed CHECK prints file:line and the failing
 * expression (with both values for the _EQ forms), marks the test failed and
 * continues; main() returns non-zero if anything failed, which ctest reports.
 */
#ifndef SW_TEST_H
#define SW_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;
static const char *test_current;

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(expr)) {                                                                             \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s: CHECK failed: %s\n", __FILE__, __LINE__, test_current,     \
                    #expr);                                                                        \
        }                                                                                          \
    } while (0)

#define CHECK_INT_EQ(actual, expected)                                                             \
    do {                                                                                           \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                            \
        test_checks++;                                                                             \
        if (a_ != e_) {                                                                            \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s: %s == %lld, expected %lld\n", __FILE__, __LINE__,          \
                    test_current, #actual, a_, e_);                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR_EQ(actual, expected)                                                             \
    do {                                                                                           \
        const char *a_ = (actual), *e_ = (expected);                                               \
        test_checks++;                                                                             \
        if (a_ == NULL || e_ == NULL ? a_ != e_ : strcmp(a_, e_) != 0) {                           \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: %s: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__,      \
                    test_current, #actual, a_ ? a_ : "(null)", e_ ? e_ : "(null)");                \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int before_ = test_failures;                                                               \
        test_current = #fn;                                                                        \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn);               \
    } while (0)

#define TEST_EXIT()                                                                                \
    (fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures), test_failures ? 1 : 0)

#endif
