/*
 * transfer.c - import images from files into the store and export them to
 * files (tar:, oci:, oci-archive:, docker-archive:; see transfer.h).
 *
 * Only the public registry API is used (blob writers, reg_manifest_put,
 * reg_blob_reader_open ...), so the store's own multi-process locking keeps this
 * safe next to a running server. Every layer streams: for tar: and for the
 * uncompressed layers of a docker-archive, the bytes go through a tar
 * reader (to reject corrupt archives and hostile paths) and, in the same
 * pass, into the gzip pipeline of core/compress.h and a blob writer.
 */
#include "registry/transfer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/compress.h"
#include "core/fs.h"
#include "core/strbuf.h"
#include "registry/blobstore.h"
#include "registry/errors.h"
#include "registry/manifest.h"
#include "registry/names.h"
#include "registry/platform.h"

#define IO_BUF_SIZE (64 * 1024)
#define SMALL_JSON_MAX (8 * 1024 * 1024) /* index.json, manifest.json, configs */
#define MAX_NESTING 8                    /* index -> index -> ... */
#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"

/* ---- small parsers ------------------------------------------------------- */

static const struct {
    const char *prefix;
    enum reg_transport transport;
} transports[] = {
    { "tar:", REG_TRANSPORT_TAR },
    { "oci:", REG_TRANSPORT_OCI },
    { "oci-archive:", REG_TRANSPORT_OCI_ARCHIVE },
    { "docker-archive:", REG_TRANSPORT_DOCKER_ARCHIVE },
};

int reg_transport_parse(const char *spec, struct reg_transport_ref *out, sw_error **err)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
        size_t plen = strlen(transports[i].prefix);
        if (strncmp(spec, transports[i].prefix, plen) != 0)
            continue;
        const char *rest = spec + plen;
        const char *colon = transports[i].transport == REG_TRANSPORT_TAR ? NULL : strchr(rest, ':');
        size_t path_len = colon ? (size_t)(colon - rest) : strlen(rest);
        if (path_len == 0)
            return sw_error_set(err, SW_EINVAL, "%s: no path after '%s'", spec,
                                transports[i].prefix);
        out->transport = transports[i].transport;
        out->path = strndup(rest, path_len);
        if (colon && colon[1] != '\0')
            out->ref = strdup(colon + 1);
        if (out->path == NULL || (colon && colon[1] != '\0' && out->ref == NULL)) {
            reg_transport_ref_release(out);
            return sw_error_oom(err);
        }
        return 0;
    }
    return sw_error_set(err, SW_EINVAL,
                        "%s: unknown transport (expected tar:, oci:, oci-archive: or "
                        "docker-archive:)",
                        spec);
}

void reg_transport_ref_release(struct reg_transport_ref *ref)
{
    free(ref->path);
    free(ref->ref);
    ref->path = ref->ref = NULL;
}

int reg_parse_image_ref(const char *spec, char **repo, char **reference, sw_error **err)
{
    const char *at = strchr(spec, '@');
    const char *slash = strrchr(spec, '/');
    const char *colon = strrchr(spec, ':');
    size_t repo_len;
    const char *ref;
    *repo = *reference = NULL;
    if (at) {
        repo_len = (size_t)(at - spec);
        ref = at + 1;
    } else if (colon && (slash == NULL || colon > slash)) {
        repo_len = (size_t)(colon - spec);
        ref = colon + 1;
    } else {
        repo_len = strlen(spec);
        ref = "latest";
    }
    *repo = strndup(spec, repo_len);
    *reference = strdup(ref);
    if (*repo == NULL || *reference == NULL)
        goto nomem;
    if (!reg_name_valid(*repo)) {
        sw_error_set(err, REG_E_NAME_INVALID,
                     "%s: invalid repository name '%s' (lower-case letters, digits, "
                     "separators . _ __ - and /)",
                     spec, *repo);
        goto fail;
    }
    if (at ? !reg_digest_valid(ref) : !reg_tag_valid(ref)) {
        sw_error_set(err, at ? REG_E_DIGEST_INVALID : REG_E_TAG_INVALID, "%s: invalid %s '%s'",
                     spec, at ? "digest" : "tag", ref);
        goto fail;
    }
    return 0;
nomem:
    sw_error_oom(err);
fail:
    free(*repo);
    free(*reference);
    *repo = *reference = NULL;
    return err && *err ? (*err)->code : SW_EINVAL;
}

int reg_command_parse(const char *arg, json_t **out, sw_error **err)
{
    json_t *array;
    if (arg[0] == '[') {
        json_error_t jerr;
        array = json_loads(arg, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_array(array)) {
            json_decref(array);
            return sw_error_set(err, SW_EINVAL, "'%s': not a JSON array: %s", arg,
                                array ? "wrong type" : jerr.text);
        }
        size_t i;
        json_t *v;
        json_array_foreach(array, i, v) {
            if (!json_is_string(v)) {
                json_decref(array);
                return sw_error_set(err, SW_EINVAL, "'%s': element %zu is not a string", arg, i);
            }
        }
    } else {
        array = json_pack("[sss]", "/bin/sh", "-c", arg);
        if (array == NULL)
            return sw_error_oom(err);
    }
    *out = array;
    return 0;
}

/* The host's architecture (registry/platform.c computes it). */
static const char *host_architecture(struct reg_platform *host)
{
    reg_platform_host(host);
    return host->architecture;
}

/* created: explicit, else SOURCE_DATE_EPOCH (reproducible builds), else now */
static int64_t creation_time(int64_t requested)
{
    if (requested >= 0)
        return requested;
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(sde, &end, 10);
        if (errno == 0 && *end == '\0' && v >= 0)
            return v;
    }
    return (int64_t)time(NULL);
}

int reg_image_config_build(const struct reg_image_settings *settings, const char *const *diff_ids,
                           size_t n_diff_ids, json_t **out, sw_error **err)
{
    static const struct reg_image_settings none = { .created = -1 };
    const struct reg_image_settings *s = settings ? settings : &none;
    struct reg_platform host;
    char created[32];
    sw_format_rfc3339(creation_time(s->created), created);
    json_t *config = json_object(), *inner = json_object(), *ids = json_array();
    json_t *history = json_pack("[{ssss}]", "created", created, "created_by", "slipway import");
    int failed = config == NULL || inner == NULL || ids == NULL || history == NULL;
    for (size_t i = 0; !failed && i < n_diff_ids; i++)
        failed |= json_array_append_new(ids, json_string(diff_ids[i])) != 0;
    if (!failed && s->env) {
        json_t *env = json_array();
        failed |= json_object_set_new(inner, "Env", env) != 0;
        for (size_t i = 0; !failed && s->env[i]; i++) {
            if (strchr(s->env[i], '=') == NULL || s->env[i][0] == '=') {
                json_decref(config);
                json_decref(inner);
                json_decref(ids);
                json_decref(history);
                return sw_error_set(err, SW_EINVAL, "env '%s': expected KEY=VALUE", s->env[i]);
            }
            failed |= json_array_append_new(env, json_string(s->env[i])) != 0;
        }
    }
    if (!failed && s->entrypoint)
        failed |= json_object_set(inner, "Entrypoint", s->entrypoint) != 0;
    if (!failed && s->cmd)
        failed |= json_object_set(inner, "Cmd", s->cmd) != 0;
    if (!failed && s->workdir)
        failed |= json_object_set_new(inner, "WorkingDir", json_string(s->workdir)) != 0;
    if (!failed)
        failed |= json_object_set_new(config, "created", json_string(created)) ||
                  json_object_set_new(
                      config, "architecture",
                      json_string(s->architecture ? s->architecture : host_architecture(&host))) ||
                  json_object_set_new(config, "os", json_string(s->os ? s->os : "linux")) ||
                  json_object_set(config, "config", inner) ||
                  json_object_set_new(config, "rootfs",
                                      json_pack("{sssO}", "type", "layers", "diff_ids", ids)) ||
                  json_object_set(config, "history", history);
    json_decref(inner);
    json_decref(ids);
    json_decref(history);
    if (failed) {
        json_decref(config);
        return sw_error_set(err, SW_ENOMEM, "out of memory building the image config");
    }
    *out = config;
    return 0;
}

static const char *ref_name_of(json_t *desc)
{
    return json_string_value(
        json_object_get(json_object_get(desc, "annotations"), REF_NAME_ANNOTATION));
}

int reg_oci_index_select(json_t *index, const char *tag, const char *where, json_t **desc,
                         sw_error **err)
{
    json_t *manifests = json_object_get(index, "manifests");
    size_t i;
    json_t *d;
    if (!json_is_array(manifests))
        return sw_error_set(err, SW_EINVAL, "%s: no \"manifests\" array", where);
    if (tag == NULL) {
        if (json_array_size(manifests) != 1)
            return sw_error_set(err, SW_EINVAL, "%s: %zu manifests, name one with :TAG", where,
                                json_array_size(manifests));
        *desc = json_array_get(manifests, 0);
        return 0;
    }
    json_array_foreach(manifests, i, d) {
        const char *name = ref_name_of(d);
        if (name && strcmp(name, tag) == 0) {
            *desc = d;
            return 0;
        }
    }
    return sw_error_set(err, SW_ENOTFOUND, "%s: no manifest with ref.name '%s'", where, tag);
}

