/*
 * test_run_image.c - builder/run_image.c's bld_image_run with the real
 * runc, on a busybox image imported into a scratch store: the command
 * given or the image's own, the image's Env and WorkingDir, the exit
 * status, nothing kept between runs, a timeout, and the errors for an
 * image that is not there and an image with no command.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/run_image.h"
#include "core/fs.h"
#include "registry/store.h"
#include "registry/transfer.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;
static reg_store *store;

/* a busybox root filesystem as a tarball; its path */
static char *make_busybox_tar(void)
{
    char *root = sw_path_join(dir, "rootfs"), *bin = NULL, *tar = sw_path_join(dir, "rootfs.tar");
    char *cmd = NULL;
    if (root == NULL || tar == NULL || (bin = sw_path_join(root, "bin")) == NULL)
        abort();
    sw_mkdir_p(bin, 0755, NULL);
    char *srv = sw_path_join(root, "srv");
    sw_mkdir_p(srv, 0755, NULL);
    free(srv);
    if (asprintf(&cmd, "cp /bin/busybox %s/busybox", bin) < 0 || system(cmd) != 0) {
        fprintf(stderr, "cannot copy /bin/busybox (install busybox-static)\n");
        exit(1);
    }
    free(cmd);
    const char *applets[] = { "sh", "cat", "echo", "pwd", "sleep", "test", "touch", "ls", NULL };
    for (int i = 0; applets[i]; i++) {
        char *link = sw_path_join(bin, applets[i]);
        if (symlink("busybox", link) != 0)
            perror("symlink");
        free(link);
    }
    if (asprintf(&cmd, "tar -C '%s' -cf '%s' .", root, tar) < 0 || system(cmd) != 0)
        abort();
    free(cmd);
    free(bin);
    free(root);
    return tar;
}

static void import(const char *tar, const char *tag, json_t *cmd)
{
    static const char *const env[] = { "GREETING=from the image", NULL };
    char *source = NULL;
    sw_error *err = NULL;
    struct reg_transfer_result result;
    struct reg_image_settings settings = {
        .cmd = cmd, .env = env, .workdir = "/srv", .created = 0
    };
    if (asprintf(&source, "tar:%s", tar) < 0)
        abort();
    CHECK_INT_EQ(reg_import(store, source, "test/busybox", tag, &settings, &result, &err), 0);
    if (err)
        fprintf(stderr, "import: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    free(source);
}

struct outcome {
    int rc;
    int exit_status;
    char output[4096];
    char message[512];
};

static void run(const char *tag, const char *const *argv, int64_t timeout_s, struct outcome *o)
{
    char *path = sw_path_join(dir, "output");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    sw_error *err = NULL;
    struct bld_run_options opts = { .argv = argv, .timeout_s = timeout_s, .output_fd = fd };
    memset(o, 0, sizeof(*o));
    o->rc = bld_image_run(store, "test/busybox", tag, &opts, &o->exit_status, &err);
    snprintf(o->message, sizeof(o->message), "%s", err ? sw_error_message(err) : "");
    sw_error_clear(&err);
    ssize_t n = pread(fd, o->output, sizeof(o->output) - 1, 0);
    if (n > 0)
        o->output[n] = '\0';
    close(fd);
    free(path);
}

static void test_runs(void)
{
    struct outcome o;
    const char *env_and_cwd[] = { "sh", "-c", "echo \"$GREETING\"; pwd; exit 3", NULL };
    run("plain", env_and_cwd, 0, &o);
    CHECK_INT_EQ(o.rc, 0);
    CHECK_INT_EQ(o.exit_status, 3);
    CHECK_STR_EQ(o.output, "from the image\n/srv\n");

    /* the image's own command */
    run("with-cmd", NULL, 0, &o);
    CHECK_INT_EQ(o.rc, 0);
    CHECK_INT_EQ(o.exit_status, 0);
    CHECK_STR_EQ(o.output, "image cmd\n");

    /* nothing a run writes is kept */
    const char *write[] = { "touch", "/srv/left-behind", NULL };
    run("plain", write, 0, &o);
    CHECK_INT_EQ(o.rc, 0);
    CHECK_INT_EQ(o.exit_status, 0);
    const char *look[] = { "test", "-e", "/srv/left-behind", NULL };
    run("plain", look, 0, &o);
    CHECK_INT_EQ(o.rc, 0);
    CHECK_INT_EQ(o.exit_status, 1);

    /* a command that runs too long is stopped */
    const char *sleepy[] = { "sleep", "30", NULL };
    time_t t0 = time(NULL);
    run("plain", sleepy, 1, &o);
    CHECK(o.rc != 0 || o.exit_status != 0);
    CHECK(time(NULL) - t0 < 20);
}

static void test_errors(void)
{
    struct outcome o;
    const char *argv[] = { "true", NULL };
    /* no such tag, no such repository */
    run("missing", argv, 0, &o);
    CHECK(o.rc != 0);
    CHECK_INT_EQ(o.exit_status, -1);
    CHECK(strstr(o.message, "test/busybox:missing") != NULL);
    sw_error *err = NULL;
    int status = 0;
    struct bld_run_options opts = { .argv = argv, .output_fd = -1 };
    CHECK(bld_image_run(store, "test/none", "latest", &opts, &status, &err) != 0);
    CHECK(strstr(sw_error_message(err), "test/none:latest") != NULL);
    sw_error_clear(&err);
    /* an image without a command, and none given */
    run("plain", NULL, 0, &o);
    CHECK(o.rc != 0);
    CHECK(strstr(o.message, "no command to run in test/busybox:plain") != NULL);
    /* a command that is not in the image: it could not start, or exits 127 */
    const char *absent[] = { "/bin/not-here", NULL };
    run("plain", absent, 0, &o);
    CHECK(o.rc != 0 || o.exit_status != 0);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skipped: needs root for runc\n");
        return 0;
    }
    dir = scratch_dir("test_run_image");
    char *data = sw_path_join(dir, "data");
    sw_error *err = NULL;
    if (reg_store_open(data, NULL, &store, &err) != 0) {
        fprintf(stderr, "store: %s\n", sw_error_message(err));
        return 1;
    }
    char *tar = make_busybox_tar();
    import(tar, "plain", NULL);
    json_t *cmd = json_pack("[s,s,s]", "sh", "-c", "echo image cmd");
    import(tar, "with-cmd", cmd);
    json_decref(cmd);
    RUN(test_runs);
    RUN(test_errors);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(tar);
    free(data);
    free(dir);
    return TEST_EXIT();
}
