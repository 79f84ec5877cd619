/*
 * backend_fs.c - the filesystem blob backend: today's layout under the
 * data dir, so an existing installation needs no migration.
 *
 *   blobs/<algo>/<2 hex>/<hex>   a blob, renamed into place once verified
 *   tmp/blob-<random>            a put in progress (same filesystem),
 *                                flocked as registry/store.c's recovery
 *                                expects
 *   uploads/<uuid>               an upload session's bytes
 *   uploads/<uuid>.state         its state: offset and running hash state,
 *                                replaced atomically after every chunk
 *
 * The state file is the commit point of a chunk: bytes past its offset
 * (a chunk that failed or a crash mid-chunk) are cut off when the next
 * chunk begins. Everything that must survive a crash is fsynced before the
 * rename or state write that makes it count.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "registry/backend_impl.h"
#include "registry/sink.h"

#define FS_IO_BUF (256 * 1024)

struct fs_backend {
    struct reg_backend base;
    char *root;
    char *tmp_dir;
    char *uploads_dir;
    char boot[48];     /* "boot=<this boot's id>", "" when the kernel has none */
    int cached_writes; /* storage.direct_io: false */
};

struct fs_reader {
    struct reg_backend_reader base;
    int fd;
    int64_t offset; /* where the range starts in the file */
    int64_t pos;    /* next byte to read */
    int64_t end;    /* one past the range */
};

struct fs_writer {
    struct reg_backend_writer base;
    int fd;
    char *tmp_path;
    reg_sink *sink; /* made at the first write, once base.hash is set */
    int has_failed; /* a write failed: the content is incomplete */
    int is_flushed; /* every byte written, hashed and fdatasynced */
};

struct fs_chunk {
    struct reg_backend_chunk base;
    int fd;
    int64_t start; /* the session's size before this chunk */
    char *uuid;
    reg_sink *sink; /* made at the first write, once base.hash is set */
    int has_failed;
};

static struct fs_backend *fs_of(reg_backend *b)
{
    return (struct fs_backend *)b;
}

static char *path_of(const struct fs_backend *fs, const char *key)
{
    return sw_path_join(fs->root, key);
}

static char *upload_path(const struct fs_backend *fs, const char *uuid, const char *suffix)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s%s", fs->uploads_dir, uuid, suffix) < 0)
        return NULL;
    return path;
}

static void fs_close(reg_backend *b)
{
    struct fs_backend *fs = fs_of(b);
    free(fs->root);
    free(fs->tmp_dir);
    free(fs->uploads_dir);
    free(fs);
}

static int fs_stat(reg_backend *b, const char *key, int64_t *size, sw_error **err)
{
    char *path = path_of(fs_of(b), key);
    struct stat st;
    int rc = 0;
    if (path == NULL)
        return sw_error_oom(err);
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            rc = sw_error_set(err, REG_E_BLOB_UNKNOWN, "blob %s is not stored", key);
        else
            rc = sw_error_sys(err, SW_EIO, errno, "stat %s", path);
    } else if (size) {
        *size = (int64_t)st.st_size;
    }
    free(path);
    return rc;
}

static int fs_remove(reg_backend *b, const char *key, sw_error **err)
{
    char *path = path_of(fs_of(b), key);
    int rc = 0;
    if (path == NULL)
        return sw_error_oom(err);
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            rc = sw_error_set(err, REG_E_BLOB_UNKNOWN, "blob %s is not stored", key);
        else
            rc = sw_error_sys(err, SW_EIO, errno, "removing %s", path);
    }
    free(path);
    return rc;
}

/* Lists one directory's entries into fn(name, ctx); missing = empty. */
static int list_dir(const char *dir,
                    int (*fn)(const char *dir, const char *name, void *ctx, sw_error **err),
                    void *ctx, sw_error **err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    if (d == NULL)
        return errno == ENOENT ? 0 : sw_error_sys(err, SW_EIO, errno, "listing %s", dir);
    while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        rc = fn(dir, e->d_name, ctx, err);
    }
    if (rc == 0 && errno != 0)
        rc = sw_error_sys(err, SW_EIO, errno, "listing %s", dir);
    closedir(d);
    return rc;
}

struct walk_ctx {
    reg_backend_walk_fn fn;
    void *ctx;
    const char *algo;
};

