/*
 * test_sandbox.c - builder/sandbox.c with the real runc: a step's output,
 * exit code and diff; and what the container must not see or do.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "builder/sandbox.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;
static char *lower;

/* A busybox root filesystem: /bin/busybox and a few applet links. */
static void make_busybox_layer(void)
{
    lower = sw_path_join(dir, "layer-busybox");
    char *bin = sw_path_join(lower, "bin");
    sw_mkdir_p(bin, 0755, NULL);
    char *cmd = NULL;
    if (asprintf(&cmd, "cp /bin/busybox %s/busybox", bin) < 0 || system(cmd) != 0) {
        fprintf(stderr, "cannot copy /bin/busybox (install busybox-static)\n");
        exit(1);
    }
    free(cmd);
    const char *applets[] = { "sh",    "cat",   "echo",  "ls",   "id",       "rm",   "dd",
                              "mkdir", "chown", "sleep", "grep", "hostname", "test", NULL };
    for (int i = 0; applets[i]; i++) {
        char *link = sw_path_join(bin, applets[i]);
        if (symlink("busybox", link) != 0)
            perror("symlink");
        free(link);
    }
    free(bin);
}

struct run_result {
    int rc;
    int exit_status;
    char output[8192];
    char *upper;
    char message[512];
};

/* What the next run_step applies besides its arguments. */
static const struct bld_sandbox_limits *step_limits;
static const struct bld_sandbox_userns *step_userns;
static struct bld_output_cap *step_cap;

static void run_step(const char *label, const char *script, uid_t uid, int64_t timeout_s,
                     struct run_result *res)
{
    char *step = sw_path_join(dir, label);
    char *upper = sw_path_join(step, "upper");
    char *scratch = sw_path_join(step, "scratch");
    char *out_path = sw_path_join(step, "output");
    sw_mkdir_p(upper, 0755, NULL);
    sw_mkdir_p(scratch, 0700, NULL);
    int out_fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    const char *lowers[] = { lower };
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    const char *env[] = { "PATH=/bin", "GREETING=hello from env", NULL };
    struct bld_sandbox_spec spec = {
        .runtime = "runc",
        .lower_dirs = lowers,
        .n_lower = 1,
        .upper_dir = upper,
        .scratch_dir = scratch,
        .argv = argv,
        .env = env,
        .cwd = "/",
        .uid = uid,
        .gid = uid,
        .timeout_s = timeout_s,
        .output_fd = out_fd,
        .limits = step_limits,
        .userns = step_userns,
        .output_cap = step_cap,
    };
    sw_error *err = NULL;
    res->rc = bld_sandbox_run(&spec, &res->exit_status, &err);
    snprintf(res->message, sizeof(res->message), "%s", res->rc ? sw_error_message(err) : "");
    if (res->rc != 0 && res->rc != SW_ETIMEOUT && res->rc != SW_ETOOBIG)
        fprintf(stderr, "  %s: %s\n", label, sw_error_message(err));
    sw_error_clear(&err);
    ssize_t n = pread(out_fd, res->output, sizeof(res->output) - 1, 0);
    res->output[n > 0 ? n : 0] = '\0';
    close(out_fd);
    res->upper = upper;
    free(step);
    free(scratch);
    free(out_path);
}

static void test_output_exit_code_and_diff(void)
{
    struct run_result res;
    run_step("diff", "echo \"$GREETING\"; echo data > /out.txt; rm /bin/cat; exit 3", 0, 60, &res);
    CHECK_INT_EQ(res.rc, 0);
    CHECK_INT_EQ(res.exit_status, 3);
    CHECK(strstr(res.output, "hello from env\n") != NULL);

    char *out_txt = sw_path_join(res.upper, "out.txt");
    char *text = NULL;
    CHECK_INT_EQ(sw_read_file(out_txt, 100, &text, NULL, NULL), 0);
    CHECK_STR_EQ(text, "data\n");
    free(text);
    free(out_txt);

    /* the deletion is an overlay whiteout in the diff; the layer below is untouched */
    struct stat st;
    char *cat = sw_path_join(res.upper, "bin/cat");
    CHECK_INT_EQ(lstat(cat, &st), 0);
    CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
    free(cat);
    cat = sw_path_join(lower, "bin/cat");
    CHECK(sw_path_exists(cat));
    free(cat);

    /* mount points the runtime created in this image (it has no /proc,
     * /dev, /sys, /etc) are not part of the diff */
    const char *absent[] = { "proc", "dev", "sys", "etc", NULL };
    for (int i = 0; absent[i]; i++) {
        char *p = sw_path_join(res.upper, absent[i]);
        CHECK(!sw_path_exists(p));
        if (sw_path_exists(p))
            fprintf(stderr, "  leaked mount point %s\n", absent[i]);
        free(p);
    }
    free(res.upper);
}

