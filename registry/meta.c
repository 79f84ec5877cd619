/*
 * meta.c - the registry's data access: every SQL statement of registry/.
 *
 * Statements are prepared per call with bound parameters (those of the
 * hot read paths - a manifest GET, a blob HEAD, a tags page - once per
 * connection: sw_db_prepare_cached) and written in
 * SQL that SQLite and PostgreSQL both accept (INSERT ... ON CONFLICT,
 * explicit timestamps from the caller instead of SQLite date functions),
 * so another backend means another meta.c, not changes all over.
 *
 * Name order for tags and the catalog is the column's default collation,
 * BINARY in SQLite: byte order, which is how Go (Distribution) compares
 * strings and what the spec's lexical pagination expects. A PostgreSQL
 * port must declare these columns COLLATE "C" to keep that order.
 *
 * Transactions are the caller's business (sw_db_begin/commit): these
 * functions are the steps inside them.
 */
#include "registry/meta.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "registry/errors.h"

int64_t reg_meta_now(void)
{
    return (int64_t)time(NULL);
}

/* Binds text, treating NULL as SQL NULL. */
static void bind_text(sw_stmt *stmt, int index, const char *text)
{
    if (text)
        sw_stmt_bind_text(stmt, index, text, -1, SW_DB_STATIC);
    else
        sw_stmt_bind_null(stmt, index);
}

/* Runs a statement that returns no rows; *changes (may be NULL) gets the
 * number of rows changed. Finalizes the statement. */
static int exec_done(sw_db *db, sw_stmt *stmt, int *changes, const char *what, sw_error **err)
{
    int rc = 0;
    if (sw_stmt_step(stmt) != SW_DB_DONE)
        rc = sw_db_error(db, err, what);
    else if (changes)
        *changes = sw_db_changes(db);
    sw_stmt_finalize(stmt);
    return rc;
}

static const char *column_text(sw_stmt *stmt, int col)
{
    return (const char *)sw_stmt_column_text(stmt, col);
}

/* ---- repositories ------------------------------------------------------ */

/* One integer column of the repository called name (sql selects it by
 * name); REG_E_NAME_UNKNOWN when there is none. */
static int repo_value(sw_db *db, const char *sql, const char *name, int64_t *value, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare_cached(db, sql, &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, name);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW)
        *value = sw_stmt_column_int64(stmt, 0);
    else if (step == SW_DB_DONE)
        rc = sw_error_set(err, REG_E_NAME_UNKNOWN, "repository %s is not known", name);
    else
        rc = sw_db_error(db, err, "looking up repository");
    sw_stmt_release(stmt);
    return rc;
}

int reg_meta_repo_find(sw_db *db, const char *name, int64_t *repo_id, sw_error **err)
{
    return repo_value(db, "SELECT id FROM repositories WHERE name = ?", name, repo_id, err);
}

int reg_meta_repo_tags_version(sw_db *db, const char *name, int64_t *version, sw_error **err)
{
    return repo_value(db, "SELECT tags_version FROM repositories WHERE name = ?", name, version,
                      err);
}

int reg_meta_repo_ensure(sw_db *db, const char *name, int64_t *repo_id, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO repositories (name, created_at) VALUES (?, ?)"
                           " ON CONFLICT (name) DO NOTHING",
                           &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, name);
    sw_stmt_bind_int64(stmt, 2, reg_meta_now());
    if ((rc = exec_done(db, stmt, NULL, "creating repository", err)) != 0)
        return rc;
    return reg_meta_repo_find(db, name, repo_id, err);
}

int reg_meta_repo_each(sw_db *db, int (*fn)(void *ctx, int64_t repo_id, const char *name),
                       void *ctx, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "SELECT id, name FROM repositories", &stmt, err), step;
    if (rc != 0)
        return rc;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW)
        if ((rc = fn(ctx, sw_stmt_column_int64(stmt, 0), column_text(stmt, 1))) != 0)
            break;
    if (rc == 0 && step != SW_DB_DONE)
        rc = sw_db_error(db, err, "listing repositories");
    sw_stmt_finalize(stmt);
    return rc;
}