static int walk_blob(const char *dir, const char *name, void *ctx, sw_error **err)
{
    struct walk_ctx *w = ctx;
    char key[512], digest[SW_DIGEST_MAX], path[1024];
    struct stat st;
    const char *shard = strrchr(dir, '/') + 1;
    snprintf(key, sizeof(key), "blobs/%s/%s/%s", w->algo, shard, name);
    if (reg_backend_key_digest(key, digest) != 0)
        return 0; /* not a blob: a stray file is not ours to report */
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : sw_error_sys(err, SW_EIO, errno, "stat %s", path);
    return w->fn(digest, (int64_t)st.st_size, (int64_t)st.st_mtime, w->ctx, err);
}

static int walk_shard(const char *dir, const char *name, void *ctx, sw_error **err)
{
    char path[1024];
    if (strlen(name) != 2)
        return 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return list_dir(path, walk_blob, ctx, err);
}

static int fs_walk(reg_backend *b, reg_backend_walk_fn fn, void *ctx, sw_error **err)
{
    static const char *const algos[] = { "sha256", "sha512" };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        struct walk_ctx w = { fn, ctx, algos[i] };
        char *dir = NULL;
        if (asprintf(&dir, "%s/blobs/%s", fs_of(b)->root, algos[i]) < 0)
            return sw_error_oom(err);
        rc = list_dir(dir, walk_shard, &w, err);
        free(dir);
    }
    return rc;
}

static int fs_reader_open(reg_backend *b, const char *key, int64_t size, int64_t offset,
                          int64_t length, reg_backend_reader **out, sw_error **err)
{
    char *path = path_of(fs_of(b), key);
    struct fs_reader *r = NULL;
    int rc = 0;
    (void)size;
    SW_CHECK_ALLOC(path, rc, err, cleanup);
    r = calloc(1, sizeof(*r));
    SW_CHECK_ALLOC(r, rc, err, cleanup);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = errno == ENOENT ? sw_error_set(err, REG_E_BLOB_UNKNOWN, "blob %s is not stored", key)
                             : sw_error_sys(err, SW_EIO, errno, "opening %s", path);
        free(r);
        r = NULL;
        goto cleanup;
    }
    r->offset = r->pos = offset;
    r->end = offset + length;
    *out = &r->base;
cleanup:
    free(path);
    return rc;
}

static int fs_read(reg_backend_reader *base, void *buf, size_t cap, size_t *got, sw_error **err)
{
    struct fs_reader *r = (struct fs_reader *)base;
    size_t want = cap;
    *got = 0;
    if ((int64_t)want > r->end - r->pos)
        want = (size_t)(r->end - r->pos);
    if (want == 0)
        return 0;
    ssize_t n;
    do
        n = pread(r->fd, buf, want, (off_t)r->pos);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sw_error_sys(err, SW_EIO, errno, "reading a blob");
    if (n == 0)
        return sw_error_set(err, SW_EIO, "blob shrank while being read");
    r->pos += n;
    *got = (size_t)n;
    return 0;
}

static int fs_reader_fd(reg_backend_reader *base, int *fd, int64_t *offset)
{
    struct fs_reader *r = (struct fs_reader *)base;
    *fd = r->fd;
    *offset = r->offset;
    return 0;
}

static void fs_reader_close(reg_backend_reader *base)
{
    struct fs_reader *r = (struct fs_reader *)base;
    close(r->fd);
    free(r);
}

static int fs_writer_new(reg_backend *b, reg_backend_writer **out, sw_error **err)
{
    struct fs_backend *fs = fs_of(b);
    struct fs_writer *w = calloc(1, sizeof(*w));
    int rc = 0;
    SW_CHECK_ALLOC(w, rc, err, fail);
    w->fd = -1;
    /* tmp/blob-<random>, flocked for its whole life: the store's crash
       recovery (registry/store.c) removes only unlocked ones. Recovery
       may lock and unlink the file between our create and our flock: a
       file with no links left is abandoned and another one made. */
    for (int attempt = 0; attempt < 5; attempt++) {
        struct stat st;
        free(w->tmp_path);
        if (asprintf(&w->tmp_path, "%s/blob-XXXXXX", fs->tmp_dir) < 0) {
            w->tmp_path = NULL;
            rc = sw_error_oom(err);
            goto fail;
        }
        w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
        if (w->fd < 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "creating %s", w->tmp_path);
            goto fail;
        }
        if (sw_flock(w->fd, LOCK_EX) != 0 || fstat(w->fd, &st) != 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "locking %s", w->tmp_path);
            goto fail;
        }
        if (st.st_nlink > 0) {
            *out = &w->base;
            return 0;
        }
        close(w->fd);
        w->fd = -1;
    }
    rc = sw_error_set(err, SW_EIO, "creating a temporary blob file in %s: removed under us",
                      fs->tmp_dir);
