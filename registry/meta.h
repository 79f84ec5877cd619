/*
 * meta.h - registry-internal: the data-access module (every SQL statement
 * of the registry lives in meta.c) and the few internals the registry's
 * own files share (writer commit steps, upload state table, paths).
 *
 * Nothing outside registry/ includes this header. The SQL is portable
 * (ON CONFLICT upserts, bound parameters, no SQLite-only functions) so a
 * PostgreSQL implementation of these functions can replace meta.c.
 *
 * Lookups that find nothing return the module error the caller would
 * report (REG_E_NAME_UNKNOWN, REG_E_BLOB_UNKNOWN, ...), with a message
 * naming the repository and digest; other failures are SW_EDB.
 */
#ifndef REG_META_H
#define REG_META_H

#include "core/db.h"
#include <stdint.h>

#include "core/error.h"
#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/store.h"

/* ---- time -------------------------------------------------------------- */

/* Seconds since the epoch; every timestamp column holds these. */
int64_t reg_meta_now(void);

/* ---- repositories ------------------------------------------------------ */

/* REG_E_NAME_UNKNOWN when there is no such repository. */
int reg_meta_repo_find(sw_db *db, const char *name, int64_t *repo_id, sw_error **err);
/* Finds or creates. */
int reg_meta_repo_ensure(sw_db *db, const char *name, int64_t *repo_id, sw_error **err);
/* Every repository as (id, name). */
int reg_meta_repo_each(sw_db *db, int (*fn)(void *ctx, int64_t repo_id, const char *name),
                       void *ctx, sw_error **err);

/* ---- blobs and links --------------------------------------------------- */

int reg_meta_blob_insert(sw_db *db, const char *digest, int64_t size, int64_t now, sw_error **err);
/* REG_E_BLOB_UNKNOWN when the store has no row for digest. */
int reg_meta_blob_size(sw_db *db, const char *digest, int64_t *size, sw_error **err);
/* Creates the link or refreshes its touched_at. */
int reg_meta_blob_link(sw_db *db, int64_t repo_id, const char *digest, int64_t now, sw_error **err);
/* The link of digest to repository `repo` (by name). REG_E_BLOB_UNKNOWN
 * when not linked. */
int reg_meta_blob_linked(sw_db *db, const char *repo, const char *digest, int64_t *repo_id,
                         int64_t *size, int64_t *touched_at, sw_error **err);
/* 1 in *linked when repo_id links digest. */
int reg_meta_blob_is_linked(sw_db *db, int64_t repo_id, const char *digest, int *linked,
                            sw_error **err);
int reg_meta_blob_touch(sw_db *db, int64_t repo_id, const char *digest, int64_t now,
                        sw_error **err);
/* *removed is 1 when a link was removed. */
int reg_meta_blob_unlink(sw_db *db, int64_t repo_id, const char *digest, int *removed,
                         sw_error **err);

/* ---- upload sessions --------------------------------------------------- */

int reg_meta_upload_insert(sw_db *db, const char *uuid, int64_t repo_id, int64_t now,
                           sw_error **err);
/* REG_E_BLOB_UPLOAD_UNKNOWN unless session uuid exists and belongs to the
 * repository named repo. */
int reg_meta_upload_find(sw_db *db, const char *uuid, const char *repo, int64_t *repo_id,
                         sw_error **err);
int reg_meta_upload_touch(sw_db *db, const char *uuid, int64_t now, sw_error **err);
int reg_meta_upload_delete(sw_db *db, const char *uuid, sw_error **err);
/* *exists is 1 when a session row for uuid exists (any repository). */
int reg_meta_upload_exists(sw_db *db, const char *uuid, int *exists, sw_error **err);
/* Calls fn for each session last updated at or before `before`. */
int reg_meta_upload_each_stale(sw_db *db, int64_t before, int (*fn)(void *ctx, const char *uuid),
                               void *ctx, sw_error **err);

/* ---- manifests, references, tags --------------------------------------- */

struct reg_meta_manifest_row {
    int64_t repo_id;
    const char *digest;
    const char *media_type;
    int64_t size;
    const char *artifact_type; /* may be NULL */
    const char *subject;       /* may be NULL */
    const char *annotations;   /* JSON object text, may be NULL */
    int64_t created_at;
};

/* Inserts, or refreshes created_at of an identical existing manifest. */
int reg_meta_manifest_upsert(sw_db *db, const struct reg_meta_manifest_row *row, sw_error **err);
/* kind is "blob" or "manifest"; duplicates are ignored. */
int reg_meta_manifest_ref_insert(sw_db *db, int64_t repo_id, const char *manifest_digest,
                                 const char *child_digest, const char *kind, sw_error **err);
int reg_meta_manifest_exists(sw_db *db, int64_t repo_id, const char *digest, int *exists,
                             sw_error **err);
/* By repository name and digest; *media_type is malloc'd.
 * REG_E_MANIFEST_UNKNOWN when absent. */
int reg_meta_manifest_find(sw_db *db, const char *repo, const char *digest, char **media_type,
                           int64_t *size, sw_error **err);
/* The manifest a tag points at (digest_out SW_DIGEST_MAX bytes);
 * REG_E_MANIFEST_UNKNOWN when no such tag. */
