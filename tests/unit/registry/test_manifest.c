/*
 * test_manifest.c - registry/manifest.c: what a client sees pushing and
 * pulling manifests: each media type accepted, bad ones refused with the
 * right error, references checked, tags moving, deletes, tag and catalog
 * pagination, and the referrers index.
 */
#include <string.h>

#include "core/hash.h"
#include "registry/blobstore.h"
#include "registry/manifest.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static reg_store *open_store(const char *dir, int delete_enabled)
{
    struct reg_options opts = { .delete_enabled = delete_enabled };
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

/* An image manifest with one layer, of the given media type (NULL: no
 * mediaType field), optional subject and artifactType. */
static char *image_manifest(const char *media_type, const char *config, const char *layer,
                            const char *subject, const char *artifact_type)
{
    char *out = NULL, mt[200] = "", subj[300] = "", at[200] = "";
    if (media_type)
        snprintf(mt, sizeof(mt), "\"mediaType\":\"%s\",", media_type);
    if (subject)
        snprintf(subj, sizeof(subj),
                 ",\"subject\":{\"mediaType\":\"" REG_MT_OCI_MANIFEST
                 "\",\"digest\":\"%s\",\"size\":10}",
                 subject);
    if (artifact_type)
        snprintf(at, sizeof(at), "\"artifactType\":\"%s\",", artifact_type);
    if (asprintf(&out,
                 "{\"schemaVersion\":2,%s%s"
                 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                 "\"digest\":\"%s\",\"size\":2},"
                 "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                 "\"digest\":\"%s\",\"size\":5}],"
                 "\"annotations\":{\"org.example\":\"yes\"}%s}",
                 mt, at, config, layer, subj) < 0)
        abort();
    return out;
}

static char *index_manifest(const char *media_type, const char *child)
{
    char *out = NULL;
    if (asprintf(&out,
                 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\","
                 "\"digest\":\"%s\",\"size\":100,\"platform\":{\"architecture\":\"amd64\","
                 "\"os\":\"linux\"}}]}",
                 media_type, REG_MT_OCI_MANIFEST, child) < 0)
        abort();
    return out;
}

static int put(reg_store *store, const char *repo, const char *ref, const char *ct,
               const char *body, char digest[SW_DIGEST_MAX])
{
    sw_error *err = NULL;
    char local[SW_DIGEST_MAX];
    int rc = reg_manifest_put(store, repo, ref, ct, body, strlen(body), digest ? digest : local,
                              NULL, &err);
    sw_error_clear(&err);
    return rc;
}

static void test_put_get_image_manifest(void)
{
    char *dir = scratch_dir("reg-manifest");
    reg_store *store = open_store(dir, 1);
    sw_error *err = NULL;
    char config[SW_DIGEST_MAX], layer[SW_DIGEST_MAX], digest[SW_DIGEST_MAX],
        body_digest[SW_DIGEST_MAX];
    put_blob(store, "demo/app", "{}", config);
    put_blob(store, "demo/app", "layer", layer);
    char *body = image_manifest(REG_MT_OCI_MANIFEST, config, layer, NULL, NULL);
    sw_sha256_digest(body, strlen(body), body_digest);

    CHECK_INT_EQ(put(store, "demo/app", "v1", REG_MT_OCI_MANIFEST, body, digest), 0);
    CHECK_STR_EQ(digest, body_digest);

    struct reg_manifest m;
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "v1", 1, &m, &err), 0);
    CHECK_STR_EQ(m.digest, body_digest);
    CHECK_STR_EQ(m.media_type, REG_MT_OCI_MANIFEST);
    CHECK_INT_EQ(m.size, strlen(body));
    CHECK_STR_EQ(m.body, body);
    reg_manifest_release(&m);
    /* by digest, HEAD style */
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", body_digest, 0, &m, &err), 0);
    CHECK(m.body == NULL);
    CHECK_INT_EQ(m.size, strlen(body));
    reg_manifest_release(&m);
    /* the body is also a blob of the repository */
    int64_t size = 0;
    CHECK_INT_EQ(reg_blob_stat(store, "demo/app", body_digest, &size, &err), 0);

    /* unknown things */
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "v2", 1, &m, &err), REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_manifest_get(store, "nope/app", "v1", 1, &m, &err), REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_manifest_get(store, "other/app", body_digest, 1, &m, &err),
                 REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);

    /* push by digest: must match the body */
    CHECK_INT_EQ(put(store, "demo/app", body_digest, REG_MT_OCI_MANIFEST, body, NULL), 0);
    CHECK_INT_EQ(put(store, "demo/app", config, REG_MT_OCI_MANIFEST, body, NULL),
                 REG_E_DIGEST_INVALID);
    CHECK_INT_EQ(put(store, "demo/app", "bad tag!", REG_MT_OCI_MANIFEST, body, NULL),
                 REG_E_TAG_INVALID);
    CHECK_INT_EQ(put(store, "Demo/App", "v1", REG_MT_OCI_MANIFEST, body, NULL), REG_E_NAME_INVALID);
    free(body);
    reg_store_close(store);
    free(dir);
}