fail:
    if (w) {
        if (w->fd >= 0) {
            close(w->fd);
            unlink(w->tmp_path);
        }
        free(w->tmp_path);
    }
    free(w);
    return rc;
}

/* Bytes go through a sink (registry/sink.h): 1 MiB writes, sha256 on a
 * second thread, writeback started as the file grows, so the one
 * fdatasync at flush finds little left. */
static int fs_writer_write(reg_backend_writer *base, const void *data, size_t len, sw_error **err)
{
    struct fs_writer *w = (struct fs_writer *)base;
    int rc;
    if (w->has_failed || w->is_flushed)
        return sw_error_set(err, SW_EIO, "writing %s: %s", w->tmp_path,
                            w->has_failed ? "an earlier write failed" : "already flushed");
    if (w->sink == NULL) {
        if ((rc = reg_sink_new(w->fd, 0, w->base.hash, w->tmp_path, &w->sink, err)) != 0)
            return rc;
        if (!fs_of(w->base.b)->cached_writes)
            reg_sink_open_direct(w->sink, w->tmp_path);
        reg_sink_start_writeback(w->sink);
    }
    if ((rc = reg_sink_write(w->sink, data, len, err)) != 0)
        w->has_failed = 1;
    return rc;
}

static int fs_writer_flush(reg_backend_writer *base, sw_error **err)
{
    struct fs_writer *w = (struct fs_writer *)base;
    int rc = 0;
    if (w->is_flushed)
        return 0;
    if (w->has_failed)
        return sw_error_set(err, SW_EIO, "blob %s is incomplete: a write failed", w->tmp_path);
    if (w->sink && (rc = reg_sink_flush(w->sink, err)) != 0) {
        w->has_failed = 1;
        return rc;
    }
    /* data and size; the name becomes durable with the directory at publish */
    if (fdatasync(w->fd) != 0) {
        w->has_failed = 1;
        return sw_error_sys(err, SW_EIO, errno, "fsync of %s", w->tmp_path);
    }
    w->is_flushed = 1;
    return 0;
}

/* Renames a fully written, fsynced file into the blob's place. A blob of
 * the same digest already there holds the same bytes: rename over it is
 * harmless, and concurrent writers both succeed. */
static int publish_file(struct fs_backend *fs, const char *from, const char *key, sw_error **err)
{
    char *path = path_of(fs, key);
    char *dir = NULL;
    int rc = 0;
    SW_CHECK_ALLOC(path, rc, err, cleanup);
    dir = strdup(path);
    SW_CHECK_ALLOC(dir, rc, err, cleanup);
    *strrchr(dir, '/') = '\0';
    struct stat have, ours;
    if (stat(path, &have) == 0 && stat(from, &ours) == 0 && have.st_size == ours.st_size) {
        /* the same digest and size are in place already (a re-push):
         * content-addressed, so ours is dropped and nothing moves */
        unlink(from);
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(dir, 0700, err)) != 0)
        goto cleanup;
    if (rename(from, path) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "renaming %s to %s", from, path);
        goto cleanup;
    }
    rc = sw_fsync_dir(dir, err);
cleanup:
    free(path);
    free(dir);
    return rc;
}

static int fs_writer_publish(reg_backend_writer *base, const char *key, sw_error **err)
{
    struct fs_writer *w = (struct fs_writer *)base;
    int rc = fs_writer_flush(base, err); /* done already by the digest check */
    if (rc != 0)
        return rc;
    rc = publish_file(fs_of(w->base.b), w->tmp_path, key, err);
    if (rc == 0) {
        free(w->tmp_path);
        w->tmp_path = NULL; /* nothing left to remove */
    }
    return rc;
}