int reg_oci_index_add(json_t *index, json_t *desc, const char *tag, sw_error **err)
{
    json_t *manifests = json_object_get(index, "manifests");
    if (manifests == NULL) {
        manifests = json_array();
        if (json_object_set_new(index, "manifests", manifests) != 0)
            manifests = NULL;
    }
    if (!json_is_array(manifests)) {
        json_decref(desc);
        return sw_error_set(err, SW_EINVAL, "index.json: \"manifests\" is not an array");
    }
    if (tag) {
        for (size_t i = json_array_size(manifests); i-- > 0;) {
            const char *name = ref_name_of(json_array_get(manifests, i));
            if (name && strcmp(name, tag) == 0)
                json_array_remove(manifests, i);
        }
        json_t *annotations = json_object_get(desc, "annotations");
        if (!json_is_object(annotations)) {
            annotations = json_object();
            json_object_set_new(desc, "annotations", annotations);
        }
        json_object_set_new(annotations, REF_NAME_ANNOTATION, json_string(tag));
    }
    if (json_array_append_new(manifests, desc) != 0)
        return sw_error_oom(err);
    return 0;
}

int reg_archive_path_safe(const char *path)
{
    if (path == NULL || path[0] == '\0' || path[0] == '/')
        return 0;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += n;
        while (*p == '/')
            p++;
    }
    return 1;
}

/* "./blobs/x" -> "blobs/x": archive writers differ in this. */
static const char *entry_path(struct archive_entry *entry)
{
    const char *path = archive_entry_pathname(entry);
    if (path == NULL)
        return "";
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    return path;
}

/* ---- descriptors ---------------------------------------------------------- */

struct descriptor {
    const char *media_type; /* borrowed from the JSON; may be NULL */
    const char *digest;
    int64_t size;
};

static int descriptor_parse(json_t *d, const char *where, struct descriptor *out, sw_error **err)
{
    json_t *size = json_object_get(d, "size");
    out->media_type = json_string_value(json_object_get(d, "mediaType"));
    out->digest = json_string_value(json_object_get(d, "digest"));
    if (!json_is_object(d))
        return sw_error_set(err, SW_EINVAL, "%s: descriptor is not an object", where);
    if (out->digest == NULL || !reg_digest_valid(out->digest))
        return sw_error_set(err, REG_E_DIGEST_INVALID, "%s: descriptor has %s digest '%s'", where,
                            out->digest ? "an invalid" : "no", out->digest ? out->digest : "");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return sw_error_set(err, SW_EINVAL, "%s: descriptor %s has no valid size", where,
                            out->digest);
    out->size = json_integer_value(size);
    return 0;
}

/* "sha256:abc" -> "blobs/sha256/abc" (digest already validated). */
static char *layout_blob_path(const char *digest)
{
    char *path = NULL;
    const char *colon = strchr(digest, ':');
    if (asprintf(&path, "blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1) < 0)
        return NULL;
    return path;
}

/* ---- byte sources ---------------------------------------------------------- */

struct fd_source {
    int fd;
    const char *name;
};

static int fd_source_read(void *ctx, void *buf, size_t len, size_t *got, sw_error **err)
{
    struct fd_source *s = ctx;
    ssize_t n;
    do
        n = read(s->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sw_error_sys(err, SW_EIO, errno, "reading %s", s->name);
    *got = (size_t)n;
    return 0;
}

struct buffer_source {
    const char *data;
    size_t len;
    size_t off;
};

static int buffer_source_read(void *ctx, void *buf, size_t len, size_t *got, sw_error **err)
{
    struct buffer_source *s = ctx;
    size_t n = s->len - s->off < len ? s->len - s->off : len;
    memcpy(buf, s->data + s->off, n);
    s->off += n;
    *got = n;
    return 0;
}

struct entry_source {
    struct archive *ar;
    const char *name;
};

static int entry_source_read(void *ctx, void *buf, size_t len, size_t *got, sw_error **err)
{
    struct entry_source *s = ctx;
    la_ssize_t n = archive_read_data(s->ar, buf, len);
    if (n < 0)
        return sw_error_set(err, SW_EINVAL, "%s: %s", s->name, archive_error_string(s->ar));
    *got = (size_t)n;
    return 0;
}

static int decompressor_source_read(void *ctx, void *buf, size_t len, size_t *got, sw_error **err)
{
    return sw_decompress_read(ctx, buf, len, got, err);
}

/* Reads a whole small archive entry (index.json, manifest.json). */
static int read_entry_all(struct archive *ar, struct archive_entry *entry, const char *name,
                          char **out, size_t *len, sw_error **err)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    char buf[8192];
    la_ssize_t n;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > SMALL_JSON_MAX)
        return sw_error_set(err, SW_ETOOBIG, "%s: larger than %d bytes", name, SMALL_JSON_MAX);
    while ((n = archive_read_data(ar, buf, sizeof(buf))) > 0) {
        sw_strbuf_append(&sb, buf, (size_t)n);
        if (sb.len > SMALL_JSON_MAX) {
            sw_strbuf_free(&sb);
            return sw_error_set(err, SW_ETOOBIG, "%s: larger than %d bytes", name, SMALL_JSON_MAX);
        }
    }
    if (n < 0) {
        sw_strbuf_free(&sb);
        return sw_error_set(err, SW_EINVAL, "%s: %s", name, archive_error_string(ar));
    }
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return sw_error_oom(err);
    }
    *len = sb.len;
    *out = sb.data ? sw_strbuf_detach(&sb) : strdup("");
    return *out ? 0 : sw_error_oom(err);
}

static int parse_json(const char *text, size_t len, const char *name, json_t **out, sw_error **err)
{
    json_error_t jerr;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL)
        return sw_error_set(err, SW_EINVAL, "%s: invalid JSON at line %d: %s", name, jerr.line,
                            jerr.text);
    return 0;
}

/* ---- blobs into the store ----------------------------------------------- */

static int blob_sink(void *ctx, const void *buf, size_t len, sw_error **err)
{
    return reg_blob_writer_write(ctx, buf, len, err);
}

/* Streams a source into a new blob, verified against expected (digest and,
 * when size >= 0, size) and linked to repo (NULL: stored unlinked). */
static int store_blob(reg_store *store, const char *repo, const char *expected, int64_t size,
                      sw_source_fn source, void *ctx, const char *name, int64_t *size_out,
                      sw_error **err)
{
    reg_blob_writer *w = NULL;
    char *buf = malloc(IO_BUF_SIZE);
    size_t got = 0;
    int rc;
    SW_CHECK_ALLOC(buf, rc, err, cleanup);
    if ((rc = reg_blob_writer_new_algo(store, expected ? reg_digest_algo(expected) : SW_HASH_SHA256,
                                       &w, err)) != 0)
        goto cleanup;
    while ((rc = source(ctx, buf, IO_BUF_SIZE, &got, err)) == 0 && got > 0) {
        if ((rc = reg_blob_writer_write(w, buf, got, err)) != 0)
            goto cleanup;
    }
    if (rc != 0)
        goto cleanup;
    int64_t written = reg_blob_writer_size(w);
    if (size >= 0 && written != size) {
        rc = sw_error_set(err, REG_E_SIZE_INVALID, "%s: %lld bytes, descriptor says %lld", name,
                          (long long)written, (long long)size);
        goto cleanup;
    }
    rc = reg_blob_writer_commit(w, repo, expected, NULL, err);
    w = NULL;
    if (rc == REG_E_DIGEST_INVALID)
        sw_error_prefix(err, "%s: content does not match its digest", name);
    else if (rc != 0)
        sw_error_prefix(err, "storing %s", name);
    else if (size_out)
        *size_out = written;
cleanup:
    reg_blob_writer_abort(w);
    free(buf);
    return rc;
}

/* The tar layer pipeline: decompressed bytes are read by a tar reader
 * (validation) and, as the reader pulls them, fed to the compressor. */
struct tee {
    sw_decompressor *dec;
    sw_compressor *comp;
    char *buf;
    sw_error *error; /* the real cause when libarchive only says "failed" */
};

static la_ssize_t tee_read(struct archive *ar, void *client_data, const void **buffer)
{
    struct tee *t = client_data;
    size_t got = 0;
    if (sw_decompress_read(t->dec, t->buf, IO_BUF_SIZE, &got, &t->error) != 0 ||
        (got > 0 && sw_compress_write(t->comp, t->buf, got, &t->error) != 0)) {
        archive_set_error(ar, EIO, "%s", sw_error_message(t->error));
        return -1;
    }
    *buffer = t->buf;
    return (la_ssize_t)got;
}

static int tee_failure(struct tee *t, struct archive *ar, const char *what, sw_error **err)
{
    if (t->error) {
        int rc = t->error->code;
        if (err && *err == NULL) {
            *err = t->error;
            t->error = NULL;
        }
        return rc;
    }
    return sw_error_set(err, SW_EINVAL, "%s: %s", what,
                        archive_error_string(ar) ? archive_error_string(ar) : "corrupt data");
}

/* Imports one layer: source gives a tar stream, plain or compressed; it is
 * checked entry by entry and stored gzip-compressed, linked to repo. */
