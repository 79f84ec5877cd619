/*
 * sandbox.c - one build step in an OCI runtime container (see sandbox.h).
 *
 * We mount the overlay ourselves (so the upper directory is ours to read
 * afterwards), write a runtime bundle (config.json) next to it, and run
 * `runc run` with the step's output on output_fd. Mount points the runtime
 * had to create in the root filesystem (/proc, /dev, /etc/hosts ... in an
 * image that lacks them) are removed from the upper directory afterwards, so
 * they do not leak into the layer.
 */
#include "builder/sandbox.h"

#include "builder/overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/strbuf.h"

/* Docker's default capability set for containers. */
static const char *const default_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

static const char *const masked_paths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    NULL,
};

/* Syscalls a build step gets EPERM for, on top of the capabilities it
 * lacks: the kernel interfaces behind most container escapes that need no
 * capability (user namespaces, keyrings, BPF, perf, userfaultfd, io_uring)
 * and the administrative ones Docker's default seccomp profile refuses too.
 * A denylist rather than Docker's allowlist: builds run arbitrary tools,
 * and an unknown new syscall is more often a libc fast path than an attack. */
static const char *const denied_syscalls[] = {
    "add_key",
    "request_key",
    "keyctl",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "open_by_handle_at",
    "name_to_handle_at",
    "init_module",
    "finit_module",
    "delete_module",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "syslog",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "quotactl",
    "mount",
    "umount2",
    "pivot_root",
    "setns",
    "unshare",
    "fanotify_init",
    "nfsservctl",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fspick",
    "mount_setattr",
    NULL,
};

/* clone() flags that make namespaces (CLONE_NEWNS and the others). */
static const unsigned long namespace_flags[] = {
    0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
};

