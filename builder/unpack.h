/*
 * unpack.h - extracting layer tarballs into directories, safely.
 *
 * Layers and ADD archives come from other people. Every entry is resolved
 * beneath the destination with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
 * so no entry name, symlink or hardlink can make us write outside it: names
 * with ".." components or absolute names are refused, and so is any entry
 * whose parent path goes through a symlink. Extraction never follows a
 * symlink it created.
 */
#ifndef BLD_UNPACK_H
#define BLD_UNPACK_H

#include "core/compress.h"
#include "core/error.h"

struct bld_unpack_options {
    /* Turn OCI whiteouts (".wh.name", ".wh..wh..opq") into overlayfs ones
     * (a 0:0 character device, the trusted.overlay.opaque xattr). Layers: 1;
     * ADD archives: 0, where they stay ordinary files. */
    int convert_whiteouts;
};

/* Extracts the tar stream readable from fd (plain, gzip, zstd, bzip2 or xz,
 * detected from the content) into dest_dir, which must exist. Owners, modes,
 * times, hardlinks, device nodes and the xattrs user.* and
 * security.capability are kept; other xattrs (trusted.*, notably
 * trusted.overlay.*) are dropped. On failure dest_dir may hold a partial
 * tree: the caller extracts into a temporary directory and renames it into
 * place only on success. */
int bld_unpack_fd(int fd, const char *dest_dir, const struct bld_unpack_options *opts,
                  sw_error **err);

/* Like bld_unpack_fd for an uncompressed tar stream pulled from source
 * (e.g. a decompressor that hashes what it returns, to verify a diff ID).
 * Reading stops at the tar end marker: a caller that hashes the stream
 * reads the rest (padding) from the source itself. */
int bld_unpack_source(sw_source_fn source, void *source_ctx, const char *dest_dir,
                      const struct bld_unpack_options *opts, sw_error **err);

/* Like bld_unpack_fd for a file. */
int bld_unpack_file(const char *path, const char *dest_dir, const struct bld_unpack_options *opts,
                    sw_error **err);

#endif
