/*
 * store.c - the registry store: data directory layout, per-thread SQLite
 * connections and crash recovery at open.
 *
 * Connections: SQLite handles must not be used by two threads at once, so
 * every thread gets its own, created on first use and kept in a pthread
 * key; the store also keeps a list of them so reg_store_close can close
 * connections of threads that are still alive (a thread pool).
 *
 * Crash recovery: writers keep an exclusive flock on their temporary file
 * in tmp/ for as long as they live, and so does GC on a blob it moves to
 * the trash. A file we can lock is therefore a leftover of a dead process:
 * writer temporaries are removed, trash is put back when its blob row
 * still exists (the removal never committed) and removed otherwise. Other
 * processes (a running server, a worker) may share the data dir, which is
 * why recovery goes by lock and never wipes tmp/ wholesale (the builder
 * keeps its own scratch directories there too).
 */
#include "registry/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/config.h"
#include "core/db.h"
#include "core/fs.h"
#include "core/log.h"
#include "registry/meta.h"
#include "registry/names.h"

struct store_conn {
    reg_store *store;
    sw_db *db;
    struct store_conn *next;
};

struct reg_store {
    char *data_dir;
    char *db_path;
    char *tmp_dir;
    char *uploads_dir;
    struct reg_options opts;
    pthread_key_t conn_key;
    pthread_mutex_t lock; /* guards conns */
    struct store_conn *conns;
    struct reg_upload_table *uploads;
    reg_backend *backend;
};

#define DEFAULT_MAX_MANIFEST_SIZE (4 * 1024 * 1024)

/* Unlinks conn from its store's list; the caller holds the lock. */
static void conn_unlink_locked(struct store_conn *conn)
{
    for (struct store_conn **p = &conn->store->conns; *p; p = &(*p)->next) {
        if (*p == conn) {
            *p = conn->next;
            return;
        }
    }
}

/* pthread key destructor: the thread is exiting. */
static void conn_release(void *value)
{
    struct store_conn *conn = value;
    pthread_mutex_lock(&conn->store->lock);
    conn_unlink_locked(conn);
    pthread_mutex_unlock(&conn->store->lock);
    sw_db_close(conn->db);
    free(conn);
}

int reg_store_db(reg_store *store, sw_db **db, sw_error **err)
{
    struct store_conn *conn = pthread_getspecific(store->conn_key);
    if (conn) {
        *db = conn->db;
        return 0;
    }
    conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return sw_error_set(err, SW_ENOMEM, "opening %s: out of memory", store->db_path);
    conn->store = store;
    int rc = sw_db_open(store->db_path, 0, &conn->db, err);
    if (rc != 0) {
        free(conn);
        return rc;
    }
    pthread_mutex_lock(&store->lock);
    conn->next = store->conns;
    store->conns = conn;
    pthread_mutex_unlock(&store->lock);
    if (pthread_setspecific(store->conn_key, conn) != 0) {
        pthread_mutex_lock(&store->lock);
        conn_unlink_locked(conn);
        pthread_mutex_unlock(&store->lock);
        sw_db_close(conn->db);
        free(conn);
        return sw_error_set(err, SW_ENOMEM, "opening %s: no thread-local slot", store->db_path);
    }
    *db = conn->db;
    return 0;
}

const char *reg_store_data_dir(const reg_store *store)
{
    return store->data_dir;
}

const struct reg_options *reg_store_options(const reg_store *store)
{
    return &store->opts;
}

reg_backend *reg_store_backend(const reg_store *store)
{
    return store->backend;
}

void reg_options_from_config(const struct sw_config *cfg, struct reg_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->delete_enabled = cfg->delete_enabled;
    opts->max_manifest_size = cfg->max_manifest_size;
    opts->reserve_bytes = cfg->storage_reserve;
    opts->storage_driver = cfg->storage_driver;
    opts->database = cfg->database;
    reg_backend_config_from(cfg, &opts->backend);
}

int reg_store_check_space(const reg_store *store, sw_error **err)
{
    struct statvfs vfs;
    if (store->opts.reserve_bytes <= 0 || statvfs(store->data_dir, &vfs) != 0)
        return 0;
    uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    if (avail >= (uint64_t)store->opts.reserve_bytes)
        return 0;
    return sw_error_set(err, SW_ENOSPACE,
                        "storage is full: %llu bytes free on %s, below storage.reserve (%lld "
                        "bytes); delete images and run slipway gc",
                        (unsigned long long)avail, store->data_dir,
                        (long long)store->opts.reserve_bytes);
}

