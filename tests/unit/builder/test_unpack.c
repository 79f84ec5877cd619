/*
 * test_unpack.c - builder/unpack.c: layers extract with owners, modes,
 * links and whiteouts intact, and hostile archives cannot write outside
 * the destination.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/unpack.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

struct tar_entry {
    const char *name;
    mode_t type;         /* AE_IFREG, AE_IFDIR, AE_IFLNK, 0 = hardlink */
    const char *content; /* file data, symlink or hardlink target */
    mode_t perm;
    int uid, gid;
};

/* Writes a gzip-compressed tar of the entries to path. */
static void make_tar(const char *path, const struct tar_entry *entries, size_t n)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    archive_write_open_filename(a, path);
    for (size_t i = 0; i < n; i++) {
        const struct tar_entry *e = &entries[i];
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e->name);
        archive_entry_set_uid(ae, e->uid);
        archive_entry_set_gid(ae, e->gid);
        archive_entry_set_mtime(ae, 1700000000, 0);
        if (e->type == 0) {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_hardlink(ae, e->content);
            archive_entry_set_size(ae, 0);
            archive_write_header(a, ae);
        } else if (e->type == AE_IFLNK) {
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, e->content);
            archive_write_header(a, ae);
        } else if (e->type == AE_IFDIR) {
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, e->perm ? e->perm : 0755);
            archive_write_header(a, ae);
        } else {
            size_t len = e->content ? strlen(e->content) : 0;
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, e->perm ? e->perm : 0644);
            archive_entry_set_size(ae, (la_int64_t)len);
            if (strcmp(e->name, "caps") == 0)
                archive_entry_xattr_add_entry(ae, "trusted.overlay.opaque", "y", 1);
            archive_write_header(a, ae);
            if (len)
                archive_write_data(a, e->content, len);
        }
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static char *fresh_dir(const char *name)
{
    char *p = sw_path_join(dir, name);
    sw_rm_rf(p, NULL);
    sw_mkdir_p(p, 0755, NULL);
    return p;
}

static char *read_text(const char *base, const char *rel)
{
    char *path = sw_path_join(base, rel);
    char *data = NULL;
    if (sw_read_file(path, 1 << 20, &data, NULL, NULL) != 0)
        data = NULL;
    free(path);
    return data;
}

static void test_regular_layer(void)
{
    struct tar_entry entries[] = {
        { "./", AE_IFDIR, NULL, 0755, 0, 0 },
        { "./etc/", AE_IFDIR, NULL, 0755, 0, 0 },
        { "./etc/motd", AE_IFREG, "hello\n", 0640, 1000, 1001 },
        { "./usr/bin/tool", AE_IFREG, "#!/bin/sh\n", 04755, 0, 0 }, /* parents implied */
        { "./bin", AE_IFLNK, "usr/bin", 0, 0, 0 },
        { "./etc/motd.link", 0, "etc/motd", 0, 0, 0 },
        { "./abs-link", AE_IFLNK, "/etc/shadow", 0, 0, 0 }, /* stored, never followed */
        { "caps", AE_IFREG, "x", 0644, 0, 0 },
    };
    char *tar = sw_path_join(dir, "regular.tar.gz");
    make_tar(tar, entries, sizeof(entries) / sizeof(entries[0]));
    char *dest = fresh_dir("regular");
    sw_error *err = NULL;
    int rc = bld_unpack_file(tar, dest, NULL, &err);
    CHECK_INT_EQ(rc, 0);
    if (rc)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    sw_error_clear(&err);

    char *motd = read_text(dest, "etc/motd");
    CHECK_STR_EQ(motd, "hello\n");
    free(motd);
    struct stat st;
    char *p = sw_path_join(dest, "etc/motd");
    CHECK_INT_EQ(stat(p, &st), 0);
    CHECK_INT_EQ(st.st_mode & 07777, 0640);
    CHECK_INT_EQ(st.st_uid, 1000);
    CHECK_INT_EQ(st.st_gid, 1001);
    CHECK_INT_EQ(st.st_mtime, 1700000000);
    CHECK_INT_EQ(st.st_nlink, 2); /* the hardlink */
    free(p);
    p = sw_path_join(dest, "usr/bin/tool");
    CHECK_INT_EQ(stat(p, &st), 0);
    CHECK_INT_EQ(st.st_mode & 07777, 04755); /* setuid kept */
    free(p);
    char target[256] = { 0 };
    p = sw_path_join(dest, "bin");
    CHECK(readlink(p, target, sizeof(target) - 1) > 0);
    CHECK_STR_EQ(target, "usr/bin");
    free(p);
    /* trusted.* xattrs from a layer are dropped: they could fake overlay state */
    p = sw_path_join(dest, "caps");
    CHECK(getxattr(p, "trusted.overlay.opaque", target, sizeof(target)) < 0);
    free(p);
    free(dest);
    free(tar);
}

