/*
 * compress.c - the layer-blob pipeline (hash -> compress -> hash -> sink)
 * and content-detecting decompressors (libarchive raw + filters).
 *
 * Determinism matters more than speed here: with SOURCE_DATE_EPOCH the
 * builder promises byte-identical images, so the gzip header is set by hand
 * (no name, mtime 0, OS "unknown" like Go's compress/gzip) and levels are
 * fixed unless a caller asks otherwise.
 */
#include "core/compress.h"

#include <archive.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define PIPE_BUF_SIZE (64 * 1024)
#define GZIP_DEFAULT_LEVEL 6
#define ZSTD_DEFAULT_LEVEL 3
#define GZIP_OS_UNKNOWN 255

struct sw_compressor {
    enum sw_compression algo;
    sw_compress_sink_fn sink;
    void *sink_ctx;
    sw_hash *uncompressed_hash;
    sw_hash *compressed_hash;
    int64_t uncompressed_size;
    int64_t compressed_size;
    int is_finished;
    int has_zstream;
    z_stream zs;
    gz_header gzhead;
    ZSTD_CCtx *zstd;
    unsigned char *out;
};

int sw_compression_parse(const char *name)
{
    if (name == NULL)
        return -1;
    if (strcmp(name, "gzip") == 0)
        return SW_COMPRESSION_GZIP;
    if (strcmp(name, "zstd") == 0)
        return SW_COMPRESSION_ZSTD;
    if (strcmp(name, "none") == 0)
        return SW_COMPRESSION_NONE;
    return -1;
}

const char *sw_compression_oci_media_type(enum sw_compression algo)
{
    switch (algo) {
    case SW_COMPRESSION_GZIP:
        return "application/vnd.oci.image.layer.v1.tar+gzip";
    case SW_COMPRESSION_ZSTD:
        return "application/vnd.oci.image.layer.v1.tar+zstd";
    default:
        return "application/vnd.oci.image.layer.v1.tar";
    }
}

const char *sw_compression_docker_media_type(enum sw_compression algo)
{
    if (algo == SW_COMPRESSION_GZIP)
        return "application/vnd.docker.image.rootfs.diff.tar.gzip";
    return sw_compression_oci_media_type(algo);
}

/* Passes compressed bytes on: counted, hashed, then to the sink. */
static int emit(sw_compressor *c, const void *buf, size_t len, sw_error **err)
{
    if (len == 0)
        return 0;
    sw_hash_update(c->compressed_hash, buf, len);
    c->compressed_size += (int64_t)len;
    return c->sink(c->sink_ctx, buf, len, err);
}

int sw_compress_new(enum sw_compression algo, int level, sw_compress_sink_fn sink, void *sink_ctx,
                    sw_compressor **out, sw_error **err)
{
    int rc = 0;
    sw_compressor *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    c->algo = algo;
    c->sink = sink;
    c->sink_ctx = sink_ctx;
    c->uncompressed_hash = sw_hash_new(SW_HASH_SHA256);
    c->compressed_hash = sw_hash_new(SW_HASH_SHA256);
    c->out = malloc(PIPE_BUF_SIZE);
    if (c->uncompressed_hash == NULL || c->compressed_hash == NULL || c->out == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "out of memory");
        goto cleanup;
    }
    switch (algo) {
    case SW_COMPRESSION_NONE:
        break;
    case SW_COMPRESSION_GZIP:
        /* windowBits 15 + 16 selects the gzip wrapper */
        if (deflateInit2(&c->zs, level > 0 ? level : GZIP_DEFAULT_LEVEL, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            rc = sw_error_set(err, SW_ENOMEM, "gzip: cannot initialise compressor");
            goto cleanup;
        }
        c->has_zstream = 1;
        c->gzhead.os = GZIP_OS_UNKNOWN;
        if (deflateSetHeader(&c->zs, &c->gzhead) != Z_OK) {
            rc = sw_error_set(err, SW_EINVAL, "gzip: cannot set header");
            goto cleanup;
        }
        break;
    case SW_COMPRESSION_ZSTD:
        c->zstd = ZSTD_createCCtx();
        if (c->zstd == NULL) {
            rc = sw_error_set(err, SW_ENOMEM, "zstd: cannot initialise compressor");
            goto cleanup;
        }
        if (ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel,
                                                level > 0 ? level : ZSTD_DEFAULT_LEVEL)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_checksumFlag, 1))) {
            rc = sw_error_set(err, SW_EINVAL, "zstd: bad compression level %d", level);
            goto cleanup;
        }
        break;
    default:
        rc = sw_error_set(err, SW_EUNSUPPORTED, "unknown compression %d", (int)algo);
        goto cleanup;
    }
    *out = c;
    c = NULL;
