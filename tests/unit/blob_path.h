/*
 * blob_path.h - where the filesystem blob backend keeps a blob's bytes, for
 * tests that damage, remove or inspect them on disk (registry/backend_fs.c
 * owns the layout; the store itself never hands out paths).
 */
#ifndef SW_TEST_BLOB_PATH_H
#define SW_TEST_BLOB_PATH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/store.h"

/* data_dir/blobs/<algo>/<2 hex>/<hex>, malloc'd; NULL for a non-digest. */
static inline char *test_blob_path(const reg_store *store, const char *digest)
{
    const char *colon = digest ? strchr(digest, ':') : NULL;
    char *path = NULL;
    if (colon == NULL || strlen(colon + 1) < 2)
        return NULL;
    if (asprintf(&path, "%s/blobs/%.*s/%.2s/%s", reg_store_data_dir(store), (int)(colon - digest),
                 digest, colon + 1, colon + 1) < 0)
        return NULL;
    return path;
}

#endif
