/*
 * test_meta.c - registry/meta.c through a real SQLite store: repositories,
 * blob rows and links, upload sessions, manifests with their references,
 * tags, paging, referrers, the GC re-checks and quick_check, each with its
 * "not there" answer (the REG_E_* code a client's error is made from).
 */
#include <unistd.h>

#include "core/hash.h"
#include "registry/meta.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;
static reg_store *store;
static sw_db *db;

static void digest_of(const char *text, char out[SW_DIGEST_MAX])
{
    sw_sha256_digest(text, strlen(text), out);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int count_cb(void *ctx, int64_t repo_id, const char *name)
{
    (void)repo_id;
    (void)name;
    (*(int *)ctx)++;
    return 0;
}

static void test_repositories(void)
{
    sw_error *err = NULL;
    int64_t id = 0, again = 0, found = 0;
    CHECK_INT_EQ(reg_meta_repo_find(db, "team/app", &found, &err), REG_E_NAME_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_meta_repo_ensure(db, "team/app", &id, &err), 0);
    CHECK_INT_EQ(reg_meta_repo_ensure(db, "team/app", &again, &err), 0);
    CHECK_INT_EQ(again, id);
    CHECK_INT_EQ(reg_meta_repo_find(db, "team/app", &found, &err), 0);
    CHECK_INT_EQ(found, id);
    CHECK_INT_EQ(reg_meta_repo_ensure(db, "team/other", &again, &err), 0);
    CHECK(again != id);
    int n = 0;
    CHECK_INT_EQ(reg_meta_repo_each(db, count_cb, &n, &err), 0);
    CHECK_INT_EQ(n, 2);
    CHECK(reg_meta_now() > 1600000000);
}

static void test_blobs_and_links(void)
{
    sw_error *err = NULL;
    char d[SW_DIGEST_MAX];
    int64_t repo = 0, size = -1, rid = 0, touched = 0;
    int linked = -1, removed = -1;
    digest_of("blob one", d);
    CHECK_INT_EQ(reg_meta_blob_size(db, d, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_meta_blob_insert(db, d, 8, 1000, &err), 0);
    CHECK_INT_EQ(reg_meta_blob_size(db, d, &size, &err), 0);
    CHECK_INT_EQ(size, 8);

    CHECK_INT_EQ(reg_meta_repo_ensure(db, "links/app", &repo, &err), 0);
    CHECK_INT_EQ(reg_meta_blob_linked(db, "links/app", d, &rid, &size, &touched, &err),
                 REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_meta_blob_is_linked(db, repo, d, &linked, &err), 0);
    CHECK_INT_EQ(linked, 0);
    CHECK_INT_EQ(reg_meta_blob_link(db, repo, d, 2000, &err), 0);
    CHECK_INT_EQ(reg_meta_blob_link(db, repo, d, 2001, &err), 0); /* refresh, no duplicate */
    CHECK_INT_EQ(reg_meta_blob_linked(db, "links/app", d, &rid, &size, &touched, &err), 0);
    CHECK_INT_EQ(rid, repo);
    CHECK_INT_EQ(size, 8);
    CHECK_INT_EQ(touched, 2001);
    CHECK_INT_EQ(reg_meta_blob_touch(db, repo, d, 3000, &err), 0);
    CHECK_INT_EQ(reg_meta_blob_linked(db, "links/app", d, &rid, &size, &touched, &err), 0);
    CHECK_INT_EQ(touched, 3000);
    /* another repository does not see the link */
    CHECK_INT_EQ(reg_meta_blob_linked(db, "team/app", d, &rid, &size, &touched, &err),
                 REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);

    int unref = -1;
    CHECK_INT_EQ(reg_meta_blob_unreferenced(db, d, 2500, &unref, &err), 0);
    CHECK_INT_EQ(unref, 0); /* link touched after the cutoff */
    CHECK_INT_EQ(reg_meta_blob_unreferenced(db, d, 5000, &unref, &err), 0);
    CHECK_INT_EQ(unref, 1);

    CHECK_INT_EQ(reg_meta_blob_unlink(db, repo, d, &removed, &err), 0);
    CHECK_INT_EQ(removed, 1);
    CHECK_INT_EQ(reg_meta_blob_unlink(db, repo, d, &removed, &err), 0);
    CHECK_INT_EQ(removed, 0);
    CHECK_INT_EQ(reg_meta_blob_is_linked(db, repo, d, &linked, &err), 0);
    CHECK_INT_EQ(linked, 0);

    CHECK_INT_EQ(reg_meta_blob_link(db, repo, d, 4000, &err), 0);
    CHECK_INT_EQ(reg_meta_blob_forget(db, d, &err), 0);
    CHECK_INT_EQ(reg_meta_blob_size(db, d, &size, &err), REG_E_BLOB_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_meta_blob_is_linked(db, repo, d, &linked, &err), 0);
    CHECK_INT_EQ(linked, 0); /* forget drops the links too */
}

static int stale_cb(void *ctx, const char *uuid)
{
    char *seen = ctx;
    strcat(seen, uuid);
    strcat(seen, ";");
    return 0;
}

static void test_uploads(void)
{
    sw_error *err = NULL;
    int64_t repo = 0, rid = 0;
    int exists = -1;
    CHECK_INT_EQ(reg_meta_repo_ensure(db, "up/app", &repo, &err), 0);
    CHECK_INT_EQ(reg_meta_upload_find(db, "u-1", "up/app", &rid, &err), REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_meta_upload_insert(db, "u-1", repo, 100, &err), 0);
    CHECK_INT_EQ(reg_meta_upload_insert(db, "u-2", repo, 500, &err), 0);
    CHECK_INT_EQ(reg_meta_upload_find(db, "u-1", "up/app", &rid, &err), 0);
    CHECK_INT_EQ(rid, repo);
    /* a session of another repository is unknown to this one */
    CHECK_INT_EQ(reg_meta_upload_find(db, "u-1", "team/app", &rid, &err),
                 REG_E_BLOB_UPLOAD_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_meta_upload_exists(db, "u-1", &exists, &err), 0);
    CHECK_INT_EQ(exists, 1);

    char seen[256] = "";
    CHECK_INT_EQ(reg_meta_upload_each_stale(db, 200, stale_cb, seen, &err), 0);
    CHECK_STR_EQ(seen, "u-1;");
    CHECK_INT_EQ(reg_meta_upload_touch(db, "u-1", 900, &err), 0);
    seen[0] = '\0';
    CHECK_INT_EQ(reg_meta_upload_each_stale(db, 600, stale_cb, seen, &err), 0);
    CHECK_STR_EQ(seen, "u-2;");

    CHECK_INT_EQ(reg_meta_upload_delete(db, "u-1", &err), 0);
    CHECK_INT_EQ(reg_meta_upload_exists(db, "u-1", &exists, &err), 0);
    CHECK_INT_EQ(exists, 0);
    CHECK_INT_EQ(reg_meta_upload_delete(db, "u-2", &err), 0);
}

static int referrer_cb(void *ctx, const struct reg_meta_manifest_row *row)
{
    char *seen = ctx;
    strcat(seen, row->artifact_type ? row->artifact_type : "-");
    strcat(seen, ";");
    return 0;
}

static void test_manifests_and_tags(void)
{
    sw_error *err = NULL;
    int64_t repo = 0, size = 0;
    int exists = -1, removed = -1, unreachable = -1;
    char m[SW_DIGEST_MAX], child[SW_DIGEST_MAX], sig[SW_DIGEST_MAX], sbom[SW_DIGEST_MAX];
    char got[SW_DIGEST_MAX];
    char *mt = NULL;
    digest_of("manifest", m);
    digest_of("child", child);
    digest_of("signature", sig);
    digest_of("sbom", sbom);
    CHECK_INT_EQ(reg_meta_repo_ensure(db, "m/app", &repo, &err), 0);

    CHECK_INT_EQ(reg_meta_manifest_find(db, "m/app", m, &mt, &size, &err), REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_meta_tag_resolve(db, "m/app", "1", got, &err), REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);

    struct reg_meta_manifest_row row = { .repo_id = repo,
                                         .digest = m,
                                         .media_type = "application/vnd.oci.image.index.v1+json",
                                         .size = 321,
                                         .created_at = 1000 };
    CHECK_INT_EQ(reg_meta_manifest_upsert(db, &row, &err), 0);
    CHECK_INT_EQ(reg_meta_manifest_upsert(db, &row, &err), 0); /* identical: fine */
    struct reg_meta_manifest_row c = { .repo_id = repo,
                                       .digest = child,
                                       .media_type = "application/vnd.oci.image.manifest.v1+json",
                                       .size = 10,
                                       .created_at = 1000 };
    CHECK_INT_EQ(reg_meta_manifest_upsert(db, &c, &err), 0);
    CHECK_INT_EQ(reg_meta_manifest_ref_insert(db, repo, m, child, "manifest", &err), 0);
    CHECK_INT_EQ(reg_meta_manifest_ref_insert(db, repo, m, child, "manifest", &err), 0);

    CHECK_INT_EQ(reg_meta_manifest_exists(db, repo, m, &exists, &err), 0);
    CHECK_INT_EQ(exists, 1);
    CHECK_INT_EQ(reg_meta_manifest_find(db, "m/app", m, &mt, &size, &err), 0);
    CHECK_STR_EQ(mt, "application/vnd.oci.image.index.v1+json");
    CHECK_INT_EQ(size, 321);
    free(mt);
    mt = NULL;
    /* the same digest under another repository name is unknown */
    CHECK_INT_EQ(reg_meta_manifest_find(db, "team/app", m, &mt, &size, &err),
                 REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);

    /* the child is kept alive by its parent index */
    CHECK_INT_EQ(reg_meta_manifest_unreachable(db, repo, child, 5000, &unreachable, &err), 0);
    CHECK_INT_EQ(unreachable, 0);

    /* referrers, by subject and optionally artifact type */
    struct reg_meta_manifest_row r1 = { .repo_id = repo,
                                        .digest = sig,
                                        .media_type = "application/vnd.oci.image.manifest.v1+json",
                                        .size = 5,
                                        .artifact_type = "application/vnd.dev.cosign",
                                        .subject = m,
                                        .created_at = 1100 };
    struct reg_meta_manifest_row r2 = r1;
    r2.digest = sbom;
    r2.artifact_type = "application/spdx+json";
    CHECK_INT_EQ(reg_meta_manifest_upsert(db, &r1, &err), 0);
    CHECK_INT_EQ(reg_meta_manifest_upsert(db, &r2, &err), 0);
    char seen[512] = "";
    CHECK_INT_EQ(reg_meta_referrers_each(db, repo, m, NULL, referrer_cb, seen, &err), 0);
    CHECK(strstr(seen, "application/vnd.dev.cosign;") && strstr(seen, "application/spdx+json;"));
    seen[0] = '\0';
    CHECK_INT_EQ(
        reg_meta_referrers_each(db, repo, m, "application/spdx+json", referrer_cb, seen, &err), 0);
    CHECK_STR_EQ(seen, "application/spdx+json;");
    seen[0] = '\0';
    CHECK_INT_EQ(reg_meta_referrers_each(db, repo, child, NULL, referrer_cb, seen, &err), 0);
    CHECK_STR_EQ(seen, "");

    /* tags */
    CHECK_INT_EQ(reg_meta_tag_set(db, repo, "1", m, 1200, &err), 0);
    CHECK_INT_EQ(reg_meta_tag_set(db, repo, "latest", m, 1200, &err), 0);
    CHECK_INT_EQ(reg_meta_tag_set(db, repo, "child", child, 1200, &err), 0);
    CHECK_INT_EQ(reg_meta_tag_resolve(db, "m/app", "1", got, &err), 0);
    CHECK_STR_EQ(got, m);
    CHECK_INT_EQ(reg_meta_tag_set(db, repo, "child", m, 1300, &err), 0); /* moves */
    CHECK_INT_EQ(reg_meta_tag_resolve(db, "m/app", "child", got, &err), 0);
    CHECK_STR_EQ(got, m);
    CHECK_INT_EQ(reg_meta_tag_delete(db, repo, "child", &removed, &err), 0);
    CHECK_INT_EQ(removed, 1);
    CHECK_INT_EQ(reg_meta_tag_delete(db, repo, "child", &removed, &err), 0);
    CHECK_INT_EQ(removed, 0);

    /* deleting the manifest drops its tags and references */
    CHECK_INT_EQ(reg_meta_manifest_delete(db, repo, m, &removed, &err), 0);
    CHECK_INT_EQ(removed, 1);
    CHECK_INT_EQ(reg_meta_tag_resolve(db, "m/app", "latest", got, &err), REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_meta_manifest_exists(db, repo, m, &exists, &err), 0);
    CHECK_INT_EQ(exists, 0);
    CHECK_INT_EQ(reg_meta_manifest_delete(db, repo, m, &removed, &err), 0);
    CHECK_INT_EQ(removed, 0);
    CHECK_INT_EQ(reg_meta_manifest_unreachable(db, repo, child, 5000, &unreachable, &err), 0);
    CHECK_INT_EQ(unreachable, 1);
    /* pushed after the cutoff: still in its grace period */
    CHECK_INT_EQ(reg_meta_manifest_unreachable(db, repo, child, 500, &unreachable, &err), 0);
    CHECK_INT_EQ(unreachable, 0);
}

static void test_paging(void)
{
    sw_error *err = NULL;
    int64_t repo = 0;
    char m[SW_DIGEST_MAX];
    digest_of("paged", m);
    CHECK_INT_EQ(reg_meta_repo_ensure(db, "p/app", &repo, &err), 0);
    struct reg_meta_manifest_row row = { .repo_id = repo,
                                         .digest = m,
                                         .media_type = "application/vnd.oci.image.manifest.v1+json",
                                         .size = 1,
                                         .created_at = 1 };
    CHECK_INT_EQ(reg_meta_manifest_upsert(db, &row, &err), 0);
    const char *tags[] = { "b", "a", "c", "B" };
    for (size_t i = 0; i < 4; i++)
        CHECK_INT_EQ(reg_meta_tag_set(db, repo, tags[i], m, 1, &err), 0);

    char **names = NULL;
    size_t count = 0;
    int more = -1;
    CHECK_INT_EQ(reg_meta_tags_page(db, repo, NULL, 2, &names, &count, &more, &err), 0);
    CHECK_INT_EQ(count, 2);
    CHECK_INT_EQ(more, 1);
    if (count == 2) {
        CHECK_STR_EQ(names[0], "B"); /* byte order */
        CHECK_STR_EQ(names[1], "a");
    }
    free_names(names, count);
    CHECK_INT_EQ(reg_meta_tags_page(db, repo, "a", 10, &names, &count, &more, &err), 0);
    CHECK_INT_EQ(count, 2);
    CHECK_INT_EQ(more, 0);
    if (count == 2) {
        CHECK_STR_EQ(names[0], "b");
        CHECK_STR_EQ(names[1], "c");
    }
    free_names(names, count);
    CHECK_INT_EQ(reg_meta_tags_page(db, repo, NULL, -1, &names, &count, &more, &err), 0);
    CHECK_INT_EQ(count, 4);
    CHECK_INT_EQ(more, 0);
    free_names(names, count);
    CHECK_INT_EQ(reg_meta_tags_page(db, repo, "zzz", 5, &names, &count, &more, &err), 0);
    CHECK_INT_EQ(count, 0);
    free_names(names, count);

    CHECK_INT_EQ(reg_meta_catalog_page(db, NULL, 1, &names, &count, &more, &err), 0);
    CHECK_INT_EQ(count, 1);
    CHECK_INT_EQ(more, 1);
    free_names(names, count);
    CHECK_INT_EQ(reg_meta_catalog_page(db, "p/app", -1, &names, &count, &more, &err), 0);
    for (size_t i = 0; i < count; i++)
        CHECK(strcmp(names[i], "p/app") > 0);
    CHECK_INT_EQ(more, 0);
    free_names(names, count);
}

static int line_cb(void *ctx, const char *line)
{
    snprintf(ctx, 64, "%s", line);
    return 0;
}

static void test_quick_check(void)
{
    sw_error *err = NULL;
    char line[64] = "";
    CHECK_INT_EQ(reg_meta_quick_check(db, line_cb, line, &err), 0);
    CHECK_STR_EQ(line, "ok");
}

/* a walk stopped by a callback's SW_ENOMEM gets a message naming the walk;
 * other results pass through untouched */
static void test_walked(void)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_meta_walked(0, &err, "gc", "tags"), 0);
    CHECK(err == NULL);
    CHECK_INT_EQ(reg_meta_walked(SW_EIO, &err, "gc", "tags"), SW_EIO);
    CHECK(err == NULL);
    CHECK_INT_EQ(reg_meta_walked(SW_ENOMEM, &err, "fsck", "blobs"), SW_ENOMEM);
    CHECK_STR_EQ(sw_error_message(err), "fsck: blobs: out of memory");
    CHECK_INT_EQ(sw_error_code(err), SW_ENOMEM);
    sw_error_clear(&err);
}

int main(void)
{
    sw_error *err = NULL;
    dir = scratch_dir("reg-meta");
    if (reg_store_open(dir, NULL, &store, &err) != 0 || reg_store_db(store, &db, &err) != 0) {
        fprintf(stderr, "store: %s\n", sw_error_message(err));
        return 2;
    }
    RUN(test_repositories);
    RUN(test_blobs_and_links);
    RUN(test_uploads);
    RUN(test_manifests_and_tags);
    RUN(test_paging);
    RUN(test_quick_check);
    RUN(test_walked);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
