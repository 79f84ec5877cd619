/*
 * test_base64.c - core/base64.c against RFC 4648's test vectors, binary
 * data, and the inputs it must refuse.
 */
#include <string.h>

#include "core/base64.h"
#include "tests/unit/test.h"

static const char *const vectors[][2] = {
    { "", "" },
    { "f", "Zg==" },
    { "fo", "Zm8=" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" },
    { "fooba", "Zm9vYmE=" },
    { "foobar", "Zm9vYmFy" },
};

static void test_rfc4648_vectors(void)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char *enc = sw_base64_encode(vectors[i][0], strlen(vectors[i][0]));
        CHECK_STR_EQ(enc, vectors[i][1]);
        free(enc);
        unsigned char out[16];
        size_t n = 99;
        CHECK_INT_EQ(sw_base64_decode(vectors[i][1], strlen(vectors[i][1]), out, sizeof(out), &n),
                     0);
        CHECK_INT_EQ((int)n, (int)strlen(vectors[i][0]));
        CHECK(memcmp(out, vectors[i][0], n) == 0);
    }
    /* padding is optional */
    unsigned char out[16];
    size_t n = 0;
    CHECK_INT_EQ(sw_base64_decode("Zm9vYg", 6, out, sizeof(out), &n), 0);
    CHECK_INT_EQ((int)n, 4);
}

static void test_binary_round_trip(void)
{
    unsigned char bytes[256], back[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (unsigned char)(255 - i);
    char *enc = sw_base64_encode(bytes, sizeof(bytes));
    size_t n = 0;
    CHECK_INT_EQ(sw_base64_decode(enc, strlen(enc), back, sizeof(back), &n), 0);
    CHECK_INT_EQ((int)n, 256);
    CHECK(memcmp(bytes, back, 256) == 0);
    free(enc);
}

static void test_refused(void)
{
    unsigned char out[4];
    size_t n = 0;
    CHECK_INT_EQ(sw_base64_decode("Zm9v!", 5, out, sizeof(out), &n), -1);     /* not base64 */
    CHECK_INT_EQ(sw_base64_decode("Zg==Zg", 6, out, sizeof(out), &n), -1);    /* after padding */
    CHECK_INT_EQ(sw_base64_decode("Zg===", 5, out, sizeof(out), &n), -1);     /* too much padding */
    CHECK_INT_EQ(sw_base64_decode("Zm9vYmFy", 8, out, sizeof(out), &n), -1);  /* does not fit */
    CHECK_INT_EQ(sw_base64_decode("Zm9v YmFy", 9, out, sizeof(out), &n), -1); /* a space */
}

int main(void)
{
    RUN(test_rfc4648_vectors);
    RUN(test_binary_round_trip);
    RUN(test_refused);
    return TEST_EXIT();
}
