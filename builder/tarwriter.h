/*
 * tarwriter.h - a directory as a deterministic layer tar stream.
 *
 * The same directory contents always give the same bytes: entries sorted
 * by name (byte order), numeric owners without user/group names, no atime
 * or ctime, mtimes clamped to a fixed epoch when one is given
 * (SOURCE_DATE_EPOCH), hardlinks written as links to the first path in that
 * order, and only the xattrs an image may carry (user.*,
 * security.capability). Overlay whiteouts in a RUN step's upper directory
 * (0:0 character devices, trusted.overlay.opaque) become OCI whiteouts
 * (".wh.name", ".wh..wh..opq").
 */
#ifndef BLD_TARWRITER_H
#define BLD_TARWRITER_H

#include <stdint.h>

#include "core/compress.h"
#include "core/error.h"

struct bld_tar_options {
    int64_t clamp_mtime;   /* mtimes later than this become this; -1: keep */
    int overlay_whiteouts; /* 1: convert overlay whiteouts to OCI ones */
};

/* Writes the tar of dir's contents (not dir itself) to sink. */
int bld_tar_dir(const char *dir, const struct bld_tar_options *opts, sw_compress_sink_fn sink,
                void *sink_ctx, sw_error **err);

#endif
