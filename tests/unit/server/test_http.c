/*
 * test_http.c - the parsers of server/http.c (path patterns, safe paths,
 * Range and Content-Range, content types) and the error mapping of
 * server/oci_errors.c.
 */
#include <jansson.h>

#include "registry/errors.h"
#include "server/http.h"
#include "tests/unit/test.h"

static void test_route_repository_with_slashes(void)
{
    struct srv_params p;
    CHECK(srv_path_match("/v2/*name/blobs/:digest", "/v2/team/app/web/blobs/sha256:abc", &p));
    CHECK_INT_EQ(p.count, 2);
    CHECK_STR_EQ(p.names[0], "digest");
    CHECK_STR_EQ(p.values[0], "sha256:abc");
    CHECK_STR_EQ(p.names[1], "name");
    CHECK_STR_EQ(p.values[1], "team/app/web");
    srv_params_clear(&p);
}

static void test_route_greedy_name(void)
{
    /* "blobs" is a valid path component of a name: the longest name wins. */
    struct srv_params p;
    CHECK(
        srv_path_match("/v2/*name/manifests/:reference", "/v2/a/manifests/b/manifests/latest", &p));
    CHECK_STR_EQ(p.values[p.count - 1], "a/manifests/b");
    srv_params_clear(&p);
}

static void test_route_trailing_slash(void)
{
    struct srv_params p;
    CHECK(srv_path_match("/v2/*name/blobs/uploads/", "/v2/x/blobs/uploads/", &p));
    CHECK_STR_EQ(p.values[0], "x");
    srv_params_clear(&p);
    CHECK(!srv_path_match("/v2/*name/blobs/uploads/", "/v2/x/blobs/uploads", &p));
    CHECK(!srv_path_match("/v2/*name/blobs/uploads/", "/v2/blobs/uploads/", &p));
    CHECK(srv_path_match("/v2/", "/v2/", &p));
    CHECK_INT_EQ(p.count, 0);
    CHECK(!srv_path_match("/v2/", "/v2/x", &p));
    CHECK(srv_path_match("/", "/", &p));
}

static void test_route_no_match(void)
{
    struct srv_params p;
    CHECK(!srv_path_match("/v2/*name/blobs/:digest", "/v2/x/blobs/", &p));
    CHECK(!srv_path_match("/v2/*name/blobs/:digest", "/v2/x/blobs/a/b", &p));
    CHECK(!srv_path_match("/v2/*name/tags/list", "/v2/tags/list", &p));
    CHECK(!srv_path_match("/v2/*name/blobs/uploads/:uuid", "/v2/x/blobs/sha256:abc", &p));
    CHECK_INT_EQ(p.count, 0);
}

static void test_path_safe(void)
{
    CHECK(srv_path_safe("/v2/"));
    CHECK(srv_path_safe("/v2/a/b/blobs/sha256:00"));
    CHECK(srv_path_safe("/"));
    CHECK(!srv_path_safe("/v2/../etc/passwd"));
    CHECK(!srv_path_safe("/v2/a/.."));
    CHECK(!srv_path_safe("/v2/./x"));
    CHECK(!srv_path_safe("/v2//x"));
    CHECK(!srv_path_safe("/v2/a\\b"));
    CHECK(!srv_path_safe("/v2/a\nb"));
    CHECK(!srv_path_safe("v2/"));
    CHECK(!srv_path_safe(NULL));
    CHECK(srv_path_safe("/v2/a..b/tags/list")); /* dots inside a segment are no traversal */
}

static void test_range(void)
{
    int64_t a = -1, b = -1;
    CHECK_INT_EQ(srv_parse_range("bytes=500-1499", 2048, &a, &b), 0);
    CHECK_INT_EQ(a, 500);
    CHECK_INT_EQ(b, 1499);
    CHECK_INT_EQ(srv_parse_range("bytes=500-", 2048, &a, &b), 0);
    CHECK_INT_EQ(b, 2047);
    CHECK_INT_EQ(srv_parse_range("bytes=-500", 2048, &a, &b), 0);
    CHECK_INT_EQ(a, 1548);
    CHECK_INT_EQ(b, 2047);
    CHECK_INT_EQ(srv_parse_range("bytes=-5000", 2048, &a, &b), 0);
    CHECK_INT_EQ(a, 0);
    CHECK_INT_EQ(srv_parse_range("bytes=2000-5000", 2048, &a, &b), 0);
    CHECK_INT_EQ(b, 2047);
    CHECK_INT_EQ(srv_parse_range("bytes=500-0", 2048, &a, &b), -1);
    CHECK_INT_EQ(srv_parse_range("bytes=5000-10000", 2048, &a, &b), -1);
    CHECK_INT_EQ(srv_parse_range("bytes=2048-", 2048, &a, &b), -1);
    CHECK_INT_EQ(srv_parse_range("bytes=-0", 2048, &a, &b), -1);
    CHECK_INT_EQ(srv_parse_range(NULL, 2048, &a, &b), 1);
    CHECK_INT_EQ(srv_parse_range("items=0-1", 2048, &a, &b), 1);
    CHECK_INT_EQ(srv_parse_range("bytes=0-1,5-6", 2048, &a, &b), 1);
    CHECK_INT_EQ(srv_parse_range("bytes=x-1", 2048, &a, &b), 1);
    CHECK_INT_EQ(srv_parse_range("bytes=99999999999999999999-", 2048, &a, &b), 1);
}