static void test_media_types(void)
{
    char *dir = scratch_dir("reg-mediatypes");
    reg_store *store = open_store(dir, 1);
    sw_error *err = NULL;
    char config[SW_DIGEST_MAX], layer[SW_DIGEST_MAX], child[SW_DIGEST_MAX];
    put_blob(store, "demo/app", "{}", config);
    put_blob(store, "demo/app", "layer", layer);

    /* Docker schema 2, declared both ways */
    char *docker = image_manifest(REG_MT_DOCKER_MANIFEST, config, layer, NULL, NULL);
    CHECK_INT_EQ(put(store, "demo/app", "docker", REG_MT_DOCKER_MANIFEST, docker, child), 0);
    /* Content-Type with parameters still matches */
    CHECK_INT_EQ(
        put(store, "demo/app", "docker2", REG_MT_DOCKER_MANIFEST "; charset=utf-8", docker, NULL),
        0);
    /* field and header disagree */
    CHECK_INT_EQ(put(store, "demo/app", "bad", REG_MT_OCI_MANIFEST, docker, NULL),
                 REG_E_MANIFEST_INVALID);
    free(docker);

    /* OCI manifest without mediaType: Content-Type decides */
    char *bare = image_manifest(NULL, config, layer, NULL, NULL);
    CHECK_INT_EQ(put(store, "demo/app", "bare", REG_MT_OCI_MANIFEST, bare, NULL), 0);
    struct reg_manifest m;
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "bare", 0, &m, &err), 0);
    CHECK_STR_EQ(m.media_type, REG_MT_OCI_MANIFEST);
    reg_manifest_release(&m);
    CHECK_INT_EQ(put(store, "demo/app", "bare2", "application/octet-stream", bare, NULL),
                 REG_E_MANIFEST_INVALID);
    free(bare);

    /* both index types, child present */
    char *oci_index = index_manifest(REG_MT_OCI_INDEX, child);
    char *docker_list = index_manifest(REG_MT_DOCKER_LIST, child);
    CHECK_INT_EQ(put(store, "demo/app", "index", REG_MT_OCI_INDEX, oci_index, NULL), 0);
    CHECK_INT_EQ(put(store, "demo/app", "list", REG_MT_DOCKER_LIST, docker_list, NULL), 0);
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "list", 1, &m, &err), 0);
    CHECK_STR_EQ(m.media_type, REG_MT_DOCKER_LIST);
    CHECK_STR_EQ(m.body, docker_list);
    reg_manifest_release(&m);
    /* an index whose child is not in the repository */
    CHECK_INT_EQ(put(store, "other/app", "index", REG_MT_OCI_INDEX, oci_index, NULL),
                 REG_E_MANIFEST_BLOB_UNKNOWN);
    free(oci_index);
    free(docker_list);

    /* invalid documents */
    const char *invalid[] = {
        "not json",
        "[]",
        "{\"schemaVersion\":1,\"config\":{}}",
        "{\"schemaVersion\":2}",
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:abc\","
        "\"size\":1},\"layers\":[]}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
        "\"manifests\":[{\"digest\":\"sha256:0\"}]}",
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.unknown+json\","
        "\"manifests\":[]}",
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        int rc = put(store, "demo/app", "invalid", NULL, invalid[i], NULL);
        if (rc != REG_E_MANIFEST_INVALID)
            fprintf(stderr, "  case %zu: %d\n", i, rc);
        CHECK_INT_EQ(rc, REG_E_MANIFEST_INVALID);
    }
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "invalid", 0, &m, &err),
                 REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);
    reg_store_close(store);
    free(dir);
}

