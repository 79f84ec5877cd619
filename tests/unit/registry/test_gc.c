/*
 * test_gc.c - registry/gc.c: what survives a collection and what goes.
 * A dry run reports exactly what the real run then removes and changes
 * nothing; tagged images, their index children and the referrers of live
 * manifests survive; blobs in their grace period survive; orphaned files
 * and the trash of an interrupted collection are dealt with.
 */
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/gc.h"
#include "registry/manifest.h"
#include "registry/meta.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/blob_path.h"
#include "tests/unit/test.h"

static reg_store *open_store(const char *dir)
{
    struct reg_options opts = { .delete_enabled = 1 };
    reg_store *store = NULL;
    sw_error *err = NULL;
    if (reg_store_open(dir, &opts, &store, &err) != 0) {
        fprintf(stderr, "open store: %s\n", sw_error_message(err));
        abort();
    }
    return store;
}

static void put_blob(reg_store *store, const char *repo, const char *data,
                     char digest[SW_DIGEST_MAX])
{
    sw_error *err = NULL;
    if (reg_blob_put_buffer(store, repo, data, strlen(data), digest, &err) != 0) {
        fprintf(stderr, "put blob: %s\n", sw_error_message(err));
        abort();
    }
}

static void put_manifest(reg_store *store, const char *repo, const char *ref, const char *mt,
                         const char *body, char digest[SW_DIGEST_MAX])
{
    sw_error *err = NULL;
    if (reg_manifest_put(store, repo, ref, mt, body, strlen(body), digest, NULL, &err) != 0) {
        fprintf(stderr, "put manifest: %s\n", sw_error_message(err));
        abort();
    }
}

static char *image(const char *config, const char *layer, const char *subject)
{
    char *out = NULL, subj[300] = "";
    if (subject)
        snprintf(subj, sizeof(subj),
                 ",\"subject\":{\"mediaType\":\"" REG_MT_OCI_MANIFEST
                 "\",\"digest\":\"%s\",\"size\":1}",
                 subject);
    if (asprintf(&out,
                 "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_MANIFEST "\","
                 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                 "\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":"
                 "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":1}]%s}",
                 config, layer, subj) < 0)
        abort();
    return out;
}

/* Collects reports as "kind digest\n" lines. */
struct report {
    char text[8192];
};

static void collect(void *ctx, const char *kind, const char *repo, const char *digest, int64_t size)
{
    struct report *r = ctx;
    char line[400];
    (void)size;
    snprintf(line, sizeof(line), "%s %s%s%s\n", kind, repo ? repo : "", repo ? "@" : "", digest);
    strncat(r->text, line, sizeof(r->text) - strlen(r->text) - 1);
}

static int has_blob(reg_store *store, const char *repo, const char *digest)
{
    int64_t size;
    sw_error *err = NULL;
    int rc = reg_blob_stat(store, repo, digest, &size, &err);
    sw_error_clear(&err);
    return rc == 0;
}

static int has_manifest(reg_store *store, const char *repo, const char *ref)
{
    struct reg_manifest m;
    sw_error *err = NULL;
    int rc = reg_manifest_get(store, repo, ref, 0, &m, &err);
    sw_error_clear(&err);
    reg_manifest_release(&m);
    return rc == 0;
}

static int file_exists(reg_store *store, const char *digest)
{
    char *path = test_blob_path(store, digest);
    int exists = sw_path_exists(path);
    free(path);
    return exists;
}

