/*
 * backend.c - the blob backend's front: argument checks (digests, session
 * ids, ranges), digest verification on commit, and the resumable SHA-256
 * state upload sessions store with their bytes; the drivers
 * (backend_fs.c, backend_s3.c) only move bytes.
 *
 * The hash state is OpenSSL's SHA256_CTX written out field by field (its
 * layout is public and has not changed in decades; the low-level API is
 * deprecated in OpenSSL 3 but kept, and EVP contexts cannot be exported).
 * A session continued on a machine of other endianness would read it
 * wrongly: the state names the byte order and is refused there.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "registry/backend_impl.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/strbuf.h"

#define DEFAULT_PART_SIZE (8LL * 1024 * 1024)
#define MIN_PART_SIZE (5LL * 1024 * 1024)

/* ---- digests and keys ---- */

static int digest_hex_len(const char *digest, const char **hex)
{
    int len = 0;
    if (strncmp(digest, "sha256:", 7) == 0)
        len = SW_SHA256_HEX_LEN, *hex = digest + 7;
    else if (strncmp(digest, "sha512:", 7) == 0)
        len = SW_SHA512_HEX_LEN, *hex = digest + 7;
    else
        return 0;
    for (int i = 0; i < len; i++) {
        if (!isdigit((unsigned char)(*hex)[i]) && !((*hex)[i] >= 'a' && (*hex)[i] <= 'f'))
            return 0;
    }
    return (*hex)[len] == '\0' ? len : 0;
}

static int check_digest(const char *digest, sw_error **err)
{
    const char *hex;
    if (digest == NULL || digest_hex_len(digest, &hex) == 0)
        return sw_error_set(err, REG_E_DIGEST_INVALID, "invalid digest \"%.80s\"",
                            digest ? digest : "(null)");
    return 0;
}

char *reg_backend_blob_key(const char *digest)
{
    const char *hex;
    char *key = NULL;
    if (digest_hex_len(digest, &hex) == 0)
        return NULL;
    if (asprintf(&key, "blobs/%.6s/%.2s/%s", digest, hex, hex) < 0)
        return NULL;
    return key;
}

int reg_backend_key_digest(const char *key, char out[SW_DIGEST_MAX])
{
    const char *hex;
    char digest[SW_DIGEST_MAX + 16];
    /* blobs/<algo>/<2>/<hex> */
    if (strncmp(key, "blobs/", 6) != 0 || strlen(key) < 6 + 7 + 3 + 64)
        return -1;
    const char *algo = key + 6;
    if (algo[6] != '/' || algo[9] != '/')
        return -1;
    if (strlen(algo + 10) > SW_SHA512_HEX_LEN)
        return -1;
    snprintf(digest, sizeof(digest), "%.6s:%s", algo, algo + 10);
    if (digest_hex_len(digest, &hex) == 0 || strncmp(hex, algo + 7, 2) != 0)
        return -1;
    memcpy(out, digest, strlen(digest) + 1);
    return 0;
}

static int check_uuid(const char *uuid, sw_error **err)
{
    size_t n = uuid ? strlen(uuid) : 0;
    int ok = n >= 8 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)uuid[i]) || uuid[i] == '-';
    if (!ok)
        return sw_error_set(err, REG_E_BLOB_UPLOAD_UNKNOWN, "invalid upload id \"%.80s\"",
                            uuid ? uuid : "(null)");
    return 0;
}

/* ---- hash state ---- */

struct reg_hashstate {
    SHA256_CTX ctx;
};

struct reg_hashstate *reg_hashstate_new(void)
{
    struct reg_hashstate *h = calloc(1, sizeof(*h));
    if (h)
        SHA256_Init(&h->ctx);
    return h;
}

void reg_hashstate_update(struct reg_hashstate *h, const void *data, size_t len)
{
    SHA256_Update(&h->ctx, data, len);
}

