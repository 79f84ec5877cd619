/*
 * gc.c - garbage collection of untagged manifests and unreferenced blobs,
 * safe while pushes continue (docs/gc.md has the full argument).
 *
 * Mark runs over a snapshot read without locks, in memory. Sweep removes
 * one item per short BEGIN IMMEDIATE transaction and re-checks, in SQL and
 * under the write lock, that nothing keeps the item any more; every push
 * step that could make it live again (tagging, an index listing it, a
 * manifest referencing a blob, an upload committing a blob, a mount) also
 * runs under that lock, so the re-check and the removal see a consistent
 * state. A blob loses its row first, then (in a second transaction that
 * re-checks the row is still absent) its object in the blob backend; a
 * crash in between leaves an orphan object that the next run removes.
 * Objects are found by walking the backend (filesystem or S3), so the
 * same code collects both.
 *
 * A dry run performs the same mark and the same sweep order, only
 * simulating each removal, so it lists what a real run would remove (bar
 * pushes that happen in between).
 */
#include "registry/gc.h"

#include <dirent.h>
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
#include "core/strbuf.h"
#include "registry/meta.h"
#include "registry/names.h"
#include "registry/upload.h"

/* Upload sessions idle this long are abandoned (Distribution: 7 days). */
#define UPLOAD_MAX_IDLE (7 * 24 * 3600)

/* ---- a small string -> index map ---------------------------------------- */

struct strmap {
    char **keys;
    size_t *values;
    size_t cap, count;
};

static uint64_t strhash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int strmap_grow(struct strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    char **keys = calloc(cap, sizeof(*keys));
    size_t *values = calloc(cap, sizeof(*values));
    if (keys == NULL || values == NULL) {
        free(keys);
        free(values);
        return SW_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == NULL)
            continue;
        size_t j = strhash(m->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        values[j] = m->values[i];
    }
    free(m->keys);
    free(m->values);
    m->keys = keys;
    m->values = values;
    m->cap = cap;
    return 0;
}

/* Adds key (copied) unless present; 0 or SW_ENOMEM. */
static int strmap_put(struct strmap *m, const char *key, size_t value)
{
    if ((m->count + 1) * 2 > m->cap && strmap_grow(m) != 0)
        return SW_ENOMEM;
    size_t j = strhash(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0)
            return 0;
        j = (j + 1) & (m->cap - 1);
    }
    if ((m->keys[j] = strdup(key)) == NULL)
        return SW_ENOMEM;
    m->values[j] = value;
    m->count++;
    return 0;
}

