/*
 * s3.h - a small S3 client: the common operations every S3-compatible
 * store implements, signed with our own AWS Signature Version 4.
 *
 * Why our own SigV4 and not libcurl's CURLOPT_AWS_SIGV4: Debian's libcurl
 * 7.88 does not send x-amz-content-sha256 and mis-signs a raw ':' in a
 * path, a raw '/' in a query value and a query parameter without a value
 * (`?uploads`), all of which a multipart upload needs. Here every path
 * segment and query key/value is RFC 3986 encoded once, the query sorted,
 * and the payload's real SHA-256 signed (bodies are buffered parts, so the
 * hash is always known).
 *
 * Keys are object names inside the bucket ("prefix/blobs/sha256/ab/..."),
 * never URL-encoded by the caller. A reg_s3 is safe to share between
 * threads: each request takes a curl handle from a small pool.
 *
 * Errors: an S3 error body (<Error><Code>..</Code><Message>..</Message>)
 * becomes the message "s3 GET bucket/key: 403 SignatureDoesNotMatch: ...";
 * codes map to SW_ENOTFOUND (404, NoSuchKey, NoSuchUpload, NoSuchBucket),
 * SW_EPERM (401/403: AccessDenied, SignatureDoesNotMatch,
 * InvalidAccessKeyId), SW_ERANGE (416 InvalidRange), SW_EIO otherwise
 * (connection failures included). The secret key is never logged or put in
 * a message.
 */
#ifndef REG_S3_H
#define REG_S3_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct reg_s3_config {
    const char *endpoint;   /* http://host[:port] or https://host[:port] */
    const char *region;     /* e.g. us-east-1 */
    const char *bucket;     /* must exist */
    const char *access_key; /* resolved values, not env:NAME */
    const char *secret_key;
    int path_style;         /* 1: endpoint/bucket/key; 0: bucket.host/key */
    long connect_timeout_s; /* 0: 30 */
    long stall_timeout_s;   /* 0: 60 */
};

typedef struct reg_s3 reg_s3;

/* Checks and copies the configuration (nothing is contacted yet). *out is
 * owned by the caller, freed with reg_s3_free. SW_EINVAL naming the missing
 * or malformed field. */
int reg_s3_new(const struct reg_s3_config *cfg, reg_s3 **out, sw_error **err);
void reg_s3_free(reg_s3 *s3);

/* PUT of a whole object from a buffer. */
int reg_s3_put(reg_s3 *s3, const char *key, const void *data, size_t len, sw_error **err);

/* Receives a GET's body in pieces; nonzero stops the transfer (the call
 * then fails with SW_ECANCELED unless the callback set *err). */
typedef int (*reg_s3_sink_fn)(const void *data, size_t len, void *ctx, sw_error **err);

/* GET of bytes [offset, offset + length) (length -1: to the end) into sink.
 * object_size (may be NULL) receives the object's full size (from
 * Content-Range, or Content-Length for a whole GET). */
int reg_s3_get(reg_s3 *s3, const char *key, int64_t offset, int64_t length, reg_s3_sink_fn sink,
               void *ctx, int64_t *object_size, sw_error **err);

/* HEAD: size of an object; SW_ENOTFOUND when absent. */
int reg_s3_head(reg_s3 *s3, const char *key, int64_t *size, sw_error **err);

/* DELETE; deleting an absent key succeeds (as S3 answers 204). */
int reg_s3_delete(reg_s3 *s3, const char *key, sw_error **err);

/* CopyObject within the bucket (objects up to 5 GiB). */
int reg_s3_copy(reg_s3 *s3, const char *src_key, const char *dst_key, sw_error **err);

/* ListObjectsV2 of every key under prefix, following continuation tokens.
 * mtime is LastModified in seconds since the epoch. A nonzero return from
 * fn stops the walk and is returned. */
typedef int (*reg_s3_list_fn)(const char *key, int64_t size, int64_t mtime, void *ctx,
                              sw_error **err);
int reg_s3_list(reg_s3 *s3, const char *prefix, reg_s3_list_fn fn, void *ctx, sw_error **err);

/* Multipart upload. *upload_id and *etag are malloc'd for the caller.
 * Every part but the last must be at least 5 MiB (S3's rule). */
struct reg_s3_part {
    int number; /* 1..10000 */
    char *etag; /* as returned by UploadPart, quotes included */
};
int reg_s3_multipart_create(reg_s3 *s3, const char *key, char **upload_id, sw_error **err);
int reg_s3_multipart_put_part(reg_s3 *s3, const char *key, const char *upload_id, int number,
                              const void *data, size_t len, char **etag, sw_error **err);
int reg_s3_multipart_complete(reg_s3 *s3, const char *key, const char *upload_id,
                              const struct reg_s3_part *parts, size_t n_parts, sw_error **err);
int reg_s3_multipart_abort(reg_s3 *s3, const char *key, const char *upload_id, sw_error **err);

/* A presigned GET URL (query-string SigV4, X-Amz-Expires = expires_s,
 * 1..604800) that anyone holding it may fetch until it expires. *url is
 * malloc'd. now is the signing time (0: the current time). */
int reg_s3_presign_get(reg_s3 *s3, const char *key, int64_t expires_s, int64_t now, char **url,
                       sw_error **err);

/* The SigV4 core, public for the known-answer tests: signs a request and
 * writes the Authorization header value (malloc'd) to *authorization.
 * canonical_uri is the already-encoded path; query holds n_query
 * unencoded key/value pairs (value NULL or "" for `?uploads`); headers holds
 * n_headers "name: value" pairs to sign (names any case; host included by
 * the caller). amz_date is "YYYYMMDDTHHMMSSZ". */
struct reg_s3_kv {
    const char *key;
    const char *value;
};
int reg_s3_sign(const char *method, const char *canonical_uri, const struct reg_s3_kv *query,
                size_t n_query, const struct reg_s3_kv *headers, size_t n_headers,
                const char *payload_sha256_hex, const char *amz_date, const char *region,
                const char *access_key, const char *secret_key, char **authorization,
                sw_error **err);

/* Parsers of S3's XML answers (public for tests/fuzz/fuzz_s3_xml.c).
 * parse_list calls fn for every <Contents> of a ListObjectsV2 page (an
 * entry without a key or a valid size is an SW_EIO error) and sets
 * *next_token (malloc'd) when the page says it is truncated.
 * parse_error gives the <Code> and <Message> of an error body, each
 * malloc'd or NULL. Both read only [body, body + len). */
int reg_s3_parse_list(const char *body, size_t len, reg_s3_list_fn fn, void *ctx, char **next_token,
                      sw_error **err);
void reg_s3_parse_error(const char *body, size_t len, char **code, char **message);

/* RFC 3986 encoding of s into a malloc'd string: unreserved characters
 * (A-Z a-z 0-9 - . _ ~) stay, '/' stays when keep_slash, all else %XX. */
char *reg_s3_uri_encode(const char *s, int keep_slash);

#endif
