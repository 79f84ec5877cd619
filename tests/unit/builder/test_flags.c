/*
 * test_flags.c - builder/flags.c: the flag table per instruction, types,
 * values, duplicates, and the messages naming the line and accepted flags.
 */
#include <string.h>

#include "builder/flags.h"
#include "tests/unit/test.h"

/* Checks flags; returns rc and copies the message. */
static int check(const char *kw, const char *const *flags, size_t n, char *msg, size_t size)
{
    sw_error *err = NULL;
    int rc = bld_flags_check(kw, flags, n, "Dockerfile", 7, &err);
    snprintf(msg, size, "%s", rc ? sw_error_message(err) : "");
    sw_error_clear(&err);
    return rc;
}

static void test_table(void)
{
    enum bld_flag_type t;
    int impl = 1;
    CHECK_INT_EQ(bld_flag_lookup("run", "mount", &t, &impl), 0);
    CHECK_INT_EQ(t, BLD_FLAG_LIST);
    CHECK_INT_EQ(bld_flag_lookup("copy", "exclude", &t, &impl), 0);
    CHECK_INT_EQ(t, BLD_FLAG_LIST);
    CHECK_INT_EQ(bld_flag_lookup("copy", "parents", &t, &impl), 0);
    CHECK_INT_EQ(t, BLD_FLAG_BOOL);
    CHECK_INT_EQ(bld_flag_lookup("copy", "from", &t, &impl), 0);
    CHECK_INT_EQ(t, BLD_FLAG_STRING);
    CHECK_INT_EQ(bld_flag_lookup("add", "parents", &t, &impl), -1);
    CHECK_INT_EQ(impl, 1);
    CHECK_INT_EQ(bld_flag_lookup("copy", "link", &t, &impl), 0);
    CHECK_INT_EQ(t, BLD_FLAG_BOOL);
    CHECK_INT_EQ(bld_flag_lookup("run", "device", &t, &impl), -1);
    CHECK_INT_EQ(impl, 0);
    CHECK_INT_EQ(bld_flag_lookup("healthcheck", "start-interval", &t, &impl), 0);
    CHECK_INT_EQ(bld_flag_lookup("FROM", "platform", &t, &impl), 0);
    CHECK_INT_EQ(bld_flag_lookup("env", "x", &t, &impl), -1);
    CHECK_INT_EQ(bld_flag_true(""), 1);
    CHECK_INT_EQ(bld_flag_true("true"), 1);
    CHECK_INT_EQ(bld_flag_true("false"), 0);
    CHECK_INT_EQ(bld_flag_true(NULL), 0);
}

static void test_accepted(void)
{
    char msg[512];
    const char *ok[] = { "--from=build", "--chown=1:1", "--exclude=*.key", "--exclude=*.pem",
                         "--parents" };
    CHECK_INT_EQ(check("copy", ok, 5, msg, sizeof(msg)), 0);
    const char *run[] = { "--mount=type=cache,target=/c", "--mount=type=tmpfs,target=/t",
                          "--network=none", "--security=sandbox" };
    CHECK_INT_EQ(check("run", run, 4, msg, sizeof(msg)), 0);
    const char *b[] = { "--parents=false" };
    CHECK_INT_EQ(check("copy", b, 1, msg, sizeof(msg)), 0);
}

static void test_errors(void)
{
    char msg[512];
    const char *unknown[] = { "--frm=build" };
    CHECK(check("copy", unknown, 1, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "Dockerfile:7: unknown flag: --frm") != NULL);
    CHECK(strstr(msg, "COPY accepts: --from, --chown, --chmod, --link, --parents, --exclude") !=
          NULL);
    const char *none[] = { "--x" };
    CHECK(check("env", none, 1, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "ENV accepts no flags") != NULL);
    const char *link[] = { "--link", "--link=false" };
    CHECK_INT_EQ(check("copy", link, 1, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(check("add", link + 1, 1, msg, sizeof(msg)), 0);
    const char *device[] = { "--device=/dev/fuse" };
    CHECK_INT_EQ(check("run", device, 1, msg, sizeof(msg)), SW_EUNSUPPORTED);
    CHECK(strstr(msg, "Dockerfile:7: flag --device is not supported") != NULL);
    const char *dup[] = { "--from=a", "--from=b" };
    CHECK(check("copy", dup, 2, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "duplicate flag specified: --from") != NULL);
    const char *empty[] = { "--from" };
    CHECK(check("copy", empty, 1, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "missing a value on flag: --from") != NULL);
    const char *badbool[] = { "--parents=yes" };
    CHECK(check("copy", badbool, 1, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "expecting boolean value") != NULL);
    const char *mount[] = { "--mount" };
    CHECK(check("run", mount, 1, msg, sizeof(msg)) != 0);
    const char *dev[] = { "--device=/dev/x" };
    CHECK_INT_EQ(check("run", dev, 1, msg, sizeof(msg)), SW_EUNSUPPORTED);
}

int main(void)
{
    RUN(test_table);
    RUN(test_accepted);
    RUN(test_errors);
    return TEST_EXIT();
}
