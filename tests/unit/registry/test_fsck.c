/*
 * test_fsck.c - registry/fsck.c on a real store in a temp dir: a clean
 * store has no findings; a flipped byte, a file of the wrong size and a
 * deleted file are damage (and --repair moves the bad file to lost+found
 * and forgets the rows, after which the manifest that needs the blob is
 * reported); stray blob and upload files are notices; an upload session
 * without its file is damage that --repair drops; a tag or an index
 * pointing at a manifest row that is gone is damage.
 */
#include <fcntl.h>
#include "core/db.h"
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/fsck.h"
#include "registry/manifest.h"
#include "registry/meta.h"
#include "registry/store.h"
#include "registry/upload.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/blob_path.h"
#include "tests/unit/test.h"

struct findings {
    char text[16384];
};

static void collect(void *ctx, const char *kind, const char *message)
{
    struct findings *f = ctx;
    size_t n = strlen(f->text);
    snprintf(f->text + n, sizeof(f->text) - n, "%s: %s\n", kind, message);
}

static reg_store *open_store(const char *dir)
{
    reg_store *store = NULL;
    sw_error *err = NULL;
    if (reg_store_open(dir, NULL, &store, &err) != 0) {
        fprintf(stderr, "open store: %s\n", sw_error_message(err));
        abort();
    }
    return store;
}

static void put_blob(reg_store *store, const char *data, char digest[SW_DIGEST_MAX])
{
    sw_error *err = NULL;
    if (reg_blob_put_buffer(store, "demo/app", data, strlen(data), digest, &err) != 0) {
        fprintf(stderr, "put blob: %s\n", sw_error_message(err));
        abort();
    }
}

/* An image manifest for config + layer (both stored), tagged tag. */
static void put_image(reg_store *store, const char *tag, const char *config, size_t config_size,
                      const char *layer, size_t layer_size, char digest[SW_DIGEST_MAX])
{
    char body[2048];
    sw_error *err = NULL;
    snprintf(body, sizeof(body),
             "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_MANIFEST "\","
             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
             "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
             "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
             config, config_size, layer, layer_size);
    if (reg_manifest_put(store, "demo/app", tag, REG_MT_OCI_MANIFEST, body, strlen(body), digest,
                         NULL, &err) != 0) {
        fprintf(stderr, "put manifest: %s\n", sw_error_message(err));
        abort();
    }
}

static int run_fsck(reg_store *store, int repair, struct findings *f, struct reg_fsck_result *r)
{
    struct reg_fsck_options opts = { .repair = repair };
    sw_error *err = NULL;
    memset(f, 0, sizeof(*f));
    int rc = reg_fsck_run(store, &opts, collect, f, r, &err);
    if (rc != 0)
        fprintf(stderr, "fsck: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    return rc;
}

static void exec_sql(reg_store *store, const char *sql)
{
    sw_db *db = NULL;
    sw_error *err = NULL;
    char *msg = NULL;
    if (reg_store_db(store, &db, &err) != 0 || sw_db_exec_raw(db, sql, NULL, NULL, &msg) != 0) {
        fprintf(stderr, "sql %s: %s\n", sql, msg ? msg : sw_error_message(err));
        abort();
    }
}

static void test_clean_store(void)
{
    char *dir = scratch_dir("reg-fsck-clean");
    reg_store *store = open_store(dir);
    char config[SW_DIGEST_MAX], layer[SW_DIGEST_MAX], m[SW_DIGEST_MAX];
    put_blob(store, "{}", config);
    put_blob(store, "layer-bytes", layer);
    put_image(store, "1", config, 2, layer, 11, m);
    struct findings f;
    struct reg_fsck_result r;
    CHECK_INT_EQ(run_fsck(store, 0, &f, &r), 0);
    CHECK_STR_EQ(f.text, "");
    CHECK_INT_EQ(r.blobs_checked, 3); /* config, layer, manifest body */
    CHECK(r.bytes_checked >= 13);
    CHECK_INT_EQ(r.damage, 0);
    CHECK_INT_EQ(r.notices, 0);
    /* no report function and no result: still runs */
    struct reg_fsck_options opts = { 0 };
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_fsck_run(store, &opts, NULL, NULL, NULL, &err), 0);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
}