/* ---- blobs and links --------------------------------------------------- */

int reg_meta_blob_insert(sw_db *db, const char *digest, int64_t size, int64_t now, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)"
                           " ON CONFLICT (digest) DO NOTHING",
                           &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, digest);
    sw_stmt_bind_int64(stmt, 2, size);
    sw_stmt_bind_int64(stmt, 3, now);
    return exec_done(db, stmt, NULL, "recording blob", err);
}

int reg_meta_blob_size(sw_db *db, const char *digest, int64_t *size, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare_cached(db, "SELECT size FROM blobs WHERE digest = ?", &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, digest);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW)
        *size = sw_stmt_column_int64(stmt, 0);
    else if (step == SW_DB_DONE)
        rc = sw_error_set(err, REG_E_BLOB_UNKNOWN, "blob %s is not in the store", digest);
    else
        rc = sw_db_error(db, err, "looking up blob");
    sw_stmt_release(stmt);
    return rc;
}

int reg_meta_blob_link(sw_db *db, int64_t repo_id, const char *digest, int64_t now, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO repo_blobs (repo_id, digest, touched_at) VALUES (?, ?, ?)"
                           " ON CONFLICT (repo_id, digest) DO UPDATE"
                           " SET touched_at = excluded.touched_at",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, repo_id);
    bind_text(stmt, 2, digest);
    sw_stmt_bind_int64(stmt, 3, now);
    return exec_done(db, stmt, NULL, "linking blob", err);
}

int reg_meta_blob_linked(sw_db *db, const char *repo, const char *digest, int64_t *repo_id,
                         int64_t *size, int64_t *touched_at, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare_cached(db,
                                  "SELECT r.id, b.size, rb.touched_at"
                                  " FROM repositories r"
                                  " JOIN repo_blobs rb ON rb.repo_id = r.id"
                                  " JOIN blobs b ON b.digest = rb.digest"
                                  " WHERE r.name = ? AND rb.digest = ?",
                                  &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, repo);
    bind_text(stmt, 2, digest);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW) {
        *repo_id = sw_stmt_column_int64(stmt, 0);
        *size = sw_stmt_column_int64(stmt, 1);
        *touched_at = sw_stmt_column_int64(stmt, 2);
    } else if (step == SW_DB_DONE) {
        rc = sw_error_set(err, REG_E_BLOB_UNKNOWN, "blob %s is not in repository %s", digest, repo);
    } else {
        rc = sw_db_error(db, err, "looking up blob link");
    }
    sw_stmt_release(stmt);
    return rc;
}

int reg_meta_blob_is_linked(sw_db *db, int64_t repo_id, const char *digest, int *linked,
                            sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare_cached(db,
                                  "SELECT 1 FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest"
                                  " WHERE rb.repo_id = ? AND rb.digest = ?",
                                  &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, repo_id);
    bind_text(stmt, 2, digest);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW || step == SW_DB_DONE)
        *linked = step == SW_DB_ROW;
    else
        rc = sw_db_error(db, err, "looking up blob link");
    sw_stmt_release(stmt);
    return rc;
}

int reg_meta_blob_touch(sw_db *db, int64_t repo_id, const char *digest, int64_t now, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "UPDATE repo_blobs SET touched_at = ?"
                           " WHERE repo_id = ? AND digest = ? AND touched_at < ?",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, now);
    sw_stmt_bind_int64(stmt, 2, repo_id);
    bind_text(stmt, 3, digest);
    sw_stmt_bind_int64(stmt, 4, now);
    return exec_done(db, stmt, NULL, "touching blob link", err);
}