static void test_missing_blob_and_size_limit(void)
{
    char *dir = scratch_dir("reg-missing");
    struct reg_options opts = { .delete_enabled = 1, .max_manifest_size = 600 };
    reg_store *store = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_store_open(dir, &opts, &store, &err), 0);
    char config[SW_DIGEST_MAX], layer[SW_DIGEST_MAX];
    put_blob(store, "demo/app", "{}", config);
    put_blob(store, "other/app", "layer", layer); /* linked elsewhere only */
    char *body = image_manifest(REG_MT_OCI_MANIFEST, config, layer, NULL, NULL);
    CHECK_INT_EQ(put(store, "demo/app", "v1", REG_MT_OCI_MANIFEST, body, NULL),
                 REG_E_MANIFEST_BLOB_UNKNOWN);
    CHECK_INT_EQ(reg_blob_link(store, "demo/app", layer, &err), 0);
    CHECK_INT_EQ(put(store, "demo/app", "v1", REG_MT_OCI_MANIFEST, body, NULL), 0);
    free(body);
    char big[700];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    CHECK_INT_EQ(put(store, "demo/app", "big", REG_MT_OCI_MANIFEST, big, NULL), REG_E_TOO_LARGE);
    reg_store_close(store);
    free(dir);
}

static void test_tags_move_and_delete(void)
{
    char *dir = scratch_dir("reg-tags");
    reg_store *store = open_store(dir, 1);
    sw_error *err = NULL;
    char config[SW_DIGEST_MAX], l1[SW_DIGEST_MAX], l2[SW_DIGEST_MAX], d1[SW_DIGEST_MAX],
        d2[SW_DIGEST_MAX];
    put_blob(store, "demo/app", "{}", config);
    put_blob(store, "demo/app", "one", l1);
    put_blob(store, "demo/app", "two", l2);
    char *m1 = image_manifest(REG_MT_OCI_MANIFEST, config, l1, NULL, NULL);
    char *m2 = image_manifest(REG_MT_OCI_MANIFEST, config, l2, NULL, NULL);
    CHECK_INT_EQ(put(store, "demo/app", "latest", REG_MT_OCI_MANIFEST, m1, d1), 0);
    CHECK_INT_EQ(put(store, "demo/app", "v1", REG_MT_OCI_MANIFEST, m1, NULL), 0);
    CHECK_INT_EQ(put(store, "demo/app", "latest", REG_MT_OCI_MANIFEST, m2, d2), 0);
    struct reg_manifest m;
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "latest", 0, &m, &err), 0);
    CHECK_STR_EQ(m.digest, d2);
    reg_manifest_release(&m);
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "v1", 0, &m, &err), 0);
    CHECK_STR_EQ(m.digest, d1);
    reg_manifest_release(&m);

    /* delete by tag: only the tag goes */
    CHECK_INT_EQ(reg_manifest_delete(store, "demo/app", "v1", &err), 0);
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "v1", 0, &m, &err), REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", d1, 0, &m, &err), 0);
    reg_manifest_release(&m);
    CHECK_INT_EQ(reg_manifest_delete(store, "demo/app", "v1", &err), REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);

    /* delete by digest: the manifest and its tags go */
    CHECK_INT_EQ(reg_manifest_delete(store, "demo/app", d2, &err), 0);
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", d2, 0, &m, &err), REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_manifest_get(store, "demo/app", "latest", 0, &m, &err),
                 REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_manifest_delete(store, "demo/app", d2, &err), REG_E_MANIFEST_UNKNOWN);
    sw_error_clear(&err);
    char **tags = NULL;
    size_t count = 0;
    int more = 1;
    CHECK_INT_EQ(reg_tags_list(store, "demo/app", NULL, -1, &tags, &count, &more, &err), 0);
    CHECK_INT_EQ(count, 0);
    reg_string_list_free(tags, count);
    reg_store_close(store);

    /* delete disabled */
    store = open_store(dir, 0);
    CHECK_INT_EQ(reg_manifest_delete(store, "demo/app", d1, &err), REG_E_UNSUPPORTED);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_blob_delete(store, "demo/app", l1, &err), REG_E_UNSUPPORTED);
    sw_error_clear(&err);
    free(m1);
    free(m2);
    reg_store_close(store);
    free(dir);
}

/* Joins a page of names with ',' for one-line comparisons. */
static void page(reg_store *store, const char *repo, const char *last, int n, char *out,
                 size_t size, int *more)
{
    char **names = NULL;
    size_t count = 0;
    sw_error *err = NULL;
    int rc = repo ? reg_tags_list(store, repo, last, n, &names, &count, more, &err)
                  : reg_catalog_list(store, last, n, &names, &count, more, &err);
    out[0] = '\0';
    if (rc != 0) {
        snprintf(out, size, "error %d", rc);
        sw_error_clear(&err);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        strncat(out, names[i], size - strlen(out) - 1);
        if (i + 1 < count)
            strncat(out, ",", size - strlen(out) - 1);
    }
    reg_string_list_free(names, count);
}

