/*
 * blobstore.h - blobs: content-addressed bytes linked to repositories.
 *
 * A blob's bytes are stored once (blobs/<algo>/<2 hex>/<hex>) however many
 * repositories link it; a repository serves only blobs linked to it. A blob
 * becomes visible only after its bytes are fully written, fsynced, the
 * digest verified and the file renamed into place (reg_blob_writer_commit).
 */
#ifndef REG_BLOBSTORE_H
#define REG_BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "registry/store.h"

/* Size of a blob linked to repo; REG_E_BLOB_UNKNOWN when not linked. Marks
 * the link as recently used (GC leaves it alone for its grace period). */
int reg_blob_stat(reg_store *store, const char *repo, const char *digest, int64_t *size,
                  sw_error **err);

/* Opens bytes [offset, offset + length) (length -1: to the end) of a
 * blob for reading through the store's backend (backend.h: read it with
 * reg_backend_read or, on the filesystem driver, reg_backend_reader_fd for
 * sendfile; close with reg_backend_reader_close). repo NULL reads any blob
 * the store has (the builder, export of a config); otherwise the blob must
 * be linked to repo, and the link is marked as recently used.
 * REG_E_BLOB_UNKNOWN when absent, REG_E_RANGE_INVALID for a range that
 * does not fit. *size (may be NULL) gets the blob's size. */
int reg_blob_reader_open(reg_store *store, const char *repo, const char *digest, int64_t offset,
                         int64_t length, reg_backend_reader **out, int64_t *size, sw_error **err);

/* reg_backend_read as a core/compress.h sw_source_fn (ctx: the reader). */
int reg_blob_reader_source(void *reader, void *buf, size_t len, size_t *got, sw_error **err);

/* A URL the client may fetch the blob from directly for ttl_s seconds
 * (storage.redirect: true on S3: a presigned URL); SW_EUNSUPPORTED when
 * the store serves blobs itself. *url is malloc'd. The caller has checked
 * the link (reg_blob_stat). */
int reg_blob_redirect_url(reg_store *store, const char *digest, int64_t ttl_s, char **url,
                          sw_error **err);

/* Whether the store has a blob (its row and its bytes), linked anywhere or
 * not: 0, or REG_E_BLOB_UNKNOWN. *size (may be NULL) gets its size. */
int reg_blob_exists(reg_store *store, const char *digest, int64_t *size, sw_error **err);

/* Links a blob that `from` has into `repo` (cross-repository mount).
 * REG_E_BLOB_UNKNOWN when `from` does not have it; the caller then falls
 * back to a normal upload. Creates repo if needed. */
int reg_blob_mount(reg_store *store, const char *repo, const char *from, const char *digest,
                   sw_error **err);

/* Links a blob already in the store (any repository) into repo; used when a
 * pushed digest exists globally. REG_E_BLOB_UNKNOWN when absent. */
int reg_blob_link(reg_store *store, const char *repo, const char *digest, sw_error **err);

/* Unlinks a blob from repo. REG_E_UNSUPPORTED when delete is disabled,
 * REG_E_BLOB_UNKNOWN when not linked. Bytes are removed later by GC. */
int reg_blob_delete(reg_store *store, const char *repo, const char *digest, sw_error **err);

/* Algorithm named by a valid digest (sha512:... or else sha256). */
enum sw_hash_algo reg_digest_algo(const char *digest);

/* Streaming writer: bytes go to a temporary file under tmp/ and through
 * the hash; nothing is visible until commit. */
typedef struct reg_blob_writer reg_blob_writer;

int reg_blob_writer_new(reg_store *store, reg_blob_writer **out, sw_error **err);
/* Like reg_blob_writer_new, hashing with algo (for sha512 content; a
 * commit whose expected digest names another algorithm than the writer's
 * fails with REG_E_DIGEST_INVALID: pick it with reg_digest_algo). */
int reg_blob_writer_new_algo(reg_store *store, enum sw_hash_algo algo, reg_blob_writer **out,
                             sw_error **err);
int reg_blob_writer_write(reg_blob_writer *w, const void *data, size_t len, sw_error **err);
int64_t reg_blob_writer_size(const reg_blob_writer *w);

/* fsyncs, checks the digest against expected (NULL: accept the computed
 * one; mismatch: REG_E_DIGEST_INVALID), renames into place, records the
 * blob and links it to repo (NULL: record only, no link). The writer is
 * freed in every case. digest_out (may be NULL) receives the digest. */
int reg_blob_writer_commit(reg_blob_writer *w, const char *repo, const char *expected,
                           char digest_out[SW_DIGEST_MAX], sw_error **err);

/* Discards a writer and its temporary file. Accepts NULL. */
void reg_blob_writer_abort(reg_blob_writer *w);

/* Convenience: a whole small buffer (configs, manifests) as a blob. */
int reg_blob_put_buffer(reg_store *store, const char *repo, const void *data, size_t len,
                        char digest_out[SW_DIGEST_MAX], sw_error **err);

/* Reads a whole small blob (<= max bytes) from the store, linked or not.
 * *out is malloc'd and NUL-terminated. */
int reg_blob_read_all(reg_store *store, const char *digest, size_t max, char **out, size_t *len,
                      sw_error **err);

#endif
