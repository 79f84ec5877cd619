/*
 * backend_s3.c - the S3 blob backend (registry/s3.c underneath).
 *
 * Keys, under the configured prefix:
 *
 *   blobs/<algo>/<2 hex>/<hex>     a blob, written only once verified
 *   tmp/put-<random>               a large put in progress (multipart)
 *   uploads/<uuid>/state           an upload session's state (the commit
 *                                  point of every chunk)
 *   uploads/<uuid>/data            its multipart upload's key
 *   uploads/<uuid>/tail-<offset>   bytes received but not yet a part
 *
 * A put smaller than the part size is hashed in memory and PUT straight to
 * its blob key once the digest matched; a larger one goes multipart to a
 * tmp/ key and is copied into place after verification (CopyObject: up to
 * 5 GiB per blob). Upload sessions hold no process memory between
 * requests: the state object names the multipart upload id, the parts'
 * ETags, the tail object and the running SHA-256 state, so any front end
 * continues where another stopped. Parts are at least 5 MiB (S3's rule)
 * except the last; chunks smaller than that collect in the tail object.
 *
 * Memory: one part buffer (storage.part_size, 8 MiB by default) per put or
 * chunk in progress, and a 4 MiB window per reader.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "registry/backend_impl.h"
#include "registry/s3.h"

#define S3_READ_WINDOW (4 * 1024 * 1024)
#define S3_MAX_PARTS 10000

struct s3_backend {
    struct reg_backend base;
    reg_s3 *s3;
    char *prefix; /* "" or "a/b/" */
};

struct s3_reader {
    struct reg_backend_reader base;
    char *key;
    int64_t pos, end;
    char *buf;
    size_t buf_len, buf_pos;
};

struct part_list {
    struct reg_s3_part *parts;
    int n;
};

struct s3_writer {
    struct reg_backend_writer base;
    char *buf;
    size_t len, cap;
    char *tmp_key; /* set once the put went multipart */
    char *upload_id;
    struct part_list parts;
    int is_copied; /* tmp object exists (completed) */
};

struct s3_chunk {
    struct reg_backend_chunk base;
    char *uuid;
    char *upload_id; /* NULL until the first part */
    struct part_list parts;
    char *buf;
    size_t len, cap;
    int64_t old_tail_end; /* tail object to remove once the state moved on */
    size_t old_tail_len;
};

static struct s3_backend *s3_of(reg_backend *b)
{
    return (struct s3_backend *)b;
}

static char *full_key(const struct s3_backend *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *full_key(const struct s3_backend *s, const char *fmt, ...)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    char *rest = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&rest, fmt, ap) < 0)
        rest = NULL;
    va_end(ap);
    if (rest == NULL)
        return NULL;
    sw_strbuf_printf(&sb, "%s%s", s->prefix, rest);
    free(rest);
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return NULL;
    }
    return sw_strbuf_detach(&sb);
}

static void parts_free(struct part_list *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->parts[i].etag);
    free(p->parts);
    p->parts = NULL;
    p->n = 0;
}

static int parts_add(struct part_list *p, char *etag, sw_error **err)
{
    struct reg_s3_part *grown = realloc(p->parts, sizeof(*grown) * (size_t)(p->n + 1));
    if (grown == NULL) {
        free(etag);
        return sw_error_oom(err);
    }
    p->parts = grown;
    p->parts[p->n].number = p->n + 1;
    p->parts[p->n].etag = etag;
    p->n++;
    return 0;
}

static int put_part(struct s3_backend *s, const char *key, const char *upload_id,
                    struct part_list *parts, const void *data, size_t len, sw_error **err)
{
    char *etag = NULL;
    if (parts->n >= S3_MAX_PARTS)
        return sw_error_set(err, SW_ETOOBIG, "%s: more than %d parts (raise storage.part_size)",
                            key, S3_MAX_PARTS);
    int rc = reg_s3_multipart_put_part(s->s3, key, upload_id, parts->n + 1, data, len, &etag, err);
    return rc ? rc : parts_add(parts, etag, err);
}

/* ---- blobs ---- */

static void s3_close(reg_backend *b)
{
    struct s3_backend *s = s3_of(b);
    reg_s3_free(s->s3);
    free(s->prefix);
    free(s);
}

static int not_found_as(int rc, int code, sw_error **err)
{
    if (rc == SW_ENOTFOUND && err && *err)
        (*err)->code = code;
    return rc == SW_ENOTFOUND ? code : rc;
}

