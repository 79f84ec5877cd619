/*
 * overlay.c - mounting and unmounting overlays of layer directories.
 *
 * Layer lists are passed to the kernel with the new mount API's
 * "lowerdir+" (one directory per call, Linux 6.8+), which has no limit on
 * the total length; older kernels get the classic colon-separated
 * lowerdir= option, limited to one page.
 *
 * For containers in a user namespace the layers are idmapped mounts:
 * detached clones of each layer directory (open_tree) marked with the user
 * namespace's mapping (mount_setattr MOUNT_ATTR_IDMAP) and handed to the
 * overlay as file descriptors. Overlayfs does everything on its layers
 * with the credentials of whoever created it, and it creates its work
 * directory and whiteouts right away, so the overlay is created in a child
 * process whose filesystem ids are the container's root (setfsuid, with
 * SECBIT_NO_SETUID_FIXUP so it keeps its capabilities): on the idmapped
 * upper layer that id is written as 0.
 */
#include "builder/overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/profile.h"
#include "core/spawn.h"
#include "core/strbuf.h"

static int sys_fsopen(const char *fs, unsigned flags)
{
    return (int)syscall(SYS_fsopen, fs, flags);
}

static int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}

static int sys_fsmount(int fd, unsigned flags, unsigned attrs)
{
    return (int)syscall(SYS_fsmount, fd, flags, attrs);
}

static int sys_move_mount(int from_fd, const char *from, int to_fd, const char *to, unsigned flags)
{
    return (int)syscall(SYS_move_mount, from_fd, from, to_fd, to, flags);
}

/* Overlay needs one lower directory with an upper one, two without. */
static int needs_empty_lower(size_t n_lower, const char *upper)
{
    return n_lower == 0 || (upper == NULL && n_lower < 2);
}

/* A step's overlay is mounted "volatile" (Linux 5.10 and later; older
 * kernels refuse the flag and the mount goes on without it): without it,
 * unmounting the overlay syncs the whole filesystem of the upper directory
 * (sync_filesystem), which after a RUN that wrote 50 MiB took 70 ms on the
 * development machine, and longer with other writers on the disk. Nothing
 * needs that sync: a layer directory is made durable by nothing else
 * either (a COPY's is written without an overlay, an unpacked base layer
 * is not synced), the layer's blob is fsynced before its rows commit, and
 * a killed build's scratch is swept. The step's work directory (where the
 * kernel marks a volatile mount) is removed with its scratch. */
static void set_volatile(int fs)
{
    (void)sys_fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0);
}

/* The new mount API; returns -1 with errno EINVAL when lowerdir+ is not
 * supported, so the caller can fall back. */
static int mount_new_api(const char *const *lower_dirs, size_t n_lower, const char *upper,
                         const char *work, const char *empty, const char *target)
{
    int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    int rc = 0;
    /* lowerdir+ appends below the previous ones: top layer first */
    for (size_t i = n_lower; rc == 0 && i-- > 0;)
        rc = sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", lower_dirs[i], 0);
    if (rc == 0 && needs_empty_lower(n_lower, upper))
        rc = sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", empty, 0);
    if (rc == 0 && upper) {
        rc = sys_fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0);
        if (rc == 0)
            rc = sys_fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0);
    }
    if (rc == 0)
        rc = sys_fsconfig(fs, FSCONFIG_SET_STRING, "index", "off", 0);
    if (rc == 0 && upper)
        set_volatile(fs);
    if (rc == 0)
        rc = sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
    int mnt = -1;
    if (rc == 0)
        mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, upper ? 0 : MOUNT_ATTR_RDONLY);
    int saved = errno;
    close(fs);
    if (mnt < 0) {
        errno = saved;
        return -1;
    }
    rc = sys_move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
    saved = errno;
    close(mnt);
    errno = saved;
    return rc;
}

static int sys_open_tree(int dfd, const char *path, unsigned flags)
{
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}

static int sys_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *attr)
{
    return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof(*attr));
}

/* A user namespace with the mapping, as an fd (O_CLOEXEC); one per
 * mapping is kept for the life of the process. */