static void fs_writer_free(reg_backend_writer *base)
{
    struct fs_writer *w = (struct fs_writer *)base;
    reg_sink_free(w->sink); /* stops its thread before the fd and hash go */
    /* close() drops the flock only with the last reference to the file */
    (void)flock(w->fd, LOCK_UN);
    close(w->fd);
    if (w->tmp_path)
        unlink(w->tmp_path);
    free(w->tmp_path);
    free(w);
}

/* ---- upload sessions ---- */

/* Replaces uploads/<uuid>.state: written (and synced when asked) under a
 * temporary name, then renamed over the old one. The directory is not
 * synced: a rename lost in a crash leaves an older state, whose offset the
 * next chunk truncates the bytes back to (the client resends them). */
static int write_state(struct fs_backend *fs, const char *uuid, const char *state, int sync,
                       sw_error **err)
{
    char *path = upload_path(fs, uuid, ".state"), *tmp = upload_path(fs, uuid, ".state-new");
    int rc = 0, fd = -1;
    SW_CHECK_ALLOC(path, rc, err, cleanup);
    SW_CHECK_ALLOC(tmp, rc, err, cleanup);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", tmp);
        goto cleanup;
    }
    if ((rc = sw_write_all(fd, state, strlen(state), err)) != 0)
        goto cleanup;
    if (sync && fdatasync(fd) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "fsync of %s", tmp);
        goto cleanup;
    }
    if (rename(tmp, path) != 0)
        rc = sw_error_sys(err, SW_EIO, errno, "renaming %s", tmp);
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp)
        unlink(tmp);
    free(path);
    free(tmp);
    return rc;
}

static int fs_upload_create(reg_backend *b, const char *uuid, const char *state, sw_error **err)
{
    struct fs_backend *fs = fs_of(b);
    char *path = upload_path(fs, uuid, "");
    int rc = 0, fd = -1;
    SW_CHECK_ALLOC(path, rc, err, cleanup);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno == EEXIST ? sw_error_set(err, SW_EEXIST, "upload %s exists already", uuid)
                             : sw_error_sys(err, SW_EIO, errno, "creating %s", path);
        goto cleanup;
    }
    if ((rc = write_state(fs, uuid, state, fs->boot[0] == '\0', err)) != 0)
        unlink(path);
cleanup:
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

static int read_state(struct fs_backend *fs, const char *uuid, char **state, sw_error **err)
{
    char *path = upload_path(fs, uuid, ".state");
    size_t len;
    int rc;
    if (path == NULL)
        return sw_error_oom(err);
    if (access(path, F_OK) != 0 && errno == ENOENT)
        rc = sw_error_set(err, REG_E_BLOB_UPLOAD_UNKNOWN, "upload %s is not known", uuid);
    else
        rc = sw_read_file(path, 64 * 1024, state, &len, err);
    free(path);
    return rc;
}

/* Chunks are not fsynced one by one (issue 14: a PATCH costs its bytes,
 * not a journal commit); their state names the boot it was written in.
 * Until the machine restarts the page cache holds what the state says, a
 * killed process loses nothing. A state from another boot (or one a crash
 * garbled) is not trusted: the bytes on disk are the truth, hashed once
 * again, as before there were state files. 1: state must be rebuilt. */
static int state_is_stale(const struct fs_backend *fs, const char *state)
{
    int64_t offset = 0;
    struct reg_hashstate *h = NULL;
    char *ds = NULL;
    if (fs->boot[0] == '\0')
        return 0; /* every chunk was fsynced (fs_chunk_end) */
    if (reg_backend_state_parse(state, &offset, &h, &ds, NULL) != 0)
        return 1;
    int stale = offset > 0 && strstr(ds, fs->boot) == NULL;
    reg_hashstate_free(h);
    free(ds);
    return stale;
}