static int s3_stat(reg_backend *b, const char *key, int64_t *size, sw_error **err)
{
    char *k = full_key(s3_of(b), "%s", key);
    if (k == NULL)
        return sw_error_oom(err);
    int rc = reg_s3_head(s3_of(b)->s3, k, size, err);
    free(k);
    return not_found_as(rc, REG_E_BLOB_UNKNOWN, err);
}

static int s3_remove(reg_backend *b, const char *key, sw_error **err)
{
    int rc = s3_stat(b, key, NULL, err);
    if (rc != 0)
        return rc;
    char *k = full_key(s3_of(b), "%s", key);
    if (k == NULL)
        return sw_error_oom(err);
    rc = reg_s3_delete(s3_of(b)->s3, k, err);
    free(k);
    return rc;
}

struct walk_ctx {
    size_t prefix_len;
    reg_backend_walk_fn fn;
    void *ctx;
};

static int walk_key(const char *key, int64_t size, int64_t mtime, void *ctx, sw_error **err)
{
    struct walk_ctx *w = ctx;
    char digest[SW_DIGEST_MAX];
    if (reg_backend_key_digest(key + w->prefix_len, digest) != 0)
        return 0;
    return w->fn(digest, size, mtime, w->ctx, err);
}

static int s3_walk(reg_backend *b, reg_backend_walk_fn fn, void *ctx, sw_error **err)
{
    struct s3_backend *s = s3_of(b);
    struct walk_ctx w = { strlen(s->prefix), fn, ctx };
    char *k = full_key(s, "blobs/");
    if (k == NULL)
        return sw_error_oom(err);
    int rc = reg_s3_list(s->s3, k, walk_key, &w, err);
    free(k);
    return rc;
}

static int s3_reader_open(reg_backend *b, const char *key, int64_t size, int64_t offset,
                          int64_t length, reg_backend_reader **out, sw_error **err)
{
    struct s3_reader *r = calloc(1, sizeof(*r));
    (void)size;
    if (r == NULL)
        return sw_error_oom(err);
    r->key = full_key(s3_of(b), "%s", key);
    if (r->key == NULL) {
        free(r);
        return sw_error_oom(err);
    }
    r->pos = offset;
    r->end = offset + length;
    *out = &r->base;
    return 0;
}

struct buf_sink {
    char *buf;
    size_t len, cap;
};

static int to_buffer(const void *data, size_t len, void *ctx, sw_error **err)
{
    struct buf_sink *s = ctx;
    if (len > s->cap - s->len)
        return sw_error_set(err, SW_EIO, "object grew while being read");
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return 0;
}

static int s3_read(reg_backend_reader *base, void *buf, size_t cap, size_t *got, sw_error **err)
{
    struct s3_reader *r = (struct s3_reader *)base;
    struct s3_backend *s = s3_of(r->base.b);
    *got = 0;
    if (r->buf_pos == r->buf_len) {
        if (r->pos >= r->end)
            return 0;
        int64_t want = r->end - r->pos;
        if (want > S3_READ_WINDOW)
            want = S3_READ_WINDOW;
        if (r->buf == NULL && (r->buf = malloc((size_t)want)) == NULL)
            return sw_error_oom(err);
        struct buf_sink sink = { r->buf, 0, (size_t)want };
        int rc = reg_s3_get(s->s3, r->key, r->pos, want, to_buffer, &sink, NULL, err);
        if (rc != 0)
            return not_found_as(rc, REG_E_BLOB_UNKNOWN, err);
        if (sink.len == 0)
            return sw_error_set(err, SW_EIO, "%s: empty answer at %" PRId64, r->key, r->pos);
        r->buf_len = sink.len;
        r->buf_pos = 0;
        r->pos += (int64_t)sink.len;
    }
    size_t n = r->buf_len - r->buf_pos;
    if (n > cap)
        n = cap;
    memcpy(buf, r->buf + r->buf_pos, n);
    r->buf_pos += n;
    *got = n;
    return 0;
}

static void s3_reader_close(reg_backend_reader *base)
{
    struct s3_reader *r = (struct s3_reader *)base;
    free(r->key);
    free(r->buf);
    free(r);
}