static int userns_fd(uint32_t uid, uint32_t gid, uint32_t size, sw_error **err)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int cached = -1;
    static uint32_t cached_uid, cached_gid, cached_size;
    int fd = -1, ready[2] = { -1, -1 }, rc = 0;
    pid_t pid = -1;

    pthread_mutex_lock(&lock);
    if (cached >= 0 && cached_uid == uid && cached_gid == gid && cached_size == size) {
        fd = dup(cached);
        pthread_mutex_unlock(&lock);
        if (fd < 0)
            return sw_error_sys(err, SW_EIO, errno, "dup");
        return fd;
    }
    if ((pid = sw_spawn_fork(&ready, 1, err)) < 0) {
        rc = SW_EIO;
        goto cleanup;
    }
    if (pid == 0) {
        /* a process in the new namespace, alive until the parent has
         * opened its ns/user link (and kills it) */
        char c = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    sw_close_fd(&ready[1]);
    char c = 0;
    if (read(ready[0], &c, 1) != 1 || c != 'y') {
        rc = sw_error_set(err, SW_EUNSUPPORTED, "cannot create a user namespace");
        goto cleanup;
    }
    static const char *const maps[] = { "uid_map", "gid_map" };
    for (int i = 0; i < 2 && rc == 0; i++) {
        char path[64], line[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, maps[i]);
        int n = snprintf(line, sizeof(line), "0 %u %u\n", i == 0 ? uid : gid, size);
        int map = open(path, O_WRONLY | O_CLOEXEC);
        if (map < 0 || write(map, line, (size_t)n) != n)
            rc = sw_error_sys(err, SW_EIO, errno, "writing %s of a user namespace (%u %u)", maps[i],
                              i == 0 ? uid : gid, size);
        if (map >= 0)
            close(map);
    }
    if (rc == 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            rc = sw_error_sys(err, SW_EIO, errno, "opening %s", path);
    }
    if (rc == 0) {
        if (cached >= 0)
            close(cached);
        cached = dup(fd);
        cached_uid = uid;
        cached_gid = gid;
        cached_size = size;
    }
cleanup:
    sw_close_fd(&ready[0]);
    sw_close_fd(&ready[1]);
    if (pid > 0) {
        kill(pid, SIGKILL);
        sw_wait(pid, NULL);
    }
    pthread_mutex_unlock(&lock);
    if (rc != 0 && fd >= 0) {
        close(fd);
        fd = -1;
    }
    return rc != 0 ? rc : fd;
}

