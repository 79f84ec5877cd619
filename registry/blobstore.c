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
    char *path; /* the bytes until published */
    int fd;
    sw_hash *hash;
    enum sw_hash_algo algo;
    int64_t size;     /* bytes given to the writer */
    reg_sink *sink;   /* NULL for an adopted file */
    int is_adopted;   /* an upload session's file: keep it unless published */
    int is_published; /* path no longer holds our file */
    int has_failed;   /* a write failed: the content is incomplete */
    char digest[SW_DIGEST_MAX];
};

enum sw_hash_algo reg_digest_algo(const char *digest)
{
    return strncmp(digest, "sha512:", 7) == 0 ? SW_HASH_SHA512 : SW_HASH_SHA256;
}

int reg_blob_path_buf(const reg_store *store, const char *digest, char *buf, size_t size,
                      sw_error **err)
{
    if (!reg_digest_valid(digest))
        return sw_error_set(err, REG_E_DIGEST_INVALID, "invalid digest '%s'", digest);
    const char *hex = digest + 7;
    int n =
        snprintf(buf, size, "%s/blobs/%.6s/%.2s/%s", reg_store_data_dir(store), digest, hex, hex);
    if (n < 0 || (size_t)n >= size)
        return sw_error_set(err, SW_EINVAL, "path of blob %s is too long", digest);
    return 0;
}

/* ---- writer ------------------------------------------------------------ */

static int writer_alloc(reg_store *store, enum sw_hash_algo algo, reg_blob_writer **out,
                        sw_error **err)
{
    reg_blob_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return sw_error_set(err, SW_ENOMEM, "blob writer: out of memory");
    w->store = store;
    w->fd = -1;
    w->algo = algo;
    *out = w;
    return 0;
}

int reg_blob_writer_new_algo(reg_store *store, enum sw_hash_algo algo, reg_blob_writer **out,
                             sw_error **err)
{
    reg_blob_writer *w = NULL;
    unsigned char random[12];
    char hex[sizeof(random) * 2 + 1];
    int rc = writer_alloc(store, algo, &w, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_store_check_space(store, err)) != 0)
        goto cleanup;
    if ((w->hash = sw_hash_new(algo)) == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "blob writer: out of memory");
        goto cleanup;
    }
    /* Crash recovery in another process may lock and remove a fresh file
     * between its O_EXCL create and our flock: a file that is already
     * unlinked once locked is given up and a new one is made. */
    for (int attempt = 0;; attempt++) {
        struct stat st;
        if ((rc = sw_random_bytes(random, sizeof(random), err)) != 0)
            goto cleanup;
        sw_hex_encode(random, sizeof(random), hex);
        free(w->path);
        if (asprintf(&w->path, "%s/blob-%s", reg_store_tmp_dir(store), hex) < 0) {
            w->path = NULL;
            rc = sw_error_set(err, SW_ENOMEM, "blob writer: out of memory");
            goto cleanup;
        }
        w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w->fd >= 0 && fchmod(w->fd, 0600) != 0) { /* exactly 0600, whatever the umask */
            close(w->fd);
            unlink(w->path);
            w->fd = -1;
        }
        if (w->fd < 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "creating %s", w->path);
            free(w->path);
            w->path = NULL;
            goto cleanup;
        }
        /* Tells crash recovery (any process) that this file is alive. */
        if (sw_flock(w->fd, LOCK_EX) != 0 || fstat(w->fd, &st) != 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "locking %s", w->path);
            goto cleanup;
        }
        if (st.st_nlink > 0) {
            if ((rc = reg_sink_new(w->fd, 0, w->hash, w->path, &w->sink, err)) != 0)
                goto cleanup;
            reg_sink_start_writeback(w->sink);
            break;
        }
        close(w->fd);
        w->fd = -1;
        if (attempt >= 8) {
            rc = sw_error_set(err, SW_EIO,
                              "creating a temporary blob file: removed by another "
                              "process %d times in a row",
                              attempt + 1);
            goto cleanup;
        }
    }
    *out = w;
    w = NULL;
cleanup:
    reg_blob_writer_free(w);
    return rc;
}

int reg_blob_writer_new(reg_store *store, reg_blob_writer **out, sw_error **err)
{
    return reg_blob_writer_new_algo(store, SW_HASH_SHA256, out, err);
}

int reg_blob_writer_adopt(reg_store *store, const char *path, int fd, sw_hash *hash,
                          enum sw_hash_algo algo, int64_t size, reg_blob_writer **out,
                          sw_error **err)
{
    reg_blob_writer *w = NULL;
    int rc = writer_alloc(store, algo, &w, err);
    if (rc != 0) {
        close(fd);
        sw_hash_free(hash);
        return rc;
    }
    w->fd = fd;
    w->hash = hash;
    w->size = size;
    w->is_adopted = 1;
    if ((w->path = strdup(path)) == NULL) {
        reg_blob_writer_free(w);
        return sw_error_set(err, SW_ENOMEM, "blob writer: out of memory");
    }
    *out = w;
    return 0;
}