static int import_layer(reg_store *store, const char *repo, sw_source_fn source, void *ctx,
                        const char *name, struct sw_compress_result *res, sw_error **err)
{
    reg_blob_writer *w = NULL;
    struct tee t = { 0 };
    struct archive *tar = NULL;
    struct archive_entry *entry;
    size_t got;
    int rc, r;

    if ((t.buf = malloc(IO_BUF_SIZE)) == NULL || (tar = archive_read_new()) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = reg_blob_writer_new(store, &w, err)) != 0 ||
        (rc = sw_compress_new(SW_COMPRESSION_GZIP, 0, blob_sink, w, &t.comp, err)) != 0 ||
        (rc = sw_decompress_open_source(source, ctx, name, &t.dec, err)) != 0)
        goto cleanup;
    archive_read_support_format_tar(tar);
    if (archive_read_open(tar, &t, NULL, tee_read, NULL) != ARCHIVE_OK) {
        rc = tee_failure(&t, tar, "not a tar archive", err);
        goto cleanup;
    }
    while ((r = archive_read_next_header(tar, &entry)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            rc = tee_failure(&t, tar, "corrupt tar", err);
            goto cleanup;
        }
        const char *path = archive_entry_pathname(entry);
        const char *link = archive_entry_hardlink(entry);
        if (entry_path(entry)[0] != '\0' && !reg_archive_path_safe(entry_path(entry))) {
            rc = sw_error_set(err, SW_EINVAL, "entry '%s': path leaves the image root",
                              path ? path : "");
            goto cleanup;
        }
        if (link && !reg_archive_path_safe(link)) {
            rc = sw_error_set(err, SW_EINVAL,
                              "entry '%s': hard link target '%s' leaves the "
                              "image root",
                              path ? path : "", link);
            goto cleanup;
        }
        if (archive_read_data_skip(tar) != ARCHIVE_OK) {
            rc = tee_failure(&t, tar, "corrupt tar", err);
            goto cleanup;
        }
    }
    /* the tar reader stops at the end-of-archive blocks; the rest of the
     * stream (padding) is part of the layer's bytes too */
    while ((rc = sw_decompress_read(t.dec, t.buf, IO_BUF_SIZE, &got, err)) == 0 && got > 0)
        if ((rc = sw_compress_write(t.comp, t.buf, got, err)) != 0)
            goto cleanup;
    if (rc != 0 || (rc = sw_compress_finish(t.comp, res, err)) != 0)
        goto cleanup;
    rc = reg_blob_writer_commit(w, repo, res->digest, NULL, err);
    w = NULL;
cleanup:
    if (tar)
        archive_read_free(tar);
    sw_decompress_close(t.dec);
    sw_compress_free(t.comp);
    sw_error_clear(&t.error);
    reg_blob_writer_abort(w);
    free(t.buf);
    /* the decompressor's errors name the source already */
    if (rc != 0 && err && *err &&
        !(strncmp((*err)->message, name, strlen(name)) == 0 &&
          (*err)->message[strlen(name)] == ':'))
        sw_error_prefix(err, "%s", name);
    return rc;
}

static int put_manifest_json(reg_store *store, const char *repo, const char *tag,
                             const char *media_type, json_t *manifest,
                             struct reg_transfer_result *result, sw_error **err)
{
    char *body = json_dumps(manifest, JSON_COMPACT);
    if (body == NULL)
        return sw_error_oom(err);
    int rc = reg_manifest_put(store, repo, tag, media_type, body, strlen(body), result->digest,
                              NULL, err);
    snprintf(result->media_type, sizeof(result->media_type), "%s", media_type);
    free(body);
    return rc;
}

/* ---- tar: ------------------------------------------------------------------ */

static int import_rootfs_tar(reg_store *store, const char *path, const char *repo, const char *tag,
                             const struct reg_image_settings *settings,
                             struct reg_transfer_result *result, sw_error **err)
{
    struct fd_source src = { -1, path };
    struct sw_compress_result layer;
    json_t *config = NULL, *manifest = NULL;
    char *config_text = NULL;
    char config_digest[SW_DIGEST_MAX];
    int rc;