int reg_meta_blob_unlink(sw_db *db, int64_t repo_id, const char *digest, int *removed,
                         sw_error **err)
{
    sw_stmt *stmt = NULL;
    int changes = 0;
    int rc =
        sw_db_prepare(db, "DELETE FROM repo_blobs WHERE repo_id = ? AND digest = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, repo_id);
    bind_text(stmt, 2, digest);
    rc = exec_done(db, stmt, &changes, "unlinking blob", err);
    *removed = changes > 0;
    return rc;
}

/* ---- upload sessions --------------------------------------------------- */

int reg_meta_upload_insert(sw_db *db, const char *uuid, int64_t repo_id, int64_t now,
                           sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO uploads (uuid, repo_id, started_at, updated_at)"
                           " VALUES (?, ?, ?, ?)",
                           &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, uuid);
    sw_stmt_bind_int64(stmt, 2, repo_id);
    sw_stmt_bind_int64(stmt, 3, now);
    sw_stmt_bind_int64(stmt, 4, now);
    return exec_done(db, stmt, NULL, "recording upload session", err);
}

int reg_meta_upload_find(sw_db *db, const char *uuid, const char *repo, int64_t *repo_id,
                         sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "SELECT u.repo_id FROM uploads u"
                           " JOIN repositories r ON r.id = u.repo_id"
                           " WHERE u.uuid = ? AND r.name = ?",
                           &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, uuid);
    bind_text(stmt, 2, repo);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW)
        *repo_id = sw_stmt_column_int64(stmt, 0);
    else if (step == SW_DB_DONE)
        rc = sw_error_set(err, REG_E_BLOB_UPLOAD_UNKNOWN,
                          "upload %s is not in progress for repository %s", uuid, repo);
    else
        rc = sw_db_error(db, err, "looking up upload session");
    sw_stmt_finalize(stmt);
    return rc;
}

int reg_meta_upload_touch(sw_db *db, const char *uuid, int64_t now, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "UPDATE uploads SET updated_at = ? WHERE uuid = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, now);
    bind_text(stmt, 2, uuid);
    return exec_done(db, stmt, NULL, "updating upload session", err);
}

int reg_meta_upload_exists(sw_db *db, const char *uuid, int *exists, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "SELECT 1 FROM uploads WHERE uuid = ?", &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, uuid);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW || step == SW_DB_DONE)
        *exists = step == SW_DB_ROW;
    else
        rc = sw_db_error(db, err, "looking up upload session");
    sw_stmt_finalize(stmt);
    return rc;
}

int reg_meta_upload_delete(sw_db *db, const char *uuid, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "DELETE FROM uploads WHERE uuid = ?", &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, uuid);
    return exec_done(db, stmt, NULL, "removing upload session", err);
}

/* Collects the text column 0 of a query into a list first, so callbacks
 * may write to the database while we are not stepping a statement. */
struct text_list {
    char **items;
    size_t count, cap;
};

static int text_list_add(struct text_list *list, const char *text)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        char **items = realloc(list->items, cap * sizeof(*items));
        if (items == NULL)
            return SW_ENOMEM;
        list->items = items;
        list->cap = cap;
    }
    if ((list->items[list->count] = strdup(text ? text : "")) == NULL)
        return SW_ENOMEM;
    list->count++;
    return 0;
}

static void text_list_free(struct text_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

int reg_meta_upload_each_stale(sw_db *db, int64_t before, int (*fn)(void *ctx, const char *uuid),
                               void *ctx, sw_error **err)
{
    sw_stmt *stmt = NULL;
    struct text_list uuids = { 0 };
    int rc = sw_db_prepare(db, "SELECT uuid FROM uploads WHERE updated_at <= ? ORDER BY uuid",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, before);
    int step;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        if (text_list_add(&uuids, column_text(stmt, 0)) != 0) {
            rc = sw_error_set(err, SW_ENOMEM, "listing upload sessions: out of memory");
            goto cleanup;
        }
    }
    if (step != SW_DB_DONE) {
        rc = sw_db_error(db, err, "listing upload sessions");
        goto cleanup;
    }
    sw_stmt_finalize(stmt);
    stmt = NULL;
    for (size_t i = 0; i < uuids.count && rc == 0; i++)
        rc = fn(ctx, uuids.items[i]);
cleanup:
    sw_stmt_finalize(stmt);
    text_list_free(&uuids);
    return rc;
}

/* ---- manifests, references, tags --------------------------------------- */

