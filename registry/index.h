/*
 * index.h - writing an OCI image index (a multi-platform image) from image
 * manifests already in a repository.
 *
 * A multi-platform build stores one image manifest per platform, untagged,
 * then makes ONE index that names them with their platforms; the tags go
 * to the index, so every client picks its own platform from the same tag.
 * The index goes through reg_manifest_put like any pushed manifest, so the
 * usual validation (every child exists in the repository), the manifest
 * references and garbage collection apply to it.
 */
#ifndef REG_INDEX_H
#define REG_INDEX_H

#include <stddef.h>

#include "core/hash.h"
#include "registry/store.h"

/* One child of an index: an image manifest of the repository and the
 * platform it is for ("os/arch[/variant]", normalised as
 * reg_platform_parse does; arm64 is written with variant v8, as the OCI
 * image-index spec lists it and as buildx writes it). */
struct reg_index_entry {
    const char *platform;
    const char *digest;
};

/* Builds the index of entries (in their order: the same entries give the
 * same bytes, so a reproducible build gives a reproducible index digest)
 * and stores it in repo, untagged, digest_out receiving its digest. Two
 * entries for one platform, or a child that is not an image manifest of
 * repo, are SW_EINVAL / SW_ENOTFOUND naming it. */
int reg_index_put(reg_store *store, const char *repo, const struct reg_index_entry *entries,
                  size_t n, char digest_out[SW_DIGEST_MAX], sw_error **err);

#endif