/* Rebuilds a stale state from the session's bytes, holding its lock. */
static int recover_state(struct fs_backend *fs, const char *uuid, char **state, sw_error **err)
{
    char *path = upload_path(fs, uuid, ""), *fresh = NULL, *buf = NULL;
    struct reg_hashstate *h = NULL;
    char *ds = NULL;
    int64_t offset = -1, done = 0;
    struct stat st;
    int rc = 0, fd = -1;
    SW_CHECK_ALLOC(path, rc, err, cleanup);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT
                 ? sw_error_set(err, REG_E_BLOB_UPLOAD_UNKNOWN, "upload %s is not known", uuid)
                 : sw_error_sys(err, SW_EIO, errno, "opening %s", path);
        goto cleanup;
    }
    if (sw_flock(fd, LOCK_EX) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "locking %s", path);
        goto cleanup;
    }
    /* another process may have rebuilt it while we waited */
    if ((rc = read_state(fs, uuid, &fresh, err)) != 0)
        goto cleanup;
    if (!state_is_stale(fs, fresh))
        goto done;
    if (reg_backend_state_parse(fresh, &offset, &h, &ds, NULL) == 0)
        reg_hashstate_free(h);
    h = NULL;
    free(fresh);
    fresh = NULL;
    if (fstat(fd, &st) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "stat %s", path);
        goto cleanup;
    }
    if (offset < 0 || offset > (int64_t)st.st_size)
        offset = (int64_t)st.st_size;
    h = reg_hashstate_new();
    buf = malloc(FS_IO_BUF);
    if (h == NULL || buf == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    while (done < offset) {
        size_t want = offset - done < FS_IO_BUF ? (size_t)(offset - done) : FS_IO_BUF;
        ssize_t n = pread(fd, buf, want, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = sw_error_sys(err, SW_EIO, n < 0 ? errno : EIO, "reading %s", path);
            goto cleanup;
        }
        reg_hashstate_update(h, buf, (size_t)n);
        done += n;
    }
    if (ftruncate(fd, (off_t)offset) != 0 || fdatasync(fd) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "upload %s: recovering %s", uuid, path);
        goto cleanup;
    }
    if ((fresh = reg_backend_state_format(offset, h, fs->boot)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = write_state(fs, uuid, fresh, 1, err)) != 0)
        goto cleanup;
done:
    *state = fresh;
    fresh = NULL;
cleanup:
    if (fd >= 0) {
        (void)flock(fd, LOCK_UN);
        close(fd);
    }
    reg_hashstate_free(h);
    free(ds);
    free(buf);
    free(fresh);
    free(path);
    return rc;
}

static int fs_upload_state(reg_backend *b, const char *uuid, char **state, sw_error **err)
{
    struct fs_backend *fs = fs_of(b);
    int rc = read_state(fs, uuid, state, err);
    if (rc != 0 || !state_is_stale(fs, *state))
        return rc;
    free(*state);
    *state = NULL;
    return recover_state(fs, uuid, state, err);
}

static int fs_chunk_begin(reg_backend *b, const char *uuid, int64_t expected_offset,
                          const char *driver_state, reg_backend_chunk **out, sw_error **err)
{
    struct fs_backend *fs = fs_of(b);
    struct fs_chunk *c = calloc(1, sizeof(*c));
    char *path = upload_path(fs, uuid, "");
    int64_t offset = 0;
    struct reg_hashstate *h = NULL;
    char *state = NULL, *ds = NULL;
    int rc = 0;
    (void)driver_state;
    SW_CHECK_ALLOC(c, rc, err, fail);
    SW_CHECK_ALLOC(path, rc, err, fail);
    c->fd = -1;
    c->uuid = strdup(uuid);
    SW_CHECK_ALLOC(c->uuid, rc, err, fail);
    c->fd = open(path, O_WRONLY | O_CLOEXEC);
    if (c->fd < 0) {
        rc = errno == ENOENT
                 ? sw_error_set(err, REG_E_BLOB_UPLOAD_UNKNOWN, "upload %s is not known", uuid)
                 : sw_error_sys(err, SW_EIO, errno, "opening %s", path);
        goto fail;
    }
    /* one chunk at a time, across processes too; the lock goes with the fd */
    if (sw_flock(c->fd, LOCK_EX | LOCK_NB) != 0) {
        rc = sw_error_set(err, REG_E_RANGE_INVALID, "upload %s: another chunk is being written",
                          uuid);
        goto fail;
    }
    /* under the lock, the state is current: a chunk committed since
       backend.c read it makes this one's start wrong */
    if ((rc = read_state(fs, uuid, &state, err)) != 0)
        goto fail;
    if (state_is_stale(fs, state)) { /* a restart since backend.c looked */
        rc =
            sw_error_set(err, REG_E_RANGE_INVALID, "upload %s: state changed, read it again", uuid);
        goto fail;
    }
    if ((rc = reg_backend_state_parse(state, &offset, &h, &ds, err)) != 0)
        goto fail;
    if (offset != expected_offset) {
        rc = sw_error_set(err, REG_E_RANGE_INVALID,
                          "upload %s: it has %" PRId64 " bytes now, not %" PRId64, uuid, offset,
                          expected_offset);
        goto fail;
    }
    /* bytes past the committed offset are from a chunk that never
       finished (a crash): cut them off */
    if (ftruncate(c->fd, (off_t)offset) != 0 || lseek(c->fd, (off_t)offset, SEEK_SET) < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "positioning %s", path);
        goto fail;
    }
    c->start = offset;
    *out = &c->base;
    free(path);
    free(state);
    free(ds);
    reg_hashstate_free(h);
    return 0;