static void test_isolation(void)
{
    struct run_result res;
    char script[2048];
    /* Each line prints a fact the test checks. */
    snprintf(script, sizeof(script),
             "echo pid=$$;"
             "test -e '%s' && echo host-visible=yes || echo host-visible=no;"
             "test -e /proc/1/root/%s && echo host-root=yes || echo host-root=no;"
             "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status;"
             "cat /proc/net/dev | grep -c ':' | sed 's/^/netdevs=/' 2>/dev/null || "
             "  echo netdevs=$(grep -c ':' /proc/net/dev);"
             "echo hostname=$(hostname);"
             "echo x > /proc/sys/kernel/hostname 2>/dev/null && echo procsys=writable || echo "
             "procsys=readonly;"
             "cat /proc/kcore >/dev/null 2>&1 && head -c1 /proc/kcore | grep -q . && echo "
             "kcore=readable || echo kcore=masked;"
             "ls /dev | grep -c . | sed 's/^/devcount=/'",
             dir, dir);
    run_step("isolation", script, 0, 60, &res);
    CHECK_INT_EQ(res.rc, 0);
    CHECK_INT_EQ(res.exit_status, 0);
    CHECK(strstr(res.output, "pid=1\n") != NULL);           /* own PID namespace */
    CHECK(strstr(res.output, "host-visible=no\n") != NULL); /* host paths invisible */
    CHECK(strstr(res.output, "host-root=no\n") != NULL);
    /* Docker's default capabilities exactly (mask 0xa80425fb) */
    CHECK(strstr(res.output, "CapEff:\t00000000a80425fb\n") != NULL);
    CHECK(strstr(res.output, "NoNewPrivs:\t1\n") != NULL);
    CHECK(strstr(res.output, "netdevs=1\n") != NULL); /* loopback only */
    CHECK(strstr(res.output, "hostname=slipway-build\n") != NULL);
    CHECK(strstr(res.output, "procsys=readonly\n") != NULL);
    CHECK(strstr(res.output, "kcore=masked\n") != NULL);
    if (test_failures)
        fprintf(stderr, "--- container output ---\n%s---\n", res.output);
    free(res.upper);
}

/* The seccomp profile: no new user namespace (unshare or clone), no
 * keyrings; ordinary work (fork, exec, files) unaffected. */
static void test_seccomp(void)
{
    struct run_result res;
    run_step(
        "seccomp",
        "grep '^Seccomp:' /proc/self/status;"
        "/bin/busybox unshare -U true 2>/dev/null && echo userns=allowed || echo userns=denied;"
        "/bin/busybox unshare -n true 2>/dev/null && echo netns=allowed || echo netns=denied;"
        "(echo sub; echo shell) | /bin/busybox wc -l | sed 's/^/lines=/';"
        "echo ok > /tmp-file && cat /tmp-file",
        0, 60, &res);
    CHECK_INT_EQ(res.rc, 0);
    CHECK_INT_EQ(res.exit_status, 0);
    CHECK(strstr(res.output, "Seccomp:\t2\n") != NULL);
    CHECK(strstr(res.output, "userns=denied\n") != NULL);
    CHECK(strstr(res.output, "netns=denied\n") != NULL);
    CHECK(strstr(res.output, "lines=2\n") != NULL);
    CHECK(strstr(res.output, "\nok\n") != NULL);
    if (test_failures)
        fprintf(stderr, "--- container output ---\n%s---\n", res.output);
    free(res.upper);
}

static void test_user(void)
{
    struct run_result res;
    run_step("user", "id -u; id -g; touch /root-owned 2>/dev/null && echo wrote || echo denied",
             1000, 60, &res);
    CHECK_INT_EQ(res.rc, 0);
    CHECK(strncmp(res.output, "1000\n1000\n", 10) == 0);
    CHECK(strstr(res.output, "denied") != NULL);
    free(res.upper);
}

static void test_timeout(void)
{
    struct run_result res;
    run_step("timeout", "echo started; sleep 30; echo never", 0, 1, &res);
    CHECK_INT_EQ(res.rc, SW_ETIMEOUT);
    CHECK(strstr(res.output, "started") != NULL);
    CHECK(strstr(res.output, "never") == NULL);
    free(res.upper);
}

