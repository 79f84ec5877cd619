/*
 * sandbox.c - one build step in an OCI runtime container (see sandbox.h).
 *
 * We mount the overlay ourselves (so the upper directory is ours to read
 * afterwards), write a runtime bundle (config.json) next to it, and run
 * `runc run` with the step's output on output_fd. Mount points the runtime
 * had to create in the root filesystem (/proc, /dev, /etc/hosts ... in an
 * image that lacks them) are removed from the upper directory afterwards, so
 * they do not leak into the layer.
 *
 * Limits (see sandbox.h): memory, pids and CPU go to the runtime as
 * linux.resources on a cgroup we name (cgroupsPath /slipway/<id>), so runc
 * sets them on cgroup v1 and v2 alike. `runc run --keep` leaves the stopped
 * container and its cgroup in place after the command exits, so we can
 * read the cgroup's event counters (an OOM kill, a refused fork) before
 * `runc delete` removes it. The disk limit is a watcher thread that sums
 * the upper directory's blocks and kills the container when it passes the
 * limit, plus RLIMIT_FSIZE at the same size, so one big write or
 * fallocate fails at once instead of between two scans. Output goes
 * through a pipe we read, so a log cap can drop what is beyond it.
 *
 * Everything a container leaves until it is deleted is named after its id
 * and recorded in /run/slipway/<id> (the bundle, with an `owner` file
 * holding our pid and start time): bld_sandbox_sweep finds what dead
 * owners left and removes it in the safe order.
 */
#include "builder/sandbox.h"

#include "builder/overlay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "builder/sandbox_internal.h"

/* Paths the runtime may create as mount points; removed from the diff
 * afterwards unless the image had them. Parents before children. */
static const char *const mount_points[] = {
    "proc", "dev", "dev/pts",   "dev/shm",         "dev/mqueue",
    "sys",  "etc", "etc/hosts", "etc/resolv.conf", NULL,
};

static int write_text(const char *dir, const char *name, const char *text, char **path_out,
                      sw_error **err)
{
    char *path = sw_path_join(dir, name);
    if (path == NULL)
        return sw_error_oom(err);
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
/* The topmost lower layer's copy of rel (on disk, unshifted); 0 or -1. */
static int lower_stat(const struct bld_sandbox_spec *spec, const char *rel, struct stat *st)
{
    for (size_t i = spec->n_lower; i-- > 0;) {
        char *p = sw_path_join(spec->lower_dirs[i], rel);
        int found = p && lstat(p, st) == 0;
        free(p);
        if (found)
            return 0;
    }
    return -1;
}

/* 1 when dir is an empty directory. */
static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d)) != NULL)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    return empty;
}

/* A directory the runtime's mounts copied up into the upper dir (/etc, for
 * /etc/hosts and /etc/resolv.conf) that the step left as it found it:
 * empty, with the lower layer's mode and owner. Removing it keeps a
 * directory entry with a new mtime out of the layer; the merged view is
 * the lower one's either way. */
static void remove_copied_up_dirs(const struct bld_sandbox_spec *spec, const int *in_upper)
{
    for (size_t i = 0; mount_points[i]; i++) {
        struct stat up, low;
        if (in_upper[i])
            continue;
        char *path = sw_path_join(spec->upper_dir, mount_points[i]);
        if (path && lstat(path, &up) == 0 && S_ISDIR(up.st_mode) &&
            lower_stat(spec, mount_points[i], &low) == 0 && S_ISDIR(low.st_mode) &&
            up.st_mode == low.st_mode && up.st_uid == low.st_uid && up.st_gid == low.st_gid &&
            dir_is_empty(path))
            rmdir(path);
        free(path);
    }
}

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

/* 1 when rel exists below root, resolved inside it (symlinks included, as
 * the runtime resolves mount destinations). */
static int exists_in_root(const char *root, const char *rel)
{
    int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return 1; /* unknown: never remove it afterwards */
    struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
    int fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
    int missing = fd < 0 && errno == ENOENT;
    if (fd >= 0)
        close(fd);
    close(root_fd);
    return !missing;
}

