/*
 * test_hash.c - core/hash.c: digests, HMAC (GitHub's published webhook
 * vector), hex and constant-time comparison.
 */
#include <string.h>

#include "core/hash.h"
#include "tests/unit/test.h"

static void test_sha256_of_empty_and_abc(void)
{
    char out[SW_DIGEST_MAX];
    sw_sha256_digest("", 0, out);
    CHECK_STR_EQ(out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sw_sha256_digest("abc", 3, out);
    CHECK_STR_EQ(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_streaming_equals_one_shot(void)
{
    char one[SW_DIGEST_MAX], streamed[SW_DIGEST_MAX], mid[SW_DIGEST_MAX];
    const char *text = "The quick brown fox jumps over the lazy dog";
    sw_sha256_digest(text, strlen(text), one);
    sw_hash *h = sw_hash_new(SW_HASH_SHA256);
    CHECK(h != NULL);
    sw_hash_update(h, text, 10);
    sw_hash_digest(h, mid); /* taking a digest mid-stream must not disturb it */
    sw_hash_update(h, text + 10, strlen(text) - 10);
    sw_hash_digest(h, streamed);
    CHECK_STR_EQ(streamed, one);
    CHECK(strcmp(mid, one) != 0);
    sw_hash_free(h);
}

static void test_sha512_and_dup(void)
{
    sw_hash *h = sw_hash_new(SW_HASH_SHA512);
    sw_hash_update(h, "abc", 3);
    sw_hash *copy = sw_hash_dup(h);
    char a[SW_DIGEST_MAX], b[SW_DIGEST_MAX];
    sw_hash_digest(h, a);
    sw_hash_digest(copy, b);
    CHECK_STR_EQ(a, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    CHECK_STR_EQ(b, a);
    sw_hash_free(h);
    sw_hash_free(copy);
}

/* GitHub's documented example for X-Hub-Signature-256. */
static void test_hmac_github_vector(void)
{
    char out[SW_SHA256_HEX_LEN + 1];
    const char *secret = "It's a Secret to Everybody";
    const char *body = "Hello, World!";
    sw_hmac_sha256_hex(secret, strlen(secret), body, strlen(body), out);
    CHECK_STR_EQ(out, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

static void test_constant_time_equal(void)
{
    CHECK(sw_ct_equal("abc", 3, "abc", 3));
    CHECK(!sw_ct_equal("abc", 3, "abd", 3));
    CHECK(!sw_ct_equal("abc", 3, "abcd", 4));
    CHECK(sw_ct_equal("", 0, "", 0));
}

static void test_hex_encode(void)
{
    unsigned char in[] = { 0x00, 0x7f, 0xff, 0x10 };
    char out[9];
    sw_hex_encode(in, sizeof(in), out);
    CHECK_STR_EQ(out, "007fff10");
}

int main(void)
{
    RUN(test_sha256_of_empty_and_abc);
    RUN(test_streaming_equals_one_shot);
    RUN(test_sha512_and_dup);
    RUN(test_hmac_github_vector);
    RUN(test_constant_time_equal);
    RUN(test_hex_encode);
    return TEST_EXIT();
}
