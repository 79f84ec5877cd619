/*
 * s3.c - the S3 client of s3.h: SigV4 signing, requests through libcurl
 * (core/http_client.c settings), and the few XML answers S3 gives parsed
 * with a small tag reader (S3's answers are flat and machine-made; the
 * reader is bounded by the body it is given and never recurses).
 */
#include "registry/s3.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/http_client.h"
#include "core/strbuf.h"

#define S3_POOL_MAX 8
#define S3_MAX_XML_BODY (16 * 1024 * 1024)
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct reg_s3 {
    char *scheme_host; /* "http://127.0.0.1:9000" or "https://bucket.host" */
    char *host;        /* Host header value */
    char *path_base;   /* "" or "/bucket" (path style), already encoded */
    char *region;
    char *bucket;
    char *access_key;
    char *secret_key;
    struct sw_http_options http;
    pthread_mutex_t pool_lock;
    CURL *pool[S3_POOL_MAX];
    int pool_len;
};

/* ---- encoding and signing ---- */

char *reg_s3_uri_encode(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
            (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

static void hmac_raw(const void *key, size_t key_len, const char *data, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out, &len);
}

static void sha256_hex(const void *data, size_t len, char out[SW_SHA256_HEX_LEN + 1])
{
    char digest[SW_DIGEST_MAX];
    sw_sha256_digest(data, len, digest);
    memcpy(out, digest + 7, SW_SHA256_HEX_LEN + 1);
}

struct encoded_kv {
    char *key;
    char *value;
};

static int cmp_encoded_kv(const void *a, const void *b)
{
    const struct encoded_kv *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* The canonical query string: keys and values encoded, sorted by key then
 * value, "key=" for a parameter without a value. Also the query string we
 * send, so what is signed is byte for byte what goes on the wire. */
static char *canonical_query(const struct reg_s3_kv *query, size_t n)
{
    struct encoded_kv *kv = calloc(n ? n : 1, sizeof(*kv));
    sw_strbuf sb = SW_STRBUF_INIT;
    char *result = NULL;
    if (kv == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        kv[i].key = reg_s3_uri_encode(query[i].key, 0);
        kv[i].value = reg_s3_uri_encode(query[i].value ? query[i].value : "", 0);
        if (!kv[i].key || !kv[i].value)
            goto cleanup;
    }
    qsort(kv, n, sizeof(*kv), cmp_encoded_kv);
    sw_strbuf_puts(&sb, "");
    for (size_t i = 0; i < n; i++)
        sw_strbuf_printf(&sb, "%s%s=%s", i ? "&" : "", kv[i].key, kv[i].value);
    if (!sb.failed)
        result = sw_strbuf_detach(&sb);
cleanup:
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
    sw_strbuf_free(&sb);
    return result;
}

struct lower_header {
    char *name;
    const char *value;
};

static int cmp_header(const void *a, const void *b)
{
    return strcmp(((const struct lower_header *)a)->name, ((const struct lower_header *)b)->name);
}

/* Canonical headers and the signed-headers list: lower-case names, values
 * with leading/trailing blanks trimmed and inner runs squeezed. */
static int canonical_headers(const struct reg_s3_kv *headers, size_t n, sw_strbuf *canon,
                             sw_strbuf *signed_names)
{
    struct lower_header *h = calloc(n ? n : 1, sizeof(*h));
    int rc = SW_ENOMEM;
    if (h == NULL)
        return rc;
    for (size_t i = 0; i < n; i++) {
        h[i].name = strdup(headers[i].key);
        if (h[i].name == NULL)
            goto cleanup;
        for (char *c = h[i].name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        h[i].value = headers[i].value;
    }
    qsort(h, n, sizeof(*h), cmp_header);
    for (size_t i = 0; i < n; i++) {
        sw_strbuf_printf(canon, "%s:", h[i].name);
        const char *v = h[i].value;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t len = strlen(v);
        while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        for (size_t j = 0; j < len; j++) {
            if ((v[j] == ' ' || v[j] == '\t') && j > 0 && (v[j - 1] == ' ' || v[j - 1] == '\t'))
                continue;
            sw_strbuf_putc(canon, v[j] == '\t' ? ' ' : v[j]);
        }
        sw_strbuf_putc(canon, '\n');
        sw_strbuf_printf(signed_names, "%s%s", i ? ";" : "", h[i].name);
    }
    rc = (canon->failed || signed_names->failed) ? SW_ENOMEM : 0;
cleanup:
    for (size_t i = 0; i < n; i++)
        free(h[i].name);
    free(h);
    return rc;
}

/* The signature of string_to_sign under the derived key for the date
 * (first 8 characters of amz_date) and region. */
static void derive_signature(const char *secret_key, const char *amz_date, const char *region,
                             const char *string_to_sign, char out[SW_SHA256_HEX_LEN + 1])
{
    unsigned char k[32];
    char date[9];
    size_t secret_len = strlen(secret_key);
    char *kdate_key = malloc(secret_len + 5);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    if (kdate_key == NULL) {
        out[0] = '\0';
        return;
    }
    memcpy(kdate_key, "AWS4", 4);
    memcpy(kdate_key + 4, secret_key, secret_len + 1);
    hmac_raw(kdate_key, secret_len + 4, date, k);
    OPENSSL_cleanse(kdate_key, secret_len + 4);
    free(kdate_key);
    hmac_raw(k, 32, region, k);
    hmac_raw(k, 32, "s3", k);
    hmac_raw(k, 32, "aws4_request", k);
    unsigned char sig[32];
    hmac_raw(k, 32, string_to_sign, sig);
    OPENSSL_cleanse(k, sizeof(k));
    sw_hex_encode(sig, 32, out);
}

/* The canonical request's hash and the string to sign. */
static char *string_to_sign(const char *canonical_request, const char *amz_date, const char *region)
{
    char hash[SW_SHA256_HEX_LEN + 1];
    sw_strbuf sb = SW_STRBUF_INIT;
    sha256_hex(canonical_request, strlen(canonical_request), hash);
    sw_strbuf_printf(&sb, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/s3/aws4_request\n%s", amz_date, amz_date,
                     region, hash);
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return NULL;
    }
    return sw_strbuf_detach(&sb);
}

int reg_s3_sign(const char *method, const char *canonical_uri, const struct reg_s3_kv *query,
                size_t n_query, const struct reg_s3_kv *headers, size_t n_headers,
                const char *payload_sha256_hex, const char *amz_date, const char *region,
                const char *access_key, const char *secret_key, char **authorization,
                sw_error **err)
{
    sw_strbuf canon_headers = SW_STRBUF_INIT, signed_names = SW_STRBUF_INIT;
    sw_strbuf request = SW_STRBUF_INIT, auth = SW_STRBUF_INIT;
    char *query_str = NULL, *to_sign = NULL;
    char signature[SW_SHA256_HEX_LEN + 1];
    int rc = SW_ENOMEM;
    *authorization = NULL;
    if (strlen(amz_date) != 16)
        return sw_error_set(err, SW_EINVAL, "s3: malformed signing date \"%s\"", amz_date);
    query_str = canonical_query(query, n_query);
    if (query_str == NULL ||
        canonical_headers(headers, n_headers, &canon_headers, &signed_names) != 0)
        goto cleanup;
    sw_strbuf_printf(&request, "%s\n%s\n%s\n%s\n%s\n%s", method, canonical_uri, query_str,
                     canon_headers.data ? canon_headers.data : "",
                     signed_names.data ? signed_names.data : "", payload_sha256_hex);
    if (request.failed || (to_sign = string_to_sign(request.data, amz_date, region)) == NULL)
        goto cleanup;
    derive_signature(secret_key, amz_date, region, to_sign, signature);
    if (signature[0] == '\0')
        goto cleanup;
    sw_strbuf_printf(&auth,
                     "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/s3/aws4_request, "
                     "SignedHeaders=%s, Signature=%s",
                     access_key, amz_date, region, signed_names.data ? signed_names.data : "",
                     signature);
    if (auth.failed)
        goto cleanup;
    *authorization = sw_strbuf_detach(&auth);
    rc = 0;
cleanup:
    if (rc == SW_ENOMEM)
        sw_error_oom(err);
    free(query_str);
    free(to_sign);
    sw_strbuf_free(&canon_headers);
    sw_strbuf_free(&signed_names);
    sw_strbuf_free(&request);
    sw_strbuf_free(&auth);
    return rc;
}

static void amz_date_now(int64_t now, char out[17])
{
    time_t t = now ? (time_t)now : time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---- client ---- */

int reg_s3_new(const struct reg_s3_config *cfg, reg_s3 **out, sw_error **err)
{
    struct reg_s3 *s3 = NULL;
    const char *ep = cfg->endpoint;
    int rc = 0;
    *out = NULL;
    static const struct {
        const char *name;
        size_t offset;
    } required[] = {
        { "endpoint", offsetof(struct reg_s3_config, endpoint) },
        { "region", offsetof(struct reg_s3_config, region) },
        { "bucket", offsetof(struct reg_s3_config, bucket) },
        { "access_key", offsetof(struct reg_s3_config, access_key) },
        { "secret_key", offsetof(struct reg_s3_config, secret_key) },
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const char *v = *(const char *const *)((const char *)cfg + required[i].offset);
        if (v == NULL || v[0] == '\0')
            return sw_error_set(err, SW_EINVAL, "s3 storage: %s is not set", required[i].name);
    }
    const char *rest;
    if (strncmp(ep, "http://", 7) == 0)
        rest = ep + 7;
    else if (strncmp(ep, "https://", 8) == 0)
        rest = ep + 8;
    else
        return sw_error_set(err, SW_EINVAL,
                            "s3 storage: endpoint \"%s\" must start with http:// or https://", ep);
    size_t host_len = strcspn(rest, "/?#");
    if (host_len == 0 || (rest[host_len] != '\0' && strcmp(rest + host_len, "/") != 0))
        return sw_error_set(err, SW_EINVAL,
                            "s3 storage: endpoint \"%s\" must be scheme://host[:port] "
                            "without a path",
                            ep);
    for (const char *b = cfg->bucket; *b; b++) {
        if (!(islower((unsigned char)*b) || isdigit((unsigned char)*b) || *b == '-' || *b == '.'))
            return sw_error_set(err, SW_EINVAL,
                                "s3 storage: bucket \"%s\": only a-z, 0-9, '-' and '.' are "
                                "allowed",
                                cfg->bucket);
    }
    s3 = calloc(1, sizeof(*s3));
    SW_CHECK_ALLOC(s3, rc, err, fail);
    pthread_mutex_init(&s3->pool_lock, NULL);
    s3->region = strdup(cfg->region);
    s3->bucket = strdup(cfg->bucket);
    s3->access_key = strdup(cfg->access_key);
    s3->secret_key = strdup(cfg->secret_key);
    if (cfg->path_style) {
        s3->host = strndup(rest, host_len);
        if (asprintf(&s3->scheme_host, "%.*s", (int)((size_t)(rest - ep) + host_len), ep) < 0)
            s3->scheme_host = NULL;
        if (asprintf(&s3->path_base, "/%s", cfg->bucket) < 0)
            s3->path_base = NULL;
    } else {
        if (asprintf(&s3->host, "%s.%.*s", cfg->bucket, (int)host_len, rest) < 0)
            s3->host = NULL;
        if (asprintf(&s3->scheme_host, "%.*s%s", (int)(rest - ep), ep, s3->host ? s3->host : "") <
            0)
            s3->scheme_host = NULL;
        s3->path_base = strdup("");
    }
    if (!s3->region || !s3->bucket || !s3->access_key || !s3->secret_key || !s3->host ||
        !s3->scheme_host || !s3->path_base) {
        rc = sw_error_oom(err);
        goto fail;
    }
    s3->http.connect_timeout_s = cfg->connect_timeout_s;
    s3->http.stall_timeout_s = cfg->stall_timeout_s;
    *out = s3;
    return 0;
fail:
    reg_s3_free(s3);
    return rc;
}

void reg_s3_free(reg_s3 *s3)
{
    if (s3 == NULL)
        return;
    for (int i = 0; i < s3->pool_len; i++)
        curl_easy_cleanup(s3->pool[i]);
    pthread_mutex_destroy(&s3->pool_lock);
    free(s3->scheme_host);
    free(s3->host);
    free(s3->path_base);
    free(s3->region);
    free(s3->bucket);
    free(s3->access_key);
    if (s3->secret_key) {
        OPENSSL_cleanse(s3->secret_key, strlen(s3->secret_key));
        free(s3->secret_key);
    }
    free(s3);
}

static CURL *pool_get(reg_s3 *s3)
{
    CURL *curl = NULL;
    pthread_mutex_lock(&s3->pool_lock);
    if (s3->pool_len > 0)
        curl = s3->pool[--s3->pool_len];
    pthread_mutex_unlock(&s3->pool_lock);
    if (curl != NULL) {
        curl_easy_reset(curl);
        sw_http_easy_setup(curl, &s3->http);
        return curl;
    }
    return sw_http_easy_new(&s3->http);
}

static void pool_put(reg_s3 *s3, CURL *curl)
{
    pthread_mutex_lock(&s3->pool_lock);
    if (s3->pool_len < S3_POOL_MAX) {
        s3->pool[s3->pool_len++] = curl;
        curl = NULL;
    }
    pthread_mutex_unlock(&s3->pool_lock);
    if (curl)
        curl_easy_cleanup(curl);
}

/* ---- XML answers ---- */

/* Finds the next <tag>...</tag> in [*pos, end) and returns its decoded
 * text (malloc'd) or NULL when absent; *pos moves past it. */
static char *xml_next(const char **pos, const char *end, const char *tag)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *s = memmem(*pos, (size_t)(end - *pos), open, strlen(open));
    if (s == NULL)
        return NULL;
    s += strlen(open);
    const char *e = memmem(s, (size_t)(end - s), close, strlen(close));
    if (e == NULL)
        return NULL;
    *pos = e + strlen(close);
    char *out = malloc((size_t)(e - s) + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    static const struct {
        const char *entity;
        char c;
    } entities[] = {
        { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' }
    };
    while (s < e) {
        int done = 0;
        if (*s == '&') {
            for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
                size_t len = strlen(entities[i].entity);
                if ((size_t)(e - s) >= len && memcmp(s, entities[i].entity, len) == 0) {
                    *o++ = entities[i].c;
                    s += len;
                    done = 1;
                    break;
                }
            }
            if (!done && e - s >= 4 && s[1] == '#') {
                const char *semi = memchr(s, ';', (size_t)(e - s));
                long code = -1;
                if (semi && semi - s <= 10) {
                    char num[12];
                    memcpy(num, s + 2, (size_t)(semi - s - 2));
                    num[semi - s - 2] = '\0';
                    char *endp;
                    code = num[0] == 'x' ? strtol(num + 1, &endp, 16) : strtol(num, &endp, 10);
                    if (*endp != '\0')
                        code = -1;
                }
                if (code > 0 && code < 128) {
                    *o++ = (char)code;
                    s = semi + 1;
                    done = 1;
                }
            }
        }
        if (!done)
            *o++ = *s++;
    }
    *o = '\0';
    return out;
}

/* ---- requests ---- */

struct s3_request {
    const char *method;
    const char *key; /* NULL: the bucket itself */
    const struct reg_s3_kv *query;
    size_t n_query;
    const void *body;
    size_t body_len;
    const char *range;       /* "bytes=a-b" or NULL */
    const char *copy_source; /* x-amz-copy-source or NULL */
    const char *content_type;
    reg_s3_sink_fn sink; /* 2xx body goes here when set, else to response */
    void *sink_ctx;
    int64_t range_offset; /* for sink: the first byte asked for */
    int64_t range_length; /* for sink: bytes asked for, -1: to the end */
};

struct s3_response {
    long status;
    sw_strbuf body;
    int64_t content_length;
    int64_t range_total; /* from Content-Range ".../total", -1 if none */
    char *etag;
    int64_t range_start; /* from Content-Range "bytes START-..." */
    sw_error *sink_err;
    int sink_stopped;
    reg_s3_sink_fn sink;
    void *sink_ctx;
    /* Some S3-compatible servers answer more than the range asked for
       (s3rver sends a whole object for "bytes=0-0"; others ignore Range
       and answer 200): the sink gets exactly the bytes asked for. */
    int64_t want_offset, want_length, seen, delivered;
    int is_complete; /* all wanted bytes delivered: stopping is success */
};

struct body_reader {
    const char *data;
    size_t len;
    size_t pos;
};

static size_t read_body(char *buf, size_t size, size_t nmemb, void *ctx)
{
    struct body_reader *r = ctx;
    size_t n = size * nmemb;
    if (n > r->len - r->pos)
        n = r->len - r->pos;
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
    return n;
}

static size_t write_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct s3_response *resp = ctx;
    size_t n = size * nmemb;
    if (resp->sink && resp->status >= 200 && resp->status < 300) {
        /* where this piece starts in the object */
        int64_t base = (resp->status == 206 ? resp->range_start : 0) + resp->seen;
        const char *p = data;
        size_t len = n;
        resp->seen += (int64_t)n;
        if (base < resp->want_offset) {
            int64_t skip = resp->want_offset - base;
            if ((int64_t)len <= skip)
                return n;
            p += skip;
            len -= (size_t)skip;
        }
        if (resp->want_length >= 0 && (int64_t)len > resp->want_length - resp->delivered)
            len = (size_t)(resp->want_length - resp->delivered);
        if (len > 0 && resp->sink(p, len, resp->sink_ctx, &resp->sink_err) != 0) {
            resp->sink_stopped = 1;
            return 0;
        }
        resp->delivered += (int64_t)len;
        if (resp->want_length >= 0 && resp->delivered >= resp->want_length) {
            resp->is_complete = 1;
            return len == n ? n : 0; /* the rest is not wanted */
        }
        return n;
    }
    if (resp->body.len + n > S3_MAX_XML_BODY)
        return 0;
    sw_strbuf_append(&resp->body, data, n);
    return resp->body.failed ? 0 : n;
}

static size_t header_line(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct s3_response *resp = ctx;
    size_t n = size * nmemb;
    char line[512];
    size_t len = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
    memcpy(line, data, len);
    line[len] = '\0';
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        line[--len] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue): forget earlier headers */
        const char *sp = strchr(line, ' ');
        resp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        resp->range_total = -1;
        resp->range_start = 0;
        resp->content_length = -1;
        free(resp->etag);
        resp->etag = NULL;
        return n;
    }
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return n;
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ')
        value++;
    if (strcasecmp(line, "ETag") == 0) {
        free(resp->etag);
        resp->etag = strdup(value);
    } else if (strcasecmp(line, "Content-Length") == 0) {
        char *end;
        long long v = strtoll(value, &end, 10);
        if (end != value && v >= 0)
            resp->content_length = v;
    } else if (strcasecmp(line, "Content-Range") == 0) {
        const char *slash = strrchr(value, '/');
        if (strncmp(value, "bytes ", 6) == 0)
            resp->range_start = strtoll(value + 6, NULL, 10);
        if (slash && slash[1] != '*') {
            char *end;
            long long v = strtoll(slash + 1, &end, 10);
            if (end != slash + 1 && v >= 0)
                resp->range_total = v;
        }
    }
    return n;
}

