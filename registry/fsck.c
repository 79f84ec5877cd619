/*
 * fsck.c - verifying a store (see fsck.h for what is checked and what
 * --repair does).
 *
 * Rows are read into memory first (sorted string sets), then files are
 * walked and hashed one at a time with a fixed buffer, so memory grows with
 * the number of rows, never with blob sizes.
 */
#include "registry/fsck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/strbuf.h"
#include "registry/meta.h"
#include "registry/names.h"
#include "registry/upload.h"

#define HASH_BUFFER_SIZE (1024 * 1024)

/* ---- a sorted set of strings ------------------------------------------------ */

struct strset {
    char **items;
    size_t count, cap;
    int sorted;
};

static int strset_add(struct strset *s, const char *text)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        char **items = realloc(s->items, cap * sizeof(*items));
        if (items == NULL)
            return SW_ENOMEM;
        s->items = items;
        s->cap = cap;
    }
    if ((s->items[s->count] = strdup(text)) == NULL)
        return SW_ENOMEM;
    s->count++;
    s->sorted = 0;
    return 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int strset_has(struct strset *s, const char *text)
{
    if (!s->sorted) {
        if (s->count > 1)
            qsort(s->items, s->count, sizeof(*s->items), compare_strings);
        s->sorted = 1;
    }
    return s->count > 0 &&
           bsearch(&text, s->items, s->count, sizeof(*s->items), compare_strings) != NULL;
}

static void strset_free(struct strset *s)
{
    sw_strv_free_n(s->items, s->count);
    memset(s, 0, sizeof(*s));
}

/* ---- the run ------------------------------------------------------------------ */

struct blob_row {
    char *digest;
    int64_t size;
};

struct fsck_run {
    reg_store *store;
    sw_db *db;
    const struct reg_fsck_options *opts;
    reg_fsck_report_fn report;
    void *report_ctx;
    struct reg_fsck_result *result;
    struct blob_row *blobs;
    size_t n_blobs, cap_blobs;
    struct strset blob_set;     /* digests with a row */
    struct strset manifest_set; /* "<repo_id> <digest>" */
    struct strset uploads;      /* session uuids */
    char **repo_names;          /* by repo id, sparse */
    int64_t max_repo_id;
    unsigned char *buffer;
};