void reg_hashstate_digest(const struct reg_hashstate *h, char out[SW_DIGEST_MAX])
{
    SHA256_CTX copy = h->ctx;
    unsigned char md[32];
    SHA256_Final(md, &copy);
    memcpy(out, "sha256:", 7);
    sw_hex_encode(md, 32, out + 7);
}

static int is_little_endian(void)
{
    const uint32_t one = 1;
    return *(const unsigned char *)&one == 1;
}

char *reg_hashstate_save(const struct reg_hashstate *h)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    const SHA256_CTX *c = &h->ctx;
    sw_strbuf_printf(&sb, "sha256-%s", is_little_endian() ? "le" : "be");
    for (int i = 0; i < 8; i++)
        sw_strbuf_printf(&sb, ",%x", (unsigned)c->h[i]);
    sw_strbuf_printf(&sb, ",%x,%x,%x,", (unsigned)c->Nl, (unsigned)c->Nh, c->num);
    char hex[2 * sizeof(c->data) + 1];
    sw_hex_encode((const unsigned char *)c->data, sizeof(c->data), hex);
    sw_strbuf_puts(&sb, hex);
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return NULL;
    }
    return sw_strbuf_detach(&sb);
}

struct reg_hashstate *reg_hashstate_load(const char *text)
{
    struct reg_hashstate *h = reg_hashstate_new();
    unsigned v[11];
    char tag[16], data_hex[2 * 64 + 2];
    int used = 0;
    if (h == NULL)
        return NULL;
    if (sscanf(text, "%15[^,],%x,%x,%x,%x,%x,%x,%x,%x,%x,%x,%x,%n", tag, &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &used) != 12 ||
        strcmp(tag, is_little_endian() ? "sha256-le" : "sha256-be") != 0 || v[10] >= 64 ||
        strlen(text + used) != 128 || sscanf(text + used, "%129s", data_hex) != 1)
        goto fail;
    for (int i = 0; i < 8; i++)
        h->ctx.h[i] = v[i];
    h->ctx.Nl = v[8];
    h->ctx.Nh = v[9];
    h->ctx.num = v[10];
    unsigned char *data = (unsigned char *)h->ctx.data;
    for (int i = 0; i < 64; i++) {
        unsigned byte;
        if (sscanf(data_hex + 2 * i, "%2x", &byte) != 1)
            goto fail;
        data[i] = (unsigned char)byte;
    }
    return h;
fail:
    free(h);
    return NULL;
}

void reg_hashstate_free(struct reg_hashstate *h)
{
    free(h);
}

char *reg_backend_state_format(int64_t offset, const struct reg_hashstate *h,
                               const char *driver_state)
{
    char *hs = reg_hashstate_save(h);
    char *out = NULL;
    if (hs == NULL)
        return NULL;
    if (asprintf(&out, "v1 %" PRId64 " %s%s%s\n", offset, hs, driver_state[0] ? " " : "",
                 driver_state) < 0)
        out = NULL;
    free(hs);
    return out;
}

int reg_backend_state_parse(const char *text, int64_t *offset, struct reg_hashstate **h,
                            char **driver_state, sw_error **err)
{
    char hs[512];
    long long off;
    int used = 0;
    *h = NULL;
    *driver_state = NULL;
    if (sscanf(text, "v1 %lld %511s%n", &off, hs, &used) != 2 || off < 0)
        return sw_error_set(err, SW_EIO, "upload session state is damaged");
    *h = reg_hashstate_load(hs);
    if (*h == NULL)
        return sw_error_set(err, SW_EIO,
                            "upload session state: hash state unreadable (another byte order?)");
    const char *rest = text + used;
    while (*rest == ' ')
        rest++;
    size_t len = strcspn(rest, "\n");
    *driver_state = strndup(rest, len);
    if (*driver_state == NULL) {
        reg_hashstate_free(*h);
        *h = NULL;
        return sw_error_oom(err);
    }
    *offset = off;
    return 0;
}

