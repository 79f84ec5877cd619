/*
 * test_oci.c - server/oci.c, the OCI Distribution API under /v2/, through
 * a real server on 127.0.0.1 and libcurl: blob uploads (monolithic,
 * chunked, cancelled), blob reads with ranges, manifests by tag and
 * digest, tags, the catalog, referrers, deletes (refused unless enabled),
 * and the spec's error code for each kind of bad request.
 */
#include <jansson.h>
#include <string.h>

#include "core/db.h"
#include "core/hash.h"
#include "registry/manifest.h"
#include "tests/unit/server/fixture.h"
#include "tests/unit/test.h"

static const char *octet[] = { "Content-Type: application/octet-stream", NULL };

static void digest_of(const char *data, size_t len, char out[SW_DIGEST_MAX])
{
    sw_sha256_digest(data, len, out);
}

/* the OCI error code of a reply ("" if none) */
static const char *oci_code(const struct reply *r, char *buf, size_t size)
{
    json_t *doc = json_loads(r->body, 0, NULL);
    const char *code = json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "errors"), 0), "code"));
    snprintf(buf, size, "%s", code ? code : "");
    json_decref(doc);
    return buf;
}

/* pushes a blob monolithically (POST ?digest=); the status */
static long push_blob(const struct fixture *f, const char *repo, const char *data,
                      char digest[SW_DIGEST_MAX])
{
    char path[512];
    struct reply r;
    digest_of(data, strlen(data), digest);
    snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/?digest=%s", repo, digest);
    if (request(f, "POST", path, octet, data, strlen(data), &r) != 0) {
        reply_free(&r);
        return -1;
    }
    long status = r.status;
    reply_free(&r);
    return status;
}

static char *manifest_of(const char *config_digest, size_t config_size, const char *layer_digest,
                         size_t layer_size)
{
    char *text = NULL;
    if (asprintf(&text,
                 "{\"schemaVersion\":2,"
                 "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                 "\"digest\":\"%s\",\"size\":%zu},"
                 "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                 "\"digest\":\"%s\",\"size\":%zu}]}",
                 config_digest, config_size, layer_digest, layer_size) < 0)
        abort();
    return text;
}

