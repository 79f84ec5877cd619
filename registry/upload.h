/*
 * upload.h - blob upload sessions (POST, PATCH, PUT of the Distribution API).
 *
 * A session is a row in `uploads` and a file uploads/<uuid>. Bytes are
 * hashed as they arrive; the running hash state is kept in memory and, if
 * the process restarted since, rebuilt once by reading the partial file.
 * One writer at a time per session: a concurrent PATCH gets
 * REG_E_RANGE_INVALID (the client retries with the status it reads back).
 */
#ifndef REG_UPLOAD_H
#define REG_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "registry/store.h"

#define REG_UUID_LEN 36

/* Starts a session for repo (creating the repository record if needed);
 * uuid receives its id (REG_UUID_LEN + 1 bytes). */
int reg_upload_start(reg_store *store, const char *repo, char uuid[REG_UUID_LEN + 1],
                     sw_error **err);

/* Bytes received so far. REG_E_BLOB_UPLOAD_UNKNOWN for an unknown session
 * or one of another repository. */
int reg_upload_offset(reg_store *store, const char *repo, const char *uuid, int64_t *offset,
                      sw_error **err);

typedef struct reg_upload_writer reg_upload_writer;

/* Opens the session for appending. start is the offset the client says its
 * chunk begins at (from Content-Range), or -1 to append at the end; a start
 * other than the current size fails with REG_E_RANGE_INVALID. */
int reg_upload_begin_write(reg_store *store, const char *repo, const char *uuid, int64_t start,
                           reg_upload_writer **out, sw_error **err);
int reg_upload_write(reg_upload_writer *w, const void *data, size_t len, sw_error **err);
/* Finishes a chunk (data is flushed, the session's offset updated, the
 * writer freed). new_offset (may be NULL) receives the size so far. On
 * failure the chunk's bytes are discarded and the session stays as before. */
int reg_upload_end_write(reg_upload_writer *w, int64_t *new_offset, sw_error **err);
/* Abandons a chunk in progress (client went away); the session stays. */
void reg_upload_abort_write(reg_upload_writer *w);

/* Completes the session: verifies digest (REG_E_DIGEST_INVALID on a
 * mismatch or a malformed digest), makes the blob visible and links it to
 * repo, and removes the session. */
int reg_upload_complete(reg_store *store, const char *repo, const char *uuid, const char *digest,
                        sw_error **err);

/* Cancels a session and removes its bytes. */
int reg_upload_cancel(reg_store *store, const char *repo, const char *uuid, sw_error **err);

#endif