/* ---- open/close ---- */

void reg_backend_config_from(const struct sw_config *cfg, struct reg_backend_config *out)
{
    memset(out, 0, sizeof(*out));
    out->driver = cfg->storage_driver && strcmp(cfg->storage_driver, "s3") == 0
                      ? REG_BACKEND_S3
                      : REG_BACKEND_FILESYSTEM;
    out->root = cfg->data_dir;
    out->endpoint = cfg->storage_endpoint;
    out->region = cfg->storage_region;
    out->bucket = cfg->storage_bucket;
    out->prefix = cfg->storage_prefix;
    out->access_key = cfg->storage_access_key;
    out->secret_key = cfg->storage_secret_key;
    out->path_style = cfg->storage_path_style;
    out->redirect = cfg->storage_redirect;
    out->cached_writes = !cfg->storage_direct_io;
    out->part_size = cfg->storage_part_size;
}

int reg_backend_open(const struct reg_backend_config *cfg, reg_backend **out, sw_error **err)
{
    struct reg_backend_config c = *cfg;
    int rc;
    *out = NULL;
    if (c.part_size == 0)
        c.part_size = DEFAULT_PART_SIZE;
    if (c.part_size < MIN_PART_SIZE || c.part_size > 5LL * 1024 * 1024 * 1024)
        return sw_error_set(err, SW_EINVAL,
                            "storage.part_size: %" PRId64 " bytes is not in 5MiB..5GiB",
                            c.part_size);
    if (c.driver == REG_BACKEND_S3)
        rc = reg_backend_s3_open(&c, out, err);
    else
        rc = reg_backend_fs_open(&c, out, err);
    if (rc == 0) {
        (*out)->part_size = c.part_size;
        (*out)->redirect = c.redirect;
    }
    return rc;
}

void reg_backend_close(reg_backend *b)
{
    if (b)
        b->ops->close(b);
}

const char *reg_backend_driver_name(const reg_backend *b)
{
    return b->ops->name;
}

/* ---- blobs ---- */

#define WITH_KEY(digest, key, rc, err)                                                             \
    if (((rc) = check_digest((digest), (err))) != 0)                                               \
        return (rc);                                                                               \
    char *key = reg_backend_blob_key(digest);                                                      \
    if (key == NULL)                                                                               \
        return sw_error_oom(err);

int reg_backend_stat(reg_backend *b, const char *digest, int64_t *size, sw_error **err)
{
    int rc;
    WITH_KEY(digest, key, rc, err);
    rc = b->ops->stat(b, key, size, err);
    free(key);
    return rc;
}

int reg_backend_delete(reg_backend *b, const char *digest, sw_error **err)
{
    int rc;
    WITH_KEY(digest, key, rc, err);
    rc = b->ops->remove(b, key, err);
    free(key);
    return rc;
}

int reg_backend_walk(reg_backend *b, reg_backend_walk_fn fn, void *ctx, sw_error **err)
{
    return b->ops->walk(b, fn, ctx, err);
}

int reg_backend_reader_open(reg_backend *b, const char *digest, int64_t offset, int64_t length,
                            reg_backend_reader **out, int64_t *blob_size, sw_error **err)
{
    int64_t size = 0;
    int rc;
    *out = NULL;
    WITH_KEY(digest, key, rc, err);
    if ((rc = b->ops->stat(b, key, &size, err)) != 0)
        goto cleanup;
    if (offset < 0 || length < -1 || offset > size ||
        (length > 0 && (offset == size || length > size - offset))) {
        rc = sw_error_set(err, REG_E_RANGE_INVALID,
                          "range %" PRId64 "+%" PRId64 " does not fit %s (%" PRId64 " bytes)",
                          offset, length, digest, size);
        goto cleanup;
    }
    if (length == -1)
        length = size - offset;
    if (blob_size)
        *blob_size = size;
    rc = b->ops->reader_open(b, key, size, offset, length, out, err);
    if (rc == 0)
        (*out)->b = b;
cleanup:
    free(key);
    return rc;
}