/* The paths the runtime will create for the extra mounts: every component
 * of their destinations that does not exist in rootfs yet, parents first
 * (a NULL-terminated list). */
static char **extra_mount_points(const struct bld_sandbox_spec *spec, const char *rootfs)
{
    char **list = calloc(spec->n_extra_mounts * 64 + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; list && i < spec->n_extra_mounts; i++) {
        const char *d = spec->extra_mounts[i].destination;
        for (const char *p = d + 1; n < spec->n_extra_mounts * 64; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            char *rel = strndup(d + 1, (size_t)(p - d - 1));
            int dup = 0;
            for (size_t k = 0; rel && k < n; k++)
                dup |= strcmp(list[k], rel) == 0;
            if (rel && !dup && rel[0] && !exists_in_root(rootfs, rel))
                list[n++] = rel;
            else
                free(rel);
            if (*p == '\0')
                break;
        }
    }
    return list;
}

/* The existing directories above the extra mounts' destinations that are
 * not in the upper dir yet: creating a mount point below one copies it up
 * (a NULL-terminated list, parents first). */
static char **extra_mount_parents(const struct bld_sandbox_spec *spec, const char *rootfs)
{
    char **list = calloc(spec->n_extra_mounts * 64 + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; list && i < spec->n_extra_mounts; i++) {
        const char *d = spec->extra_mounts[i].destination;
        const char *last = strrchr(d, '/');
        for (const char *p = d + 1; p <= last && n < spec->n_extra_mounts * 64; p++) {
            if (*p != '/')
                continue;
            char *rel = strndup(d + 1, (size_t)(p - d - 1));
            char *up = rel ? sw_path_join(spec->upper_dir, rel) : NULL;
            struct stat st;
            int dup = 0;
            for (size_t k = 0; rel && k < n; k++)
                dup |= strcmp(list[k], rel) == 0;
            if (rel && up && !dup && rel[0] && exists_in_root(rootfs, rel) && lstat(up, &st) != 0 &&
                errno == ENOENT)
                list[n++] = rel;
            else
                free(rel);
            free(up);
        }
    }
    return list;
}

/* Removes, deepest first, those of them that the step left as it found
 * them: an empty directory in the upper dir, not opaque, with the lower
 * layer's mode and owner (the merged view is the lower one's either way;
 * this keeps a directory entry with a new mtime out of the layer). Opened
 * below upper without following symlinks. */