static int s3_redirect_url(reg_backend *b, const char *key, int64_t ttl_s, char **url,
                           sw_error **err)
{
    char *k = full_key(s3_of(b), "%s", key);
    if (k == NULL)
        return sw_error_oom(err);
    int rc = reg_s3_presign_get(s3_of(b)->s3, k, ttl_s, 0, url, err);
    free(k);
    return rc;
}

static int s3_writer_new(reg_backend *b, reg_backend_writer **out, sw_error **err)
{
    struct s3_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return sw_error_oom(err);
    w->cap = (size_t)b->part_size;
    *out = &w->base;
    return 0;
}

static int random_hex(char out[33], sw_error **err)
{
    unsigned char raw[16];
    int rc = sw_random_bytes(raw, sizeof(raw), err);
    if (rc == 0)
        sw_hex_encode(raw, sizeof(raw), out);
    return rc;
}

static int s3_writer_write(reg_backend_writer *base, const void *data, size_t len, sw_error **err)
{
    struct s3_writer *w = (struct s3_writer *)base;
    struct s3_backend *s = s3_of(w->base.b);
    const char *p = data;
    int rc;
    while (len > 0) {
        if (w->buf == NULL && (w->buf = malloc(w->cap)) == NULL)
            return sw_error_oom(err);
        size_t n = w->cap - w->len < len ? w->cap - w->len : len;
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;
        if (w->len < w->cap)
            break;
        if (w->upload_id == NULL) {
            char rnd[33];
            if ((rc = random_hex(rnd, err)) != 0)
                return rc;
            w->tmp_key = full_key(s, "tmp/put-%s", rnd);
            if (w->tmp_key == NULL)
                return sw_error_oom(err);
            if ((rc = reg_s3_multipart_create(s->s3, w->tmp_key, &w->upload_id, err)) != 0)
                return rc;
        }
        if ((rc = put_part(s, w->tmp_key, w->upload_id, &w->parts, w->buf, w->len, err)) != 0)
            return rc;
        w->len = 0;
    }
    return 0;
}

static int s3_writer_publish(reg_backend_writer *base, const char *key, sw_error **err)
{
    struct s3_writer *w = (struct s3_writer *)base;
    struct s3_backend *s = s3_of(w->base.b);
    char *dest = full_key(s, "%s", key);
    int rc = 0;
    SW_CHECK_ALLOC(dest, rc, err, cleanup);
    if (w->upload_id == NULL) {
        rc = reg_s3_put(s->s3, dest, w->buf ? w->buf : "", w->len, err);
        goto cleanup;
    }
    /* content addressing: a blob already there has these very bytes, and
       skipping the copy spares the store a large write (free aborts the
       multipart upload) */
    int64_t existing = -1;
    if (reg_s3_head(s->s3, dest, &existing, NULL) == 0 && existing == w->base.size)
        goto cleanup;
    if (w->len > 0 &&
        (rc = put_part(s, w->tmp_key, w->upload_id, &w->parts, w->buf, w->len, err)) != 0)
        goto cleanup;
    if ((rc = reg_s3_multipart_complete(s->s3, w->tmp_key, w->upload_id, w->parts.parts,
                                        (size_t)w->parts.n, err)) != 0)
        goto cleanup;
    free(w->upload_id);
    w->upload_id = NULL;
    w->is_copied = 1; /* the tmp object exists now: free removes it */
    rc = reg_s3_copy(s->s3, w->tmp_key, dest, err);
cleanup:
    free(dest);
    return rc;
}

static void s3_writer_free(reg_backend_writer *base)
{
    struct s3_writer *w = (struct s3_writer *)base;
    struct s3_backend *s = s3_of(w->base.b);
    if (w->upload_id)
        reg_s3_multipart_abort(s->s3, w->tmp_key, w->upload_id, NULL);
    if (w->is_copied)
        reg_s3_delete(s->s3, w->tmp_key, NULL);
    parts_free(&w->parts);
    free(w->upload_id);
    free(w->tmp_key);
    free(w->buf);
    free(w);
}

/* ---- upload sessions ---- */

/* driver state: "<upload id or -> <tail end> <tail len> <n> <etag>..." */
struct session {
    char *upload_id; /* NULL: no multipart yet */
    int64_t tail_end;
    size_t tail_len;
    struct part_list parts;
};

static void session_free(struct session *ss)
{
    free(ss->upload_id);
    parts_free(&ss->parts);
}

