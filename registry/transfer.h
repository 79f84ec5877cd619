/*
 * transfer.h - the offline way in and out of the store: importing images
 * from files and exporting them to files, with skopeo's transport names.
 *
 *   tar:FILE                  a root filesystem tarball (plain, gz, zst, xz,
 *                             bz2) becomes a one-layer image (docker import)
 *   oci:DIR[:TAG]             an OCI image layout directory
 *   oci-archive:FILE[:TAG]    a tar of an OCI image layout
 *   docker-archive:FILE[:REF] a `docker save` tarball (REF = name:tag)
 *
 * Everything streams: layer bytes flow file -> (decompress) -> hash ->
 * (compress) -> blob writer with fixed buffers; only manifests, configs and
 * index files (bounded in size) are read whole. Blobs are verified against
 * their digests while they stream. Only the public registry API is used, so
 * imports and exports are safe while `slipway serve` runs on the same store.
 *
 * Errors name the source or destination and what is wrong in it, e.g.
 *   oci:/tmp/x: index.json: no manifest with ref.name 'v2'
 */
#ifndef REG_TRANSFER_H
#define REG_TRANSFER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/hash.h"
#include "registry/store.h"

enum reg_transport {
    REG_TRANSPORT_TAR,
    REG_TRANSPORT_OCI,
    REG_TRANSPORT_OCI_ARCHIVE,
    REG_TRANSPORT_DOCKER_ARCHIVE,
};

struct reg_transport_ref {
    enum reg_transport transport;
    char *path; /* malloc'd, never empty */
    char *ref;  /* malloc'd tag (oci, oci-archive) or name:tag
                   (docker-archive); NULL when not given */
};

/* Parses "oci:DIR:TAG" and friends. As in containers/image, the path ends
 * at the first ':' after the transport name; tar: takes the rest whole.
 * SW_EINVAL with a message for an unknown transport or an empty path. */
int reg_transport_parse(const char *spec, struct reg_transport_ref *out, sw_error **err);
void reg_transport_ref_release(struct reg_transport_ref *ref);

/* Splits "REPO:TAG" (the tag after the last ':' that follows the last '/';
 * "REPO@sha256:..." gives a digest reference) into malloc'd parts and
 * validates both. A missing tag means "latest". */
int reg_parse_image_ref(const char *spec, char **repo, char **reference, sw_error **err);

/* What a tar: import puts into the image config. */
struct reg_image_settings {
    json_t *cmd;              /* JSON array of strings, or NULL (borrowed) */
    json_t *entrypoint;       /* same */
    const char *const *env;   /* NULL-terminated "K=V", or NULL */
    const char *workdir;      /* NULL: none */
    const char *architecture; /* NULL: the host's (amd64, arm64, ...) */
    const char *os;           /* NULL: linux */
    int64_t created;          /* seconds since the epoch; < 0: SOURCE_DATE_EPOCH
                                 when set, else now */
};

/* Builds the OCI image config of a tar: import with the given layers'
 * diff IDs. *out is owned by the caller. */
int reg_image_config_build(const struct reg_image_settings *settings, const char *const *diff_ids,
                           size_t n_diff_ids, json_t **out, sw_error **err);

/* Converts a "--cmd"/"--entrypoint" argument into a JSON array: a JSON
 * array of strings as is, anything else as ["/bin/sh", "-c", arg]. */
int reg_command_parse(const char *arg, json_t **out, sw_error **err);

/* In an OCI layout's index.json, the descriptor to import: the one whose
 * org.opencontainers.image.ref.name annotation is tag, or with tag NULL
 * the only one. *desc is borrowed from index. `where` prefixes errors. */
int reg_oci_index_select(json_t *index, const char *tag, const char *where, json_t **desc,
                         sw_error **err);

/* Adds desc (reference stolen) to index.json's manifests, tagged tag
 * (may be NULL), replacing any entry that had the same ref.name. */
int reg_oci_index_add(json_t *index, json_t *desc, const char *tag, sw_error **err);

/* 1 if an archive entry path may be used: relative, no ".." component. */
int reg_archive_path_safe(const char *path);

struct reg_transfer_result {
    char digest[SW_DIGEST_MAX]; /* the manifest imported or exported */
    char media_type[128];
    uint64_t blobs; /* blobs copied (layers and configs) */
    uint64_t bytes; /* their bytes as stored */
};

/* Imports `source` (a transport spec) into repo, tagged tag. */
int reg_import(reg_store *store, const char *source, const char *repo, const char *tag,
               const struct reg_image_settings *settings, struct reg_transfer_result *result,
               sw_error **err);

/* Exports repo:reference (tag or digest) to `dest` (oci:, oci-archive:,
 * docker-archive:). Without a tag in dest, the reference's tag is used. */
int reg_export(reg_store *store, const char *repo, const char *reference, const char *dest,
               struct reg_transfer_result *result, sw_error **err);

#endif