int reg_meta_manifest_upsert(sw_db *db, const struct reg_meta_manifest_row *row, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO manifests (repo_id, digest, media_type, size,"
                           " artifact_type, subject, annotations, created_at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                           " ON CONFLICT (repo_id, digest) DO UPDATE"
                           " SET created_at = excluded.created_at",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, row->repo_id);
    bind_text(stmt, 2, row->digest);
    bind_text(stmt, 3, row->media_type);
    sw_stmt_bind_int64(stmt, 4, row->size);
    bind_text(stmt, 5, row->artifact_type);
    bind_text(stmt, 6, row->subject);
    bind_text(stmt, 7, row->annotations);
    sw_stmt_bind_int64(stmt, 8, row->created_at);
    return exec_done(db, stmt, NULL, "recording manifest", err);
}

int reg_meta_manifest_ref_insert(sw_db *db, int64_t repo_id, const char *manifest_digest,
                                 const char *child_digest, const char *kind, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO manifest_refs (repo_id, manifest_digest, child_digest,"
                           " kind) VALUES (?, ?, ?, ?)"
                           " ON CONFLICT (repo_id, manifest_digest, child_digest) DO NOTHING",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, repo_id);
    bind_text(stmt, 2, manifest_digest);
    bind_text(stmt, 3, child_digest);
    bind_text(stmt, 4, kind);
    return exec_done(db, stmt, NULL, "recording manifest reference", err);
}

int reg_meta_manifest_exists(sw_db *db, int64_t repo_id, const char *digest, int *exists,
                             sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc =
        sw_db_prepare(db, "SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, repo_id);
    bind_text(stmt, 2, digest);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW || step == SW_DB_DONE)
        *exists = step == SW_DB_ROW;
    else
        rc = sw_db_error(db, err, "looking up manifest");
    sw_stmt_finalize(stmt);
    return rc;
}

int reg_meta_manifest_find(sw_db *db, const char *repo, const char *digest, char **media_type,
                           int64_t *size, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare_cached(db,
                                  "SELECT m.media_type, m.size FROM manifests m"
                                  " JOIN repositories r ON r.id = m.repo_id"
                                  " WHERE r.name = ? AND m.digest = ?",
                                  &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, repo);
    bind_text(stmt, 2, digest);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW) {
        *size = sw_stmt_column_int64(stmt, 1);
        if ((*media_type = strdup(column_text(stmt, 0))) == NULL)
            rc = sw_error_oom(err);
    } else if (step == SW_DB_DONE) {
        rc = sw_error_set(err, REG_E_MANIFEST_UNKNOWN, "manifest %s is not in repository %s",
                          digest, repo);
    } else {
        rc = sw_db_error(db, err, "looking up manifest");
    }
    sw_stmt_release(stmt);
    return rc;
}

int reg_meta_tag_resolve(sw_db *db, const char *repo, const char *tag,
                         char digest_out[SW_DIGEST_MAX], sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare_cached(db,
                                  "SELECT t.digest FROM tags t"
                                  " JOIN repositories r ON r.id = t.repo_id"
                                  " WHERE r.name = ? AND t.name = ?",
                                  &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, repo);
    bind_text(stmt, 2, tag);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW)
        snprintf(digest_out, SW_DIGEST_MAX, "%s", column_text(stmt, 0));
    else if (step == SW_DB_DONE)
        rc = sw_error_set(err, REG_E_MANIFEST_UNKNOWN, "tag %s is not in repository %s", tag, repo);
    else
        rc = sw_db_error(db, err, "looking up tag");
    sw_stmt_release(stmt);
    return rc;
}

