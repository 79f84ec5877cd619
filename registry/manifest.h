/*
 * manifest.h - manifests, tags, the catalog and referrers.
 *
 * Accepted media types: OCI image manifest and index, Docker schema 2
 * manifest and manifest list (and any artifact manifest following the OCI
 * manifest schema with an artifactType). A PUT validates the JSON, the
 * media type (Content-Type must match a mediaType field when present), that
 * every referenced blob is linked to the repository (MANIFEST_BLOB_UNKNOWN)
 * and every child manifest of an index exists there (MANIFEST_UNKNOWN is
 * reported as MANIFEST_BLOB_UNKNOWN, as Distribution does); the manifest,
 * its references and its tag change in one transaction.
 */
#ifndef REG_MANIFEST_H
#define REG_MANIFEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "registry/store.h"

#define REG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define REG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define REG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

/* 1 for an OCI index or a Docker manifest list (NULL: 0). */
int reg_media_type_is_index(const char *media_type);
/* 1 for an OCI image manifest or a Docker schema 2 manifest (NULL: 0). */
int reg_media_type_is_image_manifest(const char *media_type);

struct reg_manifest {
    char digest[SW_DIGEST_MAX];
    char *media_type; /* malloc'd */
    char *body;       /* malloc'd, NUL-terminated; NULL after a stat */
    size_t size;
};

/* Stores a manifest under repo, tagged with reference when it is a tag (a
 * digest reference must match the body's digest: REG_E_DIGEST_INVALID).
 * digest_out receives its digest; subject_out (may be NULL) the digest of
 * its subject or "" when it has none. */
int reg_manifest_put(reg_store *store, const char *repo, const char *reference,
                     const char *content_type, const void *body, size_t len,
                     char digest_out[SW_DIGEST_MAX], char subject_out[SW_DIGEST_MAX],
                     sw_error **err);

/* Looks up by tag or digest. With want_body == 0 only digest, media type
 * and size are filled (HEAD). Release with reg_manifest_release.
 * REG_E_MANIFEST_UNKNOWN / REG_E_NAME_UNKNOWN when absent. */
int reg_manifest_get(reg_store *store, const char *repo, const char *reference, int want_body,
                     struct reg_manifest *out, sw_error **err);
void reg_manifest_release(struct reg_manifest *m);

/* By digest: removes the manifest and every tag pointing at it. By tag:
 * removes the tag only. REG_E_UNSUPPORTED when delete is disabled. */
int reg_manifest_delete(reg_store *store, const char *repo, const char *reference, sw_error **err);

/* A value that changes whenever the set of repo's tag names changes (in
 * any process sharing the database; 0: no tag was ever added), for
 * keeping answers to tags/list. REG_E_NAME_UNKNOWN for an unknown
 * repository. */
int reg_tags_version(reg_store *store, const char *repo, int64_t *version, sw_error **err);

/* Tags of repo in lexical order, after `last` (NULL: from the start), at
 * most n (n < 0: all). *tags is a malloc'd array of malloc'd strings;
 * *more is set when further tags exist. REG_E_NAME_UNKNOWN for an unknown
 * repository. Free with reg_string_list_free. */
int reg_tags_list(reg_store *store, const char *repo, const char *last, int n, char ***tags,
                  size_t *count, int *more, sw_error **err);

/* Repository names, the same way. */
int reg_catalog_list(reg_store *store, const char *last, int n, char ***names, size_t *count,
                     int *more, sw_error **err);

void reg_string_list_free(char **list, size_t count);

/* The tag calls of other modules' transactions (the worker tags a built
 * image together with its own bookkeeping): they run on the store's
 * connection db (reg_store_db) inside the caller's transaction, so nothing
 * outside registry/ needs registry/meta.h or the registry's tables.
 * reg_tag_lookup: the digest repo:tag points at (SW_DIGEST_MAX bytes);
 * REG_E_MANIFEST_UNKNOWN when there is no such tag. reg_tag_point: points
 * repo:tag (the repository is created if new) at the manifest digest,
 * which must be stored in repo. */
int reg_tag_lookup(sw_db *db, const char *repo, const char *tag, char digest[SW_DIGEST_MAX],
                   sw_error **err);
int reg_tag_point(sw_db *db, const char *repo, const char *tag, const char *digest, sw_error **err);

/* Validates a manifest body exactly as reg_manifest_put does before storing
 * it (JSON, schemaVersion, media type against content_type, descriptors),
 * without a store: 0, or REG_E_MANIFEST_INVALID with a message. *n_refs
 * (may be NULL) gets the number of referenced blobs and children. Used by
 * the fuzz target. */
int reg_manifest_validate(const void *body, size_t len, const char *content_type, size_t *n_refs,
                          sw_error **err);

/* The referrers of digest in repo as an OCI image index (application/
 * vnd.oci.image.index.v1+json) with one descriptor per referring manifest
 * (mediaType, digest, size, artifactType, annotations), filtered by
 * artifact_type when not NULL. An unknown digest gives an empty index.
 * *index is owned by the caller. */
int reg_referrers(reg_store *store, const char *repo, const char *digest, const char *artifact_type,
                  json_t **index, sw_error **err);

#endif
