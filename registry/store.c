/*
 * store.c - the registry store: data directory layout, per-thread SQLite
 * connections and crash recovery at open.
 *
 * Connections: SQLite handles must not be used by two threads at once, so
 * every thread gets its own, created on first use and kept in a pthread
 * key; the store also keeps a list of them so reg_store_close can close
 * connections of threads that are still alive (a thread pool).
 *
 * Blob bytes and upload sessions live in the blob backend
 * (registry/backend.h), opened here from the config: the filesystem
 * driver keeps today's tree under the data dir and recovers its own
 * leftovers at open; the S3 driver keeps them in a bucket. The data dir
 * itself stays: the SQLite database, the builder's scratch (tmp/) and
 * layer cache.
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
    struct reg_options opts;
    pthread_key_t conn_key;
    pthread_mutex_t lock; /* guards conns */
    struct store_conn *conns;
    struct reg_upload_table *uploads;
    reg_backend *backend;
    /* the connection the store was opened (and migrated) with, when the
     * opening thread could not take it as its own: kept until
     * reg_store_close on SQLite, since closing the last connection deletes
     * the WAL and the first request would make it again (core/db_sqlite.c) */
    sw_db *kept_db;
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
    opts->database_sync_full = cfg->database_sync_full;
    reg_backend_config_from(cfg, &opts->backend);
}

int reg_store_check_space(const reg_store *store, sw_error **err)
{
    struct statvfs vfs;
    /* storage.reserve guards the local disk blobs are written to; an S3
     * bucket has no such limit the store could read */
    if (store->opts.reserve_bytes <= 0 || store->opts.backend.driver != REG_BACKEND_FILESYSTEM ||
        statvfs(store->data_dir, &vfs) != 0)
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

struct reg_upload_table *reg_store_upload_table(reg_store *store)
{
    return store->uploads;
}

int reg_store_open(const char *data_dir, const struct reg_options *opts, reg_store **out,
                   sw_error **err)
{
    int rc = 0;
    sw_db *db = NULL;
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
    store->uploads = reg_upload_table_new();
    if (!store->data_dir || !store->db_path || !store->tmp_dir || !store->uploads) {
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
    sw_db_set_sync_full(store->opts.database_sync_full);
    if ((rc = sw_db_open(store->db_path, 1, &db, err)) != 0)
        goto cleanup;
    /* the connection that ran the migrations serves this thread from now
     * on: closing it and opening another costs a checkpoint, the WAL and
     * shm files removed and made again (a short CLI command pays it) */
    struct store_conn *conn = calloc(1, sizeof(*conn));
    if (conn && pthread_setspecific(store->conn_key, conn) == 0) {
        conn->store = store;
        conn->db = db;
        db = NULL;
        conn->next = store->conns;
        store->conns = conn;
    } else {
        free(conn);
    }
    if (db && sw_db_kind_of(db) == SW_DB_SQLITE) {
        store->kept_db = db;
        db = NULL;
    }
    *out = store;
    store = NULL;
cleanup:
    sw_db_close(db);
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
    sw_db_close(store->kept_db);
    pthread_mutex_destroy(&store->lock);
    reg_upload_table_free(store->uploads);
    reg_backend_close(store->backend);
    free(store->data_dir);
    free(store->db_path);
    free(store->tmp_dir);
    free(store);
}