int reg_meta_manifest_resolve(sw_db *db, const char *repo, const char *reference, int is_digest,
                              char digest_out[SW_DIGEST_MAX], char **media_type, int64_t *size,
                              sw_error **err)
{
    static const char by_tag[] =
        "SELECT m.digest, m.media_type, m.size FROM tags t"
        " JOIN repositories r ON r.id = t.repo_id"
        " JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest"
        " WHERE r.name = ? AND t.name = ?";
    static const char by_digest[] = "SELECT m.digest, m.media_type, m.size FROM manifests m"
                                    " JOIN repositories r ON r.id = m.repo_id"
                                    " WHERE r.name = ? AND m.digest = ?";
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare_cached(db, is_digest ? by_digest : by_tag, &stmt, err);
    if (rc != 0)
        return rc;
    bind_text(stmt, 1, repo);
    bind_text(stmt, 2, reference);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_ROW) {
        snprintf(digest_out, SW_DIGEST_MAX, "%s", column_text(stmt, 0));
        *size = sw_stmt_column_int64(stmt, 2);
        if ((*media_type = strdup(column_text(stmt, 1))) == NULL)
            rc = sw_error_oom(err);
    } else if (step == SW_DB_DONE) {
        rc = sw_error_set(err, REG_E_MANIFEST_UNKNOWN, "%s %s is not in repository %s",
                          is_digest ? "manifest" : "tag", reference, repo);
    } else {
        rc = sw_db_error(db, err, "looking up manifest");
    }
    sw_stmt_release(stmt);
    return rc;
}

int reg_meta_tag_set(sw_db *db, int64_t repo_id, const char *tag, const char *digest, int64_t now,
                     sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc =
        sw_db_prepare(db,
                      "INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (?, ?, ?, ?)"
                      " ON CONFLICT (repo_id, name) DO UPDATE"
                      " SET digest = excluded.digest, updated_at = excluded.updated_at",
                      &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, repo_id);
    bind_text(stmt, 2, tag);
    bind_text(stmt, 3, digest);
    sw_stmt_bind_int64(stmt, 4, now);
    return exec_done(db, stmt, NULL, "setting tag", err);
}

int reg_meta_tag_delete(sw_db *db, int64_t repo_id, const char *tag, int *removed, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int changes = 0;
    int rc = sw_db_prepare(db, "DELETE FROM tags WHERE repo_id = ? AND name = ?", &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, repo_id);
    bind_text(stmt, 2, tag);
    rc = exec_done(db, stmt, &changes, "removing tag", err);
    *removed = changes > 0;
    return rc;
}

int reg_meta_manifest_delete(sw_db *db, int64_t repo_id, const char *digest, int *removed,
                             sw_error **err)
{
    /* Explicit deletes rather than relying on ON DELETE CASCADE, so the
     * outcome does not depend on a connection's foreign_keys setting. */
    static const char *const statements[] = {
        "DELETE FROM tags WHERE repo_id = ? AND digest = ?",
        "DELETE FROM manifest_refs WHERE repo_id = ? AND manifest_digest = ?",
        "DELETE FROM manifests WHERE repo_id = ? AND digest = ?",
    };
    int rc = 0, changes = 0;
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]) && rc == 0; i++) {
        sw_stmt *stmt = NULL;
        if ((rc = sw_db_prepare(db, statements[i], &stmt, err)) != 0)
            break;
        sw_stmt_bind_int64(stmt, 1, repo_id);
        bind_text(stmt, 2, digest);
        rc = exec_done(db, stmt, &changes, "removing manifest", err);
    }
    *removed = rc == 0 && changes > 0;
    return rc;
}

/* Shared by the tag list and the catalog: runs a query over `name` whose
 * parameters are (optional repo_id), last, limit, fetching one row more
 * than asked for to learn whether more follow. */
