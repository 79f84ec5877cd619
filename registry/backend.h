/*
 * backend.h - the blob backend: where blob bytes live (a filesystem tree or
 * an S3 bucket), behind one narrow interface every caller uses.
 *
 * The backend knows bytes and digests only: which repository links a blob,
 * which manifest references it and when GC may take it are the database's
 * business (registry/meta.c). The contract every driver keeps, checked by
 * tests/unit/registry/test_backend.c (the conformance suite):
 *
 *  - A blob is stored under its digest ("sha256:<hex>" or "sha512:<hex>")
 *    and becomes visible (stat, get, walk) only once all its bytes are
 *    durably stored and the digest the backend computed while they streamed
 *    in matches the one expected. A mismatch or an abort leaves nothing
 *    visible. Content addressing makes puts idempotent: two writers of the
 *    same digest both succeed and one copy stays.
 *  - Reads take a byte range; the filesystem driver also hands out an fd
 *    (sendfile), the S3 driver a presigned URL when `redirect` is on.
 *  - Upload sessions (the registry's POST/PATCH/PUT) keep all their state in
 *    the backend, not in process memory: a PATCH may arrive at another front
 *    end than the POST, or after a restart. The running hash state is stored
 *    with the bytes, so continuing never re-reads what came before. The
 *    caller serialises writers of one session (the database row).
 *
 * A reg_backend is shared by all threads of a process. Every function
 * returns 0 or a negative code with *err set: REG_E_BLOB_UNKNOWN (no such
 * blob), REG_E_BLOB_UPLOAD_UNKNOWN (no such session), REG_E_DIGEST_INVALID
 * (malformed digest, or content that does not match), REG_E_RANGE_INVALID
 * (an offset that does not fit), SW_EPERM (the store refused our
 * credentials), SW_EIO / SW_ENOSPACE for storage failures.
 */
#ifndef REG_BACKEND_H
#define REG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "registry/errors.h"

struct sw_config;

enum reg_backend_driver { REG_BACKEND_FILESYSTEM = 0, REG_BACKEND_S3 };

/* What a backend is opened with (storage: in the config). Strings are
 * borrowed for the call only. */
struct reg_backend_config {
    enum reg_backend_driver driver;
    const char *root; /* filesystem: the data dir (blobs/, uploads/, tmp/) */
    /* s3 */
    const char *endpoint; /* http(s)://host[:port] */
    const char *region;   /* default us-east-1 */
    const char *bucket;
    const char *prefix;     /* key prefix inside the bucket, "" or "a/b" */
    const char *access_key; /* resolved (not env:NAME) */
    const char *secret_key;
    int path_style; /* endpoint/bucket/key instead of bucket.endpoint/key */
    int redirect;   /* reg_backend_redirect_url gives presigned URLs */
    /* filesystem */
    int cached_writes; /* blob bytes through the page cache; 0: whole blocks
                          of large blobs with O_DIRECT (storage.direct_io) */
    /* both */
    int64_t part_size; /* S3 multipart part size and the size above which a
                          put goes multipart; 0: 8 MiB; at least 5 MiB */
};

/* The backend a config asks for: storage.driver and its keys, with the
 * secrets resolved (env:NAME). The strings stay owned by cfg; secrets are
 * copied into the backend at open. */
void reg_backend_config_from(const struct sw_config *cfg, struct reg_backend_config *out);

typedef struct reg_backend reg_backend;

/* Opens a backend (creating the filesystem tree; the S3 bucket must exist,
 * and is not contacted here). *out is owned by the caller. SW_EINVAL with
 * the missing field named when the config is incomplete. */
int reg_backend_open(const struct reg_backend_config *cfg, reg_backend **out, sw_error **err);
void reg_backend_close(reg_backend *b);

/* "filesystem" or "s3" */
const char *reg_backend_driver_name(const reg_backend *b);

/* ---- blobs ---- */

/* Size of a stored blob; REG_E_BLOB_UNKNOWN when absent. */
int reg_backend_stat(reg_backend *b, const char *digest, int64_t *size, sw_error **err);

/* Removes a blob; REG_E_BLOB_UNKNOWN when absent. Only GC calls this, with
 * the database's say-so. */
int reg_backend_delete(reg_backend *b, const char *digest, sw_error **err);

/* Calls fn for every stored blob (order unspecified) with its size and the
 * time it was stored (epoch seconds; GC spares young objects). A nonzero
 * return from fn stops the walk and is returned. Blobs being written are
 * not listed. */
typedef int (*reg_backend_walk_fn)(const char *digest, int64_t size, int64_t mtime, void *ctx,
                                   sw_error **err);
int reg_backend_walk(reg_backend *b, reg_backend_walk_fn fn, void *ctx, sw_error **err);

/* A reader of bytes [offset, offset + length) of a blob (length -1: to the
 * end). offset == size is allowed only with length -1 or 0 (an empty
 * read); past that, or a length reaching past the end, is
 * REG_E_RANGE_INVALID. *blob_size (may be NULL) gets the blob's size. */
typedef struct reg_backend_reader reg_backend_reader;
int reg_backend_reader_open(reg_backend *b, const char *digest, int64_t offset, int64_t length,
                            reg_backend_reader **out, int64_t *blob_size, sw_error **err);