static void remove_extra_mount_parents(const struct bld_sandbox_spec *spec, char **list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    int upper_fd = open(spec->upper_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (size_t i = n; i-- > 0;) {
        struct stat low, up;
        struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
        int fd = upper_fd >= 0 && lower_stat(spec, list[i], &low) == 0
                     ? (int)syscall(SYS_openat2, upper_fd, list[i], &how, sizeof(how))
                     : -1;
        char opaque[4];
        if (fd >= 0 && fstat(fd, &up) == 0 && S_ISDIR(low.st_mode) && up.st_mode == low.st_mode &&
            up.st_uid == low.st_uid && up.st_gid == low.st_gid &&
            fgetxattr(fd, "trusted.overlay.opaque", opaque, sizeof(opaque)) < 0 &&
            errno == ENODATA && fgetxattr(fd, "user.overlay.opaque", opaque, sizeof(opaque)) < 0 &&
            errno == ENODATA) {
            char *slash = strrchr(list[i], '/');
            const char *name = slash ? slash + 1 : list[i];
            int parent = upper_fd;
            if (slash) {
                *slash = '\0';
                struct open_how ph = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
                parent = (int)syscall(SYS_openat2, upper_fd, list[i], &ph, sizeof(ph));
            }
            if (parent >= 0)
                unlinkat(parent, name, AT_REMOVEDIR); /* fails when not empty */
            if (slash && parent >= 0)
                close(parent);
        }
        if (fd >= 0)
            close(fd);
        free(list[i]);
    }
    if (upper_fd >= 0)
        close(upper_fd);
    free(list);
}

/* Removes those of them left in the upper dir, deepest first, when empty.
 * The command may have replaced a parent with a symlink: paths are opened
 * below upper without following any. */
static void remove_extra_mount_points(const char *upper, char **list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    int upper_fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (size_t i = n; i-- > 0;) {
        char *slash = strrchr(list[i], '/');
        const char *name = slash ? slash + 1 : list[i];
        int dir_fd = upper_fd >= 0 ? dup(upper_fd) : -1;
        if (slash && dir_fd >= 0) {
            *slash = '\0';
            struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
            close(dir_fd);
            dir_fd = (int)syscall(SYS_openat2, upper_fd, list[i], &how, sizeof(how));
        }
        struct stat st;
        if (dir_fd >= 0 && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISDIR(st.st_mode))
                unlinkat(dir_fd, name, AT_REMOVEDIR); /* fails harmlessly when not empty */
            else if (S_ISREG(st.st_mode) && st.st_size == 0)
                unlinkat(dir_fd, name, 0);
        }
        if (dir_fd >= 0)
            close(dir_fd);
        free(list[i]);
    }
    if (upper_fd >= 0)
        close(upper_fd);
    free(list);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- policy ------------------------------------------------------------- */

void bld_sandbox_policy(const struct sw_config *cfg, struct bld_sandbox_limits *limits,
                        struct bld_sandbox_userns *userns)
{
    if (limits) {
        limits->memory = cfg ? cfg->limit_memory : 4LL << 30;
        limits->pids = cfg ? cfg->limit_pids : 4096;
        limits->cpus = cfg ? cfg->limit_cpus : 0;
        limits->disk = cfg ? cfg->limit_disk : 20LL << 30;
    }
    if (userns) {
        int on = cfg ? cfg->userns_enabled : 1;
        userns->uid = on ? (uint32_t)(cfg ? cfg->userns_uid : 100000) : 0;
        userns->gid = on ? (uint32_t)(cfg ? cfg->userns_gid : 100000) : 0;
        userns->size = on ? (uint32_t)(cfg ? cfg->userns_size : 65536) : 0;
    }
}

/* "4GiB", "64MiB", "1.5GiB" or "1234 bytes", for messages. */
static void format_size(int64_t n, char *buf, size_t size)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    int u = -1;
    double v = (double)n;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, size, "%lld bytes", (long long)n);
    else if (v == (double)(int64_t)v)
        snprintf(buf, size, "%lld%s", (long long)v, units[u]);
    else
        snprintf(buf, size, "%.1f%s", v, units[u]);
}

/* ---- the disk watcher ---------------------------------------------------- */

struct disk_watch {
    const char *upper;
    int64_t limit;
    const char *runtime;
    const char *id;
    atomic_int stop;
    atomic_int hit;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static _Thread_local int64_t walk_bytes;

static int walk_add(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)type;
    (void)ftw;
    walk_bytes += (int64_t)st->st_blocks * 512;
    return 0;
}

/* Bytes the directory tree takes on disk (allocated blocks, so sparse
 * files count what they use and fallocated ones what they reserve). */
static int64_t tree_usage(const char *dir)
{
    walk_bytes = 0;
    nftw(dir, walk_add, 16, FTW_PHYS | FTW_MOUNT);
    return walk_bytes;
}

