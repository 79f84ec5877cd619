/*
 * test_runid.c - worker/runid.c: ACR-style run ids and back.
 */
#include "tests/unit/test.h"
#include "worker/runid.h"

static void test_format_and_parse(void)
{
    char out[32];
    const struct {
        uint64_t n;
        const char *id;
    } cases[] = {
        { 0, "ca0" },   { 1, "ca1" },   { 9, "ca9" },     { 10, "caa" },     { 31, "cav" },
        { 32, "ca10" }, { 33, "ca11" }, { 1023, "cavv" }, { 1024, "ca100" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wrk_run_id_format("ca", cases[i].n, out);
        CHECK_STR_EQ(out, cases[i].id);
        CHECK_INT_EQ(wrk_run_id_parse("ca", cases[i].id), (long long)cases[i].n);
    }
    CHECK_INT_EQ(wrk_run_id_parse("ca", "cb1"), -1);
    CHECK_INT_EQ(wrk_run_id_parse("ca", "ca"), -1);
    CHECK_INT_EQ(wrk_run_id_parse("ca", "caw"), -1); /* w is not a base-32 digit */
    CHECK_INT_EQ(wrk_run_id_parse("ca", "ca1A"), -1);
    CHECK_INT_EQ(wrk_run_id_counter("xb10"), 32);
    CHECK_INT_EQ(wrk_run_id_counter("ca"), -1);
    CHECK_INT_EQ(wrk_run_id_counter("zz!"), -1);
    CHECK_INT_EQ(wrk_run_id_counter("1a2"), -1);
}

int main(void)
{
    RUN(test_format_and_parse);
    return TEST_EXIT();
}
