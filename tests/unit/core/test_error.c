/*
 * test_error.c - the error convention of core/error.c: the first error
 * wins, a NULL out-param is allowed, errno text is appended, ENOSPC and
 * EDQUOT become SW_ENOSPACE, prefixes are joined and truncated safely.
 */
#include <errno.h>

#include "core/error.h"
#include "tests/unit/test.h"

static void test_set_and_read(void)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_error_set(&err, SW_EINVAL, "bad %s %d", "thing", 7), SW_EINVAL);
    CHECK(err != NULL);
    CHECK_INT_EQ(sw_error_code(err), SW_EINVAL);
    CHECK_STR_EQ(sw_error_message(err), "bad thing 7");
    CHECK_INT_EQ(err->sys_errno, 0);
    sw_error_clear(&err);
    CHECK(err == NULL);
    sw_error_clear(&err); /* twice is harmless */
}

static void test_null_out_param(void)
{
    CHECK_INT_EQ(sw_error_set(NULL, SW_ENOTFOUND, "nobody listens"), SW_ENOTFOUND);
    CHECK_INT_EQ(sw_error_sys(NULL, SW_EIO, ENOSPC, "full"), SW_ENOSPACE);
    sw_error_prefix(NULL, "ignored");
    CHECK_INT_EQ(sw_error_code(NULL), 0);
    CHECK_STR_EQ(sw_error_message(NULL), "unknown error");
}

static void test_first_error_wins(void)
{
    sw_error *err = NULL;
    sw_error_set(&err, SW_EEXIST, "first");
    CHECK_INT_EQ(sw_error_set(&err, SW_EPERM, "second"), SW_EPERM);
    CHECK_INT_EQ(sw_error_code(err), SW_EEXIST);
    CHECK_STR_EQ(sw_error_message(err), "first");
    sw_error_clear(&err);
}

static void test_sys_appends_strerror(void)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_error_sys(&err, SW_EIO, ENOENT, "opening %s", "/x"), SW_EIO);
    CHECK_INT_EQ(err->sys_errno, ENOENT);
    CHECK_STR_EQ(sw_error_message(err), "opening /x: No such file or directory");
    sw_error_clear(&err);
}

static void test_sys_disk_full_is_enospace(void)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_error_sys(&err, SW_EIO, ENOSPC, "writing"), SW_ENOSPACE);
    CHECK_INT_EQ(sw_error_code(err), SW_ENOSPACE);
    sw_error_clear(&err);
    CHECK_INT_EQ(sw_error_sys(&err, SW_EIO, EDQUOT, "writing"), SW_ENOSPACE);
    sw_error_clear(&err);
    /* only SW_EIO is remapped: a caller's explicit code is kept */
    CHECK_INT_EQ(sw_error_sys(&err, SW_EDB, ENOSPC, "db"), SW_EDB);
    sw_error_clear(&err);
}

static void test_prefix(void)
{
    sw_error *err = NULL;
    sw_error_set(&err, SW_EIO, "disk said no");
    sw_error_prefix(&err, "pushing %s", "demo/app");
    sw_error_prefix(&err, "job %d", 4);
    CHECK_STR_EQ(sw_error_message(err), "job 4: pushing demo/app: disk said no");
    sw_error_clear(&err);

    sw_error *none = NULL;
    sw_error_prefix(&none, "nothing to prefix");
    CHECK(none == NULL);
}

static void test_long_messages_truncate(void)
{
    sw_error *err = NULL;
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sw_error_set(&err, SW_EINVAL, "%s", big);
    CHECK_INT_EQ(strlen(sw_error_message(err)), sizeof(err->message) - 1);
    sw_error_prefix(&err, "%s", big); /* prefix longer than its buffer */
    CHECK_INT_EQ(strlen(sw_error_message(err)), sizeof(err->message) - 1);
    CHECK(sw_error_message(err)[0] == 'a');
    sw_error_clear(&err);

    /* an errno on a message that fills the buffer: no overflow */
    sw_error_sys(&err, SW_EIO, EACCES, "%s", big);
    CHECK_INT_EQ(strlen(sw_error_message(err)), sizeof(err->message) - 1);
    sw_error_clear(&err);
}

int main(void)
{
    RUN(test_set_and_read);
    RUN(test_null_out_param);
    RUN(test_first_error_wins);
    RUN(test_sys_appends_strerror);
    RUN(test_sys_disk_full_is_enospace);
    RUN(test_prefix);
    RUN(test_long_messages_truncate);
    return TEST_EXIT();
}