int reg_backend_read(reg_backend_reader *r, void *buf, size_t cap, size_t *got, sw_error **err)
{
    return r->b->ops->read(r, buf, cap, got, err);
}

int reg_backend_reader_fd(reg_backend_reader *r, int *fd, int64_t *offset)
{
    if (r->b->ops->reader_fd == NULL)
        return SW_EUNSUPPORTED;
    return r->b->ops->reader_fd(r, fd, offset);
}

void reg_backend_reader_close(reg_backend_reader *r)
{
    if (r)
        r->b->ops->reader_close(r);
}

int reg_backend_read_all(reg_backend *b, const char *digest, size_t max, char **out, size_t *len,
                         sw_error **err)
{
    reg_backend_reader *r = NULL;
    int64_t size;
    char *buf = NULL;
    size_t have = 0, got;
    int rc;
    *out = NULL;
    if ((rc = reg_backend_reader_open(b, digest, 0, -1, &r, &size, err)) != 0)
        return rc;
    if ((uint64_t)size > max) {
        rc = sw_error_set(err, SW_ETOOBIG, "%s: %" PRId64 " bytes is over the limit of %zu", digest,
                          size, max);
        goto cleanup;
    }
    buf = malloc((size_t)size + 1);
    SW_CHECK_ALLOC(buf, rc, err, cleanup);
    while (have < (size_t)size) {
        if ((rc = reg_backend_read(r, buf + have, (size_t)size - have, &got, err)) != 0)
            goto cleanup;
        if (got == 0) {
            rc = sw_error_set(err, SW_EIO, "%s: short read at %zu of %" PRId64, digest, have, size);
            goto cleanup;
        }
        have += got;
    }
    buf[have] = '\0';
    *out = buf;
    *len = have;
    buf = NULL;
cleanup:
    free(buf);
    reg_backend_reader_close(r);
    return rc;
}

int reg_backend_redirect_url(reg_backend *b, const char *digest, int64_t ttl_s, char **url,
                             sw_error **err)
{
    int rc;
    *url = NULL;
    if (!b->redirect || b->ops->redirect_url == NULL)
        return SW_EUNSUPPORTED;
    WITH_KEY(digest, key, rc, err);
    rc = b->ops->redirect_url(b, key, ttl_s, url, err);
    free(key);
    return rc;
}

int reg_backend_writer_new(reg_backend *b, enum sw_hash_algo algo, reg_backend_writer **out,
                           sw_error **err)
{
    sw_hash *hash = sw_hash_new(algo);
    int rc;
    *out = NULL;
    if (hash == NULL)
        return sw_error_oom(err);
    if ((rc = b->ops->writer_new(b, out, err)) != 0) {
        sw_hash_free(hash);
        return rc;
    }
    (*out)->b = b;
    (*out)->hash = hash;
    (*out)->size = 0;
    return 0;
}

int reg_backend_writer_write(reg_backend_writer *w, const void *data, size_t len, sw_error **err)
{
    if (w->is_verified)
        return sw_error_set(err, SW_EINVAL, "blob writer: written after verify");
    int rc = w->b->ops->writer_write(w, data, len, err);
    if (rc == 0) {
        if (!w->b->ops->writer_hashes)
            sw_hash_update(w->hash, data, len);
        w->size += (int64_t)len;
    }
    return rc;
}

int64_t reg_backend_writer_size(const reg_backend_writer *w)
{
    return w->size;
}

static void writer_free(reg_backend_writer *w)
{
    sw_hash *hash = w->hash;
    w->b->ops->writer_free(w);
    sw_hash_free(hash);
}