static void test_dry_run_then_real_run(void)
{
    char *dir = scratch_dir("reg-gc");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char config[SW_DIGEST_MAX], kept_layer[SW_DIGEST_MAX], old_layer[SW_DIGEST_MAX],
        stray[SW_DIGEST_MAX], tagged[SW_DIGEST_MAX], untagged[SW_DIGEST_MAX];
    put_blob(store, "demo/app", "{}", config);
    put_blob(store, "demo/app", "kept layer", kept_layer);
    put_blob(store, "demo/app", "old layer", old_layer);
    put_blob(store, "demo/app", "stray upload", stray);
    char *m_tagged = image(config, kept_layer, NULL);
    char *m_old = image(config, old_layer, NULL);
    put_manifest(store, "demo/app", "latest", REG_MT_OCI_MANIFEST, m_old, untagged);
    put_manifest(store, "demo/app", "latest", REG_MT_OCI_MANIFEST, m_tagged, tagged);

    struct reg_gc_options opts = { .dry_run = 1, .delete_untagged = 1, .grace_seconds = 0 };
    struct reg_gc_result dry = { 0 }, real = { 0 };
    struct report dry_report = { "" }, real_report = { "" };
    CHECK_INT_EQ(reg_gc_run(store, &opts, collect, &dry_report, &dry, &err), 0);
    CHECK_INT_EQ(dry.manifests_deleted, 1);
    CHECK_INT_EQ(dry.blobs_deleted, 3); /* old layer, stray, old manifest body */
    CHECK(strstr(dry_report.text, untagged) != NULL);
    CHECK(strstr(dry_report.text, old_layer) != NULL);
    CHECK(strstr(dry_report.text, stray) != NULL);
    CHECK(strstr(dry_report.text, kept_layer) == NULL);
    /* nothing changed */
    CHECK(has_manifest(store, "demo/app", untagged));
    CHECK(has_blob(store, "demo/app", old_layer));
    CHECK(file_exists(store, stray));

    opts.dry_run = 0;
    CHECK_INT_EQ(reg_gc_run(store, &opts, collect, &real_report, &real, &err), 0);
    CHECK_STR_EQ(real_report.text, dry_report.text);
    CHECK_INT_EQ(real.blobs_deleted, dry.blobs_deleted);
    CHECK_INT_EQ(real.bytes_freed, dry.bytes_freed);
    CHECK(real.bytes_freed >= strlen("old layer") + strlen("stray upload"));
    CHECK(!has_manifest(store, "demo/app", untagged));
    CHECK(!has_blob(store, "demo/app", old_layer));
    CHECK(!file_exists(store, old_layer));
    CHECK(!file_exists(store, stray));
    CHECK(!file_exists(store, untagged));
    /* the tagged image is whole */
    struct reg_manifest m;
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "latest", 1, &m, &err), 0);
    CHECK_STR_EQ(m.body, m_tagged);
    reg_manifest_release(&m);
    CHECK(has_blob(store, "demo/app", config));
    CHECK(has_blob(store, "demo/app", kept_layer));
    CHECK(file_exists(store, kept_layer));

    /* a second run finds nothing */
    struct reg_gc_result again = { 0 };
    CHECK_INT_EQ(reg_gc_run(store, &opts, NULL, NULL, &again, &err), 0);
    CHECK_INT_EQ(again.blobs_deleted + again.manifests_deleted, 0);
    free(m_tagged);
    free(m_old);
    reg_store_close(store);
    free(dir);
}

static void test_grace_protects_recent_blobs(void)
{
    char *dir = scratch_dir("reg-gc-grace");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char blob[SW_DIGEST_MAX];
    put_blob(store, "demo/app", "pushed, manifest not yet", blob);
    struct reg_gc_options opts = { .delete_untagged = 1, .grace_seconds = 3600 };
    struct reg_gc_result result = { 0 };
    CHECK_INT_EQ(reg_gc_run(store, &opts, NULL, NULL, &result, &err), 0);
    CHECK_INT_EQ(result.blobs_deleted, 0);
    CHECK(has_blob(store, "demo/app", blob));
    /* without grace, an unreferenced blob goes */
    opts.grace_seconds = 0;
    CHECK_INT_EQ(reg_gc_run(store, &opts, NULL, NULL, &result, &err), 0);
    CHECK_INT_EQ(result.blobs_deleted, 1);
    CHECK(!has_blob(store, "demo/app", blob));
    reg_store_close(store);
    free(dir);
}

