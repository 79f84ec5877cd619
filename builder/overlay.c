/*
 * overlay.c - mounting and unmounting overlays of layer directories.
 *
 * Layer lists are passed to the kernel with the new mount API's
 * "lowerdir+" (one directory per call, Linux 6.8+), which has no limit on
 * the total length; older kernels get the classic colon-separated
 * lowerdir= option, limited to one page.
 */
#include "builder/overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

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
        rc = sw_error_set(err, SW_ENOMEM, "out of memory");
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
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_lower; i++) {
        int again_above = 0;
        for (size_t j = i + 1; j < n_lower && !again_above; j++)
            again_above = strcmp(lower_dirs[i], lower_dirs[j]) == 0;
        if (!again_above)
            unique[n++] = lower_dirs[i];
    }
    if (mount_new_api(unique, n, upper_dir, work_dir, empty_dir, target) == 0)
        rc = 0;
    else
        rc = mount_classic(unique, n, upper_dir, work_dir, empty_dir, target, err);
    free(unique);
    return rc;
}

int bld_overlay_unmount(const char *target, sw_error **err)
{
    if (umount2(target, MNT_DETACH) != 0)
        return sw_error_sys(err, SW_EIO, errno, "unmounting %s", target);
    return 0;
}
