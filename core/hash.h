/*
 * hash.h - SHA-256/SHA-512 streaming digests, HMAC-SHA256, hex, and
 * constant-time comparison (OpenSSL EVP underneath).
 *
 * Blobs are hashed while they stream through (upload, layer writing), so the
 * streaming context is the primary interface; sw_sha256_digest() is a shortcut
 * for small in-memory buffers such as manifests.
 */
#ifndef SW_HASH_H
#define SW_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

enum sw_hash_algo { SW_HASH_SHA256, SW_HASH_SHA512 };

#define SW_SHA256_HEX_LEN 64
#define SW_SHA512_HEX_LEN 128
/* "sha512:" + 128 hex + NUL */
#define SW_DIGEST_MAX 136

typedef struct sw_hash sw_hash;

/* Creates a streaming hash; NULL on allocation failure. Free with sw_hash_free. */
sw_hash *sw_hash_new(enum sw_hash_algo algo);
void sw_hash_update(sw_hash *h, const void *data, size_t len);
/* Writes "sha256:<hex>" (or sha512) into out (SW_DIGEST_MAX bytes) without
 * disturbing the running state, so a digest can be taken mid-stream. */
void sw_hash_digest(const sw_hash *h, char out[SW_DIGEST_MAX]);
/* Copies the running state into a new context (for resumable uploads). */
sw_hash *sw_hash_dup(const sw_hash *h);
void sw_hash_free(sw_hash *h);

/* "sha256:<hex>" of a buffer into out (SW_DIGEST_MAX bytes). */
void sw_sha256_digest(const void *data, size_t len, char out[SW_DIGEST_MAX]);

/* Hashes a whole file; 0 or SW_EIO. */
int sw_hash_file(const char *path, enum sw_hash_algo algo, char out[SW_DIGEST_MAX], sw_error **err);

/* HMAC-SHA256 of data under key, as 64 lower-case hex chars + NUL. */
void sw_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t len,
                        char out[SW_SHA256_HEX_LEN + 1]);

/* HMAC-SHA1 of data under key (hashed host names in SSH known_hosts
 * files; not for anything new). */
void sw_hmac_sha1(const void *key, size_t key_len, const void *data, size_t len,
                  unsigned char out[20]);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void sw_hex_encode(const unsigned char *in, size_t n, char *out);

/* Compares two buffers in time that depends only on the lengths. Returns 1
 * when equal. Use for every secret: signatures, tokens, passwords. */
int sw_ct_equal(const void *a, size_t a_len, const void *b, size_t b_len);

/* Fills buf with n cryptographically random bytes; 0 or SW_EIO. */
int sw_random_bytes(void *buf, size_t n, sw_error **err);

#endif
