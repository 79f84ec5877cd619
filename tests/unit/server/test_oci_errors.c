/*
 * test_oci_errors.c - every error code server/oci_errors.c knows, mapped to
 * the status and OCI code a client sees (a full disk is 507), internal
 * errors marked so their text stays in the log, unknown codes a plain 500,
 * and the JSON error body.
 */
#include <jansson.h>

#include "registry/errors.h"
#include "server/http.h"
#include "tests/unit/test.h"

static void expect(int code, unsigned status, const char *oci, int internal)
{
    struct srv_error_info info = srv_error_lookup(code);
    if (info.status != status || strcmp(info.code, oci) != 0 || info.is_internal != internal)
        fprintf(stderr, "  code %d -> %u %s %d, expected %u %s %d\n", code, info.status, info.code,
                info.is_internal, status, oci, internal);
    CHECK_INT_EQ(info.status, status);
    CHECK_STR_EQ(info.code, oci);
    CHECK_INT_EQ(info.is_internal, internal);
}

static void test_core_codes(void)
{
    expect(SW_EINVAL, 400, "BAD_REQUEST", 0);
    expect(SW_ENOTFOUND, 404, "NOT_FOUND", 0);
    expect(SW_EEXIST, 409, "CONFLICT", 0);
    expect(SW_EIO, 500, "INTERNAL_ERROR", 1);
    expect(SW_ENOMEM, 500, "INTERNAL_ERROR", 1);
    expect(SW_EDB, 500, "INTERNAL_ERROR", 1);
    expect(SW_EPERM, 403, "DENIED", 0);
    expect(SW_EUNSUPPORTED, 405, "UNSUPPORTED", 0);
    expect(SW_ECONFLICT, 409, "CONFLICT", 0);
    expect(SW_ETOOBIG, 413, "SIZE_INVALID", 0);
    expect(SW_ERANGE, 416, "RANGE_NOT_SATISFIABLE", 0);
    expect(SW_ECANCELED, 503, "UNAVAILABLE", 0);
    expect(SW_ETIMEOUT, 503, "UNAVAILABLE", 0);
    expect(SW_ENOSPACE, 507, "UNAVAILABLE", 0);
}

static void test_registry_codes(void)
{
    expect(REG_E_BLOB_UNKNOWN, 404, "BLOB_UNKNOWN", 0);
    expect(REG_E_BLOB_UPLOAD_UNKNOWN, 404, "BLOB_UPLOAD_UNKNOWN", 0);
    expect(REG_E_DIGEST_INVALID, 400, "DIGEST_INVALID", 0);
    expect(REG_E_MANIFEST_BLOB_UNKNOWN, 400, "MANIFEST_BLOB_UNKNOWN", 0);
    expect(REG_E_MANIFEST_INVALID, 400, "MANIFEST_INVALID", 0);
    expect(REG_E_MANIFEST_UNKNOWN, 404, "MANIFEST_UNKNOWN", 0);
    expect(REG_E_NAME_INVALID, 400, "NAME_INVALID", 0);
    expect(REG_E_NAME_UNKNOWN, 404, "NAME_UNKNOWN", 0);
    expect(REG_E_SIZE_INVALID, 400, "SIZE_INVALID", 0);
    expect(REG_E_UNSUPPORTED, 405, "UNSUPPORTED", 0);
    expect(REG_E_RANGE_INVALID, 416, "BLOB_UPLOAD_INVALID", 0);
    expect(REG_E_TAG_INVALID, 400, "TAG_INVALID", 0);
    expect(REG_E_PAGINATION_INVALID, 400, "PAGINATION_NUMBER_INVALID", 0);
    expect(REG_E_TOO_LARGE, 413, "SIZE_INVALID", 0);
}

static void test_server_codes(void)
{
    expect(SRV_E_UNAUTHORIZED, 401, "UNAUTHORIZED", 0);
    expect(SRV_E_DENIED, 403, "DENIED", 0);
    expect(SRV_E_NOT_FOUND, 404, "NOT_FOUND", 0);
    expect(SRV_E_METHOD, 405, "UNSUPPORTED", 0);
    expect(SRV_E_TOO_MANY, 429, "TOOMANYREQUESTS", 0);
}

static void test_unknown_codes_are_internal(void)
{
    expect(0, 500, "INTERNAL_ERROR", 1);
    expect(-99999, 500, "INTERNAL_ERROR", 1);
    expect(42, 500, "INTERNAL_ERROR", 1);
}

static void test_body(void)
{
    char *body = srv_error_body("NAME_UNKNOWN", NULL, NULL);
    json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
    CHECK(doc != NULL);
    json_t *e = json_array_get(json_object_get(doc, "errors"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(e, "code")), "NAME_UNKNOWN");
    CHECK_STR_EQ(json_string_value(json_object_get(e, "message")), ""); /* NULL message */
    CHECK(json_object_get(e, "detail") == NULL);
    CHECK_INT_EQ(json_array_size(json_object_get(doc, "errors")), 1);
    json_decref(doc);
    free(body);

    /* a message with quotes and control characters stays valid JSON */
    json_t *detail = json_pack("{s:i}", "max", 5);
    body = srv_error_body("SIZE_INVALID", "a \"quoted\"\n\tmessage", detail);
    doc = body ? json_loads(body, 0, NULL) : NULL;
    CHECK(doc != NULL);
    e = json_array_get(json_object_get(doc, "errors"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(e, "message")), "a \"quoted\"\n\tmessage");
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(e, "detail"), "max")), 5);
    CHECK_INT_EQ(detail->refcount, 1); /* borrowed, not stolen */
    json_decref(doc);
    json_decref(detail);
    free(body);
}

int main(void)
{
    RUN(test_core_codes);
    RUN(test_registry_codes);
    RUN(test_server_codes);
    RUN(test_unknown_codes_are_internal);
    RUN(test_body);
    return TEST_EXIT();
}