    if ((src.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = sw_error_sys(err, errno == ENOENT ? SW_ENOTFOUND : SW_EIO, errno, "cannot open");
        goto cleanup;
    }
    if ((rc = import_layer(store, repo, fd_source_read, &src, "tarball", &layer, err)) != 0)
        goto cleanup;
    const char *diff_ids[] = { layer.diff_id };
    if ((rc = reg_image_config_build(settings, diff_ids, 1, &config, err)) != 0)
        goto cleanup;
    if ((config_text = json_dumps(config, JSON_COMPACT)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    size_t config_len = strlen(config_text);
    if ((rc = reg_blob_put_buffer(store, repo, config_text, config_len, config_digest, err)) != 0)
        goto cleanup;
    manifest = json_pack("{sisss{sssssI}s[{sssssI}]}", "schemaVersion", 2, "mediaType",
                         REG_MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest",
                         config_digest, "size", (json_int_t)config_len, "layers", "mediaType",
                         sw_compression_oci_media_type(SW_COMPRESSION_GZIP), "digest", layer.digest,
                         "size", (json_int_t)layer.compressed_size);
    SW_CHECK_ALLOC(manifest, rc, err, cleanup);
    result->blobs = 2;
    result->bytes = (uint64_t)layer.compressed_size + config_len;
    rc = put_manifest_json(store, repo, tag, REG_MT_OCI_MANIFEST, manifest, result, err);
cleanup:
    if (src.fd >= 0)
        close(src.fd);
    json_decref(config);
    json_decref(manifest);
    free(config_text);
    return rc;
}

/* ---- OCI layouts (directory or staged archive) -------------------------- */

/* Where a layout's blobs come from: files in a directory, or the store
 * itself (an oci-archive's blobs were staged there, unlinked, first). */
struct layout_source {
    const char *dir; /* NULL: blobs are already in the store */
};

static int layout_read_small(reg_store *store, const struct layout_source *src,
                             const struct descriptor *d, char **out, size_t *len, sw_error **err)
{
    int rc;
    char digest[SW_DIGEST_MAX];
    if (d->size > SMALL_JSON_MAX)
        return sw_error_set(err, SW_ETOOBIG, "manifest %s: %lld bytes is too large", d->digest,
                            (long long)d->size);
    if (src->dir == NULL) {
        rc = reg_blob_read_all(store, d->digest, SMALL_JSON_MAX, out, len, err);
        if (rc == REG_E_BLOB_UNKNOWN || rc == SW_ENOTFOUND) {
            sw_error_clear(err);
            return sw_error_set(err, SW_ENOTFOUND, "blob %s is not in the archive", d->digest);
        }
        if (rc != 0)
            return rc;
    } else {
        char *rel = layout_blob_path(d->digest), *path = rel ? sw_path_join(src->dir, rel) : NULL;
        rc = path ? sw_read_file(path, SMALL_JSON_MAX, out, len, err) : sw_error_oom(err);
        free(rel);
        free(path);
        if (rc != 0)
            return rc;
    }
    sw_sha256_digest(*out, *len, digest);
    if (strncmp(d->digest, "sha256:", 7) == 0 && strcmp(digest, d->digest) != 0) {
        free(*out);
        *out = NULL;
        return sw_error_set(err, REG_E_DIGEST_INVALID,
                            "blob %s: content does not match its "
                            "digest (%s)",
                            d->digest, digest);
    }
    if ((int64_t)*len != d->size) {
        free(*out);
        *out = NULL;
        return sw_error_set(err, REG_E_SIZE_INVALID, "blob %s: %zu bytes, descriptor says %lld",
                            d->digest, *len, (long long)d->size);
    }
    return 0;
}

static int layout_fetch_blob(reg_store *store, const struct layout_source *src, const char *repo,
                             const struct descriptor *d, struct reg_transfer_result *result,
                             sw_error **err)
{
    int64_t size = -1;
    /* a blob the store already has (any repository) needs no copying */
    int rc = reg_blob_link(store, repo, d->digest, err);
    if (rc == REG_E_BLOB_UNKNOWN || rc == SW_ENOTFOUND) {
        sw_error_clear(err);
        if (src->dir == NULL)
            return sw_error_set(err, SW_ENOTFOUND, "blob %s is not in the archive", d->digest);
        char *rel = layout_blob_path(d->digest), *path = rel ? sw_path_join(src->dir, rel) : NULL;
        struct fd_source fs = { -1, path };
        if (path == NULL)
            rc = sw_error_oom(err);
        else if ((fs.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            rc = sw_error_sys(err, errno == ENOENT ? SW_ENOTFOUND : SW_EIO, errno,
                              "blob %s: cannot open %s", d->digest, rel);
        else
            rc = store_blob(store, repo, d->digest, d->size, fd_source_read, &fs, rel, &size, err);
        if (fs.fd >= 0)
            close(fs.fd);
        free(rel);
        free(path);
        if (rc == 0) {
            result->blobs++;
            result->bytes += (uint64_t)size;
        }
        return rc;
    }
    if (rc != 0)
        return rc;
    if ((rc = reg_blob_stat(store, repo, d->digest, &size, err)) != 0)
        return rc;
    if (size != d->size)
        return sw_error_set(err, REG_E_SIZE_INVALID, "blob %s: %lld bytes, descriptor says %lld",
                            d->digest, (long long)size, (long long)d->size);
    result->blobs++;
    result->bytes += (uint64_t)size;
    return 0;
}

/* Imports the manifest d points at, its blobs and (for an index) its child
 * manifests, children first so that every PUT finds what it references. */
static int import_layout_manifest(reg_store *store, const struct layout_source *src,
                                  const char *repo, json_t *desc, const char *tag, int depth,
                                  struct reg_transfer_result *result, sw_error **err)
{
    struct descriptor d;
    char *body = NULL;
    size_t len = 0;
    json_t *manifest = NULL;
    char where[SW_DIGEST_MAX + 16];
    char digest[SW_DIGEST_MAX];
    int rc;

    if ((rc = descriptor_parse(desc, "index", &d, err)) != 0)
        return rc;
    snprintf(where, sizeof(where), "manifest %s", d.digest);
    if (depth > MAX_NESTING)
        return sw_error_set(err, SW_EINVAL, "%s: indexes nested too deeply", where);
    if ((rc = layout_read_small(store, src, &d, &body, &len, err)) != 0 ||
        (rc = parse_json(body, len, where, &manifest, err)) != 0)
        goto cleanup;
    const char *media_type = json_string_value(json_object_get(manifest, "mediaType"));
    if (media_type == NULL)
        media_type = d.media_type;
    if (media_type == NULL) {
        rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "%s: no mediaType", where);
        goto cleanup;
    }
    if (reg_media_type_is_index(media_type)) {
        json_t *children = json_object_get(manifest, "manifests"), *child;
        size_t i;
        json_array_foreach(children, i, child) {
            if ((rc = import_layout_manifest(store, src, repo, child, NULL, depth + 1, result,
                                             err)) != 0)
                goto cleanup;
        }
    } else {
        json_t *layers = json_object_get(manifest, "layers"), *layer;
        json_t *config = json_object_get(manifest, "config");
        size_t i;
        struct descriptor bd;
        if (config) {
            if ((rc = descriptor_parse(config, where, &bd, err)) != 0 ||
                (rc = layout_fetch_blob(store, src, repo, &bd, result, err)) != 0)
                goto cleanup;
        }
        json_array_foreach(layers, i, layer) {
            if ((rc = descriptor_parse(layer, where, &bd, err)) != 0 ||
                (rc = layout_fetch_blob(store, src, repo, &bd, result, err)) != 0)
                goto cleanup;
        }
    }
    rc = reg_manifest_put(store, repo, tag ? tag : d.digest, media_type, body, len, digest, NULL,
                          err);
    if (rc == 0 && tag) {
        snprintf(result->digest, sizeof(result->digest), "%s", digest);
        snprintf(result->media_type, sizeof(result->media_type), "%s", media_type);
    }
cleanup:
    json_decref(manifest);
    free(body);
    return rc;
}

static int import_layout(reg_store *store, const struct layout_source *src, const char *index_text,
                         size_t index_len, const char *want_tag, const char *repo, const char *tag,
                         struct reg_transfer_result *result, sw_error **err)
{
    json_t *index = NULL, *desc = NULL;
    int rc = parse_json(index_text, index_len, "index.json", &index, err);
    if (rc == 0)
        rc = reg_oci_index_select(index, want_tag, "index.json", &desc, err);
    if (rc == 0)
        rc = import_layout_manifest(store, src, repo, desc, tag, 0, result, err);
    json_decref(index);
    return rc;
}

static int import_oci_dir(reg_store *store, const struct reg_transport_ref *ref, const char *repo,
                          const char *tag, struct reg_transfer_result *result, sw_error **err)
{
    struct layout_source src = { ref->path };
    char *index_path = sw_path_join(ref->path, "index.json"), *text = NULL;
    size_t len = 0;
    int rc;
    struct stat st;
    if (stat(ref->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = sw_error_sys(err, SW_ENOTFOUND, errno ? errno : ENOTDIR, "not a directory");
        goto cleanup;
    }
    SW_CHECK_ALLOC(index_path, rc, err, cleanup);
    if ((rc = sw_read_file(index_path, SMALL_JSON_MAX, &text, &len, err)) != 0) {
        sw_error_clear(err);
        rc = sw_error_set(err, SW_EINVAL,
                          "index.json: missing or unreadable (not an OCI "
                          "image layout?)");
        goto cleanup;
    }
    rc = import_layout(store, &src, text, len, ref->ref, repo, tag, result, err);
cleanup:
    free(index_path);
    free(text);
    return rc;
}

static int open_archive_reader(const char *path, struct archive **out, sw_error **err)
{
    struct archive *ar = archive_read_new();
    if (ar == NULL)
        return sw_error_oom(err);
    archive_read_support_format_tar(ar);
    archive_read_support_filter_gzip(ar);
    archive_read_support_filter_zstd(ar);
    archive_read_support_filter_xz(ar);
    archive_read_support_filter_bzip2(ar);
    if (access(path, R_OK) != 0) {
        int rc = sw_error_sys(err, errno == ENOENT ? SW_ENOTFOUND : SW_EIO, errno, "cannot open");
        archive_read_free(ar);
        return rc;
    }
    if (archive_read_open_filename(ar, path, IO_BUF_SIZE) != ARCHIVE_OK) {
        int rc = sw_error_set(err, SW_EINVAL, "not a tar archive: %s", archive_error_string(ar));
        archive_read_free(ar);
        return rc;
    }
    *out = ar;
    return 0;
}

/* Reads the next entry of an import archive, rejecting hostile paths. */
static int next_safe_entry(struct archive *ar, struct archive_entry **entry, sw_error **err)
{
    int r = archive_read_next_header(ar, entry);
    if (r == ARCHIVE_EOF)
        return 1;
    if (r < ARCHIVE_WARN)
        return sw_error_set(err, SW_EINVAL, "corrupt archive: %s", archive_error_string(ar));
    const char *path = entry_path(*entry);
    const char *link = archive_entry_hardlink(*entry);
    if ((!reg_archive_path_safe(path) && path[0] != '\0') || (link && !reg_archive_path_safe(link)))
        return sw_error_set(err, SW_EINVAL, "entry '%s': path leaves the archive",
                            archive_entry_pathname(*entry));
    return 0;
}

/* Is path "blobs/<alg>/<encoded>" with a valid digest? Fills digest. */
static int layout_blob_digest(const char *path, char digest[SW_DIGEST_MAX])
{
    const char *alg, *slash;
    if (strncmp(path, "blobs/", 6) != 0)
        return 0;
    alg = path + 6;
    slash = strchr(alg, '/');
    if (slash == NULL || strlen(path) >= SW_DIGEST_MAX)
        return 0;
    snprintf(digest, SW_DIGEST_MAX, "%.*s:%s", (int)(slash - alg), alg, slash + 1);
    return reg_digest_valid(digest);
}

/* oci-archive: one pass over the tar stages every blob in the store
 * (verified, unlinked: what the image does not use is left for GC), then
 * the layout is imported from the store. */
static int import_oci_archive(reg_store *store, const struct reg_transport_ref *ref,
                              const char *repo, const char *tag, struct reg_transfer_result *result,
                              sw_error **err)
{
    struct layout_source src = { NULL };
    struct archive *ar = NULL;
    struct archive_entry *entry;
    char *index_text = NULL;
    size_t index_len = 0;
    char digest[SW_DIGEST_MAX];
    int rc;

    if ((rc = open_archive_reader(ref->path, &ar, err)) != 0)
        goto cleanup;
    while ((rc = next_safe_entry(ar, &entry, err)) == 0) {
        const char *path = entry_path(entry);
        if (archive_entry_filetype(entry) != AE_IFREG)
            continue;
        if (strcmp(path, "index.json") == 0) {
            free(index_text);
            index_text = NULL;
            if ((rc = read_entry_all(ar, entry, "index.json", &index_text, &index_len, err)))
                goto cleanup;
        } else if (layout_blob_digest(path, digest)) {
            struct entry_source es = { ar, path };
            if ((rc = store_blob(store, NULL, digest, archive_entry_size(entry), entry_source_read,
                                 &es, path, NULL, err)) != 0)
                goto cleanup;
        }
    }
    if (rc < 0)
        goto cleanup;
    if (index_text == NULL) {
        rc = sw_error_set(err, SW_EINVAL, "no index.json in the archive (not an OCI layout?)");
        goto cleanup;
    }
    rc = import_layout(store, &src, index_text, index_len, ref->ref, repo, tag, result, err);
cleanup:
    if (ar)
        archive_read_free(ar);
    free(index_text);
    return rc;
}

/* ---- docker-archive: --------------------------------------------------------- */

/* A docker-archive's symlinks (layer.tar -> ../<hex>.tar in newer writers),
 * resolved to archive paths. */
struct link_map {
    char **from;
    char **to;
    size_t count;
};

static void link_map_free(struct link_map *m)
{
    for (size_t i = 0; i < m->count; i++) {
        free(m->from[i]);
        free(m->to[i]);
    }
    free(m->from);
    free(m->to);
}

/* Joins a relative symlink target to its entry's directory, normalising
 * "." and ".."; NULL when it leaves the archive. */
static char *resolve_link(const char *entry, const char *target)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    char *result = NULL, *copy = NULL;
    if (target[0] == '/')
        return NULL;
    const char *slash = strrchr(entry, '/');
    if (slash)
        sw_strbuf_append(&sb, entry, (size_t)(slash - entry + 1));
    sw_strbuf_puts(&sb, target);
    copy = sw_strbuf_detach(&sb);
    if (copy == NULL)
        return NULL;
    /* rebuild component by component */
    char *parts[256];
    size_t n = 0;
    for (char *save = NULL, *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (strcmp(p, ".") == 0)
            continue;
        if (strcmp(p, "..") == 0) {
            if (n == 0)
                goto cleanup;
            n--;
        } else if (n < 256) {
            parts[n++] = p;
        } else {
            goto cleanup;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            sw_strbuf_putc(&sb, '/');
        sw_strbuf_puts(&sb, parts[i]);
    }
    result = n ? sw_strbuf_detach(&sb) : NULL;
cleanup:
    sw_strbuf_free(&sb);
    free(copy);
    return result;
}

static const char *link_map_resolve(const struct link_map *m, const char *path)
{
    for (int hops = 0; hops < 8; hops++) {
        size_t i;
        for (i = 0; i < m->count && strcmp(m->from[i], path) != 0; i++)
            ;
        if (i == m->count)
            return path;
        path = m->to[i];
    }
    return path;
}

/* "docker.io/library/x:1", "docker.io/x:1" and "x:1" name one image:
 * skopeo writes RepoTags fully qualified, docker save short. */
static const char *docker_short_name(const char *name)
{
    if (strncmp(name, "docker.io/", 10) == 0)
        name += 10;
    else if (strncmp(name, "index.docker.io/", 16) == 0)
        name += 16;
    if (strncmp(name, "library/", 8) == 0)
        name += 8;
    return name;
}

/* Chooses the manifest.json entry: by RepoTags when a reference is given,
 * else the only one. */
static int docker_select_image(json_t *list, const char *want, json_t **image, sw_error **err)
{
    size_t i;
    json_t *item;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return sw_error_set(err, SW_EINVAL, "manifest.json: expected a non-empty array");
    if (want == NULL) {
        if (json_array_size(list) != 1)
            return sw_error_set(err, SW_EINVAL,
                                "manifest.json: %zu images, name one with "
                                ":NAME:TAG",
                                json_array_size(list));
        *image = json_array_get(list, 0);
        return 0;
    }
    json_array_foreach(list, i, item) {
        json_t *tags = json_object_get(item, "RepoTags"), *t;
        size_t j;
        json_array_foreach(tags, j, t) {
            if (json_is_string(t) &&
                strcmp(docker_short_name(json_string_value(t)), docker_short_name(want)) == 0) {
                *image = item;
                return 0;
            }
        }
    }
    return sw_error_set(err, SW_ENOTFOUND, "manifest.json: no image tagged '%s'", want);
}

struct docker_layer {
    const char *path; /* resolved archive path, borrowed from the JSON/link map */
    struct sw_compress_result res;
    int is_done;
};

static int import_docker_archive(reg_store *store, const struct reg_transport_ref *ref,
                                 const char *repo, const char *tag,
                                 struct reg_transfer_result *result, sw_error **err)
{
    struct archive *ar = NULL;
    struct archive_entry *entry;
    struct link_map links = { 0 };
    char *list_text = NULL, *config_text = NULL;
    size_t list_len = 0, config_len = 0;
    json_t *list = NULL, *image = NULL, *config = NULL, *manifest = NULL;
    struct docker_layer *layers = NULL;
    size_t n_layers = 0;
    const char *config_path = NULL;
    char config_digest[SW_DIGEST_MAX] = "";
    int rc;

    /* pass 1: manifest.json (usually last) and the symlinks */
    if ((rc = open_archive_reader(ref->path, &ar, err)) != 0)
        goto cleanup;
    while ((rc = next_safe_entry(ar, &entry, err)) == 0) {
        const char *path = entry_path(entry);
        if (archive_entry_filetype(entry) == AE_IFLNK) {
            char *target = resolve_link(path, archive_entry_symlink(entry));
            char **from = realloc(links.from, (links.count + 1) * sizeof(char *));
            if (from)
                links.from = from;
            char **to = realloc(links.to, (links.count + 1) * sizeof(char *));
            if (to)
                links.to = to;
            if (target == NULL || from == NULL || to == NULL) {
                free(target);
                rc = sw_error_set(err, SW_EINVAL, "entry '%s': bad symlink target '%s'", path,
                                  archive_entry_symlink(entry));
                goto cleanup;
            }
            links.from[links.count] = strdup(path);
            links.to[links.count++] = target;
        } else if (archive_entry_filetype(entry) == AE_IFREG &&
                   strcmp(path, "manifest.json") == 0) {
            if ((rc = read_entry_all(ar, entry, "manifest.json", &list_text, &list_len, err)))
                goto cleanup;
        }
    }
    if (rc < 0)
        goto cleanup;
    archive_read_free(ar);
    ar = NULL;
    if (list_text == NULL) {
        rc = sw_error_set(err, SW_EINVAL,
                          "no manifest.json in the archive (not a docker save "
                          "tarball?)");
        goto cleanup;
    }
    if ((rc = parse_json(list_text, list_len, "manifest.json", &list, err)) != 0 ||
        (rc = docker_select_image(list, ref->ref, &image, err)) != 0)
        goto cleanup;
    config_path = json_string_value(json_object_get(image, "Config"));
    json_t *layer_list = json_object_get(image, "Layers"), *item;
    if (config_path == NULL || !json_is_array(layer_list)) {
        rc = sw_error_set(err, SW_EINVAL, "manifest.json: image without Config or Layers");
        goto cleanup;
    }
    config_path = link_map_resolve(&links, config_path);
    n_layers = json_array_size(layer_list);
    if ((layers = calloc(n_layers + 1, sizeof(*layers))) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    size_t i;
    json_array_foreach(layer_list, i, item) {
        if (!json_is_string(item)) {
            rc = sw_error_set(err, SW_EINVAL, "manifest.json: Layers[%zu] is not a string", i);
            goto cleanup;
        }
        layers[i].path = link_map_resolve(&links, json_string_value(item));
    }

    /* pass 2: the config as is, the layers through the gzip pipeline */
    if ((rc = open_archive_reader(ref->path, &ar, err)) != 0)
        goto cleanup;
    while ((rc = next_safe_entry(ar, &entry, err)) == 0) {
        const char *path = entry_path(entry);
        if (archive_entry_filetype(entry) != AE_IFREG)
            continue;
        if (config_text == NULL && strcmp(path, config_path) == 0) {
            if ((rc = read_entry_all(ar, entry, path, &config_text, &config_len, err)) != 0 ||
                (rc = reg_blob_put_buffer(store, repo, config_text, config_len, config_digest,
                                          err)) != 0)
                goto cleanup;
            continue;
        }
        struct docker_layer *first = NULL;
        for (size_t k = 0; k < n_layers; k++) {
            if (layers[k].is_done || strcmp(layers[k].path, path) != 0)
                continue;
            if (first == NULL) {
                struct entry_source es = { ar, path };
                if ((rc = import_layer(store, repo, entry_source_read, &es, path, &layers[k].res,
                                       err)) != 0)
                    goto cleanup;
                first = &layers[k];
            } else {
                layers[k].res = first->res; /* the same file listed twice */
            }
            layers[k].is_done = 1;
        }
    }
    if (rc < 0)
        goto cleanup;
    if (config_text == NULL) {
        rc = sw_error_set(err, SW_EINVAL,
                          "config '%s' named in manifest.json is not in the "
                          "archive",
                          config_path);
        goto cleanup;
    }
    if ((rc = parse_json(config_text, config_len, config_path, &config, err)) != 0)
        goto cleanup;
    json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (json_array_size(diff_ids) != n_layers) {
        rc = sw_error_set(err, SW_EINVAL, "%s: %zu diff_ids for %zu layers", config_path,
                          json_array_size(diff_ids), n_layers);
        goto cleanup;
    }
    json_t *descs = json_array();
    manifest = json_pack("{sisss{sssssI}so}", "schemaVersion", 2, "mediaType",
                         REG_MT_DOCKER_MANIFEST, "config", "mediaType", MT_DOCKER_CONFIG, "digest",
                         config_digest, "size", (json_int_t)config_len, "layers", descs);
    SW_CHECK_ALLOC(manifest, rc, err, cleanup);
    result->blobs = 1;
    result->bytes = config_len;
    for (size_t k = 0; k < n_layers; k++) {
        const char *want = json_string_value(json_array_get(diff_ids, k));
        if (!layers[k].is_done) {
            rc = sw_error_set(err, SW_EINVAL,
                              "layer '%s' named in manifest.json is not in the "
                              "archive",
                              layers[k].path);
            goto cleanup;
        }
        if (want == NULL || strcmp(want, layers[k].res.diff_id) != 0) {
            rc = sw_error_set(err, REG_E_DIGEST_INVALID,
                              "layer '%s': content is %s, config "
                              "says %s",
                              layers[k].path, layers[k].res.diff_id, want ? want : "(none)");
            goto cleanup;
        }
        json_array_append_new(descs,
                              json_pack("{sssssI}", "mediaType",
                                        sw_compression_docker_media_type(SW_COMPRESSION_GZIP),
                                        "digest", layers[k].res.digest, "size",
                                        (json_int_t)layers[k].res.compressed_size));
        result->blobs++;
        result->bytes += (uint64_t)layers[k].res.compressed_size;
    }
    rc = put_manifest_json(store, repo, tag, REG_MT_DOCKER_MANIFEST, manifest, result, err);
cleanup:
    if (ar)
        archive_read_free(ar);
    link_map_free(&links);
    json_decref(list);
    json_decref(config);
    json_decref(manifest);
    free(layers);
    free(list_text);
    free(config_text);
    return rc;
}

int reg_import(reg_store *store, const char *source, const char *repo, const char *tag,
               const struct reg_image_settings *settings, struct reg_transfer_result *result,
               sw_error **err)
{
    struct reg_transport_ref ref;
    int rc;
    memset(result, 0, sizeof(*result));
    if (!reg_name_valid(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    if (!reg_tag_valid(tag))
        return sw_error_set(err, REG_E_TAG_INVALID, "invalid tag '%s'", tag);
    if ((rc = reg_transport_parse(source, &ref, err)) != 0)
        return rc;
    switch (ref.transport) {
    case REG_TRANSPORT_TAR:
        rc = import_rootfs_tar(store, ref.path, repo, tag, settings, result, err);
        break;
    case REG_TRANSPORT_OCI:
        rc = import_oci_dir(store, &ref, repo, tag, result, err);
        break;
    case REG_TRANSPORT_OCI_ARCHIVE:
        rc = import_oci_archive(store, &ref, repo, tag, result, err);
        break;
    case REG_TRANSPORT_DOCKER_ARCHIVE:
        rc = import_docker_archive(store, &ref, repo, tag, result, err);
        break;
    }
    if (rc != 0)
        sw_error_prefix(err, "%s", source);
    reg_transport_ref_release(&ref);
    return rc;
}

/* ---- export: layout writers ---------------------------------------------------- */

/* Writes files of a layout either into a directory (blobs already there
 * are kept: they are content-addressed) or as entries of a tar stream. */
struct layout_writer {
    const char *dir;    /* directory mode */
    struct archive *ar; /* archive mode */
    int64_t mtime;
    char **written; /* paths done, so shared blobs go in once */
    size_t n_written;
    char *buf;
};

static int writer_seen(struct layout_writer *lw, const char *path)
{
    for (size_t i = 0; i < lw->n_written; i++)
        if (strcmp(lw->written[i], path) == 0)
            return 1;
    return 0;
}

static int writer_remember(struct layout_writer *lw, const char *path, sw_error **err)
{
    char **grown = realloc(lw->written, (lw->n_written + 1) * sizeof(char *));
    if (grown == NULL || (grown[lw->n_written] = strdup(path)) == NULL) {
        if (grown)
            lw->written = grown;
        return sw_error_oom(err);
    }
    lw->written = grown;
    lw->n_written++;
    return 0;
}

static int writer_put_dir(struct layout_writer *lw, const char *path, sw_error **err)
{
    int rc = 0;
    if (writer_seen(lw, path))
        return 0;
    if (lw->ar) {
        struct archive_entry *e = archive_entry_new();
        if (e == NULL)
            return sw_error_oom(err);
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0755);
        archive_entry_set_mtime(e, (time_t)lw->mtime, 0);
        if (archive_write_header(lw->ar, e) != ARCHIVE_OK)
            rc = sw_error_set(err, SW_EIO, "%s: %s", path, archive_error_string(lw->ar));
        archive_entry_free(e);
    } else {
        char *full = sw_path_join(lw->dir, path);
        rc = full ? sw_mkdir_p(full, 0755, err) : sw_error_oom(err);
        free(full);
    }
    return rc ? rc : writer_remember(lw, path, err);
}

/* Copies exactly `size` bytes of source to fd or the archive. */
static int writer_copy(struct layout_writer *lw, int fd, const char *path, int64_t size,
                       sw_source_fn source, void *ctx, sw_error **err)
{
    int64_t total = 0;
    size_t got = 0;
    int rc;
    while ((rc = source(ctx, lw->buf, IO_BUF_SIZE, &got, err)) == 0 && got > 0) {
        total += (int64_t)got;
        if (total > size)
            break;
        if (lw->ar) {
            if (archive_write_data(lw->ar, lw->buf, got) != (la_ssize_t)got)
                return sw_error_set(err, SW_EIO, "%s: %s", path, archive_error_string(lw->ar));
        } else if ((rc = sw_write_all(fd, lw->buf, got, err)) != 0) {
            return rc;
        }
    }
    if (rc == 0 && total != size)
        rc = sw_error_set(err, SW_ECONFLICT, "%s: expected %lld bytes, source has %s", path,
                          (long long)size, total > size ? "more" : "fewer");
    return rc;
}

static int writer_put(struct layout_writer *lw, const char *path, int64_t size, sw_source_fn source,
                      void *ctx, sw_error **err)
{
    int rc = 0, fd = -1;
    char *full = NULL, *tmp = NULL;
    if (writer_seen(lw, path))
        return 0;
    if (lw->ar) {
        struct archive_entry *e = archive_entry_new();
        if (e == NULL)
            return sw_error_oom(err);
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, size);
        archive_entry_set_mtime(e, (time_t)lw->mtime, 0);
        if (archive_write_header(lw->ar, e) != ARCHIVE_OK)
            rc = sw_error_set(err, SW_EIO, "%s: %s", path, archive_error_string(lw->ar));
        archive_entry_free(e);
        if (rc == 0)
            rc = writer_copy(lw, -1, path, size, source, ctx, err);
        goto cleanup;
    }
    struct stat st;
    if ((full = sw_path_join(lw->dir, path)) == NULL || asprintf(&tmp, "%s.XXXXXX", full) < 0) {
        tmp = NULL;
        rc = sw_error_oom(err);
        goto cleanup;
    }
    /* a blob of the right size is the right blob: its name is its digest */
    if (strncmp(path, "blobs/", 6) == 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size == size)
        goto cleanup;
    char *slash = strrchr(full, '/');
    *slash = '\0';
    rc = sw_mkdir_p(full, 0755, err);
    *slash = '/';
    if (rc != 0)
        goto cleanup;
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", tmp);
        goto cleanup;
    }
    if ((rc = writer_copy(lw, fd, path, size, source, ctx, err)) != 0)
        goto cleanup;
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "writing %s", full);
        goto cleanup;
    }
    if (rename(tmp, full) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "renaming %s", full);
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(full);
    return rc ? rc : writer_remember(lw, path, err);
}

static int writer_put_buffer(struct layout_writer *lw, const char *path, const void *data,
                             size_t len, sw_error **err)
{
    struct buffer_source bs = { data, len, 0 };
    return writer_put(lw, path, (int64_t)len, buffer_source_read, &bs, err);
}

static void writer_release(struct layout_writer *lw)
{
    for (size_t i = 0; i < lw->n_written; i++)
        free(lw->written[i]);
    free(lw->written);
    free(lw->buf);
}

/* Creates path's temporary sibling and a tar writer on it. */
static int archive_writer_open(const char *path, struct archive **ar, int *fd, char **tmp,
                               sw_error **err)
{
    *ar = NULL;
    *fd = -1;
    if (asprintf(tmp, "%s.tmp-XXXXXX", path) < 0) {
        *tmp = NULL;
        return sw_error_oom(err);
    }
    if ((*fd = mkostemp(*tmp, O_CLOEXEC)) < 0) {
        int rc = sw_error_sys(err, SW_EIO, errno, "creating %s", *tmp);
        free(*tmp);
        *tmp = NULL;
        return rc;
    }
    if ((*ar = archive_write_new()) == NULL ||
        archive_write_set_format_pax_restricted(*ar) != ARCHIVE_OK ||
        archive_write_open_fd(*ar, *fd) != ARCHIVE_OK)
        return sw_error_set(err, SW_EIO, "%s: cannot start the archive", path);
    return 0;
}

/* Finishes (ok) or discards the archive at path. */
static int archive_writer_close(const char *path, struct archive *ar, int fd, char *tmp, int ok,
                                sw_error **err)
{
    int rc = 0;
    if (ar) {
        if (archive_write_close(ar) != ARCHIVE_OK && ok)
            rc = sw_error_set(err, SW_EIO, "%s: %s", path, archive_error_string(ar));
        archive_write_free(ar);
    }
    if (ok && rc == 0 && (fchmod(fd, 0644) != 0 || fsync(fd) != 0))
        rc = sw_error_sys(err, SW_EIO, errno, "writing %s", path);
    if (fd >= 0)
        close(fd);
    if (ok && rc == 0 && rename(tmp, path) != 0)
        rc = sw_error_sys(err, SW_EIO, errno, "renaming %s", path);
    if (tmp && (!ok || rc != 0))
        unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- export: OCI layouts -------------------------------------------------------- */

static int export_blob(reg_store *store, const char *repo, const char *digest,
                       struct layout_writer *lw, struct reg_transfer_result *result, sw_error **err)
{
    reg_backend_reader *r = NULL;
    int64_t size = 0;
    char *path = layout_blob_path(digest);
    int rc;
    if (path == NULL)
        return sw_error_oom(err);
    if ((rc = reg_blob_reader_open(store, repo, digest, 0, -1, &r, &size, err)) == 0) {
        rc = writer_put(lw, path, size, reg_blob_reader_source, r, err);
        reg_backend_reader_close(r);
        result->blobs++;
        result->bytes += (uint64_t)size;
    }
    free(path);
    return rc;
}

/* OCI layouts hold OCI media types only (skopeo and umoci skip or refuse
 * Docker ones), so Docker schema 2 manifests are converted on the way out,
 * as `skopeo copy docker://... oci:...` does; the config blob is shared. */
static const char *oci_media_type_for(const char *media_type)
{
    static const char *const map[][2] = {
        { REG_MT_DOCKER_MANIFEST, REG_MT_OCI_MANIFEST },
        { REG_MT_DOCKER_LIST, REG_MT_OCI_INDEX },
        { MT_DOCKER_CONFIG, MT_OCI_CONFIG },
        { "application/vnd.docker.image.rootfs.diff.tar.gzip",
          "application/vnd.oci.image.layer.v1.tar+gzip" },
        { "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
          "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" },
    };
    for (size_t i = 0; media_type && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(media_type, map[i][0]) == 0)
            return map[i][1];
    return media_type;
}

static int set_media_type(json_t *obj, const char *media_type)
{
    return json_object_set_new(obj, "mediaType", json_string(media_type));
}

/* Writes a manifest's blobs, children and the manifest itself (converted
 * to OCI types when needed); *desc_out receives the descriptor of what was
 * written. */
static int export_manifest_tree(reg_store *store, const char *repo, const struct reg_manifest *m,
                                int depth, struct layout_writer *lw,
                                struct reg_transfer_result *result, json_t **desc_out,
                                sw_error **err)
{
    json_t *doc = NULL;
    char where[SW_DIGEST_MAX + 16];
    char *path = NULL, *converted = NULL;
    const char *body = m->body;
    size_t body_len = m->size;
    const char *media_type = oci_media_type_for(m->media_type);
    int is_rewritten = strcmp(media_type, m->media_type) != 0;
    char digest[SW_DIGEST_MAX];
    int rc;
    snprintf(where, sizeof(where), "manifest %s", m->digest);
    if (depth > MAX_NESTING)
        return sw_error_set(err, SW_EINVAL, "%s: indexes nested too deeply", where);
    if ((rc = parse_json(m->body, m->size, where, &doc, err)) != 0)
        return rc;
    if (reg_media_type_is_index(m->media_type)) {
        json_t *child;
        size_t i;
        json_array_foreach(json_object_get(doc, "manifests"), i, child) {
            struct descriptor d;
            struct reg_manifest cm = { 0 };
            json_t *written = NULL;
            if ((rc = descriptor_parse(child, where, &d, err)) != 0 ||
                (rc = reg_manifest_get(store, repo, d.digest, 1, &cm, err)) != 0)
                goto cleanup;
            rc = export_manifest_tree(store, repo, &cm, depth + 1, lw, result, &written, err);
            reg_manifest_release(&cm);
            if (rc != 0)
                goto cleanup;
            if (strcmp(json_string_value(json_object_get(written, "digest")), d.digest) != 0) {
                json_object_update_existing(child, written);
                is_rewritten = 1;
            }
            json_decref(written);
        }
    } else {
        json_t *config = json_object_get(doc, "config"), *layer;
        size_t i;
        struct descriptor d;
        if (config && ((rc = descriptor_parse(config, where, &d, err)) != 0 ||
                       (rc = export_blob(store, repo, d.digest, lw, result, err)) != 0))
            goto cleanup;
        if (config && is_rewritten)
            set_media_type(config, oci_media_type_for(d.media_type));
        json_array_foreach(json_object_get(doc, "layers"), i, layer) {
            if ((rc = descriptor_parse(layer, where, &d, err)) != 0 ||
                (rc = export_blob(store, repo, d.digest, lw, result, err)) != 0)
                goto cleanup;
            if (is_rewritten)
                set_media_type(layer, oci_media_type_for(d.media_type));
        }
    }
    if (is_rewritten) {
        set_media_type(doc, media_type);
        if ((converted = json_dumps(doc, JSON_COMPACT)) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        body = converted;
        body_len = strlen(converted);
    }
    sw_sha256_digest(body, body_len, digest);
    if ((path = layout_blob_path(digest)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = writer_put_buffer(lw, path, body, body_len, err)) != 0)
        goto cleanup;
    *desc_out = json_pack("{sssssI}", "mediaType", media_type, "digest", digest, "size",
                          (json_int_t)body_len);
    if (*desc_out == NULL)
        rc = sw_error_oom(err);
cleanup:
    free(path);
    free(converted);
    json_decref(doc);
    return rc;
}

/* Records the top manifest a layout export wrote in the result. */
static void note_exported(struct reg_transfer_result *result, json_t *desc)
{
    snprintf(result->digest, sizeof(result->digest), "%s",
             json_string_value(json_object_get(desc, "digest")));
    snprintf(result->media_type, sizeof(result->media_type), "%s",
             json_string_value(json_object_get(desc, "mediaType")));
}

static const char oci_layout_file[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

static int export_oci_dir(reg_store *store, const char *repo, const struct reg_manifest *m,
                          const char *dir, const char *tag, struct reg_transfer_result *result,
                          sw_error **err)
{
    struct layout_writer lw = { .dir = dir };
    json_t *desc = NULL;
    char *index_path = sw_path_join(dir, "index.json"),
         *layout_path = sw_path_join(dir, "oci-layout");
    char *text = NULL, *index_text = NULL;
    size_t len = 0;
    json_t *index = NULL;
    int rc;
    if (index_path == NULL || layout_path == NULL || (lw.buf = malloc(IO_BUF_SIZE)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(dir, 0755, err)) != 0)
        goto cleanup;
    if (sw_path_exists(index_path)) {
        if ((rc = sw_read_file(index_path, SMALL_JSON_MAX, &text, &len, err)) != 0 ||
            (rc = parse_json(text, len, "index.json", &index, err)) != 0)
            goto cleanup;
        if (!json_is_object(index)) {
            rc = sw_error_set(err, SW_EINVAL, "index.json: not a JSON object");
            goto cleanup;
        }
    } else {
        index = json_pack("{siss}", "schemaVersion", 2, "mediaType", REG_MT_OCI_INDEX);
    }
    if (!sw_path_exists(layout_path) &&
        (rc = sw_write_file_atomic(layout_path, oci_layout_file, strlen(oci_layout_file), 0644,
                                   err)) != 0)
        goto cleanup;
    if ((rc = writer_put_dir(&lw, "blobs", err)) != 0 ||
        (rc = export_manifest_tree(store, repo, m, 0, &lw, result, &desc, err)) != 0)
        goto cleanup;
    note_exported(result, desc);
    /* index.json last: an interrupted export never names missing blobs */
    rc = reg_oci_index_add(index, desc, tag, err);
    desc = NULL;
    if (rc != 0)
        goto cleanup;
    if ((index_text = json_dumps(index, JSON_COMPACT)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    rc = sw_write_file_atomic(index_path, index_text, strlen(index_text), 0644, err);
cleanup:
    writer_release(&lw);
    json_decref(index);
    json_decref(desc);
    free(index_path);
    free(layout_path);
    free(text);
    free(index_text);
    return rc;
}

static int export_oci_archive(reg_store *store, const char *repo, const struct reg_manifest *m,
                              const char *file, const char *tag, struct reg_transfer_result *result,
                              sw_error **err)
{
    struct layout_writer lw = { 0 };
    json_t *index = json_pack("{siss}", "schemaVersion", 2, "mediaType", REG_MT_OCI_INDEX);
    json_t *desc = NULL;
    char *index_text = NULL, *tmp = NULL;
    int fd = -1;
    int rc;
    lw.mtime = creation_time(-1);
    if (index == NULL || (lw.buf = malloc(IO_BUF_SIZE)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = archive_writer_open(file, &lw.ar, &fd, &tmp, err)) != 0)
        goto cleanup;
    /* index.json goes last: it names the converted manifest, known only
     * once written; readers (skopeo, ours) take entries in any order */
    if ((rc = writer_put_buffer(&lw, "oci-layout", oci_layout_file, strlen(oci_layout_file),
                                err)) != 0 ||
        (rc = writer_put_dir(&lw, "blobs", err)) != 0 ||
        (rc = writer_put_dir(&lw, "blobs/sha256", err)) != 0 ||
        (rc = export_manifest_tree(store, repo, m, 0, &lw, result, &desc, err)) != 0)
        goto cleanup;
    note_exported(result, desc);
    rc = reg_oci_index_add(index, desc, tag, err);
    desc = NULL;
    if (rc != 0)
        goto cleanup;
    if ((index_text = json_dumps(index, JSON_COMPACT)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    rc = writer_put_buffer(&lw, "index.json", index_text, strlen(index_text), err);
cleanup:
    if (tmp) {
        int close_rc = archive_writer_close(file, lw.ar, fd, tmp, rc == 0, err);
        if (rc == 0)
            rc = close_rc;
    } else if (lw.ar)
        archive_write_free(lw.ar);
    writer_release(&lw);
    json_decref(index);
    json_decref(desc);
    free(index_text);
    return rc;
}

/* ---- export: docker-archive --------------------------------------------------- */

/* The host platform's image manifest of an index (released by the
 * caller), for formats that hold a single image. */
static int pick_platform_manifest(reg_store *store, const char *repo,
                                  const struct reg_manifest *index, struct reg_manifest *out,
                                  sw_error **err)
{
    json_t *doc = NULL, *desc = NULL;
    struct reg_platform host;
    int rc;
    if ((rc = parse_json(index->body, index->size, "index", &doc, err)) != 0)
        return rc;
    reg_platform_host(&host);
    if ((rc = reg_index_select(doc, &host, &desc, err)) != 0) {
        sw_error_prefix(err, "index %s", index->digest);
        goto cleanup;
    }
    const char *digest = json_string_value(json_object_get(desc, "digest"));
    if (digest == NULL) {
        rc = sw_error_set(err, SW_EINVAL, "index %s: an entry without a digest", index->digest);
        goto cleanup;
    }
    rc = reg_manifest_get(store, repo, digest, 1, out, err);
    if (rc == 0 && reg_media_type_is_index(out->media_type)) {
        reg_manifest_release(out);
        rc = sw_error_set(err, SW_EUNSUPPORTED, "index %s: nested index", index->digest);
    }
cleanup:
    json_decref(doc);
    return rc;
}

/* Decompresses a layer once to learn its uncompressed size and diff ID. */
static int measure_layer(reg_store *store, const char *repo, const char *digest, int64_t *size,
                         char diff_id[SW_DIGEST_MAX], char *buf, sw_error **err)
{
    sw_decompressor *dec = NULL;
    reg_backend_reader *r = NULL;
    sw_hash *h = sw_hash_new(SW_HASH_SHA256);
    size_t got = 0;
    int rc;
    *size = 0;
    if (h == NULL)
        return sw_error_oom(err);
    if ((rc = reg_blob_reader_open(store, repo, digest, 0, -1, &r, NULL, err)) == 0 &&
        (rc = sw_decompress_open_source(reg_blob_reader_source, r, digest, &dec, err)) == 0) {
        while ((rc = sw_decompress_read(dec, buf, IO_BUF_SIZE, &got, err)) == 0 && got > 0) {
            sw_hash_update(h, buf, got);
            *size += (int64_t)got;
        }
    }
    sw_hash_digest(h, diff_id);
    sw_decompress_close(dec);
    reg_backend_reader_close(r);
    sw_hash_free(h);
    return rc;
}

static int export_docker_archive(reg_store *store, const char *repo, const struct reg_manifest *top,
                                 const char *file, const char *repo_tag,
                                 struct reg_transfer_result *result, sw_error **err)
{
    struct layout_writer lw = { 0 };
    struct reg_manifest child = { 0 };
    const struct reg_manifest *image = top;
    json_t *doc = NULL, *config = NULL, *entry = NULL, *list = NULL, *layer_paths = NULL;
    json_t *repos = NULL;
    char *config_text = NULL, *list_text = NULL, *repos_text = NULL, *tmp = NULL;
    char *config_name = NULL, *layer_path = NULL;
    size_t config_len = 0;
    reg_backend_reader *blob = NULL;
    int fd = -1;
    int rc;
    char last_id[SW_DIGEST_MAX] = "";

    lw.mtime = creation_time(-1);
    if ((lw.buf = malloc(IO_BUF_SIZE)) == NULL || (layer_paths = json_array()) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (reg_media_type_is_index(top->media_type)) {
        if ((rc = pick_platform_manifest(store, repo, top, &child, err)) != 0)
            goto cleanup;
        image = &child;
    }
    if ((rc = parse_json(image->body, image->size, "manifest", &doc, err)) != 0)
        goto cleanup;
    struct descriptor cd;
    if ((rc = descriptor_parse(json_object_get(doc, "config"), "manifest", &cd, err)) != 0 ||
        (rc = reg_blob_read_all(store, cd.digest, SMALL_JSON_MAX, &config_text, &config_len,
                                err)) != 0 ||
        (rc = parse_json(config_text, config_len, "image config", &config, err)) != 0)
        goto cleanup;
    json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    json_t *layers = json_object_get(doc, "layers"), *layer;
    if (json_array_size(diff_ids) != json_array_size(layers)) {
        rc = sw_error_set(err, SW_EINVAL, "image config %s: %zu diff_ids for %zu layers", cd.digest,
                          json_array_size(diff_ids), json_array_size(layers));
        goto cleanup;
    }
    if ((rc = archive_writer_open(file, &lw.ar, &fd, &tmp, err)) != 0)
        goto cleanup;
    size_t i;
    json_array_foreach(layers, i, layer) {
        struct descriptor ld;
        int64_t size = 0;
        char diff_id[SW_DIGEST_MAX];
        const char *want = json_string_value(json_array_get(diff_ids, i));
        if ((rc = descriptor_parse(layer, "manifest", &ld, err)) != 0 ||
            (rc = measure_layer(store, repo, ld.digest, &size, diff_id, lw.buf, err)) != 0)
            goto cleanup;
        if (want == NULL || strcmp(want, diff_id) != 0) {
            rc = sw_error_set(err, REG_E_DIGEST_INVALID,
                              "layer %s: uncompressed content is "
                              "%s, image config says %s",
                              ld.digest, diff_id, want ? want : "(none)");
            goto cleanup;
        }
        /* docker save's layout: <id>/layer.tar, uncompressed */
        const char *hex = strchr(diff_id, ':') + 1;
        free(layer_path);
        if (asprintf(&layer_path, "%s/layer.tar", hex) < 0) {
            layer_path = NULL;
            rc = sw_error_oom(err);
            goto cleanup;
        }
        if (!writer_seen(&lw, layer_path)) {
            sw_decompressor *dec = NULL;
            if ((rc = writer_put_dir(&lw, hex, err)) != 0 ||
                (rc = reg_blob_reader_open(store, repo, ld.digest, 0, -1, &blob, NULL, err)) != 0 ||
                (rc = sw_decompress_open_source(reg_blob_reader_source, blob, ld.digest, &dec,
                                                err)) != 0)
                goto cleanup;
            rc = writer_put(&lw, layer_path, size, decompressor_source_read, dec, err);
            sw_decompress_close(dec);
            reg_backend_reader_close(blob);
            blob = NULL;
            if (rc != 0)
                goto cleanup;
            result->blobs++;
            result->bytes += (uint64_t)size;
        }
        json_array_append_new(layer_paths, json_string(layer_path));
        snprintf(last_id, sizeof(last_id), "%s", hex);
    }
    if (asprintf(&config_name, "%s.json", strchr(cd.digest, ':') + 1) < 0) {
        config_name = NULL;
        rc = sw_error_oom(err);
        goto cleanup;
    }
    entry = json_pack("{sss[]sO}", "Config", config_name, "RepoTags", "Layers", layer_paths);
    list = json_array();
    if (entry == NULL || list == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (repo_tag)
        json_array_append_new(json_object_get(entry, "RepoTags"), json_string(repo_tag));
    json_array_append(list, entry);
    list_text = json_dumps(list, JSON_COMPACT);
    /* the legacy `repositories` file: {"name":{"tag":"<top layer id>"}} */
    const char *colon = repo_tag ? strrchr(repo_tag, ':') : NULL;
    if (colon && last_id[0]) {
        char *name = strndup(repo_tag, (size_t)(colon - repo_tag));
        repos = name ? json_pack("{s{ss}}", name, colon + 1, last_id) : NULL;
        free(name);
        repos_text = repos ? json_dumps(repos, JSON_COMPACT) : NULL;
    }
    if (list_text == NULL || (colon && last_id[0] && repos_text == NULL)) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = writer_put_buffer(&lw, config_name, config_text, config_len, err)) != 0 ||
        (rc = writer_put_buffer(&lw, "manifest.json", list_text, strlen(list_text), err)) != 0 ||
        (repos_text &&
         (rc = writer_put_buffer(&lw, "repositories", repos_text, strlen(repos_text), err)) != 0))
        goto cleanup;
    result->blobs++;
    result->bytes += config_len;
    snprintf(result->digest, sizeof(result->digest), "%s", image->digest);
    snprintf(result->media_type, sizeof(result->media_type), "%s", image->media_type);
cleanup:
    reg_backend_reader_close(blob);
    if (tmp) {
        int close_rc = archive_writer_close(file, lw.ar, fd, tmp, rc == 0, err);
        if (rc == 0)
            rc = close_rc;
    } else if (lw.ar)
        archive_write_free(lw.ar);
    writer_release(&lw);
    if (image == &child)
        reg_manifest_release(&child);
    json_decref(doc);
    json_decref(config);
    json_decref(entry);
    json_decref(list);
    json_decref(layer_paths);
    json_decref(repos);
    free(config_text);
    free(list_text);
    free(repos_text);
    free(config_name);
    free(layer_path);
    return rc;
}

int reg_export(reg_store *store, const char *repo, const char *reference, const char *dest,
               struct reg_transfer_result *result, sw_error **err)
{
    struct reg_transport_ref ref;
    struct reg_manifest m = { 0 };
    char *repo_tag = NULL;
    int rc;
    memset(result, 0, sizeof(*result));
    if ((rc = reg_transport_parse(dest, &ref, err)) != 0)
        return rc;
    int is_tag = !reg_reference_is_digest(reference);
    const char *tag = ref.ref ? ref.ref : is_tag ? reference : NULL;
    if ((rc = reg_manifest_get(store, repo, reference, 1, &m, err)) != 0) {
        sw_error_prefix(err, "%s%s%s", repo, is_tag ? ":" : "@", reference);
        goto cleanup;
    }
    snprintf(result->digest, sizeof(result->digest), "%s", m.digest);
    snprintf(result->media_type, sizeof(result->media_type), "%s", m.media_type);
    switch (ref.transport) {
    case REG_TRANSPORT_TAR:
        rc = sw_error_set(err, SW_EUNSUPPORTED,
                          "tar: is an import source only; export to "
                          "oci:, oci-archive: or docker-archive:");
        break;
    case REG_TRANSPORT_OCI:
    case REG_TRANSPORT_OCI_ARCHIVE:
        if (tag && !reg_tag_valid(tag)) {
            rc = sw_error_set(err, REG_E_TAG_INVALID, "invalid tag '%s'", tag);
            break;
        }
        rc = ref.transport == REG_TRANSPORT_OCI
                 ? export_oci_dir(store, repo, &m, ref.path, tag, result, err)
                 : export_oci_archive(store, repo, &m, ref.path, tag, result, err);
        break;
    case REG_TRANSPORT_DOCKER_ARCHIVE:
        if (ref.ref == NULL && is_tag && asprintf(&repo_tag, "%s:%s", repo, reference) < 0) {
            repo_tag = NULL;
            rc = sw_error_oom(err);
            break;
        }
        rc = export_docker_archive(store, repo, &m, ref.path, ref.ref ? ref.ref : repo_tag, result,
                                   err);
        break;
    }
    if (rc != 0)
        sw_error_prefix(err, "%s", dest);
cleanup:
    reg_manifest_release(&m);
    reg_transport_ref_release(&ref);
    free(repo_tag);
    return rc;
}
