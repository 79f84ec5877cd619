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

#include "core/error.h"

/* Mounts at target an overlay of lower_dirs (bottom first) with upper_dir
 * and work_dir (an empty directory on upper_dir's filesystem). With
 * upper_dir NULL the mount is read-only. empty_dir stands in as the lower
 * layer when there is none (FROM scratch); it must exist. */
int bld_overlay_mount(const char *const *lower_dirs, size_t n_lower, const char *upper_dir,
                      const char *work_dir, const char *empty_dir, const char *target,
                      sw_error **err);

/* Detaches the mount at target. */
int bld_overlay_unmount(const char *target, sw_error **err);

#endif
