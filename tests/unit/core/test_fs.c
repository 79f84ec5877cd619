/*
 * test_fs.c - core/fs.c and core/strbuf.c.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/strbuf.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

static void test_mkdir_p_and_atomic_write(void)
{
    sw_error *err = NULL;
    char *deep = sw_path_join(dir, "a/b/c");
    CHECK_INT_EQ(sw_mkdir_p(deep, 0755, &err), 0);
    CHECK(sw_path_exists(deep));
    CHECK_INT_EQ(sw_mkdir_p(deep, 0755, &err), 0); /* existing is fine */

    char *file = sw_path_join(deep, "f.txt");
    CHECK_INT_EQ(sw_write_file_atomic(file, "hello", 5, 0644, &err), 0);
    CHECK_INT_EQ(sw_write_file_atomic(file, "bye", 3, 0644, &err), 0);
    char *data = NULL;
    size_t len = 0;
    CHECK_INT_EQ(sw_read_file(file, 100, &data, &len, &err), 0);
    CHECK_STR_EQ(data, "bye");
    CHECK_INT_EQ(len, 3);
    free(data);

    /* a file in the way of a directory is an error naming it */
    CHECK(sw_mkdir_p(file, 0755, &err) < 0);
    CHECK(err != NULL && strstr(sw_error_message(err), "f.txt") != NULL);
    sw_error_clear(&err);
    free(file);
    free(deep);
}

static void test_read_file_limits(void)
{
    sw_error *err = NULL;
    char *file = sw_path_join(dir, "big");
    CHECK_INT_EQ(sw_write_file_atomic(file, "0123456789", 10, 0644, &err), 0);
    char *data = NULL;
    CHECK_INT_EQ(sw_read_file(file, 5, &data, NULL, &err), SW_ETOOBIG);
    sw_error_clear(&err);
    char *missing = sw_path_join(dir, "missing");
    CHECK_INT_EQ(sw_read_file(missing, 5, &data, NULL, &err), SW_ENOTFOUND);
    CHECK(strstr(sw_error_message(err), "missing") != NULL);
    sw_error_clear(&err);
    free(missing);
    free(file);
}

static void test_rm_rf(void)
{
    sw_error *err = NULL;
    char *tree = sw_path_join(dir, "tree");
    char *sub = sw_path_join(tree, "x/y");
    sw_mkdir_p(sub, 0755, NULL);
    char *f = sw_path_join(sub, "file");
    sw_write_file_atomic(f, "1", 1, 0644, NULL);
    char *link = sw_path_join(tree, "link-out");
    CHECK_INT_EQ(symlink(dir, link), 0); /* must be removed, not followed */
    CHECK_INT_EQ(sw_rm_rf(tree, &err), 0);
    CHECK(!sw_path_exists(tree));
    CHECK(sw_path_exists(dir));
    CHECK_INT_EQ(sw_rm_rf(tree, &err), 0); /* missing is fine */
    free(tree);
    free(sub);
    free(f);
    free(link);
}

static void test_path_join(void)
{
    char *p = sw_path_join("/a/", "/b");
    CHECK_STR_EQ(p, "/a/b");
    free(p);
    p = sw_path_join("/", "x");
    CHECK_STR_EQ(p, "/x");
    free(p);
}

static void test_strbuf(void)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_puts(&sb, "run ");
    sw_strbuf_printf(&sb, "%s%d", "ca", 7);
    sw_strbuf_putc(&sb, '!');
    CHECK_STR_EQ(sb.data, "run ca7!");
    for (int i = 0; i < 10000; i++)
        sw_strbuf_putc(&sb, 'x');
    CHECK_INT_EQ(sb.len, 8 + 10000);
    char *s = sw_strbuf_detach(&sb);
    CHECK(s != NULL && strncmp(s, "run ca7!xx", 10) == 0);
    CHECK(sb.data == NULL);
    free(s);
    s = sw_strbuf_detach(&sb);
    CHECK_STR_EQ(s, "");
    free(s);
}

static void test_error_prefix_keeps_cause(void)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_error_set(&err, SW_EINVAL, "bad digest %s", "sha256:zz"), SW_EINVAL);
    sw_error_set(&err, SW_EIO, "second error must not overwrite the first");
    sw_error_prefix(&err, "pushing layer %d of %s", 3, "demo/app");
    CHECK_STR_EQ(sw_error_message(err), "pushing layer 3 of demo/app: bad digest sha256:zz");
    CHECK_INT_EQ(sw_error_code(err), SW_EINVAL);
    sw_error_clear(&err);
    CHECK(err == NULL);
    CHECK_INT_EQ(sw_error_sys(&err, SW_EIO, 2, "opening %s", "x"), SW_EIO);
    CHECK_STR_EQ(sw_error_message(err), "opening x: No such file or directory");
    sw_error_clear(&err);
}

/* The boot id, as the kernel names it; a buffer too small gets "" */
static void test_boot_id(void)
{
    char id[40], small[8];
    char *want = NULL;
    if (sw_read_file("/proc/sys/kernel/random/boot_id", 64, &want, NULL, NULL) != 0) {
        CHECK_INT_EQ(sw_boot_id(id, sizeof(id)), 0);
        CHECK_STR_EQ(id, "");
        return;
    }
    want[strcspn(want, "\n")] = '\0';
    CHECK_INT_EQ(sw_boot_id(id, sizeof(id)), 1);
    CHECK_STR_EQ(id, want);
    CHECK_INT_EQ((int)strlen(id), 36);
    CHECK_INT_EQ(sw_boot_id(small, sizeof(small)), 0);
    CHECK_STR_EQ(small, "");
    free(want);
}

static void test_path_format(void)
{
    char out[SW_PATH_MAX];
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_path_format(out, &err, "%s/%s", "/data", "cache"), 0);
    CHECK_STR_EQ(out, "/data/cache");
    char *longer = malloc(SW_PATH_MAX + 1);
    memset(longer, 'a', SW_PATH_MAX);
    longer[SW_PATH_MAX] = '\0';
    CHECK_INT_EQ(sw_path_format(out, &err, "/x/%s", longer), SW_ETOOBIG);
    CHECK(err && strstr(sw_error_message(err), "path too long") != NULL);
    sw_error_clear(&err);
    /* exactly SW_PATH_MAX - 1 characters still fit */
    longer[SW_PATH_MAX - 1] = '\0';
    CHECK_INT_EQ(sw_path_format(out, NULL, "%s", longer), 0);
    free(longer);
}

int main(void)
{
    dir = scratch_dir("test_fs");
    RUN(test_mkdir_p_and_atomic_write);
    RUN(test_read_file_limits);
    RUN(test_rm_rf);
    RUN(test_path_join);
    RUN(test_strbuf);
    RUN(test_error_prefix_keeps_cause);
    RUN(test_path_format);
    RUN(test_boot_id);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