static int status_code(long status, const char *s3_code)
{
    if (s3_code) {
        if (!strcmp(s3_code, "NoSuchKey") || !strcmp(s3_code, "NoSuchUpload") ||
            !strcmp(s3_code, "NoSuchBucket"))
            return SW_ENOTFOUND;
        if (!strcmp(s3_code, "AccessDenied") || !strcmp(s3_code, "SignatureDoesNotMatch") ||
            !strcmp(s3_code, "InvalidAccessKeyId"))
            return SW_EPERM;
        if (!strcmp(s3_code, "InvalidRange"))
            return SW_ERANGE;
    }
    if (status == 404)
        return SW_ENOTFOUND;
    if (status == 401 || status == 403)
        return SW_EPERM;
    if (status == 416)
        return SW_ERANGE;
    return SW_EIO;
}

/* Object path (encoded, '/' kept) as it appears in the URL and the
 * canonical request. */
static char *object_path(const reg_s3 *s3, const char *key)
{
    char *encoded = reg_s3_uri_encode(key ? key : "", 1);
    char *path = NULL;
    if (encoded == NULL)
        return NULL;
    if (asprintf(&path, "%s/%s", s3->path_base, encoded) < 0)
        path = NULL;
    free(encoded);
    return path;
}

static int s3_do_once(reg_s3 *s3, const struct s3_request *req, struct s3_response *resp,
                      sw_error **err)
{
    char amz_date[17], payload_hash[SW_SHA256_HEX_LEN + 1];
    char *path = NULL, *query = NULL, *auth = NULL, *url = NULL;
    struct curl_slist *hdrs = NULL;
    CURL *curl = NULL;
    int rc = 0;
    struct body_reader reader = { req->body, req->body_len, 0 };
    const char *what = req->key ? req->key : "";

    memset(resp, 0, sizeof(*resp));
    resp->range_total = -1;
    resp->content_length = -1;
    resp->sink = req->sink;
    resp->sink_ctx = req->sink_ctx;
    resp->want_offset = req->range_offset;
    resp->want_length = req->range_length;

    amz_date_now(0, amz_date);
    if (req->body_len)
        sha256_hex(req->body, req->body_len, payload_hash);
    else
        memcpy(payload_hash, S3_EMPTY_SHA256, sizeof(payload_hash));

    path = object_path(s3, req->key);
    query = canonical_query(req->query, req->n_query);
    SW_CHECK_ALLOC(path, rc, err, cleanup);
    SW_CHECK_ALLOC(query, rc, err, cleanup);

    struct reg_s3_kv headers[6];
    size_t n_headers = 0;
    headers[n_headers++] = (struct reg_s3_kv){ "host", s3->host };
    headers[n_headers++] = (struct reg_s3_kv){ "x-amz-content-sha256", payload_hash };
    headers[n_headers++] = (struct reg_s3_kv){ "x-amz-date", amz_date };
    if (req->copy_source)
        headers[n_headers++] = (struct reg_s3_kv){ "x-amz-copy-source", req->copy_source };
    if ((rc = reg_s3_sign(req->method, path, req->query, req->n_query, headers, n_headers,
                          payload_hash, amz_date, s3->region, s3->access_key, s3->secret_key, &auth,
                          err)) != 0)
        goto cleanup;

    if (asprintf(&url, "%s%s%s%s", s3->scheme_host, path, query[0] ? "?" : "", query) < 0) {
        url = NULL;
        rc = sw_error_oom(err);
        goto cleanup;
    }
    char line[1024];
    const struct {
        const char *name;
        const char *value;
    } send[] = { { "Host", s3->host },
                 { "x-amz-content-sha256", payload_hash },
                 { "x-amz-date", amz_date },
                 { "x-amz-copy-source", req->copy_source },
                 { "Range", req->range },
                 { "Content-Type", req->content_type },
                 { "Expect", "" } };
    for (size_t i = 0; i < sizeof(send) / sizeof(send[0]); i++) {
        if (send[i].value == NULL)
            continue;
        snprintf(line, sizeof(line), "%s:%s%s", send[i].name, send[i].value[0] ? " " : "",
                 send[i].value);
        struct curl_slist *n = curl_slist_append(hdrs, line);
        SW_CHECK_ALLOC(n, rc, err, cleanup);
        hdrs = n;
    }
    {
        char *auth_line = NULL;
        if (asprintf(&auth_line, "Authorization: %s", auth) < 0) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        struct curl_slist *n = curl_slist_append(hdrs, auth_line);
        free(auth_line);
        SW_CHECK_ALLOC(n, rc, err, cleanup);
        hdrs = n;
    }

    curl = pool_get(s3);
    SW_CHECK_ALLOC(curl, rc, err, cleanup);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_line);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp);
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "PUT") == 0) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(curl, CURLOPT_READDATA, &reader);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    }

    CURLcode cc = curl_easy_perform(curl);
    if (resp->sink_stopped) {
        if (resp->sink_err) {
            if (err && *err == NULL) {
                *err = resp->sink_err;
                resp->sink_err = NULL;
            }
            rc = sw_error_code(err ? *err : NULL);
            if (rc == 0)
                rc = SW_ECANCELED;
        } else {
            rc = sw_error_set(err, SW_ECANCELED, "s3 %s %s/%s: stopped by the reader", req->method,
                              s3->bucket, what);
        }
        goto cleanup;
    }
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && resp->is_complete)) {
        rc = sw_error_set(err, SW_EIO, "s3 %s %s/%s: %s", req->method, s3->bucket, what,
                          curl_easy_strerror(cc));
        goto cleanup;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (resp->status < 200 || resp->status >= 300) {
        char *code = NULL, *message = NULL;
        reg_s3_parse_error(resp->body.data ? resp->body.data : "", resp->body.len, &code, &message);
        rc = sw_error_set(err, status_code(resp->status, code), "s3 %s %s/%s: %ld %s%s%s",
                          req->method, s3->bucket, what, resp->status,
                          code                               ? code
                          : strcmp(req->method, "HEAD") == 0 ? "(a HEAD answer has no body)"
                                                             : "(no error code)",
                          message ? ": " : "", message ? message : "");
        free(code);
        free(message);
        goto cleanup;
    }
cleanup:
    if (curl)
        pool_put(s3, curl);
    curl_slist_free_all(hdrs);
    sw_error_clear(&resp->sink_err);
    free(path);
    free(query);
    if (auth)
        free(auth);
    free(url);
    return rc;
}

