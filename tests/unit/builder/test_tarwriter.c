/*
 * test_tarwriter.c - builder/tarwriter.c: entry order and contents, OCI
 * whiteouts from overlay ones, byte-for-byte determinism, and a round trip
 * through builder/unpack.c.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/tarwriter.h"
#include "builder/unpack.h"
#include "core/fs.h"
#include "core/strbuf.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

static int collect(void *ctx, const void *buf, size_t len, sw_error **err)
{
    sw_strbuf_append(ctx, buf, len);
    return 0;
}

static void put(const char *root, const char *rel, const char *text, mode_t mode)
{
    char *p = sw_path_join(root, rel);
    sw_write_file_atomic(p, text, strlen(text), mode, NULL);
    chmod(p, mode);
    free(p);
}

/* An overlay-style upper directory with every kind of entry. */
static char *make_tree(const char *name)
{
    char *root = sw_path_join(dir, name);
    sw_rm_rf(root, NULL);
    char *sub = sw_path_join(root, "usr/bin");
    sw_mkdir_p(sub, 0755, NULL);
    free(sub);
    sub = sw_path_join(root, "var/cache");
    sw_mkdir_p(sub, 0755, NULL);
    setxattr(sub, "trusted.overlay.opaque", "y", 1, 0);
    free(sub);
    put(root, "usr/bin/tool", "#!/bin/sh\necho tool\n", 04755);
    put(root, "zeta.txt", "last\n", 0600);
    put(root, "Alpha.txt", "upper case sorts first\n", 0644);
    put(root, "var/cache/new", "fresh\n", 0644);
    char *a = sw_path_join(root, "usr/bin/tool"), *b = sw_path_join(root, "usr/bin/tool-link");
    CHECK(link(a, b) == 0);
    free(a);
    free(b);
    char *l = sw_path_join(root, "usr/bin/sh");
    CHECK(symlink("tool", l) == 0);
    free(l);
    char *wh = sw_path_join(root, "usr/bin/deleted");
    mknod(wh, S_IFCHR | 0, makedev(0, 0));
    free(wh);
    char *x = sw_path_join(root, "zeta.txt");
    setxattr(x, "user.note", "kept", 4, 0);
    setxattr(x, "trusted.secret", "dropped", 7, 0);
    free(x);
    char *sock_dir = sw_path_join(root, "usr");
    CHECK(chown(sock_dir, 0, 0) == 0);
    free(sock_dir);
    return root;
}

static char *tar_to_string(const char *root, int64_t clamp, size_t *len)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    struct bld_tar_options opts = { .clamp_mtime = clamp, .overlay_whiteouts = 1 };
    sw_error *err = NULL;
    int rc = bld_tar_dir(root, &opts, collect, &sb, &err);
    CHECK_INT_EQ(rc, 0);
    if (rc)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    sw_error_clear(&err);
    *len = sb.len;
    return sw_strbuf_detach(&sb);
}

