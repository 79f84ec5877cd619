/*
 * oci.c - the OCI Distribution API (spec v1.1) on /v2/: blobs, uploads,
 * manifests, tags, catalog and referrers, over the registry store.
 *
 * Every name, digest, tag and upload id from a request is validated here
 * (registry/names.h) before it reaches the store. Blob bodies stream from
 * MHD's pieces straight into the store's writers; only manifests, which
 * are small and bounded by registry.max_manifest_size, are buffered.
 * Locations are relative URLs, as Distribution sends them, so they work
 * behind any host name or proxy.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/strbuf.h"
#include "registry/blobstore.h"
#include "registry/errors.h"
#include "registry/manifest.h"
#include "registry/names.h"
#include "registry/upload.h"
#include "server/internal.h"
#include "worker/service.h"
#include "worker/triggers.h"

#define DEFAULT_MANIFEST_MAX (4 * 1024 * 1024)

/* ---- shared checks ------------------------------------------------------ */

static void respond_sw_error_and_clear(srv_request *req, sw_error **err)
{
    srv_respond_sw_error(req, *err);
    sw_error_clear(err);
}

/* The repository name of the request, or NULL with NAME_INVALID answered. */
static const char *valid_name(srv_request *req)
{
    const char *name = srv_request_param(req, "name");
    if (name == NULL || strlen(name) > REG_NAME_MAX || !reg_name_valid(name)) {
        srv_respond_error(req, REG_E_NAME_INVALID, "invalid repository name");
        return NULL;
    }
    return name;
}

static int digest_ok(const char *digest)
{
    return digest && strlen(digest) < SW_DIGEST_MAX && reg_digest_valid(digest);
}

static const char *valid_digest(srv_request *req, const char *digest)
{
    if (!digest_ok(digest)) {
        srv_respond_error(req, REG_E_DIGEST_INVALID, "invalid digest");
        return NULL;
    }
    return digest;
}

static int uuid_ok(const char *uuid)
{
    if (uuid == NULL || strlen(uuid) != REG_UUID_LEN)
        return 0;
    for (const char *c = uuid; *c; c++) {
        if (!isxdigit((unsigned char)*c) && *c != '-')
            return 0;
    }
    return 1;
}

static enum sw_hash_algo algo_of(const char *digest)
{
    return strncmp(digest, "sha512:", 7) == 0 ? SW_HASH_SHA512 : SW_HASH_SHA256;
}

/* Checks name (and uuid / digest params when the route has them) on the
 * headers; 0, or non-zero with the error answered. */
static int check_params(srv_request *req)
{
    if (valid_name(req) == NULL)
        return -1;
    const char *uuid = srv_request_param(req, "uuid");
    if (uuid && !uuid_ok(uuid)) {
        srv_respond_error(req, REG_E_BLOB_UPLOAD_UNKNOWN, "unknown upload");
        return -1;
    }
    const char *digest = srv_request_param(req, "digest");
    if (digest && valid_digest(req, digest) == NULL)
        return -1;
    return 0;
}

/* ---- ping and fallbacks ------------------------------------------------- */

static void ping_end(srv_request *req)
{
    srv_respond(req, 200, "application/json", "{}", 2);
}

static void v2_not_found_end(srv_request *req)
{
    srv_respond_error(req, SRV_E_NOT_FOUND, "no such API endpoint");
}

/* ---- blobs -------------------------------------------------------------- */

/* A blob body through the backend's reader when it has no fd to sendfile
 * (S3): the stream position is relative to the range's start. */
static long blob_stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    size_t got = 0;
    sw_error *err = NULL;
    (void)pos;
    if (ctx == NULL)
        return -2;
    if (reg_backend_read(ctx, buf, max, &got, &err) != 0) {
        sw_err("blob GET: %s", sw_error_message(err));
        sw_error_clear(&err);
        return -2;
    }
    return got == 0 ? -1 : (long)got;
}

static void blob_stream_free(void *ctx)
{
    reg_backend_reader_close(ctx);
}

