/*
 * layers.h - the layer directory cache: <data_dir>/layers/<diff-id hex>/.
 *
 * Every layer a build uses is unpacked once into its own directory (with
 * overlay whiteouts), and RUN/COPY steps stack those directories with
 * overlayfs. A step's result directory becomes a layer directory too,
 * after it has been written as a blob. layers/ is mode 0700: layers hold
 * other people's set-id binaries.
 */
#ifndef BLD_LAYERS_H
#define BLD_LAYERS_H

#include <stdint.h>

#include "core/compress.h"
#include "core/hash.h"
#include "registry/store.h"

struct bld_layer {
    char diff_id[SW_DIGEST_MAX]; /* sha256 of the uncompressed tar */
    char digest[SW_DIGEST_MAX];  /* the blob's digest */
    int64_t size;                /* the blob's size */
    char media_type[96];
};

/* The unpacked directory of a layer whose blob is in the store (linked to
 * any repository), unpacking it first if needed. The diff ID is verified
 * while unpacking; a mismatch leaves nothing behind. *dir_out is malloc'd. */
int bld_layer_unpacked(reg_store *store, const struct bld_layer *layer, char **dir_out,
                       sw_error **err);

/* Makes a layer of dir: a deterministic tar (mtimes clamped to clamp_mtime
 * unless it is -1; overlay whiteouts converted), compressed, stored as a
 * blob (recorded in the store, linked to no repository yet). Then dir is
 * moved into the cache as the layer's directory (or removed, when the
 * cache has that layer already). */
int bld_layer_commit_dir(reg_store *store, const char *dir, enum sw_compression compression,
                         int64_t clamp_mtime, struct bld_layer *out, sw_error **err);

/* <data_dir>/layers/<hex of diff_id>, malloc'd. */
char *bld_layer_dir(reg_store *store, const char *diff_id);

/* Makes a new empty directory under <data_dir>/tmp for a step's scratch
 * work (same filesystem as layers/). *out is malloc'd. */
int bld_scratch_dir(reg_store *store, const char *prefix, char **out, sw_error **err);

/* Removes scratch directories whose owning process is gone (a build
 * killed with SIGKILL), unmounting what it left mounted there first.
 * *removed (may be NULL) gets how many. */
int bld_scratch_sweep(reg_store *store, int *removed, sw_error **err);

#endif