static void response_free(struct s3_response *resp)
{
    sw_strbuf_free(&resp->body);
    free(resp->etag);
    resp->etag = NULL;
}

/* One request, retried (up to 4 attempts, 0.1/0.4/1.6 s apart) when the
 * store answers 5xx (S3's InternalError and SlowDown say "try again", and
 * concurrent writers of one key get them from some stores) and nothing
 * was handed to a sink yet. Bodies are buffers, so a retry resends the
 * same bytes under a fresh signature. */
static int s3_do(reg_s3 *s3, const struct s3_request *req, struct s3_response *resp, sw_error **err)
{
    int rc = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        sw_error *attempt_err = NULL;
        if (attempt > 0) {
            response_free(resp);
            long ns = 100000000L << (2 * (attempt - 1));
            struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
            nanosleep(&ts, NULL);
        }
        rc = s3_do_once(s3, req, resp, &attempt_err);
        int is_retryable = rc != 0 && resp->status >= 500 && resp->status <= 599 &&
                           resp->delivered == 0 && !resp->sink_stopped;
        if (!is_retryable || attempt == 3) {
            if (attempt_err) {
                if (err && *err == NULL)
                    *err = attempt_err;
                else
                    sw_error_clear(&attempt_err);
            }
            break;
        }
        sw_error_clear(&attempt_err);
    }
    return rc;
}