static int names_page(sw_db *db, const char *sql, int64_t repo_id, const char *last, int n,
                      char ***names, size_t *count, int *more, sw_error **err)
{
    sw_stmt *stmt = NULL;
    struct text_list list = { 0 };
    int rc = 0, param = 1, step;
    *names = NULL;
    *count = 0;
    *more = 0;
    if (n == 0)
        return 0; /* an empty page never says "more": a Link to n=0 would loop */
    if ((rc = sw_db_prepare_cached(db, sql, &stmt, err)) != 0)
        return rc;
    if (repo_id > 0)
        sw_stmt_bind_int64(stmt, param++, repo_id);
    sw_stmt_bind_text(stmt, param++, last ? last : "", -1, SW_DB_STATIC);
    /* no limit: the largest, as both engines accept (SQLite's -1 is an
     * error on PostgreSQL, PostgreSQL's NULL one on SQLite) */
    sw_stmt_bind_int64(stmt, param, n < 0 ? INT64_MAX : (int64_t)n + 1);
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        if (n >= 0 && list.count == (size_t)n) {
            *more = 1;
            break;
        }
        if (text_list_add(&list, column_text(stmt, 0)) != 0) {
            rc = sw_error_set(err, SW_ENOMEM, "listing names: out of memory");
            goto cleanup;
        }
    }
    if (step != SW_DB_ROW && step != SW_DB_DONE) {
        rc = sw_db_error(db, err, "listing names");
        goto cleanup;
    }
    *names = list.items;
    *count = list.count;
    list.items = NULL;
    list.count = 0;
cleanup:
    sw_stmt_release(stmt);
    text_list_free(&list);
    return rc;
}

int reg_meta_tags_page(sw_db *db, int64_t repo_id, const char *last, int n, char ***names,
                       size_t *count, int *more, sw_error **err)
{
    return names_page(db,
                      "SELECT name FROM tags WHERE repo_id = ? AND name > ?"
                      " ORDER BY name LIMIT ?",
                      repo_id, last, n, names, count, more, err);
}

int reg_meta_catalog_page(sw_db *db, const char *last, int n, char ***names, size_t *count,
                          int *more, sw_error **err)
{
    /* the remote-image cache (names.h: REG_REMOTE_PREFIX) is no repository
     * a client can pull: it is left out */
    return names_page(db,
                      "SELECT name FROM repositories WHERE name > ?"
                      " AND substr(name, 1, 8) <> '_remote/' ORDER BY name LIMIT ?",
                      0, last, n, names, count, more, err);
}

static void manifest_row_from(sw_stmt *stmt, struct reg_meta_manifest_row *row)
{
    row->repo_id = sw_stmt_column_int64(stmt, 0);
    row->digest = column_text(stmt, 1);
    row->media_type = column_text(stmt, 2);
    row->size = sw_stmt_column_int64(stmt, 3);
    row->artifact_type = column_text(stmt, 4);
    row->subject = column_text(stmt, 5);
    row->annotations = column_text(stmt, 6);
    row->created_at = sw_stmt_column_int64(stmt, 7);
}

#define MANIFEST_COLUMNS                                                                           \
    "repo_id, digest, media_type, size, artifact_type, subject, annotations, created_at"

/* Steps a manifest query, calling fn per row; fn must not use db. */
static int manifest_rows(sw_db *db, sw_stmt *stmt,
                         int (*fn)(void *ctx, const struct reg_meta_manifest_row *row), void *ctx,
                         sw_error **err)
{
    int rc = 0, step;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        struct reg_meta_manifest_row row;
        manifest_row_from(stmt, &row);
        if ((rc = fn(ctx, &row)) != 0)
            break;
    }
    if (rc == 0 && step != SW_DB_DONE)
        rc = sw_db_error(db, err, "listing manifests");
    sw_stmt_finalize(stmt);
    return rc;
}

int reg_meta_referrers_each(sw_db *db, int64_t repo_id, const char *subject,
                            const char *artifact_type,
                            int (*fn)(void *ctx, const struct reg_meta_manifest_row *row),
                            void *ctx, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "SELECT " MANIFEST_COLUMNS " FROM manifests"
                           " WHERE repo_id = ? AND subject = ?"
                           " AND (? IS NULL OR artifact_type = ?)"
                           " ORDER BY digest",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, repo_id);
    bind_text(stmt, 2, subject);
    bind_text(stmt, 3, artifact_type);
    bind_text(stmt, 4, artifact_type);
    return manifest_rows(db, stmt, fn, ctx, err);
}

/* ---- garbage collection ------------------------------------------------ */