static int session_parse(const char *text, struct session *ss, sw_error **err)
{
    char id[1024];
    long long tail_end, tail_len;
    int n, used = 0;
    memset(ss, 0, sizeof(*ss));
    if (text[0] == '\0')
        return 0; /* a new session */
    if (sscanf(text, "%1023s %lld %lld %d%n", id, &tail_end, &tail_len, &n, &used) != 4 ||
        tail_end < 0 || tail_len < 0 || tail_len > tail_end || n < 0 || n > S3_MAX_PARTS)
        return sw_error_set(err, SW_EIO, "upload session state is damaged");
    if (strcmp(id, "-") != 0 && (ss->upload_id = strdup(id)) == NULL)
        return sw_error_oom(err);
    ss->tail_end = tail_end;
    ss->tail_len = (size_t)tail_len;
    const char *p = text + used;
    for (int i = 0; i < n; i++) {
        char etag[256];
        int u = 0;
        if (sscanf(p, " %255s%n", etag, &u) != 1) {
            session_free(ss);
            return sw_error_set(err, SW_EIO, "upload session state: part list is damaged");
        }
        p += u;
        char *copy = strdup(etag);
        if (copy == NULL || parts_add(&ss->parts, copy, err) != 0) {
            session_free(ss);
            return sw_error_oom(err);
        }
    }
    return 0;
}

static char *session_format(const char *upload_id, int64_t tail_end, size_t tail_len,
                            const struct part_list *parts)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_printf(&sb, "%s %" PRId64 " %zu %d", upload_id ? upload_id : "-", tail_end, tail_len,
                     parts->n);
    for (int i = 0; i < parts->n; i++)
        sw_strbuf_printf(&sb, " %s", parts->parts[i].etag);
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return NULL;
    }
    return sw_strbuf_detach(&sb);
}

static int s3_upload_state(reg_backend *b, const char *uuid, char **state, sw_error **err)
{
    struct s3_backend *s = s3_of(b);
    char *k = full_key(s, "uploads/%s/state", uuid);
    struct buf_sink sink = { NULL, 0, 64 * 1024 };
    int rc;
    *state = NULL;
    if (k == NULL || (sink.buf = malloc(sink.cap + 1)) == NULL) {
        free(k);
        return sw_error_oom(err);
    }
    rc = reg_s3_get(s->s3, k, 0, -1, to_buffer, &sink, NULL, err);
    if (rc == SW_ENOTFOUND) {
        sw_error_clear(err);
        rc = sw_error_set(err, REG_E_BLOB_UPLOAD_UNKNOWN, "upload %s is not known", uuid);
    }
    if (rc == 0) {
        sink.buf[sink.len] = '\0';
        *state = sink.buf;
        sink.buf = NULL;
    }
    free(sink.buf);
    free(k);
    return rc;
}

static int s3_upload_create(reg_backend *b, const char *uuid, const char *state, sw_error **err)
{
    struct s3_backend *s = s3_of(b);
    char *k = full_key(s, "uploads/%s/state", uuid);
    int rc;
    if (k == NULL)
        return sw_error_oom(err);
    rc = reg_s3_head(s->s3, k, NULL, NULL);
    if (rc == 0)
        rc = sw_error_set(err, SW_EEXIST, "upload %s exists already", uuid);
    else
        rc = reg_s3_put(s->s3, k, state, strlen(state), err);
    free(k);
    return rc;
}

static int get_tail(struct s3_backend *s, const char *uuid, int64_t tail_end, size_t tail_len,
                    char *buf, sw_error **err)
{
    char *k = full_key(s, "uploads/%s/tail-%" PRId64, uuid, tail_end);
    struct buf_sink sink = { buf, 0, tail_len };
    int rc;
    if (k == NULL)
        return sw_error_oom(err);
    rc = reg_s3_get(s->s3, k, 0, -1, to_buffer, &sink, NULL, err);
    if (rc == 0 && sink.len != tail_len)
        rc = sw_error_set(err, SW_EIO, "upload %s: tail object has %zu bytes, expected %zu", uuid,
                          sink.len, tail_len);
    free(k);
    return rc;
}