static void *disk_watch_main(void *arg)
{
    struct disk_watch *w = arg;
    while (!atomic_load(&w->stop)) {
        double started = now_s();
        if (tree_usage(w->upper) > w->limit) {
            atomic_store(&w->hit, 1);
            runtime_cmd(w->runtime, "kill", w->id, "KILL");
            break;
        }
        /* scan at most a fifth of the time: a huge tree is scanned less
         * often (RLIMIT_FSIZE bounds what one file adds in between) */
        double took = now_s() - started;
        double wait = took * 4 < 0.2 ? 0.2 : took * 4 > 2 ? 2 : took * 4;
        pthread_mutex_lock(&w->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = (long)(wait * 1e9);
        until.tv_sec += ns / 1000000000L;
        until.tv_nsec += ns % 1000000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (!atomic_load(&w->stop))
            pthread_cond_timedwait(&w->wake, &w->lock, &until);
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

/* ---- output ---------------------------------------------------------------- */

/* Writes a chunk of container output to fd, within the cap. */
static void write_output(int fd, struct bld_output_cap *cap, const char *buf, size_t n)
{
    if (cap == NULL || cap->max_size <= 0) {
        sw_write_all(fd, buf, n, NULL);
        return;
    }
    if (__atomic_load_n(&cap->noted, __ATOMIC_SEQ_CST))
        return;
    struct stat st;
    int64_t size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
                       ? (int64_t)st.st_size
                       : __atomic_load_n(&cap->written, __ATOMIC_SEQ_CST);
    size_t fits = size >= cap->max_size ? 0 : (size_t)(cap->max_size - size);
    if (n <= fits) {
        sw_write_all(fd, buf, n, NULL);
        __atomic_add_fetch(&cap->written, (int64_t)n, __ATOMIC_SEQ_CST);
        return;
    }
    sw_write_all(fd, buf, fits, NULL);
    __atomic_add_fetch(&cap->written, (int64_t)fits, __ATOMIC_SEQ_CST);
    int expected = 0;
    if (__atomic_compare_exchange_n(&cap->noted, &expected, 1, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
        char size_text[32], note[256];
        format_size(cap->max_size, size_text, sizeof(size_text));
        int len = snprintf(note, sizeof(note),
                           "\n# log truncated: it reached %s (%s); the rest of the output is "
                           "dropped, the build goes on\n",
                           size_text, cap->key ? cap->key : "the log size limit");
        sw_write_all(fd, note, (size_t)len, NULL);
    }
}

/* The container's output as it is read: what RLIMIT_FSIZE did shows only
 * there (the runtime leaves SIGXFSZ ignored, so a write past the limit
 * fails with EFBIG instead of killing the writer). */
struct output_pump {
    char tail[24]; /* the end of the previous chunk */
    size_t tail_len;
    int saw_efbig; /* "File too large" was printed */
};

/* Reads what is there on the output pipe; 0 at end of file. */
static int pump_output(int pipe_fd, const struct bld_sandbox_spec *spec, struct output_pump *p)
{
    static const char efbig[] = "File too large";
    char buf[65536 + sizeof(p->tail)];
    memcpy(buf, p->tail, p->tail_len);
    ssize_t n = read(pipe_fd, buf + p->tail_len, 65536);
    if (n > 0) {
        write_output(spec->output_fd, spec->output_cap, buf + p->tail_len, (size_t)n);
        size_t len = p->tail_len + (size_t)n;
        if (!p->saw_efbig && memmem(buf, len, efbig, sizeof(efbig) - 1) != NULL)
            p->saw_efbig = 1;
        p->tail_len = len < sizeof(efbig) ? len : sizeof(efbig);
        memcpy(p->tail, buf + len - p->tail_len, p->tail_len);
    }
    return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) ? 0 : 1;
}

/* ---- the bundle directory ---------------------------------------------------- */

/* /run/slipway/<id>, made reachable (not readable) for every user. */
static int make_bundle_dir(const char *id, char **out, sw_error **err)
{
    char *path = sw_path_join(SANDBOX_RUN_DIR, id);
    if (path == NULL)
        return sw_error_oom(err);
    if (mkdir(SANDBOX_RUN_DIR, 0711) != 0 && errno != EEXIST) {
        int rc = sw_error_sys(err, SW_EIO, errno, "creating %s", SANDBOX_RUN_DIR);
        free(path);
        return rc;
    }
    chmod(SANDBOX_RUN_DIR, 0711);
    if (mkdir(path, 0711) != 0) {
        int rc = sw_error_sys(err, SW_EIO, errno, "creating %s", path);
        free(path);
        return rc;
    }
    chmod(path, 0711);
    *out = path;
    return 0;
}

/* Removes a bundle directory: the files we put there, the root filesystem
 * mount point, the directory. Never recursively: were the root filesystem
 * still mounted, that would delete the step's files through it. */
static void remove_bundle(const char *bundle)
{
    static const char *const files[] = { "config.json", "hosts", "resolv.conf", "owner", NULL };
    int dir = open(bundle, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0)
        return;
    if (unlinkat(dir, "rootfs", AT_REMOVEDIR) == 0 || errno == ENOENT) {
        for (size_t i = 0; files[i]; i++)
            unlinkat(dir, files[i], 0);
        rmdir(bundle);
    }
    close(dir);
}

/* Removes what is left of a container, in the order that makes it safe:
 * its processes, the runtime's record, the root filesystem mount, the
 * cgroup, and last the bundle directory. */
void bld_sandbox_destroy_container(const char *runtime, const char *id, const char *bundle)
{
    runtime_cmd(runtime, "kill", id, "KILL");
    bld_sandbox_cgroup_kill_all(id);
    runtime_cmd(runtime, "delete", id, "--force");
    if (bundle) {
        char *rootfs = sw_path_join(bundle, "rootfs");
        if (rootfs)
            for (int i = 0; i < 8 && umount2(rootfs, MNT_DETACH) == 0; i++)
                ;
        free(rootfs);
    }
    bld_sandbox_cgroup_remove(id);
    if (bundle)
        remove_bundle(bundle);
}

/* What hit a limit, as the error for the step; 0 when none did. */
static int limit_error(const struct bld_sandbox_spec *spec, const char *id, int disk_hit,
                       int file_refused, int exit_status, sw_error **err)
{
    const struct bld_sandbox_limits *l = spec->limits;
    char size[32];
    if (l == NULL)
        return 0;
    if (l->memory > 0 &&
        (bld_sandbox_cgroup_counter("memory", id, "memory.oom_control", "oom_kill") > 0 ||
         bld_sandbox_cgroup_counter("memory", id, "memory.events", "oom_kill") > 0)) {
        format_size(l->memory, size, sizeof(size));
        return sw_error_set(err, SW_ETOOBIG,
                            "the step was killed: memory limit %s reached (builder.limits.memory)",
                            size);
    }
    if (disk_hit || (l->disk > 0 && exit_status == 128 + SIGXFSZ)) {
        format_size(l->disk, size, sizeof(size));
        return sw_error_set(err, SW_ETOOBIG,
                            "the step was killed: disk limit %s reached (builder.limits.disk)",
                            size);
    }
    if (l->disk > 0 && file_refused) {
        format_size(l->disk, size, sizeof(size));
        return sw_error_set(err, SW_ETOOBIG,
                            "the step failed: a file would have passed the disk limit %s "
                            "(builder.limits.disk)",
                            size);
    }
    if (l->pids > 0 && bld_sandbox_cgroup_counter("pids", id, "pids.events", "max") > 0)
        return sw_error_set(
            err, SW_ETOOBIG,
            "the step failed: process limit %lld reached, a fork was refused (builder.limits.pids)",
            (long long)l->pids);
    return 0;
}

int bld_sandbox_run(const struct bld_sandbox_spec *spec, int *exit_status, sw_error **err)
{
    char *bundle = NULL, *rootfs = NULL, *work = NULL, *empty = NULL;
    char *hosts = NULL, *resolv = NULL, *config_path = NULL, *config_text = NULL;
    json_t *config = NULL;
    int mounted = 0, rc = 0, started = 0, watching = 0;
    int existed[16] = { 0 }, in_upper[16] = { 0 };
    char **created = NULL; /* mount points of the extra mounts */
    char **parents = NULL; /* directories above them, not in the upper dir */
    int out_pipe[2] = { -1, -1 };
    char id[40], owner[64];
    unsigned char rnd[8];
    struct disk_watch watch = { 0 };
    pthread_t watcher;

    *exit_status = -1;
    if ((rc = sw_random_bytes(rnd, sizeof(rnd), err)) != 0)
        return rc;
    memcpy(id, "slipway-", 8);
    sw_hex_encode(rnd, sizeof(rnd), id + 8);
    bld_sandbox_owner_record(owner, sizeof(owner));

    if ((rc = make_bundle_dir(id, &bundle, err)) != 0)
        goto cleanup;
    rootfs = sw_path_join(bundle, "rootfs");
    work = sw_path_join(spec->scratch_dir, "work");
    empty = sw_path_join(spec->scratch_dir, "empty");
    if (!rootfs || !work || !empty) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    /* the owner first: from here on a sweep can clean up after us */
    if ((rc = write_text(bundle, "owner", owner, NULL, err)) != 0)
        goto cleanup;
    if (mkdir(rootfs, 0755) != 0 && errno != EEXIST) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", rootfs);
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(work, 0700, err)) || (rc = sw_mkdir_p(empty, 0755, err)))
        goto cleanup;
    if (spec->userns && spec->userns->size > 0)
        rc = bld_overlay_mount_idmapped(spec->lower_dirs, spec->n_lower, spec->upper_dir, work,
                                        empty, rootfs, spec->userns->uid, spec->userns->gid,
                                        spec->userns->size, err);
    else
        rc = bld_overlay_mount(spec->lower_dirs, spec->n_lower, spec->upper_dir, work, empty,
                               rootfs, err);
    if (rc != 0)
        goto cleanup;
    mounted = 1;

    for (size_t i = 0; mount_points[i]; i++) {
        char *p = sw_path_join(rootfs, mount_points[i]);
        char *u = sw_path_join(spec->upper_dir, mount_points[i]);
        existed[i] = p && sw_path_exists(p);
        in_upper[i] = u && sw_path_exists(u);
        free(p);
        free(u);
    }
    created = extra_mount_points(spec, rootfs);
    parents = extra_mount_parents(spec, rootfs);

    char hosts_text[512];
    snprintf(hosts_text, sizeof(hosts_text),
             "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
             "127.0.1.1\t%s\n",
             spec->hostname ? spec->hostname : "slipway-build");
    char *resolv_text = NULL;
    if (spec->network_host)
        sw_read_file("/etc/resolv.conf", 64 * 1024, &resolv_text, NULL, NULL);
    rc = write_text(bundle, "hosts", hosts_text, &hosts, err);
    if (rc == 0)
        rc = write_text(bundle, "resolv.conf",
                        spec->resolv_conf ? spec->resolv_conf
                        : resolv_text     ? resolv_text
                                          : "# no network in this build step\n",
                        &resolv, err);
    free(resolv_text);
    if (rc != 0)
        goto cleanup;

    config = bld_sandbox_build_config(spec, hosts, resolv);
    if (config)
        bld_sandbox_add_policy(config, spec, id, owner);
    config_text = config ? json_dumps(config, JSON_INDENT(2)) : NULL;
    config_path = sw_path_join(bundle, "config.json");
    if (config_text == NULL || config_path == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "building the runtime config");
        goto cleanup;
    }
    if ((rc = sw_write_file_atomic(config_path, config_text, strlen(config_text), 0600, err)))
        goto cleanup;
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "pipe");
        goto cleanup;
    }

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "fork");
        goto cleanup;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out_pipe[1], 1);
        dup2(out_pipe[1], 2);
        setpgid(0, 0);
        /* a worker killed with SIGKILL must not leave its build running;
         * the container itself is found and removed by the next sweep */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(137);
        execlp(spec->runtime, spec->runtime, "run", "--keep", "--bundle", bundle, id, (char *)NULL);
        sw_child_error(2, "cannot run the OCI runtime (builder.runtime)", errno);
        _exit(127);
    }
    started = 1;
    close(out_pipe[1]);
    out_pipe[1] = -1;

    if (spec->limits && spec->limits->disk > 0) {
        watch.upper = spec->upper_dir;
        watch.limit = spec->limits->disk;
        watch.runtime = spec->runtime;
        watch.id = id;
        pthread_mutex_init(&watch.lock, NULL);
        pthread_cond_init(&watch.wake, NULL);
        watching = pthread_create(&watcher, NULL, disk_watch_main, &watch) == 0;
        if (!watching) {
            pthread_mutex_destroy(&watch.lock);
            pthread_cond_destroy(&watch.wake);
        }
    }

    double deadline = spec->timeout_s > 0 ? now_s() + (double)spec->timeout_s : 0;
    int status = 0, stop_reason = 0; /* 1 timeout, 2 canceled */
    int output_open = 1;
    struct output_pump pump = { .tail_len = 0 };
    for (;;) {
        if (output_open) {
            struct pollfd pfd = { out_pipe[0], POLLIN, 0 };
            if (poll(&pfd, 1, 20) > 0)
                output_open = pump_output(out_pipe[0], spec, &pump);
        } else {
            struct timespec pause = { 0, 20 * 1000 * 1000 };
            nanosleep(&pause, NULL);
        }
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
    }
    /* what the command wrote last; processes it left behind were killed
     * with the container's PID namespace, so the pipe ends */
    while (output_open) {
        struct pollfd pfd = { out_pipe[0], POLLIN, 0 };
        if (poll(&pfd, 1, 1000) <= 0)
            break;
        output_open = pump_output(out_pipe[0], spec, &pump);
    }
    if (WIFEXITED(status))
        *exit_status = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        *exit_status = 128 + WTERMSIG(status);
    if (watching) {
        pthread_mutex_lock(&watch.lock);
        atomic_store(&watch.stop, 1);
        pthread_cond_signal(&watch.wake);
        pthread_mutex_unlock(&watch.lock);
        pthread_join(watcher, NULL);
    }
    if (stop_reason == 11)
        rc = sw_error_set(err, SW_ETIMEOUT, "the step ran longer than %llds and was stopped",
                          (long long)spec->timeout_s);
    else if (stop_reason == 12)
        rc = sw_error_set(err, SW_ECANCELED, "canceled");
    else if (*exit_status == 127 && !sw_path_exists(spec->runtime) && strchr(spec->runtime, '/'))
        rc = sw_error_set(err, SW_ENOTFOUND, "OCI runtime %s not found", spec->runtime);
    else
        rc = limit_error(spec, id,
                         (watching && atomic_load(&watch.hit)) ||
                             (spec->limits && spec->limits->disk > 0 &&
                              tree_usage(spec->upper_dir) > spec->limits->disk),
                         *exit_status != 0 && pump.saw_efbig, *exit_status, err);