static void test_content_range(void)
{
    int64_t a = -1, b = -1;
    CHECK_INT_EQ(srv_parse_content_range("0-999", &a, &b), 0);
    CHECK_INT_EQ(a, 0);
    CHECK_INT_EQ(b, 999);
    CHECK_INT_EQ(srv_parse_content_range("bytes 1000-1999/3000", &a, &b), 0);
    CHECK_INT_EQ(a, 1000);
    CHECK_INT_EQ(b, 1999);
    CHECK_INT_EQ(srv_parse_content_range("bytes 1000-1999/*", &a, &b), 0);
    CHECK_INT_EQ(srv_parse_content_range("5-4", &a, &b), -1);
    CHECK_INT_EQ(srv_parse_content_range("5", &a, &b), -1);
    CHECK_INT_EQ(srv_parse_content_range("a-b", &a, &b), -1);
    CHECK_INT_EQ(srv_parse_content_range("1-2 junk", &a, &b), -1);
    CHECK_INT_EQ(srv_parse_content_range(NULL, &a, &b), -1);
}

static void test_content_types(void)
{
    CHECK_STR_EQ(srv_content_type_for("index.html"), "text/html; charset=utf-8");
    CHECK_STR_EQ(srv_content_type_for("js/app.JS"), "text/javascript; charset=utf-8");
    CHECK_STR_EQ(srv_content_type_for("logo.svg"), "image/svg+xml");
    CHECK_STR_EQ(srv_content_type_for("README"), "application/octet-stream");
    CHECK_STR_EQ(srv_content_type_for("dir.d/file"), "application/octet-stream");
}

static void test_error_mapping(void)
{
    struct srv_error_info info = srv_error_lookup(REG_E_BLOB_UNKNOWN);
    CHECK_INT_EQ(info.status, 404);
    CHECK_STR_EQ(info.code, "BLOB_UNKNOWN");
    info = srv_error_lookup(REG_E_RANGE_INVALID);
    CHECK_INT_EQ(info.status, 416);
    CHECK_STR_EQ(info.code, "BLOB_UPLOAD_INVALID");
    info = srv_error_lookup(REG_E_UNSUPPORTED);
    CHECK_INT_EQ(info.status, 405);
    CHECK_STR_EQ(info.code, "UNSUPPORTED");
    info = srv_error_lookup(REG_E_PAGINATION_INVALID);
    CHECK_INT_EQ(info.status, 400);
    CHECK_STR_EQ(info.code, "PAGINATION_NUMBER_INVALID");
    info = srv_error_lookup(REG_E_TOO_LARGE);
    CHECK_INT_EQ(info.status, 413);
    info = srv_error_lookup(SRV_E_UNAUTHORIZED);
    CHECK_INT_EQ(info.status, 401);
    CHECK_STR_EQ(info.code, "UNAUTHORIZED");
    info = srv_error_lookup(SRV_E_TOO_MANY);
    CHECK_INT_EQ(info.status, 429);
    CHECK_STR_EQ(info.code, "TOOMANYREQUESTS");
    info = srv_error_lookup(SW_EDB);
    CHECK_INT_EQ(info.status, 500);
    CHECK(info.is_internal);
    info = srv_error_lookup(-12345);
    CHECK_INT_EQ(info.status, 500);
    CHECK(info.is_internal);
}

static void test_error_body(void)
{
    json_t *detail = json_pack("{s:s}", "digest", "sha256:00");
    char *body = srv_error_body("DIGEST_INVALID", "digest \"x\" is wrong", detail);
    json_error_t jerr;
    json_t *doc = body ? json_loads(body, 0, &jerr) : NULL;
    CHECK(doc != NULL);
    json_t *entry = json_array_get(json_object_get(doc, "errors"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(entry, "code")), "DIGEST_INVALID");
    CHECK_STR_EQ(json_string_value(json_object_get(entry, "message")), "digest \"x\" is wrong");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(entry, "detail"), "digest")),
                 "sha256:00");
    json_decref(doc);
    free(body);
    body = srv_error_body("NAME_UNKNOWN", "no such repository", NULL);
    CHECK_STR_EQ(body,
                 "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"no such repository\"}]}");
    free(body);
    json_decref(detail);
}

int main(void)
{
    RUN(test_route_repository_with_slashes);
    RUN(test_route_greedy_name);
    RUN(test_route_trailing_slash);
    RUN(test_route_no_match);
    RUN(test_path_safe);
    RUN(test_range);
    RUN(test_content_range);
    RUN(test_content_types);
    RUN(test_error_mapping);
    RUN(test_error_body);
    return TEST_EXIT();
}