static json_t *seccomp_profile(void)
{
    json_t *syscalls = json_array();
    json_t *names = json_array();
    for (size_t i = 0; denied_syscalls[i]; i++)
        json_array_append_new(names, json_string(denied_syscalls[i]));
    json_array_append_new(syscalls, json_pack("{s:o, s:s, s:i}", "names", names, "action",
                                              "SCMP_ACT_ERRNO", "errnoRet", 1));
    /* clone with a namespace flag; clone3 hides its flags in memory, so it
     * says ENOSYS and the C library falls back to clone */
    for (size_t i = 0; i < sizeof(namespace_flags) / sizeof(namespace_flags[0]); i++)
        json_array_append_new(
            syscalls, json_pack("{s:[s], s:s, s:i, s:[{s:i, s:I, s:I, s:s}]}", "names", "clone",
                                "action", "SCMP_ACT_ERRNO", "errnoRet", 1, "args", "index", 0,
                                "value", (json_int_t)namespace_flags[i], "valueTwo",
                                (json_int_t)namespace_flags[i], "op", "SCMP_CMP_MASKED_EQ"));
    json_array_append_new(syscalls, json_pack("{s:[s], s:s, s:i}", "names", "clone3", "action",
                                              "SCMP_ACT_ERRNO", "errnoRet", 38));
#if defined(__x86_64__)
    json_t *arches = json_pack("[s, s, s]", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
#elif defined(__aarch64__)
    json_t *arches = json_pack("[s, s]", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
#else
    json_t *arches = json_array();
#endif
    return json_pack("{s:s, s:o, s:o}", "defaultAction", "SCMP_ACT_ALLOW", "architectures", arches,
                     "syscalls", syscalls);
}

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* Paths the runtime may create as mount points; removed from the diff
 * afterwards unless the image had them. Parents before children. */
static const char *const mount_points[] = {
    "proc", "dev", "dev/pts",   "dev/shm",         "dev/mqueue",
    "sys",  "etc", "etc/hosts", "etc/resolv.conf", NULL,
};

static json_t *string_array(const char *const *items)
{
    json_t *a = json_array();
    for (size_t i = 0; items && items[i]; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static json_t *mount_entry(const char *dest, const char *type, const char *source,
                           const char *const *options)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source,
                     "options", string_array(options));
}

/* In an egress step's namespace a packet socket could write frames to the
 * NAT past the filter: no CAP_NET_RAW there (ping still works through ICMP
 * datagram sockets, which the filter sees). */
static void drop_net_raw(json_t *caps)
{
    size_t i;
    json_t *v;
    json_array_foreach(caps, i, v)
        if (strcmp(json_string_value(v), "CAP_NET_RAW") == 0) {
            json_array_remove(caps, i);
            return;
        }
}

static json_t *build_config(const struct bld_sandbox_spec *spec, const char *hosts_path,
                            const char *resolv_path)
{
    static const char *const dev_opts[] = { "nosuid", "strictatime", "mode=755", "size=65536k",
                                            NULL };
    static const char *const pts_opts[] = { "nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                                            "mode=0620", "gid=5",  NULL };
    static const char *const shm_opts[] = { "nosuid",    "noexec",      "nodev",
                                            "mode=1777", "size=65536k", NULL };
    static const char *const mq_opts[] = { "nosuid", "noexec", "nodev", NULL };
    static const char *const sys_opts[] = { "nosuid", "noexec", "nodev", "ro", NULL };
    static const char *const bind_ro[] = { "rbind", "ro", "nosuid", "nodev", "noexec", NULL };
    static const char *const proc_opts[] = { "nosuid", "noexec", "nodev", NULL };

    /* as many open files as we may give (a container cannot raise it) */
    struct rlimit nofile = { 1048576, 1048576 };
    struct rlimit ours;
    if (getrlimit(RLIMIT_NOFILE, &ours) == 0 && ours.rlim_max < nofile.rlim_max)
        nofile.rlim_cur = nofile.rlim_max = ours.rlim_max;

    json_t *caps = string_array(default_caps);
    if (spec->netns_path)
        drop_net_raw(caps);
    json_t *gids = json_array();
    for (size_t i = 0; i < spec->n_extra_gids; i++)
        json_array_append_new(gids, json_integer(spec->extra_gids[i]));

    json_t *process = json_pack(
        "{s:b, s:{s:i, s:i, s:o}, s:o, s:o, s:s, s:{s:O, s:O, s:O, s:O}, s:b,"
        " s:[{s:s, s:I, s:I}]}",
        "terminal", 0, "user", "uid", (int)spec->uid, "gid", (int)spec->gid, "additionalGids", gids,
        "args", string_array(spec->argv), "env", string_array(spec->env), "cwd",
        spec->cwd ? spec->cwd : "/", "capabilities", "bounding", caps, "effective", caps,
        "permitted", caps, "inheritable", caps, "noNewPrivileges", 1, "rlimits", "type",
        "RLIMIT_NOFILE", "hard", (json_int_t)nofile.rlim_max, "soft", (json_int_t)nofile.rlim_cur);
    json_decref(caps);

    json_t *namespaces = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc",
                                   "type", "uts", "type", "mount");
    if (spec->netns_path)
        json_array_append_new(namespaces,
                              json_pack("{s:s, s:s}", "type", "network", "path", spec->netns_path));
    else if (!spec->network_host)
        json_array_append_new(namespaces, json_pack("{s:s}", "type", "network"));

    json_t *mounts = json_array();
    json_array_append_new(mounts, mount_entry("/proc", "proc", "proc", proc_opts));
    json_array_append_new(mounts, mount_entry("/dev", "tmpfs", "tmpfs", dev_opts));
    json_array_append_new(mounts, mount_entry("/dev/pts", "devpts", "devpts", pts_opts));
    json_array_append_new(mounts, mount_entry("/dev/shm", "tmpfs", "shm", shm_opts));
    json_array_append_new(mounts, mount_entry("/dev/mqueue", "mqueue", "mqueue", mq_opts));
    json_array_append_new(mounts, mount_entry("/sys", "sysfs", "sysfs", sys_opts));
    json_array_append_new(mounts, mount_entry("/etc/hosts", "bind", hosts_path, bind_ro));
    json_array_append_new(mounts, mount_entry("/etc/resolv.conf", "bind", resolv_path, bind_ro));

    return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:{s:o, s:o, s:o, s:o}}", "ociVersion",
                     "1.0.2", "process", process, "root", "path", "rootfs", "readonly", 0,
                     "hostname", spec->hostname ? spec->hostname : "slipway-build", "mounts",
                     mounts, "linux", "namespaces", namespaces, "maskedPaths",
                     string_array(masked_paths), "readonlyPaths", string_array(readonly_paths),
                     "seccomp", seccomp_profile());
}

static int write_text(const char *dir, const char *name, const char *text, char **path_out,
                      sw_error **err)
{
    char *path = sw_path_join(dir, name);
    if (path == NULL)
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    int rc = sw_write_file_atomic(path, text, strlen(text), 0644, err);
    if (rc != 0 || path_out == NULL)
        free(path);
    else
        *path_out = path;
    return rc;
}