static void test_damaged_blobs_and_repair(void)
{
    char *dir = scratch_dir("reg-fsck-damage");
    reg_store *store = open_store(dir);
    char config[SW_DIGEST_MAX], layer[SW_DIGEST_MAX], m[SW_DIGEST_MAX];
    char flipped[SW_DIGEST_MAX], gone[SW_DIGEST_MAX], longer[SW_DIGEST_MAX];
    put_blob(store, "{}", config);
    put_blob(store, "layer-bytes", layer);
    put_image(store, "1", config, 2, layer, 11, m);
    put_blob(store, "a blob whose byte flips", flipped);
    put_blob(store, "a blob whose file goes", gone);
    put_blob(store, "a blob that grows", longer);

    /* flip one byte, same size */
    char *path = test_blob_path(store, flipped);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, "A", 1, 0) == 1);
    close(fd);
    free(path);
    path = test_blob_path(store, longer);
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "!", 1) == 1);
    close(fd);
    free(path);
    path = test_blob_path(store, gone);
    CHECK(unlink(path) == 0);
    free(path);
    char *layer_path = test_blob_path(store, layer);
    CHECK(unlink(layer_path) == 0); /* a blob the manifest needs */

    struct findings f;
    struct reg_fsck_result r;
    CHECK_INT_EQ(run_fsck(store, 0, &f, &r), 0);
    char want[512];
    snprintf(want, sizeof(want), "damage: blob %s: content hashes to sha256:", flipped);
    CHECK(strstr(f.text, want) != NULL);
    snprintf(want, sizeof(want), "damage: blob %s: object has 18 bytes, the database says 17",
             longer);
    CHECK(strstr(f.text, want) != NULL);
    snprintf(want, sizeof(want), "damage: blob %s: its object is missing from the store", gone);
    CHECK(strstr(f.text, want) != NULL);
    CHECK_INT_EQ(r.damage, 4);
    CHECK_INT_EQ(r.repaired, 0);
    /* nothing changed without --repair */
    path = test_blob_path(store, flipped);
    CHECK(sw_path_exists(path));
    free(path);

    CHECK_INT_EQ(run_fsck(store, 1, &f, &r), 0);
    snprintf(want, sizeof(want), "repaired: blob %s: damaged object copied to %s/lost+found/",
             flipped, dir);
    CHECK(strstr(f.text, want) != NULL);
    snprintf(want, sizeof(want), "repaired: blob %s: row removed; the next push uploads it again",
             gone);
    CHECK(strstr(f.text, want) != NULL);
    CHECK_INT_EQ(r.repaired, 4);
    /* after the repair, the manifest whose layer is gone is reported */
    snprintf(want, sizeof(want), "damage: manifest demo/app@%s: blob %s is missing (push it again)",
             m, layer);
    CHECK(strstr(f.text, want) != NULL);
    path = test_blob_path(store, flipped);
    CHECK(!sw_path_exists(path));
    free(path);
    char lost[4096];
    snprintf(lost, sizeof(lost), "%s/lost+found", dir);
    CHECK(sw_path_exists(lost));

    /* a second repair run finds only what --repair leaves: the manifest */
    CHECK_INT_EQ(run_fsck(store, 1, &f, &r), 0);
    CHECK_INT_EQ(r.repaired, 0);
    CHECK_INT_EQ(r.damage, 1);
    CHECK(strstr(f.text, want) != NULL);

    /* pushing the blob again heals it */
    char again[SW_DIGEST_MAX];
    put_blob(store, "layer-bytes", again);
    CHECK_STR_EQ(again, layer);
    CHECK_INT_EQ(run_fsck(store, 0, &f, &r), 0);
    CHECK_STR_EQ(f.text, "");
    free(layer_path);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
}