int reg_meta_tag_resolve(sw_db *db, const char *repo, const char *tag,
                         char digest_out[SW_DIGEST_MAX], sw_error **err);
int reg_meta_tag_set(sw_db *db, int64_t repo_id, const char *tag, const char *digest, int64_t now,
                     sw_error **err);
int reg_meta_tag_delete(sw_db *db, int64_t repo_id, const char *tag, int *removed, sw_error **err);
/* Removes the manifest, its references and every tag on it. */
int reg_meta_manifest_delete(sw_db *db, int64_t repo_id, const char *digest, int *removed,
                             sw_error **err);

/* A page of names in byte order after `last` (NULL: from the start), at
 * most n (n < 0: all); *more says whether any follow. */
int reg_meta_tags_page(sw_db *db, int64_t repo_id, const char *last, int n, char ***names,
                       size_t *count, int *more, sw_error **err);
int reg_meta_catalog_page(sw_db *db, const char *last, int n, char ***names, size_t *count,
                          int *more, sw_error **err);

/* Calls fn for each manifest of repo_id whose subject is `subject`
 * (and whose artifact type is artifact_type, unless NULL), by digest. */
int reg_meta_referrers_each(sw_db *db, int64_t repo_id, const char *subject,
                            const char *artifact_type,
                            int (*fn)(void *ctx, const struct reg_meta_manifest_row *row),
                            void *ctx, sw_error **err);

/* ---- garbage collection ------------------------------------------------ */

/* Every manifest (digest, subject, created_at filled). */
int reg_meta_manifest_each(sw_db *db, int (*fn)(void *ctx, const struct reg_meta_manifest_row *row),
                           void *ctx, sw_error **err);
/* Every tag as (repo_id, digest). */
int reg_meta_tag_each(sw_db *db, int (*fn)(void *ctx, int64_t repo_id, const char *digest),
                      void *ctx, sw_error **err);
/* Every reference as (repo_id, parent manifest, child, kind). */
int reg_meta_ref_each(sw_db *db,
                      int (*fn)(void *ctx, int64_t repo_id, const char *parent, const char *child,
                                const char *kind),
                      void *ctx, sw_error **err);
/* Every link as (digest, touched_at). */
int reg_meta_link_each(sw_db *db, int (*fn)(void *ctx, const char *digest, int64_t touched_at),
                       void *ctx, sw_error **err);
/* Every blob row as (digest, size, created_at). */
int reg_meta_blob_each(sw_db *db,
                       int (*fn)(void *ctx, const char *digest, int64_t size, int64_t created_at),
                       void *ctx, sw_error **err);
/* What a reg_meta_*_each walk returned, named: callbacks stop a walk with
 * SW_ENOMEM without a message, which becomes "WHO: WHAT: out of memory"
 * (e.g. "gc: tags: out of memory"); any other result passes through. */
int reg_meta_walked(int rc, sw_error **err, const char *who, const char *what);
/* Re-check, inside the sweep's write transaction, that nothing keeps the
 * manifest alive any more: no tag, no parent index, no subject present in
 * the repository, pushed at or before cutoff. */
int reg_meta_manifest_unreachable(sw_db *db, int64_t repo_id, const char *digest, int64_t cutoff,
                                  int *unreachable, sw_error **err);
/* Re-check that no manifest references the blob (as config, layer or as
 * its body) and no link was touched, nor the blob created, after cutoff. */
int reg_meta_blob_unreferenced(sw_db *db, const char *digest, int64_t cutoff, int *unreferenced,
                               sw_error **err);
/* Runs PRAGMA quick_check (SQLite), calling fn with each line it reports
 * ("ok" when the database is sound). On PostgreSQL, whose storage checks
 * are the server's own, it checks that the schema version is this
 * binary's and reports "ok" or the mismatch. */
int reg_meta_quick_check(sw_db *db, int (*fn)(void *ctx, const char *line), void *ctx,
                         sw_error **err);
/* Removes the blob's row and every link to it. */
int reg_meta_blob_forget(sw_db *db, const char *digest, sw_error **err);

/* ---- store internals shared by registry files --------------------------- */

/* The store's table of upload sessions' running hash state (upload.c). */
struct reg_upload_table;
struct reg_upload_table *reg_store_upload_table(reg_store *store);
struct reg_upload_table *reg_upload_table_new(void);
void reg_upload_table_free(struct reg_upload_table *table);

/* Writer steps, split so that a caller can make a blob visible inside its
 * own transaction (manifest PUT stores its body and its rows at once):
 *
 *   finish   flush, fsync, digest, compare with expected (outside any
 *            transaction: it may be slow)
 *   publish  make the backend's object visible (a rename on the
 *            filesystem, the completed upload on S3), record the blob and
 *            link it (repo_id 0: no link); must run inside a transaction
 *   free     drop the writer and anything the backend stored for it
 *
 * reg_blob_writer_commit is finish + BEGIN + publish + COMMIT + free. */
int reg_blob_writer_finish(reg_blob_writer *w, const char *expected, char digest_out[SW_DIGEST_MAX],
                           sw_error **err);
int reg_blob_writer_publish(reg_blob_writer *w, sw_db *db, int64_t repo_id, sw_error **err);
void reg_blob_writer_free(reg_blob_writer *w);

#endif
