/*
 * sandbox_config.c - the OCI runtime config (config.json) of a build step
 * (see sandbox.c): capabilities, masked paths, the seccomp denylist,
 * mounts, limits, the cgroup, the owner annotation and the user namespace.
 */
#include "builder/sandbox_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "core/fs.h"
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

json_t *bld_sandbox_build_config(const struct bld_sandbox_spec *spec, const char *hosts_path,
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
    for (size_t i = 0; i < spec->n_extra_mounts; i++) {
        const struct bld_sandbox_mount *m = &spec->extra_mounts[i];
        json_array_append_new(mounts, mount_entry(m->destination, m->type, m->source, m->options));
    }

    return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:{s:o, s:o, s:o, s:o}}", "ociVersion",
                     "1.0.2", "process", process, "root", "path", "rootfs", "readonly", 0,
                     "hostname", spec->hostname ? spec->hostname : "slipway-build", "mounts",
                     mounts, "linux", "namespaces", namespaces, "maskedPaths",
                     string_array(masked_paths), "readonlyPaths", string_array(readonly_paths),
                     "seccomp", seccomp_profile());
}

/* ---- the runtime config: limits, cgroup, owner, user namespace ----------- */

void bld_sandbox_add_policy(json_t *config, const struct bld_sandbox_spec *spec, const char *id,
                            const char *owner)
{
    json_t *linux_ = json_object_get(config, "linux");
    char cgroup[96];
    snprintf(cgroup, sizeof(cgroup), "/" CGROUP_PARENT "/%s", id);
    json_object_set_new(linux_, "cgroupsPath", json_string(cgroup));
    json_object_set_new(config, "annotations", json_pack("{s:s}", OWNER_ANNOTATION, owner));

    const struct bld_sandbox_limits *l = spec->limits;
    if (l) {
        json_t *res = json_object();
        /* swap equal to the limit: no swap (without swap accounting, a
         * v1 kernel has no memsw files and there is nothing to set) */
        if (l->memory > 0 && (bld_sandbox_cgroup_v2() ||
                              sw_path_exists(CGROUP_ROOT "/memory/memory.memsw.limit_in_bytes")))
            json_object_set_new(res, "memory",
                                json_pack("{s:I, s:I}", "limit", (json_int_t)l->memory, "swap",
                                          (json_int_t)l->memory));
        else if (l->memory > 0)
            json_object_set_new(res, "memory", json_pack("{s:I}", "limit", (json_int_t)l->memory));
        if (l->pids > 0)
            json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)l->pids));
        if (l->cpus > 0) {
            const json_int_t period = 100000;
            json_object_set_new(res, "cpu",
                                json_pack("{s:I, s:I}", "quota",
                                          (json_int_t)(l->cpus * (double)period + 0.5), "period",
                                          period));
        }
        json_object_set_new(linux_, "resources", res);
        if (l->disk > 0) {
            json_t *rlimits = json_object_get(json_object_get(config, "process"), "rlimits");
            json_array_append_new(rlimits,
                                  json_pack("{s:s, s:I, s:I}", "type", "RLIMIT_FSIZE", "hard",
                                            (json_int_t)l->disk, "soft", (json_int_t)l->disk));
        }
    }

    const struct bld_sandbox_userns *u = spec->userns;
    if (u && u->size > 0) {
        json_t *namespaces = json_object_get(linux_, "namespaces");
        json_array_append_new(namespaces, json_pack("{s:s}", "type", "user"));
        json_object_set_new(linux_, "uidMappings",
                            json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID",
                                      (json_int_t)u->uid, "size", (json_int_t)u->size));
        json_object_set_new(linux_, "gidMappings",
                            json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID",
                                      (json_int_t)u->gid, "size", (json_int_t)u->size));
        /* sysfs can only be mounted in a user namespace that owns the
         * network namespace; with any other network, bind the host's
         * (read-only, as before) */
        int own_netns = 0;
        size_t i;
        json_t *ns;
        json_array_foreach(namespaces, i, ns) {
            const char *type = json_string_value(json_object_get(ns, "type"));
            if (type && strcmp(type, "network") == 0 && json_object_get(ns, "path") == NULL)
                own_netns = 1;
        }
        json_t *mounts = json_object_get(config, "mounts"), *m;
        json_array_foreach(mounts, i, m) {
            const char *type = json_string_value(json_object_get(m, "type"));
            if (own_netns || type == NULL || strcmp(type, "sysfs") != 0)
                continue;
            json_object_set_new(m, "type", json_string("bind"));
            json_object_set_new(m, "source", json_string("/sys"));
            json_object_set_new(
                m, "options",
                json_pack("[s, s, s, s, s]", "rbind", "ro", "nosuid", "nodev", "noexec"));
        }
    }
}
