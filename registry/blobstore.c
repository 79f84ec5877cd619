/*
 * blobstore.c - content-addressed blob files and their links to
 * repositories.
 *
 * Writing a blob: bytes go to tmp/blob-<random> (O_EXCL, flocked so crash
 * recovery in another process leaves it alone) through a sink (sink.h:
 * 1 MiB writes, sha256 on another thread, writeback started as the file
 * grows); nothing is ever read back. At commit the file is
 * fdatasynced and the digest compared, then, while holding SQLite's write lock
 * (BEGIN IMMEDIATE), renamed to blobs/<algo>/<2 hex>/<hex>, the directory
 * fsynced, and the rows written. Garbage collection removes blob files
 * under the same lock, so a commit and a removal of the same digest never
 * interleave; two commits of the same digest are serialised too, and the
 * second just drops its temporary file.
 *
 * Upload sessions and manifest PUT reuse these steps (meta.h: finish,
 * publish, free; adopt) so there is one way a blob becomes visible.
 */
#include "registry/blobstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fs.h"
#include "core/log.h"
#include "registry/meta.h"
#include "registry/names.h"
#include "registry/sink.h"

/* A HEAD or GET refreshes a link's touched_at at most this often, so a busy
 * pull does not turn every request into a database write. */
#define TOUCH_INTERVAL 60

struct reg_blob_writer {
    reg_store *store;
    reg_backend_writer *bw; /* NULL once published */
    enum sw_hash_algo algo;
    char digest[SW_DIGEST_MAX]; /* after finish */
};

enum sw_hash_algo reg_digest_algo(const char *digest)
{
    return strncmp(digest, "sha512:", 7) == 0 ? SW_HASH_SHA512 : SW_HASH_SHA256;
}

/* ---- writer ------------------------------------------------------------ */

int reg_blob_writer_new_algo(reg_store *store, enum sw_hash_algo algo, reg_blob_writer **out,
                             sw_error **err)
{
    int rc = reg_store_check_space(store, err);
    if (rc != 0)
        return rc;
    reg_blob_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return sw_error_set(err, SW_ENOMEM, "blob writer: out of memory");
    w->store = store;
    w->algo = algo;
    if ((rc = reg_backend_writer_new(reg_store_backend(store), algo, &w->bw, err)) != 0) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int reg_blob_writer_new(reg_store *store, reg_blob_writer **out, sw_error **err)
{
    return reg_blob_writer_new_algo(store, SW_HASH_SHA256, out, err);
}

int reg_blob_writer_write(reg_blob_writer *w, const void *data, size_t len, sw_error **err)
{
    if (w->bw == NULL)
        return sw_error_set(err, SW_EINVAL, "blob writer: already published");
    return reg_backend_writer_write(w->bw, data, len, err);
}

int64_t reg_blob_writer_size(const reg_blob_writer *w)
{
    return w->bw ? reg_backend_writer_size(w->bw) : 0;
}

int reg_blob_writer_finish(reg_blob_writer *w, const char *expected, char digest_out[SW_DIGEST_MAX],
                           sw_error **err)
{
    if (expected && !reg_digest_valid(expected))
        return sw_error_set(err, REG_E_DIGEST_INVALID, "invalid digest '%s'", expected);
    if (w->bw == NULL)
        return sw_error_set(err, SW_EINVAL, "blob writer: already published");
    if (expected && reg_digest_algo(expected) != w->algo)
        return sw_error_set(err, REG_E_DIGEST_INVALID,
                            "digest %s names another algorithm than the content was hashed with",
                            expected);
    int rc = reg_backend_writer_verify(w->bw, expected, w->digest, err);
    if (rc == 0 && digest_out)
        memcpy(digest_out, w->digest, SW_DIGEST_MAX);
    return rc;
}

int reg_blob_writer_publish(reg_blob_writer *w, sw_db *db, int64_t repo_id, sw_error **err)
{
    int64_t size = reg_backend_writer_size(w->bw);
    /* the object first, then its rows, in the caller's transaction: GC
     * removes objects without rows under the same lock, so neither a
     * row without its object nor a removal of a blob being published can
     * be seen by anyone */
    reg_backend_writer *bw = w->bw;
    w->bw = NULL;
    int rc = reg_backend_writer_commit(bw, w->digest, NULL, err);
    if (rc != 0)
        return rc;
    int64_t now = reg_meta_now();
    if ((rc = reg_meta_blob_insert(db, w->digest, size, now, err)) != 0)
        return rc;
    if (repo_id > 0 && (rc = reg_meta_blob_link(db, repo_id, w->digest, now, err)) != 0)
        return rc;
    return 0;
}

void reg_blob_writer_free(reg_blob_writer *w)
{
    if (w == NULL)
        return;
    reg_backend_writer_abort(w->bw);
    free(w);
}

void reg_blob_writer_abort(reg_blob_writer *w)
{
    reg_blob_writer_free(w);
}

int reg_blob_writer_commit(reg_blob_writer *w, const char *repo, const char *expected,
                           char digest_out[SW_DIGEST_MAX], sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0;
    int rc, in_tx = 0;
    if (repo && !reg_name_valid_stored(repo)) {
        rc = sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
        goto cleanup;
    }
    if ((rc = reg_blob_writer_finish(w, expected, digest_out, err)) != 0)
        goto cleanup;
    if ((rc = reg_store_db(w->store, &db, err)) != 0)
        goto cleanup;
    if ((rc = sw_db_begin(db, err)) != 0)
        goto cleanup;
    in_tx = 1;
    if (repo && (rc = reg_meta_repo_ensure(db, repo, &repo_id, err)) != 0)
        goto cleanup;
    if ((rc = reg_blob_writer_publish(w, db, repo_id, err)) != 0)
        goto cleanup;
    rc = sw_db_commit(db, err);
cleanup:
    if (rc != 0) {
        if (in_tx)
            sw_db_rollback(db);
        sw_error_prefix(err, "storing blob%s%s", repo ? " in " : "", repo ? repo : "");
    }
    reg_blob_writer_free(w);
    return rc;
}

int reg_blob_put_buffer(reg_store *store, const char *repo, const void *data, size_t len,
                        char digest_out[SW_DIGEST_MAX], sw_error **err)
{
    reg_blob_writer *w = NULL;
    int rc = reg_blob_writer_new(store, &w, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_blob_writer_write(w, data, len, err)) != 0) {
        reg_blob_writer_abort(w);
        return rc;
    }
    return reg_blob_writer_commit(w, repo, NULL, digest_out, err);
}