const char *reg_store_tmp_dir(const reg_store *store)
{
    return store->tmp_dir;
}

const char *reg_store_uploads_dir(const reg_store *store)
{
    return store->uploads_dir;
}

struct reg_upload_table *reg_store_upload_table(reg_store *store)
{
    return store->uploads;
}

int reg_store_trash_path(const reg_store *store, const char *digest, char *buf, size_t size)
{
    const char *colon = strchr(digest, ':');
    if (colon == NULL)
        return -1;
    int n = snprintf(buf, size, "%s/trash-%.*s-%s-%ld", store->tmp_dir, (int)(colon - digest),
                     digest, colon + 1, (long)getpid());
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* "trash-<algo>-<hex>-<pid>" -> "<algo>:<hex>"; 0 if the name does not
 * parse into a valid digest (the inverse of reg_store_trash_path). */
static int trash_name_digest(const char *name, char digest[SW_DIGEST_MAX])
{
    const char *algo = name + strlen("trash-");
    const char *dash = strchr(algo, '-');
    if (dash == NULL)
        return 0;
    const char *hex = dash + 1;
    const char *end = strchr(hex, '-');
    if (end == NULL)
        return 0;
    if (snprintf(digest, SW_DIGEST_MAX, "%.*s:%.*s", (int)(dash - algo), algo, (int)(end - hex),
                 hex) >= SW_DIGEST_MAX)
        return 0;
    return reg_digest_valid(digest);
}

/* Puts a trashed blob back if its row survived, else removes it. */
static int recover_trash(reg_store *store, sw_db *db, const char *path, const char *name,
                         sw_error **err)
{
    char digest[SW_DIGEST_MAX], target[SW_PATH_MAX];
    int64_t size = 0;
    if (!trash_name_digest(name, digest)) {
        unlink(path);
        return 0;
    }
    int rc = reg_meta_blob_size(db, digest, &size, err);
    if (rc == REG_E_BLOB_UNKNOWN) {
        sw_error_clear(err);
        unlink(path);
        return 0;
    }
    if (rc != 0)
        return rc;
    if ((rc = reg_blob_path_buf(store, digest, target, sizeof(target), err)) != 0)
        return rc;
    if (sw_path_exists(target)) {
        unlink(path);
        return 0;
    }
    sw_warn("restoring blob %s from the trash of an interrupted garbage collection", digest);
    if (rename(path, target) != 0)
        return sw_error_sys(err, SW_EIO, errno, "restoring %s to %s", path, target);
    return 0;
}

static int recover_tmp(reg_store *store, sw_db *db, sw_error **err)
{
    int rc = 0;
    DIR *dir = opendir(store->tmp_dir);
    if (dir == NULL)
        return sw_error_sys(err, SW_EIO, errno, "reading %s", store->tmp_dir);
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        int is_temp = strncmp(de->d_name, "blob-", 5) == 0;
        int is_trash = strncmp(de->d_name, "trash-", 6) == 0;
        if (!is_temp && !is_trash)
            continue;
        char *path = sw_path_join(store->tmp_dir, de->d_name);
        if (path == NULL) {
            rc = sw_error_oom(err);
            break;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        /* Still locked: a live writer or collector in some process owns it. */
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (is_temp)
                unlink(path);
            else
                rc = recover_trash(store, db, path, de->d_name, err);
        }
        if (fd >= 0)
            close(fd);
        free(path);
    }
    closedir(dir);
    return rc;
}