static void test_blobs(void)
{
    struct fixture f;
    struct reply r;
    char path[512], digest[SW_DIGEST_MAX], value[512], code[64];
    if (fixture_start(&f, "test_oci", NULL) != 0) {
        CHECK(0);
        return;
    }
    const char *data = "hello, registry";
    CHECK_INT_EQ(push_blob(&f, "demo/app", data, digest), 201);

    /* HEAD and GET */
    snprintf(path, sizeof(path), "/v2/demo/app/blobs/%s", digest);
    CHECK_INT_EQ(request(&f, "HEAD", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(reply_header_value(&r, "Docker-Content-Digest", value, sizeof(value)));
    CHECK_STR_EQ(value, digest);
    CHECK(reply_header_value(&r, "Content-Length", value, sizeof(value)));
    CHECK_INT_EQ(atol(value), strlen(data));
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(r.body, data);
    reply_free(&r);

    /* ranges */
    const char *range[] = { "Range: bytes=0-4", NULL };
    CHECK_INT_EQ(request(&f, "GET", path, range, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 206);
    CHECK_STR_EQ(r.body, "hello");
    CHECK(reply_header_value(&r, "Content-Range", value, sizeof(value)));
    CHECK_STR_EQ(value, "bytes 0-4/15");
    reply_free(&r);
    const char *beyond[] = { "Range: bytes=100-200", NULL };
    CHECK_INT_EQ(request(&f, "GET", path, beyond, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 416);
    reply_free(&r);

    /* a blob that is not there, a digest that is not one */
    CHECK_INT_EQ(request(&f, "GET",
                         "/v2/demo/app/blobs/"
                         "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                         NULL, NULL, 0, &r),
                 0);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "BLOB_UNKNOWN");
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/blobs/sha256:xyz", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 400);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "DIGEST_INVALID");
    reply_free(&r);
    /* the blob is not linked into another repository */
    snprintf(path, sizeof(path), "/v2/demo/other/blobs/%s", digest);
    CHECK_INT_EQ(request(&f, "GET", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    reply_free(&r);

    /* a monolithic push whose bytes are not the digest's */
    snprintf(path, sizeof(path), "/v2/demo/app/blobs/uploads/?digest=%s", digest);
    CHECK_INT_EQ(request(&f, "POST", path, octet, "other bytes", 11, &r), 0);
    CHECK_INT_EQ(r.status, 400);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "DIGEST_INVALID");
    reply_free(&r);
    /* an invalid repository name */
    CHECK_INT_EQ(request(&f, "POST", "/v2/Demo_App!/blobs/uploads/", octet, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 400);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "NAME_INVALID");
    reply_free(&r);
    fixture_stop(&f);
}

static void test_chunked_upload(void)
{
    struct fixture f;
    struct reply r;
    char location[1024], path[1200], digest[SW_DIGEST_MAX], value[256], code[64];
    if (fixture_start(&f, "test_oci", NULL) != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(request(&f, "POST", "/v2/demo/app/blobs/uploads/", octet, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 202);
    CHECK(reply_header_value(&r, "Location", location, sizeof(location)));
    CHECK(strncmp(location, "/v2/demo/app/blobs/uploads/", 27) == 0);
    reply_free(&r);

    const char *first[] = { "Content-Type: application/octet-stream", "Content-Range: 0-4", NULL };
    CHECK_INT_EQ(request(&f, "PATCH", location, first, "abcde", 5, &r), 0);
    CHECK_INT_EQ(r.status, 202);
    CHECK(reply_header_value(&r, "Range", value, sizeof(value)));
    CHECK_STR_EQ(value, "0-4");
    reply_free(&r);
    /* a chunk that does not start where the last ended */
    const char *gap[] = { "Content-Type: application/octet-stream", "Content-Range: 7-9", NULL };
    CHECK_INT_EQ(request(&f, "PATCH", location, gap, "xyz", 3, &r), 0);
    CHECK_INT_EQ(r.status, 416);
    reply_free(&r);
    /* the status of the session */
    CHECK_INT_EQ(request(&f, "GET", location, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 204);
    CHECK(reply_header_value(&r, "Range", value, sizeof(value)));
    CHECK_STR_EQ(value, "0-4");
    reply_free(&r);

    /* the last chunk with the digest of the whole */
    digest_of("abcdefgh", 8, digest);
    snprintf(path, sizeof(path), "%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?",
             digest);
    CHECK_INT_EQ(request(&f, "PUT", path, octet, "fgh", 3, &r), 0);
    CHECK_INT_EQ(r.status, 201);
    CHECK(reply_header_value(&r, "Docker-Content-Digest", value, sizeof(value)));
    CHECK_STR_EQ(value, digest);
    reply_free(&r);
    /* the session is gone */
    CHECK_INT_EQ(request(&f, "GET", location, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "BLOB_UPLOAD_UNKNOWN");
    reply_free(&r);

    /* a session cancelled with DELETE */
    CHECK_INT_EQ(request(&f, "POST", "/v2/demo/app/blobs/uploads/", octet, NULL, 0, &r), 0);
    CHECK(reply_header_value(&r, "Location", location, sizeof(location)));
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "DELETE", location, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 204);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "PATCH", location, first, "abcde", 5, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    reply_free(&r);
    /* a session id that never was */
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/blobs/uploads/not-a-session", NULL, NULL, 0, &r),
                 0);
    CHECK_INT_EQ(r.status, 404);
    reply_free(&r);
    fixture_stop(&f);
}

static void test_manifests(void)
{
    struct fixture f;
    struct reply r;
    char path[512], value[512], code[64];
    char config_digest[SW_DIGEST_MAX], layer_digest[SW_DIGEST_MAX], manifest_digest[SW_DIGEST_MAX];
    const char *manifest_type[] = { "Content-Type: application/vnd.oci.image.manifest.v1+json",
                                    NULL };
    if (fixture_start(&f, "test_oci", NULL) != 0) {
        CHECK(0);
        return;
    }
    const char *config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                         "\"layers\",\"diff_ids\":[]}}";
    const char *layer = "not really a tar, the registry does not look";
    CHECK_INT_EQ(push_blob(&f, "demo/app", config, config_digest), 201);
    CHECK_INT_EQ(push_blob(&f, "demo/app", layer, layer_digest), 201);

    /* a layer the repository does not have */
    char missing[SW_DIGEST_MAX];
    digest_of("absent", 6, missing);
    char *bad = manifest_of(config_digest, strlen(config), missing, 6);
    CHECK_INT_EQ(
        request(&f, "PUT", "/v2/demo/app/manifests/v1", manifest_type, bad, strlen(bad), &r), 0);
    CHECK_INT_EQ(r.status, 400);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "MANIFEST_BLOB_UNKNOWN");
    reply_free(&r);
    free(bad);
    /* not a manifest */
    CHECK_INT_EQ(request(&f, "PUT", "/v2/demo/app/manifests/v1", manifest_type, "{\"a\":1}", 7, &r),
                 0);
    CHECK_INT_EQ(r.status, 400);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "MANIFEST_INVALID");
    reply_free(&r);
    /* a bad tag */
    char *good = manifest_of(config_digest, strlen(config), layer_digest, strlen(layer));
    CHECK_INT_EQ(request(&f, "PUT", "/v2/demo/app/manifests/-bad-tag-", manifest_type, good,
                         strlen(good), &r),
                 0);
    CHECK_INT_EQ(r.status, 400);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "TAG_INVALID");
    reply_free(&r);

    /* the good one, by tag */
    digest_of(good, strlen(good), manifest_digest);
    CHECK_INT_EQ(
        request(&f, "PUT", "/v2/demo/app/manifests/v1", manifest_type, good, strlen(good), &r), 0);
    CHECK_INT_EQ(r.status, 201);
    CHECK(reply_header_value(&r, "Docker-Content-Digest", value, sizeof(value)));
    CHECK_STR_EQ(value, manifest_digest);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/manifests/v1", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(r.body, good);
    CHECK(reply_header_value(&r, "Content-Type", value, sizeof(value)));
    CHECK_STR_EQ(value, "application/vnd.oci.image.manifest.v1+json");
    reply_free(&r);
    snprintf(path, sizeof(path), "/v2/demo/app/manifests/%s", manifest_digest);
    CHECK_INT_EQ(request(&f, "HEAD", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/manifests/v2", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "MANIFEST_UNKNOWN");
    reply_free(&r);

    /* tags, catalog, referrers */
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/tags/list", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, "\"v1\"") != NULL);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/tags/list?n=abc", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 400);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "PAGINATION_NUMBER_INVALID");
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/none/tags/list", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "NAME_UNKNOWN");
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/v2/_catalog", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, "demo/app") != NULL);
    reply_free(&r);
    snprintf(path, sizeof(path), "/v2/demo/app/referrers/%s", manifest_digest);
    CHECK_INT_EQ(request(&f, "GET", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, "\"manifests\":[]") != NULL || strstr(r.body, "\"manifests\": []"));
    reply_free(&r);

    /* the JSON API sees the image too */
    CHECK_INT_EQ(request(&f, "GET", "/api/v1/images/demo/app/tags", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, manifest_digest) != NULL);
    reply_free(&r);

    /* deletes are off by default */
    snprintf(path, sizeof(path), "/v2/demo/app/manifests/%s", manifest_digest);
    CHECK_INT_EQ(request(&f, "DELETE", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 405);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "UNSUPPORTED");
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/manifests/v1", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    reply_free(&r);
    free(good);
    fixture_stop(&f);
}

static void test_delete_enabled(void)
{
    struct fixture f;
    struct reply r;
    char path[512], digest[SW_DIGEST_MAX], code[64];
    if (fixture_start(&f, "test_oci", "registry:\n  delete: true\n") != 0) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(push_blob(&f, "demo/app", "bytes to delete", digest), 201);
    snprintf(path, sizeof(path), "/v2/demo/app/blobs/%s", digest);
    /* the answer to HEAD is kept by digest; whether the repository still
     * has the blob is asked every time */
    for (int i = 0; i < 2; i++) {
        CHECK_INT_EQ(request(&f, "HEAD", path, NULL, NULL, 0, &r), 0);
        CHECK_INT_EQ(r.status, 200);
        reply_free(&r);
    }
    char other_path[512], other_digest[SW_DIGEST_MAX];
    CHECK_INT_EQ(push_blob(&f, "demo/other", "another blob", other_digest), 201);
    snprintf(other_path, sizeof(other_path), "/v2/demo/other/blobs/%s", digest);
    CHECK_INT_EQ(request(&f, "HEAD", other_path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "DELETE", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 202);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "HEAD", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    reply_free(&r);
    CHECK_INT_EQ(request(&f, "GET", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "BLOB_UNKNOWN");
    reply_free(&r);
    /* unknown paths under /v2/ answer in the spec's words */
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/nothing", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    if (oci_code(&r, code, sizeof(code))[0] == '\0')
        fprintf(stderr, "  body: %s\n", r.body);
    CHECK_STR_EQ(oci_code(&r, code, sizeof(code)), "NOT_FOUND");
    reply_free(&r);
    fixture_stop(&f);
}

/* GET /v2/NAME/manifests/TAG {status, body} */
static long get_manifest(const struct fixture *f, const char *reference, char **body)
{
    char path[512];
    struct reply r;
    snprintf(path, sizeof(path), "/v2/demo/app/manifests/%s", reference);
    if (request(f, "GET", path, NULL, NULL, 0, &r) != 0) {
        reply_free(&r);
        return -1;
    }
    long status = r.status;
    *body = strdup(r.body);
    reply_free(&r);
    return status;
}

/* The manifest bytes are kept in memory by digest, but what a tag names
 * and what a repository holds is asked every time: a tag moved by another
 * front end (another connection to the database) and a deleted manifest
 * are seen on the next GET. tags/list pages are kept under a value the
 * database changes with the tag names, also when a cascade removes one. */
static void test_manifest_cache_never_stale(void)
{
    struct fixture f;
    struct reply r;
    char path[512], config_digest[SW_DIGEST_MAX], layer_digest[SW_DIGEST_MAX];
    char first_digest[SW_DIGEST_MAX], second_digest[SW_DIGEST_MAX];
    char *body = NULL, *db_path = NULL;
    const char *manifest_type[] = { "Content-Type: application/vnd.oci.image.manifest.v1+json",
                                    NULL };
    sw_db *other = NULL;
    sw_error *err = NULL;
    if (fixture_start(&f, "test_oci", "registry:\n  delete: true\n") != 0) {
        CHECK(0);
        return;
    }
    const char *config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    CHECK_INT_EQ(push_blob(&f, "demo/app", config, config_digest), 201);
    CHECK_INT_EQ(push_blob(&f, "demo/app", "layer one", layer_digest), 201);
    char *first = manifest_of(config_digest, strlen(config), layer_digest, 9);
    CHECK_INT_EQ(push_blob(&f, "demo/app", "layer two", layer_digest), 201);
    char *second = manifest_of(config_digest, strlen(config), layer_digest, 9);
    digest_of(first, strlen(first), first_digest);
    digest_of(second, strlen(second), second_digest);
    CHECK_INT_EQ(request(&f, "PUT", "/v2/demo/app/manifests/second", manifest_type, second,
                         strlen(second), &r),
                 0);
    CHECK_INT_EQ(r.status, 201);
    reply_free(&r);
    CHECK_INT_EQ(
        request(&f, "PUT", "/v2/demo/app/manifests/t", manifest_type, first, strlen(first), &r), 0);
    CHECK_INT_EQ(r.status, 201);
    reply_free(&r);
    for (int i = 0; i < 3; i++) { /* the first fills the cache */
        CHECK_INT_EQ(get_manifest(&f, "t", &body), 200);
        CHECK_STR_EQ(body, first);
        free(body);
    }
    CHECK_INT_EQ(get_manifest(&f, "second", &body), 200);
    CHECK_STR_EQ(body, second);
    free(body);

    /* tags/list pages are kept too, under the repository's tags_version */
    for (int i = 0; i < 2; i++) {
        CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/tags/list", NULL, NULL, 0, &r), 0);
        CHECK_STR_EQ(r.body, "{\"name\":\"demo/app\",\"tags\":[\"second\",\"t\"]}");
        reply_free(&r);
        CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/tags/list?n=1", NULL, NULL, 0, &r), 0);
        CHECK_STR_EQ(r.body, "{\"name\":\"demo/app\",\"tags\":[\"second\"]}");
        char link[512];
        CHECK(reply_header_value(&r, "Link", link, sizeof(link)));
        CHECK_STR_EQ(link, "</v2/demo/app/tags/list?last=second&n=1>; rel=\"next\"");
        reply_free(&r);
    }

    /* another front end moves the tag and adds one */
    if (asprintf(&db_path, "%s/data/slipway.db", f.dir) < 0)
        abort();
    CHECK_INT_EQ(sw_db_open(db_path, 0, &other, &err), 0);
    CHECK_INT_EQ(reg_tag_point(other, "demo/app", "t", second_digest, &err), 0);
    CHECK_INT_EQ(reg_tag_point(other, "demo/app", "added", first_digest, &err), 0);
    sw_db_close(other);
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/tags/list", NULL, NULL, 0, &r), 0);
    CHECK_STR_EQ(r.body, "{\"name\":\"demo/app\",\"tags\":[\"added\",\"second\",\"t\"]}");
    reply_free(&r);
    CHECK_INT_EQ(get_manifest(&f, "t", &body), 200);
    CHECK_STR_EQ(body, second);
    free(body);
    CHECK_INT_EQ(request(&f, "HEAD", "/v2/demo/app/manifests/t", NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 200);
    char value[512];
    CHECK(reply_header_value(&r, "Docker-Content-Digest", value, sizeof(value)));
    CHECK_STR_EQ(value, second_digest);
    reply_free(&r);

    /* a cached manifest deleted by digest is gone, by digest and by tag */
    CHECK_INT_EQ(get_manifest(&f, first_digest, &body), 200);
    free(body);
    snprintf(path, sizeof(path), "/v2/demo/app/manifests/%s", first_digest);
    CHECK_INT_EQ(request(&f, "DELETE", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 202);
    reply_free(&r);
    CHECK_INT_EQ(get_manifest(&f, first_digest, &body), 404);
    free(body);
    CHECK_INT_EQ(get_manifest(&f, "added", &body), 404);
    free(body);
    /* its tag went with it (a cascade in the database) */
    CHECK_INT_EQ(request(&f, "GET", "/v2/demo/app/tags/list", NULL, NULL, 0, &r), 0);
    CHECK_STR_EQ(r.body, "{\"name\":\"demo/app\",\"tags\":[\"second\",\"t\"]}");
    reply_free(&r);
    /* the same bytes are not readable from a repository that lacks them */
    CHECK_INT_EQ(push_blob(&f, "demo/other", "something", layer_digest), 201);
    snprintf(path, sizeof(path), "/v2/demo/other/manifests/%s", second_digest);
    CHECK_INT_EQ(request(&f, "GET", path, NULL, NULL, 0, &r), 0);
    CHECK_INT_EQ(r.status, 404);
    reply_free(&r);
    sw_error_clear(&err);
    free(db_path);
    free(first);
    free(second);
    fixture_stop(&f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_blobs);
    RUN(test_chunked_upload);
    RUN(test_manifests);
    RUN(test_delete_enabled);
    RUN(test_manifest_cache_never_stale);
    curl_global_cleanup();
    return TEST_EXIT();
}