static int s3_chunk_begin(reg_backend *b, const char *uuid, int64_t offset,
                          const char *driver_state, reg_backend_chunk **out, sw_error **err)
{
    struct s3_backend *s = s3_of(b);
    struct s3_chunk *c = calloc(1, sizeof(*c));
    struct session ss;
    int rc;
    (void)offset; /* S3 has no lock to re-check it under: the caller
                     serialises a session's writers */
    if (c == NULL)
        return sw_error_oom(err);
    if ((rc = session_parse(driver_state, &ss, err)) != 0) {
        free(c);
        return rc;
    }
    c->uuid = strdup(uuid);
    c->upload_id = ss.upload_id;
    c->parts = ss.parts;
    c->old_tail_end = ss.tail_end;
    c->old_tail_len = ss.tail_len;
    c->cap = (size_t)b->part_size > ss.tail_len ? (size_t)b->part_size : ss.tail_len;
    c->buf = malloc(c->cap);
    if (c->uuid == NULL || c->buf == NULL) {
        rc = sw_error_oom(err);
        goto fail;
    }
    if (ss.tail_len > 0 && (rc = get_tail(s, uuid, ss.tail_end, ss.tail_len, c->buf, err)) != 0)
        goto fail;
    c->len = ss.tail_len;
    *out = &c->base;
    return 0;
fail:
    parts_free(&c->parts);
    free(c->upload_id);
    free(c->uuid);
    free(c->buf);
    free(c);
    return rc;
}

static int s3_chunk_write(reg_backend_chunk *base, const void *data, size_t len, sw_error **err)
{
    struct s3_chunk *c = (struct s3_chunk *)base;
    struct s3_backend *s = s3_of(c->base.b);
    size_t part = (size_t)c->base.b->part_size;
    const char *p = data;
    char *data_key = NULL;
    int rc = 0;
    while (len > 0) {
        if (c->len < part) {
            size_t room = c->cap - c->len;
            size_t n = room < len ? room : len;
            memcpy(c->buf + c->len, p, n);
            c->len += n;
            p += n;
            len -= n;
            if (c->len < part)
                continue;
        }
        if (data_key == NULL && (data_key = full_key(s, "uploads/%s/data", c->uuid)) == NULL) {
            rc = sw_error_oom(err);
            break;
        }
        if (c->upload_id == NULL &&
            (rc = reg_s3_multipart_create(s->s3, data_key, &c->upload_id, err)) != 0)
            break;
        /* the buffer may hold more than a part (a tail from a front end
           with a bigger part size): one part of all of it */
        if ((rc = put_part(s, data_key, c->upload_id, &c->parts, c->buf, c->len, err)) != 0)
            break;
        c->len = 0;
    }
    free(data_key);
    return rc;
}

static int s3_chunk_end(reg_backend_chunk *base, sw_error **err)
{
    struct s3_chunk *c = (struct s3_chunk *)base;
    struct s3_backend *s = s3_of(c->base.b);
    char *tail_key = NULL, *state_key = NULL, *ds = NULL, *state = NULL;
    int rc = 0;
    int64_t end = c->base.offset;
    tail_key = full_key(s, "uploads/%s/tail-%" PRId64, c->uuid, end);
    state_key = full_key(s, "uploads/%s/state", c->uuid);
    ds = session_format(c->upload_id, end, c->len, &c->parts);
    SW_CHECK_ALLOC(tail_key, rc, err, cleanup);
    SW_CHECK_ALLOC(state_key, rc, err, cleanup);
    SW_CHECK_ALLOC(ds, rc, err, cleanup);
    state = reg_backend_state_format(end, c->base.hash, ds);
    SW_CHECK_ALLOC(state, rc, err, cleanup);
    if (c->len > 0 && (rc = reg_s3_put(s->s3, tail_key, c->buf, c->len, err)) != 0)
        goto cleanup;
    if ((rc = reg_s3_put(s->s3, state_key, state, strlen(state), err)) != 0)
        goto cleanup;
    /* the state moved on: the previous tail is garbage now */
    if (c->old_tail_len > 0 && c->old_tail_end != end) {
        char *old = full_key(s, "uploads/%s/tail-%" PRId64, c->uuid, c->old_tail_end);
        if (old)
            reg_s3_delete(s->s3, old, NULL);
        free(old);
    }
cleanup:
    free(tail_key);
    free(state_key);
    free(ds);
    free(state);
    return rc;
}

static void s3_chunk_free(reg_backend_chunk *base)
{
    struct s3_chunk *c = (struct s3_chunk *)base;
    /* parts uploaded by an aborted chunk stay in the multipart upload
       unreferenced; the next chunk uploads the same part numbers again */
    parts_free(&c->parts);
    free(c->upload_id);
    free(c->uuid);
    free(c->buf);
    free(c);
}