cleanup:
    if (watching && !atomic_load(&watch.stop)) {
        pthread_mutex_lock(&watch.lock);
        atomic_store(&watch.stop, 1);
        pthread_cond_signal(&watch.wake);
        pthread_mutex_unlock(&watch.lock);
        pthread_join(watcher, NULL);
    }
    if (watching) {
        pthread_mutex_destroy(&watch.lock);
        pthread_cond_destroy(&watch.wake);
    }
    if (started) {
        runtime_cmd(spec->runtime, "delete", id, "--force");
        bld_sandbox_cgroup_kill_all(id);
        bld_sandbox_cgroup_remove(id);
    }
    if (mounted && bld_overlay_unmount(rootfs, rc == 0 ? err : NULL) != 0 && rc == 0)
        rc = SW_EIO;
    if (mounted)
        remove_created_mount_points(spec->upper_dir, existed);
    remove_extra_mount_points(spec->upper_dir, created);
    remove_extra_mount_parents(spec, parents);
    if (mounted)
        remove_copied_up_dirs(spec, in_upper);
    if (bundle)
        remove_bundle(bundle);
    if (work)
        sw_rm_rf(work, NULL);
    if (out_pipe[0] >= 0)
        close(out_pipe[0]);
    if (out_pipe[1] >= 0)
        close(out_pipe[1]);
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
