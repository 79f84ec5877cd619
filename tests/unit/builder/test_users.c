/*
 * test_users.c - builder/users.c: USER and --chown through the passwd and
 * group files of an image's layers, as runc (USER) and BuildKit's file op
 * (--chown) resolve them: names, uids, name:group, uid:gid, primary
 * groups, missing users and groups, whiteouts between layers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "builder/users.h"
#include "core/fs.h"
#include "tests/unit/test.h"

#define PASSWD                                                                                     \
    "root:x:0:0:root:/root:/bin/sh\n"                                                              \
    "# a comment line\n"                                                                           \
    "broken:x:notanumber:1::/:/bin/sh\n"                                                           \
    "app:x:1000:2000:App:/home/app:/bin/sh\n"                                                      \
    "web:x:33:33::/var/www:/bin/false"
#define GROUP                                                                                      \
    "root:x:0:\n"                                                                                  \
    "app:x:1001:\n"                                                                                \
    "staff:x:50:app\n"

static char root_dir[] = "/tmp/slipway-test-users-XXXXXX";
static char *layers[2];

/* Resolves spec against the two layers; returns rc, fills "uid:gid" or the
 * error message. */
static int resolve(const char *spec, enum bld_user_mode mode, size_t n_layers, char *out,
                   size_t size)
{
    sw_error *err = NULL;
    uid_t uid = 99999;
    gid_t gid = 99999;
    int rc = bld_user_resolve(spec, mode, layers, n_layers, &uid, &gid, &err);
    if (rc == 0)
        snprintf(out, size, "%u:%u", (unsigned)uid, (unsigned)gid);
    else
        snprintf(out, size, "%s", sw_error_message(err));
    sw_error_clear(&err);
    return rc;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
    char *path = sw_path_join(dir, rel);
    CHECK(path != NULL);
    CHECK_INT_EQ(sw_write_file_atomic(path, text, strlen(text), 0644, NULL), 0);
    free(path);
}

static void setup(void)
{
    CHECK(mkdtemp(root_dir) != NULL);
    layers[0] = sw_path_join(root_dir, "0");
    layers[1] = sw_path_join(root_dir, "1");
    for (int i = 0; i < 2; i++) {
        char *etc = sw_path_join(layers[i], "etc");
        CHECK_INT_EQ(sw_mkdir_p(etc, 0755, NULL), 0);
        free(etc);
    }
    write_file(layers[0], "etc/passwd", PASSWD);
    write_file(layers[0], "etc/group", GROUP);
}

static void test_exec(void)
{
    char out[512];
    /* a name: uid and primary gid of its passwd entry */
    CHECK_INT_EQ(resolve("app", BLD_USER_EXEC, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "1000:2000");
    /* a known uid takes its primary group */
    CHECK_INT_EQ(resolve("33", BLD_USER_EXEC, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "33:33");
    /* an unknown uid: gid 0, as runc */
    CHECK_INT_EQ(resolve("4242", BLD_USER_EXEC, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "4242:0");
    /* name:group through the group file (the bug: run_image gave gid 0) */
    CHECK_INT_EQ(resolve("app:app", BLD_USER_EXEC, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "1000:1001");
    CHECK_INT_EQ(resolve("app:staff", BLD_USER_EXEC, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "1000:50");
    CHECK_INT_EQ(resolve("web:7", BLD_USER_EXEC, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "33:7");
    CHECK_INT_EQ(resolve("1000:1000", BLD_USER_EXEC, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "1000:1000");
    CHECK_INT_EQ(resolve("4242:staff", BLD_USER_EXEC, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "4242:50");
    CHECK_INT_EQ(resolve("root", BLD_USER_EXEC, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "0:0");
    /* missing names are errors that name them */
    CHECK_INT_EQ(resolve("nobody", BLD_USER_EXEC, 1, out, sizeof(out)), SW_ENOTFOUND);
    CHECK_STR_EQ(out, "unable to find user nobody: no matching entries in passwd file");
    CHECK_INT_EQ(resolve("app:nogroup", BLD_USER_EXEC, 1, out, sizeof(out)), SW_ENOTFOUND);
    CHECK_STR_EQ(out, "unable to find group nogroup: no matching entries in group file");
    /* a line with a bad uid is skipped, not read as 0 */
    CHECK_INT_EQ(resolve("broken", BLD_USER_EXEC, 1, out, sizeof(out)), SW_ENOTFOUND);
    CHECK_INT_EQ(resolve("99999999999", BLD_USER_EXEC, 1, out, sizeof(out)), SW_EINVAL);
    CHECK(strstr(out, "out of range") != NULL);
    CHECK_INT_EQ(resolve("1:2147483648", BLD_USER_EXEC, 1, out, sizeof(out)), SW_EINVAL);
}

static void test_chown(void)
{
    char out[512];
    /* a uid without a group: the uid is the gid (Docker's documented rule) */
    CHECK_INT_EQ(resolve("33", BLD_USER_CHOWN, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "33:33");
    CHECK_INT_EQ(resolve("4242", BLD_USER_CHOWN, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "4242:4242");
    CHECK_INT_EQ(resolve("app", BLD_USER_CHOWN, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "1000:2000");
    CHECK_INT_EQ(resolve("app:staff", BLD_USER_CHOWN, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "1000:50");
    CHECK_INT_EQ(resolve("10:20", BLD_USER_CHOWN, 1, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "10:20");
    /* numeric ids and root need no user database */
    CHECK_INT_EQ(resolve("root:root", BLD_USER_CHOWN, 0, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "0:0");
    CHECK_INT_EQ(resolve("10:20", BLD_USER_CHOWN, 0, out, sizeof(out)), 0);
    CHECK_INT_EQ(resolve("app", BLD_USER_CHOWN, 0, out, sizeof(out)), SW_ENOTFOUND);
    CHECK_INT_EQ(bld_user_is_numeric("10:20", BLD_USER_CHOWN), 1);
    CHECK_INT_EQ(bld_user_is_numeric("root", BLD_USER_CHOWN), 1);
    CHECK_INT_EQ(bld_user_is_numeric("10:staff", BLD_USER_CHOWN), 0);
    CHECK_INT_EQ(bld_user_is_numeric("app", BLD_USER_CHOWN), 0);
}

static void test_layers(void)
{
    char out[512];
    /* the topmost layer's passwd wins */
    write_file(layers[1], "etc/passwd", "app:x:3000:3000::/:/bin/sh\n");
    CHECK_INT_EQ(resolve("app", BLD_USER_EXEC, 2, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "3000:3000");
    /* a whiteout hides the lower layer's file */
    char *path = sw_path_join(layers[1], "etc/passwd");
    CHECK_INT_EQ(unlink(path), 0);
    if (mknod(path, S_IFCHR | 0, makedev(0, 0)) == 0) {
        CHECK_INT_EQ(resolve("app", BLD_USER_EXEC, 2, out, sizeof(out)), SW_ENOTFOUND);
        CHECK_INT_EQ(resolve("1000", BLD_USER_EXEC, 2, out, sizeof(out)), 0);
        CHECK_STR_EQ(out, "1000:0");
        unlink(path);
    }
    free(path);
    /* and without a layer that has it, the lower one is read */
    CHECK_INT_EQ(resolve("app", BLD_USER_EXEC, 2, out, sizeof(out)), 0);
    CHECK_STR_EQ(out, "1000:2000");
}

int main(void)
{
    setup();
    RUN(test_exec);
    RUN(test_chown);
    RUN(test_layers);
    sw_rm_rf(root_dir, NULL);
    free(layers[0]);
    free(layers[1]);
    return TEST_EXIT();
}