int reg_s3_put(reg_s3 *s3, const char *key, const void *data, size_t len, sw_error **err)
{
    struct s3_request req = { .method = "PUT", .key = key, .body = data, .body_len = len };
    struct s3_response resp;
    int rc = s3_do(s3, &req, &resp, err);
    response_free(&resp);
    return rc;
}

int reg_s3_get(reg_s3 *s3, const char *key, int64_t offset, int64_t length, reg_s3_sink_fn sink,
               void *ctx, int64_t *object_size, sw_error **err)
{
    char range[64];
    struct s3_request req = { .method = "GET",
                              .key = key,
                              .sink = sink,
                              .sink_ctx = ctx,
                              .range_offset = offset,
                              .range_length = length };
    struct s3_response resp;
    if (offset < 0 || length < -1 || length == 0)
        return sw_error_set(err, SW_ERANGE, "s3 GET %s: invalid range %" PRId64 "+%" PRId64, key,
                            offset, length);
    if (offset > 0 || length > 0) {
        if (length > 0)
            snprintf(range, sizeof(range), "bytes=%" PRId64 "-%" PRId64, offset,
                     offset + length - 1);
        else
            snprintf(range, sizeof(range), "bytes=%" PRId64 "-", offset);
        req.range = range;
    }
    int rc = s3_do(s3, &req, &resp, err);
    if (rc == 0 && object_size)
        *object_size = resp.range_total >= 0 ? resp.range_total : resp.content_length;
    response_free(&resp);
    return rc;
}

