/*
 * overlay.h - overlayfs mounts of layer directories.
 *
 * RUN steps and COPY/ADD both work on the same view: the layers below,
 * read-only, and a fresh upper directory that receives the changes. After
 * the step the upper directory is the new layer's contents.
 */
#ifndef BLD_OVERLAY_H
#define BLD_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Mounts at target an overlay of lower_dirs (bottom first) with upper_dir
 * and work_dir (an empty directory on upper_dir's filesystem). With
 * upper_dir NULL the mount is read-only. empty_dir stands in as the lower
 * layer when there is none (FROM scratch); it must exist. */
int bld_overlay_mount(const char *const *lower_dirs, size_t n_lower, const char *upper_dir,
                      const char *work_dir, const char *empty_dir, const char *target,
                      sw_error **err);

/* As bld_overlay_mount (upper_dir required), for a container in a user
 * namespace that maps ids 0..size-1 to host ids uid.. (gid..): every layer
 * and the upper directory are idmapped mounts (mount_setattr with
 * MOUNT_ATTR_IDMAP), so the container's root sees files owned by 0 on disk
 * as its own and what it creates is owned by 0 on disk: nothing is shifted.
 * upper_dir and work_dir must be below one directory of the same
 * filesystem. Needs Linux 6.13+ (overlay layers given as file descriptors);
 * SW_EUNSUPPORTED when the kernel lacks it. */
int bld_overlay_mount_idmapped(const char *const *lower_dirs, size_t n_lower, const char *upper_dir,
                               const char *work_dir, const char *empty_dir, const char *target,
                               uint32_t uid, uint32_t gid, uint32_t size, sw_error **err);

/* Detaches the mount at target. */
int bld_overlay_unmount(const char *target, sw_error **err);

#endif