fail:
    if (c) {
        if (c->fd >= 0) {
            (void)flock(c->fd, LOCK_UN); /* see fs_chunk_free */
            close(c->fd);
        }
        free(c->uuid);
    }
    free(c);
    free(path);
    free(state);
    free(ds);
    reg_hashstate_free(h);
    return rc;
}

static void update_hashstate(void *hash, const void *data, size_t len)
{
    reg_hashstate_update(hash, data, len);
}

/* A chunk's bytes go through a sink as a whole blob's do: 1 MiB writes,
 * hashed into the session's resumable state on a second thread. */
static int fs_chunk_write(reg_backend_chunk *base, const void *data, size_t len, sw_error **err)
{
    struct fs_chunk *c = (struct fs_chunk *)base;
    int rc;
    if (c->has_failed)
        return sw_error_set(err, SW_EIO, "upload %s: an earlier write failed", c->uuid);
    if (c->sink == NULL) {
        if ((rc = reg_sink_new_fn(c->fd, c->start, update_hashstate, c->base.hash, c->uuid,
                                  &c->sink, err)) != 0)
            return rc;
        struct fs_backend *fs = fs_of(c->base.b);
        char *path = fs->cached_writes ? NULL : upload_path(fs, c->uuid, "");
        if (path)
            reg_sink_open_direct(c->sink, path);
        free(path);
    }
    if ((rc = reg_sink_write(c->sink, data, len, err)) != 0) {
        c->has_failed = 1;
        sw_error_prefix(err, "upload %s", c->uuid);
    }
    return rc;
}

static int fs_chunk_end(reg_backend_chunk *base, sw_error **err)
{
    struct fs_chunk *c = (struct fs_chunk *)base;
    char *state = NULL;
    int rc;
    if (c->has_failed)
        return sw_error_set(err, SW_EIO, "upload %s: the chunk was not stored", c->uuid);
    if (c->sink && (rc = reg_sink_flush(c->sink, err)) != 0) {
        c->has_failed = 1;
        return rc;
    }
    struct fs_backend *fs = fs_of(c->base.b);
    /* Within one boot the page cache holds the bytes the state names; the
     * state says which boot, so after a restart it is rebuilt from the
     * bytes on disk (state_is_stale). Without a boot id, every chunk is
     * made durable before its state. */
    if (fs->boot[0] == '\0' && fdatasync(c->fd) != 0)
        return sw_error_sys(err, SW_EIO, errno, "upload %s: fsync", c->uuid);
    state = reg_backend_state_format(c->base.offset, c->base.hash, fs->boot);
    if (state == NULL)
        return sw_error_oom(err);
    rc = write_state(fs, c->uuid, state, fs->boot[0] == '\0', err);
    if (rc == 0)
        c->start = c->base.offset; /* committed: free must not cut it */
    free(state);
    return rc;
}

static void fs_chunk_free(reg_backend_chunk *base)
{
    struct fs_chunk *c = (struct fs_chunk *)base;
    reg_sink_free(c->sink); /* stops its thread before the fd and hash go */
    /* an aborted chunk's bytes go; the state never counted them */
    if (ftruncate(c->fd, (off_t)c->start) != 0) {
        /* the next chunk cuts them off anyway */
    }
    /* Unlock explicitly: close() drops the flock only when the last
     * reference to the open file goes, and anything holding one for a
     * moment (a child between fork and exec, a reader of
     * /proc/<pid>/fdinfo) would make the client's next PATCH fail with 416. */
    (void)flock(c->fd, LOCK_UN);
    close(c->fd);
    free(c->uuid);
    free(c);
}