struct hash_sink {
    sw_hash *hash;
};

static int to_hash(const void *data, size_t len, void *ctx, sw_error **err)
{
    (void)err;
    sw_hash_update(((struct hash_sink *)ctx)->hash, data, len);
    return 0;
}

/* Removes a session's objects (state last: it is what makes it exist). */
static void remove_session(struct s3_backend *s, const char *uuid, const struct session *ss)
{
    char *k;
    if (ss->upload_id && (k = full_key(s, "uploads/%s/data", uuid)) != NULL) {
        reg_s3_multipart_abort(s->s3, k, ss->upload_id, NULL);
        free(k);
    }
    if (ss->tail_len > 0 &&
        (k = full_key(s, "uploads/%s/tail-%" PRId64, uuid, ss->tail_end)) != NULL) {
        reg_s3_delete(s->s3, k, NULL);
        free(k);
    }
    if ((k = full_key(s, "uploads/%s/state", uuid)) != NULL) {
        reg_s3_delete(s->s3, k, NULL);
        free(k);
    }
}

static int s3_upload_publish(reg_backend *b, const char *uuid, const char *state,
                             const char *rehash_digest, const char *key, sw_error **err)
{
    struct s3_backend *s = s3_of(b);
    int64_t offset;
    struct reg_hashstate *h = NULL;
    char *ds = NULL, *dest = NULL, *data_key = NULL, *tail = NULL;
    struct session ss = { 0 };
    sw_hash *hash = NULL;
    int rc;
    if ((rc = reg_backend_state_parse(state, &offset, &h, &ds, err)) != 0 ||
        (rc = session_parse(ds, &ss, err)) != 0)
        goto cleanup;
    dest = full_key(s, "%s", key);
    data_key = full_key(s, "uploads/%s/data", uuid);
    SW_CHECK_ALLOC(dest, rc, err, cleanup);
    SW_CHECK_ALLOC(data_key, rc, err, cleanup);
    if (ss.tail_len > 0) {
        tail = malloc(ss.tail_len);
        SW_CHECK_ALLOC(tail, rc, err, cleanup);
        if ((rc = get_tail(s, uuid, ss.tail_end, ss.tail_len, tail, err)) != 0)
            goto cleanup;
    }
    if (rehash_digest) {
        hash = sw_hash_new(SW_HASH_SHA512);
        SW_CHECK_ALLOC(hash, rc, err, cleanup);
    }
    if (ss.upload_id == NULL) {
        /* everything is in the tail: one PUT, after checking sha512 */
        if (hash) {
            char computed[SW_DIGEST_MAX];
            sw_hash_update(hash, tail ? tail : "", ss.tail_len);
            sw_hash_digest(hash, computed);
            if (strcmp(computed, rehash_digest) != 0) {
                rc = sw_error_set(err, REG_E_DIGEST_INVALID,
                                  "upload %s: content does not match digest %s", uuid,
                                  rehash_digest);
                goto cleanup;
            }
        }
        if ((rc = reg_s3_put(s->s3, dest, tail ? tail : "", ss.tail_len, err)) != 0)
            goto cleanup;
    } else {
        if (ss.tail_len > 0 &&
            (rc = put_part(s, data_key, ss.upload_id, &ss.parts, tail, ss.tail_len, err)) != 0)
            goto cleanup;
        if ((rc = reg_s3_multipart_complete(s->s3, data_key, ss.upload_id, ss.parts.parts,
                                            (size_t)ss.parts.n, err)) != 0)
            goto cleanup;
        free(ss.upload_id);
        ss.upload_id = NULL; /* completed: nothing to abort */
        if (hash) {
            char computed[SW_DIGEST_MAX];
            struct hash_sink hs = { hash };
            if ((rc = reg_s3_get(s->s3, data_key, 0, -1, to_hash, &hs, NULL, err)) != 0)
                goto cleanup;
            sw_hash_digest(hash, computed);
            if (strcmp(computed, rehash_digest) != 0) {
                reg_s3_delete(s->s3, data_key, NULL);
                remove_session(s, uuid, &ss);
                rc = sw_error_set(err, REG_E_DIGEST_INVALID,
                                  "upload %s: content does not match digest %s (session "
                                  "removed)",
                                  uuid, rehash_digest);
                goto cleanup;
            }
        }
        if ((rc = reg_s3_copy(s->s3, data_key, dest, err)) != 0)
            goto cleanup;
        reg_s3_delete(s->s3, data_key, NULL);
    }
    remove_session(s, uuid, &ss);
cleanup:
    sw_hash_free(hash);
    session_free(&ss);
    reg_hashstate_free(h);
    free(ds);
    free(dest);
    free(data_key);
    free(tail);
    return rc;
}

