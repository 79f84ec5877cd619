/*
 * hash.c - thin wrappers over OpenSSL's EVP interface.
 */
#include "core/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sw_hash {
    EVP_MD_CTX *ctx;
    enum sw_hash_algo algo;
};

static const EVP_MD *algo_md(enum sw_hash_algo algo)
{
    return algo == SW_HASH_SHA512 ? EVP_sha512() : EVP_sha256();
}

sw_hash *sw_hash_new(enum sw_hash_algo algo)
{
    sw_hash *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->algo = algo;
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, algo_md(algo), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void sw_hash_update(sw_hash *h, const void *data, size_t len)
{
    if (len > 0)
        EVP_DigestUpdate(h->ctx, data, len);
}

void sw_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void sw_hash_digest(const sw_hash *h, char out[SW_DIGEST_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    out[0] = '\0';
    if (copy == NULL)
        return;
    if (EVP_MD_CTX_copy_ex(copy, h->ctx) == 1 && EVP_DigestFinal_ex(copy, md, &md_len) == 1) {
        const char *prefix = h->algo == SW_HASH_SHA512 ? "sha512:" : "sha256:";
        size_t p = strlen(prefix);
        memcpy(out, prefix, p);
        sw_hex_encode(md, md_len, out + p);
    }
    EVP_MD_CTX_free(copy);
}

sw_hash *sw_hash_dup(const sw_hash *h)
{
    sw_hash *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->algo = h->algo;
    d->ctx = EVP_MD_CTX_new();
    if (d->ctx == NULL || EVP_MD_CTX_copy_ex(d->ctx, h->ctx) != 1) {
        EVP_MD_CTX_free(d->ctx);
        free(d);
        return NULL;
    }
    return d;
}

void sw_hash_free(sw_hash *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void sw_sha256_digest(const void *data, size_t len, char out[SW_DIGEST_MAX])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
    memcpy(out, "sha256:", 7);
    sw_hex_encode(md, 32, out + 7);
}

int sw_hash_file(const char *path, enum sw_hash_algo algo, char out[SW_DIGEST_MAX], sw_error **err)
{
    int rc = 0;
    sw_hash *h = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sw_error_sys(err, SW_EIO, errno, "opening %s", path);
    h = sw_hash_new(algo);
    if (h == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "hashing %s: out of memory", path);
        goto cleanup;
    }
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "reading %s", path);
            goto cleanup;
        }
        if (n == 0)
            break;
        sw_hash_update(h, buf, (size_t)n);
    }
    sw_hash_digest(h, out);
cleanup:
    sw_hash_free(h);
    close(fd);
    return rc;
}

void sw_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t len,
                        char out[SW_SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, md, &md_len);
    sw_hex_encode(md, md_len, out);
}

void sw_hmac_sha1(const void *key, size_t key_len, const void *data, size_t len,
                  unsigned char out[20])
{
    unsigned int md_len = 0;
    HMAC(EVP_sha1(), key, (int)key_len, data, len, out, &md_len);
}

int sw_ct_equal(const void *a, size_t a_len, const void *b, size_t b_len)
{
    if (a_len != b_len)
        return 0;
    return CRYPTO_memcmp(a, b, a_len) == 0;
}

int sw_random_bytes(void *buf, size_t n, sw_error **err)
{
    if (RAND_bytes(buf, (int)n) != 1)
        return sw_error_set(err, SW_EIO, "no random bytes from OpenSSL");
    return 0;
}