static int fs_upload_cancel(reg_backend *b, const char *uuid, sw_error **err)
{
    struct fs_backend *fs = fs_of(b);
    char *data = upload_path(fs, uuid, ""), *state = upload_path(fs, uuid, ".state");
    int rc = 0;
    SW_CHECK_ALLOC(data, rc, err, cleanup);
    SW_CHECK_ALLOC(state, rc, err, cleanup);
    if (unlink(state) != 0) {
        rc = errno == ENOENT
                 ? sw_error_set(err, REG_E_BLOB_UPLOAD_UNKNOWN, "upload %s is not known", uuid)
                 : sw_error_sys(err, SW_EIO, errno, "removing %s", state);
        goto cleanup;
    }
    if (unlink(data) != 0 && errno != ENOENT)
        rc = sw_error_sys(err, SW_EIO, errno, "removing %s", data);
    char *leftover = upload_path(fs, uuid, ".state-new"); /* a crash mid-write_state */
    if (leftover)
        unlink(leftover);
    free(leftover);
cleanup:
    free(data);
    free(state);
    return rc;
}

static int fs_upload_publish(reg_backend *b, const char *uuid, const char *state,
                             const char *rehash_digest, const char *key, sw_error **err)
{
    struct fs_backend *fs = fs_of(b);
    char *data = upload_path(fs, uuid, ""), *state_path = upload_path(fs, uuid, ".state");
    int64_t offset = 0;
    struct reg_hashstate *h = NULL;
    char *ds = NULL;
    int rc = 0, fd = -1;
    SW_CHECK_ALLOC(data, rc, err, cleanup);
    SW_CHECK_ALLOC(state_path, rc, err, cleanup);
    if ((rc = reg_backend_state_parse(state, &offset, &h, &ds, err)) != 0)
        goto cleanup;
    fd = open(data, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)offset) != 0 || fsync(fd) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "upload %s: preparing %s", uuid, data);
        goto cleanup;
    }
    if (rehash_digest) {
        char computed[SW_DIGEST_MAX];
        if ((rc = sw_hash_file(data, SW_HASH_SHA512, computed, err)) != 0)
            goto cleanup;
        if (strcmp(computed, rehash_digest) != 0) {
            rc = sw_error_set(err, REG_E_DIGEST_INVALID,
                              "upload %s: content does not match digest %s", uuid, rehash_digest);
            goto cleanup;
        }
    }
    if ((rc = publish_file(fs, data, key, err)) != 0)
        goto cleanup;
    unlink(state_path);
cleanup:
    if (fd >= 0)
        close(fd);
    free(data);
    free(state_path);
    free(ds);
    reg_hashstate_free(h);
    return rc;
}

struct upload_walk_ctx {
    reg_backend_upload_walk_fn fn;
    void *ctx;
};

static int walk_upload(const char *dir, const char *name, void *ctx, sw_error **err)
{
    struct upload_walk_ctx *w = ctx;
    size_t n = strlen(name);
    char path[1024], uuid[128];
    struct stat st;
    if (n <= 6 || n - 6 >= sizeof(uuid) || strcmp(name + n - 6, ".state") != 0)
        return 0;
    memcpy(uuid, name, n - 6);
    uuid[n - 6] = '\0';
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : sw_error_sys(err, SW_EIO, errno, "stat %s", path);
    return w->fn(uuid, (int64_t)st.st_mtime, w->ctx, err);
}

static int fs_upload_walk(reg_backend *b, reg_backend_upload_walk_fn fn, void *ctx, sw_error **err)
{
    struct upload_walk_ctx w = { fn, ctx };
    return list_dir(fs_of(b)->uploads_dir, walk_upload, &w, err);
}

/* ---- crash recovery at open ---- */

/* "trash-<algo>-<hex>-<pid>" (what GC of earlier versions moved a blob
 * to before its row went) -> "blobs/<algo>/<2>/<hex>"; NULL otherwise. */
static char *trash_key(const char *name)
{
    char digest[SW_DIGEST_MAX];
    const char *algo = name + strlen("trash-");
    const char *dash = strchr(algo, '-');
    const char *end = dash ? strchr(dash + 1, '-') : NULL;
    if (end == NULL || snprintf(digest, sizeof(digest), "%.*s:%.*s", (int)(dash - algo), algo,
                                (int)(end - dash - 1), dash + 1) >= (int)sizeof(digest))
        return NULL;
    return reg_backend_blob_key(digest);
}