int reg_backend_writer_verify(reg_backend_writer *w, const char *expected,
                              char digest_out[SW_DIGEST_MAX], sw_error **err)
{
    char digest[SW_DIGEST_MAX];
    int rc;
    if (w->is_verified) {
        memcpy(digest, w->verified, SW_DIGEST_MAX);
    } else {
        if (w->b->ops->writer_flush && (rc = w->b->ops->writer_flush(w, err)) != 0)
            return rc;
        sw_hash_digest(w->hash, digest);
    }
    if (expected && (rc = check_digest(expected, err)) != 0)
        return rc;
    if (expected && strcmp(expected, digest) != 0)
        return sw_error_set(err, REG_E_DIGEST_INVALID,
                            "content does not match digest %s (it is %s)", expected, digest);
    memcpy(w->verified, digest, SW_DIGEST_MAX);
    w->is_verified = 1;
    if (digest_out)
        memcpy(digest_out, digest, SW_DIGEST_MAX);
    return 0;
}

int reg_backend_writer_commit(reg_backend_writer *w, const char *expected,
                              char digest_out[SW_DIGEST_MAX], sw_error **err)
{
    char digest[SW_DIGEST_MAX];
    char *key = NULL;
    int rc = reg_backend_writer_verify(w, expected, digest, err);
    if (rc != 0)
        goto cleanup;
    key = reg_backend_blob_key(digest);
    SW_CHECK_ALLOC(key, rc, err, cleanup);
    if ((rc = w->b->ops->writer_publish(w, key, err)) != 0)
        goto cleanup;
    if (digest_out)
        memcpy(digest_out, digest, SW_DIGEST_MAX);
cleanup:
    free(key);
    writer_free(w);
    return rc;
}

void reg_backend_writer_abort(reg_backend_writer *w)
{
    if (w)
        writer_free(w);
}

int reg_backend_put_buffer(reg_backend *b, const void *data, size_t len, const char *expected,
                           char digest_out[SW_DIGEST_MAX], sw_error **err)
{
    reg_backend_writer *w = NULL;
    enum sw_hash_algo algo =
        expected && strncmp(expected, "sha512:", 7) == 0 ? SW_HASH_SHA512 : SW_HASH_SHA256;
    int rc = reg_backend_writer_new(b, algo, &w, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_backend_writer_write(w, data, len, err)) != 0) {
        reg_backend_writer_abort(w);
        return rc;
    }
    return reg_backend_writer_commit(w, expected, digest_out, err);
}

/* ---- upload sessions ---- */

int reg_backend_upload_create(reg_backend *b, const char *uuid, sw_error **err)
{
    struct reg_hashstate *h = NULL;
    char *state = NULL;
    int rc;
    if ((rc = check_uuid(uuid, err)) != 0)
        return rc;
    h = reg_hashstate_new();
    state = h ? reg_backend_state_format(0, h, "") : NULL;
    if (state == NULL)
        rc = sw_error_oom(err);
    else
        rc = b->ops->upload_create(b, uuid, state, err);
    free(state);
    reg_hashstate_free(h);
    return rc;
}

static int load_state(reg_backend *b, const char *uuid, int64_t *offset, struct reg_hashstate **h,
                      char **driver_state, sw_error **err)
{
    char *text = NULL;
    int rc;
    if ((rc = check_uuid(uuid, err)) != 0)
        return rc;
    if ((rc = b->ops->upload_state(b, uuid, &text, err)) != 0)
        return rc;
    rc = reg_backend_state_parse(text, offset, h, driver_state, err);
    if (rc != 0)
        sw_error_prefix(err, "upload %s", uuid);
    free(text);
    return rc;
}

int reg_backend_upload_offset(reg_backend *b, const char *uuid, int64_t *offset, sw_error **err)
{
    struct reg_hashstate *h = NULL;
    char *driver_state = NULL;
    int rc = load_state(b, uuid, offset, &h, &driver_state, err);
    reg_hashstate_free(h);
    free(driver_state);
    return rc;
}

