/*
 * store.h - the registry store: a data directory with content-addressed
 * blobs on the filesystem and metadata in SQLite (see DESIGN.md §3).
 *
 *   <data_dir>/slipway.db        metadata (migrations applied at open)
 *   <data_dir>/blobs/sha256/ab/<hex>   blob bytes, written once
 *   <data_dir>/uploads/<uuid>    in-progress uploads
 *   <data_dir>/tmp/              scratch for writers (same filesystem)
 *
 * A reg_store is shared by all threads of a process; each thread gets its
 * own SQLite connection lazily (reg_store_db). Several processes (serve,
 * import, gc, worker) may open the same data dir at once: every change is
 * a SQLite transaction, and filesystem steps that must agree with the
 * database (renaming a blob into place, removing one) happen while that
 * transaction holds the write lock.
 */
#ifndef REG_STORE_H
#define REG_STORE_H

#include "core/db.h"
#include <stdint.h>

#include "core/error.h"
#include "registry/backend.h"
#include "registry/errors.h"

typedef struct reg_store reg_store;

struct reg_options {
    int delete_enabled;         /* blob/manifest DELETE allowed */
    int64_t max_manifest_size;  /* bytes; 0 = 4 MiB */
    int64_t reserve_bytes;      /* refuse new blob bytes below this much
                                   free space (storage.reserve); 0 = none */
    const char *storage_driver; /* storage.driver; NULL = "filesystem" */
    /* where blob bytes live (storage: in the config); zeroed: the
       filesystem driver on data_dir. Its strings are borrowed for
       reg_store_open only (the backend copies what it keeps). */
    struct reg_backend_config backend;
    const char *database;   /* a postgres:// URL, or NULL: the SQLite
                               file <data_dir>/slipway.db (not copied:
                               must outlive the store) */
    int database_sync_full; /* database_sync: full (core/db.h, sw_db_set_sync_full) */
};

struct sw_config;
/* The store options a config asks for. */
void reg_options_from_config(const struct sw_config *cfg, struct reg_options *opts);

/* SW_ENOSPACE when the store's filesystem has less free space than
 * reserve_bytes: new blob bytes are refused so that deletes, garbage
 * collection and the database keep room to work on a nearly full disk. */
int reg_store_check_space(const reg_store *store, sw_error **err);

/* Opens the store at data_dir, creating its directories and database and
 * recovering from a crash (leftover temporary files). *out is owned by the
 * caller; close with reg_store_close after every thread is done with it. */
int reg_store_open(const char *data_dir, const struct reg_options *opts, reg_store **out,
                   sw_error **err);

void reg_store_close(reg_store *store);

const char *reg_store_data_dir(const reg_store *store);
const struct reg_options *reg_store_options(const reg_store *store);

/* The store's blob backend (registry/backend.h): where blob bytes live.
 * Borrowed; shared by all threads. */
reg_backend *reg_store_backend(const reg_store *store);

/* The calling thread's database connection (opened on first use, closed
 * when the thread exits or the store closes). Borrowed. */
int reg_store_db(reg_store *store, sw_db **db, sw_error **err);

#endif