int reg_s3_head(reg_s3 *s3, const char *key, int64_t *size, sw_error **err)
{
    struct s3_request req = { .method = "HEAD", .key = key };
    struct s3_response resp;
    int rc = s3_do(s3, &req, &resp, err);
    if (rc == 0) {
        if (resp.content_length < 0)
            rc = sw_error_set(err, SW_EIO, "s3 HEAD %s/%s: no Content-Length in the answer",
                              s3->bucket, key);
        else if (size)
            *size = resp.content_length;
    }
    response_free(&resp);
    return rc;
}

int reg_s3_delete(reg_s3 *s3, const char *key, sw_error **err)
{
    struct s3_request req = { .method = "DELETE", .key = key };
    struct s3_response resp;
    int rc = s3_do(s3, &req, &resp, err);
    response_free(&resp);
    return rc;
}

int reg_s3_copy(reg_s3 *s3, const char *src_key, const char *dst_key, sw_error **err)
{
    char *encoded = reg_s3_uri_encode(src_key, 1);
    char *source = NULL;
    int rc;
    if (encoded == NULL || asprintf(&source, "/%s/%s", s3->bucket, encoded) < 0) {
        free(encoded);
        return sw_error_oom(err);
    }
    struct s3_request req = { .method = "PUT", .key = dst_key, .copy_source = source };
    struct s3_response resp;
    rc = s3_do(s3, &req, &resp, err);
    /* CopyObject may answer 200 with an <Error> body when it fails late. */
    if (rc == 0 && resp.body.data && strstr(resp.body.data, "<Error>")) {
        const char *pos = resp.body.data;
        char *code = xml_next(&pos, pos + resp.body.len, "Code");
        rc = sw_error_set(err, status_code(500, code), "s3 copy %s to %s: %s", src_key, dst_key,
                          code ? code : "error");
        free(code);
    }
    response_free(&resp);
    free(encoded);
    free(source);
    return rc;
}