/* ---- reading and linking ----------------------------------------------- */

/* Validates what every per-repository blob call receives. */
static int check_repo_digest(const char *repo, const char *digest, sw_error **err)
{
    if (!reg_name_valid_stored(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    if (!reg_digest_valid(digest))
        return sw_error_set(err, REG_E_DIGEST_INVALID, "invalid digest '%s'", digest);
    return 0;
}

/* Finds the link and refreshes touched_at when it is older than
 * TOUCH_INTERVAL. check_bytes: also asks the backend that the bytes are
 * there (a reader opened afterwards finds out by itself). */
static int linked_blob(reg_store *store, const char *repo, const char *digest, int check_bytes,
                       int64_t *size, sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0, touched_at = 0, row_size = 0;
    int rc = check_repo_digest(repo, digest, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_store_db(store, &db, err)) != 0)
        return rc;
    if ((rc = reg_meta_blob_linked(db, repo, digest, &repo_id, &row_size, &touched_at, err)) != 0)
        return rc;
    if (check_bytes &&
        (rc = reg_backend_stat(reg_store_backend(store), digest, &row_size, err)) != 0) {
        if (rc == REG_E_BLOB_UNKNOWN) {
            sw_error_clear(err);
            rc = sw_error_set(err, REG_E_BLOB_UNKNOWN, "blob %s of %s is missing from the store",
                              digest, repo);
        }
        return rc;
    }
    if (size)
        *size = row_size;
    int64_t now = reg_meta_now();
    if (touched_at < now - TOUCH_INTERVAL) {
        sw_error *touch_err = NULL;
        /* A read that cannot record its use still succeeds; GC only loses
         * a hint it would have had within the grace period. */
        if (reg_meta_blob_touch(db, repo_id, digest, now, &touch_err) != 0)
            sw_warn("blob %s of %s: %s", digest, repo, sw_error_message(touch_err));
        sw_error_clear(&touch_err);
    }
    return 0;
}

int reg_blob_stat(reg_store *store, const char *repo, const char *digest, int64_t *size,
                  sw_error **err)
{
    return linked_blob(store, repo, digest, 1, size, err);
}

int reg_blob_reader_open(reg_store *store, const char *repo, const char *digest, int64_t offset,
                         int64_t length, reg_backend_reader **out, int64_t *size, sw_error **err)
{
    int rc;
    *out = NULL;
    if (repo && (rc = linked_blob(store, repo, digest, 0, NULL, err)) != 0)
        return rc;
    rc = reg_backend_reader_open(reg_store_backend(store), digest, offset, length, out, size, err);
    if (rc != 0)
        sw_error_prefix(err, "reading blob %s%s%s", digest, repo ? " of " : "", repo ? repo : "");
    return rc;
}

int reg_blob_reader_source(void *reader, void *buf, size_t len, size_t *got, sw_error **err)
{
    return reg_backend_read(reader, buf, len, got, err);
}

int reg_blob_redirect_url(reg_store *store, const char *digest, int64_t ttl_s, char **url,
                          sw_error **err)
{
    return reg_backend_redirect_url(reg_store_backend(store), digest, ttl_s, url, err);
}

int reg_blob_exists(reg_store *store, const char *digest, int64_t *size, sw_error **err)
{
    sw_db *db = NULL;
    int64_t row_size = 0;
    int rc = reg_store_db(store, &db, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_meta_blob_size(db, digest, &row_size, err)) != 0)
        return rc;
    if ((rc = reg_backend_stat(reg_store_backend(store), digest, NULL, err)) != 0)
        return rc;
    if (size)
        *size = row_size;
    return 0;
}