int reg_blob_writer_write(reg_blob_writer *w, const void *data, size_t len, sw_error **err)
{
    if (w->has_failed)
        return sw_error_set(err, SW_EIO, "writing %s: an earlier write failed", w->path);
    if (w->sink == NULL)
        return sw_error_set(err, SW_EINVAL, "writing %s: the file was adopted", w->path);
    int rc = reg_sink_write(w->sink, data, len, err);
    if (rc != 0) {
        w->has_failed = 1;
        return rc;
    }
    w->size += (int64_t)len;
    return 0;
}

int64_t reg_blob_writer_size(const reg_blob_writer *w)
{
    return w->size;
}

void reg_blob_writer_digest(const reg_blob_writer *w, char out[SW_DIGEST_MAX])
{
    /* The hash catches up with the bytes only once the sink is flushed;
     * flushing changes no byte the caller can see, hence the const. */
    reg_blob_writer *mutable = (reg_blob_writer *)w;
    if (mutable->sink && !mutable->has_failed && reg_sink_flush(mutable->sink, NULL) != 0)
        mutable->has_failed = 1;
    sw_hash_digest(w->hash, out);
}

int reg_blob_writer_finish(reg_blob_writer *w, const char *expected, char digest_out[SW_DIGEST_MAX],
                           sw_error **err)
{
    int rc = 0;
    if (expected && !reg_digest_valid(expected))
        return sw_error_set(err, REG_E_DIGEST_INVALID, "invalid digest '%s'", expected);
    if (w->has_failed)
        return sw_error_set(err, SW_EIO, "blob %s is incomplete: a write failed", w->path);
    if (w->sink && (rc = reg_sink_flush(w->sink, err)) != 0) {
        w->has_failed = 1;
        return rc;
    }
    /* data and size; the name becomes durable with the directory at publish */
    if (fdatasync(w->fd) != 0)
        return sw_error_sys(err, SW_EIO, errno, "fsync of %s", w->path);
    if (expected && reg_digest_algo(expected) != w->algo) {
        /* The one place a blob is read back: the client named another
         * algorithm than the one we hashed with while writing. */
        if ((rc = sw_hash_file(w->path, reg_digest_algo(expected), w->digest, err)) != 0)
            return rc;
    } else {
        sw_hash_digest(w->hash, w->digest);
    }
    if (expected && strcmp(expected, w->digest) != 0)
        return sw_error_set(err, REG_E_DIGEST_INVALID, "digest mismatch: the content is %s, not %s",
                            w->digest, expected);
    if (digest_out)
        memcpy(digest_out, w->digest, SW_DIGEST_MAX);
    return 0;
}

/* Creates blobs/<algo>/<2 hex>/ if needed, making the new entries durable. */
static int ensure_blob_dir(const char *blob_path, sw_error **err)
{
    char dir[SW_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", blob_path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    struct stat st;
    if (stat(dir, &st) == 0)
        return 0;
    int rc = sw_mkdir_mode(dir, 0700, err);
    if (rc != 0)
        return rc;
    /* fsync blobs/<algo> and blobs, parents of the new directories */
    for (int i = 0; i < 2 && rc == 0; i++) {
        slash = strrchr(dir, '/');
        *slash = '\0';
        rc = sw_fsync_dir(dir, err);
    }
    return rc;
}

int reg_blob_writer_publish(reg_blob_writer *w, sw_db *db, int64_t repo_id, sw_error **err)
{
    char target[SW_PATH_MAX], dir[SW_PATH_MAX];
    int rc = reg_blob_path_buf(w->store, w->digest, target, sizeof(target), err);
    if (rc != 0)
        return rc;
    if ((rc = ensure_blob_dir(target, err)) != 0)
        return rc;
    struct stat st;
    if (stat(target, &st) == 0 && st.st_size == w->size) {
        /* Same digest, same size, already there: content-addressed, keep it. */
        unlink(w->path);
    } else {
        if (rename(w->path, target) != 0)
            return sw_error_sys(err, SW_EIO, errno, "moving %s to %s", w->path, target);
        snprintf(dir, sizeof(dir), "%s", target);
        *strrchr(dir, '/') = '\0';
        if ((rc = sw_fsync_dir(dir, err)) != 0)
            return rc;
    }
    w->is_published = 1;
    int64_t now = reg_meta_now();
    if ((rc = reg_meta_blob_insert(db, w->digest, w->size, now, err)) != 0)
        return rc;
    if (repo_id > 0 && (rc = reg_meta_blob_link(db, repo_id, w->digest, now, err)) != 0)
        return rc;
    return 0;
}

void reg_blob_writer_free(reg_blob_writer *w)
{
    if (w == NULL)
        return;
    if (w->path && !w->is_published && !w->is_adopted)
        unlink(w->path);
    reg_sink_free(w->sink); /* before the hash its thread updates */
    if (w->fd >= 0) {
        /* close() drops the flock only with the last reference to the file;
         * an upload session's next PATCH must not find it still held */
        (void)flock(w->fd, LOCK_UN);
        close(w->fd);
    }
    sw_hash_free(w->hash);
    free(w->path);
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
