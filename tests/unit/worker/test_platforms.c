/*
 * test_platforms.c - worker/platforms.c: the platforms a worker runs, read
 * from a binfmt_misc directory (a scratch one shaped like
 * /proc/sys/fs/binfmt_misc), and the message for one it cannot run.
 */
#include <string.h>
#include <sys/stat.h>

#include "core/fs.h"
#include "core/strbuf.h"
#include "worker/platforms.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

static void write_entry(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    fputs(text, f);
    fclose(f);
}

static int has(char **v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

static void test_runnable(void)
{
    char **v = NULL;
    char interpreter[600], text[800];
    /* an interpreter that exists: this test binary's directory has files */
    snprintf(interpreter, sizeof(interpreter), "%s/interp", dir);
    write_entry("interp", "");
    snprintf(text, sizeof(text), "enabled\ninterpreter %s\nflags: PF\noffset 0\nmagic 7f454c46\n",
             interpreter);
    write_entry("qemu-aarch64", text);
    /* no F flag: the interpreter would not be found inside a container */
    snprintf(text, sizeof(text), "enabled\ninterpreter %s\nflags: P\n", interpreter);
    write_entry("qemu-s390x", text);
    /* disabled */
    snprintf(text, sizeof(text), "disabled\ninterpreter %s\nflags: PF\n", interpreter);
    write_entry("qemu-riscv64", text);
    /* the interpreter is gone */
    write_entry("qemu-ppc64le", "enabled\ninterpreter /nonexistent/qemu-ppc64le\nflags: PF\n");
    snprintf(text, sizeof(text), "enabled\ninterpreter %s\nflags: POCF\n", interpreter);
    write_entry("qemu-arm", text);
    write_entry("python3.11", "enabled\ninterpreter /usr/bin/python3\nflags: F\n");

    CHECK_INT_EQ(wrk_platforms_runnable(dir, &v, NULL), 0);
    CHECK(v && v[0] && strncmp(v[0], "linux/", 6) == 0); /* the host's first */
    CHECK(has(v, "linux/arm64"));
    CHECK(has(v, "linux/arm/v7"));
    CHECK(has(v, "linux/arm/v6"));
    CHECK(!has(v, "linux/s390x"));
    CHECK(!has(v, "linux/riscv64"));
    CHECK(!has(v, "linux/ppc64le"));

    char joined[256];
    wrk_platforms_join(v, joined, sizeof(joined));
    CHECK(strstr(joined, ", linux/arm64") != NULL);

    CHECK_INT_EQ(wrk_platform_check("linux/arm64", v, NULL), 0);
    CHECK_INT_EQ(wrk_platform_check(v[0], v, NULL), 0);
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_platform_check("linux/s390x", v, &err), SW_EUNSUPPORTED);
    CHECK(err && strstr(sw_error_message(err), "linux/s390x: ") == sw_error_message(err));
    CHECK(err && strstr(sw_error_message(err),
                        "install qemu-user-static and run update-binfmts --enable qemu-s390x"));
    sw_error_clear(&err);
    CHECK_INT_EQ(wrk_platform_check("linux/mips", v, &err), SW_EUNSUPPORTED);
    CHECK(err && strstr(sw_error_message(err), "linux/mips: this worker cannot run it"));
    sw_error_clear(&err);
    sw_strv_free(v);
}

static void test_no_binfmt(void)
{
    char **v = NULL;
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/not-mounted", dir);
    CHECK_INT_EQ(wrk_platforms_runnable(missing, &v, NULL), 0);
    CHECK(v && v[0] && v[1] == NULL); /* only the host's own */
    sw_strv_free(v);
}

int main(void)
{
    dir = scratch_dir("test_platforms");
    RUN(test_runnable);
    RUN(test_no_binfmt);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