/* ISO 8601 "2026-12-06T05:00:00.000Z" to epoch seconds; 0 when malformed. */
static int64_t parse_iso8601(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

int reg_s3_parse_list(const char *body, size_t len, reg_s3_list_fn fn, void *ctx, char **next_token,
                      sw_error **err)
{
    const char *pos = body, *end = body + len, *c;
    int rc = 0;
    *next_token = NULL;
    while (rc == 0 && (c = memmem(pos, (size_t)(end - pos), "<Contents>", 10)) != NULL) {
        const char *c_end = memmem(c, (size_t)(end - c), "</Contents>", 11);
        if (c_end == NULL)
            break;
        const char *p = c;
        char *key = xml_next(&p, c_end, "Key");
        p = c;
        char *size = xml_next(&p, c_end, "Size");
        p = c;
        char *modified = xml_next(&p, c_end, "LastModified");
        char *size_end = NULL;
        long long n = size ? strtoll(size, &size_end, 10) : -1;
        if (key && size && size_end != size && *size_end == '\0' && n >= 0)
            rc = fn(key, n, parse_iso8601(modified), ctx, err);
        else
            rc = sw_error_set(err, SW_EIO, "s3 list: an entry without a key or a valid size");
        free(key);
        free(size);
        free(modified);
        pos = c_end + 11;
    }
    if (rc != 0)
        return rc;
    pos = body;
    char *truncated = xml_next(&pos, end, "IsTruncated");
    if (truncated && strcmp(truncated, "true") == 0) {
        pos = body;
        *next_token = xml_next(&pos, end, "NextContinuationToken");
        if (*next_token == NULL || (*next_token)[0] == '\0') {
            free(*next_token);
            *next_token = NULL;
            rc = sw_error_set(err, SW_EIO, "s3 list: truncated without a continuation token");
        }
    }
    free(truncated);
    return rc;
}

void reg_s3_parse_error(const char *body, size_t len, char **code, char **message)
{
    const char *pos = body;
    *code = xml_next(&pos, body + len, "Code");
    pos = body;
    *message = xml_next(&pos, body + len, "Message");
}

int reg_s3_list(reg_s3 *s3, const char *prefix, reg_s3_list_fn fn, void *ctx, sw_error **err)
{
    char *token = NULL;
    int rc = 0;
    for (;;) {
        struct reg_s3_kv query[3] = { { "list-type", "2" }, { "prefix", prefix }, { NULL, NULL } };
        size_t n_query = 2;
        char *next = NULL;
        if (token)
            query[n_query++] = (struct reg_s3_kv){ "continuation-token", token };
        struct s3_request req = {
            .method = "GET", .key = NULL, .query = query, .n_query = n_query
        };
        struct s3_response resp;
        rc = s3_do(s3, &req, &resp, err);
        if (rc == 0)
            rc = reg_s3_parse_list(resp.body.data ? resp.body.data : "", resp.body.len, fn, ctx,
                                   &next, err);
        response_free(&resp);
        /* a server repeating its token would keep us here forever */
        if (rc == 0 && next && token && strcmp(next, token) == 0)
            rc = sw_error_set(err, SW_EIO, "s3 list %s: the same continuation token twice", prefix);
        free(token);
        token = next;
        if (rc != 0 || token == NULL)
            break;
    }
    free(token);
    return rc;
}

int reg_s3_multipart_create(reg_s3 *s3, const char *key, char **upload_id, sw_error **err)
{
    struct reg_s3_kv query[] = { { "uploads", NULL } };
    struct s3_request req = { .method = "POST", .key = key, .query = query, .n_query = 1 };
    struct s3_response resp;
    *upload_id = NULL;
    int rc = s3_do(s3, &req, &resp, err);
    if (rc == 0) {
        const char *pos = resp.body.data ? resp.body.data : "";
        *upload_id = xml_next(&pos, pos + resp.body.len, "UploadId");
        if (*upload_id == NULL)
            rc = sw_error_set(err, SW_EIO,
                              "s3 create multipart upload %s: no UploadId in the "
                              "answer",
                              key);
    }
    response_free(&resp);
    return rc;
}

int reg_s3_multipart_put_part(reg_s3 *s3, const char *key, const char *upload_id, int number,
                              const void *data, size_t len, char **etag, sw_error **err)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", number);
    struct reg_s3_kv query[] = { { "partNumber", num }, { "uploadId", upload_id } };
    struct s3_request req = {
        .method = "PUT", .key = key, .query = query, .n_query = 2, .body = data, .body_len = len
    };
    struct s3_response resp;
    *etag = NULL;
    int rc = s3_do(s3, &req, &resp, err);
    if (rc == 0) {
        if (resp.etag == NULL)
            rc = sw_error_set(err, SW_EIO, "s3 upload part %d of %s: no ETag in the answer", number,
                              key);
        else {
            *etag = resp.etag;
            resp.etag = NULL;
        }
    }
    response_free(&resp);
    return rc;
}