static void test_user_namespace(void)
{
    struct bld_sandbox_userns userns = { 100000, 100000, 65536 };
    struct run_result res;
    step_userns = &userns;
    run_step("userns",
             "cat /proc/self/uid_map; echo x > /made; mkdir /d; chown 1000:1000 /d; id -u", 0, 60,
             &res);
    step_userns = NULL;
    CHECK_INT_EQ(res.rc, 0);
    CHECK_INT_EQ(res.exit_status, 0);
    /* "         0     100000      65536" */
    unsigned inside = 1, outside = 0, count = 0;
    CHECK_INT_EQ(sscanf(res.output, "%u %u %u", &inside, &outside, &count), 3);
    CHECK(inside == 0 && outside == 100000 && count == 65536);
    /* nothing is shifted on disk: root's file is 0:0, the chown is 1000 */
    struct stat st;
    char *made = sw_path_join(res.upper, "made"), *d = sw_path_join(res.upper, "d");
    CHECK(lstat(made, &st) == 0 && st.st_uid == 0 && st.st_gid == 0);
    CHECK(lstat(d, &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000);
    free(made);
    free(d);
    free(res.upper);
}

static void test_limits(void)
{
    struct bld_sandbox_limits limits = { .memory = 32 << 20, .pids = 64, .disk = 16 << 20 };
    struct run_result res;
    step_limits = &limits;
    run_step("oom", "dd if=/dev/zero of=/dev/null bs=128M count=1", 0, 60, &res);
    CHECK_INT_EQ(res.rc, SW_ETOOBIG);
    CHECK(strstr(res.message, "memory limit 32MiB reached (builder.limits.memory)") != NULL);
    free(res.upper);
    run_step("pids", "i=0; while [ $i -lt 200 ]; do sleep 2 & i=$((i+1)); done; exit 0", 0, 60,
             &res);
    CHECK_INT_EQ(res.rc, SW_ETOOBIG);
    CHECK(strstr(res.message, "process limit 64 reached") != NULL);
    free(res.upper);
    run_step("disk", "for i in 1 2 3; do dd if=/dev/zero of=/f$i bs=1M count=10; done", 0, 60,
             &res);
    CHECK_INT_EQ(res.rc, SW_ETOOBIG);
    CHECK(strstr(res.message, "disk limit 16MiB reached (builder.limits.disk)") != NULL);
    free(res.upper);
    step_limits = NULL;
}

static void test_output_cap(void)
{
    struct bld_output_cap cap = { .max_size = 1000, .key = "runs.max_log_size" };
    struct run_result res;
    step_cap = &cap;
    run_step("cap",
             "i=0; while [ $i -lt 100 ]; do echo 0123456789012345678901234567890123456789; "
             "i=$((i+1)); done; echo done > /done",
             0, 60, &res);
    step_cap = NULL;
    CHECK_INT_EQ(res.rc, 0);
    CHECK_INT_EQ(res.exit_status, 0);
    const char *note =
        strstr(res.output, "# log truncated: it reached 1000 bytes (runs.max_log_size)");
    CHECK(note != NULL);
    CHECK(note && strstr(note + 1, "# log truncated") == NULL);
    CHECK(strlen(res.output) < 1200);
    char *done = sw_path_join(res.upper, "done");
    CHECK(sw_path_exists(done)); /* the command went on */
    free(done);
    free(res.upper);
}

/* A RUN that leaves /etc alone gives a diff without /etc, although the
 * runtime's /etc/hosts and /etc/resolv.conf mounts copied the directory up
 * (it would be a layer entry with the build's mtime); a RUN that writes
 * there keeps it. */
static void test_etc_copy_up_left_out(void)
{
    char *etc = sw_path_join(lower, "etc"), *release = sw_path_join(lower, "etc/os-release");
    CHECK_INT_EQ(sw_mkdir_p(etc, 0755, NULL), 0);
    CHECK_INT_EQ(sw_write_file_atomic(release, "ID=test\n", 8, 0644, NULL), 0);

    struct run_result res;
    step_limits = NULL;
    step_userns = NULL;
    step_cap = NULL;
    run_step("etc-untouched", "cat /etc/os-release > /dev/null", 0, 60, &res);
    if (res.exit_status != 0)
        fprintf(stderr, "  etc-untouched: %s%s\n", res.message, res.output);
    CHECK_INT_EQ(res.rc, 0);
    CHECK_INT_EQ(res.exit_status, 0);
    char *up_etc = sw_path_join(res.upper, "etc");
    CHECK(!sw_path_exists(up_etc));
    free(up_etc);
    free(res.upper);

    run_step("etc-written", "echo x > /etc/new", 0, 60, &res);
    CHECK_INT_EQ(res.exit_status, 0);
    char *up_new = sw_path_join(res.upper, "etc/new");
    CHECK(sw_path_exists(up_new));
    free(up_new);
    free(res.upper);

    sw_rm_rf(etc, NULL);
    free(etc);
    free(release);
}

int main(void)
{
    if (geteuid() != 0 || access("/usr/sbin/runc", X_OK) != 0) {
        fprintf(stderr, "this test needs root and runc\n");
        return 1;
    }
    dir = scratch_dir("test_sandbox");
    make_busybox_layer();
    RUN(test_output_exit_code_and_diff);
    RUN(test_etc_copy_up_left_out);
    RUN(test_isolation);
    RUN(test_seccomp);
    RUN(test_user);
    RUN(test_timeout);
    RUN(test_user_namespace);
    RUN(test_limits);
    RUN(test_output_cap);
    sw_rm_rf(dir, NULL);
    free(lower);
    free(dir);
    return TEST_EXIT();
}