static void test_whiteouts_become_overlay_whiteouts(void)
{
    struct tar_entry entries[] = {
        { "etc/", AE_IFDIR, NULL, 0755, 0, 0 },
        { "etc/.wh.passwd", AE_IFREG, "", 0644, 0, 0 },
        { "var/cache/", AE_IFDIR, NULL, 0755, 0, 0 },
        { "var/cache/.wh..wh..opq", AE_IFREG, "", 0644, 0, 0 },
    };
    char *tar = sw_path_join(dir, "wh.tar.gz");
    make_tar(tar, entries, 4);
    char *dest = fresh_dir("wh");
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_unpack_file(tar, dest, NULL, &err), 0);
    sw_error_clear(&err);
    struct stat st;
    char *p = sw_path_join(dest, "etc/passwd");
    CHECK_INT_EQ(lstat(p, &st), 0);
    CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
    free(p);
    p = sw_path_join(dest, "etc/.wh.passwd");
    CHECK(!sw_path_exists(p));
    free(p);
    p = sw_path_join(dest, "var/cache");
    char value[8] = { 0 };
    CHECK_INT_EQ(getxattr(p, "trusted.overlay.opaque", value, sizeof(value)), 1);
    CHECK_STR_EQ(value, "y");
    free(p);
    free(dest);

    /* with conversion off (ADD archives) they are plain files */
    struct bld_unpack_options keep = { .convert_whiteouts = 0 };
    dest = fresh_dir("wh-kept");
    CHECK_INT_EQ(bld_unpack_file(tar, dest, &keep, &err), 0);
    p = sw_path_join(dest, "etc/.wh.passwd");
    CHECK(sw_path_exists(p));
    free(p);
    free(dest);
    free(tar);
}

/* Unpacks a hostile archive; expects failure naming the entry and that
 * nothing appeared in or changed the "outside" directory. */
static void expect_refused(const char *label, const struct tar_entry *entries, size_t n,
                           const char *message_part)
{
    char *outside = fresh_dir("outside");
    char *victim = sw_path_join(outside, "victim");
    sw_write_file_atomic(victim, "original", 8, 0644, NULL);
    char *tar = sw_path_join(dir, "hostile.tar.gz");
    make_tar(tar, entries, n);
    char *dest = fresh_dir("layer/deep");
    sw_error *err = NULL;
    int rc = bld_unpack_file(tar, dest, NULL, &err);
    CHECK(rc != 0);
    if (rc == 0 || strstr(sw_error_message(err), message_part) == NULL)
        fprintf(stderr, "  %s: rc=%d message: %s\n", label, rc, sw_error_message(err));
    CHECK(err != NULL && strstr(sw_error_message(err), message_part) != NULL);
    sw_error_clear(&err);
    char *text = read_text(outside, "victim");
    CHECK_STR_EQ(text, "original");
    free(text);
    char *pwned = sw_path_join(outside, "pwned");
    CHECK(!sw_path_exists(pwned));
    free(pwned);
    free(dest);
    free(tar);
    free(victim);
    free(outside);
}

static void test_hostile_archives(void)
{
    char *outside = sw_path_join(dir, "outside");
    char *victim = sw_path_join(outside, "victim");
    char *pwned = sw_path_join(outside, "pwned");

    struct tar_entry dotdot[] = { { "../../outside/pwned", AE_IFREG, "x", 0644, 0, 0 } };
    expect_refused("dotdot", dotdot, 1, "'..' component");

    struct tar_entry hidden_dotdot[] = { { "a/b/../../../../outside/pwned", AE_IFREG, "x", 0, 0,
                                           0 } };
    expect_refused("hidden dotdot", hidden_dotdot, 1, "'..' component");

    struct tar_entry absolute[] = { { "/etc/pwned", AE_IFREG, "x", 0644, 0, 0 } };
    expect_refused("absolute", absolute, 1, "absolute path");

    /* a symlink to the outside, then a file written "through" it */
    struct tar_entry through_symlink[] = {
        { "escape", AE_IFLNK, outside, 0, 0, 0 },
        { "escape/pwned", AE_IFREG, "x", 0644, 0, 0 },
    };
    expect_refused("through symlink", through_symlink, 2, "symbolic link");

    struct tar_entry relative_symlink[] = {
        { "up", AE_IFLNK, "../../outside", 0, 0, 0 },
        { "up/victim", AE_IFREG, "overwritten", 0644, 0, 0 },
    };
    expect_refused("relative symlink", relative_symlink, 2, "symbolic link");

    /* hardlinks to files outside, directly or through a symlink */
    struct tar_entry hardlink_out[] = { { "hl", 0, "../../outside/victim", 0, 0, 0 } };
    expect_refused("hardlink dotdot", hardlink_out, 1, "'..' component");

    struct tar_entry hardlink_abs[] = { { "hl", 0, victim, 0, 0, 0 } };
    expect_refused("hardlink absolute", hardlink_abs, 1, "absolute path");

    struct tar_entry hardlink_via_symlink[] = {
        { "escape", AE_IFLNK, outside, 0, 0, 0 },
        { "hl", 0, "escape/victim", 0, 0, 0 },
    };
    expect_refused("hardlink via symlink", hardlink_via_symlink, 2, "symbolic link");

    struct tar_entry whiteout_through_symlink[] = {
        { "escape", AE_IFLNK, outside, 0, 0, 0 },
        { "escape/.wh.victim", AE_IFREG, "", 0644, 0, 0 },
    };
    expect_refused("whiteout via symlink", whiteout_through_symlink, 2, "symbolic link");
    (void)pwned;
    free(victim);
    free(pwned);
    free(outside);
}

static void test_not_a_tar(void)
{
    char *path = sw_path_join(dir, "garbage.bin");
    sw_write_file_atomic(path, "this is not a tarball at all, not even close.......", 51, 0644,
                         NULL);
    char *dest = fresh_dir("garbage");
    sw_error *err = NULL;
    CHECK(bld_unpack_file(path, dest, NULL, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "unpacking into") != NULL);
    sw_error_clear(&err);
    free(dest);
    free(path);
}

int main(void)
{
    dir = scratch_dir("test_unpack");
    RUN(test_regular_layer);
    RUN(test_whiteouts_become_overlay_whiteouts);
    RUN(test_hostile_archives);
    RUN(test_not_a_tar);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