cleanup:
    sw_compress_free(c);
    return rc;
}

static int gzip_run(sw_compressor *c, const void *buf, size_t len, int flush, sw_error **err)
{
    int zrc;
    c->zs.next_in = (Bytef *)buf;
    c->zs.avail_in = (uInt)len;
    do {
        c->zs.next_out = c->out;
        c->zs.avail_out = PIPE_BUF_SIZE;
        zrc = deflate(&c->zs, flush);
        if (zrc == Z_STREAM_ERROR)
            return sw_error_set(err, SW_EIO, "gzip: compression failed");
        int rc = emit(c, c->out, PIPE_BUF_SIZE - c->zs.avail_out, err);
        if (rc != 0)
            return rc;
    } while (c->zs.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
    return 0;
}

static int zstd_run(sw_compressor *c, const void *buf, size_t len, ZSTD_EndDirective mode,
                    sw_error **err)
{
    ZSTD_inBuffer in = { buf, len, 0 };
    size_t remaining;
    do {
        ZSTD_outBuffer out = { c->out, PIPE_BUF_SIZE, 0 };
        remaining = ZSTD_compressStream2(c->zstd, &out, &in, mode);
        if (ZSTD_isError(remaining))
            return sw_error_set(err, SW_EIO, "zstd: %s", ZSTD_getErrorName(remaining));
        int rc = emit(c, c->out, out.pos, err);
        if (rc != 0)
            return rc;
    } while (mode == ZSTD_e_end ? remaining != 0 : in.pos < in.size);
    return 0;
}

int sw_compress_write(sw_compressor *c, const void *buf, size_t len, sw_error **err)
{
    if (c->is_finished)
        return sw_error_set(err, SW_EINVAL, "compressor already finished");
    sw_hash_update(c->uncompressed_hash, buf, len);
    c->uncompressed_size += (int64_t)len;
    /* zlib counts in uInt: feed huge buffers in slices */
    while (len > 0) {
        size_t slice = len > (1u << 30) ? (1u << 30) : len;
        int rc;
        switch (c->algo) {
        case SW_COMPRESSION_GZIP:
            rc = gzip_run(c, buf, slice, Z_NO_FLUSH, err);
            break;
        case SW_COMPRESSION_ZSTD:
            rc = zstd_run(c, buf, slice, ZSTD_e_continue, err);
            break;
        default:
            rc = emit(c, buf, slice, err);
            break;
        }
        if (rc != 0)
            return rc;
        buf = (const char *)buf + slice;
        len -= slice;
    }
    return 0;
}

int sw_compress_finish(sw_compressor *c, struct sw_compress_result *result, sw_error **err)
{
    int rc = 0;
    if (c->is_finished)
        return sw_error_set(err, SW_EINVAL, "compressor already finished");
    c->is_finished = 1;
    if (c->algo == SW_COMPRESSION_GZIP)
        rc = gzip_run(c, "", 0, Z_FINISH, err);
    else if (c->algo == SW_COMPRESSION_ZSTD)
        rc = zstd_run(c, "", 0, ZSTD_e_end, err);
    if (rc != 0)
        return rc;
    memset(result, 0, sizeof(*result));
    sw_hash_digest(c->uncompressed_hash, result->diff_id);
    sw_hash_digest(c->compressed_hash, result->digest);
    result->uncompressed_size = c->uncompressed_size;
    result->compressed_size = c->compressed_size;
    return 0;
}

void sw_compress_free(sw_compressor *c)
{
    if (c == NULL)
        return;
    if (c->has_zstream)
        deflateEnd(&c->zs);
    ZSTD_freeCCtx(c->zstd);
    sw_hash_free(c->uncompressed_hash);
    sw_hash_free(c->compressed_hash);
    free(c->out);
    free(c);
}

/* ---- decompression ---------------------------------------------------- */

/* gzip goes through zlib rather than libarchive because libarchive's gzip
 * filter does not check the member CRC and length: a flipped bit would
 * silently become a different layer. The other formats' libraries check
 * their own checksums. */
struct sw_decompressor {
    char *name;
    sw_source_fn source;
    void *source_ctx;
    int fd;
    unsigned char *in;
    size_t in_len; /* bytes of `in` not yet handed on */
    size_t in_off;
    int is_source_eof;
    int is_eof;
    /* gzip */
    int is_gzip;
    int has_zstream;
    int member_done; /* a gzip member ended: another may follow */
    z_stream zs;
    /* everything else */
    struct archive *ar;
    sw_error *source_error; /* kept until the reader asks, so it wins */
    int has_header;
};

static int fd_source_read(void *ctx, void *buf, size_t len, size_t *got, sw_error **err)
{
    sw_decompressor *d = ctx;
    ssize_t n;
    do
        n = read(d->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sw_error_sys(err, SW_EIO, errno, "reading %s", d->name);
    *got = (size_t)n;
    return 0;
}

/* Refills `in` from the source when it is used up. */
static int fill_input(sw_decompressor *d, sw_error **err)
{
    if (d->in_off < d->in_len || d->is_source_eof)
        return 0;
    size_t got = 0;
    int rc = d->source(d->source_ctx, d->in, PIPE_BUF_SIZE, &got, err);
    if (rc != 0)
        return rc;
    d->in_off = 0;
    d->in_len = got;
    if (got == 0)
        d->is_source_eof = 1;
    return 0;
}

/* libarchive pulls the peeked bytes first, then the rest of the source. */
static la_ssize_t archive_read_cb(struct archive *ar, void *client_data, const void **buffer)
{
    sw_decompressor *d = client_data;
    if (fill_input(d, &d->source_error) != 0) {
        archive_set_error(ar, EIO, "%s", sw_error_message(d->source_error));
        return -1;
    }
    size_t n = d->in_len - d->in_off;
    *buffer = d->in + d->in_off;
    d->in_off = d->in_len;
    return (la_ssize_t)n;
}

static int open_archive_reader(sw_decompressor *d, sw_error **err)
{
    if ((d->ar = archive_read_new()) == NULL)
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    /* Only the compressions images use; filter_all would also decode
     * uuencode, rpm and external-program formats, which is surprising. */
    archive_read_support_filter_zstd(d->ar);
    archive_read_support_filter_bzip2(d->ar);
    archive_read_support_filter_xz(d->ar);
    archive_read_support_filter_lzma(d->ar);
    archive_read_support_format_raw(d->ar);
    archive_read_support_format_empty(d->ar);
    if (archive_read_open(d->ar, d, NULL, archive_read_cb, NULL) != ARCHIVE_OK) {
        if (d->source_error) {
            int rc = d->source_error->code;
            if (err && *err == NULL) {
                *err = d->source_error;
                d->source_error = NULL;
            }
            return rc;
        }
        return sw_error_set(err, SW_EINVAL, "%s: %s", d->name, archive_error_string(d->ar));
    }
    return 0;
}

static int decompress_open(sw_decompressor *d, sw_error **err)
{
    int rc;
    if ((d->in = malloc(PIPE_BUF_SIZE)) == NULL)
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    /* peek at the magic; a source may hand out one byte at a time */
    while (d->in_len < 2 && !d->is_source_eof) {
        size_t got = 0;
        if ((rc = d->source(d->source_ctx, d->in + d->in_len, PIPE_BUF_SIZE - d->in_len, &got,
                            err)) != 0)
            return rc;
        d->in_len += got;
        if (got == 0)
            d->is_source_eof = 1;
    }
    if (d->in_len >= 2 && d->in[0] == 0x1f && d->in[1] == 0x8b) {
        d->is_gzip = 1;
        if (inflateInit2(&d->zs, 15 + 16) != Z_OK)
            return sw_error_set(err, SW_ENOMEM, "gzip: cannot initialise decompressor");
        d->has_zstream = 1;
        return 0;
    }
    return open_archive_reader(d, err);
}

static int decompress_new(sw_source_fn source, void *source_ctx, int fd, const char *name,
                          sw_decompressor **out, sw_error **err)
{
    sw_decompressor *d = calloc(1, sizeof(*d));
    int rc;
    if (d == NULL || (d->name = strdup(name)) == NULL) {
        free(d);
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    }
    d->fd = fd;
    d->source = source ? source : fd_source_read;
    d->source_ctx = source ? source_ctx : d;
    if ((rc = decompress_open(d, err)) != 0) {
        sw_decompress_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

int sw_decompress_open_fd(int fd, const char *name, sw_decompressor **out, sw_error **err)
{
    return decompress_new(NULL, NULL, fd, name, out, err);
}

int sw_decompress_open_source(sw_source_fn source, void *source_ctx, const char *name,
                              sw_decompressor **out, sw_error **err)
{
    return decompress_new(source, source_ctx, -1, name, out, err);
}

static int gzip_read(sw_decompressor *d, void *buf, size_t len, size_t *got, sw_error **err)
{
    int rc;
    if (len > (1u << 30))
        len = 1u << 30;
    d->zs.next_out = buf;
    d->zs.avail_out = (uInt)len;
    while (d->zs.avail_out == len) {
        if ((rc = fill_input(d, err)) != 0)
            return rc;
        if (d->in_off == d->in_len) {
            if (d->member_done) {
                d->is_eof = 1;
                break;
            }
            return sw_error_set(err, SW_EINVAL, "%s: gzip stream: truncated", d->name);
        }
        if (d->member_done) {
            /* concatenated gzip members are one stream, as gzip(1) reads them */
            inflateReset(&d->zs);
            d->member_done = 0;
        }
        d->zs.next_in = d->in + d->in_off;
        d->zs.avail_in = (uInt)(d->in_len - d->in_off);
        int zrc = inflate(&d->zs, Z_NO_FLUSH);
        d->in_off = d->in_len - d->zs.avail_in;
        if (zrc == Z_STREAM_END)
            d->member_done = 1;
        else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return sw_error_set(err, SW_EINVAL, "%s: gzip stream: %s", d->name,
                                d->zs.msg ? d->zs.msg : "corrupt data");
    }
    *got = len - d->zs.avail_out;
    return 0;
}

/* Turns a libarchive failure into our error, preferring the source's. */
static int archive_failure(sw_decompressor *d, sw_error **err)
{
    if (d->source_error) {
        int rc = d->source_error->code;
        if (err && *err == NULL) {
            *err = d->source_error;
            d->source_error = NULL;
        }
        return rc;
    }
    return sw_error_set(err, SW_EINVAL, "%s: %s stream: %s", d->name, sw_decompress_format(d),
                        archive_error_string(d->ar) ? archive_error_string(d->ar) : "corrupt data");
}

int sw_decompress_read(sw_decompressor *d, void *buf, size_t len, size_t *got, sw_error **err)
{
    *got = 0;
    if (d->is_eof || len == 0)
        return 0;
    if (d->is_gzip)
        return gzip_read(d, buf, len, got, err);
    if (!d->has_header) {
        struct archive_entry *entry;
        int r = archive_read_next_header(d->ar, &entry);
        if (r == ARCHIVE_EOF) {
            d->is_eof = 1;
            return 0;
        }
        if (r != ARCHIVE_OK)
            return archive_failure(d, err);
        d->has_header = 1;
    }
    la_ssize_t n = archive_read_data(d->ar, buf, len);
    if (n < 0)
        return archive_failure(d, err);
    if (n == 0)
        d->is_eof = 1;
    *got = (size_t)n;
    return 0;
}

const char *sw_decompress_format(const sw_decompressor *d)
{
    if (d->is_gzip)
        return "gzip";
    const char *name = d->ar ? archive_filter_name(d->ar, 0) : NULL;
    return name ? name : "none";
}

void sw_decompress_close(sw_decompressor *d)
{
    if (d == NULL)
        return;
    if (d->has_zstream)
        inflateEnd(&d->zs);
    if (d->ar)
        archive_read_free(d->ar);
    sw_error_clear(&d->source_error);
    free(d->in);
    free(d->name);
    free(d);
}