static void test_index_children_and_referrers(void)
{
    char *dir = scratch_dir("reg-gc-graph");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char config[SW_DIGEST_MAX], l1[SW_DIGEST_MAX], l2[SW_DIGEST_MAX], l3[SW_DIGEST_MAX],
        child[SW_DIGEST_MAX], index_digest[SW_DIGEST_MAX], sig[SW_DIGEST_MAX],
        orphan_sig[SW_DIGEST_MAX], loose[SW_DIGEST_MAX];
    put_blob(store, "demo/app", "{}", config);
    put_blob(store, "demo/app", "l1", l1);
    put_blob(store, "demo/app", "l2", l2);
    put_blob(store, "demo/app", "l3", l3);
    char *m_child = image(config, l1, NULL);
    put_manifest(store, "demo/app", NULL, REG_MT_OCI_MANIFEST, m_child, child);
    char *idx = NULL;
    CHECK(asprintf(&idx,
                   "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_INDEX "\","
                   "\"manifests\":[{\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"digest\":\"%s\","
                   "\"size\":%zu}]}",
                   child, strlen(m_child)) > 0);
    put_manifest(store, "demo/app", "multi", REG_MT_OCI_INDEX, idx, index_digest);
    /* a signature of the index (live subject) */
    char *m_sig = image(config, l2, index_digest);
    put_manifest(store, "demo/app", NULL, REG_MT_OCI_MANIFEST, m_sig, sig);
    /* an untagged image and a signature of it: both go */
    char *m_loose = image(config, l3, NULL);
    put_manifest(store, "demo/app", NULL, REG_MT_OCI_MANIFEST, m_loose, loose);
    char *m_orphan_sig = image(config, l2, loose);
    put_manifest(store, "demo/app", NULL, REG_MT_OCI_MANIFEST, m_orphan_sig, orphan_sig);

    struct reg_gc_options opts = { .delete_untagged = 1, .grace_seconds = 0 };
    struct reg_gc_result result = { 0 };
    struct report report = { "" };
    CHECK_INT_EQ(reg_gc_run(store, &opts, collect, &report, &result, &err), 0);
    CHECK_INT_EQ(result.manifests_deleted, 2);
    CHECK(has_manifest(store, "demo/app", "multi"));
    CHECK(has_manifest(store, "demo/app", child));
    CHECK(has_manifest(store, "demo/app", sig));
    CHECK(!has_manifest(store, "demo/app", loose));
    CHECK(!has_manifest(store, "demo/app", orphan_sig));
    CHECK(has_blob(store, "demo/app", l1));
    CHECK(has_blob(store, "demo/app", l2)); /* still used by the live signature */
    CHECK(!has_blob(store, "demo/app", l3));
    /* the subject went before its referrer */
    char *a = strstr(report.text, loose), *b = strstr(report.text, orphan_sig);
    CHECK(a && b && a < b);

    /* without delete_untagged, untagged manifests and their blobs stay */
    char *m_again = image(config, l3, NULL);
    put_blob(store, "demo/app", "l3", l3);
    put_manifest(store, "demo/app", NULL, REG_MT_OCI_MANIFEST, m_again, loose);
    opts.delete_untagged = 0;
    CHECK_INT_EQ(reg_gc_run(store, &opts, NULL, NULL, &result, &err), 0);
    CHECK_INT_EQ(result.manifests_deleted, 0);
    CHECK(has_manifest(store, "demo/app", loose));
    CHECK(has_blob(store, "demo/app", l3));
    free(m_child);
    free(idx);
    free(m_sig);
    free(m_loose);
    free(m_orphan_sig);
    free(m_again);
    reg_store_close(store);
    free(dir);
}