static void test_entries_in_order_with_oci_whiteouts(void)
{
    char *root = make_tree("order");
    size_t len = 0;
    char *tar = tar_to_string(root, 1000000000, &len);

    struct archive *ar = archive_read_new();
    archive_read_support_format_tar(ar);
    CHECK_INT_EQ(archive_read_open_memory(ar, tar, len), ARCHIVE_OK);
    struct archive_entry *e;
    sw_strbuf names = SW_STRBUF_INIT;
    while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
        sw_strbuf_printf(&names, "%s", archive_entry_pathname(e));
        if (archive_entry_hardlink(e))
            sw_strbuf_printf(&names, "=>%s", archive_entry_hardlink(e));
        sw_strbuf_putc(&names, '\n');
        CHECK_INT_EQ(archive_entry_mtime(e), 1000000000); /* clamped */
        CHECK(archive_entry_uname(e) == NULL || archive_entry_uname(e)[0] == '\0');
        if (strcmp(archive_entry_pathname(e), "usr/bin/tool") == 0)
            CHECK_INT_EQ(archive_entry_perm(e), 04755);
        if (strcmp(archive_entry_pathname(e), "zeta.txt") == 0) {
            const char *xname;
            const void *value;
            size_t size;
            int count = 0;
            archive_entry_xattr_reset(e);
            while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
                CHECK_STR_EQ(xname, "user.note");
                count++;
            }
            CHECK_INT_EQ(count, 1); /* trusted.* is not carried into images */
        }
    }
    archive_read_free(ar);
    CHECK_STR_EQ(names.data, "Alpha.txt\n"
                             "usr/\n"
                             "usr/bin/\n"
                             "usr/bin/.wh.deleted\n"
                             "usr/bin/sh\n"
                             "usr/bin/tool\n"
                             "usr/bin/tool-link=>usr/bin/tool\n"
                             "var/\n"
                             "var/cache/\n"
                             "var/cache/.wh..wh..opq\n"
                             "var/cache/new\n"
                             "zeta.txt\n");
    sw_strbuf_free(&names);
    free(tar);
    free(root);
}

static void test_deterministic(void)
{
    char *first = make_tree("det1");
    size_t len1 = 0, len2 = 0;
    char *tar1 = tar_to_string(first, 1700000000, &len1);
    sleep(1); /* the second tree gets other mtimes, inode numbers, creation order */
    char *second = make_tree("det2");
    char *tar2 = tar_to_string(second, 1700000000, &len2);
    CHECK_INT_EQ(len1, len2);
    CHECK(len1 == len2 && memcmp(tar1, tar2, len1) == 0);
    CHECK(len1 % 512 == 0);
    free(tar1);
    free(tar2);
    free(first);
    free(second);
}

static void test_round_trip_through_unpack(void)
{
    char *root = make_tree("rt");
    size_t len = 0;
    char *tar = tar_to_string(root, -1, &len);
    int fd = memfd_create("layer", MFD_CLOEXEC);
    CHECK(write(fd, tar, len) == (ssize_t)len);
    lseek(fd, 0, SEEK_SET);
    char *out = sw_path_join(dir, "rt-out");
    sw_mkdir_p(out, 0755, NULL);
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_unpack_fd(fd, out, NULL, &err), 0);
    sw_error_clear(&err);
    close(fd);

    struct stat a, b;
    char *p = sw_path_join(out, "usr/bin/deleted");
    CHECK(lstat(p, &a) == 0 && S_ISCHR(a.st_mode) && a.st_rdev == makedev(0, 0));
    free(p);
    p = sw_path_join(out, "var/cache");
    char v[4] = { 0 };
    CHECK_INT_EQ(getxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
    free(p);
    char *x = sw_path_join(out, "usr/bin/tool"), *y = sw_path_join(out, "usr/bin/tool-link");
    CHECK(stat(x, &a) == 0 && stat(y, &b) == 0 && a.st_ino == b.st_ino);
    CHECK_INT_EQ(a.st_mode & 07777, 04755);
    free(x);
    free(y);
    p = sw_path_join(out, "zeta.txt");
    CHECK_INT_EQ(getxattr(p, "user.note", v, sizeof(v)), 4);
    free(p);
    free(out);
    free(tar);
    free(root);
}

static int failing_sink(void *ctx, const void *buf, size_t len, sw_error **err)
{
    return sw_error_set(err, SW_EIO, "disk full (test)");
}

static void test_sink_error_is_passed_up(void)
{
    char *root = make_tree("fail");
    sw_error *err = NULL;
    CHECK(bld_tar_dir(root, NULL, failing_sink, NULL, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "disk full (test)") != NULL);
    sw_error_clear(&err);
    free(root);
}

int main(void)
{
    dir = scratch_dir("test_tarwriter");
    RUN(test_entries_in_order_with_oci_whiteouts);
    RUN(test_deterministic);
    RUN(test_round_trip_through_unpack);
    RUN(test_sink_error_is_passed_up);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