int reg_s3_multipart_complete(reg_s3 *s3, const char *key, const char *upload_id,
                              const struct reg_s3_part *parts, size_t n_parts, sw_error **err)
{
    sw_strbuf body = SW_STRBUF_INIT;
    int rc;
    sw_strbuf_puts(&body, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < n_parts; i++) {
        sw_strbuf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number);
        for (const char *e = parts[i].etag; *e; e++) {
            if (*e == '"')
                sw_strbuf_puts(&body, "&quot;");
            else if (*e == '&')
                sw_strbuf_puts(&body, "&amp;");
            else if (*e == '<')
                sw_strbuf_puts(&body, "&lt;");
            else
                sw_strbuf_putc(&body, *e);
        }
        sw_strbuf_puts(&body, "</ETag></Part>");
    }
    sw_strbuf_puts(&body, "</CompleteMultipartUpload>");
    if (body.failed) {
        sw_strbuf_free(&body);
        return sw_error_oom(err);
    }
    struct reg_s3_kv query[] = { { "uploadId", upload_id } };
    struct s3_request req = { .method = "POST",
                              .key = key,
                              .query = query,
                              .n_query = 1,
                              .body = body.data,
                              .body_len = body.len,
                              .content_type = "application/xml" };
    struct s3_response resp;
    rc = s3_do(s3, &req, &resp, err);
    /* CompleteMultipartUpload may fail after a 200 with an <Error> body. */
    if (rc == 0 && resp.body.data && strstr(resp.body.data, "<Error>")) {
        const char *pos = resp.body.data;
        char *code = xml_next(&pos, pos + resp.body.len, "Code");
        rc = sw_error_set(err, status_code(500, code), "s3 complete multipart upload %s: %s", key,
                          code ? code : "error");
        free(code);
    }
    response_free(&resp);
    sw_strbuf_free(&body);
    return rc;
}