int reg_meta_manifest_each(sw_db *db, int (*fn)(void *ctx, const struct reg_meta_manifest_row *row),
                           void *ctx, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "SELECT " MANIFEST_COLUMNS " FROM manifests"
                           " ORDER BY repo_id, digest",
                           &stmt, err);
    if (rc != 0)
        return rc;
    return manifest_rows(db, stmt, fn, ctx, err);
}

int reg_meta_tag_each(sw_db *db, int (*fn)(void *ctx, int64_t repo_id, const char *digest),
                      void *ctx, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "SELECT repo_id, digest FROM tags", &stmt, err), step;
    if (rc != 0)
        return rc;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW)
        if ((rc = fn(ctx, sw_stmt_column_int64(stmt, 0), column_text(stmt, 1))) != 0)
            break;
    if (rc == 0 && step != SW_DB_DONE)
        rc = sw_db_error(db, err, "listing tags");
    sw_stmt_finalize(stmt);
    return rc;
}

int reg_meta_ref_each(sw_db *db,
                      int (*fn)(void *ctx, int64_t repo_id, const char *parent, const char *child,
                                const char *kind),
                      void *ctx, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "SELECT repo_id, manifest_digest, child_digest, kind"
                           " FROM manifest_refs",
                           &stmt, err),
        step;
    if (rc != 0)
        return rc;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW)
        if ((rc = fn(ctx, sw_stmt_column_int64(stmt, 0), column_text(stmt, 1), column_text(stmt, 2),
                     column_text(stmt, 3))) != 0)
            break;
    if (rc == 0 && step != SW_DB_DONE)
        rc = sw_db_error(db, err, "listing manifest references");
    sw_stmt_finalize(stmt);
    return rc;
}

int reg_meta_link_each(sw_db *db, int (*fn)(void *ctx, const char *digest, int64_t touched_at),
                       void *ctx, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "SELECT digest, touched_at FROM repo_blobs", &stmt, err), step;
    if (rc != 0)
        return rc;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW)
        if ((rc = fn(ctx, column_text(stmt, 0), sw_stmt_column_int64(stmt, 1))) != 0)
            break;
    if (rc == 0 && step != SW_DB_DONE)
        rc = sw_db_error(db, err, "listing blob links");
    sw_stmt_finalize(stmt);
    return rc;
}

int reg_meta_blob_each(sw_db *db,
                       int (*fn)(void *ctx, const char *digest, int64_t size, int64_t created_at),
                       void *ctx, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "SELECT digest, size, created_at FROM blobs ORDER BY digest", &stmt,
                           err),
        step;
    if (rc != 0)
        return rc;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW)
        if ((rc = fn(ctx, column_text(stmt, 0), sw_stmt_column_int64(stmt, 1),
                     sw_stmt_column_int64(stmt, 2))) != 0)
            break;
    if (rc == 0 && step != SW_DB_DONE)
        rc = sw_db_error(db, err, "listing blobs");
    sw_stmt_finalize(stmt);
    return rc;
}

int reg_meta_walked(int rc, sw_error **err, const char *who, const char *what)
{
    if (rc == SW_ENOMEM)
        return sw_error_set(err, SW_ENOMEM, "%s: %s: out of memory", who, what);
    return rc;
}

/* Runs a one-row, one-integer query with text/int parameters given as a
 * pattern: 't' text, 'i' int64. */
static int query_int(sw_db *db, const char *sql, const char *types, const void *const *args,
                     int64_t *value, const char *what, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, sql, &stmt, err);
    if (rc != 0)
        return rc;
    for (int i = 0; types[i]; i++) {
        if (types[i] == 't')
            bind_text(stmt, i + 1, (const char *)args[i]);
        else
            sw_stmt_bind_int64(stmt, i + 1, *(const int64_t *)args[i]);
    }
    if (sw_stmt_step(stmt) == SW_DB_ROW)
        *value = sw_stmt_column_int64(stmt, 0);
    else
        rc = sw_db_error(db, err, what);
    sw_stmt_finalize(stmt);
    return rc;
}