static void test_stray_files_are_notices(void)
{
    char *dir = scratch_dir("reg-fsck-stray");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char orphan[SW_DIGEST_MAX];
    sw_sha256_digest("orphan", 6, orphan);
    char *path = test_blob_path(store, orphan);
    char parent[2048];
    snprintf(parent, sizeof(parent), "%s", path);
    *strrchr(parent, '/') = '\0';
    CHECK_INT_EQ(sw_mkdir_p(parent, 0755, &err), 0);
    CHECK_INT_EQ(sw_write_file_atomic(path, "orphan", 6, 0644, &err), 0);
    /* files that are no blob are not the backend's: not listed */
    char odd[4096];
    snprintf(odd, sizeof(odd), "%s/not-a-digest", parent);
    CHECK_INT_EQ(sw_write_file_atomic(odd, "x", 1, 0644, &err), 0);
    snprintf(odd, sizeof(odd), "%s/blobs/sha256/oddity", dir);
    CHECK_INT_EQ(sw_write_file_atomic(odd, "x", 1, 0644, &err), 0);
    const char *stray = "0f0e0d0c-0b0a-4908-8706-050403020100";
    CHECK_INT_EQ(reg_backend_upload_create(reg_store_backend(store), stray, &err), 0);

    struct findings f;
    struct reg_fsck_result r;
    CHECK_INT_EQ(run_fsck(store, 1, &f, &r), 0);
    char want[512];
    snprintf(want, sizeof(want), "notice: blob object %s has no row (slipway gc removes it)",
             orphan);
    CHECK(strstr(f.text, want) != NULL);
    snprintf(want, sizeof(want), "notice: upload session %s has no row", stray);
    CHECK(strstr(f.text, want) != NULL);
    CHECK_INT_EQ(r.notices, 2);
    CHECK_INT_EQ(r.damage, 0);
    CHECK_INT_EQ(r.repaired, 0);
    /* notices are left for gc, even with --repair */
    CHECK(sw_path_exists(path));
    int64_t offset = -1;
    CHECK_INT_EQ(reg_backend_upload_offset(reg_store_backend(store), stray, &offset, &err), 0);
    free(path);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
}

static void test_upload_session_without_file(void)
{
    char *dir = scratch_dir("reg-fsck-upload");
    reg_store *store = open_store(dir);
    sw_error *err = NULL;
    char uuid[REG_UUID_LEN + 1];
    CHECK_INT_EQ(reg_upload_start(store, "demo/app", uuid, &err), 0);
    struct findings f;
    struct reg_fsck_result r;
    CHECK_INT_EQ(run_fsck(store, 0, &f, &r), 0);
    CHECK_STR_EQ(f.text, ""); /* a live session with its bytes */
    /* the backend's session goes behind the database's back */
    CHECK_INT_EQ(reg_backend_upload_cancel(reg_store_backend(store), uuid, &err), 0);
    CHECK_INT_EQ(run_fsck(store, 0, &f, &r), 0);
    char want[256];
    snprintf(want, sizeof(want), "damage: upload session %s is missing from the store\n", uuid);
    CHECK_STR_EQ(f.text, want);
    CHECK_INT_EQ(run_fsck(store, 1, &f, &r), 0);
    snprintf(want, sizeof(want), "repaired: upload session %s removed", uuid);
    CHECK(strstr(f.text, want) != NULL);
    CHECK_INT_EQ(run_fsck(store, 0, &f, &r), 0);
    CHECK_STR_EQ(f.text, "");
    int64_t offset = 0;
    CHECK_INT_EQ(reg_upload_offset(store, "demo/app", uuid, &offset, &err),
                 REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
}

static void test_dangling_tag_and_child(void)
{
    char *dir = scratch_dir("reg-fsck-refs");
    reg_store *store = open_store(dir);
    char config[SW_DIGEST_MAX], layer[SW_DIGEST_MAX], m[SW_DIGEST_MAX], idx[SW_DIGEST_MAX];
    put_blob(store, "{}", config);
    put_blob(store, "layer-bytes", layer);
    put_image(store, "1", config, 2, layer, 11, m);
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_INDEX "\",\"manifests\":[{"
             "\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
             "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
             m);
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_manifest_put(store, "demo/app", "multi", REG_MT_OCI_INDEX, body, strlen(body),
                                  idx, NULL, &err),
                 0);
    if (err)
        fprintf(stderr, "index: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    /* the image's row goes behind the database's back: its tag and the
     * index's reference now dangle */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "PRAGMA foreign_keys=OFF; DELETE FROM manifests WHERE digest='%s'; "
             "PRAGMA foreign_keys=ON;",
             m);
    exec_sql(store, sql);
    struct findings f;
    struct reg_fsck_result r;
    CHECK_INT_EQ(run_fsck(store, 0, &f, &r), 0);
    char want[512];
    snprintf(want, sizeof(want), "damage: a tag of demo/app points to missing manifest %s", m);
    CHECK(strstr(f.text, want) != NULL);
    snprintf(want, sizeof(want), "damage: manifest demo/app@%s: child manifest %s is missing", idx,
             m);
    CHECK(strstr(f.text, want) != NULL);
    CHECK(r.damage >= 2);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
}

int main(void)
{
    RUN(test_clean_store);
    RUN(test_damaged_blobs_and_repair);
    RUN(test_stray_files_are_notices);
    RUN(test_upload_session_without_file);
    RUN(test_dangling_tag_and_child);
    return TEST_EXIT();
}