/* A detached idmapped clone of the directory at path, or -1 (errno). */
static int idmapped_tree(const char *path, int ns)
{
    int fd = sys_open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (fd < 0)
        return -1;
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (__u64)ns };
    if (sys_mount_setattr(fd, "", AT_EMPTY_PATH, &attr) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* What the mounting child reports when it fails. */
struct idmap_failure {
    int stage; /* index into idmap_stages */
    int item;  /* the lower layer, for stage 0 */
    int errnum;
};

static const char *const idmap_stages[] = {
    "making an idmapped mount of layer",
    "making an idmapped mount of the upper directory's parent",
    "opening the upper or work directory",
    "switching to the container's root id",
    "passing a layer to overlayfs as a file descriptor",
    "creating the overlay",
    "attaching the overlay",
};

/* In the child: builds the overlay and attaches it at target. Only system
 * calls (we are a fork of a threaded process). */
static void idmap_child(const char *const *lower, size_t n, const char *common,
                        const char *upper_rel, const char *work_rel, const char *target, int ns,
                        uint32_t uid, uint32_t gid, int report)
{
    struct idmap_failure f = { 0, 0, 0 };
    int fds[n > 0 ? n : 1];
    for (size_t i = 0; i < n; i++) {
        if ((fds[i] = idmapped_tree(lower[i], ns)) < 0) {
            f = (struct idmap_failure){ 0, (int)i, errno };
            goto fail;
        }
    }
    int top = idmapped_tree(common, ns);
    if (top < 0) {
        f = (struct idmap_failure){ 1, 0, errno };
        goto fail;
    }
    int upper = openat(top, upper_rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int work = openat(top, work_rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (upper < 0 || work < 0) {
        f = (struct idmap_failure){ 2, 0, errno };
        goto fail;
    }
    if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) != 0) {
        f = (struct idmap_failure){ 3, 0, errno };
        goto fail;
    }
    setfsgid(gid);
    setfsuid(uid);
    if ((uid_t)setfsuid((uid_t)-1) != uid || (gid_t)setfsgid((gid_t)-1) != gid) {
        f = (struct idmap_failure){ 3, 0, EPERM };
        goto fail;
    }
    int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
    int rc = fs < 0 ? -1 : 0;
    for (size_t i = n; rc == 0 && i-- > 0;)
        rc = sys_fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", NULL, fds[i]);
    if (rc == 0)
        rc = sys_fsconfig(fs, FSCONFIG_SET_FD, "upperdir", NULL, upper);
    if (rc == 0)
        rc = sys_fsconfig(fs, FSCONFIG_SET_FD, "workdir", NULL, work);
    if (rc == 0)
        rc = sys_fsconfig(fs, FSCONFIG_SET_STRING, "index", "off", 0);
    if (rc == 0)
        set_volatile(fs);
    if (rc != 0) {
        f = (struct idmap_failure){ 4, 0, errno };
        goto fail;
    }
    if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
        f = (struct idmap_failure){ 5, 0, errno };
        goto fail;
    }
    int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, 0);
    if (mnt < 0 || sys_move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
        f = (struct idmap_failure){ 6, 0, errno };
        goto fail;
    }
    _exit(0);
fail:
    if (write(report, &f, sizeof(f)) != (ssize_t)sizeof(f))
        _exit(2);
    _exit(1);
}