/* Runs a runtime subcommand quietly (kill, delete), waiting for it. */
static void runtime_cmd(const char *runtime, const char *verb, const char *id, const char *arg)
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 1);
        dup2(devnull, 2);
        if (arg)
            execlp(runtime, runtime, verb, id, arg, (char *)NULL);
        else
            execlp(runtime, runtime, verb, id, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

/* Removes from the upper dir the mount points the runtime created: those
 * that did not exist in the merged root before the run. Deepest first, and
 * only when empty (a command may have put files there on purpose). */
static void remove_created_mount_points(const char *upper, const int *existed)
{
    size_t n = 0;
    while (mount_points[n])
        n++;
    for (size_t i = n; i-- > 0;) {
        if (existed[i])
            continue;
        char *path = sw_path_join(upper, mount_points[i]);
        struct stat st;
        if (path && lstat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rmdir(path); /* fails harmlessly when not empty */
            else if (S_ISREG(st.st_mode) && st.st_size == 0)
                unlink(path);
        }
        free(path);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bld_sandbox_run(const struct bld_sandbox_spec *spec, int *exit_status, sw_error **err)
{
    char *bundle = NULL, *rootfs = NULL, *work = NULL, *empty = NULL;
    char *hosts = NULL, *resolv = NULL, *config_path = NULL, *config_text = NULL;
    json_t *config = NULL;
    int mounted = 0, rc = 0, started = 0;
    int existed[16] = { 0 };
    char id[40];
    unsigned char rnd[8];

    *exit_status = -1;
    if ((rc = sw_random_bytes(rnd, sizeof(rnd), err)) != 0)
        return rc;
    memcpy(id, "slipway-", 8);
    sw_hex_encode(rnd, sizeof(rnd), id + 8);

    bundle = sw_path_join(spec->scratch_dir, "bundle");
    rootfs = bundle ? sw_path_join(bundle, "rootfs") : NULL;
    work = sw_path_join(spec->scratch_dir, "work");
    empty = sw_path_join(spec->scratch_dir, "empty");
    if (!bundle || !rootfs || !work || !empty) {
        rc = sw_error_set(err, SW_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(rootfs, 0755, err)) || (rc = sw_mkdir_p(work, 0700, err)) ||
        (rc = sw_mkdir_p(empty, 0755, err)))
        goto cleanup;
    if ((rc = bld_overlay_mount(spec->lower_dirs, spec->n_lower, spec->upper_dir, work, empty,
                                rootfs, err)) != 0)
        goto cleanup;
    mounted = 1;

    for (size_t i = 0; mount_points[i]; i++) {
        char *p = sw_path_join(rootfs, mount_points[i]);
        existed[i] = p && sw_path_exists(p);
        free(p);
    }

    char hosts_text[512];
    snprintf(hosts_text, sizeof(hosts_text),
             "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
             "127.0.1.1\t%s\n",
             spec->hostname ? spec->hostname : "slipway-build");
    char *resolv_text = NULL;
    if (spec->network_host)
        sw_read_file("/etc/resolv.conf", 64 * 1024, &resolv_text, NULL, NULL);
    rc = write_text(spec->scratch_dir, "hosts", hosts_text, &hosts, err);
    if (rc == 0)
        rc = write_text(spec->scratch_dir, "resolv.conf",
                        spec->resolv_conf ? spec->resolv_conf
                        : resolv_text     ? resolv_text
                                          : "# no network in this build step\n",
                        &resolv, err);
    free(resolv_text);
    if (rc != 0)
        goto cleanup;

    config = build_config(spec, hosts, resolv);
    config_text = config ? json_dumps(config, JSON_INDENT(2)) : NULL;
    config_path = sw_path_join(bundle, "config.json");
    if (config_text == NULL || config_path == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "building the runtime config");
        goto cleanup;
    }
    if ((rc = sw_write_file_atomic(config_path, config_text, strlen(config_text), 0600, err)))
        goto cleanup;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "fork");
        goto cleanup;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(spec->output_fd, 1);
        dup2(spec->output_fd, 2);
        setpgid(0, 0);
        /* a worker killed with SIGKILL must not leave its build running */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(137);
        execlp(spec->runtime, spec->runtime, "run", "--bundle", bundle, id, (char *)NULL);
        dprintf(2, "slipway: cannot run %s: %s\n", spec->runtime, strerror(errno));
        _exit(127);
    }
    started = 1;

    double deadline = spec->timeout_s > 0 ? now_s() + (double)spec->timeout_s : 0;
    int status = 0, stop_reason = 0; /* 1 timeout, 2 canceled */
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            rc = sw_error_sys(err, SW_EIO, errno, "waiting for %s", spec->runtime);
            goto cleanup;
        }
        if (!stop_reason && deadline > 0 && now_s() > deadline)
            stop_reason = 1;
        if (!stop_reason && spec->cancel && *spec->cancel)
            stop_reason = 2;
        if (stop_reason == 1 || stop_reason == 2) {
            runtime_cmd(spec->runtime, "kill", id, "KILL");
            stop_reason += 10; /* asked once; keep waiting for the exit */
        }
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    if (WIFEXITED(status))
        *exit_status = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        *exit_status = 128 + WTERMSIG(status);
    if (stop_reason == 11)
        rc = sw_error_set(err, SW_ETIMEOUT, "the step ran longer than %llds and was stopped",
                          (long long)spec->timeout_s);
    else if (stop_reason == 12)
        rc = sw_error_set(err, SW_ECANCELED, "canceled");
    else if (*exit_status == 127 && !sw_path_exists(spec->runtime) && strchr(spec->runtime, '/'))
        rc = sw_error_set(err, SW_ENOTFOUND, "OCI runtime %s not found", spec->runtime);

cleanup:
    if (started)
        runtime_cmd(spec->runtime, "delete", id, "--force");
    if (mounted && bld_overlay_unmount(rootfs, rc == 0 ? err : NULL) != 0 && rc == 0)
        rc = SW_EIO;
    if (mounted)
        remove_created_mount_points(spec->upper_dir, existed);
    if (bundle)
        sw_rm_rf(bundle, NULL);
    if (work)
        sw_rm_rf(work, NULL);
    json_decref(config);
    free(config_text);
    free(config_path);
    free(hosts);
    free(resolv);
    free(bundle);
    free(rootfs);
    free(work);
    free(empty);
    return rc;
}