static void test_orphans_and_trash_recovery(void)
{
    char *dir = scratch_dir("reg-gc-orphans");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char orphan[SW_DIGEST_MAX], kept[SW_DIGEST_MAX], path[4096], trash[4096];
    /* a file renamed into place whose transaction never committed */
    sw_sha256_digest("orphan", 6, orphan);
    char *orphan_path = test_blob_path(store, orphan);
    snprintf(path, sizeof(path), "%s", orphan_path);
    *strrchr(path, '/') = '\0';
    CHECK_INT_EQ(sw_mkdir_p(path, 0755, &err), 0);
    CHECK_INT_EQ(sw_write_file_atomic(orphan_path, "orphan", 6, 0644, &err), 0);
    struct reg_gc_options opts = { .dry_run = 1, .grace_seconds = 0 };
    struct reg_gc_result result = { 0 };
    struct report report = { "" };
    CHECK_INT_EQ(reg_gc_run(store, &opts, collect, &report, &result, &err), 0);
    CHECK(strstr(report.text, orphan) != NULL);
    CHECK(sw_path_exists(orphan_path));
    opts.dry_run = 0;
    CHECK_INT_EQ(reg_gc_run(store, &opts, NULL, NULL, &result, &err), 0);
    CHECK_INT_EQ(result.blobs_deleted, 1);
    CHECK(!sw_path_exists(orphan_path));

    /* a collection that crashed after moving a blob to the trash but
     * before COMMIT: the blob comes back at the next open */
    put_blob(store, "demo/app", "precious", kept);
    char *kept_path = test_blob_path(store, kept);
    snprintf(trash, sizeof(trash), "%s/tmp/trash-sha256-%s-999", dir, kept + 7);
    CHECK(rename(kept_path, trash) == 0);
    /* and one whose COMMIT went through: the trash is dropped */
    char gone_trash[4096];
    snprintf(gone_trash, sizeof(gone_trash), "%s/tmp/trash-sha256-%s-999", dir, orphan + 7);
    CHECK_INT_EQ(sw_write_file_atomic(gone_trash, "orphan", 6, 0644, &err), 0);
    reg_store_close(store);
    store = open_store(dir);
    CHECK(sw_path_exists(kept_path));
    CHECK(!sw_path_exists(trash));
    CHECK(!sw_path_exists(gone_trash));
    CHECK(has_blob(store, "demo/app", kept));
    /* the filesystem backend knows no rows: it put the other one back too,
     * as an orphan object the next collection removes */
    CHECK_INT_EQ(reg_gc_run(store, &opts, NULL, NULL, &result, &err), 0);
    CHECK(!sw_path_exists(orphan_path));
    free(kept_path);
    free(orphan_path);
    reg_store_close(store);
    free(dir);
}

/* an upload file without its row: a crash between the two, or a POST
 * that has made its file and not yet its row. Even --grace 0 leaves a
 * young one alone; an old one goes. */
static void test_upload_file_without_row(void)
{
    char *dir = scratch_dir("reg-gc-uploads");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    const char *uuid = "0f0e0d0c-0b0a-4908-8706-050403020100";
    int64_t offset = -1;
    /* the filesystem backend keeps a session's state in uploads/<uuid>.state */
    char *path = NULL;
    CHECK(asprintf(&path, "%s/uploads/%s.state", reg_store_data_dir(store), uuid) > 0);
    CHECK_INT_EQ(reg_backend_upload_create(reg_store_backend(store), uuid, &err), 0);
    struct reg_gc_options opts = { .grace_seconds = 0 };
    struct reg_gc_result result = { 0 };
    CHECK_INT_EQ(reg_gc_run(store, &opts, NULL, NULL, &result, &err), 0);
    CHECK_INT_EQ(reg_backend_upload_offset(reg_store_backend(store), uuid, &offset, &err), 0);
    /* three minutes old: left behind by a crash */
    struct timespec old[2] = { { time(NULL) - 180, 0 }, { time(NULL) - 180, 0 } };
    CHECK_INT_EQ(utimensat(AT_FDCWD, path, old, 0), 0);
    struct report report = { "" };
    CHECK_INT_EQ(reg_gc_run(store, &opts, collect, &report, &result, &err), 0);
    CHECK(strstr(report.text, uuid) != NULL);
    CHECK_INT_EQ(reg_backend_upload_offset(reg_store_backend(store), uuid, &offset, &err),
                 REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);
    free(path);
    reg_store_close(store);
    free(dir);
}

int main(void)
{
    RUN(test_dry_run_then_real_run);
    RUN(test_grace_protects_recent_blobs);
    RUN(test_index_children_and_referrers);
    RUN(test_orphans_and_trash_recovery);
    RUN(test_upload_file_without_row);
    return TEST_EXIT();
}