static int strmap_get(const struct strmap *m, const char *key, size_t *value)
{
    if (m->cap == 0)
        return 0;
    size_t j = strhash(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) {
            if (value)
                *value = m->values[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

static void strmap_free(struct strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof(*m));
}

/* ---- the collector's snapshot ------------------------------------------ */

struct gc_manifest {
    int64_t repo_id;
    char *digest;
    char *subject; /* NULL if none */
    int64_t size;
    int64_t created_at;
    int is_live;
    int is_removed; /* removed (or, in a dry run, would be) */
    int is_kept;    /* the sweep's re-check found a new reason to keep it */
};

struct gc_edge {
    size_t parent, child; /* manifest indexes: an index listing a child */
};

struct gc_blob {
    char *digest;
    int64_t size;
    int64_t created_at;
};

struct gc_run {
    reg_store *store;
    sw_db *db;
    const struct reg_gc_options *opts;
    reg_gc_report_fn report;
    void *report_ctx;
    struct reg_gc_result *result;
    int64_t cutoff; /* things touched after this are in their grace period */

    struct strmap repo_names; /* "<id>" -> index into names */
    char **names;
    size_t n_names;

    struct gc_manifest *manifests;
    size_t n_manifests, cap_manifests;
    struct strmap manifest_index; /* "<repo_id>/<digest>" -> index */
    struct gc_edge *edges;
    size_t n_edges, cap_edges;

    struct strmap referenced; /* blob digests something keeps */
    struct gc_blob *blobs;
    size_t n_blobs, cap_blobs;
    struct strmap blob_rows; /* every digest with a blobs row at mark time */
};

static int grow(void **items, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t new_cap = *cap ? *cap * 2 : 64;
    void *p = realloc(*items, new_cap * size);
    if (p == NULL)
        return SW_ENOMEM;
    *items = p;
    *cap = new_cap;
    return 0;
}

static void manifest_key(char *buf, size_t size, int64_t repo_id, const char *digest)
{
    snprintf(buf, size, "%lld/%s", (long long)repo_id, digest);
}

static const char *repo_name(struct gc_run *run, int64_t repo_id)
{
    char key[32];
    size_t i;
    snprintf(key, sizeof(key), "%lld", (long long)repo_id);
    return strmap_get(&run->repo_names, key, &i) ? run->names[i] : "?";
}

static int load_repo(void *ctx, int64_t repo_id, const char *name)
{
    struct gc_run *run = ctx;
    char key[32];
    char **names = realloc(run->names, (run->n_names + 1) * sizeof(*names));
    if (names == NULL)
        return SW_ENOMEM;
    run->names = names;
    if ((names[run->n_names] = strdup(name)) == NULL)
        return SW_ENOMEM;
    snprintf(key, sizeof(key), "%lld", (long long)repo_id);
    return strmap_put(&run->repo_names, key, run->n_names++);
}

static int load_manifest(void *ctx, const struct reg_meta_manifest_row *row)
{
    struct gc_run *run = ctx;
    char key[SW_DIGEST_MAX + 32];
    if (grow((void **)&run->manifests, &run->cap_manifests, run->n_manifests,
             sizeof(*run->manifests)) != 0)
        return SW_ENOMEM;
    struct gc_manifest *m = &run->manifests[run->n_manifests];
    memset(m, 0, sizeof(*m));
    m->repo_id = row->repo_id;
    m->size = row->size;
    m->created_at = row->created_at;
    m->digest = strdup(row->digest);
    m->subject = row->subject ? strdup(row->subject) : NULL;
    if (m->digest == NULL || (row->subject && m->subject == NULL)) {
        free(m->digest);
        free(m->subject);
        return SW_ENOMEM;
    }
    manifest_key(key, sizeof(key), row->repo_id, row->digest);
    return strmap_put(&run->manifest_index, key, run->n_manifests++);
}

static int mark_tagged(void *ctx, int64_t repo_id, const char *digest)
{
    struct gc_run *run = ctx;
    char key[SW_DIGEST_MAX + 32];
    size_t i;
    manifest_key(key, sizeof(key), repo_id, digest);
    if (strmap_get(&run->manifest_index, key, &i))
        run->manifests[i].is_live = 1;
    return 0;
}

static int load_edge(void *ctx, int64_t repo_id, const char *parent, const char *child,
                     const char *kind)
{
    struct gc_run *run = ctx;
    char key[SW_DIGEST_MAX + 32];
    size_t p, c;
    if (strcmp(kind, "manifest") != 0)
        return 0;
    manifest_key(key, sizeof(key), repo_id, parent);
    if (!strmap_get(&run->manifest_index, key, &p))
        return 0;
    manifest_key(key, sizeof(key), repo_id, child);
    if (!strmap_get(&run->manifest_index, key, &c))
        return 0;
    if (grow((void **)&run->edges, &run->cap_edges, run->n_edges, sizeof(*run->edges)) != 0)
        return SW_ENOMEM;
    run->edges[run->n_edges++] = (struct gc_edge){ p, c };
    return 0;
}

/* Index of m's subject in the same repository, or -1 when it has none or
 * the subject is not there. */
static long subject_of(struct gc_run *run, const struct gc_manifest *m)
{
    char key[SW_DIGEST_MAX + 32];
    size_t i;
    if (m->subject == NULL)
        return -1;
    manifest_key(key, sizeof(key), m->repo_id, m->subject);
    return strmap_get(&run->manifest_index, key, &i) ? (long)i : -1;
}

/* Tags, grace, then to a fixpoint: children of live indexes and referrers
 * of live subjects. */
static void mark_manifests(struct gc_run *run)
{
    for (size_t i = 0; i < run->n_manifests; i++)
        if (run->manifests[i].created_at > run->cutoff)
            run->manifests[i].is_live = 1;
    int changed = 1;
    while (changed) {
        changed = 0;
        for (size_t e = 0; e < run->n_edges; e++) {
            struct gc_manifest *parent = &run->manifests[run->edges[e].parent];
            struct gc_manifest *child = &run->manifests[run->edges[e].child];
            if (parent->is_live && !child->is_live)
                child->is_live = changed = 1;
        }
        for (size_t i = 0; i < run->n_manifests; i++) {
            long s = subject_of(run, &run->manifests[i]);
            if (!run->manifests[i].is_live && s >= 0 && run->manifests[s].is_live)
                run->manifests[i].is_live = changed = 1;
        }
    }
}

/* A dead manifest may go once every index listing it and its subject have
 * gone: the sweep's re-check sees them gone too. */
static int manifest_ready(struct gc_run *run, size_t i)
{
    for (size_t e = 0; e < run->n_edges; e++)
        if (run->edges[e].child == i && !run->manifests[run->edges[e].parent].is_removed)
            return 0;
    long s = subject_of(run, &run->manifests[i]);
    return s < 0 || run->manifests[s].is_removed;
}

static int remove_manifest(struct gc_run *run, struct gc_manifest *m, int *removed, sw_error **err)
{
    int unreachable = 0, rc;
    *removed = 0;
    if (run->opts->dry_run) {
        *removed = 1;
        return 0;
    }
    if ((rc = sw_db_begin(run->db, err)) != 0)
        return rc;
    if ((rc = reg_meta_manifest_unreachable(run->db, m->repo_id, m->digest, run->cutoff,
                                            &unreachable, err)) == 0 &&
        unreachable)
        rc = reg_meta_manifest_delete(run->db, m->repo_id, m->digest, removed, err);
    if (rc == 0)
        rc = sw_db_commit(run->db, err);
    if (rc != 0) {
        sw_db_rollback(run->db);
        *removed = 0;
    }
    return rc;
}

static int sweep_manifests(struct gc_run *run, sw_error **err)
{
    int progress = 1, rc = 0;
    while (progress && rc == 0) {
        progress = 0;
        for (size_t i = 0; i < run->n_manifests && rc == 0; i++) {
            struct gc_manifest *m = &run->manifests[i];
            int removed = 0;
            if (m->is_live || m->is_removed || m->is_kept || !manifest_ready(run, i))
                continue;
            if ((rc = remove_manifest(run, m, &removed, err)) != 0)
                break;
            progress = 1;
            if (!removed) {
                m->is_kept = 1;
                continue;
            }
            m->is_removed = 1;
            run->result->manifests_deleted++;
            if (run->report)
                run->report(run->report_ctx, "manifest", repo_name(run, m->repo_id), m->digest,
                            m->size);
        }
    }
    return rc;
}

/* ---- blobs ------------------------------------------------------------- */

static int mark_ref_blob(void *ctx, int64_t repo_id, const char *parent, const char *child,
                         const char *kind)
{
    struct gc_run *run = ctx;
    char key[SW_DIGEST_MAX + 32];
    size_t i;
    if (strcmp(kind, "blob") != 0)
        return 0;
    manifest_key(key, sizeof(key), repo_id, parent);
    if (strmap_get(&run->manifest_index, key, &i) && run->manifests[i].is_removed)
        return 0;
    return strmap_put(&run->referenced, child, 0);
}

static int mark_recent_link(void *ctx, const char *digest, int64_t touched_at)
{
    struct gc_run *run = ctx;
    return touched_at > run->cutoff ? strmap_put(&run->referenced, digest, 0) : 0;
}

static int load_blob(void *ctx, const char *digest, int64_t size, int64_t created_at)
{
    struct gc_run *run = ctx;
    if (strmap_put(&run->blob_rows, digest, 0) != 0)
        return SW_ENOMEM;
    if (created_at > run->cutoff || strmap_get(&run->referenced, digest, NULL))
        return 0;
    if (grow((void **)&run->blobs, &run->cap_blobs, run->n_blobs, sizeof(*run->blobs)) != 0)
        return SW_ENOMEM;
    struct gc_blob *b = &run->blobs[run->n_blobs];
    if ((b->digest = strdup(digest)) == NULL)
        return SW_ENOMEM;
    b->size = size;
    b->created_at = created_at;
    run->n_blobs++;
    return 0;
}

/* Removes the object of a blob that has no row, under the write lock:
 * every writer publishes its object and inserts its row in one
 * transaction, so a row still absent here means no commit wants these
 * bytes. *removed is 0 when a row appeared meanwhile. */
static int remove_object(struct gc_run *run, const char *digest, int *removed, sw_error **err)
{
    int64_t size = 0;
    int rc = sw_db_begin(run->db, err);
    *removed = 0;
    if (rc != 0)
        return rc;
    rc = reg_meta_blob_size(run->db, digest, &size, err);
    if (rc == 0) /* a commit recorded it since we looked */
        goto cleanup;
    if (rc != REG_E_BLOB_UNKNOWN)
        goto cleanup;
    sw_error_clear(err);
    rc = reg_backend_delete(reg_store_backend(run->store), digest, err);
    if (rc == REG_E_BLOB_UNKNOWN) { /* gone already */
        sw_error_clear(err);
        rc = 0;
    }
    if (rc == 0 && (rc = sw_db_commit(run->db, err)) == 0)
        *removed = 1;
cleanup:
    if (!*removed)
        sw_db_rollback(run->db);
    return rc;
}

/* Removes a blob whose row is in `has_row` state; for orphans (no row) the
 * re-check is that the row is still absent. A blob with a row loses the
 * row first (its own transaction, re-checking that nothing references
 * it), then its object: a crash in between leaves an orphan object,
 * which the next run removes, never a row without its object. */
static int remove_blob(struct gc_run *run, const char *digest, int has_row, int *removed,
                       sw_error **err)
{
    int rc;
    *removed = 0;
    if (run->opts->dry_run) {
        *removed = 1;
        return 0;
    }
    if (has_row) {
        int unreferenced = 0;
        if ((rc = sw_db_begin(run->db, err)) != 0)
            return rc;
        if ((rc = reg_meta_blob_unreferenced(run->db, digest, run->cutoff, &unreferenced, err)) !=
                0 ||
            !unreferenced || (rc = reg_meta_blob_forget(run->db, digest, err)) != 0 ||
            (rc = sw_db_commit(run->db, err)) != 0) {
            sw_db_rollback(run->db);
            return rc;
        }
    }
    return remove_object(run, digest, removed, err);
}

static void report_blob(struct gc_run *run, const char *digest, int64_t size)
{
    run->result->blobs_deleted++;
    run->result->bytes_freed += (uint64_t)size;
    if (run->report)
        run->report(run->report_ctx, "blob", NULL, digest, size);
}

static int sweep_blobs(struct gc_run *run, sw_error **err)
{
    for (size_t i = 0; i < run->n_blobs; i++) {
        int removed = 0;
        int rc = remove_blob(run, run->blobs[i].digest, 1, &removed, err);
        if (rc != 0)
            return rc;
        if (removed)
            report_blob(run, run->blobs[i].digest, run->blobs[i].size);
    }
    return 0;
}

/* Objects with no row: a crash between publishing and COMMIT, a
 * transaction rolled back after publishing, or a GC interrupted between
 * forgetting a row and removing its object. Spared while younger than the
 * grace period. */
static int sweep_orphan(const char *digest, int64_t size, int64_t mtime, void *ctx, sw_error **err)
{
    struct gc_run *run = ctx;
    int removed = 0, rc;
    if (strmap_get(&run->blob_rows, digest, NULL) || mtime > run->cutoff)
        return 0;
    if ((rc = remove_blob(run, digest, 0, &removed, err)) == 0 && removed)
        report_blob(run, digest, size);
    return rc;
}

static int drop_stale_upload(void *ctx, const char *uuid)
{
    struct gc_run *run = ctx;
    sw_error *err = NULL;
    if (reg_meta_upload_delete(run->db, uuid, &err) != 0)
        sw_warn("gc: abandoned upload %s: %s", uuid, sw_error_message(err));
    else if (reg_backend_upload_cancel(reg_store_backend(run->store), uuid, &err) != 0 &&
             sw_error_code(err) != REG_E_BLOB_UPLOAD_UNKNOWN)
        sw_warn("gc: abandoned upload %s: %s", uuid, sw_error_message(err));
    sw_error_clear(&err);
    return 0;
}

/* Backend sessions with no row: a crash between creating the session and
 * inserting its row (reg_upload_start), or a row removed by hand. Left
 * alone while younger than the grace period or UPLOAD_FILE_MIN_AGE_S,
 * whichever is longer: a POST in flight has its session before its row
 * (the insert may wait out a busy database), and even `--grace 0` must not
 * take it from under it. Reported as kind "upload". */
#define UPLOAD_FILE_MIN_AGE_S 120

struct upload_sweep {
    struct gc_run *run;
    int64_t cutoff;
};

static int sweep_upload(const char *uuid, int64_t updated_at, void *ctx, sw_error **err)
{
    struct upload_sweep *u = ctx;
    struct gc_run *run = u->run;
    int exists = 1, rc;
    int64_t offset = 0;
    if (updated_at > u->cutoff)
        return 0;
    if ((rc = reg_meta_upload_exists(run->db, uuid, &exists, err)) != 0 || exists)
        return rc;
    if (reg_backend_upload_offset(reg_store_backend(run->store), uuid, &offset, NULL) != 0)
        offset = 0;
    if (!run->opts->dry_run) {
        rc = reg_backend_upload_cancel(reg_store_backend(run->store), uuid, err);
        if (rc == REG_E_BLOB_UPLOAD_UNKNOWN) {
            sw_error_clear(err);
            return 0;
        }
        if (rc != 0)
            return rc;
    }
    if (run->report)
        run->report(run->report_ctx, "upload", NULL, uuid, offset);
    return 0;
}

static int sweep_upload_files(struct gc_run *run, sw_error **err)
{
    struct upload_sweep u = { run, reg_meta_now() - UPLOAD_FILE_MIN_AGE_S };
    if (run->cutoff < u.cutoff)
        u.cutoff = run->cutoff;
    return reg_backend_upload_walk(reg_store_backend(run->store), sweep_upload, &u, err);
}

static void gc_run_free(struct gc_run *run)
{
    sw_strv_free_n(run->names, run->n_names);
    strmap_free(&run->repo_names);
    for (size_t i = 0; i < run->n_manifests; i++) {
        free(run->manifests[i].digest);
        free(run->manifests[i].subject);
    }
    free(run->manifests);
    strmap_free(&run->manifest_index);
    free(run->edges);
    strmap_free(&run->referenced);
    for (size_t i = 0; i < run->n_blobs; i++)
        free(run->blobs[i].digest);
    free(run->blobs);
    strmap_free(&run->blob_rows);
}

int reg_gc_run(reg_store *store, const struct reg_gc_options *opts, reg_gc_report_fn report,
               void *ctx, struct reg_gc_result *result, sw_error **err)
{
    struct reg_gc_result local_result = { 0 };
    struct gc_run run = { 0 };
    int rc;
    run.store = store;
    run.opts = opts;
    run.report = report;
    run.report_ctx = ctx;
    run.result = result ? result : &local_result;
    memset(run.result, 0, sizeof(*run.result));
    int64_t now = reg_meta_now();
    run.cutoff = now - (opts->grace_seconds > 0 ? opts->grace_seconds : 0);
    if ((rc = reg_store_db(store, &run.db, err)) != 0)
        goto cleanup;

    /* manifests: mark from tags, sweep the rest in dependency order */
    if ((rc = reg_meta_walked(reg_meta_repo_each(run.db, load_repo, &run, err), err, "gc",
                              "repositories")) ||
        (rc = reg_meta_walked(reg_meta_manifest_each(run.db, load_manifest, &run, err), err, "gc",
                              "manifests")))
        goto cleanup;
    if (opts->delete_untagged) {
        if ((rc = reg_meta_walked(reg_meta_tag_each(run.db, mark_tagged, &run, err), err, "gc",
                                  "tags")) ||
            (rc = reg_meta_walked(reg_meta_ref_each(run.db, load_edge, &run, err), err, "gc",
                                  "references")))
            goto cleanup;
        mark_manifests(&run);
        if ((rc = sweep_manifests(&run, err)) != 0)
            goto cleanup;
    }

    /* blobs: referenced by a remaining manifest, as a manifest body, or
     * linked/created within the grace period */
    for (size_t i = 0; i < run.n_manifests; i++) {
        if (!run.manifests[i].is_removed &&
            strmap_put(&run.referenced, run.manifests[i].digest, 0) != 0) {
            rc = sw_error_set(err, SW_ENOMEM, "gc: manifests: out of memory");
            goto cleanup;
        }
    }
    if ((rc = reg_meta_walked(reg_meta_ref_each(run.db, mark_ref_blob, &run, err), err, "gc",
                              "references")) ||
        (rc = reg_meta_walked(reg_meta_link_each(run.db, mark_recent_link, &run, err), err, "gc",
                              "links")) ||
        (rc =
             reg_meta_walked(reg_meta_blob_each(run.db, load_blob, &run, err), err, "gc", "blobs")))
        goto cleanup;
    if ((rc = sweep_blobs(&run, err)) != 0)
        goto cleanup;
    if ((rc = reg_backend_walk(reg_store_backend(store), sweep_orphan, &run, err)) != 0)
        goto cleanup;

    if ((rc = sweep_upload_files(&run, err)) != 0)
        goto cleanup;
    if (!opts->dry_run) {
        int64_t idle =
            opts->grace_seconds > UPLOAD_MAX_IDLE ? opts->grace_seconds : UPLOAD_MAX_IDLE;
        rc = reg_meta_upload_each_stale(run.db, now - idle, drop_stale_upload, &run, err);
    }
cleanup:
    gc_run_free(&run);
    if (rc != 0)
        sw_error_prefix(err, "garbage collection of %s", reg_store_data_dir(store));
    return rc;
}