int reg_backend_upload_begin_chunk(reg_backend *b, const char *uuid, int64_t start,
                                   reg_backend_chunk **out, sw_error **err)
{
    struct reg_hashstate *h = NULL;
    char *driver_state = NULL;
    int64_t offset;
    int rc;
    *out = NULL;
    if ((rc = load_state(b, uuid, &offset, &h, &driver_state, err)) != 0)
        return rc;
    if (start != -1 && start != offset) {
        rc =
            sw_error_set(err, REG_E_RANGE_INVALID,
                         "upload %s: chunk starts at %" PRId64 ", the upload has %" PRId64 " bytes",
                         uuid, start, offset);
        goto fail;
    }
    if ((rc = b->ops->chunk_begin(b, uuid, offset, driver_state, out, err)) != 0)
        goto fail;
    (*out)->b = b;
    (*out)->offset = offset;
    (*out)->hash = h;
    (*out)->driver_state = driver_state;
    return 0;
fail:
    reg_hashstate_free(h);
    free(driver_state);
    return rc;
}

int reg_backend_chunk_write(reg_backend_chunk *c, const void *data, size_t len, sw_error **err)
{
    int rc = c->b->ops->chunk_write(c, data, len, err);
    if (rc == 0) {
        if (!c->b->ops->chunk_hashes)
            reg_hashstate_update(c->hash, data, len);
        c->offset += (int64_t)len;
    }
    return rc;
}

static void chunk_free(reg_backend_chunk *c)
{
    struct reg_hashstate *h = c->hash;
    char *driver_state = c->driver_state;
    c->b->ops->chunk_free(c);
    reg_hashstate_free(h);
    free(driver_state);
}

int reg_backend_chunk_end(reg_backend_chunk *c, int64_t *new_offset, sw_error **err)
{
    int rc = c->b->ops->chunk_end(c, err);
    if (rc == 0 && new_offset)
        *new_offset = c->offset;
    chunk_free(c);
    return rc;
}

void reg_backend_chunk_abort(reg_backend_chunk *c)
{
    if (c)
        chunk_free(c);
}

int reg_backend_upload_complete(reg_backend *b, const char *uuid, const char *digest,
                                sw_error **err)
{
    struct reg_hashstate *h = NULL;
    char *driver_state = NULL, *key = NULL, *state = NULL;
    char computed[SW_DIGEST_MAX];
    int64_t offset;
    int rc;
    if ((rc = check_digest(digest, err)) != 0)
        return rc;
    if ((rc = load_state(b, uuid, &offset, &h, &driver_state, err)) != 0)
        return rc;
    reg_hashstate_digest(h, computed);
    int is_sha256 = strncmp(digest, "sha256:", 7) == 0;
    if (is_sha256 && strcmp(computed, digest) != 0) {
        rc = sw_error_set(err, REG_E_DIGEST_INVALID,
                          "upload %s: content does not match digest %s (it is %s)", uuid, digest,
                          computed);
        goto cleanup;
    }
    key = reg_backend_blob_key(digest);
    state = reg_backend_state_format(offset, h, driver_state);
    if (key == NULL || state == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    rc = b->ops->upload_publish(b, uuid, state, is_sha256 ? NULL : digest, key, err);
cleanup:
    free(key);
    free(state);
    free(driver_state);
    reg_hashstate_free(h);
    return rc;
}

int reg_backend_upload_cancel(reg_backend *b, const char *uuid, sw_error **err)
{
    int rc;
    if ((rc = check_uuid(uuid, err)) != 0)
        return rc;
    return b->ops->upload_cancel(b, uuid, err);
}

int reg_backend_upload_walk(reg_backend *b, reg_backend_upload_walk_fn fn, void *ctx,
                            sw_error **err)
{
    return b->ops->upload_walk(b, fn, ctx, err);
}