int reg_store_open(const char *data_dir, const struct reg_options *opts, reg_store **out,
                   sw_error **err)
{
    int rc = 0;
    sw_db *db = NULL;
    char *blobs_dir = NULL;
    /* The S3 driver (registry/backend_s3.c) passes its conformance suite,
     * but the registry, GC and builder do not go through the backend yet:
     * an s3 config must not quietly keep blobs on the local disk. */
    if (opts && opts->storage_driver && strcmp(opts->storage_driver, "filesystem") != 0)
        return sw_error_set(err, SW_EUNSUPPORTED,
                            "storage.driver: %s: the registry does not store blobs through this "
                            "driver yet (only \"filesystem\"); remove the key or set it to "
                            "filesystem",
                            opts->storage_driver);
    reg_store *store = calloc(1, sizeof(*store));
    if (store == NULL)
        return sw_error_set(err, SW_ENOMEM, "opening store %s: out of memory", data_dir);
    int have_key = 0, have_lock = 0;
    if (opts)
        store->opts = *opts;
    if (store->opts.max_manifest_size <= 0)
        store->opts.max_manifest_size = DEFAULT_MAX_MANIFEST_SIZE;
    store->data_dir = strdup(data_dir);
    store->db_path =
        store->opts.database ? strdup(store->opts.database) : sw_path_join(data_dir, "slipway.db");
    store->tmp_dir = sw_path_join(data_dir, "tmp");
    store->uploads_dir = sw_path_join(data_dir, "uploads");
    blobs_dir = sw_path_join(data_dir, "blobs");
    store->uploads = reg_upload_table_new();
    if (!store->data_dir || !store->db_path || !store->tmp_dir || !store->uploads_dir ||
        !blobs_dir || !store->uploads) {
        rc = sw_error_set(err, SW_ENOMEM, "opening store %s: out of memory", data_dir);
        goto cleanup;
    }
    if (pthread_key_create(&store->conn_key, conn_release) != 0) {
        rc = sw_error_set(err, SW_ENOMEM, "opening store %s: no thread-local keys", data_dir);
        goto cleanup;
    }
    have_key = 1;
    pthread_mutex_init(&store->lock, NULL);
    have_lock = 1;
    /* the data dir holds private images, build logs and the database:
     * only the service's user may enter it (docs/storage.md, modes);
     * the modes are set explicitly, also on a data dir made before */
    if ((rc = sw_mkdir_mode(data_dir, 0700, err)) != 0 ||
        (rc = sw_mkdir_mode(blobs_dir, 0700, err)) != 0 ||
        (rc = sw_mkdir_mode(store->uploads_dir, 0700, err)) != 0 ||
        (rc = sw_mkdir_mode(store->tmp_dir, 0700, err)) != 0)
        goto cleanup;
    {
        struct reg_backend_config bc = store->opts.backend;
        if (bc.driver == REG_BACKEND_FILESYSTEM)
            bc.root = store->data_dir;
        if ((rc = reg_backend_open(&bc, &store->backend, err)) != 0)
            goto cleanup;
        memset(&store->opts.backend, 0, sizeof(store->opts.backend)); /* borrowed strings */
        store->opts.backend.driver = bc.driver;
    }
    if ((rc = sw_db_open(store->db_path, 1, &db, err)) != 0)
        goto cleanup;
    if ((rc = recover_tmp(store, db, err)) != 0) {
        sw_error_prefix(err, "recovering %s", store->tmp_dir);
        goto cleanup;
    }
    *out = store;
    store = NULL;
cleanup:
    sw_db_close(db);
    free(blobs_dir);
    if (store) {
        if (have_key)
            pthread_key_delete(store->conn_key);
        if (have_lock)
            pthread_mutex_destroy(&store->lock);
        reg_upload_table_free(store->uploads);
        reg_backend_close(store->backend);
        free(store->data_dir);
        free(store->db_path);
        free(store->tmp_dir);
        free(store->uploads_dir);
        free(store);
        sw_error_prefix(err, "opening store %s", data_dir);
    }
    return rc;
}

void reg_store_close(reg_store *store)
{
    if (store == NULL)
        return;
    /* Deleting the key first means no destructor runs for these
     * connections later; we close them all here. */
    pthread_key_delete(store->conn_key);
    pthread_mutex_lock(&store->lock);
    struct store_conn *conn = store->conns;
    store->conns = NULL;
    pthread_mutex_unlock(&store->lock);
    while (conn) {
        struct store_conn *next = conn->next;
        sw_db_close(conn->db);
        free(conn);
        conn = next;
    }
    pthread_mutex_destroy(&store->lock);
    reg_upload_table_free(store->uploads);
    reg_backend_close(store->backend);
    free(store->data_dir);
    free(store->db_path);
    free(store->tmp_dir);
    free(store->uploads_dir);
    free(store);
}
