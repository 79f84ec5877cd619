/*
 * cache.h - the build cache: step key -> the layer it produced.
 *
 * This file is the builder's data-access module: all of its SQL lives here.
 */
#ifndef BLD_CACHE_H
#define BLD_CACHE_H

#include "builder/layers.h"
#include "registry/store.h"

/* Finds the layer cached under key. SW_ENOTFOUND when there is none, or
 * when its blob is no longer in the store. *created_at (may be NULL) gets
 * the time the layer was first made, so a cached rebuild repeats it. */
int bld_cache_get(reg_store *store, const char *key, struct bld_layer *out, int64_t *created_at,
                  sw_error **err);

/* Records (or replaces) the layer for key. */
int bld_cache_put(reg_store *store, const char *key, const struct bld_layer *layer, sw_error **err);

#endif