int reg_meta_manifest_unreachable(sw_db *db, int64_t repo_id, const char *digest, int64_t cutoff,
                                  int *unreachable, sw_error **err)
{
    /* Counts everything that keeps the manifest: the manifest pushed after
     * cutoff, a tag on it, an existing index listing it, its subject
     * present in the repository. */
    const void *args[] = { &repo_id, digest, &cutoff,  &repo_id, digest,
                           &repo_id, digest, &repo_id, digest };
    int64_t keepers = 0;
    int rc = query_int(
        db,
        "SELECT"
        " (SELECT COUNT(*) FROM manifests WHERE repo_id = ? AND digest = ? AND created_at > ?)"
        " + (SELECT COUNT(*) FROM tags WHERE repo_id = ? AND digest = ?)"
        " + (SELECT COUNT(*) FROM manifest_refs r JOIN manifests p"
        "    ON p.repo_id = r.repo_id AND p.digest = r.manifest_digest"
        "    WHERE r.repo_id = ? AND r.child_digest = ? AND r.kind = 'manifest')"
        " + (SELECT COUNT(*) FROM manifests m JOIN manifests s"
        "    ON s.repo_id = m.repo_id AND s.digest = m.subject"
        "    WHERE m.repo_id = ? AND m.digest = ?)",
        "itiititit", args, &keepers, "checking manifest before removal", err);
    if (rc == 0)
        *unreachable = keepers == 0;
    return rc;
}

int reg_meta_blob_unreferenced(sw_db *db, const char *digest, int64_t cutoff, int *unreferenced,
                               sw_error **err)
{
    const void *args[] = { digest, digest, digest, &cutoff, digest, &cutoff };
    int64_t keepers = 0;
    int rc =
        query_int(db,
                  "SELECT"
                  " (SELECT COUNT(*) FROM manifest_refs WHERE child_digest = ? AND kind = 'blob')"
                  " + (SELECT COUNT(*) FROM manifests WHERE digest = ?)"
                  " + (SELECT COUNT(*) FROM repo_blobs WHERE digest = ? AND touched_at > ?)"
                  " + (SELECT COUNT(*) FROM blobs WHERE digest = ? AND created_at > ?)",
                  "tttiti", args, &keepers, "checking blob before removal", err);
    if (rc == 0)
        *unreferenced = keepers == 0;
    return rc;
}

int reg_meta_blob_forget(sw_db *db, const char *digest, sw_error **err)
{
    static const char *const statements[] = {
        "DELETE FROM repo_blobs WHERE digest = ?",
        "DELETE FROM blobs WHERE digest = ?",
    };
    int rc = 0;
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        sw_stmt *stmt = NULL;
        if ((rc = sw_db_prepare(db, statements[i], &stmt, err)) != 0)
            break;
        bind_text(stmt, 1, digest);
        rc = exec_done(db, stmt, NULL, "removing blob record", err);
    }
    return rc;
}

int reg_meta_quick_check(sw_db *db, int (*fn)(void *ctx, const char *line), void *ctx,
                         sw_error **err)
{
    if (sw_db_kind_of(db) == SW_DB_POSTGRES) {
        /* PostgreSQL has no quick_check a plain role may run (amcheck
         * needs an extension and a superuser); check what Slipway owns:
         * the schema is the one this binary was built for. */
        int version = 0;
        int rc = sw_db_version(db, &version, err);
        if (rc != 0)
            return rc;
        if (version == sw_db_latest_version())
            return fn(ctx, "ok");
        char line[128];
        snprintf(line, sizeof line, "schema version %d, this binary expects %d", version,
                 sw_db_latest_version());
        return fn(ctx, line);
    }
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db, "PRAGMA quick_check", &stmt, err);
    if (rc != 0)
        return rc;
    int step = SW_DB_DONE;
    while (rc == 0 && (step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        const char *line = (const char *)sw_stmt_column_text(stmt, 0);
        rc = fn(ctx, line ? line : "");
    }
    if (rc == 0 && step != SW_DB_DONE)
        rc = sw_db_error(db, err, "checking the database");
    sw_stmt_finalize(stmt);
    return rc;
}