/* Links digest into repo inside one write transaction, provided the store
 * still has the blob (row and file): GC removes both under the same lock,
 * so a link made here never points at a blob being removed. */
static int link_existing(reg_store *store, sw_db *db, const char *repo, const char *digest,
                         sw_error **err)
{
    int64_t size = 0, repo_id = 0;
    int rc = sw_db_begin(db, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_meta_blob_size(db, digest, &size, err)) != 0)
        goto cleanup;
    if ((rc = reg_backend_stat(reg_store_backend(store), digest, NULL, err)) != 0) {
        if (rc == REG_E_BLOB_UNKNOWN) {
            sw_error_clear(err);
            rc = sw_error_set(err, REG_E_BLOB_UNKNOWN, "blob %s is missing from the store", digest);
        }
        goto cleanup;
    }
    if ((rc = reg_meta_repo_ensure(db, repo, &repo_id, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_blob_link(db, repo_id, digest, reg_meta_now(), err)) != 0)
        goto cleanup;
    rc = sw_db_commit(db, err);
cleanup:
    if (rc != 0)
        sw_db_rollback(db);
    return rc;
}

int reg_blob_mount(reg_store *store, const char *repo, const char *from, const char *digest,
                   sw_error **err)
{
    sw_db *db = NULL;
    int64_t from_id = 0, size = 0, touched_at = 0;
    int rc = check_repo_digest(repo, digest, err);
    if (rc != 0)
        return rc;
    if (!reg_name_valid(from))
        return sw_error_set(err, REG_E_BLOB_UNKNOWN, "invalid mount source '%s'", from);
    if ((rc = reg_store_db(store, &db, err)) != 0)
        return rc;
    if ((rc = reg_meta_blob_linked(db, from, digest, &from_id, &size, &touched_at, err)) != 0)
        return rc;
    if ((rc = link_existing(store, db, repo, digest, err)) != 0)
        sw_error_prefix(err, "mounting %s from %s into %s", digest, from, repo);
    return rc;
}

int reg_blob_link(reg_store *store, const char *repo, const char *digest, sw_error **err)
{
    sw_db *db = NULL;
    int rc = check_repo_digest(repo, digest, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_store_db(store, &db, err)) != 0)
        return rc;
    if ((rc = link_existing(store, db, repo, digest, err)) != 0)
        sw_error_prefix(err, "linking %s into %s", digest, repo);
    return rc;
}

int reg_blob_delete(reg_store *store, const char *repo, const char *digest, sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0;
    int removed = 0;
    if (!reg_store_options(store)->delete_enabled)
        return sw_error_set(err, REG_E_UNSUPPORTED, "deleting blobs is disabled");
    int rc = check_repo_digest(repo, digest, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_store_db(store, &db, err)) != 0)
        return rc;
    rc = reg_meta_repo_find(db, repo, &repo_id, err);
    if (rc == REG_E_NAME_UNKNOWN) {
        sw_error_clear(err);
        return sw_error_set(err, REG_E_BLOB_UNKNOWN, "blob %s is not in repository %s", digest,
                            repo);
    }
    if (rc != 0)
        return rc;
    if ((rc = reg_meta_blob_unlink(db, repo_id, digest, &removed, err)) != 0)
        return rc;
    if (!removed)
        return sw_error_set(err, REG_E_BLOB_UNKNOWN, "blob %s is not in repository %s", digest,
                            repo);
    return 0;
}

int reg_blob_read_all(reg_store *store, const char *digest, size_t max, char **out, size_t *len,
                      sw_error **err)
{
    return reg_backend_read_all(reg_store_backend(store), digest, max, out, len, err);
}
