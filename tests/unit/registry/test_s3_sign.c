/*
 * test_s3_sign.c - registry/s3.c's SigV4 against the worked examples of
 * Amazon's S3 documentation (header-based GET with a range, PUT with a '$'
 * in the key and an extra signed header, a sub-resource without a value,
 * a sorted query, and a presigned URL with virtual-host addressing), plus
 * the encodings Debian's libcurl 7.88 gets wrong (':' in a path, '/' in a
 * query value, `?uploads`).
 */
#include <stdlib.h>

#include "registry/s3.h"
#include "tests/unit/test.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DATE "20130524T000000Z"
#define HOST "examplebucket.s3.amazonaws.com"

static void test_get_object_with_range(void)
{
    struct reg_s3_kv h[] = { { "Host", HOST },
                             { "Range", "bytes=0-9" },
                             { "x-amz-content-sha256", EMPTY },
                             { "x-amz-date", DATE } };
    char *auth = NULL;
    CHECK_INT_EQ(reg_s3_sign("GET", "/test.txt", NULL, 0, h, 4, EMPTY, DATE, "us-east-1", AK, SK,
                             &auth, NULL),
                 0);
    CHECK_STR_EQ(auth,
                 "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                 "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                 "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    free(auth);
}

static void test_put_object(void)
{
    const char *payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    char *uri = reg_s3_uri_encode("/test$file.text", 1);
    CHECK_STR_EQ(uri, "/test%24file.text");
    struct reg_s3_kv h[] = { { "Host", HOST },
                             { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
                             { "x-amz-date", DATE },
                             { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
                             { "x-amz-content-sha256", payload } };
    char *auth = NULL;
    CHECK_INT_EQ(
        reg_s3_sign("PUT", uri, NULL, 0, h, 5, payload, DATE, "us-east-1", AK, SK, &auth, NULL), 0);
    CHECK(auth && strstr(auth, "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
                               "x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d8"
                               "41ea1380cd77a1b5971af0ece108bd"));
    free(auth);
    free(uri);
}

static void test_subresource_without_value(void)
{
    struct reg_s3_kv q[] = { { "lifecycle", NULL } };
    struct reg_s3_kv h[] = { { "Host", HOST },
                             { "x-amz-content-sha256", EMPTY },
                             { "x-amz-date", DATE } };
    char *auth = NULL;
    CHECK_INT_EQ(reg_s3_sign("GET", "/", q, 1, h, 3, EMPTY, DATE, "us-east-1", AK, SK, &auth, NULL),
                 0);
    CHECK(auth && strstr(auth, "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0"
                               "136783543"));
    free(auth);
}

static void test_sorted_query(void)
{
    /* given out of order: the signer sorts */
    struct reg_s3_kv q[] = { { "prefix", "J" }, { "max-keys", "2" } };
    struct reg_s3_kv h[] = { { "x-amz-date", DATE },
                             { "Host", HOST },
                             { "x-amz-content-sha256", EMPTY } };
    char *auth = NULL;
    CHECK_INT_EQ(reg_s3_sign("GET", "/", q, 2, h, 3, EMPTY, DATE, "us-east-1", AK, SK, &auth, NULL),
                 0);
    CHECK(auth && strstr(auth, "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711"
                               "ef69dc6f7"));
    free(auth);
}

static void test_presigned_url_virtual_host(void)
{
    struct reg_s3_config cfg = { .endpoint = "https://s3.amazonaws.com",
                                 .region = "us-east-1",
                                 .bucket = "examplebucket",
                                 .access_key = AK,
                                 .secret_key = SK,
                                 .path_style = 0 };
    reg_s3 *s3 = NULL;
    char *url = NULL;
    CHECK_INT_EQ(reg_s3_new(&cfg, &s3, NULL), 0);
    CHECK_INT_EQ(reg_s3_presign_get(s3, "test.txt", 86400, 1369353600, &url, NULL), 0);
    CHECK_STR_EQ(url, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-"
                      "SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%"
                      "2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"
                      "SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330"
                      "da4c265957d157751f604d404");
    free(url);
    reg_s3_free(s3);
}

static void test_encodings_curl_gets_wrong(void)
{
    char *e = reg_s3_uri_encode("a:b/c d+e", 1);
    CHECK_STR_EQ(e, "a%3Ab/c%20d%2Be");
    free(e);
    e = reg_s3_uri_encode("p/q=r", 0);
    CHECK_STR_EQ(e, "p%2Fq%3Dr");
    free(e);
    /* `?uploads` signs as "uploads=": same signature as an explicit "" */
    struct reg_s3_kv q1[] = { { "uploads", NULL } }, q2[] = { { "uploads", "" } };
    struct reg_s3_kv h[] = { { "host", "h" } };
    char *a1 = NULL, *a2 = NULL;
    CHECK_INT_EQ(reg_s3_sign("POST", "/b/k", q1, 1, h, 1, EMPTY, DATE, "r", AK, SK, &a1, NULL), 0);
    CHECK_INT_EQ(reg_s3_sign("POST", "/b/k", q2, 1, h, 1, EMPTY, DATE, "r", AK, SK, &a2, NULL), 0);
    CHECK_STR_EQ(a1, a2);
    free(a1);
    free(a2);
}

static void test_config_checked(void)
{
    struct reg_s3_config cfg = { .endpoint = "ftp://x",
                                 .region = "r",
                                 .bucket = "b",
                                 .access_key = "a",
                                 .secret_key = "s",
                                 .path_style = 1 };
    reg_s3 *s3 = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(reg_s3_new(&cfg, &s3, &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "http://") != NULL);
    sw_error_clear(&err);
    cfg.endpoint = "http://127.0.0.1:9/";
    cfg.secret_key = "";
    CHECK_INT_EQ(reg_s3_new(&cfg, &s3, &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "secret_key is not set") != NULL);
    sw_error_clear(&err);
    cfg.secret_key = "s";
    cfg.bucket = "Bad_Bucket";
    CHECK_INT_EQ(reg_s3_new(&cfg, &s3, &err), SW_EINVAL);
    sw_error_clear(&err);
    cfg.bucket = "b";
    CHECK_INT_EQ(reg_s3_new(&cfg, &s3, &err), 0);
    reg_s3_free(s3);
}

int main(void)
{
    RUN(test_get_object_with_range);
    RUN(test_put_object);
    RUN(test_subresource_without_value);
    RUN(test_sorted_query);
    RUN(test_presigned_url_virtual_host);
    RUN(test_encodings_curl_gets_wrong);
    RUN(test_config_checked);
    return TEST_EXIT();
}