/* tmp/ of a process that died: every writer keeps an exclusive flock on
 * its temporary file while it lives, so one we can lock is a leftover.
 * blob-* (a put that never finished) goes; trash-* is put back where it
 * was unless the blob is there again (without a row it is an orphan GC
 * removes, which is safer than losing a blob whose row survived). Other
 * processes (a running server, the builder's scratch dirs) share tmp/,
 * hence by lock and by name, never wholesale. */
static int recover_entry(const char *dir, const char *name, void *ctx, sw_error **err)
{
    struct fs_backend *fs = ctx;
    int is_temp = strncmp(name, "blob-", 5) == 0;
    int is_trash = strncmp(name, "trash-", 6) == 0;
    char *path = NULL, *key = NULL, *target = NULL;
    (void)err;
    if (!is_temp && !is_trash)
        return 0;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return sw_error_oom(err);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        if (is_trash && (key = trash_key(name)) != NULL && (target = path_of(fs, key)) != NULL &&
            !sw_path_exists(target)) {
            char *parent = strdup(target);
            if (parent)
                *strrchr(parent, '/') = '\0';
            if (parent == NULL || sw_mkdir_p(parent, 0700, NULL) != 0 || rename(path, target) != 0)
                unlink(path);
            free(parent);
        } else {
            unlink(path);
        }
    }
    if (fd >= 0)
        close(fd);
    free(path);
    free(key);
    free(target);
    return 0;
}

static const struct reg_backend_ops fs_ops = {
    .name = "filesystem",
    .close = fs_close,
    .stat = fs_stat,
    .remove = fs_remove,
    .walk = fs_walk,
    .reader_open = fs_reader_open,
    .read = fs_read,
    .reader_fd = fs_reader_fd,
    .reader_close = fs_reader_close,
    .redirect_url = NULL,
    .writer_new = fs_writer_new,
    .writer_hashes = 1,
    .writer_flush = fs_writer_flush,
    .writer_write = fs_writer_write,
    .writer_publish = fs_writer_publish,
    .writer_free = fs_writer_free,
    .upload_create = fs_upload_create,
    .upload_state = fs_upload_state,
    .chunk_begin = fs_chunk_begin,
    .chunk_write = fs_chunk_write,
    .chunk_hashes = 1,
    .chunk_end = fs_chunk_end,
    .chunk_free = fs_chunk_free,
    .upload_publish = fs_upload_publish,
    .upload_cancel = fs_upload_cancel,
    .upload_walk = fs_upload_walk,
};

int reg_backend_fs_open(const struct reg_backend_config *cfg, reg_backend **out, sw_error **err)
{
    struct fs_backend *fs = NULL;
    int rc = 0;
    if (cfg->root == NULL || cfg->root[0] == '\0')
        return sw_error_set(err, SW_EINVAL, "filesystem storage: no data directory");
    fs = calloc(1, sizeof(*fs));
    SW_CHECK_ALLOC(fs, rc, err, fail);
    fs->base.ops = &fs_ops;
    fs->cached_writes = cfg->cached_writes;
    fs->root = strdup(cfg->root);
    fs->tmp_dir = sw_path_join(cfg->root, "tmp");
    fs->uploads_dir = sw_path_join(cfg->root, "uploads");
    if (!fs->root || !fs->tmp_dir || !fs->uploads_dir) {
        rc = sw_error_oom(err);
        goto fail;
    }
    char *blobs = sw_path_join(cfg->root, "blobs");
    SW_CHECK_ALLOC(blobs, rc, err, fail);
    rc = sw_mkdir_mode(blobs, 0700, err);
    free(blobs);
    if (rc != 0 || (rc = sw_mkdir_mode(fs->tmp_dir, 0700, err)) != 0 ||
        (rc = sw_mkdir_mode(fs->uploads_dir, 0700, err)) != 0)
        goto fail;
    {
        char id[40];
        if (sw_boot_id(id, sizeof(id)))
            snprintf(fs->boot, sizeof(fs->boot), "boot=%s", id);
    }
    if ((rc = list_dir(fs->tmp_dir, recover_entry, fs, err)) != 0) {
        sw_error_prefix(err, "recovering %s", fs->tmp_dir);
        goto fail;
    }
    *out = &fs->base;
    return 0;
fail:
    if (fs)
        fs_close(&fs->base);
    return rc;
}