int bld_overlay_mount_idmapped(const char *const *lower_dirs, size_t n_lower, const char *upper_dir,
                               const char *work_dir, const char *empty_dir, const char *target,
                               uint32_t uid, uint32_t gid, uint32_t size, sw_error **err)
{
    const char **unique = calloc(n_lower + 2, sizeof(char *));
    char *common = NULL;
    int ns = -1, report[2] = { -1, -1 }, rc = 0;
    size_t n = 0;
    if (unique == NULL || upper_dir == NULL || work_dir == NULL)
        return sw_error_set(err, unique ? SW_EINVAL : SW_ENOMEM,
                            unique ? "an idmapped overlay needs an upper directory"
                                   : "out of memory");
    for (size_t i = 0; i < n_lower; i++) {
        int again_above = 0;
        for (size_t j = i + 1; j < n_lower && !again_above; j++)
            again_above = strcmp(lower_dirs[i], lower_dirs[j]) == 0;
        if (!again_above)
            unique[n++] = lower_dirs[i];
    }
    if (n == 0) {
        /* FROM scratch: the empty directory is the one lower layer */
        unique[n++] = empty_dir;
    }
    /* the deepest directory above both upper and work */
    size_t len = 0;
    for (size_t i = 0; upper_dir[i] && upper_dir[i] == work_dir[i]; i++)
        if (upper_dir[i] == '/')
            len = i;
    if (upper_dir[0] != '/' || work_dir[0] != '/' || len == 0 ||
        (common = strndup(upper_dir, len)) == NULL) {
        rc = sw_error_set(err, SW_EINVAL, "%s and %s have no common parent directory", upper_dir,
                          work_dir);
        goto cleanup;
    }
    if ((ns = userns_fd(uid, gid, size, err)) < 0) {
        rc = ns;
        goto cleanup;
    }
    pid_t pid = sw_spawn_fork(&report, 1, err);
    if (pid < 0) {
        rc = SW_EIO;
        goto cleanup;
    }
    if (pid == 0)
        idmap_child(unique, n, common, upper_dir + len + 1, work_dir + len + 1, target, ns, uid,
                    gid, report[1]);
    sw_close_fd(&report[1]);
    struct idmap_failure f;
    ssize_t got = read(report[0], &f, sizeof(f));
    int status = 0;
    sw_wait(pid, &status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        goto cleanup;
    if (got != (ssize_t)sizeof(f) || f.stage < 0 ||
        f.stage >= (int)(sizeof(idmap_stages) / sizeof(idmap_stages[0]))) {
        rc = sw_error_set(err, SW_EIO, "mounting the idmapped overlay at %s failed", target);
        goto cleanup;
    }
    errno = f.errnum;
    rc = sw_error_sys(err, f.stage == 4 ? SW_EUNSUPPORTED : SW_EIO, f.errnum,
                      "mounting the build container's root at %s for user namespace %u: %s%s%s%s",
                      target, uid, idmap_stages[f.stage], f.stage == 0 ? " " : "",
                      f.stage == 0 ? unique[f.item] : "",
                      f.stage <= 1 || f.stage == 4
                          ? " (this kernel cannot; Linux 6.13 or later, or builder.userns: false)"
                          : "");
cleanup:
    sw_close_fd(&ns);
    sw_close_fd(&report[0]);
    sw_close_fd(&report[1]);
    free(common);
    free(unique);
    return rc;
}

static int mount_classic(const char *const *lower_dirs, size_t n_lower, const char *upper,
                         const char *work, const char *empty, const char *target, sw_error **err)
{
    sw_strbuf opts = SW_STRBUF_INIT;
    int rc = 0;
    sw_strbuf_puts(&opts, "lowerdir=");
    for (size_t i = n_lower; i-- > 0;) {
        if (strpbrk(lower_dirs[i], ":,") != NULL) {
            rc = sw_error_set(err, SW_EINVAL, "layer path %s contains ':' or ','", lower_dirs[i]);
            goto cleanup;
        }
        sw_strbuf_puts(&opts, lower_dirs[i]);
        if (i > 0)
            sw_strbuf_putc(&opts, ':');
    }
    if (needs_empty_lower(n_lower, upper))
        sw_strbuf_printf(&opts, "%s%s", n_lower ? ":" : "", empty);
    if (upper)
        sw_strbuf_printf(&opts, ",upperdir=%s,workdir=%s", upper, work);
    sw_strbuf_puts(&opts, ",index=off");
    if (opts.failed) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (opts.len >= 4096) {
        rc = sw_error_set(err, SW_EUNSUPPORTED,
                          "%zu layers make the overlay mount options too long for this kernel",
                          n_lower);
        goto cleanup;
    }
    if (mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts.data) != 0)
        rc = sw_error_sys(err, SW_EIO, errno, "mounting overlay at %s", target);
cleanup:
    sw_strbuf_free(&opts);
    return rc;
}

int bld_overlay_mount(const char *const *lower_dirs, size_t n_lower, const char *upper_dir,
                      const char *work_dir, const char *empty_dir, const char *target,
                      sw_error **err)
{
    /* The same layer directory twice (two steps with identical diffs, e.g.
     * two RUNs that changed nothing) would make overlayfs refuse the mount
     * (ELOOP, overlapping layers). Keeping only the upper copy gives the
     * same view: whatever the lower copy shows, the upper copy shows again
     * above everything in between. */
    const char **unique = calloc(n_lower + 1, sizeof(char *));
    size_t n = 0;
    int rc;
    if (unique == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < n_lower; i++) {
        int again_above = 0;
        for (size_t j = i + 1; j < n_lower && !again_above; j++)
            again_above = strcmp(lower_dirs[i], lower_dirs[j]) == 0;
        if (!again_above)
            unique[n++] = lower_dirs[i];
    }
    uint64_t profiled = sw_profile_start();
    if (mount_new_api(unique, n, upper_dir, work_dir, empty_dir, target) == 0)
        rc = 0;
    else
        rc = mount_classic(unique, n, upper_dir, work_dir, empty_dir, target, err);
    sw_profile_stop(SW_PHASE_MOUNT, profiled);
    free(unique);
    return rc;
}

int bld_overlay_unmount(const char *target, sw_error **err)
{
    if (umount2(target, MNT_DETACH) != 0)
        return sw_error_sys(err, SW_EIO, errno, "unmounting %s", target);
    return 0;
}