int reg_s3_multipart_abort(reg_s3 *s3, const char *key, const char *upload_id, sw_error **err)
{
    struct reg_s3_kv query[] = { { "uploadId", upload_id } };
    struct s3_request req = { .method = "DELETE", .key = key, .query = query, .n_query = 1 };
    struct s3_response resp;
    int rc = s3_do(s3, &req, &resp, err);
    response_free(&resp);
    return rc;
}

int reg_s3_presign_get(reg_s3 *s3, const char *key, int64_t expires_s, int64_t now, char **url,
                       sw_error **err)
{
    char amz_date[17], expires[24], *credential = NULL, *path = NULL, *query = NULL;
    char *to_sign = NULL;
    sw_strbuf request = SW_STRBUF_INIT;
    char signature[SW_SHA256_HEX_LEN + 1];
    int rc = SW_ENOMEM;
    *url = NULL;
    if (expires_s < 1 || expires_s > 604800)
        return sw_error_set(err, SW_EINVAL, "s3 presign: expiry %" PRId64 " s is not in 1..604800",
                            expires_s);
    amz_date_now(now, amz_date);
    snprintf(expires, sizeof(expires), "%" PRId64, expires_s);
    if (asprintf(&credential, "%s/%.8s/%s/s3/aws4_request", s3->access_key, amz_date, s3->region) <
        0) {
        credential = NULL;
        goto cleanup;
    }
    struct reg_s3_kv q[] = { { "X-Amz-Algorithm", "AWS4-HMAC-SHA256" },
                             { "X-Amz-Credential", credential },
                             { "X-Amz-Date", amz_date },
                             { "X-Amz-Expires", expires },
                             { "X-Amz-SignedHeaders", "host" } };
    path = object_path(s3, key);
    query = canonical_query(q, sizeof(q) / sizeof(q[0]));
    if (!path || !query)
        goto cleanup;
    sw_strbuf_printf(&request, "GET\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD", path, query,
                     s3->host);
    if (request.failed || (to_sign = string_to_sign(request.data, amz_date, s3->region)) == NULL)
        goto cleanup;
    derive_signature(s3->secret_key, amz_date, s3->region, to_sign, signature);
    if (signature[0] == '\0')
        goto cleanup;
    if (asprintf(url, "%s%s?%s&X-Amz-Signature=%s", s3->scheme_host, path, query, signature) < 0) {
        *url = NULL;
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (rc == SW_ENOMEM)
        sw_error_oom(err);
    free(credential);
    free(path);
    free(query);
    free(to_sign);
    sw_strbuf_free(&request);
    return rc;
}