/* Reads up to cap bytes into buf; *got is 0 at the end of the range. */
int reg_backend_read(reg_backend_reader *r, void *buf, size_t cap, size_t *got, sw_error **err);
/* Filesystem only: the open fd and the file offset the range starts at,
 * for sendfile (the fd stays owned by the reader). SW_EUNSUPPORTED for
 * drivers without local files: the caller then uses reg_backend_read. */
int reg_backend_reader_fd(reg_backend_reader *r, int *fd, int64_t *offset);
void reg_backend_reader_close(reg_backend_reader *r);

/* Reads a whole small blob (at most max bytes, else SW_ETOOBIG) into a
 * malloc'd, NUL-terminated buffer. */
int reg_backend_read_all(reg_backend *b, const char *digest, size_t max, char **out, size_t *len,
                         sw_error **err);

/* A URL a client may GET the blob from directly for ttl_s seconds (S3 with
 * redirect: true: a presigned URL). SW_EUNSUPPORTED when the backend does
 * not redirect; the caller serves the bytes itself. *url is malloc'd. */
int reg_backend_redirect_url(reg_backend *b, const char *digest, int64_t ttl_s, char **url,
                             sw_error **err);

/* A streaming put: bytes are hashed as they arrive and stored where nobody
 * sees them; commit makes the blob visible under its digest. */
typedef struct reg_backend_writer reg_backend_writer;
int reg_backend_writer_new(reg_backend *b, enum sw_hash_algo algo, reg_backend_writer **out,
                           sw_error **err);
int reg_backend_writer_write(reg_backend_writer *w, const void *data, size_t len, sw_error **err);
int64_t reg_backend_writer_size(const reg_backend_writer *w);
/* Flushes what is buffered and verifies expected (NULL: accept the
 * computed digest) without making anything visible: the slow part of a
 * commit, done before a caller's transaction. Mismatch:
 * REG_E_DIGEST_INVALID, the writer stays (abort it). No write may follow;
 * a commit afterwards only publishes. digest_out (may be NULL). */
int reg_backend_writer_verify(reg_backend_writer *w, const char *expected,
                              char digest_out[SW_DIGEST_MAX], sw_error **err);
/* Verifies expected (NULL: accept the computed digest), makes the blob
 * visible (a blob already stored under that digest is kept as it is) and
 * frees the writer in every case. Mismatch: REG_E_DIGEST_INVALID and
 * nothing visible. digest_out (may be NULL) receives the digest. */
int reg_backend_writer_commit(reg_backend_writer *w, const char *expected,
                              char digest_out[SW_DIGEST_MAX], sw_error **err);
/* Discards a writer and everything it stored. Accepts NULL. */
void reg_backend_writer_abort(reg_backend_writer *w);

/* Convenience: a whole buffer as a blob (configs, manifests). */
int reg_backend_put_buffer(reg_backend *b, const void *data, size_t len, const char *expected,
                           char digest_out[SW_DIGEST_MAX], sw_error **err);

/* ---- upload sessions ---- */

/* Session ids are chosen by the caller (the database row's uuid): 8-64
 * characters of [A-Za-z0-9-]. */

/* Starts an empty session. SW_EEXIST if the id is taken. */
int reg_backend_upload_create(reg_backend *b, const char *uuid, sw_error **err);

/* Bytes received so far; REG_E_BLOB_UPLOAD_UNKNOWN when there is no such
 * session. */
int reg_backend_upload_offset(reg_backend *b, const char *uuid, int64_t *offset, sw_error **err);

/* A chunk: start is where the client says it begins (-1: at the current
 * end); any other start than the current offset is REG_E_RANGE_INVALID.
 * The chunk's bytes count only once end_chunk returned 0; on failure or
 * abort the session stays as before the chunk. */
typedef struct reg_backend_chunk reg_backend_chunk;
int reg_backend_upload_begin_chunk(reg_backend *b, const char *uuid, int64_t start,
                                   reg_backend_chunk **out, sw_error **err);
int reg_backend_chunk_write(reg_backend_chunk *c, const void *data, size_t len, sw_error **err);
int reg_backend_chunk_end(reg_backend_chunk *c, int64_t *new_offset, sw_error **err);
void reg_backend_chunk_abort(reg_backend_chunk *c);

/* Completes a session: verifies its bytes against digest (mismatch:
 * REG_E_DIGEST_INVALID, the session stays so the client may retry or
 * cancel), makes the blob visible and removes the session. */
int reg_backend_upload_complete(reg_backend *b, const char *uuid, const char *digest,
                                sw_error **err);

/* Removes a session and its bytes; REG_E_BLOB_UPLOAD_UNKNOWN if absent. */
int reg_backend_upload_cancel(reg_backend *b, const char *uuid, sw_error **err);

/* Calls fn for every session with the time (epoch seconds) of its last
 * change, so GC can remove abandoned ones. */
typedef int (*reg_backend_upload_walk_fn)(const char *uuid, int64_t updated_at, void *ctx,
                                          sw_error **err);
int reg_backend_upload_walk(reg_backend *b, reg_backend_upload_walk_fn fn, void *ctx,
                            sw_error **err);

#endif