static void finding(struct fsck_run *run, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finding(struct fsck_run *run, const char *kind, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (strcmp(kind, "damage") == 0)
        run->result->damage++;
    else if (strcmp(kind, "notice") == 0)
        run->result->notices++;
    else
        run->result->repaired++;
    if (run->report)
        run->report(run->report_ctx, kind, message);
}

static const char *repo_name(struct fsck_run *run, int64_t repo_id)
{
    if (repo_id >= 0 && repo_id <= run->max_repo_id && run->repo_names[repo_id])
        return run->repo_names[repo_id];
    return "(unknown repository)";
}

static int load_repo(void *ctx, int64_t repo_id, const char *name)
{
    struct fsck_run *run = ctx;
    if (repo_id < 0 || repo_id > 100000000)
        return 0;
    if (repo_id > run->max_repo_id) {
        char **names = realloc(run->repo_names, (size_t)(repo_id + 1) * sizeof(*names));
        if (names == NULL)
            return SW_ENOMEM;
        for (int64_t i = run->repo_names ? run->max_repo_id + 1 : 0; i <= repo_id; i++)
            names[i] = NULL;
        run->repo_names = names;
        run->max_repo_id = repo_id;
    }
    free(run->repo_names[repo_id]);
    return (run->repo_names[repo_id] = strdup(name)) ? 0 : SW_ENOMEM;
}

static int load_blob(void *ctx, const char *digest, int64_t size, int64_t created_at)
{
    struct fsck_run *run = ctx;
    (void)created_at;
    if (run->n_blobs == run->cap_blobs) {
        size_t cap = run->cap_blobs ? run->cap_blobs * 2 : 256;
        struct blob_row *rows = realloc(run->blobs, cap * sizeof(*rows));
        if (rows == NULL)
            return SW_ENOMEM;
        run->blobs = rows;
        run->cap_blobs = cap;
    }
    if ((run->blobs[run->n_blobs].digest = strdup(digest)) == NULL)
        return SW_ENOMEM;
    run->blobs[run->n_blobs++].size = size;
    return strset_add(&run->blob_set, digest);
}

static int load_manifest(void *ctx, const struct reg_meta_manifest_row *row)
{
    struct fsck_run *run = ctx;
    char key[SW_DIGEST_MAX + 32];
    snprintf(key, sizeof(key), "%" PRId64 " %s", row->repo_id, row->digest);
    return strset_add(&run->manifest_set, key);
}

static int load_upload(void *ctx, const char *uuid)
{
    struct fsck_run *run = ctx;
    return strset_add(&run->uploads, uuid);
}

/* ---- blobs -------------------------------------------------------------------- */

/* Reads a blob's object and hashes it: state 0 ok, 1 missing, 2 wrong
 * size, 3 wrong digest (actual in got). */
static int hash_blob(struct fsck_run *run, const char *digest, int64_t size, int *state,
                     char got[SW_DIGEST_MAX], int64_t *actual_size, sw_error **err)
{
    reg_backend_reader *r = NULL;
    sw_hash *hash = NULL;
    size_t n = 0;
    int rc;
    *state = 0;
    rc =
        reg_backend_reader_open(reg_store_backend(run->store), digest, 0, -1, &r, actual_size, err);
    if (rc == REG_E_BLOB_UNKNOWN) {
        sw_error_clear(err);
        *state = 1;
        return 0;
    }
    if (rc != 0)
        return rc;
    if ((hash = sw_hash_new(reg_digest_algo(digest))) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    while ((rc = reg_backend_read(r, run->buffer, HASH_BUFFER_SIZE, &n, err)) == 0 && n > 0) {
        sw_hash_update(hash, run->buffer, n);
        run->result->bytes_checked += (uint64_t)n;
    }
    if (rc != 0)
        goto cleanup;
    sw_hash_digest(hash, got);
    if (*actual_size != size)
        *state = 2;
    else if (strcmp(got, digest) != 0)
        *state = 3;
cleanup:
    sw_hash_free(hash);
    reg_backend_reader_close(r);
    return rc;
}

/* Copies a damaged object to lost+found/<hex>-<time> on the local disk
 * (whatever the backend), for a person to look at. */
static int keep_aside(struct fsck_run *run, const char *digest, const char *aside, sw_error **err)
{
    reg_backend_reader *r = NULL;
    size_t n = 0;
    int rc = reg_backend_reader_open(reg_store_backend(run->store), digest, 0, -1, &r, NULL, err);
    if (rc != 0)
        return rc;
    int fd = open(aside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", aside);
        goto cleanup;
    }
    while ((rc = reg_backend_read(r, run->buffer, HASH_BUFFER_SIZE, &n, err)) == 0 && n > 0)
        if ((rc = sw_write_all(fd, run->buffer, n, err)) != 0)
            break;
    if (rc == 0 && fsync(fd) != 0)
        rc = sw_error_sys(err, SW_EIO, errno, "fsync of %s", aside);
    close(fd);
    if (rc != 0)
        unlink(aside);
cleanup:
    reg_backend_reader_close(r);
    return rc;
}

/* Keeps a copy of a damaged object aside, then forgets its row and
 * removes the object (one write transaction). */
static int repair_blob(struct fsck_run *run, const char *digest, int missing, sw_error **err)
{
    char *dir = sw_path_join(reg_store_data_dir(run->store), "lost+found");
    char *aside = NULL;
    int rc = 0;
    if (dir == NULL ||
        (!missing && asprintf(&aside, "%s/%s-%lld", dir, digest + 7, (long long)time(NULL)) < 0)) {
        aside = NULL;
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (!missing &&
        ((rc = sw_mkdir_p(dir, 0700, err)) != 0 || (rc = keep_aside(run, digest, aside, err)) != 0))
        goto cleanup;
    if ((rc = sw_db_begin(run->db, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_blob_forget(run->db, digest, err)) != 0 ||
        (!missing && (rc = reg_backend_delete(reg_store_backend(run->store), digest, err)) != 0 &&
         rc != REG_E_BLOB_UNKNOWN) ||
        (rc = sw_db_commit(run->db, err)) != 0) {
        sw_db_rollback(run->db);
        goto cleanup;
    }
    sw_error_clear(err);
    rc = 0;
    if (missing)
        finding(run, "repaired", "blob %s: row removed; the next push uploads it again", digest);
    else
        finding(run, "repaired", "blob %s: damaged object copied to %s and removed, row removed",
                digest, aside);
cleanup:
    free(dir);
    free(aside);
    return rc;
}

static int check_blobs(struct fsck_run *run, sw_error **err)
{
    char got[SW_DIGEST_MAX];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < run->n_blobs; i++) {
        const struct blob_row *b = &run->blobs[i];
        int state = 0;
        int64_t actual = 0;
        if (!reg_digest_valid(b->digest)) {
            finding(run, "damage", "blob row %s: not a valid digest", b->digest);
            continue;
        }
        if ((rc = hash_blob(run, b->digest, b->size, &state, got, &actual, err)) != 0)
            break;
        run->result->blobs_checked++;
        if (state == 1)
            finding(run, "damage", "blob %s: its object is missing from the store", b->digest);
        else if (state == 2)
            finding(run, "damage", "blob %s: object has %lld bytes, the database says %lld",
                    b->digest, (long long)actual, (long long)b->size);
        else if (state == 3)
            finding(run, "damage", "blob %s: content hashes to %s", b->digest, got);
        if (state != 0 && run->opts->repair)
            rc = repair_blob(run, b->digest, state == 1, err);
    }
    return rc;
}

/* Objects in the backend without a row. */
static int check_object(const char *digest, int64_t size, int64_t mtime, void *ctx, sw_error **err)
{
    struct fsck_run *run = ctx;
    (void)size, (void)mtime, (void)err;
    if (!strset_has(&run->blob_set, digest))
        finding(run, "notice", "blob object %s has no row (slipway gc removes it)", digest);
    return 0;
}

/* ---- manifests, references, tags ------------------------------------------------ */

static int check_manifest(void *ctx, const struct reg_meta_manifest_row *row)
{
    struct fsck_run *run = ctx;
    if (!strset_has(&run->blob_set, row->digest))
        finding(run, "damage", "manifest %s@%s: its body is not a stored blob",
                repo_name(run, row->repo_id), row->digest);
    return 0;
}

static int check_ref(void *ctx, int64_t repo_id, const char *parent, const char *child,
                     const char *kind)
{
    struct fsck_run *run = ctx;
    if (strcmp(kind, "manifest") == 0) {
        char key[SW_DIGEST_MAX + 32];
        snprintf(key, sizeof(key), "%" PRId64 " %s", repo_id, child);
        if (!strset_has(&run->manifest_set, key))
            finding(run, "damage", "manifest %s@%s: child manifest %s is missing",
                    repo_name(run, repo_id), parent, child);
    } else if (!strset_has(&run->blob_set, child)) {
        finding(run, "damage", "manifest %s@%s: blob %s is missing (push it again)",
                repo_name(run, repo_id), parent, child);
    }
    return 0;
}

static int check_tag(void *ctx, int64_t repo_id, const char *digest)
{
    struct fsck_run *run = ctx;
    char key[SW_DIGEST_MAX + 32];
    snprintf(key, sizeof(key), "%" PRId64 " %s", repo_id, digest);
    if (!strset_has(&run->manifest_set, key))
        finding(run, "damage", "a tag of %s points to missing manifest %s", repo_name(run, repo_id),
                digest);
    return 0;
}

/* ---- uploads -------------------------------------------------------------------- */

static int check_session(const char *uuid, int64_t updated_at, void *ctx, sw_error **err)
{
    struct fsck_run *run = ctx;
    (void)updated_at, (void)err;
    if (!strset_has(&run->uploads, uuid))
        finding(run, "notice", "upload session %s has no row (slipway gc removes it)", uuid);
    return 0;
}

static int check_uploads(struct fsck_run *run, sw_error **err)
{
    reg_backend *backend = reg_store_backend(run->store);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < run->uploads.count; i++) {
        const char *uuid = run->uploads.items[i];
        int64_t offset = 0;
        sw_error *session_err = NULL;
        rc = reg_backend_upload_offset(backend, uuid, &offset, &session_err);
        if (rc == 0)
            continue;
        if (rc != REG_E_BLOB_UPLOAD_UNKNOWN) {
            rc =
                sw_error_set(err, rc, "upload session %s: %s", uuid, sw_error_message(session_err));
            sw_error_clear(&session_err);
            break;
        }
        sw_error_clear(&session_err);
        rc = 0;
        finding(run, "damage", "upload session %s is missing from the store", uuid);
        if (run->opts->repair) {
            if ((rc = reg_meta_upload_delete(run->db, uuid, err)) == 0)
                finding(run, "repaired", "upload session %s removed", uuid);
        }
    }
    if (rc != 0)
        return rc;
    return reg_backend_upload_walk(backend, check_session, run, err);
}

static int report_integrity(void *ctx, const char *line)
{
    struct fsck_run *run = ctx;
    if (strcmp(line, "ok") != 0)
        finding(run, "damage", "database: %s", line);
    return 0;
}

int reg_fsck_run(reg_store *store, const struct reg_fsck_options *opts, reg_fsck_report_fn report,
                 void *ctx, struct reg_fsck_result *result, sw_error **err)
{
    struct reg_fsck_result local = { 0 };
    struct fsck_run run = { 0 };
    int rc;
    run.store = store;
    run.opts = opts;
    run.report = report;
    run.report_ctx = ctx;
    run.result = result ? result : &local;
    run.max_repo_id = -1;
    memset(run.result, 0, sizeof(*run.result));
    if ((run.buffer = malloc(HASH_BUFFER_SIZE)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = reg_store_db(store, &run.db, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_quick_check(run.db, report_integrity, &run, err)) != 0)
        goto cleanup;
    if ((rc = reg_meta_walked(reg_meta_repo_each(run.db, load_repo, &run, err), err, "fsck",
                              "repositories")) ||
        (rc = reg_meta_walked(reg_meta_blob_each(run.db, load_blob, &run, err), err, "fsck",
                              "blobs")) ||
        (rc = reg_meta_walked(reg_meta_manifest_each(run.db, load_manifest, &run, err), err, "fsck",
                              "manifests")) ||
        (rc = reg_meta_walked(reg_meta_upload_each_stale(run.db, INT64_MAX, load_upload, &run, err),
                              err, "fsck", "uploads")))
        goto cleanup;
    if ((rc = check_blobs(&run, err)) ||
        (rc = reg_backend_walk(reg_store_backend(store), check_object, &run, err)))
        goto cleanup;
    /* after a repair the row sets changed: references are checked against
     * what is in the database now */
    if (opts->repair) {
        strset_free(&run.blob_set);
        for (size_t i = 0; i < run.n_blobs; i++)
            free(run.blobs[i].digest);
        run.n_blobs = 0;
        if ((rc = reg_meta_walked(reg_meta_blob_each(run.db, load_blob, &run, err), err, "fsck",
                                  "blobs")))
            goto cleanup;
    }
    if ((rc = reg_meta_manifest_each(run.db, check_manifest, &run, err)) ||
        (rc = reg_meta_ref_each(run.db, check_ref, &run, err)) ||
        (rc = reg_meta_tag_each(run.db, check_tag, &run, err)) || (rc = check_uploads(&run, err)))
        goto cleanup;
cleanup:
    for (size_t i = 0; i < run.n_blobs; i++)
        free(run.blobs[i].digest);
    free(run.blobs);
    sw_strv_free_n(run.repo_names, (size_t)(run.max_repo_id + 1));
    strset_free(&run.blob_set);
    strset_free(&run.manifest_set);
    strset_free(&run.uploads);
    free(run.buffer);
    if (rc != 0)
        sw_error_prefix(err, "checking %s", reg_store_data_dir(store));
    return rc;
}