static void blob_get_end(srv_request *req)
{
    const char *name = srv_request_param(req, "name");
    const char *digest = srv_request_param(req, "digest");
    reg_store *store = srv_request_store(req);
    reg_backend_reader *reader = NULL;
    sw_error *err = NULL;
    int64_t size = 0, first = 0, last = 0, fd_offset = 0;
    char *url = NULL;
    int fd = -1;

    if (reg_blob_stat(store, name, digest, &size, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    srv_header(req, "Docker-Content-Digest", "%s", digest);
    if (!req->is_head && reg_blob_redirect_url(store, digest, 20 * 60, &url, &err) == 0) {
        /* storage.redirect: the client fetches the bytes from the store */
        srv_header(req, "Location", "%s", url);
        free(url);
        srv_respond(req, 307, NULL, "", 0);
        return;
    }
    sw_error_clear(&err);
    srv_header(req, "ETag", "\"%s\"", digest);
    srv_header(req, "Accept-Ranges", "bytes");
    int range =
        req->is_head ? 1 : srv_parse_range(srv_request_header(req, "Range"), size, &first, &last);
    if (range < 0) {
        srv_header(req, "Content-Range", "bytes */%lld", (long long)size);
        srv_respond_error(req, SW_ERANGE, "requested range not satisfiable");
        return;
    }
    if (range != 0) {
        first = 0;
        last = size - 1;
    }
    if (req->is_head) {
        /* the length only: no reader, fn is never called for a HEAD */
        srv_respond_stream_length(req, 200, "application/octet-stream", (uint64_t)size,
                                  blob_stream_read, NULL, NULL);
        return;
    }
    if (reg_blob_reader_open(store, NULL, digest, first, size == 0 ? -1 : last - first + 1, &reader,
                             NULL, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    unsigned status = range == 0 ? 206 : 200;
    if (range == 0)
        srv_header(req, "Content-Range", "bytes %lld-%lld/%lld", (long long)first, (long long)last,
                   (long long)size);
    if (reg_backend_reader_fd(reader, &fd, &fd_offset) == 0 &&
        (fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
        reg_backend_reader_close(reader);
        srv_respond_fd(req, status, "application/octet-stream", fd, (uint64_t)fd_offset,
                       (uint64_t)(last - first + 1));
        return;
    }
    srv_respond_stream_length(req, status, "application/octet-stream", (uint64_t)(last - first + 1),
                              blob_stream_read, reader, blob_stream_free);
}

static void blob_delete_end(srv_request *req)
{
    const char *name = srv_request_param(req, "name");
    const char *digest = srv_request_param(req, "digest");
    sw_error *err = NULL;

    if (reg_blob_delete(srv_request_store(req), name, digest, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    srv_header(req, "Docker-Content-Digest", "%s", digest);
    srv_respond(req, 202, NULL, "", 0);
}

/* ---- uploads ------------------------------------------------------------ */

struct upload_state {
    reg_upload_writer *upload_writer; /* PATCH / PUT chunk in progress */
    reg_blob_writer *blob_writer;     /* monolithic POST ?digest= */
    int has_range;                    /* Content-Range given */
    int64_t range_first, range_last;
    int64_t received;
};

static struct upload_state *upload_state(srv_request *req)
{
    struct upload_state *st = srv_request_state(req);
    if (st == NULL) {
        st = calloc(1, sizeof *st);
        srv_request_set_state(req, st);
    }
    return st;
}

static void upload_cleanup(srv_request *req)
{
    struct upload_state *st = srv_request_state(req);
    if (st == NULL)
        return;
    reg_upload_abort_write(st->upload_writer);
    reg_blob_writer_abort(st->blob_writer);
    free(st);
    srv_request_set_state(req, NULL);
}

/* Location, Range and Docker-Upload-UUID of a session at offset. */
static void upload_headers(srv_request *req, const char *name, const char *uuid, int64_t offset)
{
    srv_header(req, "Location", "/v2/%s/blobs/uploads/%s", name, uuid);
    srv_header(req, "Range", "0-%lld", (long long)(offset > 0 ? offset - 1 : 0));
    srv_header(req, "Docker-Upload-UUID", "%s", uuid);
}

/* 416 with where the session really is, so the client can resume. */
static void respond_range_invalid(srv_request *req, const char *message)
{
    const char *name = srv_request_param(req, "name");
    const char *uuid = srv_request_param(req, "uuid");
    int64_t offset = 0;
    sw_error *err = NULL;

    if (reg_upload_offset(srv_request_store(req), name, uuid, &offset, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    upload_headers(req, name, uuid, offset);
    srv_respond_error(req, REG_E_RANGE_INVALID, message);
}

static void respond_blob_created(srv_request *req, const char *name, const char *digest)
{
    srv_header(req, "Location", "/v2/%s/blobs/%s", name, digest);
    srv_header(req, "Docker-Content-Digest", "%s", digest);
    srv_respond(req, 201, NULL, "", 0);
}

static int upload_post_headers(srv_request *req)
{
    const char *name = valid_name(req);
    const char *mount = srv_request_query(req, "mount");
    const char *from = srv_request_query(req, "from");
    const char *digest = srv_request_query(req, "digest");
    sw_error *err = NULL;

    if (name == NULL)
        return -1;
    if (mount && from) {
        if (valid_digest(req, mount) == NULL)
            return -1;
        /* A mount the client may not read from, or of a blob `from` lacks,
         * quietly becomes a normal upload, as the spec allows. */
        if (reg_name_valid(from) && srv_request_allowed(req, from, SRV_AUTH_PULL)) {
            int rc = reg_blob_mount(srv_request_store(req), name, from, mount, &err);
            if (rc == 0) {
                respond_blob_created(req, name, mount);
                return 1;
            }
            if (srv_error_lookup(rc).is_internal) {
                respond_sw_error_and_clear(req, &err);
                return -1;
            }
            sw_error_clear(&err);
        }
        return 0;
    }
    if (digest) {
        struct upload_state *st = upload_state(req);
        if (valid_digest(req, digest) == NULL)
            return -1;
        if (st == NULL) {
            srv_respond_error(req, SW_ENOMEM, "out of memory");
            return -1;
        }
        if (reg_blob_writer_new_algo(srv_request_store(req), algo_of(digest), &st->blob_writer,
                                     &err) != 0) {
            respond_sw_error_and_clear(req, &err);
            return -1;
        }
    }
    return 0;
}

static int upload_post_data(srv_request *req, const char *data, size_t len)
{
    struct upload_state *st = srv_request_state(req);
    sw_error *err = NULL;

    if (st == NULL || st->blob_writer == NULL)
        return 0; /* a session start ignores any body */
    if (reg_blob_writer_write(st->blob_writer, data, len, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return -1;
    }
    return 0;
}

static void upload_post_end(srv_request *req)
{
    const char *name = srv_request_param(req, "name");
    struct upload_state *st = srv_request_state(req);
    char uuid[REG_UUID_LEN + 1];
    sw_error *err = NULL;

    if (st && st->blob_writer) {
        const char *digest = srv_request_query(req, "digest");
        reg_blob_writer *w = st->blob_writer;
        st->blob_writer = NULL; /* commit frees it in every case */
        if (reg_blob_writer_commit(w, name, digest, NULL, &err) != 0) {
            respond_sw_error_and_clear(req, &err);
            return;
        }
        respond_blob_created(req, name, digest);
        return;
    }
    if (reg_upload_start(srv_request_store(req), name, uuid, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    upload_headers(req, name, uuid, 0);
    srv_respond(req, 202, NULL, "", 0);
}

static void upload_status_end(srv_request *req)
{
    const char *name = srv_request_param(req, "name");
    const char *uuid = srv_request_param(req, "uuid");
    int64_t offset = 0;
    sw_error *err = NULL;

    if (reg_upload_offset(srv_request_store(req), name, uuid, &offset, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    upload_headers(req, name, uuid, offset);
    srv_respond(req, 204, NULL, "", 0);
}

static void upload_delete_end(srv_request *req)
{
    sw_error *err = NULL;

    if (reg_upload_cancel(srv_request_store(req), srv_request_param(req, "name"),
                          srv_request_param(req, "uuid"), &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    srv_respond(req, 204, NULL, "", 0);
}

/* Opens the session for this chunk at start (-1: at its end). */
static int chunk_begin(srv_request *req, struct upload_state *st, int64_t start)
{
    sw_error *err = NULL;
    int rc =
        reg_upload_begin_write(srv_request_store(req), srv_request_param(req, "name"),
                               srv_request_param(req, "uuid"), start, &st->upload_writer, &err);
    if (rc == REG_E_RANGE_INVALID) {
        respond_range_invalid(req, sw_error_message(err));
        sw_error_clear(&err);
        return -1;
    }
    if (rc != 0) {
        respond_sw_error_and_clear(req, &err);
        return -1;
    }
    return 0;
}

/* Headers of a PATCH or PUT carrying a chunk: parse Content-Range and,
 * when it is given, check it against the session now, before any byte. */
static int chunk_headers(srv_request *req, int is_patch)
{
    const char *content_range = srv_request_header(req, "Content-Range");
    const char *content_length = srv_request_header(req, "Content-Length");
    struct upload_state *st;

    if (check_params(req) != 0)
        return -1;
    if ((st = upload_state(req)) == NULL) {
        srv_respond_error(req, SW_ENOMEM, "out of memory");
        return -1;
    }
    if (!is_patch && valid_digest(req, srv_request_query(req, "digest")) == NULL)
        return -1;
    if (content_range) {
        if (srv_parse_content_range(content_range, &st->range_first, &st->range_last) != 0) {
            respond_range_invalid(req, "malformed Content-Range");
            return -1;
        }
        st->has_range = 1;
        if (content_length &&
            strtoll(content_length, NULL, 10) != st->range_last - st->range_first + 1) {
            respond_range_invalid(req, "Content-Range does not match Content-Length");
            return -1;
        }
        return chunk_begin(req, st, st->range_first);
    }
    if (is_patch)
        return chunk_begin(req, st, -1);
    return 0; /* PUT without a range: opened on its first byte, if any */
}

static int upload_patch_headers(srv_request *req)
{
    return chunk_headers(req, 1);
}
static int upload_put_headers(srv_request *req)
{
    return chunk_headers(req, 0);
}

static int upload_chunk_data(srv_request *req, const char *data, size_t len)
{
    struct upload_state *st = srv_request_state(req);
    sw_error *err = NULL;

    if (st->upload_writer == NULL && chunk_begin(req, st, -1) != 0)
        return -1;
    if (reg_upload_write(st->upload_writer, data, len, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return -1;
    }
    st->received += (int64_t)len;
    return 0;
}

/* Ends the chunk in progress (if any); 0 with *offset, or answered. */
static int chunk_end(srv_request *req, struct upload_state *st, int64_t *offset)
{
    sw_error *err = NULL;

    if (st->upload_writer == NULL)
        return 0;
    if (st->has_range && st->received != st->range_last - st->range_first + 1) {
        reg_upload_abort_write(st->upload_writer);
        st->upload_writer = NULL;
        respond_range_invalid(req, "the body does not match Content-Range");
        return -1;
    }
    reg_upload_writer *w = st->upload_writer;
    st->upload_writer = NULL; /* end_write frees it */
    if (reg_upload_end_write(w, offset, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return -1;
    }
    return 0;
}

static void upload_patch_end(srv_request *req)
{
    struct upload_state *st = srv_request_state(req);
    int64_t offset = 0;

    if (chunk_end(req, st, &offset) != 0)
        return;
    upload_headers(req, srv_request_param(req, "name"), srv_request_param(req, "uuid"), offset);
    srv_respond(req, 202, NULL, "", 0);
}

static void upload_put_end(srv_request *req)
{
    struct upload_state *st = srv_request_state(req);
    const char *name = srv_request_param(req, "name");
    const char *digest = srv_request_query(req, "digest");
    int64_t offset = 0;
    sw_error *err = NULL;

    if (chunk_end(req, st, &offset) != 0)
        return;
    if (reg_upload_complete(srv_request_store(req), name, srv_request_param(req, "uuid"), digest,
                            &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    respond_blob_created(req, name, digest);
}

/* ---- manifests ---------------------------------------------------------- */

static int manifest_headers(srv_request *req)
{
    const char *ref = srv_request_param(req, "reference");

    if (valid_name(req) == NULL)
        return -1;
    if (reg_reference_is_digest(ref)) {
        if (valid_digest(req, ref) == NULL)
            return -1;
    } else if (!reg_tag_valid(ref)) {
        if (strcmp(req->method, "PUT") == 0)
            srv_respond_error(req, REG_E_TAG_INVALID, "invalid tag");
        else
            srv_respond_error(req, REG_E_MANIFEST_UNKNOWN, "manifest unknown");
        return -1;
    }
    return 0;
}

static void manifest_get_end(srv_request *req)
{
    struct reg_manifest m = { 0 };
    sw_error *err = NULL;

    /* HEAD fetches the body too: MHD takes Content-Length from the
     * response, and manifests are small. */
    if (reg_manifest_get(srv_request_store(req), srv_request_param(req, "name"),
                         srv_request_param(req, "reference"), 1, &m, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    /* Distribution serves the stored manifest whatever the Accept list
     * says for OCI and Docker v2 types; clients check Content-Type. */
    srv_header(req, "Docker-Content-Digest", "%s", m.digest);
    srv_header(req, "ETag", "\"%s\"", m.digest);
    srv_respond(req, 200, m.media_type, m.body ? m.body : "", m.body ? m.size : 0);
    reg_manifest_release(&m);
}

static int manifest_put_headers(srv_request *req)
{
    int64_t max = srv_request_config(req)->max_manifest_size;
    const char *content_length = srv_request_header(req, "Content-Length");

    if (manifest_headers(req) != 0)
        return -1;
    if (max <= 0)
        max = DEFAULT_MANIFEST_MAX;
    if (content_length && strtoll(content_length, NULL, 10) > max) {
        srv_respond_error(req, REG_E_TOO_LARGE, "manifest too large");
        return -1;
    }
    srv_request_buffer_body(req, (size_t)max);
    return 0;
}

static void manifest_put_end(srv_request *req)
{
    const char *name = srv_request_param(req, "name");
    const char *content_type = srv_request_header(req, "Content-Type");
    char media_type[256] = "";
    char digest[SW_DIGEST_MAX], subject[SW_DIGEST_MAX] = "";
    sw_error *err = NULL;
    size_t len = 0;
    const char *body = srv_request_body(req, &len);

    if (content_type) {
        /* "type; charset=..." -> "type" */
        size_t n = strcspn(content_type, "; ");
        if (n >= sizeof media_type)
            n = sizeof media_type - 1;
        memcpy(media_type, content_type, n);
        media_type[n] = '\0';
    }
    if (reg_manifest_put(srv_request_store(req), name, srv_request_param(req, "reference"),
                         media_type[0] ? media_type : NULL, body, len, digest, subject,
                         &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    srv_header(req, "Location", "/v2/%s/manifests/%s", name, digest);
    srv_header(req, "Docker-Content-Digest", "%s", digest);
    if (subject[0])
        srv_header(req, "OCI-Subject", "%s", subject);
    srv_respond(req, 201, NULL, "", 0);
    /* a tag pushed with a new digest rebuilds the repositories built on it */
    const char *reference = srv_request_param(req, "reference");
    sw_db *db = NULL;
    int queued = 0;
    if (req->srv->repos && strncmp(reference, "sha256:", 7) != 0 &&
        reg_store_db(srv_request_store(req), &db, NULL) == 0 &&
        wrk_triggers_tag_pushed(db, req->srv->repos, name, reference, digest, &queued, NULL) == 0 &&
        queued > 0)
        wrk_service_wake(req->srv->workers);
}

static void manifest_delete_end(srv_request *req)
{
    sw_error *err = NULL;

    if (reg_manifest_delete(srv_request_store(req), srv_request_param(req, "name"),
                            srv_request_param(req, "reference"), &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    srv_respond(req, 202, NULL, "", 0);
}

/* ---- listings ----------------------------------------------------------- */

static void append_query_escaped(sw_strbuf *sb, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/')
            sw_strbuf_putc(sb, (char)c);
        else
            sw_strbuf_printf(sb, "%%%02X", c);
    }
}

/* n and last of a listing; *n is -1 for "no limit given". 0 or answered. */
static int page_params(srv_request *req, int *n, const char **last)
{
    const char *n_text = srv_request_query(req, "n");
    int max = srv_request_config(req)->max_page_size;

    *last = srv_request_query(req, "last");
    if (*last && (*last)[0] == '\0')
        *last = NULL;
    *n = -1;
    if (n_text == NULL || n_text[0] == '\0')
        return 0;
    long value = 0;
    for (const char *c = n_text; *c; c++) {
        if (!isdigit((unsigned char)*c) || value > 1000000000L) {
            srv_respond_error(req, REG_E_PAGINATION_INVALID, "n must be a non-negative number");
            return -1;
        }
        value = value * 10 + (*c - '0');
    }
    if (max > 0 && value > max) {
        char message[96];
        snprintf(message, sizeof message, "n may be at most %d", max);
        srv_respond_error(req, REG_E_PAGINATION_INVALID, message);
        return -1;
    }
    *n = (int)value;
    return 0;
}

/* Appends s as a JSON string. Names and tags are validated ASCII; other
 * bytes are passed through as jansson would, control characters escaped. */
static void append_json_string(sw_strbuf *sb, const char *s)
{
    const char *run = s;
    sw_strbuf_putc(sb, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sw_strbuf_append(sb, run, (size_t)(s - run));
        if (c == '"' || c == '\\') {
            sw_strbuf_putc(sb, '\\');
            sw_strbuf_putc(sb, (char)c);
        } else {
            sw_strbuf_printf(sb, "\\u%04x", c);
        }
        run = s + 1;
    }
    sw_strbuf_append(sb, run, (size_t)(s - run));
    sw_strbuf_putc(sb, '"');
}

/* Sends {"name": name (unless NULL), "<list_key>": [...]} with a Link to
 * the page after `next_after` when there is more. Written directly rather
 * than through jansson: a full tags/list of 10,000 tags was bound by making
 * and encoding 10,000 JSON strings. */
static void respond_page(srv_request *req, const char *link_path, const char *name,
                         const char *list_key, char **items, size_t count, int more, int n,
                         const char *next_after)
{
    sw_strbuf body = SW_STRBUF_INIT;

    sw_strbuf_putc(&body, '{');
    if (name) {
        append_json_string(&body, "name");
        sw_strbuf_putc(&body, ':');
        append_json_string(&body, name);
        sw_strbuf_putc(&body, ',');
    }
    append_json_string(&body, list_key);
    sw_strbuf_append(&body, ":[", 2);
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            sw_strbuf_putc(&body, ',');
        append_json_string(&body, items[i]);
    }
    sw_strbuf_append(&body, "]}", 2);
    if (body.failed) {
        sw_strbuf_free(&body);
        srv_respond_error(req, SW_ENOMEM, "out of memory");
        return;
    }
    if (more && next_after && n > 0) {
        sw_strbuf link = SW_STRBUF_INIT;
        sw_strbuf_printf(&link, "<%s?last=", link_path);
        append_query_escaped(&link, next_after);
        sw_strbuf_printf(&link, "&n=%d>; rel=\"next\"", n);
        if (!link.failed)
            srv_header(req, "Link", "%s", link.data);
        sw_strbuf_free(&link);
    }
    srv_respond(req, 200, "application/json", body.data, body.len);
    sw_strbuf_free(&body);
}

static void tags_list_end(srv_request *req)
{
    const char *name = valid_name(req);
    const char *last = NULL;
    char **tags = NULL;
    size_t count = 0;
    int n = -1, more = 0;
    sw_error *err = NULL;
    char link_path[REG_NAME_MAX + 32];

    if (name == NULL || page_params(req, &n, &last) != 0)
        return;
    if (reg_tags_list(srv_request_store(req), name, last, n, &tags, &count, &more, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    snprintf(link_path, sizeof link_path, "/v2/%s/tags/list", name);
    respond_page(req, link_path, name, "tags", tags, count, more, n,
                 count ? tags[count - 1] : NULL);
    reg_string_list_free(tags, count);
}

static void catalog_end(srv_request *req)
{
    const char *last = NULL;
    char **names = NULL;
    size_t count = 0, kept = 0;
    int n = -1, more = 0;
    sw_error *err = NULL;

    if (page_params(req, &n, &last) != 0)
        return;
    if (n < 0)
        n = srv_request_config(req)->max_page_size > 0 ? srv_request_config(req)->max_page_size
                                                       : 10000;
    if (reg_catalog_list(srv_request_store(req), last, n, &names, &count, &more, &err) != 0) {
        respond_sw_error_and_clear(req, &err);
        return;
    }
    /* Only what the client may pull; the page may come out shorter, and the
     * next one starts after the last name looked at, kept or not. */
    char *next_after = count ? strdup(names[count - 1]) : NULL;
    for (size_t i = 0; i < count; i++) {
        if (srv_request_allowed(req, names[i], SRV_AUTH_PULL))
            names[kept++] = names[i];
        else
            free(names[i]);
    }
    respond_page(req, "/v2/_catalog", NULL, "repositories", names, kept, more, n, next_after);
    free(next_after);
    reg_string_list_free(names, kept);
}

static void referrers_end(srv_request *req)
{
    const char *name = srv_request_param(req, "name");
    const char *digest = srv_request_param(req, "digest");
    const char *artifact_type = srv_request_query(req, "artifactType");
    json_t *index = NULL;
    sw_error *err = NULL;

    if (artifact_type && artifact_type[0] == '\0')
        artifact_type = NULL;
    int rc = reg_referrers(srv_request_store(req), name, digest, artifact_type, &index, &err);
    if (rc == REG_E_NAME_UNKNOWN) {
        /* Nothing refers to anything in a repository that does not exist. */
        sw_error_clear(&err);
        index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", REG_MT_OCI_INDEX,
                          "manifests");
        rc = index ? 0 : SW_ENOMEM;
    }
    if (rc != 0) {
        if (err)
            respond_sw_error_and_clear(req, &err);
        else
            srv_respond_error(req, rc, "listing referrers failed");
        return;
    }
    if (artifact_type)
        srv_header(req, "OCI-Filters-Applied", "artifactType");
    srv_respond_json(req, 200, REG_MT_OCI_INDEX, index);
    json_decref(index);
}

/* ---- the table ---------------------------------------------------------- */

#define REPO SRV_ACCESS_REPO
const struct srv_route srv_oci_routes[] = {
    { "GET", "/v2/", SRV_ACCESS_LOGIN, NULL, NULL, ping_end, NULL },
    { "GET", "/v2", SRV_ACCESS_LOGIN, NULL, NULL, ping_end, NULL },
    { "GET", "/v2/_catalog", SRV_ACCESS_ANY_PULL, NULL, NULL, catalog_end, NULL },

    { "POST", "/v2/*name/blobs/uploads/", REPO, upload_post_headers, upload_post_data,
      upload_post_end, upload_cleanup },
    { "GET", "/v2/*name/blobs/uploads/:uuid", REPO, check_params, NULL, upload_status_end, NULL },
    { "PATCH", "/v2/*name/blobs/uploads/:uuid", REPO, upload_patch_headers, upload_chunk_data,
      upload_patch_end, upload_cleanup },
    { "PUT", "/v2/*name/blobs/uploads/:uuid", REPO, upload_put_headers, upload_chunk_data,
      upload_put_end, upload_cleanup },
    { "DELETE", "/v2/*name/blobs/uploads/:uuid", REPO, check_params, NULL, upload_delete_end,
      NULL },

    { "GET", "/v2/*name/blobs/:digest", REPO, check_params, NULL, blob_get_end, NULL },
    { "DELETE", "/v2/*name/blobs/:digest", REPO, check_params, NULL, blob_delete_end, NULL },

    { "GET", "/v2/*name/manifests/:reference", REPO, manifest_headers, NULL, manifest_get_end,
      NULL },
    { "PUT", "/v2/*name/manifests/:reference", REPO, manifest_put_headers, NULL, manifest_put_end,
      NULL },
    { "DELETE", "/v2/*name/manifests/:reference", REPO, manifest_headers, NULL, manifest_delete_end,
      NULL },

    { "GET", "/v2/*name/tags/list", REPO, NULL, NULL, tags_list_end, NULL },
    { "GET", "/v2/*name/referrers/:digest", REPO, check_params, NULL, referrers_end, NULL },

    { NULL, "/v2/*rest", SRV_ACCESS_NONE, NULL, NULL, v2_not_found_end, NULL },
    { NULL, NULL, 0, NULL, NULL, NULL, NULL },
};