static void test_pagination(void)
{
    char *dir = scratch_dir("reg-pages");
    reg_store *store = open_store(dir, 1);
    char config[SW_DIGEST_MAX], layer[SW_DIGEST_MAX], out[512];
    int more = -1;
    put_blob(store, "demo/app", "{}", config);
    put_blob(store, "demo/app", "layer", layer);
    char *body = image_manifest(REG_MT_OCI_MANIFEST, config, layer, NULL, NULL);
    /* byte order: upper case before lower, '-' before digits */
    const char *tags[] = { "b", "a", "C", "a-1", "a1", "z" };
    for (size_t i = 0; i < 6; i++)
        CHECK_INT_EQ(put(store, "demo/app", tags[i], REG_MT_OCI_MANIFEST, body, NULL), 0);
    page(store, "demo/app", NULL, -1, out, sizeof(out), &more);
    CHECK_STR_EQ(out, "C,a,a-1,a1,b,z");
    CHECK_INT_EQ(more, 0);
    page(store, "demo/app", NULL, 2, out, sizeof(out), &more);
    CHECK_STR_EQ(out, "C,a");
    CHECK_INT_EQ(more, 1);
    page(store, "demo/app", "a", 2, out, sizeof(out), &more);
    CHECK_STR_EQ(out, "a-1,a1");
    CHECK_INT_EQ(more, 1);
    page(store, "demo/app", "a1", 2, out, sizeof(out), &more);
    CHECK_STR_EQ(out, "b,z");
    CHECK_INT_EQ(more, 0);
    page(store, "demo/app", "z", 5, out, sizeof(out), &more);
    CHECK_STR_EQ(out, "");
    CHECK_INT_EQ(more, 0);
    page(store, "demo/app", "zzz", -1, out, sizeof(out), &more); /* last beyond the end */
    CHECK_STR_EQ(out, "");
    page(store, "demo/app", NULL, 0, out, sizeof(out), &more);
    CHECK_STR_EQ(out, "");
    CHECK_INT_EQ(more, 0);
    page(store, "demo/app", NULL, 6, out, sizeof(out), &more);
    CHECK_INT_EQ(more, 0); /* exactly all: nothing more */
    page(store, "nope/app", NULL, -1, out, sizeof(out), &more);
    CHECK_STR_EQ(out, "error -109"); /* REG_E_NAME_UNKNOWN */

    put_blob(store, "b/x", "x", layer);
    put_blob(store, "a.b/y", "y", layer);
    page(store, NULL, NULL, -1, out, sizeof(out), &more);
    CHECK_STR_EQ(out, "a.b/y,b/x,demo/app");
    page(store, NULL, "a.b/y", 1, out, sizeof(out), &more);
    CHECK_STR_EQ(out, "b/x");
    CHECK_INT_EQ(more, 1);
    free(body);
    reg_store_close(store);
    free(dir);
}