static int s3_upload_cancel(reg_backend *b, const char *uuid, sw_error **err)
{
    struct s3_backend *s = s3_of(b);
    char *state = NULL, *ds = NULL;
    struct reg_hashstate *h = NULL;
    struct session ss = { 0 };
    int64_t offset;
    int rc;
    if ((rc = s3_upload_state(b, uuid, &state, err)) != 0 ||
        (rc = reg_backend_state_parse(state, &offset, &h, &ds, err)) != 0 ||
        (rc = session_parse(ds, &ss, err)) != 0)
        goto cleanup;
    remove_session(s, uuid, &ss);
cleanup:
    session_free(&ss);
    reg_hashstate_free(h);
    free(state);
    free(ds);
    return rc;
}

struct upload_walk_ctx {
    size_t prefix_len; /* of ".../uploads/" */
    reg_backend_upload_walk_fn fn;
    void *ctx;
};

static int walk_upload_key(const char *key, int64_t size, int64_t mtime, void *ctx, sw_error **err)
{
    struct upload_walk_ctx *w = ctx;
    const char *rest = key + w->prefix_len;
    const char *slash = strchr(rest, '/');
    char uuid[128];
    (void)size;
    if (slash == NULL || strcmp(slash, "/state") != 0 || (size_t)(slash - rest) >= sizeof(uuid))
        return 0;
    memcpy(uuid, rest, (size_t)(slash - rest));
    uuid[slash - rest] = '\0';
    return w->fn(uuid, mtime, w->ctx, err);
}

static int s3_upload_walk(reg_backend *b, reg_backend_upload_walk_fn fn, void *ctx, sw_error **err)
{
    struct s3_backend *s = s3_of(b);
    char *k = full_key(s, "uploads/");
    if (k == NULL)
        return sw_error_oom(err);
    struct upload_walk_ctx w = { strlen(k), fn, ctx };
    int rc = reg_s3_list(s->s3, k, walk_upload_key, &w, err);
    free(k);
    return rc;
}

static const struct reg_backend_ops s3_ops = {
    .name = "s3",
    .close = s3_close,
    .stat = s3_stat,
    .remove = s3_remove,
    .walk = s3_walk,
    .reader_open = s3_reader_open,
    .read = s3_read,
    .reader_fd = NULL,
    .reader_close = s3_reader_close,
    .redirect_url = s3_redirect_url,
    .writer_new = s3_writer_new,
    .writer_write = s3_writer_write,
    .writer_publish = s3_writer_publish,
    .writer_free = s3_writer_free,
    .upload_create = s3_upload_create,
    .upload_state = s3_upload_state,
    .chunk_begin = s3_chunk_begin,
    .chunk_write = s3_chunk_write,
    .chunk_end = s3_chunk_end,
    .chunk_free = s3_chunk_free,
    .upload_publish = s3_upload_publish,
    .upload_cancel = s3_upload_cancel,
    .upload_walk = s3_upload_walk,
};

int reg_backend_s3_open(const struct reg_backend_config *cfg, reg_backend **out, sw_error **err)
{
    struct s3_backend *s = calloc(1, sizeof(*s));
    struct reg_s3_config sc = { .endpoint = cfg->endpoint,
                                .region = cfg->region ? cfg->region : "us-east-1",
                                .bucket = cfg->bucket,
                                .access_key = cfg->access_key,
                                .secret_key = cfg->secret_key,
                                .path_style = cfg->path_style };
    const char *prefix = cfg->prefix ? cfg->prefix : "";
    int rc;
    if (s == NULL)
        return sw_error_oom(err);
    s->base.ops = &s3_ops;
    while (*prefix == '/')
        prefix++;
    size_t n = strlen(prefix);
    while (n > 0 && prefix[n - 1] == '/')
        n--;
    if (asprintf(&s->prefix, "%.*s%s", (int)n, prefix, n ? "/" : "") < 0) {
        s->prefix = NULL;
        free(s);
        return sw_error_oom(err);
    }
    if ((rc = reg_s3_new(&sc, &s->s3, err)) != 0) {
        free(s->prefix);
        free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}