static void test_referrers(void)
{
    char *dir = scratch_dir("reg-referrers");
    reg_store *store = open_store(dir, 1);
    sw_error *err = NULL;
    char config[SW_DIGEST_MAX], layer[SW_DIGEST_MAX], subject[SW_DIGEST_MAX], sig[SW_DIGEST_MAX],
        sbom[SW_DIGEST_MAX], subject_out[SW_DIGEST_MAX];
    put_blob(store, "demo/app", "{}", config);
    put_blob(store, "demo/app", "layer", layer);
    char *image = image_manifest(REG_MT_OCI_MANIFEST, config, layer, NULL, NULL);
    sw_sha256_digest(image, strlen(image), subject);
    /* referrers may arrive before their subject */
    char *signature = image_manifest(REG_MT_OCI_MANIFEST, config, layer, subject,
                                     "application/vnd.example.signature");
    CHECK_INT_EQ(reg_manifest_put(store, "demo/app", NULL, REG_MT_OCI_MANIFEST, signature,
                                  strlen(signature), sig, subject_out, &err),
                 0);
    CHECK_STR_EQ(subject_out, subject);
    CHECK_INT_EQ(put(store, "demo/app", "v1", REG_MT_OCI_MANIFEST, image, NULL), 0);
    /* no artifactType: the config's mediaType stands in */
    char *sbom_body = image_manifest(REG_MT_OCI_MANIFEST, config, layer, subject, NULL);
    sbom_body[strlen(sbom_body) - 1] = '\0';
    char *sbom_full = NULL;
    CHECK(asprintf(&sbom_full, "%s,\"x\":1}", sbom_body) > 0);
    CHECK_INT_EQ(put(store, "demo/app", NULL, REG_MT_OCI_MANIFEST, sbom_full, sbom), 0);

    json_t *index = NULL;
    CHECK_INT_EQ(reg_referrers(store, "demo/app", subject, NULL, &index, &err), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(index, "mediaType")), REG_MT_OCI_INDEX);
    CHECK_INT_EQ(json_integer_value(json_object_get(index, "schemaVersion")), 2);
    json_t *manifests = json_object_get(index, "manifests");
    CHECK_INT_EQ(json_array_size(manifests), 2);
    int seen_sig = 0, seen_sbom = 0;
    size_t i;
    json_t *d;
    json_array_foreach(manifests, i, d) {
        const char *digest = json_string_value(json_object_get(d, "digest"));
        const char *at = json_string_value(json_object_get(d, "artifactType"));
        CHECK_STR_EQ(json_string_value(json_object_get(d, "mediaType")), REG_MT_OCI_MANIFEST);
        CHECK(json_integer_value(json_object_get(d, "size")) > 0);
        CHECK_STR_EQ(
            json_string_value(json_object_get(json_object_get(d, "annotations"), "org.example")),
            "yes");
        if (digest && strcmp(digest, sig) == 0) {
            seen_sig = 1;
            CHECK_STR_EQ(at, "application/vnd.example.signature");
        } else if (digest && strcmp(digest, sbom) == 0) {
            seen_sbom = 1;
            CHECK_STR_EQ(at, "application/vnd.oci.image.config.v1+json");
        }
    }
    CHECK(seen_sig && seen_sbom);
    json_decref(index);

    CHECK_INT_EQ(reg_referrers(store, "demo/app", subject, "application/vnd.example.signature",
                               &index, &err),
                 0);
    manifests = json_object_get(index, "manifests");
    CHECK_INT_EQ(json_array_size(manifests), 1);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(manifests, 0), "digest")), sig);
    json_decref(index);
    /* nothing refers to the signature; unknown repository: empty index */
    CHECK_INT_EQ(reg_referrers(store, "demo/app", sig, NULL, &index, &err), 0);
    CHECK_INT_EQ(json_array_size(json_object_get(index, "manifests")), 0);
    json_decref(index);
    CHECK_INT_EQ(reg_referrers(store, "nope/app", subject, NULL, &index, &err), 0);
    CHECK_INT_EQ(json_array_size(json_object_get(index, "manifests")), 0);
    json_decref(index);
    CHECK_INT_EQ(reg_referrers(store, "demo/app", "sha256:zz", NULL, &index, &err),
                 REG_E_DIGEST_INVALID);
    sw_error_clear(&err);
    free(image);
    free(signature);
    free(sbom_body);
    free(sbom_full);
    reg_store_close(store);
    free(dir);
}

/* reg_manifest_validate: the PUT's checks without a store. */
static void test_validate_without_store(void)
{
    const char *d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const char *d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    char *image = image_manifest(REG_MT_OCI_MANIFEST, d1, d2, NULL, NULL);
    char *index = index_manifest(REG_MT_OCI_INDEX, d1);
    sw_error *err = NULL;
    size_t n = 0;
    CHECK_INT_EQ(reg_manifest_validate(image, strlen(image), NULL, &n, &err), 0);
    CHECK_INT_EQ(n, 2); /* config and layer */
    CHECK_INT_EQ(
        reg_manifest_validate(index, strlen(index), REG_MT_OCI_INDEX "; charset=utf-8", &n, &err),
        0);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(reg_manifest_validate(image, strlen(image), REG_MT_DOCKER_MANIFEST, NULL, &err),
                 REG_E_MANIFEST_INVALID);
    CHECK(strstr(sw_error_message(err), "does not match Content-Type") != NULL);
    sw_error_clear(&err);
    CHECK_INT_EQ(reg_manifest_validate(image, strlen(image) - 1, NULL, NULL, &err),
                 REG_E_MANIFEST_INVALID);
    CHECK(strstr(sw_error_message(err), "not valid JSON") != NULL);
    sw_error_clear(&err);
    free(image);
    free(index);
}

int main(void)
{
    RUN(test_put_get_image_manifest);
    RUN(test_media_types);
    RUN(test_missing_blob_and_size_limit);
    RUN(test_tags_move_and_delete);
    RUN(test_pagination);
    RUN(test_referrers);
    RUN(test_validate_without_store);
    return TEST_EXIT();
}
